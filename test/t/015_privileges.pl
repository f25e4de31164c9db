# The privilege model of docs/security.md.
#
# (a) The grant recipes, taken from docs/security.md as written there (every
#     ```sql block of its "Grant recipes" section), run on a fresh database.
# (b) Every function of the API is called as each recipe role and as a role
#     with only USAGE on schema es: a role the recipe grants it to succeeds,
#     any other gets 42501.  Each call is undone after it ran, so all see
#     the same state.  No role holds any privilege on es's tables, so the
#     successes show that the functions need none.
# (c) Stored events: no recipe role can INSERT, UPDATE, DELETE or TRUNCATE
#     es.events (42501); the superuser cannot UPDATE, DELETE or TRUNCATE
#     them either (the append-only guard, 42501); retention still removes
#     events, by hand and in the worker.
# (d) The worker acts as the bootstrap superuser; it runs a projection's
#     handler as the projection's owner (an admin without superuser) and a
#     data-migration step as its owner.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use EsPoll qw(poll_until);

my $node = PostgreSQL::Test::Cluster->new('privileges');
$node->init;
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'event_streaming'
event_streaming.databases = 'postgres'
event_streaming.naptime = '100ms'
event_streaming.retention_interval = 1});
$node->start;

sub sq { return $node->safe_psql('postgres', $_[0]); }

# Poll a query in database postgres until it returns $want, for at most $secs seconds.
sub poll { return poll_until($node, 'postgres', @_); }

# --- (a) the recipes, from the document
my $repo = "$FindBin::RealBin/../..";
my $text = slurp_file("$repo/docs/security.md");
my ($section) = $text =~ /^## Grant recipes\n(.*?)(?=^## |\z)/ms;
ok(defined $section, 'docs/security.md has a "Grant recipes" section');
my @blocks = $section =~ /^```sql\n(.*?)^```/msg;
cmp_ok(scalar(@blocks), '>=', 5, 'the recipes are ' . scalar(@blocks) . ' SQL blocks');

sq(q{CREATE EXTENSION event_streaming});
for my $i (0 .. $#blocks)
{
	my ($ret, $out, $err) = $node->psql('postgres', $blocks[$i], on_error_stop => 1);
	is($ret, 0, "recipe block " . ($i + 1) . " runs as written") or diag($err);
}
sq(q{CREATE ROLE es_nobody NOLOGIN; GRANT USAGE ON SCHEMA es TO es_nobody;});
is(sq(q{SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a
         WHERE c.relnamespace = 'es'::regnamespace AND c.relkind IN ('r', 'S')
           AND a.grantee <> c.relowner AND a.privilege_type <> 'SELECT'}),
   '0', 'no recipe grants a write privilege on an es table or sequence');

# --- fixture, as the superuser and as the admin
sq(q{
CREATE FUNCTION public.p_handler(e es.event) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.p_applied VALUES (e.global_position, current_user, session_user);
END $$;
CREATE TABLE public.p_applied (pos bigint, as_user name, session name);
GRANT INSERT ON public.p_applied TO es_admin;
CREATE FUNCTION public.p_up(d jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE RETURN d;
CREATE FUNCTION public.p_step() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.p_applied VALUES (-1, current_user, session_user);
END $$;
CREATE TABLE public.p_import (id int PRIMARY KEY);
INSERT INTO public.p_import VALUES (1);
GRANT SELECT ON public.p_import TO es_admin;
CREATE TABLE public.p_cap (id int PRIMARY KEY);
CREATE TABLE public.p_capped (id int PRIMARY KEY);
ALTER TABLE public.p_cap OWNER TO es_admin;
ALTER TABLE public.p_capped OWNER TO es_admin;

SELECT es.append('p-1', 'T', '{"n": 1}');
SELECT es.append('p-1', 'PT2', '{"n": 2}');
SELECT es.create_queue('pq', visibility_timeout => '1 hour');
SELECT es.enqueue('pq', '{"m": 1}') FROM generate_series(1, 3);
CREATE TABLE public.p_receipts AS SELECT message_id, receipt FROM es.dequeue('pq', 'fixture', max_messages => 2);
GRANT SELECT ON public.p_receipts TO PUBLIC;
SELECT es.create_subscription('psub');

SET ROLE es_admin;
SELECT es.create_projection('pproj', '$all', 'public.p_handler(es.event)');
SELECT es.register_upcaster('PT2', 1, 'public.p_up(jsonb)');
SELECT es.register_upcaster('PT3', 1, 'public.p_up(jsonb)');
SELECT es.register_data_migration('pm', 10, 'public.p_step()');
SELECT es.capture_table('public.p_capped', 'pcapped');
RESET ROLE;

-- Run a statement, then undo it: 'ok', or the SQLSTATE and message.
CREATE FUNCTION public.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        EXECUTE sql;
        RAISE EXCEPTION USING ERRCODE = 'ZZ001';
    EXCEPTION
        WHEN SQLSTATE 'ZZ001' THEN RETURN 'ok';
        WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM;
    END;
END $$;
});

# --- (b) every function, every role
my $rcpt = q{(SELECT message_id FROM public.p_receipts ORDER BY 1 LIMIT 1),
             (SELECT receipt FROM public.p_receipts ORDER BY message_id LIMIT 1)};
# function => [the recipe that grants it, a valid call]
my @calls = (
	[ append               => 'producer', q{SELECT es.append('p-1', 'T', '{}')} ],
	[ append_event         => 'producer', q{SELECT es.append_event('p-2', 'T', '{}')} ],
	[ append_batch         => 'producer', q{SELECT es.append_batch('p-3', '[{"type": "T", "data": {}}]')} ],
	[ stream_version       => 'producer consumer reader', q{SELECT es.stream_version('p-1')} ],
	[ category             => 'producer consumer reader monitor', q{SELECT es.category('p-1')} ],
	[ enqueue              => 'producer', q{SELECT es.enqueue('pq', '{}')} ],
	[ enqueue_batch        => 'producer', q{SELECT es.enqueue_batch('pq', ARRAY['{}'::jsonb])} ],
	[ dequeue              => 'consumer', q{SELECT count(*) FROM es.dequeue('pq', 'c')} ],
	[ ack                  => 'consumer', qq{SELECT es.ack('pq', $rcpt)} ],
	[ nack                 => 'consumer', qq{SELECT es.nack('pq', $rcpt)} ],
	[ extend               => 'consumer', qq{SELECT es.extend('pq', $rcpt, '2 hours')} ],
	[ read_stream          => 'consumer reader', q{SELECT count(*) FROM es.read_stream('p-1')} ],
	[ read_stream_backward => 'consumer reader', q{SELECT count(*) FROM es.read_stream_backward('p-1')} ],
	[ read_all             => 'consumer reader', q{SELECT count(*) FROM es.read_all(0, 10)} ],
	[ settled_position     => 'consumer reader', q{SELECT es.settled_position()} ],
	[ member_of            => 'consumer reader', q{SELECT es.member_of('p-1', 2)} ],
	[ read_subscription    => 'consumer', q{SELECT count(*) FROM es.read_subscription('psub', 10)} ],
	[ commit_subscription  => 'consumer', q{SELECT es.commit_subscription('psub', 1)} ],
	[ source_head          => 'reader monitor', q{SELECT es.source_head('$all')} ],
	[ worker_status        => 'reader monitor', q{SELECT count(*) FROM es.worker_status()} ],
	[ tail                 => 'consumer reader', q{SELECT count(*) FROM es.tail('p-1')} ],
	[ peek                 => 'consumer', q{SELECT count(*) FROM es.peek('pq')} ],
	[ metric_counters      => 'reader monitor', q{SELECT count(*) FROM es.metric_counters()} ],
	[ create_queue         => 'admin', q{SELECT es.create_queue('pq2')} ],
	[ drop_queue           => 'admin', q{SELECT es.drop_queue('pq')} ],
	[ purge_queue          => 'admin', q{SELECT es.purge_queue('pq')} ],
	[ purge_dead_letters   => 'admin', q{SELECT es.purge_dead_letters('pq')} ],
	[ redrive              => 'admin', q{SELECT es.redrive('pq')} ],
	[ configure            => 'admin', q{SELECT es.configure('p-1', max_count => 100)} ],
	[ configure_category   => 'admin', q{SELECT es.configure_category('p', max_count => 100)} ],
	[ reset_configuration  => 'admin', q{SELECT es.reset_configuration('p-1')} ],
	[ reset_category_configuration => 'admin', q{SELECT es.reset_category_configuration('p')} ],
	[ sweep                => 'admin', q{SELECT count(*) FROM es.sweep()} ],
	[ sweep_retention      => 'admin', q{SELECT es.sweep_retention()} ],
	[ sweep_redelivery     => 'admin', q{SELECT es.sweep_redelivery()} ],
	[ create_subscription  => 'admin', q{SELECT es.create_subscription('psub2')} ],
	[ reset_subscription   => 'admin', q{SELECT es.reset_subscription('psub', 'beginning')} ],
	[ drop_subscription    => 'admin', q{SELECT es.drop_subscription('psub')} ],
	[ create_projection    => 'admin', q{SELECT es.create_projection('pproj2', '$all', 'public.p_handler(es.event)')} ],
	[ run_projection       => 'admin', q{SELECT es.run_projection('pproj')} ],
	[ resume_projection    => 'admin', q{SELECT es.resume_projection('pproj')} ],
	[ rebuild_projection   => 'admin', q{SELECT es.rebuild_projection('pproj')} ],
	[ drop_projection      => 'admin', q{SELECT es.drop_projection('pproj')} ],
	[ register_upcaster    => 'admin', q{SELECT es.register_upcaster('PT', 1, 'public.p_up(jsonb)')} ],
	[ drop_upcaster        => 'admin', q{SELECT es.drop_upcaster('PT3', 1)} ],
	[ read_stream_raw      => 'admin', q{SELECT count(*) FROM es.read_stream_raw('p-1')} ],
	[ register_data_migration => 'admin', q{SELECT es.register_data_migration('pm2', 20, 'public.p_step()')} ],
	[ drop_data_migration  => 'admin', q{SELECT es.drop_data_migration('pm')} ],
	[ request_data_migrations => 'admin', q{SELECT es.request_data_migrations()} ],
	[ import_table         => 'admin', q{SELECT es.import_table('public.p_import', 'pimp')} ],
	[ capture_table        => 'admin', q{SELECT es.capture_table('public.p_cap', 'pcap')} ],
	[ uncapture_table      => 'admin', q{SELECT es.uncapture_table('public.p_capped')} ],
);
# The views of the reader recipe, and the admin's dead letters.
for my $v (qw(events streams queue_stats configuration worker_status subscriptions projections
	event_types data_migrations captured_tables))
{
	push @calls, [ "view $v" => 'reader', qq{SELECT count(*) FROM es.$v} ];
}
push @calls, [ 'view metrics' => 'reader monitor', q{SELECT count(*) FROM es.metrics} ];
push @calls, [ 'view dead_letters' => 'admin', q{SELECT count(*) FROM es.dead_letters} ];

# Every function of schema es is in the table (but the trigger functions,
# which no recipe grants, and the procedure, called at top level below).
my %called = map { $_->[0] => 1 } @calls;
my @missing = grep { !$called{$_} && !/^(events_guard|projection_catalog_guard|upcasters_changed|capture_trigger|run_data_migrations)$/ }
  split /\n/, sq(q{SELECT proname FROM pg_proc WHERE pronamespace = 'es'::regnamespace ORDER BY 1});
is("@missing", '', 'every API function is checked');

my %member = (
	producer => [qw(producer)],
	consumer => [qw(consumer)],
	reader   => [qw(reader)],
	monitor  => [qw(monitor)],
	admin    => [qw(producer consumer reader monitor admin)],
	nobody   => [],);
my ($allowed, $denied) = (0, 0);
for my $role (qw(producer consumer reader monitor admin nobody))
{
	my %has = map { $_ => 1 } @{ $member{$role} };
	my $sql = join "\nUNION ALL ", map {
		my ($what, $sql) = ($_->[0], $_->[2]);
		$sql =~ s/'/''/g;
		"SELECT '$what', public.try('$sql')"
	} @calls;
	my %got = map { split /\|/, $_, 2 } split /\n/, sq("SET ROLE es_$role;\n$sql");
	for my $c (@calls)
	{
		my ($what, $grantees) = @$c;
		my $may = grep { $has{$_} } split / /, $grantees;
		if ($may)
		{
			is($got{$what}, 'ok', "$role: $what succeeds");
			$allowed++;
		}
		else
		{
			like($got{$what}, qr/^42501: permission denied for (function|schema|view|table)/, "$role: $what is refused, 42501");
			$denied++;
		}
	}
}
note "calls checked: $allowed allowed, $denied refused";

# The procedure, at top level (it commits between steps).
my ($ret, $out, $err) = $node->psql('postgres', q{SET ROLE es_consumer; CALL es.run_data_migrations()});
like($err, qr/permission denied for procedure run_data_migrations/, 'consumer: CALL es.run_data_migrations is refused');
($ret, $out, $err) = $node->psql('postgres', q{SET ROLE es_admin; CALL es.run_data_migrations()});
is($ret, 0, 'admin: CALL es.run_data_migrations succeeds') or diag($err);
is(sq(q{SELECT as_user FROM public.p_applied WHERE pos = -1}), 'es_admin', 'the step ran as its caller, the admin');
sq(q{DELETE FROM public.p_applied});

# --- (c) stored events
for my $role (qw(producer consumer reader monitor admin))
{
	for my $stmt (q{INSERT INTO es.events (global_position, stream, stream_offset, event_id, event_type, data, created_at) VALUES (999, 'x-1', 0, gen_random_uuid(), 'T', '{}', now())},
		q{UPDATE es.events SET data = '{}'},
		q{DELETE FROM es.events},
		q{TRUNCATE es.events})
	{
		my ($verb) = $stmt =~ /^(\w+)/;
		($ret, $out, $err) = $node->psql('postgres', "SET ROLE es_$role; $stmt");
		like($err, qr/permission denied for table events/, "$role: $verb of es.events is refused");
	}
}
for my $stmt (q{UPDATE es.events SET data = '{}'}, q{DELETE FROM es.events WHERE stream = 'p-1'}, q{TRUNCATE es.events})
{
	my ($verb) = $stmt =~ /^(\w+)/;
	($ret, $out, $err) = $node->psql('postgres', $stmt);
	like($err, qr/events are append-only/, "superuser: $verb of es.events is refused by the guard");
}
is(sq(q{SELECT count(*) FROM es.events WHERE stream = 'p-1'}), '2', 'the events are all there');
sq(q{SET ROLE es_admin; SELECT es.append('pret-1', 'T', '{}') FROM generate_series(1, 5);
     SELECT es.configure('pret-1', max_count => 2); SELECT count(*) FROM es.sweep();});
is(sq(q{SELECT string_agg(stream_offset::text, ',' ORDER BY stream_offset) FROM es.events WHERE stream = 'pret-1'}),
   '3,4', 'retention, run by the admin, removes events');
sq(q{SET ROLE es_admin; SELECT es.append('pret-1', 'T', '{}') FROM generate_series(1, 3)});
ok(poll(q{SELECT string_agg(stream_offset::text, ',' ORDER BY stream_offset) FROM es.events WHERE stream = 'pret-1'},
		'6,7', 30), 'retention in the worker removes events');

# --- (d) the worker's role
is(sq(q{SELECT usesysid = 10 AND NOT usename IS NULL FROM pg_stat_activity
         WHERE backend_type = 'event_streaming worker' AND datname = 'postgres'}),
   't', 'the worker is connected as the bootstrap superuser');
is(sq(q{SELECT rolsuper FROM pg_roles WHERE rolname = 'es_admin'}), 'f', 'the admin is no superuser');
ok(poll(q{SELECT count(*) > 0 AND bool_and(as_user = 'es_admin') AND bool_and(session = (SELECT rolname FROM pg_roles WHERE oid = 10))
          FROM public.p_applied WHERE pos > 0}, 't', 30),
	'the worker applies the projection as its owner, the admin, in its superuser session');
sq(q{SET ROLE es_admin; SELECT es.register_data_migration('pm3', 30, 'public.p_step()');
     SELECT es.request_data_migrations()});
ok(poll(q{SELECT status FROM es.data_migrations WHERE name = 'pm3'}, 'finished', 30),
	'the worker runs a requested data-migration step');
is(sq(q{SELECT as_user || ',' || (session = (SELECT rolname FROM pg_roles WHERE oid = 10))::text FROM public.p_applied WHERE pos = -1}),
   'es_admin,true', 'the worker runs the step as its owner, the admin, in its superuser session');

$node->stop;
done_testing();
