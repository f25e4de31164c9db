-- Stream configuration, retention and the redelivery pass, run by hand with
-- es.sweep and an explicit "now", so the results do not depend on timing.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS event_streaming;
RESET client_min_messages;
SET intervalstyle = postgres;

-- Six streams in two categories, ten events each (offsets 0..9), with
-- their created_at set one minute apart, the oldest 10 minutes before T.
CREATE TEMP TABLE t AS SELECT '2030-01-01 12:00:00+00'::timestamptz AS t;
SELECT count(es.append(s, 'Happened', jsonb_build_object('i', i)))
  FROM unnest(ARRAY['acct-1', 'acct-2', 'acct-3', 'log-1', 'log-2', 'log-3']) AS s,
       generate_series(0, 9) AS i;
-- Backdating events is a fixture only: es.events is append-only (the guard
-- trigger refuses the UPDATE) unless triggers are skipped, as superuser.
UPDATE es.events SET created_at = (SELECT t FROM t) - (10 - stream_offset) * interval '1 minute';
SET session_replication_role = replica;
UPDATE es.events SET created_at = (SELECT t FROM t) - (10 - stream_offset) * interval '1 minute';
RESET session_replication_role;

-- Nothing configured: a sweep does nothing.
SELECT * FROM es.sweep((SELECT t FROM t));

-- max_count on one stream keeps exactly its newest events.
SELECT es.configure('acct-1', max_count => 4);
SELECT * FROM es.configuration ORDER BY scope, name;
SELECT * FROM es.sweep((SELECT t FROM t));
SELECT stream, min(stream_offset), max(stream_offset), count(*) FROM es.events
 WHERE stream = 'acct-1' GROUP BY stream;
-- Reads from before the retained range start at the first retained event.
SELECT stream_offset FROM es.read_stream('acct-1', 0, 2);
SELECT es.stream_version('acct-1');

-- A category's max_age applies to its streams without settings of their
-- own; acct-1 keeps its max_count and inherits the max_age.  Events older
-- than 5 minutes 30 seconds (offsets 0..4) go.
SELECT es.configure_category('acct', max_age => '5 minutes 30 seconds');
SELECT * FROM es.sweep((SELECT t FROM t)) ORDER BY name;
SELECT stream, min(stream_offset), max(stream_offset), count(*) FROM es.events
 WHERE stream LIKE 'acct-%' GROUP BY stream ORDER BY stream;
-- Only older events went: every event left is at most 5.5 minutes old.
SELECT bool_and(created_at >= (SELECT t FROM t) - interval '5 minutes 30 seconds')
  FROM es.events WHERE stream LIKE 'acct-%';
-- Other categories are untouched.
SELECT count(*) FROM es.events WHERE stream LIKE 'log-%';

-- max_age removes a prefix only: an event older than the cutoff that
-- follows a newer one stays (created_at is the transaction start, so a
-- stream's times need not increase with its offsets).
SET session_replication_role = replica;
UPDATE es.events SET created_at = (SELECT t FROM t) - interval '1 hour'
 WHERE stream = 'log-1' AND stream_offset = 7;
RESET session_replication_role;
SELECT es.configure('log-1', max_age => '2 minutes 30 seconds');
SELECT * FROM es.sweep((SELECT t FROM t));
SELECT array_agg(stream_offset ORDER BY stream_offset) FROM es.events WHERE stream = 'log-1';

-- The version survives when every event goes, and numbering continues.
SELECT es.configure('log-2', max_age => '1 second');
SELECT * FROM es.sweep((SELECT t FROM t));
SELECT count(*) FROM es.events WHERE stream = 'log-2';
SELECT es.stream_version('log-2');
SELECT stream, version, event_count FROM es.streams WHERE stream = 'log-2';
SELECT es.append('log-2', 'Happened', '{}', expected_version => 9);
SELECT es.append('log-2', 'Happened', '{}', expected_version => 3);
SELECT es.read_stream('log-2', 0)::text LIKE '(%,log-2,10,%' AS first_left_is_10;

-- max_rows bounds one call; calling again goes on.
SELECT es.configure('log-3', max_count => 1);
SELECT * FROM es.sweep((SELECT t FROM t), max_rows => 5);
SELECT * FROM es.sweep((SELECT t FROM t), max_rows => 5);
SELECT * FROM es.sweep((SELECT t FROM t), max_rows => 5);
SELECT count(*) FROM es.events WHERE stream = 'log-3';

-- Smaller steps than the batch give the same result.
SET event_streaming.sweep_batch_size = 2;
SELECT count(es.append('acct-9', 'Happened', '{}')) FROM generate_series(1, 7);
SELECT es.configure('acct-9', max_count => 2);
SELECT * FROM es.sweep(clock_timestamp());
SELECT stream, min(stream_offset), max(stream_offset) FROM es.events
 WHERE stream = 'acct-9' GROUP BY stream;
RESET event_streaming.sweep_batch_size;

-- Resets: a setting goes back to its default (the category's, for a
-- stream); a row with nothing set leaves the catalog.
SELECT es.reset_configuration('acct-1', ARRAY['max_count']);
SELECT * FROM es.configuration WHERE name = 'acct-1';
SELECT es.reset_configuration('log-1');
SELECT es.reset_category_configuration('acct');
SELECT scope, name, max_age, max_count FROM es.configuration ORDER BY scope, name;

-- Queues: settings, backoff, the redelivery pass, queue and dead-letter
-- retention.
SELECT es.create_queue('rq', visibility_timeout => '10 seconds', max_deliveries => 2);
SELECT es.configure('rq', retry_delay => '1 minute', retry_delay_max => '3 minutes',
                    visibility_timeout => '20 seconds');
SELECT scope, name, visibility_timeout, max_deliveries, retry_delay, retry_delay_max
  FROM es.configuration WHERE name = 'rq';
SELECT count(es.enqueue('rq', jsonb_build_object('n', n))) FROM generate_series(1, 3) AS n;
CREATE TEMP TABLE d1 AS SELECT * FROM es.dequeue('rq', 'c1', max_messages => 3);
SELECT count(*), min(delivery_count), max(delivery_count) FROM d1;
-- A nack without a delay backs off by retry_delay: not visible right away.
SELECT es.nack('rq', message_id, receipt) FROM d1 WHERE (payload->>'n')::int = 1;
SELECT count(*) FROM es.dequeue('rq', 'c2');
SELECT available_at - clock_timestamp() BETWEEN interval '50 seconds' AND interval '1 minute'
  FROM es.messages WHERE payload->>'n' = '1';
-- The redelivery pass before the leases end moves nothing.
SELECT * FROM es.sweep_redelivery();
-- Message 1 is at its first delivery: after its backoff it is deliverable.
-- Messages 2 and 3 are leased once; when the leases end (+20 s) they back
-- off (1 minute) before the next delivery.
SELECT * FROM es.sweep_redelivery(clock_timestamp() + interval '30 seconds');
-- Second deliveries, then the last leases expire: the pass moves them to
-- the dead-letter queue (max_deliveries 2).
UPDATE es.messages SET available_at = clock_timestamp() - interval '1 second',
       leased_until = NULL, receipt = NULL WHERE queue_id = (SELECT queue_id FROM es.queues WHERE queue = 'rq');
CREATE TEMP TABLE d2 AS SELECT * FROM es.dequeue('rq', 'c3', max_messages => 3);
SELECT count(*), min(delivery_count), max(delivery_count) FROM d2;
SELECT * FROM es.sweep_redelivery(clock_timestamp() + interval '1 minute');
SELECT message_id IN (SELECT message_id FROM d2) AS was_delivered, reason, delivery_count
  FROM es.dead_letters WHERE queue = 'rq' ORDER BY message_id;
-- A late ack of a dead-lettered delivery is refused.
SELECT es.ack('rq', message_id, receipt) FROM d2 ORDER BY message_id;

-- Dead-letter retention: keep the newest 1, then by age.
SELECT es.configure('rq', dead_letter_max_count => 1);
SELECT * FROM es.sweep(clock_timestamp());
SELECT count(*) FROM es.dead_letters WHERE queue = 'rq';
SELECT es.configure('rq', dead_letter_max_age => '1 hour');
SELECT * FROM es.sweep(clock_timestamp() + interval '2 hours');
SELECT count(*) FROM es.dead_letters WHERE queue = 'rq';

-- Queue retention: waiting messages past max_age expire; leased ones wait
-- for their lease to end.  max_count trims the first in line.
SELECT es.configure('rq', max_age => '1 hour', max_count => 2);
SELECT count(es.enqueue('rq', jsonb_build_object('m', m))) FROM generate_series(1, 5) AS m;
SELECT count(*) FROM es.sweep(clock_timestamp());
SELECT array_agg(payload->>'m' ORDER BY message_id) FROM es.messages
 WHERE queue_id = (SELECT queue_id FROM es.queues WHERE queue = 'rq');
CREATE TEMP TABLE d3 AS SELECT * FROM es.dequeue('rq', 'c4', visibility_timeout => '3 hours');
SELECT * FROM es.sweep(clock_timestamp() + interval '2 hours');
SELECT count(*) FROM es.messages
 WHERE queue_id = (SELECT queue_id FROM es.queues WHERE queue = 'rq');
SELECT es.ack('rq', message_id, receipt) FROM d3;

-- Resetting a queue brings back es.create_queue's defaults.
SELECT es.reset_configuration('rq');
SELECT scope, name, max_age, max_count, visibility_timeout, max_deliveries, retry_delay,
       retry_delay_max, dead_letter_max_age, dead_letter_max_count
  FROM es.configuration WHERE name = 'rq';
SELECT es.drop_queue('rq');

-- The worker's status is readable (no worker serves this database).
SELECT pass, worker_pid IS NULL AS no_worker FROM es.worker_status ORDER BY pass;
