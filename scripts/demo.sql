-- A short walk-through of event_streaming, run by `make demo` (scripts/demo.sh)
-- right after CREATE EXTENSION event_streaming on a fresh cluster.
\pset null '(null)'

\echo
\echo '== 1. Append events: es.append returns the new event''s offset in its stream'
SELECT es.append('order-1', 'OrderPlaced', '{"sku": "A-100", "qty": 2}', '{"user": "alice"}') AS "offset";
SELECT es.append('order-1', 'OrderPaid', '{"amount": 49.90}') AS "offset";
SELECT es.append('order-2', 'OrderPlaced', '{"sku": "B-7", "qty": 1}') AS "offset";
-- expected_version -1: the stream must not exist yet
SELECT es.append('account-7', 'AccountOpened', '{"owner": "bob"}', expected_version => -1) AS "offset";

\echo
\echo '== 2. Append a batch atomically; expected_version 1 = order-1 must be at offset 1'
SELECT es.append_batch('order-1', '[
    {"type": "OrderShipped",   "data": {"carrier": "DHL"}, "metadata": {"user": "carol"}},
    {"type": "OrderDelivered", "data": {}}
  ]', 1) AS last_offset;

\echo
\echo '== 3. Read back: forward, backward, and the current version (-1: no such stream)'
SELECT stream_offset, global_position, event_type, data, metadata
  FROM es.read_stream('order-1');
SELECT stream_offset, event_type, data
  FROM es.read_stream_backward('order-1', max_count => 2);
SELECT es.stream_version('order-1') AS "order-1",
       es.stream_version('account-7') AS "account-7",
       es.stream_version('order-99') AS "order-99";

\echo
\echo '== 4. Optimistic concurrency: two writers both saw account-7 at version 0'
SELECT es.append('account-7', 'Deposited', '{"amount": 100}', expected_version => 0) AS "offset";
-- the second writer's append fails with SQLSTATE ES001:
DO $$
DECLARE
    msg    text;
    detail text;
BEGIN
    PERFORM es.append('account-7', 'Withdrawn', '{"amount": 30}', expected_version => 0);
EXCEPTION WHEN SQLSTATE 'ES001' THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
    RAISE NOTICE 'caught ES001: % (%)', msg, detail;
END
$$;
\echo '-- the same conflict uncaught: an ERROR (deliberate; the walk-through goes on)'
\set ON_ERROR_STOP off
SELECT es.append('account-7', 'Withdrawn', '{"amount": 30}', expected_version => 0);
\set ON_ERROR_STOP on

\echo
\echo '== 5. Idempotent retry: appending the same event_id again returns the original result'
SELECT * FROM es.append_event('order-2', 'OrderPaid', '{"amount": 12.50}',
                              event_id => 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
-- e.g. the client timed out and retries: nothing new is written, duplicate = true
SELECT * FROM es.append_event('order-2', 'OrderPaid', '{"amount": 12.50}',
                              event_id => 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
SELECT es.stream_version('order-2') AS "order-2";

\echo
\echo '== 6. All streams'
SELECT stream, kind, category, version, event_count FROM es.streams ORDER BY stream;

\echo
\echo '== 7. A queue: enqueue, claim with a receipt, ack; a failing message ends in the dead-letter queue'
SELECT es.create_queue('emails', visibility_timeout => '1 minute', max_deliveries => 2);
SELECT es.enqueue('emails', '{"to": "alice@example.com"}') AS message_id;
SELECT es.enqueue('emails', '{"to": "bounce@example.com"}', headers => '{"trace": "t-7"}') AS message_id;
SELECT message_id, delivery_count, payload, visible_until > now() AS leased
  FROM es.dequeue('emails', 'worker-1', max_messages => 2);
SELECT * FROM es.queue_stats;
-- the first message is done: ack it with the receipt of this delivery
SELECT es.ack('emails', m.message_id, m.receipt) AS acked
  FROM es.messages m WHERE m.payload ->> 'to' = 'alice@example.com';
-- the second fails twice (nack = give it back), then it is dead-lettered
SELECT es.nack('emails', m.message_id, m.receipt, error => 'mailbox full') AS nacked
  FROM es.messages m WHERE m.payload ->> 'to' = 'bounce@example.com';
SELECT message_id, delivery_count FROM es.dequeue('emails', 'worker-2') \gset again_
SELECT es.nack('emails', m.message_id, m.receipt, error => 'mailbox still full') AS nacked
  FROM es.messages m WHERE m.message_id = :again_message_id;
SELECT message_id, reason, delivery_count, last_error, headers, payload FROM es.dead_letters;
SELECT es.redrive('emails') AS redriven;
SELECT * FROM es.queue_stats;

\echo
\echo '== 8a. Every event in global order, a subscription, a projection'
SELECT global_position, stream, event_type FROM es.read_all(0, 5);
SELECT es.create_subscription('demo-billing', 'order');
SELECT global_position, stream, event_type FROM es.read_subscription('demo-billing', 3);
SELECT max(global_position) AS last FROM es.read_subscription('demo-billing', 3) \gset
SELECT es.commit_subscription('demo-billing', :last);
SELECT name, position, lag FROM es.subscriptions;
CREATE TABLE demo_event_counts (event_type text PRIMARY KEY, n bigint NOT NULL);
CREATE FUNCTION demo_count(e es.event) RETURNS void LANGUAGE sql AS $$
  INSERT INTO demo_event_counts VALUES (e.event_type, 1)
  ON CONFLICT (event_type) DO UPDATE SET n = demo_event_counts.n + 1 $$;
SELECT es.create_projection('demo-counts', '$all', 'demo_count(es.event)');
SELECT es.run_projection('demo-counts');
SELECT * FROM demo_event_counts ORDER BY event_type;
SELECT name, status, position, lag, events_applied FROM es.projections;

\echo
\echo '== 8. Retention: keep the newest 2 events of order-1; the version survives'
SELECT es.configure('order-1', max_count => 2);
SELECT es.configure_category('order', max_age => '30 days');
SELECT * FROM es.configuration ORDER BY scope, name;
SELECT * FROM es.sweep();
SELECT stream_offset, event_type FROM es.read_stream('order-1');
SELECT es.stream_version('order-1') AS "order-1 version";

\echo
\echo '== 9. The background worker serving this database'
SELECT backend_type, datname FROM pg_stat_activity WHERE backend_type LIKE 'event_streaming%' ORDER BY 1;
SELECT pg_sleep(1.5);
SELECT pass, worker_pid IS NOT NULL AS running, runs > 0 AS has_run, errors FROM es.worker_status;
