-- Queues: the whole life cycle of messages, receipts and dead letters.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS event_streaming;
RESET client_min_messages;

SELECT es.create_queue('work', visibility_timeout => '30 seconds', max_deliveries => 2);
SELECT es.create_queue('work', if_not_exists => true);
SELECT queue, visibility_timeout, max_deliveries FROM es.queues WHERE queue = 'work';
SELECT stream, kind FROM es.stream_catalog WHERE stream = 'work';

-- Enqueue: ids increase; a batch returns its ids in payload order.
SELECT es.enqueue('work', '{"n": 1}') AS m1 \gset
SELECT es.enqueue('work', '{"n": 2}', headers => '{"trace": "abc"}') AS m2 \gset
SELECT array_agg(id ORDER BY ord) AS batch
  FROM es.enqueue_batch('work', ARRAY['{"n": 3}', '{"n": 4}']::jsonb[]) WITH ORDINALITY AS b(id, ord) \gset
SELECT :m2 > :m1 AS increasing, cardinality(:'batch'::bigint[]) AS batch_size;
SELECT queue, depth, visible, in_flight, delayed, dead_lettered FROM es.queue_stats WHERE queue = 'work';

-- Dequeue hands out the oldest first, hides the messages for the visibility
-- timeout and gives each delivery a receipt.
CREATE TEMP TABLE got AS
SELECT * FROM es.dequeue('work', 'worker-1', max_messages => 2);
SELECT message_id - :m1 AS rel_id, payload, headers, delivery_count,
       receipt IS NOT NULL AS has_receipt,
       visible_until BETWEEN clock_timestamp() + '29 seconds' AND clock_timestamp() + '31 seconds' AS leased_30s
  FROM got ORDER BY message_id;
SELECT queue, depth, visible, in_flight FROM es.queue_stats WHERE queue = 'work';
SELECT consumer, delivery_count FROM es.messages WHERE message_id = :m1;

-- Ack: only the current delivery's receipt; the second ack and a forged or
-- mismatched receipt return false and change nothing.
SELECT es.ack('work', :m1, (SELECT receipt FROM got WHERE message_id = :m1)) AS acked;
SELECT es.ack('work', :m1, (SELECT receipt FROM got WHERE message_id = :m1)) AS acked_again;
SELECT es.ack('work', :m2, '00000000-0000-4000-8000-000000000000') AS forged;
SELECT es.ack('work', :m2, (SELECT receipt FROM got WHERE message_id = :m1)) AS other_receipt;
SELECT count(*) AS m2_still_there FROM es.messages WHERE message_id = :m2;

-- Nack with requeue: visible again at once, in its old place, with the error kept.
SELECT es.nack('work', :m2, (SELECT receipt FROM got WHERE message_id = :m2), error => 'flaky') AS nacked;
SELECT message_id - :m1 AS rel_id, delivery_count, headers FROM es.dequeue('work', 'worker-2');
SELECT last_error, consumer FROM es.messages WHERE message_id = :m2;

-- m2 has now had both its deliveries: a nack sends it to the dead-letter queue.
SELECT es.nack('work', :m2, (SELECT receipt FROM es.messages WHERE message_id = :m2), error => 'still flaky') AS nacked;
SELECT message_id - :m1 AS rel_id, reason, delivery_count, last_error, payload, headers,
       dead_lettered_at >= enqueued_at AS times_kept
  FROM es.dead_letters WHERE queue = 'work';

-- A nack without requeue sends a message straight to the dead-letter queue.
DROP TABLE got;
CREATE TEMP TABLE got AS SELECT * FROM es.dequeue('work', 'worker-1');
SELECT payload FROM got;
SELECT es.nack('work', message_id, receipt, requeue => false, error => 'bad input') FROM got;
SELECT payload, reason, delivery_count, last_error FROM es.dead_letters WHERE queue = 'work' ORDER BY message_id;

-- An expired lease makes the message deliverable again at the next dequeue,
-- with no background worker; the first consumer's late ack is refused.
DROP TABLE got;
CREATE TEMP TABLE got AS SELECT * FROM es.dequeue('work', 'slow', visibility_timeout => '500 ms');
SELECT payload, delivery_count FROM got;
SELECT count(*) AS while_leased FROM es.dequeue('work', 'fast');
SELECT pg_sleep(0.6);
CREATE TEMP TABLE got2 AS SELECT * FROM es.dequeue('work', 'fast');
SELECT got2.payload, got2.delivery_count, got2.message_id = got.message_id AS same_message FROM got2, got;
SELECT es.ack('work', message_id, receipt) AS late_ack FROM got;
SELECT es.ack('work', message_id, receipt) AS current_ack FROM got2;

-- Past max_deliveries by lease expiry: the next dequeue moves it to the
-- dead-letter queue instead of delivering it a third time.
SELECT es.enqueue('work', '{"n": 5}') AS m5 \gset
SELECT delivery_count FROM es.dequeue('work', 'w', visibility_timeout => '10 ms');
SELECT pg_sleep(0.05);
SELECT delivery_count FROM es.dequeue('work', 'w', visibility_timeout => '10 ms');
SELECT pg_sleep(0.05);
SELECT count(*) AS delivered_third_time FROM es.dequeue('work', 'w');
SELECT reason, delivery_count, last_error FROM es.dead_letters WHERE message_id = :m5;
SELECT queue, depth, visible, in_flight, delayed, dead_lettered FROM es.queue_stats WHERE queue = 'work';

-- Redrive: back to the queue as new messages (new ids, in dead-letter
-- order, oldest first) with a fresh delivery count and the original enqueue
-- time and last error.
SELECT es.redrive('work', 1) AS redriven;
SELECT m.message_id > :m5 AS new_id, m.delivery_count, m.payload, m.last_error,
       m.enqueued_at < m.available_at AS enqueue_time_kept
  FROM es.messages m JOIN es.queues q USING (queue_id) WHERE q.queue = 'work';
SELECT es.redrive('work') AS redriven_rest;
SELECT count(*) AS dead_left FROM es.dead_letters WHERE queue = 'work';
SELECT message_id > :m5 AS new_id, delivery_count, payload FROM es.dequeue('work', 'w', max_messages => 10) ORDER BY message_id;

-- Extend: a heartbeat moves the end of the lease; a stale receipt can't.
SELECT es.enqueue('work', '{"n": 6}') AS m6 \gset
DROP TABLE got;
CREATE TEMP TABLE got AS SELECT * FROM es.dequeue('work', 'w', visibility_timeout => '1 second');
SELECT es.extend('work', message_id, receipt, '1 hour') AS extended FROM got;
SELECT leased_until > clock_timestamp() + '59 minutes' AS lease_moved FROM es.messages WHERE message_id = :m6;
SELECT es.extend('work', message_id, '00000000-0000-4000-8000-000000000000', '1 hour') AS forged FROM got;
SELECT es.ack('work', message_id, receipt) AS acked_after_extend FROM got;

-- Delays: a delayed message is not visible until its time; nack can delay too.
SELECT es.enqueue('work', '{"n": 7}', delay => '1 hour') AS m7 \gset
SELECT es.enqueue('work', '{"n": 8}') AS m8 \gset
SELECT payload FROM es.dequeue('work', 'w', max_messages => 10);
SELECT queue, depth, visible, in_flight, delayed FROM es.queue_stats WHERE queue = 'work';
SELECT es.nack('work', :m8, receipt, delay => '1 hour') AS nacked_with_delay FROM es.messages WHERE message_id = :m8;
SELECT count(*) AS visible_now FROM es.dequeue('work', 'w');
SELECT queue, depth, visible, in_flight, delayed FROM es.queue_stats WHERE queue = 'work';

-- Purge removes waiting, delayed and in-flight messages; dead letters stay.
SELECT es.purge_queue('work') AS purged;
SELECT es.nack('work', :m8, '00000000-0000-4000-8000-000000000000') AS nack_after_purge;

-- Message groups: only the head of a group is delivered; the next message
-- of the group waits until the head is acked.
SELECT es.enqueue('work', '{"g": "a1"}', group_key => 'a') AS a1,
       es.enqueue('work', '{"g": "a2"}', group_key => 'a') AS a2,
       es.enqueue('work', '{"g": "b1"}', group_key => 'b') AS b1,
       es.enqueue('work', '{"g": "none"}') AS n1 \gset
DROP TABLE got;
CREATE TEMP TABLE got AS SELECT * FROM es.dequeue('work', 'w', max_messages => 10);
SELECT payload, group_key FROM got ORDER BY message_id;
SELECT count(*) AS a2_while_a1_in_flight FROM es.dequeue('work', 'w', max_messages => 10);
SELECT es.ack('work', message_id, receipt) FROM got WHERE message_id = :a1;
SELECT payload, group_key FROM es.dequeue('work', 'w', max_messages => 10);

-- A transaction sees its own enqueues; a rolled-back enqueue never existed.
BEGIN;
SELECT es.enqueue('work', '{"tx": "mine"}') AS tx_id \gset
SELECT payload FROM es.dequeue('work', 'w');
ROLLBACK;
SELECT count(*) AS rolled_back FROM es.messages WHERE message_id = :tx_id;

-- Read-only transactions (and hot standbys) can't claim or settle.
BEGIN READ ONLY;
SELECT * FROM es.dequeue('work', 'w');
ROLLBACK;
BEGIN READ ONLY;
SELECT es.ack('work', 1, '00000000-0000-4000-8000-000000000000');
ROLLBACK;

-- A name is one kind for good: queues and persistent streams don't mix.
SELECT es.append('orders-1', 'Placed', '{}');
SELECT kind FROM es.streams WHERE stream IN ('work', 'orders-1') ORDER BY stream;

-- Drop removes the queue, its messages and dead letters, and frees the name.
SELECT es.enqueue('work', '{"left": true}') IS NOT NULL AS enqueued;
SELECT es.drop_queue('work') AS dropped;
SELECT es.drop_queue('work', if_exists => true) AS dropped_again;
SELECT count(*) AS rows_left FROM es.messages m LEFT JOIN es.queues q USING (queue_id) WHERE q.queue_id IS NULL;
SELECT count(*) AS dead_left FROM es.dead_letter_messages d LEFT JOIN es.queues q USING (queue_id) WHERE q.queue_id IS NULL;
SELECT count(*) AS catalog_left FROM es.stream_catalog WHERE stream = 'work';
SELECT es.append('work', 'NowAStream', '{}') AS offset_as_stream;
