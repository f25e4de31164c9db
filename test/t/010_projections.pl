# Projections run by the background worker, and their exactly-once
# guarantee.
#
# (a) A projection of category 'acct' feeds a plpgsql handler that inserts
# one row per event into a read model (global_position as primary key) and
# bumps a per-stream counter; each row records the order of application (a
# sequence) and the counter's value.  Four pgbench clients append about
# 3000 events to 20 streams while the worker applies them.  Once es.projections
# shows lag 0 and the position at the last event, the read model holds
# exactly one row per event (no event missing, none extra), rows were
# applied in global order (the sequence increases with global_position), each
# stream's counter equals its number of events and each row's counter value
# is its stream offset + 1 (in order, once each, per stream).
# (b) The worker is woken by the commit of an append: with naptime set to
# 10 s, single appends 250 ms apart each reach the handler within 150 ms of
# their commit (commit timestamp to the handler's clock_timestamp()); a
# wake-up that is lost shows as a wait for the next append or the naptime.
# (c) LISTEN es_events / "es_events.acct" hears each committing append with
# the transaction's highest position as payload, and nothing of a rollback.
# (d) Exactly once across a SIGKILL of the worker in the middle of a batch
# (a slow handler, projection_batch_size 500, the kill while the worker's
# transaction has written rows): the postmaster restarts everything (crash
# recovery), a new worker catches up, and the read model again has exactly
# one row per event, the projection is 'running' without error, and
# events_applied equals the number of events.  The same after
# pg_terminate_backend of the worker in the middle of a batch, which the
# launcher answers by starting a new worker (no crash restart).  And the
# same while three sessions call es.run_projection in a loop, racing the
# worker for the projection (each side applies some of the events).
# (e) A handler that raises on an event with data->>'poison' = 'true' stops
# its projection there: status 'failed', last_error with the message,
# error_position that event, position the source's event before it, nothing
# after it applied (the five events before it in the same batch are),
# even as more events arrive; the worker (same process)
# goes on with a healthy projection of the same source and with 'acct'.
# After CREATE OR REPLACE FUNCTION and es.resume_projection the worker
# applies the rest, the poison event included.  A projection created with
# on_error => 'park' parks the poison event (es.parked_events, with the
# error), keeps going and applies every other event.
# (f) es.rebuild_projection(name, ARRAY[tables]) empties the read model in
# its own transaction and the worker replays everything again, exactly once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('projections');
$node->init;
# TAP clusters default to restart_after_crash = off; (d) kills the worker.
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'event_streaming'
restart_after_crash = on
track_commit_timestamp = on
max_connections = 30
event_streaming.databases = 'postgres'
event_streaming.notify = on
event_streaming.naptime = '100ms'});
my $log_start = -s $node->logfile // 0;
$node->start;
my $t_start = time;

# Poll a query until it returns $want, for at most $secs seconds; true if it
# did.  Errors (say, during a crash restart) count as not yet.
sub poll
{
	my ($sql, $want, $secs) = @_;
	my $deadline = time + $secs;
	my $got;
	while (1)
	{
		my ($ret, $out, $err) = $node->psql('postgres', $sql);
		$got = $out;
		return 1 if $ret == 0 && $out eq $want;
		last if time > $deadline;
		usleep(50_000);
	}
	diag("after ${secs}s, '$sql' returns '" . ($got // '') . "', not '$want'");
	return 0;
}

sub sq { return $node->safe_psql('postgres', $_[0]); }

# The pid of the worker of database postgres ('' if none).
sub worker_pid
{
	my ($ret, $out) = $node->psql('postgres',
		q{SELECT coalesce(string_agg(pid::text, ','), '') FROM pg_stat_activity
		   WHERE backend_type = 'event_streaming worker' AND datname = 'postgres'});
	return $ret == 0 ? $out : '';
}

sub wait_new_worker
{
	my ($old, $secs) = @_;
	my $deadline = time + $secs;
	while (time <= $deadline)
	{
		my $pid = worker_pid();
		return $pid if $pid =~ /^\d+$/ && $pid ne $old;
		usleep(100_000);
	}
	return '';
}

sub set_conf
{
	my (%settings) = @_;
	sq("ALTER SYSTEM SET event_streaming.$_ = '$settings{$_}'") for sort keys %settings;
	sq('SELECT pg_reload_conf()');
}

# Wait for a projection to be caught up: running, lag 0, at the last event
# of its source.
sub caught_up
{
	my ($name, $secs, $label) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	ok(poll(qq{SELECT status || ',' || lag || ',' || (position = es.source_head(source)) || ',' || coalesce(last_error, '-')
	             FROM es.projections WHERE name = '$name'}, 'running,0,true,-', $secs),
		"$label: projection $name is running, lag 0, at the last event of its source, no error");
}

# The read model of acct_view against the events of category acct: rows
# missing, rows extra, rows out of application order, wrong per-stream
# counters, wrong counter values in rows; then the count of both, and
# events_applied.
my $acct_check_sql = q{
WITH ev AS (SELECT global_position, stream, stream_offset FROM es.events WHERE split_part(stream, '-', 1) = 'acct')
SELECT (SELECT count(*) FROM ev LEFT JOIN acct_rm r USING (global_position) WHERE r.global_position IS NULL)
    || ',' || (SELECT count(*) FROM acct_rm r LEFT JOIN ev USING (global_position) WHERE ev.global_position IS NULL)
    || ',' || (SELECT count(*) FROM (SELECT seq <= lag(seq) OVER (ORDER BY global_position) AS bad FROM acct_rm) x WHERE bad)
    || ',' || (SELECT count(*) FROM (SELECT stream, count(*) AS n FROM ev GROUP BY stream) c
                 FULL JOIN acct_counts k USING (stream) WHERE c.n IS DISTINCT FROM k.n)
    || ',' || (SELECT count(*) FROM acct_rm r JOIN ev USING (global_position)
                WHERE r.stream_seq <> ev.stream_offset + 1 OR r.stream <> ev.stream)
    || ' ' || (SELECT count(*) FROM ev) || '=' || (SELECT count(*) FROM acct_rm)
    || '=' || (SELECT events_applied FROM es.projections WHERE name = 'acct_view')
};

sub check_acct
{
	my ($label) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my ($bad, $counts) = split / /, sq($acct_check_sql);
	is($bad, '0,0,0,0,0',
		"$label: read model = events (none missing, none extra), applied in global order, per-stream counters exact");
	my ($ne, $nr, $na) = split /=/, $counts;
	ok($ne > 0 && $ne == $nr && $nr == $na, "$label: $ne events, $nr rows, events_applied $na");
	return $ne;
}

sq('CREATE EXTENSION event_streaming');
sq(q{
CREATE TABLE knobs (delay float8 NOT NULL);
INSERT INTO knobs VALUES (0);
CREATE SEQUENCE apply_seq;
CREATE TABLE acct_rm (
  global_position bigint PRIMARY KEY,
  stream          text NOT NULL,
  seq             bigint NOT NULL,      -- order of application
  stream_seq      bigint NOT NULL,      -- the stream's counter after this event
  applied_at      timestamptz NOT NULL);
CREATE TABLE acct_counts (stream text PRIMARY KEY, n bigint NOT NULL);
CREATE FUNCTION acct_apply(e es.event) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  d float8;
  n bigint;
BEGIN
  SELECT delay INTO d FROM knobs;
  IF d > 0 THEN
    PERFORM pg_sleep(d);
  END IF;
  INSERT INTO acct_counts AS c VALUES (e.stream, 1)
    ON CONFLICT (stream) DO UPDATE SET n = c.n + 1 RETURNING c.n INTO n;
  INSERT INTO acct_rm VALUES (e.global_position, e.stream, nextval('apply_seq'), n, clock_timestamp());
END $$;
SELECT es.create_projection('acct_view', 'acct', 'acct_apply(es.event)');
});
# A worker that crashes as soon as it runs a projection makes the rest
# meaningless: stop here, with the postmaster's report.
usleep(1_000_000);
if (!ok(!$node->log_contains(qr/terminated by signal/, $log_start), '(a) the worker survives its first projection run'))
{
	my @crash = grep { /terminated by signal|Failed process was running/ } split /\n/, slurp_file($node->logfile, $log_start);
	diag(join "\n", @crash[ 0 .. ($#crash < 3 ? $#crash : 3) ]);
	done_testing();
	exit 1;
}
is(sq(q{SELECT name || ',' || source || ',' || handler || ',' || on_error || ',' || status || ',' || position || ',' || lag
         FROM es.projections}), 'acct_view,acct,public.acct_apply(es.event),stop,running,0,0',
	'(a) es.projections shows the new projection');

# --- (a) the worker applies while pgbench appends
my $dir = $node->basedir;
PostgreSQL::Test::Utils::append_to_file("$dir/single.sql", q{
\set s random(1, 20)
SELECT es.append('acct-' || :s, 'Deposited', jsonb_build_object('amount', :s, 'client', :client_id));
});
PostgreSQL::Test::Utils::append_to_file("$dir/batch.sql", q{
\set s random(1, 20)
SELECT es.append_batch('acct-' || :s, '[{"type": "Deposited", "data": {"amount": 1}}, {"type": "Withdrawn", "data": {"amount": 2}}, {"type": "Deposited", "data": {"amount": 3}}]');
});
my ($bout, $berr) = ('', '');
my $bench = IPC::Run::start(
	[ 'pgbench', '-h', $node->host, '-p', $node->port, '-n', '-c', 4, '-j', 2, '-t', 500, '-R', 800,
	  '-f', "$dir/single.sql\@3", '-f', "$dir/batch.sql\@1", 'postgres' ],
	'>', \$bout, '2>', \$berr, IPC::Run::timeout(120));
my ($seen_during, $samples) = (0, 0);
while ($bench->pumpable)
{
	$bench->pump_nb;
	# pgbench's connections (their last query an append) exist while it runs.
	my ($ret, $out) = $node->psql('postgres',
		q{SELECT position || ',' || (SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT es.append%' AND pid <> pg_backend_pid())
		    FROM es.projections WHERE name = 'acct_view'});
	my ($pos, $clients) = split /,/, $out // '';
	if ($ret == 0 && $clients > 0)
	{
		$samples++;
		$seen_during = $pos if $pos > $seen_during;
	}
	usleep(100_000);
}
ok($bench->finish, '(a) pgbench ran without error') or diag("$bout\n$berr");
my ($tx) = $bout =~ /number of transactions actually processed: (\d+)/;
note "(a) pgbench: " . ($tx // '?') . " transactions";
caught_up('acct_view', 30, '(a)');
my $final = sq(q{SELECT position FROM es.projections WHERE name = 'acct_view'});
ok($seen_during > 0 && $seen_during < $final,
	"(a) the worker applied events while pgbench was appending (position $seen_during of $final seen in $samples samples)");
my $n_events = check_acct('(a)');
cmp_ok($n_events, '>=', 2000, '(a) a few thousand events');
is(sq(q{SELECT count(DISTINCT stream) FROM acct_counts}), '20', '(a) in 20 streams');

# --- (b) the commit of an append wakes the worker
set_conf(naptime => '10s');
ok(poll('SHOW event_streaming.naptime', '10s', 10), '(b) naptime is 10 s');
usleep(500_000);    # the worker has its reload too
# An append 250 ms apart: one the wake-up missed would wait for the next
# append's commit (250 ms) or, the last one, for the naptime (10 s).
my @single;
for my $i (1 .. 10)
{
	push @single, sq(qq{SELECT global_position FROM es.append_event('acct-1', 'Ping', '{"i": $i}')});
	usleep(250_000);
}
ok(poll(qq{SELECT count(*) FROM acct_rm WHERE global_position IN (@{[join ',', @single]})}, scalar(@single), 12),
	'(b) the single appends are applied with naptime = 10 s');
my @lat = split /\n/, sq(qq{
  SELECT round(extract(epoch FROM r.applied_at - pg_xact_commit_timestamp(e.xmin)) * 1000, 1)
    FROM es.events e JOIN acct_rm r USING (global_position)
   WHERE e.global_position IN (@{[join ',', @single]}) ORDER BY e.global_position});
note '(b) ms from an append\'s commit to its handler call: ' . join(', ', @lat);
is(join(', ', grep { !($_ >= 0 && $_ < 150) } @lat), '',
	'(b) every single append reached the handler within 150 ms of its commit (naptime 10 s: woken by its own commit)');
set_conf(naptime => '100ms');
ok(poll('SHOW event_streaming.naptime', '100ms', 10), '(b) naptime back to 100 ms');

# --- (c) LISTEN es_events
{
	my $bg = $node->background_psql('postgres');
	$bg->query_safe(q{LISTEN es_events; LISTEN "es_events.acct"; LISTEN "es_events.other"});
	my ($hi) = sq(q{BEGIN;
	  SELECT es.append('acct-3', 'Deposited', '{}');
	  SELECT global_position FROM es.append_event('acct-4', 'Deposited', '{}');
	  COMMIT;}) =~ /(\d+)\z/;
	sq(q{BEGIN; SELECT es.append('acct-5', 'Deposited', '{}'); ROLLBACK;});
	usleep(200_000);
	my $out = $bg->query_safe('SELECT 1');
	my @heard = $out =~ /Asynchronous notification "([^"]+)" with payload "(\d+)"/g;
	is(join(' ', @heard), "es_events $hi es_events.acct $hi",
		'(c) a listener hears one notification per channel with the highest position appended, nothing of a rollback')
	  or diag($out);
	$bg->quit;
}

# --- (d) SIGKILL of the worker in the middle of a batch
sq(q{UPDATE knobs SET delay = 0.001});
set_conf(projection_batch_size => 500);
usleep(500_000);
my $base = sq(q{SELECT position FROM es.projections WHERE name = 'acct_view'});

# Append 3000 events in one transaction, to 20 streams; wait until the
# worker committed at least one batch of them and is writing the next.
sub append_3000
{
	sq(q{SELECT es.append_batch('acct-' || s, (SELECT jsonb_agg(jsonb_build_object('type', 'Bulk', 'data', jsonb_build_object('i', i)))
	                                            FROM generate_series(1, 150) i))
	      FROM generate_series(1, 20) s});
}

sub wait_mid_batch
{
	my ($from, $secs) = @_;
	my $deadline = time + $secs;
	while (time < $deadline)
	{
		my $r = sq(qq{SELECT p.position || ',' || p.lag || ',' || coalesce(a.pid::text, '') || ',' || coalesce(a.backend_xid::text, '')
		               || ',' || coalesce(a.state, '') || ',' || coalesce(a.query, '')
		  FROM es.projections p
		  LEFT JOIN pg_stat_activity a ON a.backend_type = 'event_streaming worker' AND a.datname = 'postgres'
		 WHERE p.name = 'acct_view'});
		my ($pos, $lag, $pid, $xid, $state, $query) = split /,/, $r;
		return ($pos, $lag, $pid, $xid)
		  if $pos > $from && $lag >= 1000 && $xid ne '' && $state eq 'active' && $query eq 'projections';
		usleep(20_000);
	}
	return ();
}

my $wpid = worker_pid();
append_3000();
my ($kpos, $klag, $kpid, $kxid) = wait_mid_batch($base, 20);
ok(defined $kpos, "(d) caught the worker (pid " . ($kpid // '?') . ") writing a batch (xid " . ($kxid // '?')
	  . ") after committing some (position $base -> " . ($kpos // '?') . ", lag " . ($klag // '?') . ")");
my $rows_at_kill = sq(q{SELECT count(*) FROM acct_rm});
my $crash_offset = -s $node->logfile;
kill 'KILL', $kpid if defined $kpid;
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $crash_offset);
pass('(d) SIGKILL of the worker made the postmaster reinitialize (crash restart)');
my $wpid2 = wait_new_worker($kpid // $wpid, 60);
like($wpid2, qr/^\d+$/, "(d) a new worker after the crash restart (pid $wpid2)");
caught_up('acct_view', 40, '(d)');
$n_events = check_acct('(d) after SIGKILL mid-batch');
cmp_ok($rows_at_kill, '<', $n_events, "(d) the kill left events to apply ($rows_at_kill rows of $n_events at the kill)");
is(sq(q{SELECT count(*) FROM es.worker_status WHERE pass = 'projections' AND errors > 0}), '0',
	'(d) es.worker_status: no error in the projections pass');

# SIGTERM (pg_terminate_backend) of the worker in the middle of a batch.
$base = sq(q{SELECT position FROM es.projections WHERE name = 'acct_view'});
append_3000();
($kpos, $klag, $kpid, $kxid) = wait_mid_batch($base, 20);
ok(defined $kpos, "(d) caught the worker (pid " . ($kpid // '?') . ") writing a batch again (xid " . ($kxid // '?')
	  . ") after committing some (position $base -> " . ($kpos // '?') . ")");
my $term_offset = -s $node->logfile;
$rows_at_kill = sq(q{SELECT count(*) FROM acct_rm});
is(sq("SELECT pg_terminate_backend($kpid)"), 't', '(d) SIGTERM sent to the worker') if defined $kpid;
my $t0 = time;
my $wpid3 = wait_new_worker($kpid // $wpid2, 20);
like($wpid3, qr/^\d+$/, sprintf('(d) the launcher started a new worker (pid %s) %.1f s later', $wpid3, time - $t0));
caught_up('acct_view', 40, '(d)');
$n_events = check_acct('(d) after SIGTERM mid-batch');
cmp_ok($rows_at_kill, '<', $n_events, "(d) SIGTERM left events to apply ($rows_at_kill rows of $n_events at the kill)");
ok($node->log_contains(qr/terminating background worker "event_streaming worker[^"]*" due to administrator command/, $term_offset),
	'(d) the worker logged its termination');
ok(!$node->log_contains(qr/reinitializing|terminated by signal/, $term_offset), '(d) no crash restart for SIGTERM');

# Three sessions calling es.run_projection in a loop race the worker.  They
# are already looping when the events arrive: a call that waits for the
# worker's lock on the projection tends to wait until the worker has caught
# up (the worker locks the new row version again first), so calls that
# start late apply nothing.
my $worker_total_sql = q{SELECT total_affected FROM es.worker_status WHERE pass = 'projections'};
my $w_before = sq($worker_total_sql);
my $n_before = $n_events;
PostgreSQL::Test::Utils::append_to_file("$dir/run.sql", q{SELECT es.run_projection('acct_view', 100);});
my ($mout, $merr) = ('', '');
my $manual = IPC::Run::start(
	[ 'pgbench', '-h', $node->host, '-p', $node->port, '-n', '-c', 3, '-j', 3, '-T', 4, '-f', "$dir/run.sql", 'postgres' ],
	'>', \$mout, '2>', \$merr, IPC::Run::timeout(60));
usleep(500_000);
append_3000();
ok($manual->finish, '(d) three sessions ran es.run_projection for 4 s without error') or diag("$mout\n$merr");
caught_up('acct_view', 40, '(d) manual runs racing the worker');
$n_events = check_acct('(d) manual runs racing the worker');
my $w_applied = sq($worker_total_sql) - $w_before;
note "(d) of the " . ($n_events - $n_before) . " new events, the worker applied $w_applied, the manual runs the rest";
ok($w_applied > 0 && $w_applied < $n_events - $n_before, '(d) the worker and the manual runs each applied some of them');
sq(q{UPDATE knobs SET delay = 0});
set_conf(projection_batch_size => 1000);

# --- (e) a failing handler stops its projection; a parking one goes on
sq(q{
CREATE TABLE pz_rm (global_position bigint PRIMARY KEY, poison boolean NOT NULL);
CREATE TABLE pz_all_rm (global_position bigint PRIMARY KEY);
CREATE TABLE park_rm (global_position bigint PRIMARY KEY);
CREATE FUNCTION fragile(e es.event) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF e.data->>'poison' = 'true' THEN
    RAISE EXCEPTION 'cannot digest the poison event at %', e.global_position;
  END IF;
  INSERT INTO pz_rm VALUES (e.global_position, false);
END $$;
CREATE FUNCTION pz_healthy(e es.event) RETURNS void LANGUAGE sql
  BEGIN ATOMIC INSERT INTO pz_all_rm VALUES (e.global_position); END;
CREATE FUNCTION parker(e es.event) RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
  IF e.data->>'poison' = 'true' THEN
    RAISE EXCEPTION 'parker refuses the poison event at %', e.global_position;
  END IF;
  INSERT INTO park_rm VALUES (e.global_position);
  RETURN 1;
END $$;
SELECT es.create_projection('fragile', 'pz', 'fragile(es.event)');
SELECT es.create_projection('pz_all', 'pz', 'pz_healthy(es.event)');
SELECT es.create_projection('parker', 'pz', 'parker(es.event)', on_error => 'park');
});
$wpid3 = worker_pid();
# The SQL of an append of 5 events to a pz stream, the first one poison or not.
my $pz_batch = sub {
	my ($stream, $poison) = @_;
	my $events = join ', ', map {
		'{"type": "P", "data": {"i": ' . $_ . ($poison && $_ == 0 ? ', "poison": "true"' : '') . '}}'
	} 0 .. 4;
	return qq{SELECT es.append_batch('$stream', '[$events]');\n};
};
my $acct_one = q{SELECT es.append('acct-7', 'Deposited', '{}');} . "\n";
# One transaction, so that the worker gets the 15 pz events in one batch and
# fails on the sixth: it applies the five before it, then stops at it.  Three
# acct events come between pz-1 and the poison event.
sq("BEGIN;\n" . $pz_batch->('pz-1') . ($acct_one x 3) . $pz_batch->('pz-2', 1) . ($acct_one x 3) . $pz_batch->('pz-3') . 'COMMIT;');
my $poison = sq(q{SELECT global_position FROM es.events WHERE stream = 'pz-2' AND data->>'poison' = 'true'});
my $before = sq(qq{SELECT max(global_position) FROM es.events WHERE split_part(stream, '-', 1) = 'pz' AND global_position < $poison});
cmp_ok($poison - $before, '>', 1, '(e) (acct events lie between the poison event and the pz event before it)');
ok(poll(q{SELECT status FROM es.projections WHERE name = 'fragile'}, 'failed', 15), '(e) the failing projection ends failed');
is(sq(q{SELECT error_position || ',' || position || ',' || (error_at IS NOT NULL) FROM es.projections WHERE name = 'fragile'}),
	"$poison,$before,true", "(e) error_position is the poison event ($poison), position the pz event before it ($before)");
like(sq(q{SELECT last_error FROM es.projections WHERE name = 'fragile'}), qr/^cannot digest the poison event at $poison$/,
	'(e) last_error is the handler\'s message');
is(sq(qq{SELECT count(*) || ',' || max(global_position) FROM pz_rm}), "5,$before",
	'(e) the 5 events before it (pz-1) are applied, nothing after');
caught_up('pz_all', 15, '(e) the healthy projection of the same source');
is(sq(q{SELECT count(*) FROM pz_all_rm}), '15', '(e) it applied all 15 pz events, the poison one included');
caught_up('acct_view', 15, '(e) the acct projection');
# More events: the failed projection stays where it is.
sq($pz_batch->('pz-4') . $acct_one);
caught_up('pz_all', 15, '(e) after more events, the healthy one');
caught_up('acct_view', 15, '(e) after more events, acct_view');
usleep(1_000_000);    # ten naptimes
is(sq(q{SELECT status || ',' || position || ',' || error_position || ',' || lag FROM es.projections WHERE name = 'fragile'}),
	"failed,$before,$poison,"
	  . sq(qq{SELECT es.source_head('pz') - $before}), '(e) the failed projection does not move');
is(sq(q{SELECT count(*) FROM pz_rm}), '5', '(e) and applies nothing');
is(worker_pid(), $wpid3, '(e) the same worker process all along');
ok($node->log_contains(qr/WARNING:  projection "fragile" stopped at the event at position $poison: cannot digest the poison event at $poison/),
	'(e) the worker logs a WARNING naming the projection, the position and the error');
# The park projection set the poison event aside and went on.
caught_up('parker', 15, '(e) the park projection');
is(sq(q{SELECT projection || ',' || global_position || ',' || error FROM es.parked_events}),
	"parker,$poison,parker refuses the poison event at $poison", '(e) es.parked_events holds the poison event with its error');
is(sq(q{SELECT parked || ',' || events_applied FROM es.projections WHERE name = 'parker'}), '1,19',
	'(e) es.projections: parked 1, 19 events applied');
is(sq(qq{SELECT count(*) || ',' || count(*) FILTER (WHERE global_position = $poison) FROM park_rm}), '19,0',
	'(e) its read model has every pz event but the poison one');
ok($node->log_contains(qr/WARNING:  projection "parker" parked the event at position $poison: parker refuses/),
	'(e) the worker logs the parking');
# Fix the handler and resume.
sq(q{
CREATE OR REPLACE FUNCTION fragile(e es.event) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO pz_rm VALUES (e.global_position, coalesce(e.data->>'poison' = 'true', false));
END $$;
SELECT es.resume_projection('fragile');
});
caught_up('fragile', 15, '(e) resumed after the fix, the projection');
is(sq(qq{SELECT count(*) || ',' || count(*) FILTER (WHERE poison AND global_position = $poison)
          || ',' || (SELECT count(*) FROM es.events WHERE split_part(stream, '-', 1) = 'pz') FROM pz_rm}),
	'20,1,20', '(e) its read model ends with all 20 pz events, the poison one included');
is(sq(q{SELECT events_applied || ',' || (error_position IS NULL) || ',' || (error_at IS NULL) FROM es.projections WHERE name = 'fragile'}),
	'20,true,true', '(e) events_applied 20, the error forgotten');

# --- (f) rebuild
my $max_seq = sq(q{SELECT max(seq) FROM acct_rm});
is(sq(q{BEGIN;
       SELECT es.rebuild_projection('acct_view', ARRAY['acct_rm'::regclass, 'acct_counts'::regclass]);
       SELECT (SELECT count(*) FROM acct_rm) || ',' || (SELECT count(*) FROM acct_counts) || ',' || position || ',' || events_applied
         FROM es.projections WHERE name = 'acct_view';
       COMMIT;}) =~ s/\A\n//r, '0,0,0,0', '(f) es.rebuild_projection empties the tables and sets the position to 0');
caught_up('acct_view', 30, '(f) after the rebuild');
$n_events = check_acct('(f) after the rebuild');
is(sq(qq{SELECT count(*) FROM acct_rm WHERE seq <= $max_seq}), '0', '(f) every row was applied again after the rebuild');
ok(!$node->log_contains(qr/duplicate key|PANIC|terminated by signal (?!9:)/, $log_start),
	'no duplicate key error, no PANIC, no process ended by a signal but the SIGKILL of (d)');
my @errors = grep { /\bERROR:/ } split /\n/, slurp_file($node->logfile, $log_start);
is(join("\n", @errors), '', 'the log has no ERROR');
note sprintf('test body took %.1f s', time - $t_start);
$node->stop;
done_testing();
