# The client examples of examples/ — Node.js with node-postgres and Python
# with psycopg 3 — run as a user runs them (connection from PGHOST, PGPORT,
# PGDATABASE, PGUSER), each language in a database of its own; after each
# program the database is checked, not only what the program printed.
#
# (a) producer: 5 appends get offsets 0..4 and one cart_lines row each (same
#     event id, offset and item).  Run again, the same command appends
#     nothing: every event id is a duplicate.  Two producers on one stream,
#     both held by a lock on cart_lines after reading version -1: one has
#     appended and waits for the table, the other waits for the stream lock.
#     The first is terminated (its transaction lost): it reconnects and waits
#     behind the second; when the lock goes, the second commits and the first
#     gets ES001, re-reads the version and retries.  Both succeed; the stream
#     has 10 gapless offsets, 5 per writer, each with its cart_lines row.
# (b) subscriber: stopped after 4 events, its committed position is the 4th
#     event's and sku_demand holds exactly those 4; the next run reads the rest
#     and commits the last position; sku_demand equals the sums over all the
#     events; a third run finds nothing.
# (c) queue worker: of 6 messages, 5 are acked (2 after a nack) and recorded in
#     sent_emails; the poison one is in the dead-letter queue after 3
#     deliveries with its error; the queue is empty.
# (d) projection: the read model equals the per-stream counts and sums of the
#     events, the projection is running with no lag; after one more append the
#     background worker brings the read model up to date by itself.
#
# Needs node with examples/node/node_modules and /usr/bin/python3 with
# psycopg (scripts/deps.sh installs them); without them the test fails.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use JSON::PP;
use List::Util qw(sum0);
use FindBin;
use lib $FindBin::RealBin;
use EsPoll qw(poll_until);

my $examples = "$FindBin::RealBin/../../examples";
# Debian's python3-psycopg serves the system interpreter.
my %interpreter = (node => 'node', python => '/usr/bin/python3');
my %suffix = (node => 'js', python => 'py');

# --- what the programs need; missing, the test fails here
my %needs = (
	'node (apt-get install nodejs)' => ['node', '--version'],
	'python3 with psycopg 3 (apt-get install python3-psycopg)' =>
	  [ $interpreter{python}, '-c', 'import psycopg' ],
	'examples/node/node_modules (scripts/deps.sh runs npm ci there)' =>
	  [ 'node', '-e', "require('$examples/node/node_modules/pg')" ]);
my $missing = 0;
for my $what (sort keys %needs)
{
	my $ok = eval { IPC::Run::run($needs{$what}, '>', \my $out, '2>', \my $err) };
	ok($ok, "found $what") or $missing++;
}
if ($missing)
{
	diag('run scripts/deps.sh (as root it installs what is missing)');
	done_testing();
	exit;
}

my $node = PostgreSQL::Test::Cluster->new('clients');
$node->init;
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'event_streaming'
event_streaming.naptime = '100ms'});
$node->start;
for my $db (qw(node python))
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION event_streaming');
}
# One worker per language's database (it runs the projections).
$node->append_conf('postgresql.conf', "event_streaming.databases = 'node, python'");
$node->reload;

my $json = JSON::PP->new;

# Start program $prog of language $lang with @args, against database $lang.
sub start_example
{
	my ($lang, $prog, @args) = @_;
	my %run = (name => "$lang $prog @args", out => '', err => '');
	local %ENV = (%ENV, PGHOST => $node->host, PGPORT => $node->port,
		PGDATABASE => $lang, PGUSER => scalar getpwuid($>));
	$run{h} = IPC::Run::start([ $interpreter{$lang}, "$examples/$lang/$prog.$suffix{$lang}", @args ],
		'>', \$run{out}, '2>', \$run{err},
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return \%run;
}

# Wait for a started program and check that it exited 0; returns its summary,
# its last output line decoded ({} if it failed).
sub finish_example
{
	my ($run) = @_;
	my $ok = eval { $run->{h}->finish };
	$run->{h}->kill_kill unless $ok;
	ok($ok, "$run->{name} exits 0") or diag("stdout: $run->{out}\nstderr: $run->{err}");
	my ($line) = $run->{out} =~ /^(\{.*\})\s*\z/m;
	return $ok && defined $line ? $json->decode($line) : {};
}

sub run_example { return finish_example(start_example(@_)); }

for my $lang (qw(node python))
{
	my $sql = sub { return $node->safe_psql($lang, $_[0]); };
	my $offsets = sub {
		return $sql->("SELECT string_agg(stream_offset::text, ',' ORDER BY stream_offset)
		                  FROM es.events WHERE stream = '$_[0]'");
	};
	# cart_lines rows without their event (same id, stream, offset, item), or events without their row
	my $unmatched_lines = q{
		SELECT count(*) FROM cart_lines l FULL JOIN es.events e USING (event_id)
		 WHERE (l.cart, l.line, l.sku, l.qty)
		       IS DISTINCT FROM (e.stream, e.stream_offset, e.data->>'sku', (e.data->>'qty')::int)};

	# --- (a) producer
	my $r = run_example($lang, 'producer', qw(--stream cart-1 --writer solo --count 5));
	is_deeply([ @$r{qw(appended duplicates conflicts version)} ], [ 5, 0, 0, 4 ],
		"$lang producer: summary of 5 appends");
	is($offsets->('cart-1'), '0,1,2,3,4', "$lang producer: offsets 0..4");
	is($sql->($unmatched_lines), '0', "$lang producer: one cart_lines row per event, same offset and item");

	$r = run_example($lang, 'producer', qw(--stream cart-1 --writer solo --count 5));
	is_deeply([ @$r{qw(appended duplicates)} ], [ 0, 5 ], "$lang producer rerun: 5 duplicates");
	is($sql->('SELECT count(*) FROM es.events') . ',' . $sql->('SELECT count(*) FROM cart_lines'),
		'5,5', "$lang producer rerun: nothing written twice");

	# Two producers on cart-2, both past reading version -1.
	my $lock = $node->background_psql($lang);
	$lock->query_safe('BEGIN; LOCK TABLE cart_lines IN SHARE MODE');
	my @runs = map { start_example($lang, 'producer', '--stream', 'cart-2', '--writer', $_, '--count', 5) }
	  qw(a b);
	my $waits = q{SELECT string_agg(wait_event, ',' ORDER BY wait_event) FROM pg_stat_activity
	               WHERE datname = current_database() AND wait_event_type = 'Lock'};
	ok(poll_until($node, $lang, $waits, 'advisory,relation', 30),
		"$lang: one producer appended and waits for cart_lines, the other for the stream");
	is($sql->(q{SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
	             WHERE datname = current_database() AND wait_event = 'relation'}),
		't', "$lang: the producer that appended is terminated");
	ok(poll_until($node, $lang, $waits, 'advisory,relation', 30),
		"$lang: it reconnected and waits behind the other one");
	$lock->query_safe('COMMIT');
	$lock->quit;
	my @done = map { finish_example($_) } @runs;
	my $sum = sub { my $field = shift; return sum0(map { $_->{$field} // 0 } @done); };
	is($sum->('appended'), 10, "$lang: the two producers appended 10 events");
	is($sum->('reconnects'), 1, "$lang: one reconnect after the terminated transaction");
	cmp_ok($sum->('conflicts'), '>=', 1, "$lang: a wrong expected version (ES001) was retried");
	is($offsets->('cart-2'), join(',', 0 .. 9), "$lang: cart-2 has offsets 0..9");
	is($sql->(q{SELECT string_agg(w || ':' || n, ',' ORDER BY w)
	              FROM (SELECT data->>'writer' AS w, count(*) AS n FROM es.events
	                     WHERE stream = 'cart-2' GROUP BY 1) s}),
		'a:5,b:5', "$lang: 5 events of each writer");
	is($sql->($unmatched_lines), '0', "$lang: every event has its cart_lines row");

	# --- (b) subscriber
	# sku_demand rows that differ from the sums over the events up to position $_[0]
	my $unmatched_demand = sub {
		return $sql->("SELECT count(*) FROM sku_demand d FULL JOIN
		                 (SELECT data->>'sku' AS sku, sum((data->>'qty')::int) AS qty FROM es.events
		                   WHERE global_position <= $_[0] GROUP BY 1) e USING (sku)
		                WHERE d.qty IS DISTINCT FROM e.qty");
	};
	my $committed = q{SELECT position FROM es.subscriptions WHERE name = 'sku-demand'};
	my $fourth = $sql->('SELECT global_position FROM es.events ORDER BY global_position OFFSET 3 LIMIT 1');
	my $last = $sql->('SELECT max(global_position) FROM es.events');
	$r = run_example($lang, 'subscriber', qw(--max-events 4 --batch 3));
	is_deeply([ @$r{qw(events batches position)} ], [ 4, 2, $fourth ], "$lang subscriber: 4 events in 2 batches");
	is($sql->($committed), $fourth, "$lang subscriber: the 4th event's position is committed");
	is($unmatched_demand->($fourth), '0', "$lang subscriber: sku_demand holds the first 4 events");
	$r = run_example($lang, 'subscriber', qw(--batch 3));
	is_deeply([ @$r{qw(events position)} ], [ 11, $last ], "$lang subscriber: the other 11 events");
	is($sql->($committed), $last, "$lang subscriber: the last position is committed");
	is($unmatched_demand->($last), '0', "$lang subscriber: sku_demand holds every event once");
	$r = run_example($lang, 'subscriber');
	is($r->{events}, 0, "$lang subscriber: caught up");

	# --- (c) queue worker
	$r = run_example($lang, 'queue_worker', qw(--count 6 --idle 0.5));
	is_deeply([ @$r{qw(enqueued acked nacked)} ], [ 6, 5, 5 ], "$lang queue worker: 5 acked, 5 nacks");
	is($sql->(q{SELECT string_agg(recipient, ',' ORDER BY recipient) FROM sent_emails}),
		join(',', map { "user$_\@example.com" } 0 .. 4), "$lang queue worker: 5 emails sent once each");
	is($sql->(q{SELECT depth || ',' || dead_lettered FROM es.queue_stats WHERE queue = 'email-jobs'}),
		'0,1', "$lang queue worker: the queue is empty, one dead letter");
	is($sql->(q{SELECT reason || ',' || delivery_count || ',' || (payload->>'to') || ',' || last_error
	              FROM es.dead_letters WHERE queue = 'email-jobs'}),
		'max_deliveries,3,nobody,invalid recipient nobody',
		"$lang queue worker: the poison message was dead-lettered after 3 deliveries");
	is(scalar @{ $r->{dead_letters} // [] }, 1, "$lang queue worker: it reports the dead letter");

	# --- (d) projection
	my $unmatched_totals = q{
		SELECT count(*) FROM cart_totals t FULL JOIN
		       (SELECT stream AS cart, count(*) AS lines, sum((data->>'qty')::int) AS quantity,
		               max(stream_offset) AS version
		          FROM es.events GROUP BY stream) e USING (cart)
		 WHERE (t.lines, t.quantity, t.version) IS DISTINCT FROM (e.lines, e.quantity, e.version)};
	$r = run_example($lang, 'projection');
	is($sql->($unmatched_totals), '0', "$lang projection: the read model equals the events");
	is($sql->(q{SELECT status || ',' || lag FROM es.projections WHERE name = 'cart_totals'}),
		'running,0', "$lang projection: running, no lag");
	is_deeply([ map { $_->{cart} } @{ $r->{carts} // [] } ], [ 'cart-1', 'cart-2' ],
		"$lang projection: it reports both carts");
	run_example($lang, 'producer', qw(--stream cart-1 --writer solo --count 6));
	ok(poll_until($node, $lang, q{SELECT lines FROM cart_totals WHERE cart = 'cart-1'}, '6', 30),
		"$lang projection: the worker applies a later append by itself");
	is($sql->($unmatched_totals), '0', "$lang projection: the read model still equals the events");
}

$node->stop;
done_testing();
