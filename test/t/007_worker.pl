# The background worker's life cycle.  With the library preloaded, the
# launcher and a worker for each database in event_streaming.databases show
# in pg_stat_activity; a worker waits for CREATE EXTENSION, sleeping between
# its looks, and then serves the database without a restart (retention trims
# a stream, es.worker_status counts its runs).  A worker killed with SIGKILL
# in the middle of a retention pass takes the server through a crash
# restart: afterwards a new worker serves the database, the steps committed
# before the crash stay done, every stream is a contiguous range of offsets
# ending at its version (no step half done), and retention goes on.  A
# reload changes the nap time of a running worker.  Two databases are served
# at once, each by its own worker; a database named before it exists is
# served once it is created.  A worker ended with pg_terminate_backend is
# started again by the launcher, without a crash restart, within seconds but
# no sooner than 5 s after its previous start; a database taken out of the
# list loses its worker for good.  On a streaming standby neither launcher
# nor worker runs and the extension logs nothing, no error in particular,
# while the standby replays the primary's retention; once promoted, it
# starts them and serves its database.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('primary');
$node->init(allows_streaming => 1);
# TAP clusters default to restart_after_crash = off; the crash restart is
# what (c) is about.
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'event_streaming'
restart_after_crash = on});
my $primary_offset = -s $node->logfile // 0;
$node->start;

# Poll a query until it returns $want, for at most $secs seconds; true if it
# did.  Errors (say, during a crash restart) count as not yet.
sub poll
{
	my ($n, $db, $sql, $want, $secs) = @_;
	my $deadline = time + $secs;
	my $got;
	while (1)
	{
		my ($ret, $out, $err) = $n->psql($db, $sql);
		$got = $out;
		return 1 if $ret == 0 && $out eq $want;
		last if time > $deadline;
		usleep(100_000);
	}
	diag("after ${secs}s, '$sql' returns '" . ($got // '') . "', not '$want'");
	return 0;
}

# The pid of the worker serving a database, from pg_stat_activity ('' if none).
sub worker_pid
{
	my ($n, $db) = @_;
	return $n->safe_psql('postgres',
		qq{SELECT coalesce(string_agg(pid::text, ','), '') FROM pg_stat_activity
		    WHERE backend_type = 'event_streaming worker' AND datname = '$db'});
}

sub launcher_pid
{
	my ($n) = @_;
	return $n->safe_psql('postgres',
		q{SELECT coalesce(string_agg(pid::text, ','), '') FROM pg_stat_activity
		   WHERE backend_type = 'event_streaming launcher'});
}

# Wait for a live worker on a database other than $old; returns its pid.
sub wait_new_worker
{
	my ($n, $db, $old, $secs) = @_;
	my $deadline = time + $secs;
	while (time <= $deadline)
	{
		my ($ret, $pid) = $n->psql('postgres',
			qq{SELECT pid FROM pg_stat_activity WHERE backend_type = 'event_streaming worker' AND datname = '$db'});
		return $pid if $ret == 0 && $pid =~ /^\d+$/ && $pid ne $old;
		usleep(100_000);
	}
	return '';
}

sub set_conf
{
	my ($n, %settings) = @_;
	for my $k (sort keys %settings)
	{
		$n->safe_psql('postgres', "ALTER SYSTEM SET event_streaming.$k = '$settings{$k}'");
	}
	$n->safe_psql('postgres', 'SELECT pg_reload_conf()');
}

# Every persistent stream: its events are exactly the offsets
# truncated_before .. version (none when retention removed them all), and
# es.streams and es.stream_version() agree.  Returns the offending rows.
my $inconsistent_sql = q{
SELECT c.stream, c.truncated_before, x.lo, x.hi, x.n, s.version, s.event_count, es.stream_version(c.stream)
  FROM es.stream_catalog c
  JOIN es.streams s ON s.stream = c.stream
  CROSS JOIN LATERAL (SELECT min(stream_offset) AS lo, max(stream_offset) AS hi, count(*) AS n
                        FROM es.events e WHERE e.stream = c.stream) x
 WHERE c.kind = 'persistent'
   AND NOT (CASE WHEN x.n = 0 THEN s.version = c.truncated_before - 1
                 ELSE x.lo = c.truncated_before AND x.hi = s.version AND x.n = x.hi - x.lo + 1 END
            AND s.event_count = x.n
            AND es.stream_version(c.stream) = s.version)
};

sub consistent
{
	my ($n, $db, $name) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my $bad = $n->safe_psql($db, $inconsistent_sql);
	is($bad, '', $name);
}

sub stream_state
{
	my ($n, $db, $stream) = @_;
	return $n->safe_psql($db,
		qq{SELECT count(*) || ',' || coalesce(min(stream_offset), -1) || ',' || es.stream_version('$stream')
		     FROM es.events WHERE stream = '$stream'});
}

my $t_start = time;

# --- (a) launcher and worker in pg_stat_activity, before the extension exists
ok(poll($node, 'postgres',
	q{SELECT count(*) FILTER (WHERE backend_type = 'event_streaming launcher' AND datname IS NULL) || ',' ||
	         count(*) FILTER (WHERE backend_type = 'event_streaming worker' AND datname = 'postgres'
	                          AND application_name = 'event_streaming worker')
	    FROM pg_stat_activity}, '1,1', 30),
	'(a) the launcher and the worker for postgres show in pg_stat_activity with their backend_type');
my $wpid = worker_pid($node, 'postgres');
my $lpid = launcher_pid($node);
like($wpid, qr/^\d+$/, "(a) one worker for postgres (pid $wpid)");
like($lpid, qr/^\d+$/, "(a) one launcher (pid $lpid)");
$node->wait_for_log(qr/event_streaming worker waiting for CREATE EXTENSION event_streaming/);
pass('(a) the worker logs that it waits for CREATE EXTENSION');

# A waiting worker sleeps between its looks (naptime, 1 s): over 2 s it
# wakes a few times, not every millisecond.
SKIP:
{
	skip 'no /proc/PID/status', 1 unless -r "/proc/$wpid/status";
	my $switches = sub {
		my ($v) = slurp_file("/proc/$wpid/status") =~ /^voluntary_ctxt_switches:\s+(\d+)/m;
		return $v;
	};
	my $c0 = $switches->();
	usleep(2_000_000);
	my $wakeups = $switches->() - $c0;
	note "(a) the waiting worker woke $wakeups times in 2 s";
	cmp_ok($wakeups, '<', 40, '(a) the worker waiting for CREATE EXTENSION sleeps between looks (< 40 wake-ups in 2 s)');
}

# --- (b) the extension created after the start is served without a restart
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'CREATE EXTENSION event_streaming');
$node->safe_psql('postgres', q{
  SELECT es.append_batch('trim-1', (SELECT jsonb_agg(jsonb_build_object('type', 'T', 'data', i)) FROM generate_series(0, 29) i));
  SELECT es.append_batch('keep-1', (SELECT jsonb_agg(jsonb_build_object('type', 'T', 'data', i)) FROM generate_series(0, 29) i));
  SELECT es.configure('trim-1', max_count => 10);
});
set_conf($node, retention_interval => '1s');
ok(poll($node, 'postgres', q{SELECT count(*) FROM es.events WHERE stream = 'trim-1'}, '10', 30),
	'(b) the worker trims trim-1 to its max_count of 10');
is(stream_state($node, 'postgres', 'trim-1'), '10,20,29', '(b) the newest 10 are left (offsets 20..29), version still 29');
is(stream_state($node, 'postgres', 'keep-1'), '30,0,29', '(b) a stream without settings is left alone');
$node->wait_for_log(qr/event_streaming worker serving version 0\.7\.0/, $log_offset);
pass('(b) the worker logs that it serves 0.7.0');
is($node->safe_psql('postgres', q{SELECT string_agg(pass || ':' || (worker_pid = } . $wpid . q{) || ':' || (runs > 0) || ':' || errors
	|| ':' || (last_finish >= last_start), ',' ORDER BY pass) FROM es.worker_status}),
	'projections:true:true:0:true,redelivery:true:true:0:true,retention:true:true:0:true',
	'(b) es.worker_status: every pass ran, by this worker, without errors');
cmp_ok($node->safe_psql('postgres', q{SELECT total_affected FROM es.worker_status WHERE pass = 'retention'}), '>=', 20,
	'(b) es.worker_status counts the 20 events the retention pass removed');
consistent($node, 'postgres', '(b) every stream is a contiguous range ending at its version');

# --- (c) SIGKILL of the worker in the middle of a retention pass: crash restart
# 50000 events, removed 2 per step (one transaction each): a pass of
# 25000 steps, to kill it in the middle of.
$node->safe_psql('postgres', q{
  DO $$ BEGIN
    FOR b IN 0..9 LOOP
      PERFORM es.append_batch('big-1', (SELECT jsonb_agg(jsonb_build_object('type', 'T', 'data', i))
                                          FROM generate_series(b * 5000, b * 5000 + 4999) i));
    END LOOP;
  END $$;});
set_conf($node, sweep_batch_size => 2);
usleep(300_000);    # the reload reaches the worker
$node->safe_psql('postgres', q{SELECT es.configure('big-1', max_count => 100)});
my ($mid, $activity) = ('', '');
my $deadline = time + 30;
while (time < $deadline)
{
	($mid, $activity) = split /\|/, $node->safe_psql('postgres', qq{
	  SELECT (SELECT count(*) FROM es.events WHERE stream = 'big-1'),
	         (SELECT query FROM pg_stat_activity WHERE pid = $wpid)});
	last if $mid < 50000;
	usleep(10_000);
}
# The worker reads a reload only between passes: switching retention off now
# lets this pass go on, but keeps the worker started after the crash from
# touching what the crash left.  A new session shows the postmaster's value.
$node->safe_psql('postgres', q{ALTER SYSTEM SET event_streaming.retention = off});
$node->safe_psql('postgres', q{SELECT pg_reload_conf()});
ok(poll($node, 'postgres', 'SHOW event_streaming.retention', 'off', 10), '(c) retention switched off for the next worker');
$mid = $node->safe_psql('postgres', q{SELECT count(*) FROM es.events WHERE stream = 'big-1'});
ok($mid > 100 && $mid < 50000, "(c) caught the retention pass in the middle ($mid of 50000 events left)");
is($activity, 'retention', '(c) pg_stat_activity shows the worker running its retention pass');
my $crash_offset = -s $node->logfile;
my $pm_start = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
kill 'KILL', $wpid;
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $crash_offset);
pass('(c) SIGKILL of the worker makes the postmaster reinitialize (crash restart)');
my $wpid2 = wait_new_worker($node, 'postgres', $wpid, 60);
like($wpid2, qr/^\d+$/, "(c) a new worker serves postgres after the crash restart (pid $wpid2)");
isnt($wpid2, $wpid, '(c) with a new pid');
isnt(launcher_pid($node), $lpid, '(c) the launcher was restarted too');
$lpid = launcher_pid($node);
like($lpid, qr/^\d+$/, '(c) one launcher after the crash restart');
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $pm_start, '(c) the same postmaster');
# What the crash left: the steps committed before it, and nothing half done.
my $after_crash = $node->safe_psql('postgres', q{SELECT count(*) FROM es.events WHERE stream = 'big-1'});
ok($after_crash <= $mid && $after_crash > 100,
	"(c) the steps committed before the crash stayed done, the rest was not done ($after_crash events left)");
consistent($node, 'postgres', '(c) after the crash every stream is a contiguous range ending at its version');
ok(poll($node, 'postgres', q{SELECT string_agg(pass || ':' || coalesce(worker_pid, 0) || ':' || (runs > 0), ',' ORDER BY pass) FROM es.worker_status},
	"migrations:$wpid2:false,projections:$wpid2:true,redelivery:$wpid2:true,retention:$wpid2:false", 10),
	'(c) es.worker_status names the new worker (its memory was reset); only redelivery runs while retention is off');
# The pass goes on where it stopped, and retention trims new events.
set_conf($node, sweep_batch_size => 5000, retention => 'on');
$node->safe_psql('postgres', q{SELECT es.append_batch('trim-1', (SELECT jsonb_agg(jsonb_build_object('type', 'T', 'data', i)) FROM generate_series(30, 49) i), 29)});
ok(poll($node, 'postgres', q{SELECT count(*) FROM es.events WHERE stream = 'big-1'}, '100', 30),
	'(c) the new worker finishes trimming big-1 to 100');
ok(poll($node, 'postgres', q{SELECT count(*) FROM es.events WHERE stream = 'trim-1'}, '10', 30),
	'(c) and trims the events appended after the crash');
is(stream_state($node, 'postgres', 'big-1'), '100,49900,49999', '(c) big-1 keeps offsets 49900..49999, version 49999');
is(stream_state($node, 'postgres', 'trim-1'), '10,40,49', '(c) trim-1 keeps offsets 40..49, version 49');
is($node->safe_psql('postgres', q{SELECT truncated_before FROM es.stream_catalog WHERE stream = 'big-1'}), '49900',
	'(c) truncated_before is the first offset left');
is($node->safe_psql('postgres', q{SELECT es.append('big-1', 'T', '{}', expected_version => 49999)}), '50000',
	'(c) an append continues the numbering after the truncation');
consistent($node, 'postgres', '(c) every stream is a contiguous range ending at its version');
is($node->safe_psql('postgres', q{SELECT count(*) - count(DISTINCT global_position) FROM es.events}), '0',
	'(c) global positions are unique');

# --- (d) a reload changes the nap time of the running worker
my $runs_sql = q{SELECT runs FROM es.worker_status WHERE pass = 'redelivery'};
set_conf($node, naptime => '1h');
usleep(1_500_000);    # a run that was already due may still happen
my $r1 = $node->safe_psql('postgres', $runs_sql);
usleep(2_000_000);
my $r2 = $node->safe_psql('postgres', $runs_sql);
is($r2, $r1, "(d) with naptime = 1h the redelivery pass does not run ($r1 runs, 2 s later $r2)");
my $t0 = time;
set_conf($node, naptime => '100ms');
usleep(2_000_000);
my $r3 = $node->safe_psql('postgres', $runs_sql);
my $secs = time - $t0;
note sprintf('(d) naptime 100ms: %d redelivery runs in %.1f s', $r3 - $r2, $secs);
cmp_ok($r3 - $r2, '>=', 8, '(d) after a reload to naptime = 100ms it runs at the faster rate (>= 8 runs in ~2 s)');
cmp_ok($r3 - $r2, '<=', 3 + 10 * $secs, '(d) and not faster than the nap time allows');
is(worker_pid($node, 'postgres'), $wpid2, '(d) the same worker, without a restart');
# The redelivery pass retries a message whose lease ran out.
$node->safe_psql('postgres', q{SELECT es.create_queue('jobs', visibility_timeout => '1 second', max_deliveries => 1)});
$node->safe_psql('postgres', q{SELECT es.enqueue('jobs', '"x"')});
is($node->safe_psql('postgres', q{SELECT count(*) FROM es.dequeue('jobs', 'c')}), '1', '(d) a message is leased');
ok(poll($node, 'postgres', q{SELECT count(*) FROM es.dead_letters WHERE queue = 'jobs'}, '1', 15),
	'(d) the worker dead-letters it once the lease of its last delivery ran out');

# --- (e) two databases at once; one named before it exists
$log_offset = -s $node->logfile;
set_conf($node, databases => 'postgres,db2');
$node->wait_for_log(qr/WARNING:  database "db2" named in event_streaming\.databases does not exist/, $log_offset);
pass('(e) the launcher warns about a database that does not exist yet');
$node->safe_psql('postgres', 'CREATE DATABASE db2');
my $w2 = wait_new_worker($node, 'db2', '', 15);
like($w2, qr/^\d+$/, "(e) once created, db2 gets its worker (pid $w2)");
is(worker_pid($node, 'postgres'), $wpid2, '(e) postgres keeps its worker');
$node->safe_psql('db2', 'CREATE EXTENSION event_streaming');
for my $db ('postgres', 'db2')
{
	$node->safe_psql($db, qq{
	  SELECT es.append_batch('own-$db', (SELECT jsonb_agg(jsonb_build_object('type', 'T', 'data', i)) FROM generate_series(0, 19) i));
	  SELECT es.configure('own-$db', max_count => 5);});
}
for my $db ('postgres', 'db2')
{
	ok(poll($node, $db, qq{SELECT count(*) FROM es.events WHERE stream = 'own-$db'}, '5', 30),
		"(e) the worker of $db trims its stream");
	is(stream_state($node, $db, "own-$db"), '5,15,19', "(e) $db: offsets 15..19 left, version 19");
	consistent($node, $db, "(e) $db: every stream is a contiguous range ending at its version");
}
is($node->safe_psql('db2', q{SELECT string_agg(DISTINCT worker_pid::text, ',') FROM es.worker_status WHERE runs > 0}), $w2,
	'(e) es.worker_status in db2 shows the db2 worker');
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT worker_pid::text, ',') FROM es.worker_status}), $wpid2,
	'(e) es.worker_status in postgres still shows the postgres worker');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'event_streaming worker'}), '2',
	'(e) two workers in all');

# --- (f) pg_terminate_backend ends a worker cleanly; the launcher starts another
$log_offset = -s $node->logfile;
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($wpid2)"), 't', '(f) SIGTERM sent to the postgres worker');
$t0 = time;
my $wpid3 = wait_new_worker($node, 'postgres', $wpid2, 15);
my $restart_secs = time - $t0;
like($wpid3, qr/^\d+$/, "(f) a new worker serves postgres (pid $wpid3)");
note sprintf('(f) the new worker appeared %.1f s after SIGTERM', $restart_secs);
cmp_ok($restart_secs, '<', 10, '(f) within 10 s');
is(launcher_pid($node), $lpid, '(f) the same launcher');
is(worker_pid($node, 'db2'), $w2, '(f) the db2 worker is untouched');
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $pm_start, '(f) no server restart');
ok(!$node->log_contains(qr/terminated by signal|reinitializing|exited with exit code [^01]/, $log_offset),
	'(f) the postmaster saw a clean exit, no crash');
$node->safe_psql('postgres', q{SELECT es.append_batch('trim-1', (SELECT jsonb_agg(jsonb_build_object('type', 'T', 'data', i)) FROM generate_series(50, 59) i), 49)});
ok(poll($node, 'postgres', q{SELECT count(*) || ',' || min(stream_offset) FROM es.events WHERE stream = 'trim-1'}, '10,50', 30),
	'(f) the new worker trims');
# Ended again right away, the worker is started again only 5 s after its
# last start.
my $start3 = $node->safe_psql('postgres', "SELECT extract(epoch FROM backend_start) FROM pg_stat_activity WHERE pid = $wpid3");
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($wpid3)"), 't', '(f) SIGTERM again, right after the restart');
my $wpid4 = wait_new_worker($node, 'postgres', $wpid3, 15);
like($wpid4, qr/^\d+$/, "(f) a new worker serves postgres again (pid $wpid4)");
my $gap = $node->safe_psql('postgres', "SELECT extract(epoch FROM backend_start) - $start3 FROM pg_stat_activity WHERE pid = $wpid4");
note sprintf('(f) %.1f s between the two starts', $gap);
cmp_ok($gap, '>=', 4.9, '(f) no sooner than 5 s after the previous start');
cmp_ok($gap, '<', 10, '(f) and not much later');
$wpid3 = $wpid4;

# --- (g) a database taken out of the list loses its worker
$log_offset = -s $node->logfile;
set_conf($node, databases => 'postgres');
ok(poll($node, 'postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'event_streaming worker' AND datname = 'db2'}, '0', 15),
	'(g) the db2 worker exits once db2 leaves event_streaming.databases');
ok($node->log_contains(qr/event_streaming worker for database "db2" stopping/, $log_offset), '(g) and logs why');
usleep(2_000_000);
is(worker_pid($node, 'db2'), '', '(g) the launcher does not start it again');
is(worker_pid($node, 'postgres'), $wpid3, '(g) the postgres worker stays');
is($node->safe_psql('db2', q{SELECT count(*) FILTER (WHERE worker_pid IS NULL) || '/' || count(*) FROM es.worker_status}), '4/4',
	'(g) es.worker_status in db2 shows no worker process');
$node->safe_psql('postgres', 'DROP DATABASE db2');
pass('(g) db2 can be dropped: nothing holds it');

# --- (h) a streaming standby runs no worker, logs no error, replays retention
$node->safe_psql('postgres', q{
  SELECT es.append_batch('repl-1', (SELECT jsonb_agg(jsonb_build_object('type', 'T', 'data', i)) FROM generate_series(0, 29) i));});
$node->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'b', has_streaming => 1);
my $standby_offset = -s $standby->logfile // 0;
$standby->start;
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', '(h) the standby is in recovery');
is($standby->safe_psql('postgres', q{SHOW shared_preload_libraries}), 'event_streaming', '(h) with the library preloaded');
$node->safe_psql('postgres', q{SELECT es.configure('repl-1', max_count => 3)});
ok(poll($node, 'postgres', q{SELECT count(*) FROM es.events WHERE stream = 'repl-1'}, '3', 30),
	'(h) the primary trims repl-1');
$node->wait_for_catchup($standby);
is(stream_state($standby, 'postgres', 'repl-1'), '3,27,29', '(h) the standby replayed the retention deletes (offsets 27..29, version 29)');
is(stream_state($standby, 'postgres', 'big-1'), '100,49901,50000', '(h) and the rest of the primary');
consistent($standby, 'postgres', '(h) on the standby every stream is a contiguous range ending at its version');
usleep(1_500_000);
is($standby->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'event_streaming%'}), '0',
	'(h) no event_streaming launcher or worker on the standby');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM es.worker_status WHERE worker_pid IS NOT NULL OR runs IS NOT NULL}), '0',
	'(h) es.worker_status on the standby shows no worker');
# The standby's log while in recovery: no error of any kind, and no message
# of the extension (the statements logged are this test's own).
my @slog = grep { !/ statement: / && !/^\s/ } split /\n/, slurp_file($standby->logfile, $standby_offset);
is(join("\n", grep { /\b(ERROR|FATAL|PANIC):/ } @slog), '', '(h) the standby log has no ERROR, FATAL or PANIC');
is(join("\n", grep { /event_streaming/ } @slog), '', '(h) and no message from event_streaming');

# After promotion the standby starts its launcher and worker.
$standby->promote;
ok(poll($standby, 'postgres',
	q{SELECT count(*) FILTER (WHERE backend_type = 'event_streaming launcher') || ',' ||
	         count(*) FILTER (WHERE backend_type = 'event_streaming worker' AND datname = 'postgres')
	    FROM pg_stat_activity}, '1,1', 30),
	'(h) once promoted, the launcher and the worker start');
$standby->safe_psql('postgres', q{SELECT es.append_batch('repl-1', (SELECT jsonb_agg(jsonb_build_object('type', 'T', 'data', i)) FROM generate_series(30, 39) i), 29)});
ok(poll($standby, 'postgres', q{SELECT count(*) || ',' || min(stream_offset) FROM es.events WHERE stream = 'repl-1'}, '3,37', 30),
	'(h) and the promoted server trims its streams');
$standby->stop;

consistent($node, 'postgres', 'at the end every stream of the primary is a contiguous range ending at its version');
my $errors = join "\n", grep { /\b(ERROR|PANIC):/ } split /\n/, slurp_file($node->logfile, $primary_offset);
is($errors, '', 'the primary log has no ERROR');
note sprintf('test body took %.1f s', time - $t_start);
$node->stop;
done_testing();
