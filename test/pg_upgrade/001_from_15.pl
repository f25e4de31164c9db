# pg_upgrade from PostgreSQL 15 to the server under test (17 or 18).
#
# A 15 cluster holds streams (with upcast events), queues with leased and
# dead-lettered messages, a subscription with a committed position, a
# projection kept by the worker, and a captured table.  It is upgraded with
# pg_upgrade (both servers' binaries are in the root of scripts/pgroot.sh:
# 15 from Debian bookworm beside the suite's own server).  Then:
#   (a) the extension's version is the newest, so ALTER EXTENSION UPDATE is
#       not needed, and no worker ran while pg_upgrade had either server up;
#   (b) every event, message, dead letter, position, setting, upcaster and
#       capture is as it was (compared row by row, by digest);
#   (c) es.read_all and the subscription continue after the upgrade without
#       a gap or a repeat, new events included; positions are not reused;
#   (d) appends continue each stream's offsets, leases and receipts survive
#       (an ack with a pre-upgrade receipt works), dead letters redrive,
#       dequeue works, capture goes on, and the worker runs the projection.
use strict;
use warnings;
use Cwd;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../t";
use EsPoll qw(poll_until);

my $old_path = $ENV{ES_OLD_INSTALL} // '/usr/lib/postgresql/15';
my $conf = "shared_preload_libraries = 'event_streaming'\n"
  . "event_streaming.naptime = '1s'\n";

my $old = PostgreSQL::Test::Cluster->new('old', install_path => $old_path);
$old->init;
$old->append_conf('postgresql.conf', $conf);
$old->start;
like($old->safe_psql('postgres', 'SHOW server_version_num'), qr/^15\d{4}$/, 'the old server is 15');

$old->safe_psql('postgres', q{
CREATE EXTENSION event_streaming;
-- streams in three categories; cart events before and after an upcaster
SELECT es.append('order-' || (i % 20), 'OrderPlaced', jsonb_build_object('n', i, 'amount', i * 10))
  FROM generate_series(1, 200) i;
SELECT es.append('cart-' || (i % 10), 'CartAdded', jsonb_build_object('sku', 'a' || i))
  FROM generate_series(1, 50) i;
CREATE FUNCTION public.cart_v2(d jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE
  AS $$ SELECT d || '{"qty": 1}' $$;
SELECT es.register_upcaster('CartAdded', 1, 'public.cart_v2(jsonb)');
SELECT es.append('cart-' || (i % 10), 'CartAdded', jsonb_build_object('sku', 'b' || i, 'qty', 2))
  FROM generate_series(1, 30) i;
SELECT es.append('ship-1', 'Shipped', '{}', expected_version => -1);
SELECT es.configure('ship-1', max_count => 1000);
-- queues: three leased for an hour, seven waiting, one dead-lettered
SELECT es.create_queue('jobs', '1 hour');
SELECT es.enqueue('jobs', jsonb_build_object('job', i)) FROM generate_series(1, 10) i;
CREATE TABLE public.leases AS SELECT message_id, receipt FROM es.dequeue('jobs', 'w1', max_messages => 3);
SELECT es.create_queue('poison', max_deliveries => 1);
SELECT es.enqueue('poison', '{"bad": true}');
SELECT es.nack('poison', message_id, receipt, requeue => false, error => 'cannot parse')
  FROM es.dequeue('poison', 'w1');
-- a subscription that has read and committed part of $all
SELECT es.create_subscription('sub_all');
SELECT es.commit_subscription('sub_all', max(global_position))
  FROM es.read_subscription('sub_all', 120);
-- a projection of the order category, kept by the worker
CREATE TABLE public.order_totals (stream text PRIMARY KEY, total bigint NOT NULL);
CREATE FUNCTION public.add_order(e es.event) RETURNS void LANGUAGE sql AS $$
  INSERT INTO public.order_totals AS t VALUES (e.stream, (e.data->>'amount')::bigint)
  ON CONFLICT (stream) DO UPDATE SET total = t.total + excluded.total $$;
SELECT es.create_projection('order_totals', 'order', 'public.add_order(es.event)');
-- a captured table
CREATE TABLE public.users (id int PRIMARY KEY, name text NOT NULL);
SELECT es.capture_table('public.users', 'user');
INSERT INTO public.users SELECT i, 'user ' || i FROM generate_series(1, 5) i;
UPDATE public.users SET name = 'renamed' WHERE id = 2;
});
ok(poll_until($old, 'postgres',
		q{SELECT sum(total) FROM public.order_totals}, 10 * 200 * 201 / 2, 30),
	'the worker ran the projection on 15');

# What must survive, each as one digest: rows in a fixed order, every column.
my %state = (
	events => q{SELECT count(*) || ' ' || md5(string_agg(e::text, '|' ORDER BY global_position)) FROM es.events e},
	read_all => q{SELECT count(*) || ' ' || md5(string_agg(e::text, '|' ORDER BY global_position)) FROM es.read_all(0, 10000) e},
	streams => q{SELECT md5(string_agg(s::text, '|' ORDER BY stream)) FROM es.streams s},
	messages => q{SELECT count(*) || ' ' || md5(string_agg(m::text, '|' ORDER BY message_id)) FROM es.messages m},
	dead_letters => q{SELECT count(*) || ' ' || md5(string_agg(d::text, '|' ORDER BY message_id)) FROM es.dead_letters d},
	queues => q{SELECT md5(string_agg(q::text, '|' ORDER BY queue)) FROM es.queues q},
	subscriptions => q{SELECT md5(string_agg(s::text, '|' ORDER BY name)) FROM es.subscriptions s},
	projection => q{SELECT name || ' ' || source || ' ' || position FROM es.projections},
	read_model => q{SELECT md5(string_agg(t::text, '|' ORDER BY stream)) FROM public.order_totals t},
	upcasters => q{SELECT md5(string_agg(u::text, '|' ORDER BY event_type, from_version)) FROM es.upcasters u},
	configuration => q{SELECT md5(string_agg(c::text, '|' ORDER BY scope, name)) FROM es.configuration c},
	captured => q{SELECT md5(string_agg(c::text, '|' ORDER BY 1)) FROM es.captured_tables c},
	settled => q{SELECT es.settled_position()},
);
my %before = map { $_ => $old->safe_psql('postgres', $state{$_}) } keys %state;
my $last_position = $old->safe_psql('postgres', 'SELECT max(global_position) FROM es.events');
is($before{settled}, $last_position, 'on 15 the settled position is the last event');
my $committed = $old->safe_psql('postgres',
	q{SELECT position FROM es.subscriptions WHERE name = 'sub_all'});
my $old_version = $old->safe_psql('postgres',
	q{SELECT extversion FROM pg_extension WHERE extname = 'event_streaming'});
$old->stop;

# The new cluster: the server under test.  18's initdb turns data checksums
# on by default, 15's did not, and pg_upgrade needs them alike.
my $new = PostgreSQL::Test::Cluster->new('new');
$new->init(extra => $new->pg_version >= 18 ? ['--no-data-checksums'] : []);
$new->append_conf('postgresql.conf', $conf);

my $cwd = getcwd;
chdir $PostgreSQL::Test::Utils::tmp_check;
my $upgraded = run_log(
	[ 'pg_upgrade', '--no-sync', '--retain',
	  '-d', $old->data_dir, '-D', $new->data_dir,
	  '-b', $old->config_data('--bindir'), '-B', $new->config_data('--bindir'),
	  '-s', $new->host, '-p', $old->port, '-P', $new->port ]);
ok($upgraded, 'pg_upgrade from 15 to ' . $new->pg_version);
chdir $cwd;
# pg_upgrade's own logs, where its failures are told.
my @upgrade_logs = glob($new->data_dir . '/pg_upgrade_output.d/*/log/*.log');
if (!$upgraded)
{
	for my $f (@upgrade_logs)
	{
		my @lines = split /\n/, slurp_file($f);
		splice @lines, 0, @lines - 40 if @lines > 40;
		diag("$f:\n" . join("\n", @lines));
	}
	BAIL_OUT('pg_upgrade failed');
}

# (a) pg_upgrade's own server logs: no worker or launcher ran in them.
# (--retain keeps them.)  The servers pg_upgrade starts log to
# pg_upgrade_server.log; a launcher or worker would log its start there.
my @server_logs = grep { m{/pg_upgrade_server\.log$} } @upgrade_logs;
my $logs = join '', map { slurp_file($_) } @server_logs;
ok(@server_logs && $logs =~ /database system is ready/, '(a) pg_upgrade kept its servers\' log');
unlike($logs, qr/event_streaming (?:launcher|worker)/,
	'(a) no event_streaming worker ran in the servers pg_upgrade started');

$new->start;
is($new->safe_psql('postgres',
		q{SELECT extversion = default_version FROM pg_extension, pg_available_extensions
		   WHERE extname = 'event_streaming' AND name = extname}),
	't', "(a) the extension is at the newest version ($old_version): ALTER EXTENSION UPDATE is not needed");

# (b) everything as it was
for my $k (sort keys %state)
{
	is($new->safe_psql('postgres', $state{$k}), $before{$k}, "(b) $k as before the upgrade");
}

# (c) the subscription goes on from its committed position: exactly the
# events after it, in order; then new ones, with new positions.
$new->safe_psql('postgres', q{
SELECT es.append('order-1', 'OrderPlaced', '{"n": 201, "amount": 2010}');
SELECT es.append('new-1', 'Opened', '{}');
});
my $first_new = $new->safe_psql('postgres', q{SELECT min(global_position) FROM es.events WHERE stream = 'new-1' OR data->>'n' = '201'});
cmp_ok($first_new, '>', $last_position, '(c) positions after the upgrade are new ones');
my $read = $new->safe_psql('postgres', q{
SELECT string_agg(global_position::text, ',' ORDER BY global_position)
  FROM es.read_subscription('sub_all', 10000)});
my $expected = $new->safe_psql('postgres', qq{
SELECT string_agg(global_position::text, ',' ORDER BY global_position)
  FROM es.events WHERE global_position > $committed});
is($read, $expected, '(c) the subscription reads every event after its committed position, once, in order');
my @read = split /,/, $read;
is($read[-1], $new->safe_psql('postgres', 'SELECT max(global_position) FROM es.events'),
	'(c) and reaches the events appended after the upgrade');
my $pages = $new->safe_psql('postgres', q{
WITH RECURSIVE page(last, n) AS (
  SELECT 0::bigint, 0
  UNION ALL
  SELECT (SELECT max(global_position) FROM es.read_all(p.last, 37)), p.n + 1
    FROM page p WHERE p.last IS NOT NULL AND p.n < 100)
SELECT count(*) FROM page WHERE last IS NOT NULL});
my $total = $new->safe_psql('postgres', 'SELECT count(*) FROM es.events');
is($new->safe_psql('postgres', q{SELECT count(*) = count(DISTINCT global_position) FROM es.read_all(0, 10000)}) . ' '
	  . $new->safe_psql('postgres', q{SELECT count(*) FROM es.read_all(0, 10000)}),
	"t $total", '(c) es.read_all from the start returns every event once');
cmp_ok($pages, '>=', int(($total + 36) / 37), '(c) and pages of 37 reach the end');
is($new->safe_psql('postgres', 'SELECT es.settled_position() = max(global_position) FROM es.events'), 't',
	'(c) the settled position is the last event');

# (d) the API keeps working on the upgraded cluster
is($new->safe_psql('postgres', q{SELECT es.stream_version('order-1')}),
	$new->safe_psql('postgres', q{SELECT max(stream_offset) FROM es.events WHERE stream = 'order-1'}),
	'(d) the stream version is its last offset');
is($new->safe_psql('postgres', q{SELECT es.append('ship-1', 'Delivered', '{}', expected_version => 0)}), '1',
	'(d) an append with an expected version continues the offsets');
is($new->safe_psql('postgres', q{
SELECT string_agg(data::text, ',' ORDER BY stream_offset) FROM es.read_stream('cart-1', 0, 2)}),
	'{"qty": 1, "sku": "a1"},{"qty": 1, "sku": "a11"}', '(d) reads upcast the events stored before the upgrade');
is($new->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE es.ack('jobs', message_id, receipt)) FROM public.leases}),
	'3', '(d) the leases survived: acks with receipts from before the upgrade succeed');
is($new->safe_psql('postgres', q{SELECT count(*) FROM es.dequeue('jobs', 'w2', max_messages => 100)}), '7',
	'(d) dequeue delivers the seven waiting messages, not the acked ones');
is($new->safe_psql('postgres', q{SELECT es.redrive('poison')}), '1', '(d) the dead letter redrives');
is($new->safe_psql('postgres', q{SELECT payload FROM es.dequeue('poison', 'w2')}), '{"bad": true}',
	'(d) and is delivered again');
$new->safe_psql('postgres', q{INSERT INTO public.users VALUES (6, 'six')});
is($new->safe_psql('postgres', q{SELECT event_type FROM es.read_stream('user-6', 0, 10)}), 'Created',
	'(d) capture goes on');
ok(poll_until($new, 'postgres', q{SELECT total FROM public.order_totals WHERE stream = 'order-1'},
		$new->safe_psql('postgres', q{SELECT sum((data->>'amount')::bigint) FROM es.events WHERE stream = 'order-1'}), 30),
	'(d) the worker runs the projection on the upgraded cluster');
$new->stop;

done_testing();
