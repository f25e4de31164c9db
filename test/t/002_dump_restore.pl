# pg_dump of a database with events, restored into a fresh database, keeps
# every event, stream, and the global position sequence.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'event_streaming'");
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', 'CREATE EXTENSION event_streaming');
$node->safe_psql('src', q{
  SELECT es.append('order-' || (i % 7), 'Placed', jsonb_build_object('i', i), jsonb_build_object('correlation_id', 'c' || i))
    FROM generate_series(1, 300) i;
  SELECT es.append_batch('cart-1', (SELECT jsonb_agg(jsonb_build_object('type', 'Item', 'data', i)) FROM generate_series(1, 50) i));
});

my $snapshot = q{SELECT md5(string_agg(concat_ws('|', global_position, stream, stream_offset, event_id, event_type,
  schema_version, data, metadata, correlation_id, causation_id, created_at), ',' ORDER BY global_position)) FROM es.events};
my $streams = q{SELECT string_agg(concat_ws('|', stream, kind, version, event_count, created_at), ',' ORDER BY stream) FROM es.streams};
my $src_events = $node->safe_psql('src', $snapshot);
my $src_streams = $node->safe_psql('src', $streams);

my $dump = $node->basedir . '/src.dump';
command_ok(['pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', $dump], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
command_ok(['pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump], 'pg_restore');

is($node->safe_psql('restored', $snapshot), $src_events, 'every event restored as it was');
is($node->safe_psql('restored', $streams), $src_streams, 'every stream restored with its version');
is($node->safe_psql('restored', q{SELECT count(*) FROM es.events}), '350', '350 events');

# The restored database goes on appending with fresh positions and offsets.
my $max = $node->safe_psql('restored', q{SELECT max(global_position) FROM es.events});
my $res = $node->safe_psql('restored', q{SELECT stream_offset || ',' || global_position FROM es.append_event('cart-1', 'Item', '51', NULL, 49)});
my ($offset, $pos) = split /,/, $res;
is($offset, '50', 'restored stream continues at the next offset');
cmp_ok($pos, '>', $max, 'restored sequence continues after the highest position');

$node->stop;
done_testing();
