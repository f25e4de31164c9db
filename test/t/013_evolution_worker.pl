# The worker and 0.5.0's evolution tools.
#
# (a) es.request_data_migrations(): the worker runs the pending steps in
#     order, each as its owner (a role without superuser), and records them
#     finished; a step the owner may not do fails, is recorded with its
#     error, and cancels the request (the worker does not retry it alone);
#     after the fix a new request finishes it.
# (b) A step killed with the worker (SIGKILL, crash restart) leaves
#     nothing (each step runs in one transaction); the request outlives
#     the crash, so the restarted worker runs the step again, to the end.
# (c) A projection run by the worker is handed events upcast to their
#     type's current version, the upcaster running as the projection's
#     owner; a step registered while the worker runs applies to the events
#     it reads afterwards.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use EsPoll qw(poll_until);

my $node = PostgreSQL::Test::Cluster->new('evolution');
$node->init;
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'event_streaming'
restart_after_crash = on
event_streaming.databases = 'postgres'
event_streaming.naptime = '100ms'});
$node->start;

sub sq { return $node->safe_psql('postgres', $_[0]); }

# Poll a query in database postgres until it returns $want, for at most $secs seconds.
sub poll { return poll_until($node, 'postgres', @_); }

sq(q{
CREATE EXTENSION event_streaming;
CREATE ROLE migrator LOGIN;
GRANT USAGE ON SCHEMA es TO migrator;
GRANT SELECT, INSERT, UPDATE, DELETE ON es.data_migration_catalog TO migrator;
GRANT EXECUTE ON FUNCTION es.register_data_migration(text, integer, regprocedure),
  es.request_data_migrations() TO migrator;
CREATE TABLE steps (n serial, step text, by_user text);
GRANT INSERT ON steps TO migrator;
GRANT USAGE ON SEQUENCE steps_n_seq TO migrator;
CREATE TABLE locked_down (x int);
CREATE FUNCTION step_one() RETURNS void LANGUAGE sql
  AS $$ INSERT INTO steps (step, by_user) VALUES ('one', current_user) $$;
CREATE FUNCTION step_two() RETURNS void LANGUAGE sql
  AS $$ INSERT INTO steps (step, by_user) VALUES ('two', current_user); INSERT INTO locked_down VALUES (1) $$;
CREATE PROCEDURE step_three() LANGUAGE plpgsql
  AS $$ BEGIN INSERT INTO steps (step, by_user) VALUES ('three', current_user); END $$;
});

# --- (a)
sq(q{SET ROLE migrator;
SELECT es.register_data_migration('one', 1, 'step_one()');
SELECT es.register_data_migration('two', 2, 'step_two()');
SELECT es.register_data_migration('three', 3, 'step_three()');});
is(sq(q{SET ROLE migrator; SELECT es.request_data_migrations()}), '3', '(a) three steps requested');
ok(poll(q{SELECT string_agg(name || ':' || status, ',' ORDER BY run_order) FROM es.data_migrations},
		'one:finished,two:failed,three:pending', 20),
	'(a) the worker ran step one, step two failed, step three waits');
is(sq(q{SELECT last_sqlstate || ' ' || last_error FROM es.data_migrations WHERE name = 'two'}),
	'42501 permission denied for table locked_down', '(a) the failure is recorded with its SQLSTATE');
is(sq(q{SELECT string_agg(step || ':' || by_user, ',' ORDER BY n) FROM steps}), 'one:migrator',
	'(a) step one ran as its owner, step two left nothing');
is(sq(q{SELECT count(*) FROM es.data_migrations WHERE requested_at IS NOT NULL}), '0',
	'(a) the failure cancelled the request');
like(sq(q{SELECT errors || ' ' || last_error FROM es.worker_status WHERE pass = 'migrations'}),
	qr/^1 data migration "two": permission denied/, '(a) es.worker_status shows the failure');
sleep 1;
is(sq(q{SELECT attempts FROM es.data_migrations WHERE name = 'two'}), '1', '(a) not retried alone');
sq(q{GRANT INSERT ON locked_down TO migrator});
sq(q{SET ROLE migrator; SELECT es.request_data_migrations()});
ok(poll(q{SELECT string_agg(name || ':' || status || ':' || attempts, ',' ORDER BY run_order) FROM es.data_migrations},
		'one:finished:1,two:finished:2,three:finished:1', 20),
	'(a) after the fix a new request finishes two and three');
is(sq(q{SELECT string_agg(step || ':' || by_user, ',' ORDER BY n) FROM steps}),
	'one:migrator,two:migrator,three:migrator', '(a) every step ran once, as its owner');

# --- (b)
sq(q{CREATE FUNCTION step_slow() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO steps (step, by_user) VALUES ('slow', current_user);
  WHILE NOT EXISTS (SELECT 1 FROM pg_class WHERE relname = 'slow_done') LOOP
    PERFORM pg_sleep(0.05);
  END LOOP;
END $$;
SELECT es.register_data_migration('slow', 4, 'step_slow()');
SELECT es.request_data_migrations();});
ok(poll(q{SELECT status || ':' || attempts FROM es.data_migrations WHERE name = 'slow'}, 'running:1', 20),
	'(b) the worker records the slow step running');
my $pid = sq(q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'event_streaming worker'
                 OR application_name = 'event_streaming worker' LIMIT 1});
ok($pid =~ /^\d+$/, "(b) found the worker ($pid)");
kill 'KILL', $pid;
ok(poll(q{SELECT 1}, '1', 30), '(b) the server is back after the crash restart');
# The request outlives the crash: the new worker runs the step again.
ok(poll(q{SELECT status || ':' || attempts FROM es.data_migrations WHERE name = 'slow'}, 'running:2', 20),
	'(b) the restarted worker runs the killed step again');
is(sq(q{SELECT count(*) FROM steps WHERE step = 'slow'}), '0', '(b) the killed attempt left nothing');
sq(q{CREATE TABLE slow_done ()});
ok(poll(q{SELECT status || ':' || attempts FROM es.data_migrations WHERE name = 'slow'}, 'finished:2', 20),
	'(b) and finishes it');
is(sq(q{SELECT count(*) FROM steps WHERE step = 'slow'}), '1', '(b) once');

# --- (c)
sq(q{
CREATE ROLE projector;
GRANT USAGE ON SCHEMA es TO projector;
GRANT SELECT ON es.events TO projector;
GRANT SELECT, INSERT, UPDATE ON es.projection_catalog TO projector;
GRANT EXECUTE ON FUNCTION es.create_projection(text, text, regprocedure, text, text) TO projector;
CREATE TABLE seen (position bigint PRIMARY KEY, version int, data jsonb);
GRANT INSERT ON seen TO projector;
CREATE FUNCTION see(e es.event) RETURNS void LANGUAGE sql
  AS $$ INSERT INTO seen VALUES (e.global_position, e.schema_version, e.data) $$;
CREATE FUNCTION up_who(d jsonb) RETURNS jsonb LANGUAGE sql
  AS $$ SELECT d || jsonb_build_object('upcast_by', current_user::text) $$;
GRANT EXECUTE ON FUNCTION see(es.event), up_who(jsonb) TO projector;
SELECT es.append('thing-1', 'Thing', '{"n": 1}');
SELECT es.register_upcaster('Thing', 1, 'up_who(jsonb)');
SET ROLE projector;
SELECT es.create_projection('things', 'thing', 'see(es.event)');
});
ok(poll(q{SELECT string_agg(version || ' ' || data::text, ',' ORDER BY position) FROM seen},
		'2 {"n": 1, "upcast_by": "projector"}', 20),
	'(c) the worker hands the projection the event upcast, the upcaster running as its owner');
# Event 2 is stored at version 2, committed with the step that makes 3 the
# current version: the worker, whose cache had the chain up to 2, must see
# the new step when it reads event 2.
sq(q{CREATE FUNCTION up_three(d jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT d || '{"v3": true}' $$;
GRANT EXECUTE ON FUNCTION up_three(jsonb) TO projector;
BEGIN;
SELECT es.append('thing-1', 'Thing', '{"n": 2, "upcast_by": "writer"}');
SELECT es.register_upcaster('Thing', 2, 'up_three(jsonb)');
COMMIT;
SELECT es.append('thing-1', 'Thing', '{"n": 3, "upcast_by": "writer", "v3": true}');});
ok(poll(q{SELECT string_agg(version || ' ' || (data->>'n'), ',' ORDER BY position) FROM seen}, '2 1,3 2,3 3', 20),
	'(c) a step registered while the worker runs applies to what it reads next');
is(sq(q{SELECT string_agg(schema_version::text, ',' ORDER BY stream_offset) FROM es.events WHERE stream = 'thing-1'}),
	'1,2,3', '(c) the stored rows keep the versions they were written at');

$node->stop;
done_testing();
