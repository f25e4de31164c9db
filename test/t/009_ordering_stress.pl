# The ordering guarantee of es.read_all under a hostile write load, and
# across a crash.
#
# Eight pgbench clients append for 10 s to 240 streams in four categories
# (order, cart, user, pay), in transactions that mix single es.append calls,
# es.append_batch calls, random sleeps of 0-50 ms between appends while the
# transaction is open, ROLLBACK instead of COMMIT (20 %), savepoints whose
# appends are undone with ROLLBACK TO SAVEPOINT (2 times out of 3), and a few
# long transactions that take a low position and keep it open for 1-2 s while
# the others commit higher ones.  Every transaction locks its streams in
# increasing order, so there are no deadlocks.
#
# Meanwhile one reader (this perl process, over one long-lived psql session,
# every call its own transaction) loops
#     SELECT global_position, event_id FROM es.read_all($last, 500)
# from the last position it received, and records every row in order.  When
# the writers have stopped it drains to the end.  Then what it received must
# be exactly the committed events in position order (es.events ORDER BY
# global_position): strictly increasing in every call and overall, nothing
# twice, nothing skipped, nothing that is not committed (an aborted or
# rolled-back-to-savepoint event never shows), and it must have received
# events while the writers were running, not only at the drain.  The load
# must also have committed events out of position order (commit timestamps),
# else the guarantee was not put to work.
#
# A second round crashes the server (stop 'immediate') in the middle of the
# load, starts it again, starts the writers again, and lets the reader resume
# from the last position it holds in memory.  After the drain the whole
# received sequence (both rounds) must again equal es.events in position
# order, and every position handed out after the restart must be greater
# than every position handed out before the crash (than the sequence's
# last_value sampled just before it, and than every committed pre-crash
# event).
#
# When the guarantee is broken the diagnostics name each skipped position
# and the read_all call that jumped over it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use List::Util qw(min);
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('ordering_stress');
$node->init;
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'event_streaming'
log_statement = none
track_commit_timestamp = on
max_connections = 40});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION event_streaming');

# Stream number i: category (order, cart, user, pay)[i % 4], name <cat>-<i>.
$node->safe_psql('postgres', q{
CREATE FUNCTION st(i int) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$ SELECT (ARRAY['order', 'cart', 'user', 'pay'])[i % 4 + 1] || '-' || i $$;
});

# ---------------------------------------------------------------------------
# The writers' pgbench scripts.  s1 < s2 < s3: streams are locked in
# increasing order.  :round tags every event's data.
my $dir = $node->basedir;
my $head = q{
\set s1 random(1, 200)
\set s2 :s1 + random(1, 20)
\set s3 :s2 + random(1, 20)
\set r random(1, 100)
\set k random(1, 3)
\set n random(2, 6)
\set d1 random(0, 50)
\set d2 random(0, 50)
};
my $end = q{
\if :r <= 20
ROLLBACK;
\else
COMMIT;
\endif
};
my $single = q{SELECT es.append(st(:SN), 'Single', jsonb_build_object('round', :round, 'client', :client_id));};
my $batch = q{SELECT es.append_batch(st(:SN), (SELECT jsonb_agg(jsonb_build_object('type', 'TYPE', 'data', jsonb_build_object('round', :round, 'i', g))) FROM generate_series(1, :n) g));};
sub single { my ($s) = @_; (my $t = $single) =~ s/SN/$s/; return "$t\n"; }
sub batch { my ($s, $type) = @_; (my $t = $batch) =~ s/SN/$s/; $t =~ s/TYPE/$type/; return "$t\n"; }

my %scripts = (
	# one to three single appends with sleeps in between
	'single.sql' => [ 25, $head . "BEGIN;\n" . single('s1') . "\\sleep :d1 ms\n"
		  . "\\if :k >= 2\n" . single('s2') . "\\sleep :d2 ms\n\\endif\n"
		  . "\\if :k = 3\n" . single('s3') . "\\endif\n" . $end ],
	# an autocommitted single append
	'auto.sql' => [ 10, $head . single('s1') ],
	# batch, sleep, single, sleep, batch
	'batch.sql' => [ 15, $head . "BEGIN;\n" . batch('s1', 'Batched') . "\\sleep :d1 ms\n"
		  . single('s2') . "\\sleep :d2 ms\n" . batch('s3', 'Batched') . $end ],
	# an append, a savepoint with a batch that is mostly rolled back to, an append
	'savepoint.sql' => [ 15, $head . "BEGIN;\n" . single('s1') . "SAVEPOINT a;\n"
		  . batch('s2', 'MaybeUndone') . "\\sleep :d1 ms\n"
		  . "\\if :k <= 2\nROLLBACK TO SAVEPOINT a;\n\\else\nRELEASE SAVEPOINT a;\n\\endif\n"
		  . single('s3') . "\\sleep :d2 ms\n" . $end ],
	# a long transaction: a low position held open for 1-2 s
	'long.sql' => [ 1, $head . "\\set dl random(1000, 2000)\nBEGIN;\n"
		  . single('s1') . "\\sleep :dl ms\n" . batch('s2', 'LongBatch') . $end ],
);
my @script_args;
for my $f (sort keys %scripts)
{
	PostgreSQL::Test::Utils::append_to_file("$dir/$f", $scripts{$f}[1]);
	push @script_args, '-f', "$dir/$f\@$scripts{$f}[0]";
}

sub start_writers
{
	my ($round, $secs) = @_;
	my $w = { out => '', err => '', secs => $secs };
	$w->{h} = IPC::Run::start(
		[ 'pgbench', '-h', $node->host, '-p', $node->port, '-n', '-c', 8, '-j', 4,
		  '-T', $secs, '-D', "round=$round", @script_args, 'postgres' ],
		'>', \$w->{out}, '2>', \$w->{err}, IPC::Run::timeout($secs + 120));
	return $w;
}

# ---------------------------------------------------------------------------
# The reader: one psql session, one read_all call per statement (so one
# transaction, one snapshot, per call).  Its progress ($last, @got) lives in
# this process and so survives the crash.
my @got;           # "position|event_id", in the order received
my $last = 0;      # last position received
my @calls;         # [from, first, last, rows, label] of each call that returned rows
my @violations;    # rows not after from_position / not increasing
my %rows_in;       # label => rows received in that phase
my $t_start = time;

sub reader_start
{
	my $r = { in => '', out => '', err => '', n => 0 };
	$r->{h} = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-f', '-' ],
		'<', \$r->{in}, '>', \$r->{out}, '2>', \$r->{err}, IPC::Run::timeout(300));
	return $r;
}

sub reader_query
{
	my ($r, $sql) = @_;
	my $tag = 'READER_DONE_' . ++$r->{n};
	$r->{in} .= "$sql;\n\\echo $tag\n";
	until ($r->{out} =~ /^\Q$tag\E\n/m)
	{
		die "reader: psql failed: $r->{err}" if $r->{err} =~ /ERROR|FATAL|PANIC/ || !$r->{h}->pumpable;
		$r->{h}->pump;
	}
	$r->{out} =~ s/\A(.*?)^\Q$tag\E\n//ms;
	my $text = $1;
	return grep { $_ ne '' } split /\n/, $text;
}

sub read_once
{
	my ($r, $label) = @_;
	my $from = $last;
	my @rows = reader_query($r, "SELECT global_position, event_id FROM es.read_all($from, 500)");
	return 0 unless @rows;
	my $prev = $from;
	for my $row (@rows)
	{
		my ($p) = split /\|/, $row;
		push @violations, sprintf('read_all(%d, 500) [%s, %.3f s]: position %d after %d',
			$from, $label, time - $t_start, $p, $prev)
		  if $p <= $prev;
		$prev = $p if $p > $prev;
		push @got, $row;
	}
	my ($first) = split /\|/, $rows[0];
	my ($lastp) = split /\|/, $rows[-1];
	push @calls, [ $from, $first, $lastp, scalar(@rows), sprintf('%s, %.3f s', $label, time - $t_start) ];
	$last = $prev if $prev > $last;
	$rows_in{$label} += @rows;
	return scalar @rows;
}

# Read until $until (a time) or, with $until undef, until a call returns nothing.
sub read_loop
{
	my ($r, $label, $until, $writers) = @_;
	my ($calls, $empty) = (0, 0);
	while (1)
	{
		last if defined $until && time >= $until;
		eval { $writers->{h}->pump_nb } if $writers;    # keep pgbench's pipes drained
		my $n = read_once($r, $label);
		$calls++;
		if ($n == 0)
		{
			$empty++;
			last unless defined $until;
			usleep(2_000);
		}
	}
	note sprintf('%s: %d read_all calls (%d empty), %d rows, last position %d',
		$label, $calls, $empty, $rows_in{$label} // 0, $last);
}

sub wait_writers_gone
{
	my ($when) = @_;
	ok($node->poll_query_until('postgres',
			q{SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'pgbench'}),
		"$when: the writers' sessions are gone");
	# Once nothing is in flight the settled horizon reaches the head.
	my $ok = 0;
	for (1 .. 300)
	{
		$ok = $node->safe_psql('postgres',
			q{SELECT es.settled_position() >= coalesce((SELECT max(global_position) FROM es.events), 0)}) eq 't';
		last if $ok;
		usleep(100_000);
	}
	ok($ok, "$when: es.settled_position() reaches the last committed position")
	  or diag($node->safe_psql('postgres',
		q{SELECT es.settled_position() || ' < ' || max(global_position) FROM es.events}));
}

# The reader's received sequence against the committed events.
sub check_sequence
{
	my ($when) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my @committed = split /\n/, $node->safe_psql('postgres',
		q{SELECT global_position, event_id FROM es.events ORDER BY global_position});
	note sprintf('%s: %d committed events, %d received, last position %d', $when, scalar @committed,
		scalar @got, $last);

	is(scalar @violations, 0, "$when: every row came after the call's from_position, in increasing order")
	  or diag(join("\n", @violations[ 0 .. min(29, $#violations) ]));

	my (%c, %g, %cpos);
	$c{$_} = 1 for @committed;
	for (@committed) { my ($p) = split /\|/; $cpos{$p} = $_; }
	my @dups = grep { $g{$_}++ } @got;
	is(scalar @dups, 0, "$when: no event was received twice")
	  or diag('received twice: ' . join(' ', @dups[ 0 .. min(29, $#dups) ]));

	my @extra = grep { !$c{$_} } @got;
	is(scalar @extra, 0, "$when: every event received is committed (no aborted event was ever returned)")
	  or diag(join("\n", map {
		my ($p) = split /\|/;
		"received $_, " . (defined $cpos{$p} ? "committed at that position: $cpos{$p}" : 'no committed event at that position')
	} @extra[ 0 .. min(29, $#extra) ]));

	my @missing = grep { !$g{$_} } @committed;
	is(scalar @missing, 0, "$when: no committed event was skipped")
	  or diag(join("\n", map {
		my ($p) = split /\|/;
		my @jump = grep { $_->[0] < $p && $_->[2] > $p } @calls;
		"skipped $_; " . (@jump
			? join('; ', map { "read_all($_->[0], 500) returned $_->[3] rows $_->[1] .. $_->[2] ($_->[4])" } @jump)
			: 'no call returned rows on both sides of it')
	} @missing[ 0 .. min(29, $#missing) ]));

	my $i = 0;
	$i++ while $i < @got && $i < @committed && $got[$i] eq $committed[$i];
	ok($i == @got && $i == @committed,
		"$when: the received sequence is exactly es.events in position order ($i events)")
	  or diag(sprintf('first difference at index %d: received %s, committed %s', $i,
		$got[$i] // '(end)', $committed[$i] // '(end)'));
}

sub finish_writers
{
	my ($w, $when, $expect_ok) = @_;
	my $ok = $w->{h}->finish;
	my ($done) = $w->{out} =~ /number of transactions actually processed: (\d+)/;
	my ($failed) = $w->{out} =~ /number of failed transactions: (\d+)/;
	note sprintf('%s: pgbench %s transactions, %s failed', $when, $done // '?', $failed // '?');
	if ($expect_ok)
	{
		ok($ok, "$when: the writers' pgbench ran without error") or diag("$w->{out}\n$w->{err}");
		is($failed // 0, 0, "$when: no failed writer transactions") or diag("$w->{out}\n$w->{err}");
	}
	else
	{
		note "$when: pgbench output (expected to show the crash):\n$w->{out}\n$w->{err}";
	}
	return $done;
}

# ---------------------------------------------------------------------------
# Round 1: 10 s of writers with the reader following.
my $reader = reader_start();
my $seconds = 10;
my $t0 = time;
my $w = start_writers(1, $seconds);
read_loop($reader, 'round 1 load', $t0 + $seconds, $w);
finish_writers($w, 'round 1', 1);
note sprintf('round 1: writers done after %.1f s', time - $t0);
wait_writers_gone('round 1');
read_loop($reader, 'round 1 drain');

cmp_ok($rows_in{'round 1 load'} // 0, '>', 0, 'round 1: the reader received events while the writers were running');
note sprintf('round 1: %d events received during the load, %d at the drain',
	$rows_in{'round 1 load'} // 0, $rows_in{'round 1 drain'} // 0);
check_sequence('round 1');

# The load must have put the guarantee to work: events that committed before
# an event with a lower position (commit timestamps of the rows' xmin).
my $overtakers = $node->safe_psql('postgres', q{
  SELECT count(*) FROM (
    SELECT pg_xact_commit_timestamp(xmin) AS ts,
           max(pg_xact_commit_timestamp(xmin)) OVER (ORDER BY global_position
                                                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS lower_max
      FROM es.events) s
   WHERE ts < lower_max});
cmp_ok($overtakers, '>', 0,
	"round 1: $overtakers committed events committed before an event with a lower position");

my ($seq_last, $n_events) = split /\|/, $node->safe_psql('postgres',
	q{SELECT (SELECT last_value FROM es.global_position_seq), (SELECT count(*) FROM es.events)});
cmp_ok($seq_last - $n_events, '>', 0,
	"round 1: positions were taken by aborted work ($n_events events, sequence at $seq_last)");
note 'round 1 committed: ' . $node->safe_psql('postgres',
	q{SELECT string_agg(event_type || '=' || n, ' ' ORDER BY event_type) FROM (SELECT event_type, count(*) n FROM es.events GROUP BY 1) s});
note 'round 1 categories: ' . $node->safe_psql('postgres',
	q{SELECT string_agg(c || '=' || n, ' ' ORDER BY c) FROM (SELECT split_part(stream, '-', 1) c, count(*) n FROM es.events GROUP BY 1) s});

# ---------------------------------------------------------------------------
# Round 2: writers and reader again; crash in the middle.
$t0 = time;
$w = start_writers(2, 8);
read_loop($reader, 'round 2 before the crash', $t0 + 4, $w);
my $seq_before = $node->safe_psql('postgres', q{SELECT last_value FROM es.global_position_seq});
$node->stop('immediate');
note sprintf('crashed %.1f s into round 2; sequence at %d just before', time - $t0, $seq_before);
$reader->{h}->kill_kill;
finish_writers($w, 'round 2 (crashed)', 0);
cmp_ok($rows_in{'round 2 before the crash'} // 0, '>', 0, 'round 2: the reader received events before the crash');

$node->start;
$reader = reader_start();
$t0 = time;
$w = start_writers(3, 4);
read_loop($reader, 'round 3 load after restart', $t0 + 4, $w);
finish_writers($w, 'after the restart', 1);
wait_writers_gone('after the restart');
read_loop($reader, 'round 3 drain');

cmp_ok($rows_in{'round 3 load after restart'} // 0, '>', 0,
	'after the restart: the reader received events while the writers were running');
check_sequence('after the crash and restart');

my ($max2, $min3, $n2, $n3) = split /\|/, $node->safe_psql('postgres', q{
  SELECT max(global_position) FILTER (WHERE data->>'round' = '2'),
         min(global_position) FILTER (WHERE data->>'round' = '3'),
         count(*) FILTER (WHERE data->>'round' = '2'),
         count(*) FILTER (WHERE data->>'round' = '3')
    FROM es.events});
note "events committed before the crash in round 2: $n2 (max position $max2); after the restart: $n3 (min position $min3)";
cmp_ok($n3, '>', 0, 'events were committed after the restart');
cmp_ok($min3, '>', $seq_before, 'every position after the restart is above the sequence value sampled before the crash');
cmp_ok($min3, '>', $max2, 'every position after the restart is above every committed pre-crash position');
is($node->safe_psql('postgres', q{SELECT count(*) - count(DISTINCT global_position) FROM es.events}), '0',
	'global positions are unique');

$reader->{in} .= "\\q\n";
$reader->{h}->finish;
$node->stop;
note sprintf('total %.1f s', time - $t_start);
done_testing();
