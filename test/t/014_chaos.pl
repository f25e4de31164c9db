# Chaos: producers and consumers under load while the server is killed.
#
# Six client processes (forked from this test, each with one psql session
# it opens again whenever it is lost) run the whole time:
#   a1, a2  appenders: es.append / es.append_event with expected_version to
#           streams of their own (acct-a1s1 ...), es.append_batch with event
#           ids, two appends in one transaction, and appends to two streams
#           both share (acct-shared1/2) with optimistic concurrency (on ES001
#           re-read the version and try again).  A call that got no answer
#           (the server died, or the client dropped its connection 0-4 ms
#           after sending it, which it does now and then) is sent again, same
#           event ids and expected version, until it gets one: an idempotent
#           retry.  Now and then an acknowledged append is sent again on
#           purpose (must return the original offset and position,
#           duplicate = true).
#   p1      producer: es.enqueue, es.enqueue_batch (payload {"t": token}),
#           and enqueues rolled back.  No retry (a queue has no idempotency).
#   c1, c2  consumers: es.dequeue (up to 3, wait 200 ms), then ack (~85 %),
#           nack (~5 %), reject (nack requeue => false, ~3 %) or abandon the
#           lease (2 s, max_deliveries 3); late acks of abandoned leases.
#   r1      subscription reader of category acct: es.read_subscription, then
#           es.commit_subscription of the last position read.
# and the background worker runs a projection of category acct (one row per
# event keyed by position, a per-stream counter) and the queue's redelivery.
#
# Each client logs, after the fact, only what the server acknowledged: an
# append whose statement (or COMMIT) returned OK, with stream, offset and
# event id; an enqueue with its message id; each delivery; each ack / nack
# and its result; the events each read returned (before committing) and each
# acknowledged subscription commit.  A call without an answer is logged as
# uncertain.  Producers, consumers and the reader also drop their connection
# right after a call now and then (its outcome unknown to them).
#
# Each cycle: load, SIGKILL of the worker (the postmaster restarts every
# process: crash recovery), check; load, SIGKILL of the postmaster (every
# other cycle with all its children at once), start again, check.  At each
# check the clients are paused (each between two calls, its pending append
# resolved) and:
#   - es.events (read by sequential scan) holds exactly the acknowledged
#     events, each once, with the acknowledged stream and offset (and
#     position, where known); every offset is the expected version + 1;
#     every stream's offsets are 0..n-1; positions are unique and grow with
#     the offset; no event appended after a restart (checked at the check
#     after it and at the next one) has a position at or below the
#     sequence value sampled just before the kill;
#   - every acknowledged message is in the queue, in the dead-letter queue,
#     or was acked (acknowledged, or by an ack whose answer was lost); no
#     message was acked twice; an acked message is in neither table; a
#     rejected one is a dead letter; nothing there that was not enqueued or
#     was rolled back; no receipt or delivery count handed out twice; no
#     delivery beyond max_deliveries;
#   - the subscription's committed position is one the reader committed,
#     not behind its last acknowledged commit, not ahead of what it was
#     delivered; every event up to it was delivered; every delivered event
#     is stored (same position and id), each read in increasing order;
#   - the projection's read model is exactly the events up to its position,
#     applied once each in stream order, status running, no error;
#   - amcheck (heapallindexed) passes on every btree of es and public;
#   - the server log has no PANIC, assertion or signal other than our kills;
#     no client got an unexpected error.
# At the end the producers stop, the queue drains, the reader and the
# projection catch up, and the same checks run with completeness: every
# acknowledged message acked once or dead-lettered (none lost), every event
# delivered to the reader and applied by the projection.
#
# The cluster has the TAP default fsync = off: the kills are of processes, so
# the kernel keeps what was written, and a commit's answer still follows its
# WAL write (synchronous_commit on).
#
# ES_CHAOS_CYCLES (default 5) sets the cycles, ES_CHAOS_LOAD_SECONDS (default
# 2.5) the mean load before each kill; bench/chaos.sh runs 50 cycles.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use List::Util qw(max min);
use POSIX ();
use Time::HiRes qw(time usleep);

my $cycles = $ENV{ES_CHAOS_CYCLES} // 5;
my $load_secs = $ENV{ES_CHAOS_LOAD_SECONDS} // 2.5;
die "ES_CHAOS_CYCLES must be a positive integer" unless $cycles =~ /^[1-9]\d*$/;
die "ES_CHAOS_LOAD_SECONDS must be a positive number" unless $load_secs =~ /^\d+(\.\d+)?$/ && $load_secs > 0;
my $max_deliveries = 3;

my $t_start = time;
my $node = PostgreSQL::Test::Cluster->new('chaos');
$node->init;
# TAP clusters default to restart_after_crash = off; the worker kills need it.
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'event_streaming'
restart_after_crash = on
log_statement = none
max_connections = 40
event_streaming.databases = 'postgres'
event_streaming.naptime = '200ms'});
$node->start;

sub sq { return $node->safe_psql('postgres', $_[0]); }

sq('CREATE EXTENSION event_streaming');
sq('CREATE EXTENSION amcheck');
sq(qq{
SELECT es.create_queue('chaos_q', visibility_timeout => '2 seconds', max_deliveries => $max_deliveries);
CREATE TABLE proj_rm (
  global_position bigint PRIMARY KEY,
  stream          text NOT NULL,
  stream_seq      bigint NOT NULL,     -- the stream's counter after this event
  event_id        uuid NOT NULL);
CREATE TABLE proj_counts (stream text PRIMARY KEY, n bigint NOT NULL);
CREATE FUNCTION chaos_apply(e es.event) RETURNS void LANGUAGE plpgsql AS \$\$
DECLARE
  n bigint;
BEGIN
  INSERT INTO proj_counts AS c VALUES (e.stream, 1)
    ON CONFLICT (stream) DO UPDATE SET n = c.n + 1 RETURNING c.n INTO n;
  INSERT INTO proj_rm VALUES (e.global_position, e.stream, n, e.event_id);
END \$\$;
SELECT es.create_projection('chaos_proj', 'acct', 'chaos_apply(es.event)');
SELECT es.create_subscription('chaos_sub', 'acct');
});

# ===========================================================================
# The clients.  Everything from here to "The test" runs in forked children;
# a child ends with POSIX::_exit, never running this process's END blocks
# (which would stop the node).
my $ctl = $node->basedir . '/chaos';
mkdir $ctl or die "mkdir $ctl: $!";
my $connstr = $node->connstr('postgres');
my $parent = $$;
my %clients;    # name => pid, while running
my %kind_of = (a1 => 'appender', a2 => 'appender', p1 => 'producer', c1 => 'consumer', c2 => 'consumer',
	r1 => 'reader');

my ($cname, $clog, $sess, $tagn);
my $abandon_next = 0;    # the next run_sql drops its connection early

sub clog
{
	my $s = join '', map { (my $l = $_) =~ s/\s*\n\s*/ /g; "$l\n" } @_;
	defined syswrite($clog, $s) or die "write to log: $!";
}

sub control { return -e "$ctl/$_[0]"; }

sub slurp_ctl
{
	open my $f, '<', "$ctl/$_[0]" or return undef;
	my $s = <$f>;
	close $f;
	chomp $s if defined $s;
	return $s;
}

# A psql session reading statements from a pipe.  After each statement it
# echoes a tag, the statement's number and :SQLSTATE (00000 on success).
sub sess_open
{
	my $s = { in => '', out => '', err => '', answered => 0, t => IPC::Run::timeout(150) };
	$s->{h} = IPC::Run::start([ 'psql', '-XAtq', '-d', $connstr, '-f', '-' ],
		'<', \$s->{in}, '>', \$s->{out}, '2>', \$s->{err}, $s->{t});
	return $s;
}

sub sess_drop
{
	return unless $sess;
	eval { $sess->{h}->kill_kill(grace => 1); 1 };
	$sess = undef;
}

sub sess_close
{
	return unless $sess;
	$sess->{in} .= "\\q\n";
	eval { $sess->{t}->start(30); $sess->{h}->finish; 1 } or eval { $sess->{h}->kill_kill(grace => 1); 1 };
	$sess = undef;
}

# Run statements in the session, each a command of its own.  One result per
# statement: ['ok', rows...], ['error', sqlstate, message], ['unknown'] (sent,
# the session was lost before its answer) or ['notrun'] (never sent: the
# connection could not be made, or an earlier statement got no answer).
sub run_sql
{
	my @stmts = @_;
	$sess //= sess_open();
	my $tag = 'CHAOS_END_' . ++$tagn;
	$sess->{err} = '';
	$sess->{in} .= join '', map { "$stmts[$_];\n\\echo $tag $_ :SQLSTATE\n" } 0 .. $#stmts;
	my @res;
	my ($gone, $killed) = (0, 0);
	# A client that gives up on its call (drops the connection) 0-4 ms after
	# sending it: the server may or may not commit it.
	my $abandon_at = $abandon_next && $sess->{answered} ? time + rand(0.004) : undef;
	$abandon_next = 0;
	eval { $sess->{t}->start(150); 1 };
	while (1)
	{
		while ($sess->{out} =~ s/\A(.*?)^\Q$tag\E (\d+) (\w*)\n//ms)
		{
			my ($text, $i, $state) = ($1, $2, $3);
			$sess->{answered} = 1;
			if ($state eq '00000')
			{
				$res[$i] = [ 'ok', grep { $_ ne '' } split /\n/, $text ];
			}
			elsif ($state eq '' || $state =~ /^(?:57|08)/)
			{
				# The connection was lost (psql -f goes on without one and
				# leaves SQLSTATE empty) or the server went down: no answer.
				$res[$i] = ['unknown'];
				$gone = 1;
				last;
			}
			else
			{
				my ($msg) = $sess->{err} =~ /ERROR:\s+(.*)/;
				$res[$i] = [ 'error', $state, $msg // '' ];
			}
		}
		last if defined $res[$#stmts] || $gone;
		last if !$sess->{h}->pumpable;
		if (defined $abandon_at)
		{
			if (time >= $abandon_at)
			{
				eval { $sess->{h}->kill_kill(grace => 1); 1 };
				($gone, $killed) = (1, 1);
				clog("W $cname");
				next;
			}
			eval { $sess->{h}->pump_nb; 1 } or $gone = 1;
			usleep(200);
			next;
		}
		eval { $sess->{h}->pump; 1 } or do {
			if ($@ =~ /timeout/i)
			{
				clog("X $cname: no answer from psql in 150 s to: $stmts[0]");
				eval { $sess->{h}->kill_kill(grace => 1); 1 };
			}
			$gone = 1;
		};
	}
	if ($gone || !defined $res[$#stmts])
	{
		# psql ended or lost its connection: the connection was refused or lost.
		my $connfail = !$sess->{answered} && $sess->{err} =~ /^psql: error: connection to server .* failed/m;
		my $first = !grep { defined $_ && $_->[0] eq 'unknown' } @res;
		for my $i (0 .. $#stmts)
		{
			next if defined $res[$i];
			# psql killed by us may have sent any of the rest.
			$res[$i] = [ ($first || $killed) && !$connfail ? 'unknown' : 'notrun' ];
			$first = 0;
		}
		sess_drop();
	}
	return @res;
}

# Run until the statements are executed (retrying while the server cannot be
# reached); returns the results of the first run that sent them.
sub run_sent
{
	my @stmts = @_;
	while (1)
	{
		my @res = run_sql(@stmts);
		return @res unless $res[0][0] eq 'notrun';
		usleep(100_000 + int(rand(200_000)));
	}
}

# Top of each client loop: false when told to stop (or the test is gone),
# waits while paused.
sub gate
{
	my ($stop) = @_;
	return 0 if getppid() != $parent || control($stop);
	if (defined(my $gen = slurp_ctl('pause')))
	{
		my $f = "$ctl/paused.$cname.$gen";
		open my $fh, '>', $f or die "$f: $!";
		close $fh;
		usleep(20_000) while control('pause') && getppid() == $parent;
		unlink $f;
	}
	return getppid() == $parent;
}

# An append (its statements) sent until it gets an answer.  Returns
# ('ok', results), ('conflict') for ES001, ('error', text) for any other
# error.
sub append_until_answered
{
	my ($label, @stmts) = @_;
	my $tries = 0;
	$abandon_next = rand() < 0.04;
	while (1)
	{
		my @res = run_sql(@stmts);
		$tries++ unless $res[0][0] eq 'notrun';
		if (!grep { $_->[0] ne 'ok' } @res)
		{
			return ('ok', $tries, @res);
		}
		if (my @err = grep { $_->[0] eq 'error' } @res)
		{
			return ('conflict', $tries) if $err[0][1] eq 'ES001';
			return ('error', $tries, "$err[0][1] $err[0][2]");
		}
		clog("U $label") if grep { $_->[0] eq 'unknown' } @res;
		usleep(100_000 + int(rand(200_000)));
	}
}

sub appender
{
	my ($cnum) = $cname =~ /(\d+)/;
	my @own = map { "acct-${cname}s$_" } 1 .. 4;
	my %ver = map { $_ => -1 } @own;
	my @shared = ('acct-shared1', 'acct-shared2');
	my %sver = map { $_ => -1 } @shared;
	my $runid = int(rand(2**31));
	my $seq = 0;
	my $newid = sub { sprintf('%08x-%04x-4000-8000-%012x', $runid, $cnum, ++$seq) };
	my @recent;    # acknowledged single appends: [id, stream, offset, position, expected]
	my $event = sub {
		my ($s, $exp, $id, $fn) = @_;
		my $data = qq{{"c": "$cname", "n": $seq}};
		return $fn eq 'append'
		  ? qq{SELECT es.append('$s', 'Deposited', '$data', NULL, $exp, '$id') || '|-|-'}
		  : qq{SELECT stream_offset || '|' || global_position || '|' || duplicate FROM es.append_event('$s', 'Deposited', '$data', '{"correlation_id": "$cname"}', $exp, '$id')};
	};
	while (gate('stop-producers'))
	{
		my $r = rand;
		if ($r < 0.08 && @recent)
		{
			# An acknowledged append sent again: the original result.
			my ($id, $s, $off, $gp, $exp) = @{ $recent[ rand @recent ] };
			my ($kind, $tries, @res) = append_until_answered("resend $id", $event->($s, $exp, $id, 'append_event'));
			if ($kind eq 'ok')
			{
				my ($o, $g, $d) = split /\|/, $res[0][1];
				clog("E2 $id $s $o $g $d");
			}
			else
			{
				clog("X $cname: resend of $id to $s: $kind " . ($res[0] // ''));
			}
		}
		elsif ($r < 0.45)
		{
			my $s = $own[ rand @own ];
			my $id = $newid->();
			my $fn = rand() < 0.5 ? 'append' : 'append_event';
			clog("P $id $s");
			my ($kind, $tries, @res) = append_until_answered("append $id", $event->($s, $ver{$s}, $id, $fn));
			if ($kind eq 'ok')
			{
				my ($o, $g, $d) = split /\|/, $res[0][1];
				clog("E $id $s $o $g $d $tries $ver{$s}");
				push @recent, [ $id, $s, $o, $g, $ver{$s} ];
				shift @recent if @recent > 50;
				$ver{$s} = $o;
			}
			else
			{
				clog("X $cname: append $id to $s (expected version $ver{$s}): $kind " . ($res[0] // ''));
			}
		}
		elsif ($r < 0.65)
		{
			my $s = $own[ rand @own ];
			my $n = 2 + int(rand(3));
			my @ids = map { $newid->() } 1 .. $n;
			my $json = '[' . join(', ', map {
				qq{{"type": "Batched", "data": {"c": "$cname", "i": $_}, "id": "$ids[$_]"}}
			} 0 .. $#ids) . ']';
			clog(map { "P $_ $s" } @ids);
			my ($kind, $tries, @res) = append_until_answered("batch $ids[0]",
				qq{SELECT es.append_batch('$s', '$json', $ver{$s})});
			if ($kind eq 'ok')
			{
				my $last = $res[0][1];
				clog(map { "E $ids[$_] $s " . ($last - $n + 1 + $_) . " - - $tries " . ($ver{$s} + $_) } 0 .. $#ids);
				$ver{$s} = $last;
			}
			else
			{
				clog("X $cname: batch $ids[0] to $s (expected version $ver{$s}): $kind " . ($res[0] // ''));
			}
		}
		elsif ($r < 0.8)
		{
			# Two streams in one transaction.
			my ($s1, $s2) = (List::Util::shuffle(@own))[ 0, 1 ];
			my ($id1, $id2) = ($newid->(), $newid->());
			clog("P $id1 $s1", "P $id2 $s2");
			my ($kind, $tries, @res) = append_until_answered("txn $id1",
				'BEGIN', $event->($s1, $ver{$s1}, $id1, 'append_event'), $event->($s2, $ver{$s2}, $id2, 'append_event'), 'COMMIT');
			if ($kind eq 'ok')
			{
				my ($o1, $g1, $d1) = split /\|/, $res[1][1];
				my ($o2, $g2, $d2) = split /\|/, $res[2][1];
				clog("E $id1 $s1 $o1 $g1 $d1 $tries $ver{$s1}", "E $id2 $s2 $o2 $g2 $d2 $tries $ver{$s2}");
				$ver{$s1} = $o1;
				$ver{$s2} = $o2;
			}
			else
			{
				clog("X $cname: transaction $id1/$id2 to $s1/$s2: $kind " . ($res[0] // ''));
			}
		}
		else
		{
			# A shared stream: optimistic concurrency with the other appender.
			my $s = $shared[ rand @shared ];
			my $id = $newid->();
			clog("P $id $s");
			my $tries_all = 0;
			while (1)
			{
				my ($kind, $tries, @res) = append_until_answered("shared $id", $event->($s, $sver{$s}, $id, 'append_event'));
				$tries_all += $tries;
				if ($kind eq 'ok')
				{
					my ($o, $g, $d) = split /\|/, $res[0][1];
					clog("E $id $s $o $g $d $tries_all $sver{$s}");
					push @recent, [ $id, $s, $o, $g, $sver{$s} ];
					shift @recent if @recent > 50;
					$sver{$s} = $o;
					last;
				}
				if ($kind eq 'conflict')
				{
					clog("V $s");
					my ($k2, $t2, @v) = append_until_answered("version $s", "SELECT es.stream_version('$s')");
					$sver{$s} = $v[0][1] if $k2 eq 'ok';
					next;
				}
				clog("X $cname: append $id to $s: $kind " . ($res[0] // ''));
				last;
			}
		}
		usleep(int(rand(15_000)));
	}
}

sub producer
{
	my $k = 0;
	while (gate('stop-producers'))
	{
		my $r = rand;
		my (@tok, @stmts, $rolled_back);
		if ($r < 0.75)
		{
			@tok = ("$cname-" . ++$k);
			@stmts = (qq{SELECT es.enqueue('chaos_q', '{"t": "$tok[0]"}') || '|$tok[0]'});
		}
		elsif ($r < 0.95)
		{
			@tok = map { "$cname-" . ++$k } 1 .. 3;
			my $arr = join ', ', map { qq{'{"t": "$_"}'} } @tok;
			my $names = join ', ', map { "'$_'" } @tok;
			@stmts = (qq{SELECT id || '|' || (ARRAY[$names])[o] FROM es.enqueue_batch('chaos_q', ARRAY[$arr]::jsonb[]) WITH ORDINALITY AS b(id, o)});
		}
		else
		{
			@tok = ("$cname-rb-" . ++$k);
			$rolled_back = 1;
			@stmts = ('BEGIN', qq{SELECT es.enqueue('chaos_q', '{"t": "$tok[0]"}')}, 'ROLLBACK');
		}
		clog(map { ($rolled_back ? 'RB ' : 'T ') . $_ } @tok);
		$abandon_next = rand() < 0.03;
		my @res = run_sent(@stmts);
		if ($rolled_back)
		{
		}
		elsif ($res[0][0] eq 'ok')
		{
			clog(map { my ($id, $t) = split /\|/; "Q $id $t" } @{ $res[0] }[ 1 .. $#{ $res[0] } ]);
		}
		elsif ($res[0][0] eq 'unknown')
		{
			clog(map { "QU $_" } @tok);
		}
		else
		{
			clog("X $cname: enqueue @tok: $res[0][1] $res[0][2]");
		}
		usleep(int(rand(20_000)));
	}
}

sub consumer
{
	my @abandoned;    # [id, receipt, time]
	while (gate('stop-consumers'))
	{
		my $drain = control('drain');
		$abandon_next = rand() < 0.03;
		my @res = run_sent(qq{SELECT message_id || '|' || receipt || '|' || delivery_count || '|' || (payload->>'t')
		                        FROM es.dequeue('chaos_q', '$cname', max_messages => 3, wait => '200 ms')});
		my @got;
		if ($res[0][0] eq 'ok')
		{
			@got = map { [ split /\|/ ] } @{ $res[0] }[ 1 .. $#{ $res[0] } ];
			clog(map { "D @$_" } @got);
		}
		elsif ($res[0][0] eq 'unknown')
		{
			clog('DU');
		}
		else
		{
			clog("X $cname: dequeue: $res[0][1] $res[0][2]");
		}
		my @acts;    # [op, id, receipt, sql]
		for my $m (@got)
		{
			my ($id, $rc) = @$m;
			my $r = $drain ? 0 : rand;
			if ($r < 0.85)
			{
				push @acts, [ 'K', $id, $rc, "SELECT es.ack('chaos_q', $id, '$rc')" ];
			}
			elsif ($r < 0.90)
			{
				push @acts, [ 'N', $id, $rc, "SELECT es.nack('chaos_q', $id, '$rc')" ];
			}
			elsif ($r < 0.93)
			{
				push @acts, [ 'J', $id, $rc, "SELECT es.nack('chaos_q', $id, '$rc', requeue => false, error => 'rejected by chaos')" ];
			}
			else
			{
				push @abandoned, [ $id, $rc, time ];
			}
		}
		# Late acks of leases abandoned more than 2.5 s ago (expired).
		my $n_late = 0;
		while (@abandoned && $abandoned[0][2] < time - 2.5 && $n_late++ < 2)
		{
			my ($id, $rc) = @{ shift @abandoned };
			push @acts, [ 'L', $id, $rc, "SELECT es.ack('chaos_q', $id, '$rc')" ];
		}
		if (@acts)
		{
			$abandon_next = rand() < 0.03;
			my @r = run_sql(map { $_->[3] } @acts);
			for my $i (0 .. $#acts)
			{
				my ($op, $id, $rc) = @{ $acts[$i] };
				if ($r[$i][0] eq 'ok')
				{
					clog("$op $id $rc $r[$i][1]");
				}
				elsif ($r[$i][0] eq 'unknown')
				{
					clog("KU $op $id $rc");
				}
				elsif ($r[$i][0] eq 'error')
				{
					clog("X $cname: $op of $id: $r[$i][1] $r[$i][2]");
				}
			}
		}
		usleep(int(rand(10_000)));
	}
}

sub reader
{
	my $call = 0;
	while (gate('stop-consumers'))
	{
		my @res = run_sent(q{SELECT global_position || ' ' || event_id FROM es.read_subscription('chaos_sub', 200)});
		if ($res[0][0] eq 'ok' && @{ $res[0] } > 1)
		{
			$call++;
			my @rows = @{ $res[0] }[ 1 .. $#{ $res[0] } ];
			clog(map { "R $call $_" } @rows);
			my ($p) = split / /, $rows[-1];
			clog("CA $p");
			$abandon_next = rand() < 0.05;
			my @c = run_sent("SELECT es.commit_subscription('chaos_sub', $p)");
			if ($c[0][0] eq 'ok')
			{
				clog("C $p");
			}
			elsif ($c[0][0] eq 'unknown')
			{
				clog("CU $p");
			}
			else
			{
				clog("X $cname: commit_subscription($p): $c[0][1] $c[0][2]");
			}
		}
		elsif ($res[0][0] eq 'ok')
		{
			usleep(50_000);
		}
		elsif ($res[0][0] eq 'unknown')
		{
			clog('RU');
		}
		else
		{
			clog("X $cname: read_subscription: $res[0][1] $res[0][2]");
			usleep(100_000);
		}
		usleep(int(rand(20_000)));
	}
}

sub spawn_client
{
	my ($name) = @_;
	my $pid = fork() // die "fork: $!";
	if ($pid == 0)
	{
		my $rc = 0;
		$cname = $name;
		$tagn = 0;
		srand($$ ^ int(time * 1000));
		$ENV{PGOPTIONS} = '-c statement_timeout=60s';
		$ENV{PGCONNECT_TIMEOUT} = '10';
		$ENV{PGAPPNAME} = "chaos_$name";
		open $clog, '>>', "$ctl/$name.log" or POSIX::_exit(3);
		eval {
			my %body = (appender => \&appender, producer => \&producer, consumer => \&consumer, reader => \&reader);
			$body{ $kind_of{$name} }->();
			sess_close();
			1;
		} or do {
			eval { clog("X $name died: $@") };
			$rc = 1;
		};
		POSIX::_exit($rc);
	}
	$clients{$name} = $pid;
}

END
{
	# The test died: stop the clients before the node goes.
	if ($$ == $parent && %clients)
	{
		kill 'KILL', values %clients;
	}
}

# ===========================================================================
# The test.

# Wait for named clients to exit (after their stop file).
sub wait_clients_exit
{
	my ($secs, @names) = @_;
	my $deadline = time + $secs;
	for my $n (@names)
	{
		my $pid = $clients{$n};
		my $got;
		while (($got = waitpid($pid, POSIX::WNOHANG())) == 0 && time < $deadline)
		{
			usleep(50_000);
		}
		if ($got == $pid)
		{
			is($? >> 8, 0, "client $n ended normally");
			delete $clients{$n};
		}
		else
		{
			fail("client $n ended within ${secs} s");
		}
	}
}

# Clients that died on their own.
sub dead_clients
{
	my @dead;
	for my $n (sort keys %clients)
	{
		if (waitpid($clients{$n}, POSIX::WNOHANG()) == $clients{$n})
		{
			push @dead, "$n (exit " . ($? >> 8) . ')';
			delete $clients{$n};
		}
	}
	return @dead;
}

my $pause_gen = 0;

sub pause_clients
{
	$pause_gen++;
	PostgreSQL::Test::Utils::append_to_file("$ctl/pause.tmp", "$pause_gen\n");
	rename "$ctl/pause.tmp", "$ctl/pause" or die "rename: $!";
	my $deadline = time + 180;
	while (time < $deadline)
	{
		my @waiting = grep { !-e "$ctl/paused.$_.$pause_gen" } sort keys %clients;
		return 1 unless @waiting;
		if (my @dead = dead_clients())
		{
			fail("clients died: @dead");
		}
		usleep(20_000);
	}
	fail('every client paused within 180 s (waiting for '
		  . join(' ', grep { !-e "$ctl/paused.$_.$pause_gen" } sort keys %clients) . ')');
	return 0;
}

sub resume_clients { unlink "$ctl/pause"; }

# --- what the clients logged, read incrementally -----------------------------
my %fpos;
my (%att, %ev, @bad_expected, @bad_resend, @twice_acked_event, @unexpected);
my %n = map { $_ => 0 } qw(uncertain conflicts resends retried dedup deliveries dequeue_unknown acks_true acks_false
  nack_true late_true late_false reject_true ack_unknown reads commits commit_unknown read_unknown delivered_rows
  redelivered_rows rolled_back enqueue_unknown dropped);
my (%tok_att, %tok_rb, %tok_unknown, %enq, @enq_dup, %deliv_tok, %receipt_seen, %deliv_count, @deliv_bad);
my (%ack_true, %ack_unknown, %rejected);
my (%delivered, @read_bad, %commit_att, $last_commit_ack, @commit_bad, %read_last);

sub parse_line
{
	my ($name, $line) = @_;
	my ($op, @f) = split / /, $line;
	if ($op eq 'P') { $att{ $f[0] } = $f[1]; }
	elsif ($op eq 'E')
	{
		my ($id, $s, $off, $gp, $dup, $tries, $exp) = @f;
		push @twice_acked_event, $line if exists $ev{$id};
		$ev{$id} = { stream => $s, off => $off, gp => $gp, line => "$name: $line" };
		push @bad_expected, "$name: $line" if $off != $exp + 1;
		$n{retried}++ if $tries > 1;
		$n{dedup}++ if $dup eq 'true';
	}
	elsif ($op eq 'E2')
	{
		my ($id, $s, $off, $gp, $dup) = @f;
		my $e = $ev{$id};
		$n{resends}++;
		push @bad_resend, "$name: $line (acknowledged first: " . ($e ? $e->{line} : 'never') . ')'
		  unless $e && $e->{stream} eq $s && $e->{off} == $off && ($e->{gp} eq '-' || $e->{gp} == $gp) && $dup eq 'true';
	}
	elsif ($op eq 'U') { $n{uncertain}++; }
	elsif ($op eq 'W') { $n{dropped}++; }
	elsif ($op eq 'V') { $n{conflicts}++; }
	elsif ($op eq 'X') { push @unexpected, $line; }
	elsif ($op eq 'T') { $tok_att{ $f[0] } = 1; }
	elsif ($op eq 'RB') { $tok_rb{ $f[0] } = 1; $n{rolled_back}++; }
	elsif ($op eq 'QU') { $tok_unknown{ $f[0] } = 1; $n{enqueue_unknown}++; }
	elsif ($op eq 'Q')
	{
		push @enq_dup, "$name: $line" if exists $enq{ $f[0] };
		$enq{ $f[0] } = $f[1];
	}
	elsif ($op eq 'D')
	{
		my ($id, $rc, $cnt, $t) = @f;
		$n{deliveries}++;
		push @deliv_bad, "$name: $line: receipt handed out twice" if $receipt_seen{$rc}++;
		push @deliv_bad, "$name: $line: delivery count $cnt handed out twice" if $deliv_count{"$id:$cnt"}++;
		push @deliv_bad, "$name: $line: beyond max_deliveries $max_deliveries" if $cnt > $max_deliveries;
		push @deliv_bad, "$name: $line: token differs from an earlier delivery ($deliv_tok{$id})"
		  if exists $deliv_tok{$id} && $deliv_tok{$id} ne $t;
		$deliv_tok{$id} = $t;
	}
	elsif ($op eq 'DU') { $n{dequeue_unknown}++; }
	elsif ($op eq 'K' || $op eq 'L')
	{
		my ($id, $rc, $v) = @f;
		if ($v eq 't') { $ack_true{$id}++; $n{ $op eq 'K' ? 'acks_true' : 'late_true' }++; }
		else { $n{ $op eq 'K' ? 'acks_false' : 'late_false' }++; }
	}
	elsif ($op eq 'N') { $n{nack_true}++ if $f[2] eq 't'; }
	elsif ($op eq 'J')
	{
		if ($f[2] eq 't') { $rejected{ $f[0] } = 1; $n{reject_true}++; }
	}
	elsif ($op eq 'KU')
	{
		$n{ack_unknown}++;
		$ack_unknown{ $f[1] } = 1 if $f[0] eq 'K' || $f[0] eq 'L';
	}
	elsif ($op eq 'R')
	{
		my ($call, $pos, $id) = @f;
		push @read_bad, "$name: $line: not after position $read_last{pos} of the same read"
		  if defined $read_last{call} && $read_last{call} == $call && $pos <= $read_last{pos};
		@read_last{qw(call pos)} = ($call, $pos);
		push @read_bad, "$name: $line: position delivered earlier with event $delivered{$pos}"
		  if exists $delivered{$pos} && $delivered{$pos} ne $id;
		$n{redelivered_rows}++ if exists $delivered{$pos};
		$delivered{$pos} = $id;
		$n{delivered_rows}++;
	}
	elsif ($op eq 'CA') { $commit_att{ $f[0] } = 1; }
	elsif ($op eq 'C')
	{
		push @commit_bad, "$name: $line: below the acknowledged commit $last_commit_ack"
		  if defined $last_commit_ack && $f[0] < $last_commit_ack;
		$last_commit_ack = $f[0];
		$n{commits}++;
	}
	elsif ($op eq 'CU') { $n{commit_unknown}++; }
	elsif ($op eq 'RU') { $n{read_unknown}++; }
	else { push @unexpected, "$name: unparsable log line: $line"; }
}

sub parse_logs
{
	for my $name (sort keys %kind_of)
	{
		my $file = "$ctl/$name.log";
		open my $fh, '<', $file or next;
		seek $fh, $fpos{$name} // 0, 0;
		local $/;
		my $text = <$fh> // '';
		close $fh;
		my $cut = rindex $text, "\n";
		next if $cut < 0;
		$text = substr $text, 0, $cut + 1;
		$fpos{$name} += length $text;
		parse_line($name, $_) for split /\n/, $text;
	}
}

# --- checks --------------------------------------------------------------------
my $log_off = 0;
my @restarts;    # [what was killed, sequence value before the kill, now() once ready]
my $prev_acked = 0;
my ($n_streams, $n_events) = (0, 0);
my %totals_checks;

# ok() on an empty list of problems, with the first ones as diagnostics.
sub none
{
	my ($list, $name) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my @l = @$list;
	ok(!@l, $name) or diag(scalar(@l) . " problems; first ones:\n" . join("\n", @l[ 0 .. min(14, $#l) ]));
}

sub check_state
{
	my ($label, %o) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	parse_logs();

	# --- events
	my @rows = split /\n/, sq(q{SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off;
		SELECT event_id || ' ' || stream || ' ' || stream_offset || ' ' || global_position FROM es.events});
	my (%db, %by_stream, %pos_seen, @dup_id, @dup_pos);
	for (@rows)
	{
		my ($id, $s, $off, $gp) = split / /;
		push @dup_id, "event $id stored twice ($db{$id}{stream}/$db{$id}{off} and $s/$off)" if $db{$id};
		push @dup_pos, "position $gp stored twice" if $pos_seen{$gp}++;
		$db{$id} = { stream => $s, off => $off, gp => $gp };
		push @{ $by_stream{$s} }, [ $off, $gp ];
	}
	my @gaps;
	for my $s (sort keys %by_stream)
	{
		my @o = sort { $a->[0] <=> $b->[0] } @{ $by_stream{$s} };
		for my $i (0 .. $#o)
		{
			if ($o[$i][0] != $i)
			{
				push @gaps, "stream $s: offset $o[$i][0] at rank $i (" . scalar(@o) . " events)";
				last;
			}
			if ($i > 0 && $o[$i][1] <= $o[ $i - 1 ][1])
			{
				push @gaps, "stream $s: offset $o[$i][0] has position $o[$i][1], not above offset $o[$i-1][0]'s $o[$i-1][1]";
				last;
			}
		}
	}
	my (@missing, @wrong, @extra);
	for my $id (sort keys %ev)
	{
		my ($e, $d) = ($ev{$id}, $db{$id});
		if (!$d) { push @missing, "acknowledged, not stored: $e->{line}"; next; }
		push @wrong, "stored as $d->{stream}/$d->{off} at $d->{gp}: $e->{line}"
		  if $d->{stream} ne $e->{stream} || $d->{off} != $e->{off} || ($e->{gp} ne '-' && $e->{gp} != $d->{gp});
	}
	for my $id (sort keys %db)
	{
		next if $ev{$id};
		push @extra, "stored, not acknowledged: $id $db{$id}{stream}/$db{$id}{off} at $db{$id}{gp} ("
		  . ($att{$id} ? "attempted on $att{$id}" : 'never attempted') . ')';
	}
	none(\@dup_id, "$label: every stored event id once (heap scan)");
	none(\@dup_pos, "$label: global positions unique");
	none(\@gaps, "$label: offsets 0..n-1 in every stream (" . scalar(keys %by_stream) . ' streams), positions grow with offsets');
	none(\@missing, "$label: every acknowledged event is stored (" . scalar(keys %ev) . ' acknowledged)');
	none(\@wrong, "$label: with its acknowledged stream, offset and position");
	none(\@extra, "$label: nothing stored that was not acknowledged (pending appends resolved)");
	none([ @twice_acked_event, @bad_expected ], "$label: each append acknowledged once, at expected version + 1");
	none(\@bad_resend, "$label: deliberate resends returned the original offset and position as duplicates ($n{resends})");
	# Positions after each of the last two restarts (the events of the load
	# after a restart are checked at the next kill's check).
	for my $r (@restarts[ max(0, $#restarts - 1) .. $#restarts ])
	{
		my ($what, $seq, $t) = @$r;
		my ($bad, $after) = split /\|/, sq(qq{SELECT count(*) FILTER (WHERE global_position <= $seq) || '|' || count(*)
		    FROM es.events WHERE created_at >= '$t'::timestamptz});
		is($bad, '0', "$label: none of the $after events appended since the restart after $what has a position at or"
			  . " below $seq (the sequence before that kill)");
	}
	if ($o{progress})
	{
		cmp_ok(scalar(keys %ev), '>', $prev_acked, "$label: appends were acknowledged since the last check");
	}
	$prev_acked = keys %ev;
	($n_streams, $n_events) = (scalar(keys %by_stream), scalar(@rows));

	# --- queue: one snapshot of the queue and the dead letters
	my (%inq, %dl, @qbad);
	for (split /\n/, sq(q{SELECT 'M ' || m.message_id || ' ' || (m.payload->>'t') || ' -' FROM es.messages m JOIN es.queues q USING (queue_id) WHERE q.queue = 'chaos_q'
		UNION ALL SELECT 'D ' || message_id || ' ' || (payload->>'t') || ' ' || reason FROM es.dead_letters WHERE queue = 'chaos_q'}))
	{
		my ($w, $id, $t, $reason) = split / /;
		my $h = $w eq 'M' ? \%inq : \%dl;
		push @qbad, "message $id twice in " . ($w eq 'M' ? 'the queue' : 'the dead letters') if $h->{$id};
		$h->{$id} = [ $t, $reason ];
	}
	my (@lost, @twice, @acked_there, @rej_bad, @phantom);
	for my $id (sort { $a <=> $b } keys %enq)
	{
		push @lost, "message $id ($enq{$id}) acknowledged, neither in the queue nor a dead letter nor acked"
		  unless $inq{$id} || $dl{$id} || $ack_true{$id} || $ack_unknown{$id};
	}
	for my $id (sort { $a <=> $b } keys %ack_true)
	{
		push @twice, "message $id acked $ack_true{$id} times" if $ack_true{$id} > 1;
		push @acked_there, "message $id acked, still " . ($inq{$id} ? 'in the queue' : 'a dead letter') if $inq{$id} || $dl{$id};
	}
	for my $id (sort { $a <=> $b } keys %rejected)
	{
		push @rej_bad, "message $id rejected, " . ($dl{$id} ? "dead letter with reason $dl{$id}[1]" : 'not a dead letter')
		  unless $dl{$id} && $dl{$id}[1] eq 'rejected' && !$inq{$id};
	}
	for my $id (keys %inq, keys %dl)
	{
		push @qbad, "message $id both in the queue and a dead letter" if $inq{$id} && $dl{$id};
		my $t = ($inq{$id} // $dl{$id})->[0];
		push @phantom, "message $id with token $t: " . ($tok_rb{$t} ? 'from a rolled-back enqueue' : 'never enqueued')
		  if !$tok_att{$t} || $tok_rb{$t};
		push @phantom, "message $id with token $t, enqueue acknowledged it with $enq{$id}"
		  if exists $enq{$id} && $enq{$id} ne $t;
	}
	for my $id (keys %deliv_tok)
	{
		my $t = $deliv_tok{$id};
		push @phantom, "delivered message $id with token $t: " . ($tok_rb{$t} ? 'from a rolled-back enqueue' : 'never enqueued')
		  if !$tok_att{$t} || $tok_rb{$t};
		push @phantom, "delivered message $id with token $t, enqueue acknowledged it with $enq{$id}"
		  if exists $enq{$id} && $enq{$id} ne $t;
	}
	none(\@lost, "$label: no acknowledged message lost (" . scalar(keys %enq) . ' acknowledged, '
		  . scalar(keys %inq) . ' in the queue, ' . scalar(keys %dl) . ' dead letters)');
	none(\@twice, "$label: no message acked twice");
	none(\@acked_there, "$label: an acked message is gone from the queue and the dead letters");
	none(\@rej_bad, "$label: a rejected message is a dead letter with reason rejected");
	none([ @qbad, @enq_dup ], "$label: no message id twice");
	none(\@phantom, "$label: nothing queued, dead-lettered or delivered that was not enqueued, or was rolled back");
	none(\@deliv_bad, "$label: deliveries: fresh receipts, each delivery count once, at most $max_deliveries");

	# --- subscription
	my $sub_pos = sq(q{SELECT position FROM es.subscriptions WHERE name = 'chaos_sub' AND member = 0});
	my $max_deliv = max(0, keys %delivered);
	my @sub_bad;
	push @sub_bad, "committed position $sub_pos is ahead of the last position delivered ($max_deliv)" if $sub_pos > $max_deliv;
	push @sub_bad, "committed position $sub_pos is behind the last acknowledged commit $last_commit_ack"
	  if defined $last_commit_ack && $sub_pos < $last_commit_ack;
	push @sub_bad, "committed position $sub_pos was never committed by the reader" unless $sub_pos == 0 || $commit_att{$sub_pos};
	my %db_by_pos = map { $db{$_}{gp} => $_ } keys %db;
	my (@skipped, @not_stored);
	for my $gp (sort { $a <=> $b } keys %db_by_pos)
	{
		last if $gp > $sub_pos;
		push @skipped, "event at $gp ($db_by_pos{$gp}) is at or below the committed position $sub_pos, never delivered"
		  unless exists $delivered{$gp};
	}
	for my $gp (sort { $a <=> $b } keys %delivered)
	{
		push @not_stored, "delivered $gp $delivered{$gp}, stored there: " . ($db_by_pos{$gp} // 'nothing')
		  unless ($db_by_pos{$gp} // '') eq $delivered{$gp};
	}
	none([ @sub_bad, @commit_bad ], "$label: subscription position $sub_pos: committed by the reader, not ahead of delivery ($max_deliv), not behind its last acknowledged commit");
	none(\@skipped, "$label: every event up to the committed position was delivered");
	none([ @not_stored, @read_bad ], "$label: every delivered event is stored at its position; each read in position order");

	# --- projection: one snapshot
	my $p = sq(q{
WITH p AS (SELECT position, status, coalesce(last_error, '-') AS err, events_applied FROM es.projections WHERE name = 'chaos_proj'),
ev AS (SELECT e.global_position, e.stream, e.stream_offset, e.event_id FROM es.events e, p
        WHERE split_part(e.stream, '-', 1) = 'acct' AND e.global_position <= p.position)
SELECT p.status || '|' || p.err || '|' || p.position || '|' || p.events_applied || '|' || (SELECT count(*) FROM ev) || '|'
    || (SELECT count(*) FROM ev LEFT JOIN proj_rm r USING (global_position) WHERE r.global_position IS NULL) || ','
    || (SELECT count(*) FROM proj_rm r LEFT JOIN ev USING (global_position) WHERE ev.global_position IS NULL) || ','
    || (SELECT count(*) FROM proj_rm r JOIN ev USING (global_position)
         WHERE r.stream <> ev.stream OR r.stream_seq <> ev.stream_offset + 1 OR r.event_id <> ev.event_id) || ','
    || (SELECT count(*) FROM (SELECT stream, count(*) AS n FROM ev GROUP BY stream) c
         FULL JOIN proj_counts k USING (stream) WHERE c.n IS DISTINCT FROM k.n)
  FROM p});
	my ($pst, $perr, $ppos, $papplied, $pn, $pbad) = split /\|/, $p;
	is("$pst|$perr", 'running|-', "$label: projection running, no error");
	is($pbad, '0,0,0,0', "$label: projection read model = the $pn events up to its position $ppos"
		  . ' (none missing, none extra, once each in stream order, counters exact)');
	is($papplied, $pn, "$label: projection events_applied = events up to its position");

	# --- physical consistency, the server log, the clients
	my ($ret, $out, $err) = $node->psql('postgres', q{
SELECT count(bt_index_check(c.oid, true))
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE a.amname = 'btree' AND n.nspname IN ('es', 'public')});
	ok($ret == 0 && $out > 0, "$label: amcheck bt_index_check (heapallindexed) on the $out btree indexes of es and public")
	  or diag($err);
	my $log = slurp_file($node->logfile, $log_off);
	$log_off += length $log;
	my @bad_log = grep { /PANIC|TRAP:|terminated by signal (?!9:)|terminated by exception/ } split /\n/, $log;
	none(\@bad_log, "$label: no PANIC, failed assertion or crash but our SIGKILLs in the server log");
	none(\@unexpected, "$label: no unexpected error in the clients");
	$totals_checks{checkpoints}++;
}

# --- killing -------------------------------------------------------------------

sub wait_ready
{
	my $deadline = time + 180;
	while (time < $deadline)
	{
		my ($ret, $out) = $node->psql('postgres', 'SELECT now()');
		return $out if $ret == 0;
		usleep(100_000);
	}
	BAIL_OUT('the server did not accept connections within 180 s');
}

sub worker_pid
{
	my ($ret, $out) = $node->psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'event_streaming worker' AND datname = 'postgres'});
	return $ret == 0 && $out =~ /^\d+$/ ? $out : '';
}

sub wait_worker
{
	my ($not, $secs) = @_;
	my $deadline = time + $secs;
	while (time < $deadline)
	{
		my $pid = worker_pid();
		return $pid if $pid ne '' && $pid ne $not;
		usleep(100_000);
	}
	return '';
}

sub seq_value { return sq('SELECT last_value FROM es.global_position_seq'); }

sub alive
{
	my ($pid) = @_;
	open my $f, '<', "/proc/$pid/stat" or return 0;
	my $s = <$f> // '';
	return $s =~ /^\d+ \(.*\) ([A-Za-z])/s && $1 ne 'Z' && $1 ne 'X';
}

sub children_of
{
	my ($ppid) = @_;
	my @c;
	for my $d (glob '/proc/[0-9]*')
	{
		open my $f, '<', "$d/stat" or next;
		my $s = <$f> // '';
		push @c, $1 if $s =~ /^(\d+) \(.*\) \S (\d+)/s && $2 == $ppid;
	}
	return @c;
}

# The SysV segment's attach count (the new postmaster refuses to start while
# a process of the old one is attached); 0 if it is gone.
sub shm_nattch
{
	my ($shmid) = @_;
	open my $f, '<', '/proc/sysvipc/shm' or return 0;
	while (<$f>)
	{
		my @c = split;
		return $c[6] if @c > 6 && $c[1] eq $shmid;
	}
	return 0;
}

my %kills = (worker => 0, postmaster => 0, all => 0);

sub kill_worker
{
	my $pid = wait_worker('', 60);
	ok($pid ne '', 'a worker to kill') or return;
	my $seq = seq_value();
	my $off = -s $node->logfile;
	kill 'KILL', $pid;
	$node->wait_for_log(qr/all server processes terminated; reinitializing/, $off);
	my $t_ready = wait_ready();
	my $new = wait_worker($pid, 60);
	ok($new ne '', "a new worker after the crash restart (was $pid, now $new)");
	$kills{worker}++;
	push @restarts, [ "worker kill $kills{worker}", $seq, $t_ready ];
}

sub kill_postmaster
{
	my ($all) = @_;
	my @pidfile = split /\n/, slurp_file($node->data_dir . '/postmaster.pid');
	my $pm = $pidfile[0];
	my ($shmid) = ($pidfile[6] // '') =~ /^\s*\d+\s+(\d+)/;
	my @kids = children_of($pm);
	my $seq = seq_value();
	$node->kill9;
	kill 'KILL', @kids if $all;
	my $deadline = time + 120;
	while (time < $deadline)
	{
		last unless alive($pm) || grep({ alive($_) } @kids) || (defined $shmid && shm_nattch($shmid) > 0);
		usleep(50_000);
	}
	# The dead postmaster's pid is in the lock files: a new postmaster
	# refuses to start while a process has it, a zombie included (PID 1
	# reaps them here, after a while).  Once no process of the old server is
	# attached to its shared memory, a zombie's lock files may go.
	$deadline = time + 5;
	usleep(50_000) while -e "/proc/$pm" && time < $deadline;
	if (-e "/proc/$pm")
	{
		for my $f ($node->data_dir . '/postmaster.pid', $node->host . '/.s.PGSQL.' . $node->port . '.lock')
		{
			my ($owner) = split /\n/, (-e $f ? slurp_file($f) : '');
			unlink $f if defined $owner && $owner eq $pm;
		}
	}
	my $started = 0;
	for my $try (1 .. 10)
	{
		last if $started = $node->start(fail_ok => 1);
		$node->{_pid} = undef;    # start read the stale postmaster.pid
		usleep(1_000_000);
	}
	BAIL_OUT('the server did not start again after its SIGKILL') unless $started;
	my $t_ready = wait_ready();
	$kills{ $all ? 'all' : 'postmaster' }++;
	push @restarts, [ 'postmaster kill ' . ($kills{postmaster} + $kills{all}), $seq, $t_ready ];
}

sub load
{
	my $secs = $load_secs * (0.5 + rand());
	my $until = time + $secs;
	while (time < $until)
	{
		if (my @dead = dead_clients())
		{
			fail("clients died: @dead");
			return;
		}
		usleep(50_000);
	}
}

# --- run --------------------------------------------------------------------------
spawn_client($_) for sort keys %kind_of;
for my $c (1 .. $cycles)
{
	load();
	kill_worker();
	pause_clients();
	check_state("cycle $c, after SIGKILL of the worker", progress => 1);
	resume_clients();

	load();
	my $all = $c % 2 == 0;
	kill_postmaster($all);
	pause_clients();
	check_state("cycle $c, after SIGKILL of the postmaster" . ($all ? ' and all its children' : ''), progress => 1);
	resume_clients();
	note sprintf('cycle %d done at %.1f s', $c, time - $t_start);
}

# --- the end: producers stop, the queue drains, readers catch up ------------------
PostgreSQL::Test::Utils::append_to_file("$ctl/stop-producers", '');
wait_clients_exit(120, qw(a1 a2 p1));
PostgreSQL::Test::Utils::append_to_file("$ctl/drain", '');
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM es.messages m JOIN es.queues q USING (queue_id) WHERE q.queue = 'chaos_q'}),
	'the queue drains');
ok($node->poll_query_until('postgres',
		q{SELECT position = es.source_head('acct') FROM es.subscriptions WHERE name = 'chaos_sub'}),
	'the subscription reader catches up');
ok($node->poll_query_until('postgres',
		q{SELECT status = 'running' AND lag = 0 AND position = es.source_head('acct') FROM es.projections WHERE name = 'chaos_proj'}),
	'the projection catches up');
PostgreSQL::Test::Utils::append_to_file("$ctl/stop-consumers", '');
wait_clients_exit(120, qw(c1 c2 r1));

check_state('final');

# Completeness.
my $head = sq(q{SELECT es.source_head('acct')});
is(sq(q{SELECT position FROM es.subscriptions WHERE name = 'chaos_sub'}), $head, 'final: subscription at the last event');
my @undelivered = grep { !exists $delivered{$_} } split /\n/, sq(q{SELECT global_position FROM es.events});
none(\@undelivered, 'final: every event was delivered to the subscription reader');
is(sq(q{SELECT position || ',' || events_applied || ',' || (SELECT count(*) FROM proj_rm) FROM es.projections WHERE name = 'chaos_proj'}),
	"$head,$n_events,$n_events", "final: the projection applied all $n_events events once");
my %dl = map { split / / } split /\n/, sq(q{SELECT message_id || ' ' || reason FROM es.dead_letters WHERE queue = 'chaos_q'});
my (@unsettled, %outcome);
for my $id (sort { $a <=> $b } keys %enq)
{
	my $o = $ack_true{$id} ? 'acked' : $dl{$id} ? "dead-lettered ($dl{$id})" : $ack_unknown{$id} ? 'acked (answer lost)' : undef;
	push @unsettled, "message $id ($enq{$id})" unless defined $o;
	$outcome{ $o // 'lost' }++;
}
none(\@unsettled, 'final: every acknowledged message was acked or dead-lettered');
my $totals = sprintf('checked %d events in %d streams, %d messages, %d subscription commits over %d crash cycles'
	  . ' (%d worker SIGKILLs, %d postmaster SIGKILLs, %d of the postmaster and all its children; %d checkpoints)',
	$n_events, $n_streams, scalar(keys %enq), $n{commits}, $cycles, $kills{worker}, $kills{postmaster},
	$kills{all}, $totals_checks{checkpoints});
my $detail = sprintf('calls without an answer (the server killed, or the client dropped its connection: %d times):'
	  . ' %d appends (sent again with the same event ids until answered: %d of them had been stored, returned as'
	  . ' duplicates), %d enqueues, %d dequeues, %d acks/nacks, %d reads, %d subscription commits; %d deliberate'
	  . ' resends of acknowledged appends; %d expected-version conflicts; messages: %s; %d deliveries, %d late acks'
	  . ' refused, %d nacked, %d rejected; %d rolled-back enqueues; reader: %d rows delivered (%d again)',
	$n{dropped}, $n{uncertain}, $n{dedup}, $n{enqueue_unknown}, $n{dequeue_unknown}, $n{ack_unknown},
	$n{read_unknown}, $n{commit_unknown}, $n{resends}, $n{conflicts},
	join(', ', map { "$outcome{$_} $_" } sort keys %outcome), $n{deliveries}, $n{late_false}, $n{nack_true},
	$n{reject_true}, $n{rolled_back}, $n{delivered_rows}, $n{redelivered_rows});
diag($totals);
note($detail);
note sprintf('total %.1f s', time - $t_start);
$node->stop;
done_testing();
