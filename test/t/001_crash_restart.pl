# After an immediate-mode (crash) restart every committed event and stream
# version is there, nothing of an open transaction is, and no global
# position handed out before the crash is handed out again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'event_streaming'");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION event_streaming');

# 20 streams, 50 committed events each, in single appends and batches.
$node->safe_psql('postgres', q{
  DO $$
  BEGIN
    FOR s IN 1..20 LOOP
      FOR i IN 0..29 LOOP
        PERFORM es.append('acct-' || s, 'Deposited', jsonb_build_object('i', i), NULL, i - 1);
      END LOOP;
      PERFORM es.append_batch('acct-' || s,
        (SELECT jsonb_agg(jsonb_build_object('type', 'Bonus', 'data', jsonb_build_object('i', i)))
           FROM generate_series(30, 49) i), 29);
    END LOOP;
  END $$;
});

my $before = $node->safe_psql('postgres',
  q{SELECT md5(string_agg(global_position || ':' || stream || ':' || stream_offset || ':' || event_id || ':' || data::text, ',' ORDER BY global_position)) FROM es.events});

# A transaction left open across the crash takes positions but never commits.
my $open = $node->background_psql('postgres');
$open->query_safe('BEGIN');
$open->query_safe(q{SELECT es.append_batch('acct-1', (SELECT jsonb_agg(jsonb_build_object('type', 'Lost', 'data', i)) FROM generate_series(1, 100) i))});
my $taken = $open->query_safe(q{SELECT max(global_position) FROM es.events});
chomp $taken;

$node->stop('immediate');
$open->quit;
$node->start;

my $after = $node->safe_psql('postgres',
  q{SELECT md5(string_agg(global_position || ':' || stream || ':' || stream_offset || ':' || event_id || ':' || data::text, ',' ORDER BY global_position)) FROM es.events});
is($after, $before, 'every committed event is intact after the crash');

is($node->safe_psql('postgres', q{SELECT count(*) FROM es.events}), '1000', '1000 events');
is($node->safe_psql('postgres', q{SELECT count(*) FROM es.events WHERE event_type = 'Lost'}), '0',
  'nothing of the open transaction survived');
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT version::text, ',') FROM es.streams}), '49',
  'every stream is at version 49');
is($node->safe_psql('postgres', q{SELECT count(*) FROM es.streams}), '20', '20 streams');
is($node->safe_psql('postgres',
  q{SELECT count(*) FROM (SELECT stream_offset - row_number() OVER (PARTITION BY stream ORDER BY stream_offset) + 1 AS d FROM es.events) s WHERE d <> 0}),
  '0', 'offsets are gapless from 0 in every stream');

# Appends continue where the streams left off, with fresh positions.
my $res = $node->safe_psql('postgres', q{SELECT stream_offset || ',' || global_position FROM es.append_event('acct-1', 'Deposited', '{}', NULL, 49)});
my ($offset, $pos) = split /,/, $res;
is($offset, '50', 'the next offset follows the last committed one');
cmp_ok($pos, '>', $taken, 'no global position taken before the crash is reused');

$node->stop;
done_testing();
