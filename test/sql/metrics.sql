-- es.metrics, es.tail and es.peek (0.7.0).  Counters count what committed
-- transactions did: a rolled-back transaction or savepoint counts nothing.
-- Every object here is new (counters are per database and object, since
-- the server started), so the counts are exact.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS event_streaming;

CREATE FUNCTION mtr(k text, n text) RETURNS TABLE (metric text, value float8)
  LANGUAGE sql AS $$
    SELECT metric, value FROM es.metrics
     WHERE kind = k AND name = n AND metric <> 'oldest_age_seconds' ORDER BY metric $$;

-- Appends: single, batch, rolled back, in a savepoint rolled back and released.
SELECT es.append('mtr-1', 'A', '{}'), es.append('mtr-2', 'A', '{}');
SELECT es.append_batch('mtr-1', '[{"type": "B", "data": {}}, {"type": "B", "data": {}}, {"type": "B", "data": {}}]');
BEGIN;
SELECT es.append('mtr-3', 'A', '{}');
ROLLBACK;
BEGIN;
SELECT es.append('mtr-1', 'C', '{}');
SAVEPOINT s1;
SELECT es.append('mtr-1', 'D', '{}');
ROLLBACK TO SAVEPOINT s1;
SAVEPOINT s2;
SELECT es.append_batch('mtr-2', '[{"type": "E", "data": {}}, {"type": "E", "data": {}}]');
SAVEPOINT s3;
SELECT es.append('mtr-2', 'F', '{}');
RELEASE SAVEPOINT s3;
RELEASE SAVEPOINT s2;
COMMIT;
-- 2 + 3 + 1 + 2 + 1 = 9 events in 2 streams; the rolled-back mtr-3 exists
-- in no catalog either.
SELECT * FROM mtr('category', 'mtr');
SELECT es.stream_version('mtr-1') + es.stream_version('mtr-2') + 2 AS events_stored;
-- A prepared transaction counts when it prepares, rolled back later or not.
BEGIN;
SELECT es.append('mtr-2', 'P', '{}');
PREPARE TRANSACTION 'mtr_2pc';
SELECT value AS after_prepare FROM mtr('category', 'mtr') WHERE metric = 'events_appended_total';
ROLLBACK PREPARED 'mtr_2pc';
SELECT value AS after_rollback_prepared FROM mtr('category', 'mtr') WHERE metric = 'events_appended_total';

-- Queues.
SELECT es.create_queue('mtrq', visibility_timeout => '1 hour', max_deliveries => 2);
SELECT es.enqueue('mtrq', jsonb_build_object('n', i)) IS NOT NULL FROM generate_series(1, 3) i;
SELECT count(*) FROM es.enqueue_batch('mtrq', ARRAY['{"n": 4}', '{"n": 5}']::jsonb[]);
SELECT es.enqueue('mtrq', '{"n": 6}', delay => '1 hour') IS NOT NULL AS delayed;
BEGIN;
SELECT es.enqueue('mtrq', '{"n": 7}') IS NOT NULL AS rolled_back;
ROLLBACK;
-- Peek: the order dequeue would take them in, nothing claimed.
SELECT payload, state, delivery_count, consumer, leased_until IS NULL AS not_leased
  FROM es.peek('mtrq');
SELECT payload FROM es.peek('mtrq', 2);
CREATE TABLE mtr_got AS SELECT * FROM es.dequeue('mtrq', 'w1', max_messages => 3);
SELECT payload, state, delivery_count, consumer FROM es.peek('mtrq');
-- ack one, nack one back to the queue, reject one to the dead-letter queue.
SELECT es.ack('mtrq', message_id, receipt) FROM mtr_got WHERE payload = '{"n": 1}';
SELECT es.ack('mtrq', message_id, receipt) AS acked_twice FROM mtr_got WHERE payload = '{"n": 1}';
SELECT es.nack('mtrq', message_id, receipt) FROM mtr_got WHERE payload = '{"n": 2}';
SELECT es.nack('mtrq', message_id, receipt, requeue => false) FROM mtr_got WHERE payload = '{"n": 3}';
-- A second delivery of n = 2 spends its deliveries: the nack dead-letters it.
BEGIN;
CREATE TEMP TABLE mtr_again AS SELECT * FROM es.dequeue('mtrq', 'w2', max_messages => 1);
SELECT payload, delivery_count FROM mtr_again;
SELECT es.nack('mtrq', message_id, receipt) FROM mtr_again;
COMMIT;
-- In a rolled-back transaction, a delivery and an ack count nothing.
BEGIN;
SELECT es.ack('mtrq', message_id, receipt) FROM es.dequeue('mtrq', 'w3') ;
ROLLBACK;
SELECT * FROM mtr('queue', 'mtrq');
SELECT message_id IS NOT NULL, reason FROM es.dead_letters WHERE queue = 'mtrq' ORDER BY message_id;

-- Subscriptions and projections.
SELECT es.create_subscription('mtrsub', 'mtr', members => 2);
SELECT es.commit_subscription('mtrsub', es.source_head('mtr'), member => 1);
-- Positions depend on what ran before in this database: compare with the head.
SELECT member, metric,
       CASE metric WHEN 'commits_total' THEN value::text
                   ELSE (value = es.source_head('mtr'))::text || ' (= head)' END AS value
  FROM es.metrics
 WHERE kind = 'subscription' AND name = 'mtrsub' AND metric <> 'last_commit_age_seconds'
 ORDER BY member, metric;
SELECT es.source_head('mtr') = (SELECT max(global_position) FROM es.read_all(0, 10000, ARRAY['mtr'])) AS head_is_last;
CREATE TABLE mtr_model (stream text, n int);
CREATE FUNCTION mtr_head(k text, n text) RETURNS TABLE (metric text, value text)
  LANGUAGE sql AS $$
    SELECT metric, CASE WHEN metric IN ('lag', 'position')
                        THEN (value = es.source_head('mtr-1'))::text || ' (= head)'
                        ELSE value::text END
      FROM mtr(k, n) $$;
CREATE FUNCTION mtr_apply(e es.event) RETURNS void LANGUAGE sql AS
  $$ INSERT INTO mtr_model VALUES (e.stream, 1) $$;
SELECT es.create_projection('mtrproj', 'mtr-1', 'mtr_apply(es.event)');
SELECT * FROM mtr_head('projection', 'mtrproj');
SELECT es.run_projection('mtrproj');
SELECT * FROM mtr_head('projection', 'mtrproj');

-- tail: the last events of a stream, oldest first.
SELECT stream_offset, event_type FROM es.tail('mtr-1');
SELECT stream_offset, event_type FROM es.tail('mtr-1', 2);
SELECT count(*) FROM es.tail('mtr-none');

-- The metrics of a database, and what each kind has.
SELECT kind, metric FROM es.metrics
 WHERE kind IN ('database', 'category', 'queue', 'subscription', 'projection', 'worker')
 GROUP BY kind, metric ORDER BY kind, metric;
SELECT count(*) = 1 AS one_database_row FROM es.metrics
 WHERE kind = 'database' AND metric = 'head_position' AND name = current_database();

SELECT es.drop_projection('mtrproj'), es.drop_subscription('mtrsub'), es.drop_queue('mtrq');
DROP TABLE mtr_got, mtr_model;
DROP FUNCTION mtr_apply(es.event), mtr_head(text, text), mtr(text, text);
