# Retention under concurrent appends.  pgbench clients append single events
# and batches to streams with max_count (set on the stream, on its category,
# or both) and with max_age (on the stream or on its category), and to one
# stream without settings, while the background worker (retention every
# second, 50 rows per step) and a client calling es.sweep() both trim them.
# Every append logs what it got in a table of the test, in its own
# transaction.  Afterwards: no append failed; every append is accounted for
# (offsets 0 .. n-1, once each, per stream) and each stream's version is
# its number of appends - 1; the events left in each stream are exactly the
# offsets truncated_before .. version, as appended; global positions are
# unique.  A final es.sweep(now => T) with an explicit T leaves exactly the
# newest max_count events of a max_count stream, and cuts a max_age stream
# exactly before its first event not older than T - max_age, having removed
# only events older than that; what es.sweep() returns names each stream it
# trimmed with the number of events it removed there, also when a stream
# takes several steps of the sweep.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time usleep);

my $seconds = 8;

my $node = PostgreSQL::Test::Cluster->new('retention_load');
$node->init;
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'event_streaming'
event_streaming.retention_interval = 1
event_streaming.sweep_batch_size = 50
event_streaming.sweep_delay = 0
event_streaming.naptime = 1000
log_statement = none
max_connections = 30});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION event_streaming');

# The streams and what retention should keep of them.
#   cnt-1     max_count 40                  (stream)
#   cnt-2     max_count 250                 (stream)
#   ccat-1    max_count 30                  (category ccat)
#   ccat-2    max_count 120                 (stream, over its category's 30)
#   age-1     max_age 4 s                   (stream)
#   agecat-1  max_age 5 s                   (category agecat)
#   free-1    nothing: keeps every event
my @streams = qw(cnt-1 cnt-2 ccat-1 ccat-2 age-1 agecat-1 free-1);
my %max_count = ('cnt-1' => 40, 'cnt-2' => 250, 'ccat-1' => 30, 'ccat-2' => 120);
my %max_age = ('age-1' => 4, 'agecat-1' => 5);

# The test's ledger: every append, written in the append's transaction.
$node->safe_psql('postgres', q{
CREATE TABLE appended (
  stream          text        NOT NULL,
  stream_offset   bigint      NOT NULL,
  global_position bigint,                 -- single appends only
  created_at      timestamptz NOT NULL DEFAULT now(),
  xid             bigint      NOT NULL DEFAULT txid_current(),
  batch           boolean     NOT NULL DEFAULT false);
CREATE TABLE sweeps (at timestamptz NOT NULL DEFAULT now(), affected bigint NOT NULL);
});
# Each stream exists (with one event) before it is configured.
for my $s (@streams)
{
	$node->safe_psql('postgres', qq{INSERT INTO appended (stream, stream_offset, global_position)
		SELECT '$s', stream_offset, global_position FROM es.append_event('$s', 'Created', '{}', NULL, -1)});
}
$node->safe_psql('postgres', q{
SELECT es.configure('cnt-1', max_count => 40);
SELECT es.configure('cnt-2', max_count => 250);
SELECT es.configure_category('ccat', max_count => 30);
SELECT es.configure('ccat-2', max_count => 120);
SELECT es.configure('age-1', max_age => '4 seconds');
SELECT es.configure_category('agecat', max_age => '5 seconds');
});
is($node->safe_psql('postgres', q{SELECT string_agg(scope || ':' || name || ':' || coalesce(max_age::text, '-') || ':' || coalesce(max_count::text, '-'), ',' ORDER BY scope, name)
	FROM es.configuration}),
	'category:agecat:00:00:05:-,category:ccat:-:30,stream:age-1:00:00:04:-,stream:ccat-2:-:120,stream:cnt-1:-:40,stream:cnt-2:-:250',
	'es.configuration shows the settings');

# pgbench scripts: a single append (75%) and a batch of three (25%) to a
# random stream; the sweeper runs es.sweep() with a row limit.
my $dir = $node->basedir;
my $names = join(',', map { "'$_'" } @streams);
my $n_streams = scalar @streams;
my %scripts = (
	'append.sql' => qq{
\\set s random(1, $n_streams)
INSERT INTO appended (stream, stream_offset, global_position)
SELECT x.st, r.stream_offset, r.global_position
  FROM (SELECT (ARRAY[$names])[:s] AS st) x,
       LATERAL es.append_event(x.st, 'Appended', jsonb_build_object('client', :client_id)) r;
},
	'append_batch.sql' => qq{
\\set s random(1, $n_streams)
WITH a AS (SELECT x.st, es.append_batch(x.st, '[{"type": "B", "data": 1}, {"type": "B", "data": 2}, {"type": "B", "data": 3}]') AS last
             FROM (SELECT (ARRAY[$names])[:s] AS st) x)
INSERT INTO appended (stream, stream_offset, batch)
SELECT a.st, a.last - 2 + g, true FROM a, generate_series(0, 2) g;
},
	'sweep.sql' => q{
INSERT INTO sweeps (affected) SELECT coalesce(sum(affected), 0) FROM es.sweep(max_rows => 300);
});
while (my ($f, $text) = each %scripts)
{
	PostgreSQL::Test::Utils::append_to_file("$dir/$f", $text);
}

my @conn = ('-h', $node->host, '-p', $node->port, '-n', '-T', $seconds);
my ($aout, $aerr, $sout, $serr) = ('', '', '', '');
my $t0 = time;
my $app = IPC::Run::start(
	[ 'pgbench', @conn, '-c', 4, '-j', 2, '-f', "$dir/append.sql\@3", '-f', "$dir/append_batch.sql\@1", 'postgres' ],
	'>', \$aout, '2>', \$aerr, IPC::Run::timeout($seconds + 60));
my $swp = IPC::Run::start(
	[ 'pgbench', @conn, '-c', 1, '-R', 20, '-f', "$dir/sweep.sql", 'postgres' ],
	'>', \$sout, '2>', \$serr, IPC::Run::timeout($seconds + 60));
# While the load runs, the worker's retention pass takes its turns.
my $runs_before = $node->safe_psql('postgres', q{SELECT runs FROM es.worker_status WHERE pass = 'retention'});
my $app_ok = $app->finish;
my $swp_ok = $swp->finish;
note sprintf('load phase took %.1f s', time - $t0);
ok($app_ok, 'the appending pgbench ran without error') or diag("$aout\n$aerr");
ok($swp_ok, 'the sweeping pgbench ran without error') or diag("$sout\n$serr");
my %tx;
for ([ 'appenders', $aout, $aerr ], [ 'sweeper', $sout, $serr ])
{
	my ($who, $out, $err) = @$_;
	my ($done) = $out =~ /number of transactions actually processed: (\d+)/;
	my ($failed) = $out =~ /number of failed transactions: (\d+)/;
	$tx{$who} = $done;
	note sprintf('%s: %s transactions, %s failed', $who, $done // '?', $failed // '?');
	is($failed // 0, 0, "$who: no failed transactions") or diag("$out\n$err");
	unlike($err, qr/error|abort/i, "$who: no client errors or aborts");
}

# Stop the worker's retention, so the final sweep is the only one: the worker
# takes the reload after its pass; then its run count stays put.
$node->safe_psql('postgres', q{ALTER SYSTEM SET event_streaming.retention = off});
$node->safe_psql('postgres', q{SELECT pg_reload_conf()});
my ($runs, $stable) = ('', 0);
for (1 .. 100)
{
	# runs, once no pass is in flight
	my $r = $node->safe_psql('postgres', q{SELECT runs FROM es.worker_status
	                                        WHERE pass = 'retention' AND last_finish >= last_start});
	$stable = $r eq $runs ? $stable + 1 : 0;
	$runs = $r;
	last if $stable >= 15;    # 1.5 s, more than the retention interval
	usleep(100_000);
}
is($stable, 15, 'the worker stopped running its retention pass');
note "worker retention runs: $runs_before before the load, $runs after it";
cmp_ok($runs - $runs_before, '>=', $seconds - 2, 'the worker ran retention about every second during the load');
is($node->safe_psql('postgres', q{SELECT errors FROM es.worker_status WHERE pass = 'retention'}), '0',
	'the worker\'s retention pass had no errors')
  or diag($node->safe_psql('postgres', q{SELECT last_error FROM es.worker_status WHERE pass = 'retention'}));
cmp_ok($node->safe_psql('postgres', q{SELECT total_affected FROM es.worker_status WHERE pass = 'retention'}), '>', 0,
	'the worker removed events');
cmp_ok($node->safe_psql('postgres', q{SELECT sum(affected) FROM sweeps}), '>', 0, 'and so did es.sweep()');

# A query that returns offending rows, expected to return none.
sub none
{
	my ($sql, $name) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my $rows = $node->safe_psql('postgres', "SELECT count(*) FROM ($sql) s");
	is($rows, '0', $name)
	  or diag($node->safe_psql('postgres', "SELECT s::text FROM ($sql) s LIMIT 20"));
}

# Every persistent stream: the events left are exactly the offsets
# truncated_before .. version, and es.streams agrees.
my $contiguous_sql = q{
SELECT c.stream, c.truncated_before, x.lo, x.hi, x.n, s.version, s.event_count
  FROM es.stream_catalog c
  JOIN es.streams s ON s.stream = c.stream
  CROSS JOIN LATERAL (SELECT min(stream_offset) AS lo, max(stream_offset) AS hi, count(*) AS n
                        FROM es.events e WHERE e.stream = c.stream) x
 WHERE NOT (CASE WHEN x.n = 0 THEN s.version = c.truncated_before - 1
                 ELSE x.lo = c.truncated_before AND x.hi = s.version AND x.n = x.hi - x.lo + 1 END
            AND s.event_count = x.n AND es.stream_version(c.stream) = s.version)};

sub check_streams
{
	my ($when) = @_;
	none($contiguous_sql, "$when: each stream's events are exactly the offsets truncated_before .. version");
	none(q{SELECT a.stream, count(*), max(a.stream_offset), es.stream_version(a.stream)
	         FROM appended a GROUP BY a.stream
	        HAVING es.stream_version(a.stream) <> count(*) - 1 OR max(a.stream_offset) <> count(*) - 1
	            OR count(DISTINCT a.stream_offset) <> count(*) OR min(a.stream_offset) <> 0},
		"$when: per stream the appends got offsets 0 .. n-1 once each, and the version is n - 1");
	none(q{SELECT e.stream, e.stream_offset FROM es.events e
	        WHERE NOT EXISTS (SELECT FROM appended a WHERE a.stream = e.stream AND a.stream_offset = e.stream_offset
	                             AND (a.global_position IS NULL OR a.global_position = e.global_position)
	                             AND a.created_at = e.created_at)},
		"$when: every event left is one an append returned (same offset, position and time)");
	none(q{SELECT global_position FROM es.events GROUP BY global_position HAVING count(*) > 1
	       UNION ALL
	       SELECT global_position FROM appended WHERE global_position IS NOT NULL GROUP BY global_position HAVING count(*) > 1},
		"$when: global positions are unique");
}

check_streams('after the load');
is($node->safe_psql('postgres', q{SELECT count(DISTINCT xid) FROM appended}), $tx{appenders} + @streams,
	'every append transaction pgbench counted is in the ledger');
note 'appends per stream: ' . $node->safe_psql('postgres',
	q{SELECT string_agg(stream || '=' || n, ' ' ORDER BY stream) FROM (SELECT stream, count(*) n FROM appended GROUP BY stream) s});
note 'events left per stream: ' . $node->safe_psql('postgres',
	q{SELECT string_agg(stream || '=' || event_count || '/v' || version, ' ' ORDER BY stream) FROM es.streams});
is($node->safe_psql('postgres', q{SELECT (SELECT count(*) FROM es.events WHERE stream = 'free-1') = (SELECT count(*) FROM appended WHERE stream = 'free-1')}),
	't', 'the stream without settings keeps every event');

# The final sweep: T is later than the now of every sweep so far (the
# worker's passes, the sweeper's calls) and than every append.
my $T = $node->safe_psql('postgres', q{
SELECT greatest((SELECT max(at) FROM sweeps), (SELECT last_start FROM es.worker_status WHERE pass = 'retention'),
                (SELECT max(created_at) FROM appended)) + interval '1 millisecond'});
note "final sweep at now => $T";
$node->safe_psql('postgres', q{CREATE TABLE before_final AS SELECT stream, truncated_before FROM es.stream_catalog});
my $swept = $node->safe_psql('postgres', qq{SELECT string_agg(pass || ':' || name || ':' || affected, ',' ORDER BY name, pass, affected) FROM es.sweep(now => '$T')});
note "final sweep: $swept";
check_streams('after the final sweep');
# What es.sweep() reports is what it did: one row per stream it trimmed,
# with the number of events it removed there.
is($swept, $node->safe_psql('postgres', q{
	SELECT string_agg('stream_retention:' || c.stream || ':' || (c.truncated_before - b.truncated_before), ',' ORDER BY c.stream)
	  FROM es.stream_catalog c JOIN before_final b USING (stream) WHERE c.truncated_before > b.truncated_before}),
	'es.sweep() reports each stream it trimmed, by name, with the events it removed');

# max_count: exactly the newest N.
for my $s (sort keys %max_count)
{
	my $n = $max_count{$s};
	is($node->safe_psql('postgres', qq{
	  SELECT count(*) || ',' || min(stream_offset) || ',' || max(stream_offset) FROM es.events WHERE stream = '$s'}),
		$n . ',' . $node->safe_psql('postgres', qq{SELECT (count(*) - $n) || ',' || (count(*) - 1) FROM appended WHERE stream = '$s'}),
		"$s keeps exactly its newest $n events");
}

# max_age: cut exactly before the first event (from where retention had got
# to) not older than T - max_age; every event removed was older.
for my $s (sort keys %max_age)
{
	my $cutoff = qq{'$T'::timestamptz - interval '$max_age{$s} seconds'};
	my $expect = $node->safe_psql('postgres', qq{
	  SELECT coalesce(min(a.stream_offset), (SELECT count(*) FROM appended WHERE stream = '$s'))
	    FROM appended a, before_final b
	   WHERE a.stream = '$s' AND b.stream = a.stream AND a.stream_offset >= b.truncated_before
	     AND a.created_at >= $cutoff});
	is($node->safe_psql('postgres', qq{SELECT truncated_before FROM es.stream_catalog WHERE stream = '$s'}), $expect,
		"$s: retention cut at the first event not older than T - $max_age{$s} s (offset $expect)");
	none(qq{SELECT a.* FROM appended a WHERE a.stream = '$s'
	         AND NOT EXISTS (SELECT FROM es.events e WHERE e.stream = a.stream AND e.stream_offset = a.stream_offset)
	         AND a.created_at >= $cutoff},
		"$s: every event removed was older than T - $max_age{$s} s");
	none(qq{SELECT e.* FROM (SELECT * FROM es.events WHERE stream = '$s' ORDER BY stream_offset LIMIT 1) e
	         WHERE e.created_at < $cutoff},
		"$s: the oldest event left is not older than T - $max_age{$s} s");
	my ($kept, $removed, $older) = split /\|/, $node->safe_psql('postgres', qq{
	  SELECT (SELECT count(*) FROM es.events WHERE stream = '$s'),
	         (SELECT count(*) FROM appended WHERE stream = '$s') - (SELECT count(*) FROM es.events WHERE stream = '$s'),
	         (SELECT count(*) FROM es.events WHERE stream = '$s' AND created_at < $cutoff)});
	cmp_ok($kept, '>', 0, "$s: the cutoff falls inside the load: some events are left ($kept)");
	cmp_ok($removed, '>', 0, "$s: and some were removed ($removed)");
	# created_at is the appending transaction's start, so under concurrent
	# appends it is not monotonic in the offset; retention removes a prefix,
	# never a hole, so such an event stays until the prefix reaches it.
	note "$s: $older events left are older than the cutoff but follow a newer one (created_at is the transaction start)";
	none(qq{SELECT e.* FROM es.events e WHERE e.stream = '$s' AND e.created_at < $cutoff
	         AND NOT EXISTS (SELECT FROM es.events f WHERE f.stream = e.stream AND f.stream_offset < e.stream_offset
	                            AND f.created_at >= $cutoff)},
		"$s: an event left older than the cutoff always follows one that is not");
}

# The same with many streams and a batch smaller than each stream's excess,
# so that the rows of one stream span several steps of the sweep.
$node->safe_psql('postgres', q{
  WITH a AS (SELECT 'rep-' || s AS st,
                    es.append_batch('rep-' || s, (SELECT jsonb_agg(jsonb_build_object('type', 'T', 'data', i)) FROM generate_series(1, 40) i)) AS last
               FROM generate_series(1, 20) s)
  INSERT INTO appended (stream, stream_offset, batch) SELECT a.st, a.last - 39 + g, true FROM a, generate_series(0, 39) g;
  SELECT count(es.configure('rep-' || s, max_count => 3)) FROM generate_series(1, 20) s;});
is($node->safe_psql('postgres', qq{SET event_streaming.sweep_batch_size = 7;
	SELECT string_agg(pass || ':' || name || ':' || affected, ',' ORDER BY name COLLATE "C", pass, affected) FROM es.sweep(now => '$T')}),
	join(',', map { "stream_retention:$_:37" } sort map { "rep-$_" } 1 .. 20),
	'es.sweep() with a 7-row batch reports each of 20 streams by name, 37 events each');
none($contiguous_sql, 'and each stream\'s events are exactly the offsets truncated_before .. version');

# A second sweep at the same T has nothing left to do; appends go on.
is($node->safe_psql('postgres', qq{SELECT count(*) FROM es.sweep(now => '$T')}), '0', 'a second sweep at the same T removes nothing');
for my $s (@streams)
{
	my $v = $node->safe_psql('postgres', qq{SELECT es.stream_version('$s')});
	$node->safe_psql('postgres', qq{INSERT INTO appended (stream, stream_offset, global_position)
		SELECT '$s', stream_offset, global_position FROM es.append_event('$s', 'After', '{}', NULL, $v)});
}
check_streams('after one more append to each stream');

$node->stop;
done_testing();
