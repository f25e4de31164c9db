# Without shared_preload_libraries the extension can be created and read,
# but appends refuse with an error whose hint names the setting.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('nopreload');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION event_streaming');

my ($ret, $out, $err) = $node->psql('postgres', q{SELECT es.append('s-1', 'T', '{}')}, extra_params => ['-v', 'VERBOSITY=verbose']);
isnt($ret, 0, 'append fails without preload');
like($err, qr/ERROR:  55000: event_streaming is not loaded through shared_preload_libraries/, 'clear error with SQLSTATE 55000');
like($err, qr/HINT:  Add event_streaming to shared_preload_libraries/, 'hint names the setting');

($ret, $out, $err) = $node->psql('postgres', q{SELECT es.append_batch('s-1', '[{"type": "T", "data": 1}]')});
like($err, qr/not loaded through shared_preload_libraries/, 'batch append refuses too');

is($node->safe_psql('postgres', q{SELECT count(*) FROM es.read_stream('s-1')}), '0', 'reads work and nothing was written');

# Once preloaded, the same database appends.
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'event_streaming'");
$node->restart;
is($node->safe_psql('postgres', q{SELECT es.append('s-1', 'T', '{}')}), '0', 'append works after preloading');

$node->stop;
done_testing();
