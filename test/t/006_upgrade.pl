# ALTER EXTENSION event_streaming UPDATE from 0.1.0 to 0.2.0 keeps every
# event and stream, appends continue where they left off, queues work, and
# the upgraded database ends with exactly the catalog objects a fresh install
# has.  The catalog comparison is shown to detect differences.
#
# Then 0.2.0 to 0.3.0 (ALTER EXTENSION UPDATE TO '0.3.0'): the database
# upgraded from 0.1.0 goes on to 0.3.0, a second database starts at 0.2.0
# with events, queues (waiting, delayed, in-flight and grouped messages) and
# dead letters, and a third goes from 0.1.0 to 0.3.0 in one ALTER EXTENSION.
# Every event, stream, queue, message (leases and receipts included) and dead
# letter is read back identical; the new settings start unset
# (es.configuration shows the queues' own visibility timeout and max
# deliveries, nothing else) and no stream is truncated; appends continue, a
# receipt handed out under 0.2.0 still acks, dead letters redrive, and
# es.configure and es.sweep work on the upgraded data, with stream versions
# surviving the truncation.  Each of the three ends with exactly the catalog
# objects of a fresh 0.3.0 install, also after using the new functions.  (The
# loaded library is the newest one, so es.worker_status lists all its passes
# whatever the extension's version.)
#
# Then to 0.4.0, each in one ALTER EXTENSION UPDATE TO '0.4.0' (the later
# versions are 012_upgrade_matrix.pl's):
# the three 0.3.0 databases above, a fourth starting at 0.3.0 with events,
# a stream trimmed by retention, stream, category and queue settings, queues
# (waiting, delayed, in-flight and grouped messages) and a dead letter, a
# fifth going from 0.2.0 and a sixth from 0.1.0 straight to 0.4.0.  Every
# event, stream, setting, queue, message and dead letter reads back
# identical, with the sequences where they were, and no subscription or
# projection exists.  Each ends with exactly the catalog objects of a fresh
# 0.4.0 install, before and after using the new features.  On the old data:
# es.read_all returns the old events in position order, in one read or page
# by page from the last position received, and by category;
# events_category_idx, built by the upgrade, is valid, used and holds every
# old event of a category; a subscription created after the upgrade reads
# every old event (a category one split between two members), commits and
# then lags by nothing; a projection created after the upgrade, with a
# PL/pgSQL handler, applies every old event once, in position order;
# appends to old streams continue, reach both and notify listeners; a
# receipt from 0.3.0 or 0.2.0 acks, a dead letter redrives, retention set
# under 0.3.0 still applies; and after a restart es.read_all still returns
# everything.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::RealBin;
use EsCatalog qw(line_diff same_catalog);

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'event_streaming'");
$node->start;

# The catalog comparison (the query, line_diff, same_catalog) is in
# test/t/EsCatalog.pm, shared with test/t/012_upgrade_matrix.pl.
sub catalog { return EsCatalog::catalog($node, $_[0]); }

# --- 0.1.0, with events written through its API
$node->safe_psql('postgres', 'CREATE DATABASE upgraded');
$node->safe_psql('upgraded', q{CREATE EXTENSION event_streaming VERSION '0.1.0'});
is($node->safe_psql('upgraded', q{SELECT extversion FROM pg_extension WHERE extname = 'event_streaming'}), '0.1.0', 'installed 0.1.0');
$node->safe_psql('upgraded', q{
SELECT es.append('order-1', 'OrderPlaced', '{"total": 42}', '{"correlation_id": "req-1", "causation_id": "cmd-1"}', -1,
                 'a0000000-0000-4000-8000-000000000001');
SELECT es.append('order-1', 'OrderPaid', '{"amount": 42}', NULL, 0);
SELECT * FROM es.append_event('order-2', 'OrderPlaced', '[1, 2, 3]', '{"user": "ann"}', NULL,
                              'a0000000-0000-4000-8000-000000000002');
SELECT es.append_batch('cart-9', '[
  {"type": "CartCreated", "data": {"by": "ann"}},
  {"type": "ItemAdded", "data": {"sku": "A"}, "metadata": {"correlation_id": "c-1"}, "id": "b0000000-0000-4000-8000-000000000001"},
  {"type": "ItemAdded", "data": {"sku": "B"}, "metadata": null, "id": "b0000000-0000-4000-8000-000000000002"}
]', -1);
SELECT es.append('order-1', 'OrderShipped', '"by post"', '{"causation_id": "cmd-2"}', 1);
SELECT es.append('job-1', 'Started', 'null');
});
my %reads = (
	events  => q{SELECT * FROM es.events ORDER BY global_position},
	streams => q{SELECT * FROM es.streams ORDER BY stream},
	catalog => q{SELECT * FROM es.stream_catalog ORDER BY stream},
	read    => q{SELECT s, r.* FROM unnest(ARRAY['order-1', 'order-2', 'cart-9', 'job-1']) s, es.read_stream(s) r ORDER BY s, r.stream_offset},
	backward => q{SELECT * FROM es.read_stream_backward('order-1', NULL, 2)},
	versions => q{SELECT s, es.stream_version(s) FROM unnest(ARRAY['order-1', 'order-2', 'cart-9', 'job-1', 'none-1']) s ORDER BY s},
);
my %before = map { $_ => $node->safe_psql('upgraded', $reads{$_}) } keys %reads;
is(scalar(my @ev = split /\n/, $before{events}), 8, '8 events written through 0.1.0');
my $max_pos = $node->safe_psql('upgraded', q{SELECT max(global_position) FROM es.events});

# --- the upgrade
$node->safe_psql('upgraded', q{ALTER EXTENSION event_streaming UPDATE TO '0.2.0'});
is($node->safe_psql('upgraded', q{SELECT extversion FROM pg_extension WHERE extname = 'event_streaming'}), '0.2.0',
	'ALTER EXTENSION UPDATE TO 0.2.0 brings 0.2.0');
for my $r (sort keys %reads)
{
	is($node->safe_psql('upgraded', $reads{$r}), $before{$r}, "$r read back identical after the upgrade");
}

# --- a fresh 0.2.0 install has the same catalog objects
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', q{CREATE EXTENSION event_streaming VERSION '0.2.0'});
is($node->safe_psql('fresh', q{SELECT extversion FROM pg_extension WHERE extname = 'event_streaming'}), '0.2.0',
	'a fresh install is 0.2.0');
my $fresh = catalog('fresh');
my $upgraded = catalog('upgraded');
note 'catalog lines compared: ' . scalar(my @fl = split /\n/, $fresh);
for my $section (qw(member column constraint index view function functiondef type sequence extconfig relation schema))
{
	like($fresh, qr/^$section /m, "the catalog comparison has a $section section");
}
like($fresh, qr/^function es\.dequeue\(/m, 'the comparison sees the 0.2.0 functions');
like($fresh, qr/^extconfig es\.messages: /m, 'and the 0.2.0 tables registered for dump');
same_catalog($upgraded, $fresh, 'the upgraded database has exactly the objects of a fresh install');

# --- the comparison can fail: each change to a scratch copy is detected
$node->safe_psql('postgres', 'CREATE DATABASE scratch');
$node->safe_psql('scratch', q{CREATE EXTENSION event_streaming VERSION '0.2.0'});
same_catalog(catalog('scratch'), $fresh, 'a second fresh install compares equal');
for my $change (
	[ q{ALTER FUNCTION es.category(text) IMMUTABLE STRICT COST 7}, q{ALTER FUNCTION es.category(text) COST 100},
	  qr/es\.category\(text\)/, 'a function cost' ],
	[ q{CREATE INDEX extra_idx ON es.events (stream)}, q{DROP INDEX es.extra_idx}, qr/extra_idx/, 'an extra index' ],
	[ q{ALTER TABLE es.messages ALTER COLUMN delivery_count SET DEFAULT 1}, q{ALTER TABLE es.messages ALTER COLUMN delivery_count SET DEFAULT 0},
	  qr/delivery_count integer NOT NULL DEFAULT 1/, 'a column default' ],
	[ q{GRANT USAGE ON SCHEMA es TO PUBLIC}, q{REVOKE USAGE ON SCHEMA es FROM PUBLIC}, qr/^[-+] schema es: /m, 'a schema grant' ],
	[ q{GRANT EXECUTE ON FUNCTION es.ack(text, bigint, uuid) TO PUBLIC}, q{REVOKE EXECUTE ON FUNCTION es.ack(text, bigint, uuid) FROM PUBLIC},
	  qr/es\.ack\(text,bigint,uuid\)/, 'a function grant' ],
	[ q{ALTER TABLE es.messages SET (fillfactor = 90)}, q{ALTER TABLE es.messages SET (fillfactor = 70)}, qr/relation messages: /,
	  'a reloption' ])
{
	my ($do, $undo, $where, $what) = @$change;
	$node->safe_psql('scratch', $do);
	my $changed = catalog('scratch');
	isnt($changed, $fresh, "the comparison detects $what");
	like(line_diff($changed, $fresh), $where, "and its diff names it ($what)");
	$node->safe_psql('scratch', $undo);
	same_catalog(catalog('scratch'), $fresh, "equal again after undoing $what");
}
$node->safe_psql('postgres', 'DROP DATABASE scratch');

# --- after the upgrade: appends continue, retries stay idempotent, queues work
my $res = $node->safe_psql('upgraded', q{SELECT stream_offset || ',' || global_position || ',' || duplicate
	FROM es.append_event('order-1', 'OrderDelivered', '{}', NULL, 2)});
my ($offset, $pos, $dup) = split /,/, $res;
is($offset, '3', 'an append after the upgrade continues the stream offsets');
cmp_ok($pos, '>', $max_pos, 'and takes a fresh global position');
is($dup, 'false', 'and is not a duplicate');
is($node->safe_psql('upgraded', q{SELECT stream_offset || ',' || duplicate
	FROM es.append_event('order-1', 'OrderPlaced', '{"total": 42}', NULL, NULL, 'a0000000-0000-4000-8000-000000000001')}),
	'0,true', 'retrying an event appended under 0.1.0 returns the original offset as a duplicate');
is($node->safe_psql('upgraded', q{SELECT es.append_batch('cart-9', '[{"type": "ItemAdded", "data": {"sku": "C"}}]', 2)}),
	'3', 'a batch after the upgrade continues its stream');
is($node->safe_psql('upgraded', q{SELECT count(*) FROM es.events}), '10', '8 old + 2 new events');

is($node->safe_psql('upgraded', q{SELECT es.create_queue('jobs', visibility_timeout => '10 seconds', max_deliveries => 2)}),
	't', 'create_queue works after the upgrade');
my $id = $node->safe_psql('upgraded', q{SELECT es.enqueue('jobs', '{"task": 1}', '{"h": 1}')});
like($id, qr/^\d+$/, 'enqueue returns a message id');
my ($mid, $receipt, $payload, $headers, $dc) = split /\|/,
  $node->safe_psql('upgraded', q{SELECT message_id, receipt, payload, headers, delivery_count FROM es.dequeue('jobs', 'w')});
is($mid, $id, 'dequeue returns the message');
is($payload, '{"task": 1}', 'with its payload');
is($headers, '{"h": 1}', 'and headers');
is($dc, '1', 'as its first delivery');
is($node->safe_psql('upgraded', qq{SELECT es.ack('jobs', $mid, '$receipt')}), 't', 'ack works');
is($node->safe_psql('upgraded', q{SELECT depth FROM es.queue_stats WHERE queue = 'jobs'}), '0', 'the queue is empty after the ack');

# A name is one kind for good, for streams written before the upgrade too.
my ($ret, $out, $err) = $node->psql('upgraded', q{SELECT es.create_queue('order-1')});
isnt($ret, 0, 'a stream written under 0.1.0 cannot become a queue');
note "create_queue('order-1'): $err";
($ret, $out, $err) = $node->psql('upgraded', q{SELECT es.append('jobs', 'T', '{}')}, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  42809:/, 'appending to a queue is refused with 42809');

# The upgraded database still matches a fresh install once it has queue data.
same_catalog(catalog('upgraded'), $fresh, 'still the same catalog after using 0.2.0');

#
# ---------------------------------------------------------------- 0.3.0
#

sub extversion
{
	return $node->safe_psql($_[0], q{SELECT extversion FROM pg_extension WHERE extname = 'event_streaming'});
}

# --- a database that starts at 0.2.0, with events, queues and dead letters
$node->safe_psql('postgres', 'CREATE DATABASE from020');
$node->safe_psql('from020', q{CREATE EXTENSION event_streaming VERSION '0.2.0'});
is(extversion('from020'), '0.2.0', 'installed 0.2.0 in a second database');
$node->safe_psql('from020', q{
SELECT es.append_batch('acct-1', (SELECT jsonb_agg(jsonb_build_object('type', 'Deposited', 'data', jsonb_build_object('n', i),
                                                                      'metadata', jsonb_build_object('correlation_id', 'c-' || i)))
                                    FROM generate_series(0, 9) i), -1);
SELECT es.append('acct-1', 'Withdrawn', '{"n": 10}', NULL, 9, 'c0000000-0000-4000-8000-000000000001');
SELECT es.append('acct-2', 'Opened', '{}');
SELECT es.append('acct-2', 'Closed', '{}', '{"causation_id": "cmd-9"}', 0);
-- work: plain, delayed and grouped messages; one in flight
SELECT es.create_queue('work', visibility_timeout => '10 minutes', max_deliveries => 3);
SELECT es.enqueue('work', '{"job": 1}', '{"h": "a"}');
SELECT es.enqueue('work', '{"job": 2}');
SELECT es.enqueue('work', '{"job": 3}', delay => '1 hour');
SELECT es.enqueue('work', '{"job": 4}', group_key => 'g1');
SELECT es.enqueue('work', '{"job": 5}', group_key => 'g1');
-- mail: dead letters, rejected and out of deliveries
SELECT es.create_queue('mail', visibility_timeout => '1 second', max_deliveries => 1);
SELECT es.enqueue_batch('mail', ARRAY['{"m": 1}', '{"m": 2}', '{"m": 3}']::jsonb[], '{"batch": true}');
});
# In flight across the upgrade: the oldest 'work' message, leased for 10 minutes.
my ($w_id, $w_receipt) = split /\|/, $node->safe_psql('from020', q{SELECT message_id, receipt FROM es.dequeue('work', 'w1')});
like($w_receipt, qr/^[0-9a-f-]{36}$/, 'a work message is in flight under 0.2.0');
# mail: one rejected, one out of deliveries (its 1 s lease expires), one waiting.
my ($m_id, $m_receipt) = split /\|/, $node->safe_psql('from020', q{SELECT message_id, receipt FROM es.dequeue('mail', 'm1')});
is($node->safe_psql('from020', qq{SELECT es.nack('mail', $m_id, '$m_receipt', requeue => false, error => 'bad address')}), 't',
	'a mail message is rejected under 0.2.0');
$node->safe_psql('from020', q{SELECT message_id FROM es.dequeue('mail', 'm1')});
usleep(1_200_000);
# The next dequeue dead-letters the expired one and takes the last.
my ($m3_id, $m3_receipt) = split /\|/, $node->safe_psql('from020', q{SELECT message_id, receipt FROM es.dequeue('mail', 'm2', visibility_timeout => '10 minutes')});
like($m3_id, qr/^\d+$/, 'the last mail message is in flight');
is($node->safe_psql('from020', q{SELECT string_agg(reason, ',' ORDER BY message_id) FROM es.dead_letters WHERE queue = 'mail'}),
	'rejected,max_deliveries', 'two dead letters under 0.2.0: rejected and out of deliveries');
is($node->safe_psql('from020', q{SELECT string_agg(concat_ws(':', queue, depth, visible, in_flight, delayed, dead_lettered), ',' ORDER BY queue) FROM es.queue_stats}),
	'mail:1:0:1:0:2,work:5:3:1:1:0', 'queue stats before the upgrade');

# What must read back the same after the upgrade (es.queue_stats without its
# clock-dependent age; es.stream_catalog without the new column).
my %reads020 = (
	events       => q{SELECT * FROM es.events ORDER BY global_position},
	streams      => q{SELECT * FROM es.streams ORDER BY stream},
	catalog      => q{SELECT stream, kind, created_at FROM es.stream_catalog ORDER BY stream},
	read         => q{SELECT s, r.* FROM unnest(ARRAY['acct-1', 'acct-2']) s, es.read_stream(s) r ORDER BY s, r.stream_offset},
	versions     => q{SELECT s, es.stream_version(s) FROM unnest(ARRAY['acct-1', 'acct-2', 'none-1']) s ORDER BY s},
	queues       => q{SELECT queue_id, queue, visibility_timeout, max_deliveries, created_at FROM es.queues ORDER BY queue_id},
	messages     => q{SELECT * FROM es.messages ORDER BY message_id},
	dead         => q{SELECT * FROM es.dead_letter_messages ORDER BY queue_id, message_id},
	dead_letters => q{SELECT * FROM es.dead_letters ORDER BY queue, message_id},
	queue_stats  => q{SELECT queue, depth, visible, in_flight, delayed, dead_lettered, visibility_timeout, max_deliveries FROM es.queue_stats ORDER BY queue},
	sequences    => q{SELECT (SELECT last_value FROM es.global_position_seq), (SELECT last_value FROM es.queue_id_seq), (SELECT last_value FROM es.message_id_seq)},
);
my %before020 = map { $_ => $node->safe_psql('from020', $reads020{$_}) } keys %reads020;
my %before_upgraded = map { $_ => $node->safe_psql('upgraded', $reads020{$_}) } qw(events streams catalog queues messages dead sequences);

# --- the upgrades to 0.3.0
$node->safe_psql('from020', q{ALTER EXTENSION event_streaming UPDATE TO '0.3.0'});
is(extversion('from020'), '0.3.0', 'ALTER EXTENSION UPDATE TO 0.3.0 brings 0.2.0 to 0.3.0');
$node->safe_psql('upgraded', q{ALTER EXTENSION event_streaming UPDATE TO '0.3.0'});
is(extversion('upgraded'), '0.3.0', 'and the database upgraded from 0.1.0 too');
for my $r (sort keys %reads020)
{
	is($node->safe_psql('from020', $reads020{$r}), $before020{$r}, "0.2.0 -> 0.3.0: $r read back identical");
}
for my $r (sort keys %before_upgraded)
{
	is($node->safe_psql('upgraded', $reads020{$r}), $before_upgraded{$r}, "0.1.0 -> 0.2.0 -> 0.3.0: $r read back identical");
}
for my $db ('from020', 'upgraded')
{
	is($node->safe_psql($db, q{SELECT count(*) FILTER (WHERE truncated_before <> 0) || '/' || count(*) FROM es.stream_catalog}),
		'0/' . $node->safe_psql($db, q{SELECT count(*) FROM es.stream_catalog}), "$db: no stream is truncated after the upgrade");
	is($node->safe_psql($db, q{SELECT count(*) FROM es.stream_settings}), '0', "$db: no stream or category settings");
	is($node->safe_psql($db, q{SELECT count(*) FROM es.queues WHERE num_nonnulls(max_age, max_count, dead_letter_max_age,
	                                   dead_letter_max_count, retry_delay, retry_delay_max) > 0}), '0',
		"$db: the new queue settings are unset");
	# The view reports every pass of the loaded library (0.4.0, with its
	# projections pass) whatever the version of the extension's objects.
	is($node->safe_psql($db, q{SELECT string_agg(pass || ':' || coalesce(runs::text, '-'), ',' ORDER BY pass) FROM es.worker_status}),
		'migrations:-,projections:-,redelivery:-,retention:-', "$db: es.worker_status shows the library's passes, not served");
}
is($node->safe_psql('from020', q{SELECT string_agg(concat_ws(':', scope, name, max_age, max_count, visibility_timeout, max_deliveries,
                                                         retry_delay, retry_delay_max, dead_letter_max_age, dead_letter_max_count), ',' ORDER BY name)
                                  FROM es.configuration}),
	'queue:mail:00:00:01:1,queue:work:00:10:00:3', 'es.configuration: each queue with its own timeout and deliveries, nothing else set');

# --- 0.3.0 on the upgraded data
# Appends continue; a retry under 0.3.0 of an event appended under 0.2.0 is a duplicate.
is($node->safe_psql('from020', q{SELECT es.append('acct-1', 'Deposited', '{"n": 11}', NULL, 10)}), '11',
	'an append after the upgrade continues the stream');
is($node->safe_psql('from020', q{SELECT stream_offset || ',' || duplicate FROM es.append_event('acct-1', 'Withdrawn', '{"n": 10}', NULL, NULL,
                                                                              'c0000000-0000-4000-8000-000000000001')}),
	'10,true', 'retrying an event appended under 0.2.0 returns its offset as a duplicate');
# The lease and receipt handed out under 0.2.0 still hold.
is($node->safe_psql('from020', q{SELECT count(*) FROM es.dequeue('work', 'w2', max_messages => 10)}), '2',
	'dequeue skips the leased, the delayed and the group follower: 2 messages');
is($node->safe_psql('from020', qq{SELECT es.ack('work', $w_id, '$w_receipt')}), 't', 'a receipt from 0.2.0 acks after the upgrade');
is($node->safe_psql('from020', qq{SELECT es.ack('mail', $m3_id, '$m3_receipt')}), 't', 'so does the other one');
is($node->safe_psql('from020', q{SELECT es.redrive('mail')}), '2', 'the dead letters from 0.2.0 redrive');
my @redriven = map { [ split /\|/ ] } split /\n/,
  $node->safe_psql('from020', q{SELECT message_id, receipt, payload FROM es.dequeue('mail', 'm3', max_messages => 10) ORDER BY payload::text});
is(join(',', map { $_->[2] } @redriven), '{"m": 1},{"m": 2}', 'and are delivered again');
# es.configure and es.sweep on the upgraded data.
$node->safe_psql('from020', q{
SELECT es.configure('acct-1', max_count => 3);
SELECT es.configure_category('acct', max_age => '1 day');
SELECT es.configure('mail', dead_letter_max_count => 1, retry_delay => '1 second', retry_delay_max => '4 seconds');
});
is($node->safe_psql('from020', q{SELECT string_agg(concat_ws(':', scope, name, max_age, max_count, visibility_timeout, max_deliveries,
                                                         retry_delay, retry_delay_max, dead_letter_max_age, dead_letter_max_count), ',' ORDER BY scope, name)
                                  FROM es.configuration}),
	'category:acct:1 day,queue:mail:00:00:01:1:00:00:01:00:00:04:1,queue:work:00:10:00:3,stream:acct-1:3',
	'es.configuration shows the new settings');
# The redriven 'mail' messages go back to the dead-letter queue.
for my $m (@redriven)
{
	is($node->safe_psql('from020', qq{SELECT es.nack('mail', $m->[0], '$m->[1]', requeue => false)}), 't', "nack $m->[2] to the dead letters");
}
is($node->safe_psql('from020', q{SELECT string_agg(pass || ':' || name || ':' || affected, ',' ORDER BY pass, name) FROM es.sweep()}),
	'dead_letter_retention:mail:1,stream_retention:acct-1:9',
	'es.sweep trims the upgraded stream to its max_count and the dead letters to theirs');
is($node->safe_psql('from020', q{SELECT string_agg(stream_offset::text, ',' ORDER BY stream_offset) || ';' || es.stream_version('acct-1')
                                 FROM es.events WHERE stream = 'acct-1'}),
	'9,10,11;11', 'acct-1 keeps its newest 3 events, version 11');
is($node->safe_psql('from020', q{SELECT string_agg(pass || ':' || name || ':' || affected, ',' ORDER BY pass, name)
                                   FROM es.sweep(now => pg_catalog.now() + interval '2 days')}),
	'stream_retention:acct-1:3,stream_retention:acct-2:2',
	'two days later, the category max_age empties both streams');
is($node->safe_psql('from020', q{SELECT string_agg(stream || ':' || version || ':' || event_count, ',' ORDER BY stream) FROM es.streams WHERE kind = 'persistent'}),
	'acct-1:11:0,acct-2:1:0', 'the stream versions survive the truncation');
is($node->safe_psql('from020', q{SELECT es.stream_version('acct-1') || ',' || es.stream_version('acct-2')}), '11,1',
	'es.stream_version too');
is($node->safe_psql('from020', q{SELECT es.append('acct-1', 'Deposited', '{}', NULL, 11)}), '12',
	'an append after the truncation continues the numbering');
is($node->safe_psql('from020', q{SELECT count(*) FROM es.dead_letters WHERE queue = 'mail'}), '1', 'one dead letter kept');
$node->safe_psql('from020', q{
SELECT es.reset_configuration('mail');
SELECT es.reset_configuration('acct-1');
SELECT es.reset_category_configuration('acct');
});
is($node->safe_psql('from020', q{SELECT string_agg(concat_ws(':', scope, name, max_age, max_count, visibility_timeout, max_deliveries,
                                                         retry_delay, retry_delay_max, dead_letter_max_age, dead_letter_max_count), ',' ORDER BY scope, name)
                                  FROM es.configuration}),
	'queue:mail:00:00:30:5,queue:work:00:10:00:3', 'resets bring the defaults back (a queue: 30 seconds, 5 deliveries)');

# The chain from 0.1.0 works too.
is($node->safe_psql('upgraded', q{SELECT es.append('order-1', 'OrderClosed', '{}', NULL, 3)}), '4',
	'0.1.0 -> 0.3.0: appends continue');
$node->safe_psql('upgraded', q{SELECT es.configure('order-1', max_count => 2)});
is($node->safe_psql('upgraded', q{SELECT string_agg(pass || ':' || name || ':' || affected, ',') FROM es.sweep()}),
	'stream_retention:order-1:3', '0.1.0 -> 0.3.0: es.sweep trims a stream written under 0.1.0');
is($node->safe_psql('upgraded', q{SELECT string_agg(stream_offset::text, ',' ORDER BY stream_offset) || ';' || es.stream_version('order-1')
                                  FROM es.events WHERE stream = 'order-1'}),
	'3,4;4', '0.1.0 -> 0.3.0: the newest 2 events are left, version 4');

# --- 0.1.0 straight to 0.3.0 in one ALTER EXTENSION
$node->safe_psql('postgres', 'CREATE DATABASE direct');
$node->safe_psql('direct', q{CREATE EXTENSION event_streaming VERSION '0.1.0'});
$node->safe_psql('direct', q{SELECT es.append('s-1', 'T', '{}'); SELECT es.append('s-1', 'T', '{}', NULL, 0);});
$node->safe_psql('direct', q{ALTER EXTENSION event_streaming UPDATE TO '0.3.0'});
is(extversion('direct'), '0.3.0', 'one ALTER EXTENSION UPDATE TO 0.3.0 brings 0.1.0 to 0.3.0');
is($node->safe_psql('direct', q{SELECT es.append('s-1', 'T', '{}', NULL, 1)}), '2', 'and appends continue');

# --- each has exactly the catalog of a fresh 0.3.0 install
$node->safe_psql('postgres', 'CREATE DATABASE fresh3');
$node->safe_psql('fresh3', q{CREATE EXTENSION event_streaming VERSION '0.3.0'});
is(extversion('fresh3'), '0.3.0', 'a fresh install is 0.3.0');
my $fresh3 = catalog('fresh3');
note 'catalog lines compared: ' . scalar(my @fl3 = split /\n/, $fresh3);
like($fresh3, qr/^function es\.sweep\(timestamp with time zone,bigint\): /m, 'the comparison sees the 0.3.0 functions');
like($fresh3, qr/^extconfig es\.stream_settings: /m, 'the 0.3.0 table registered for dump');
like($fresh3, qr/^column stream_catalog\.004: truncated_before bigint NOT NULL DEFAULT 0/m, 'the new column');
like($fresh3, qr/^view streams: /m, 'and the views');
isnt($fresh3, $fresh, 'the 0.3.0 catalog differs from the 0.2.0 one');
same_catalog(catalog('from020'), $fresh3, '0.2.0 -> 0.3.0 has exactly the objects of a fresh 0.3.0 install');
same_catalog(catalog('upgraded'), $fresh3, '0.1.0 -> 0.2.0 -> 0.3.0 has exactly the objects of a fresh 0.3.0 install');
same_catalog(catalog('direct'), $fresh3, '0.1.0 -> 0.3.0 has exactly the objects of a fresh 0.3.0 install');
# Settings and sweeps in a fresh install, to compare after use.
$node->safe_psql('fresh3', q{SELECT es.append('x-1', 'T', '{}'); SELECT es.configure('x-1', max_count => 1); SELECT count(*) FROM es.sweep();});
same_catalog(catalog('fresh3'), $fresh3, 'a fresh 0.3.0 install still compares equal after use');
same_catalog(catalog('from020'), $fresh3, 'and so does the database upgraded from 0.2.0, after use');


#
# ---------------------------------------------------------------- 0.4.0
#

# --- a database that starts at 0.3.0, with events, a trimmed stream,
# settings, queues (waiting, delayed, in-flight and grouped messages) and a
# dead letter
$node->safe_psql('postgres', 'CREATE DATABASE from030');
$node->safe_psql('from030', q{CREATE EXTENSION event_streaming VERSION '0.3.0'});
is(extversion('from030'), '0.3.0', 'installed 0.3.0 in a fourth database');
$node->safe_psql('from030', q{
SELECT es.append('order-1', 'OrderPlaced', '{"total": 5}', '{"correlation_id": "r-1"}', -1,
                 'd0000000-0000-4000-8000-000000000001');
SELECT es.append('user-1', 'Joined', '{}');
SELECT es.append_batch('order-2', '[{"type": "OrderPlaced", "data": {"total": 7}},
                                    {"type": "OrderPaid", "data": {}, "metadata": {"causation_id": "c-9"}}]', -1);
SELECT es.append('order-1', 'OrderPaid', '{}', NULL, 0);
SELECT es.append('log-1', 'Line', jsonb_build_object('n', i)) FROM generate_series(1, 5) i;
SELECT es.append('user-1', 'Renamed', '{"to": "bo"}', NULL, 0);
SELECT es.configure('log-1', max_count => 2);
SELECT es.configure_category('user', max_age => '30 days');
SELECT es.create_queue('work', visibility_timeout => '10 minutes', max_deliveries => 3);
SELECT es.configure('work', retry_delay => '2 seconds', retry_delay_max => '1 minute', dead_letter_max_count => 10);
SELECT es.enqueue('work', '{"job": 1}', '{"h": "a"}');
SELECT es.enqueue('work', '{"job": 2}', delay => '1 hour');
SELECT es.enqueue('work', '{"job": 3}', group_key => 'g1');
SELECT es.enqueue('work', '{"job": 4}', group_key => 'g1');
SELECT es.enqueue('work', '{"job": 5}');
});
is($node->safe_psql('from030', q{SELECT string_agg(pass || ':' || name || ':' || affected, ',') FROM es.sweep()}),
	'stream_retention:log-1:3', 'under 0.3.0, retention trims log-1 to its newest 2 events');
my ($x_id, $x_receipt) = split /\|/, $node->safe_psql('from030', q{SELECT message_id, receipt FROM es.dequeue('work', 'w1')});
like($x_receipt, qr/^[0-9a-f-]{36}$/, 'a work message is in flight under 0.3.0');
my ($r_id, $r_receipt) = split /\|/, $node->safe_psql('from030', q{SELECT message_id, receipt FROM es.dequeue('work', 'w1')});
is($node->safe_psql('from030', qq{SELECT es.nack('work', $r_id, '$r_receipt', requeue => false, error => 'no')}), 't',
	'and one is rejected to the dead letters');

# --- 0.2.0 and 0.1.0 databases that go straight to 0.4.0
$node->safe_psql('postgres', 'CREATE DATABASE direct020');
$node->safe_psql('direct020', q{CREATE EXTENSION event_streaming VERSION '0.2.0'});
is(extversion('direct020'), '0.2.0', 'installed 0.2.0 in a fifth database');
$node->safe_psql('direct020', q{
SELECT es.append('cart-1', 'Created', '{}', NULL, -1, 'd0000000-0000-4000-8000-000000000002');
SELECT es.append('user-7', 'Joined', '{"via": "cart"}');
SELECT es.append('cart-1', 'ItemAdded', '{"sku": "A"}', NULL, 0);
SELECT es.append_batch('cart-2', '[{"type": "Created", "data": {}}, {"type": "ItemAdded", "data": {"sku": "B"}}]', -1);
SELECT es.create_queue('mail', visibility_timeout => '5 minutes', max_deliveries => 2);
SELECT es.enqueue('mail', '{"m": 1}');
SELECT es.enqueue('mail', '{"m": 2}', group_key => 'x');
SELECT es.enqueue('mail', '{"m": 3}', delay => '1 hour');
});
my ($y_id, $y_receipt) = split /\|/, $node->safe_psql('direct020', q{SELECT message_id, receipt FROM es.dequeue('mail', 'm1')});
like($y_receipt, qr/^[0-9a-f-]{36}$/, 'a mail message is in flight under 0.2.0');

$node->safe_psql('postgres', 'CREATE DATABASE direct010');
$node->safe_psql('direct010', q{CREATE EXTENSION event_streaming VERSION '0.1.0'});
is(extversion('direct010'), '0.1.0', 'installed 0.1.0 in a sixth database');
$node->safe_psql('direct010', q{
SELECT es.append('acct-1', 'Opened', '{}', NULL, -1, 'd0000000-0000-4000-8000-000000000003');
SELECT es.append_batch('acct-2', '[{"type": "Opened", "data": {}}, {"type": "Deposited", "data": {"n": 1}}]', -1);
SELECT es.append('acct-1', 'Deposited', '{"n": 5}', '{"correlation_id": "k-1"}', 0);
SELECT es.append('misc-1', 'Note', '"x"');
});

# What must read back the same across the upgrade to 0.4.0, by the version
# the database is at before it (es.queue_stats without its clock-dependent
# age; tables read with the columns of that version).
my @reads040 = (
	[ '0.1.0', events     => q{SELECT * FROM es.events ORDER BY global_position} ],
	[ '0.1.0', streams    => q{SELECT * FROM es.streams ORDER BY stream} ],
	[ '0.1.0', catalog    => q{SELECT stream, kind, created_at FROM es.stream_catalog ORDER BY stream} ],
	[ '0.1.0', read       => q{SELECT r.* FROM es.stream_catalog c, es.read_stream(c.stream) r WHERE c.kind = 'persistent'
	                           ORDER BY r.stream, r.stream_offset} ],
	[ '0.1.0', versions   => q{SELECT stream, es.stream_version(stream) FROM es.stream_catalog WHERE kind = 'persistent' ORDER BY stream} ],
	[ '0.1.0', global_seq => q{SELECT last_value, is_called FROM es.global_position_seq} ],
	[ '0.2.0', queues     => q{SELECT queue_id, queue, visibility_timeout, max_deliveries, created_at FROM es.queues ORDER BY queue_id} ],
	[ '0.2.0', messages   => q{SELECT * FROM es.messages ORDER BY message_id} ],
	[ '0.2.0', dead       => q{SELECT * FROM es.dead_letter_messages ORDER BY queue_id, message_id} ],
	[ '0.2.0', dead_letters => q{SELECT * FROM es.dead_letters ORDER BY queue, message_id} ],
	[ '0.2.0', queue_stats => q{SELECT queue, depth, visible, in_flight, delayed, dead_lettered, visibility_timeout, max_deliveries
	                            FROM es.queue_stats ORDER BY queue} ],
	[ '0.2.0', queue_seqs => q{SELECT (SELECT last_value FROM es.queue_id_seq), (SELECT last_value FROM es.message_id_seq)} ],
	[ '0.3.0', catalog_all => q{SELECT * FROM es.stream_catalog ORDER BY stream} ],
	[ '0.3.0', queues_all => q{SELECT * FROM es.queues ORDER BY queue_id} ],
	[ '0.3.0', settings   => q{SELECT * FROM es.stream_settings ORDER BY scope, name} ],
	[ '0.3.0', configuration => q{SELECT * FROM es.configuration ORDER BY scope, name} ],
);
# Each database, the way it came to the version it is at, and that version.
my @dbs040 = (
	[ from030   => '0.3.0', '0.3.0 -> 0.4.0' ],
	[ from020   => '0.3.0', '0.2.0 -> 0.3.0 -> 0.4.0' ],
	[ upgraded  => '0.3.0', '0.1.0 -> 0.2.0 -> 0.3.0 -> 0.4.0' ],
	[ direct    => '0.3.0', '0.1.0 -> 0.3.0 -> 0.4.0' ],
	[ direct020 => '0.2.0', '0.2.0 -> 0.4.0' ],
	[ direct010 => '0.1.0', '0.1.0 -> 0.4.0' ],
);
my (%before040, %max040);
for my $d (@dbs040)
{
	my ($db, $v) = @$d;
	is(extversion($db), $v, "$db is at $v before the upgrade");
	for my $r (grep { $_->[0] le $v } @reads040)
	{
		$before040{$db}{ $r->[1] } = $node->safe_psql($db, $r->[2]);
	}
	$max040{$db} = $node->safe_psql($db, q{SELECT coalesce(max(global_position), 0) FROM es.events});
	isnt($before040{$db}{events}, '', "$db has events before the upgrade");
}
is(scalar(my @e030 = split /\n/, $before040{from030}{events}), 8, 'from030: 8 events left under 0.3.0');
like($before040{from030}{catalog_all}, qr/^log-1\|persistent\|[^|]+\|3$/m, 'from030: log-1 truncated before offset 3');
like($before040{from030}{settings}, qr/^category\|user\|/m, 'from030: settings for a category');

# --- the upgrades to 0.4.0, each in one ALTER EXTENSION UPDATE
for my $d (@dbs040)
{
	my ($db, $v, $path) = @$d;
	$node->safe_psql($db, q{ALTER EXTENSION event_streaming UPDATE TO '0.4.0'});
	is(extversion($db), '0.4.0', "ALTER EXTENSION UPDATE TO '0.4.0': $path");
}
for my $d (@dbs040)
{
	my ($db, $v, $path) = @$d;
	for my $r (grep { $_->[0] le $v } @reads040)
	{
		is($node->safe_psql($db, $r->[2]), $before040{$db}{ $r->[1] }, "$path: $r->[1] read back identical");
	}
	is($node->safe_psql($db, q{SELECT (SELECT count(*) FROM es.subscription_catalog) || ',' || (SELECT count(*) FROM es.subscription_positions)
	                                  || ',' || (SELECT count(*) FROM es.projection_catalog) || ',' || (SELECT count(*) FROM es.parked_events)}),
		'0,0,0,0', "$path: no subscription, projection or parked event yet");
	is($node->safe_psql($db, q{SELECT string_agg(pass || ':' || coalesce(runs::text, '-'), ',' ORDER BY pass) FROM es.worker_status}),
		'migrations:-,projections:-,redelivery:-,retention:-', "$path: es.worker_status shows the library's passes, not served");
}

# --- each has exactly the catalog of a fresh 0.4.0 install
$node->safe_psql('postgres', 'CREATE DATABASE fresh4');
$node->safe_psql('fresh4', q{CREATE EXTENSION event_streaming VERSION '0.4.0'});
is(extversion('fresh4'), '0.4.0', 'a fresh install is 0.4.0');
my $fresh4 = catalog('fresh4');
note 'catalog lines compared: ' . scalar(my @fl4 = split /\n/, $fresh4);
like($fresh4, qr/^function es\.read_all\(bigint,integer,text\[\],text\[\]\): /m, 'the comparison sees the 0.4.0 functions');
like($fresh4, qr/^function es\.create_projection\(text,text,regprocedure,text,text\): /m, 'the projection functions too');
like($fresh4, qr/^extconfig es\.subscription_catalog: /m, 'the 0.4.0 tables registered for dump');
like($fresh4, qr/^extconfig es\.parked_events: /m, 'all of them');
like($fresh4, qr/^index es\.events_category_idx: CREATE INDEX events_category_idx ON es\.events USING btree \(split_part\(stream, '-'::text, 1\), global_position\)/m,
	'the category index');
like($fresh4, qr/^view subscriptions: /m, 'and the views');
like($fresh4, qr/^view projections: /m, 'both');
isnt($fresh4, $fresh3, 'the 0.4.0 catalog differs from the 0.3.0 one');
for my $d (@dbs040)
{
	my ($db, $v, $path) = @$d;
	same_catalog(catalog($db), $fresh4, "$path has exactly the objects of a fresh 0.4.0 install");
}

# --- 0.4.0 on the upgraded data
# Read a database's events with es.read_all, $page at a time, each read going
# on from the last position the previous one returned.
sub read_all_paged
{
	my ($db, $page) = @_;
	my ($from, @rows) = (0);
	for (1 .. 1000)
	{
		my $out = $node->safe_psql($db, "SELECT * FROM es.read_all($from, $page)");
		return join "\n", @rows if $out eq '';
		my @l = split /\n/, $out;
		push @rows, @l;
		($from) = split /\|/, $l[-1];
	}
	return 'read_all_paged: no end';
}

my $handler = q{
CREATE TABLE tally (stream text PRIMARY KEY, events integer NOT NULL, last_offset bigint NOT NULL, last_type text NOT NULL);
CREATE TABLE tally_log (n serial PRIMARY KEY, global_position bigint NOT NULL);
CREATE FUNCTION tally_event(e es.event) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO tally VALUES (e.stream, 1, e.stream_offset, e.event_type)
	ON CONFLICT (stream) DO UPDATE
	   SET events = tally.events + 1, last_offset = excluded.last_offset, last_type = excluded.last_type;
	INSERT INTO tally_log (global_position) VALUES (e.global_position);
END
$$;
};
my $tally_want = q{SELECT stream, count(*), max(stream_offset), (array_agg(event_type ORDER BY stream_offset DESC))[1]
                     FROM es.events GROUP BY stream ORDER BY stream};

for my $d (@dbs040)
{
	my ($db, $v, $path) = @$d;
	my $events = $before040{$db}{events};
	my $max = $max040{$db};
	my $n = scalar(my @l = split /\n/, $events);
	my $cat = $node->safe_psql($db, q{SELECT es.category(stream) FROM es.events ORDER BY global_position LIMIT 1});
	my $cat_events = $node->safe_psql($db, qq{SELECT * FROM es.events WHERE es.category(stream) = '$cat' ORDER BY global_position});

	# es.read_all: every old event, in position order, once.
	is($node->safe_psql($db, q{SELECT * FROM es.read_all(0, 1000)}), $events, "$path: es.read_all returns the old events in position order");
	is(read_all_paged($db, 2), $events, "$path: read 2 at a time from the last position received, the same events");
	is($node->safe_psql($db, qq{SELECT count(*) FROM es.read_all($max, 1000)}), '0', "$path: nothing after the last old event");
	is($node->safe_psql($db, q{SELECT es.settled_position() >= (SELECT coalesce(max(global_position), 0) FROM es.events)}), 't',
		"$path: every old event is settled");
	is($node->safe_psql($db, qq{SELECT * FROM es.read_all(0, 1000, ARRAY['$cat'])}), $cat_events,
		"$path: es.read_all of category $cat");
	# The category index, built by the upgrade over the old rows.
	is($node->safe_psql($db, q{SELECT indisvalid AND indisready FROM pg_index WHERE indexrelid = 'es.events_category_idx'::regclass}), 't',
		"$path: events_category_idx exists and is valid");
	like($node->safe_psql($db, qq{SET enable_seqscan = off; SET enable_bitmapscan = off;
	                             EXPLAIN (COSTS OFF) SELECT * FROM es.events WHERE split_part(stream, '-', 1) = '$cat'
	                             ORDER BY global_position LIMIT 10}),
		qr/Index Scan using events_category_idx on events/, "$path: a category read in order can walk the index");
	is($node->safe_psql($db, qq{SET enable_seqscan = off; SET enable_bitmapscan = off;
	                           SELECT * FROM es.events WHERE split_part(stream, '-', 1) = '$cat' ORDER BY global_position}),
		$cat_events, "$path: and the index has every old event of the category");

	# A subscription created after the upgrade sees the old events.
	$node->safe_psql($db, q{SELECT es.create_subscription('old_all')});
	is($node->safe_psql($db, q{SELECT concat_ws(':', source, members, member, position, head_position, lag, commits) FROM es.subscriptions WHERE name = 'old_all'}),
		"\$all:1:0:0:$max:$max:0", "$path: a new subscription starts at the beginning, the old events its lag");
	is($node->safe_psql($db, q{SELECT * FROM es.read_subscription('old_all', 1000)}), $events, "$path: and reads every old event, in order");
	$node->safe_psql($db, qq{SELECT es.commit_subscription('old_all', $max)});
	is($node->safe_psql($db, q{SELECT concat_ws(':', position, lag, commits) FROM es.subscriptions WHERE name = 'old_all'}),
		"$max:0:1", "$path: committed at the last old event, no lag");
	is($node->safe_psql($db, q{SELECT count(*) FROM es.read_subscription('old_all', 1000)}), '0', "$path: then nothing is left to read");
	# A category split between two members.
	$node->safe_psql($db, qq{SELECT es.create_subscription('old_cat', '$cat', 'beginning', 2)});
	is($node->safe_psql($db, q{SELECT * FROM (SELECT * FROM es.read_subscription('old_cat', 1000, 0)
	                                        UNION ALL SELECT * FROM es.read_subscription('old_cat', 1000, 1)) e ORDER BY global_position}),
		$cat_events, "$path: the two members of a category subscription read its old events between them");
	is($node->safe_psql($db, q{SELECT count(*) FROM es.read_subscription('old_cat', 1000, 0) WHERE es.member_of(stream, 2) <> 0}),
		'0', "$path: member 0 only gets its own streams");

	# A projection created after the upgrade applies the old events.
	$node->safe_psql($db, $handler);
	$node->safe_psql($db, q{SELECT es.create_projection('tally', '$all', 'tally_event(es.event)')});
	is($node->safe_psql($db, q{SELECT concat_ws(':', status, position, head_position, lag, events_applied) FROM es.projections WHERE name = 'tally'}),
		"running:0:$max:$max:0", "$path: a new projection starts at the beginning");
	is($node->safe_psql($db, q{SELECT es.run_projection('tally')}), $n, "$path: es.run_projection applies the $n old events");
	is($node->safe_psql($db, q{SELECT * FROM tally ORDER BY stream}), $node->safe_psql($db, $tally_want),
		"$path: the read model counts every old event of every stream");
	is($node->safe_psql($db, q{SELECT string_agg(global_position::text, ',' ORDER BY n) FROM tally_log}),
		$node->safe_psql($db, q{SELECT string_agg(global_position::text, ',' ORDER BY global_position) FROM es.events}),
		"$path: the handler got them once each, in position order");
	is($node->safe_psql($db, q{SELECT concat_ws(':', status, position, lag, events_applied, parked, coalesce(last_error, '-')) FROM es.projections WHERE name = 'tally'}),
		"running:$max:0:$n:0:-", "$path: the projection is at the last old event");

	# Appends continue; the new event reaches the subscription and the projection.
	my $stream = $node->safe_psql($db, q{SELECT stream FROM es.events ORDER BY global_position DESC LIMIT 1});
	my $version = $node->safe_psql($db, qq{SELECT es.stream_version('$stream')});
	is($node->safe_psql($db, qq{SELECT es.append('$stream', 'AfterUpgrade', '{}', NULL, $version)}), $version + 1,
		"$path: an append to $stream continues it");
	is($node->safe_psql($db, q{SELECT stream || ':' || event_type FROM es.read_subscription('old_all', 1000)}), "$stream:AfterUpgrade",
		"$path: the subscription reads the new event only");
	is($node->safe_psql($db, q{SELECT es.run_projection('tally')}), '1', "$path: the projection applies it");
	is($node->safe_psql($db, q{SELECT * FROM tally ORDER BY stream}), $node->safe_psql($db, $tally_want),
		"$path: and the read model is up to date");
}

# from030: what 0.3.0 left in flight and configured still works.
is($node->safe_psql('from030', qq{SELECT es.ack('work', $x_id, '$x_receipt')}), 't', '0.3.0 -> 0.4.0: a receipt from 0.3.0 acks');
is($node->safe_psql('from030', q{SELECT es.redrive('work')}), '1', '0.3.0 -> 0.4.0: the dead letter from 0.3.0 redrives');
is($node->safe_psql('from030', q{SELECT es.append('log-1', 'Line', '{"n": 6}', NULL, 4)}), '5', '0.3.0 -> 0.4.0: log-1 continues at offset 5');
is($node->safe_psql('from030', q{SELECT string_agg(pass || ':' || name || ':' || affected, ',') FROM es.sweep()}),
	'stream_retention:log-1:1', '0.3.0 -> 0.4.0: retention set under 0.3.0 still trims log-1 to 2 events');
is($node->safe_psql('direct020', qq{SELECT es.ack('mail', $y_id, '$y_receipt')}), 't', '0.2.0 -> 0.4.0: a receipt from 0.2.0 acks');
# An append to a stream written under 0.3.0 notifies its listeners.
like($node->safe_psql('from030', q{SET event_streaming.notify = on; LISTEN "es_events.order"; SELECT es.append('order-2', 'OrderShipped', '{}', NULL, 1);}),
	qr/^2\nAsynchronous notification "es_events\.order" with payload "\d+" received/,
	'0.3.0 -> 0.4.0: an append to an old stream notifies es_events.order');

# The upgraded databases still match a fresh install once the new features
# are used, and so does the fresh install itself.
$node->safe_psql('fresh4', q{SELECT es.append('x-1', 'T', '{}'); SELECT es.create_subscription('s');} . $handler
	. q{SELECT es.create_projection('tally', 'x', 'tally_event(es.event)'); SELECT es.run_projection('tally');});
same_catalog(catalog('fresh4'), $fresh4, 'a fresh 0.4.0 install still compares equal after use');
for my $d (@dbs040)
{
	my ($db, $v, $path) = @$d;
	same_catalog(catalog($db), $fresh4, "$path: still the same catalog after using 0.4.0");
}

# After a restart (fresh shared memory, nothing in flight), es.read_all still
# returns every event of each upgraded database.
$node->restart;
for my $d (@dbs040)
{
	my ($db, $v, $path) = @$d;
	is($node->safe_psql($db, q{SELECT * FROM es.read_all(0, 1000)}),
		$node->safe_psql($db, q{SELECT * FROM es.events ORDER BY global_position}), "$path: es.read_all after a restart");
}

$node->stop;
done_testing();
