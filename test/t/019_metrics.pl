# Monitoring (0.7.0): what test/sql/metrics.sql cannot show on the shared
# cluster.
#
# (a) The background worker's health in es.metrics: up, and its passes run.
# (b) Counters count across sessions and start again from zero when the
#     server restarts; gauges are read from the tables and survive.
# (c) With event_streaming.metrics_max_objects full, counts of new objects
#     go to metrics_dropped_total, and the view keeps working.
# (d) Wait events: a dequeue waiting for messages, the idle worker and the
#     launcher show as wait_event_type "Extension" in pg_stat_activity, with
#     the extension's own names from PostgreSQL 17 on (EventStreamingDequeue,
#     ...WorkerNap, ...LauncherNap); 15 and 16 have no named wait events for
#     extensions and show wait_event "Extension".
# (e) docs/monitoring/postgres_exporter.yaml, run by the real exporter
#     (Debian's prometheus-postgres-exporter) as a login role of the
#     monitor recipe of docs/security.md: every (kind, metric) of es.metrics
#     is exported as es_<kind>_<metric>, with es.metrics' values.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use EsPoll qw(poll_until);
use HTTP::Tiny;
use IPC::Run;

my $repo = "$FindBin::RealBin/../..";
my $node = PostgreSQL::Test::Cluster->new('metrics');
$node->init;
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'event_streaming'
event_streaming.databases = 'postgres'
event_streaming.naptime = '100ms'
event_streaming.metrics_max_objects = 16});
$node->start;

sub sq { return $node->safe_psql('postgres', $_[0]); }
sub metric
{
	my ($kind, $name, $metric) = @_;
	return sq(qq{SELECT value FROM es.metrics WHERE kind = '$kind' AND name = '$name' AND metric = '$metric'});
}

sq(q{CREATE EXTENSION event_streaming});
sq(q{SELECT es.create_queue('mq', visibility_timeout => '1 hour')});

# --- (a) the worker
ok(poll_until($node, 'postgres',
		q{SELECT string_agg(name || '=' || value, ',' ORDER BY name) FROM es.metrics
		   WHERE kind = 'worker' AND metric = 'up'},
		'migrations=1,projections=1,redelivery=1,retention=1', 20),
	'(a) a worker serves the database: up = 1 for every pass');
ok(poll_until($node, 'postgres',
		q{SELECT value > 0 FROM es.metrics WHERE kind = 'worker' AND name = 'redelivery' AND metric = 'runs_total'},
		't', 20),
	'(a) the redelivery pass has run');
is(sq(q{SELECT count(*) FROM es.metrics WHERE kind = 'worker' AND metric = 'last_run_age_seconds'
         AND name = 'redelivery' AND value >= 0 AND value < 60}), '1',
	'(a) the redelivery pass ran less than a minute ago');

# --- (b) counters across sessions, and across a restart
sq(q{SELECT es.append('mc-' || i, 'T', '{}') FROM generate_series(1, 5) i});
sq(q{SELECT es.append('mc-1', 'T', '{}')});
sq(q{SELECT es.enqueue('mq', '{}') FROM generate_series(1, 4)});
sq(q{SELECT count(*) FROM es.dequeue('mq', 'c', max_messages => 2)});
is(metric('category', 'mc', 'events_appended_total'), '6', '(b) appends of several sessions add up');
is(metric('queue', 'mq', 'enqueued_total') . ',' . metric('queue', 'mq', 'delivered_total'), '4,2',
	'(b) enqueues and deliveries of several sessions add up');
$node->restart;
is(metric('category', 'mc', 'events_appended_total'), '0', '(b) a restart starts the counters at zero');
is(metric('category', 'mc', 'streams') . ',' . metric('queue', 'mq', 'depth'), '5,4',
	'(b) gauges are read from the tables: they survive the restart');
sq(q{SELECT es.append('mc-1', 'T', '{}')});
is(metric('category', 'mc', 'events_appended_total'), '1', '(b) and counting goes on after it');

# --- (c) more objects than metrics_max_objects (16, server-wide)
is(metric('database', 'postgres', 'metrics_dropped_total'), '0', '(c) nothing dropped yet');
sq(q{SELECT es.append('full' || i || '-1', 'T', '{}') FROM generate_series(1, 20) i});
my $counted = sq(q{SELECT count(*) FROM es.metric_counters() WHERE metric = 'events_appended_total'});
cmp_ok($counted, '<=', 16, "(c) at most 16 objects have counters ($counted categories)");
is(sq(q{SELECT (SELECT value FROM es.metrics WHERE kind = 'database' AND metric = 'metrics_dropped_total')
             + (SELECT sum(value) FROM es.metrics WHERE kind = 'category' AND name LIKE 'full%'
                  AND metric = 'events_appended_total')}),
	'20', '(c) the 20 appends are in the counters or in metrics_dropped_total, none lost');
cmp_ok(metric('database', 'postgres', 'metrics_dropped_total'), '>', 0, '(c) some were dropped');
is(sq(q{SELECT count(DISTINCT name) FROM es.metrics WHERE kind = 'category' AND name LIKE 'full%'}), '20',
	'(c) every category still has its rows (a counter without room reads 0)');

# --- (d) wait events
# What pg_stat_activity shows for a wait named NAME on this server.
sub wait_event
{
	my ($name) = @_;
	return 'Extension/' . ($node->pg_version >= 17 ? "EventStreaming$name" : 'Extension');
}
sq(q{SELECT es.create_queue('mq-wait')});
my ($out, $err) = ('', '');
my $waiter = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $node->connstr('postgres'),
	  '-c', q{SELECT count(*) FROM es.dequeue('mq-wait', 'waiter', wait => '60 seconds')} ],
	'>', \$out, '2>', \$err);
ok(poll_until($node, 'postgres',
		q{SELECT wait_event_type || '/' || wait_event FROM pg_stat_activity
		   WHERE query LIKE '%es.dequeue(''mq-wait''%' AND pid <> pg_backend_pid() AND state = 'active'},
		wait_event('Dequeue'), 20),
	'(d) a waiting dequeue shows wait event ' . wait_event('Dequeue'))
  or diag("waiter: $err");
sq(q{SELECT es.enqueue('mq-wait', '{}')});
$waiter->finish;
is($out, "1\n", '(d) the enqueue woke it with the message');
ok(poll_until($node, 'postgres',
		q{SELECT wait_event_type || '/' || wait_event FROM pg_stat_activity
		   WHERE backend_type = 'event_streaming worker'},
		wait_event('WorkerNap'), 20),
	'(d) the idle worker shows wait event ' . wait_event('WorkerNap'));
ok(poll_until($node, 'postgres',
		q{SELECT wait_event_type || '/' || wait_event FROM pg_stat_activity
		   WHERE backend_type = 'event_streaming launcher'},
		wait_event('LauncherNap'), 20),
	'(d) the launcher shows wait event ' . wait_event('LauncherNap'));

# --- (e) the postgres_exporter query file, through the real exporter
# Installed, or unpacked from the package by scripts/deps.sh.
my ($exporter) = grep { -x } '/usr/bin/prometheus-postgres-exporter',
  "$repo/tmp_check/tools/usr/bin/prometheus-postgres-exporter";
ok(defined $exporter, 'prometheus-postgres-exporter is there (scripts/deps.sh fetches it)')
  or BAIL_OUT('no exporter: run scripts/deps.sh');
my $security = slurp_file("$repo/docs/security.md");
my ($recipes) = $security =~ /^## Grant recipes\n(.*?)(?=^## |\z)/ms;
my @blocks = $recipes =~ /^```sql\n(.*?)^```/msg;
sq($_) for @blocks;
sq(q{CREATE ROLE exporter LOGIN IN ROLE es_monitor});
# Something in every kind: a subscription, a projection, a dead letter.
sq(q{SELECT es.create_subscription('msub', 'mc')});
sq(q{CREATE TABLE mproj_seen (n int)});
sq(q{CREATE FUNCTION mproj_apply(e es.event) RETURNS void LANGUAGE sql AS $$ INSERT INTO mproj_seen VALUES (1) $$});
sq(q{SELECT es.create_projection('mproj', 'mc-1', 'mproj_apply(es.event)')});
sq(q{SELECT es.nack('mq', message_id, receipt, requeue => false) FROM es.dequeue('mq', 'c')});
ok(poll_until($node, 'postgres', q{SELECT count(*) FROM mproj_seen}, '3', 20), 'the projection ran over mc-1\'s 3 events');

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $log = "$PostgreSQL::Test::Utils::tmp_check/exporter.log";
my $exp = IPC::Run::start(
	[ $exporter, "--extend.query-path=$repo/docs/monitoring/postgres_exporter.yaml",
	  '--disable-default-metrics', '--disable-settings-metrics',
	  "--web.listen-address=127.0.0.1:$port" ],
	'>', $log, '2>&1',
	init => sub {
		$ENV{DATA_SOURCE_NAME} = sprintf('host=%s port=%d user=exporter dbname=postgres sslmode=disable',
			$node->host, $node->port);
	});
my %series;
my $deadline = time + 30;
while (time < $deadline)
{
	my $res = HTTP::Tiny->new(timeout => 5)->get("http://127.0.0.1:$port/metrics");
	if ($res->{success} && $res->{content} =~ /^es_queue_depth\{/m)
	{
		for my $line (split /\n/, $res->{content})
		{
			next unless $line =~ /^(es_\w+)\{([^}]*)\} (\S+)$/;
			my ($name, $labels, $value) = ($1, $2, $3);
			my %l = $labels =~ /(\w+)="([^"]*)"/g;
			my $object = join '/', grep { defined } map { $l{$_} }
			  qw(database category queue subscription member projection pass);
			$series{"$name $object"} = $value;
		}
		last;
	}
	sleep 1;
}
$exp->kill_kill;
ok(%series, 'the exporter served es_* series') or diag(slurp_file($log));

# Every row of es.metrics, read now, against the series (ages and the
# worker's counters move between the two reads; their presence is checked).
my @rows = split /\n/, sq(q{SELECT kind, name || COALESCE('/' || member, ''), metric, value FROM es.metrics ORDER BY 1, 2, 3});
my ($missing, $differ) = (0, 0);
for my $row (@rows)
{
	my ($kind, $object, $metric, $value) = split /\|/, $row;
	my $key = "es_${kind}_$metric $object";
	if (!exists $series{$key})
	{
		$missing++;
		diag("not exported: $key");
		next;
	}
	next if $metric =~ /age_seconds$/ || $kind eq 'worker';
	if ($series{$key} != $value)
	{
		$differ++;
		diag("$key: exported $series{$key}, es.metrics $value");
	}
}
cmp_ok(scalar(@rows), '>', 40, scalar(@rows) . ' rows of es.metrics');
is($missing, 0, '(e) every row of es.metrics is exported as es_<kind>_<metric>');
is($differ, 0, '(e) with the value es.metrics has');
is($series{'es_queue_dead_letters mq'}, 1, '(e) es_queue_dead_letters{queue="mq"} is 1');
is($series{'es_projection_events_applied_total mproj'}, 3, '(e) es_projection_events_applied_total{projection="mproj"} is 3');
is(scalar(grep { !/^es_(database|category|queue|subscription|projection|worker)_/ } keys %series), 0,
	'(e) no other es_ series');

# The monitor sees metrics, not events or messages.
my ($ret, $o, $e) = $node->psql('postgres', 'SELECT count(*) FROM es.events', extra_params => [ '-U', 'exporter' ]);
like($e, qr/permission denied/, 'the exporter role cannot read events');
($ret, $o, $e) = $node->psql('postgres', q{SELECT count(*) FROM es.peek('mq')}, extra_params => [ '-U', 'exporter' ]);
like($e, qr/permission denied/, 'nor peek at messages');

$node->stop;
done_testing();
