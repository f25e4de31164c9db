-- Single appends: offsets, versions, expected-version semantics, idempotency.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS event_streaming;
RESET client_min_messages;

-- A new stream starts at offset 0; offsets are gapless.
SELECT es.stream_version('account-1');
SELECT es.append('account-1', 'Opened', '{"owner": "ann"}');
SELECT es.append('account-1', 'Deposited', '{"amount": 10}');
SELECT es.append('account-1', 'Deposited', '{"amount": 5}', '{"correlation_id": "req-1", "causation_id": "cmd-9"}');
SELECT es.stream_version('account-1');

-- expected_version: -1 means "no stream yet".
SELECT es.append('account-2', 'Opened', '{}', expected_version => -1);
SELECT es.append('account-2', 'Opened', '{}', expected_version => -1);
-- n means "the last offset is n".
SELECT es.append('account-2', 'Deposited', '{"amount": 1}', expected_version => 0);
SELECT es.append('account-2', 'Deposited', '{"amount": 1}', expected_version => 0);
SELECT es.append('account-2', 'Deposited', '{"amount": 1}', expected_version => 7);
-- An exact version on a stream that does not exist.
SELECT es.append('account-3', 'Opened', '{}', expected_version => 0);
SELECT es.stream_version('account-3');
-- A refused append leaves no gap: the next offset follows the last event.
SELECT es.append('account-2', 'Closed', '{}', expected_version => 1);
SELECT stream_offset, event_type FROM es.read_stream('account-2');

-- Idempotent retry: the same event id returns the original result.
SELECT * FROM es.append_event('account-4', 'Opened', '{}', NULL, -1,
                              'a0000000-0000-4000-8000-000000000001');
SELECT * FROM es.append_event('account-4', 'Opened', '{}', NULL, -1,
                              'a0000000-0000-4000-8000-000000000001');
-- The retry wins over the expected version (the original append happened).
SELECT es.append('account-4', 'Opened', '{}', NULL, 5,
                 'a0000000-0000-4000-8000-000000000001');
SELECT count(*) FROM es.read_stream('account-4');
-- The same id in another stream is refused.
SELECT es.append('account-5', 'Opened', '{}', NULL, NULL,
                 'a0000000-0000-4000-8000-000000000001');
SELECT es.stream_version('account-5');

-- Generated event ids are version 7 UUIDs, distinct, and reported.
SELECT (r).duplicate, substr((r).event_id::text, 15, 1) AS uuid_version
  FROM (SELECT es.append_event('account-6', 'Opened', '{}') AS r) s;
SELECT count(DISTINCT event_id) = count(*) AS ids_distinct FROM es.events;

-- correlation_id and causation_id are taken from the metadata.
SELECT stream_offset, metadata, correlation_id, causation_id
  FROM es.read_stream('account-1') WHERE metadata IS NOT NULL;

-- Any JSON value is valid data.
SELECT es.append('misc-1', 'Scalar', '42');
SELECT es.append('misc-1', 'Null', 'null');
SELECT es.append('misc-1', 'Array', '[1, 2, 3]');
SELECT stream_offset, data FROM es.read_stream('misc-1');

-- Global positions are unique and follow offsets within a stream.
SELECT count(DISTINCT global_position) = count(*) AS positions_unique FROM es.events;
SELECT bool_and(ordered) AS positions_follow_offsets FROM (
  SELECT global_position > lag(global_position) OVER w
         OR lag(global_position) OVER w IS NULL AS ordered
    FROM es.events WINDOW w AS (PARTITION BY stream ORDER BY stream_offset)) s;

-- Several appends in one transaction see each other; a rollback leaves nothing.
BEGIN;
SELECT es.append('tx-1', 'A', '{}');
SELECT es.append('tx-1', 'B', '{}', expected_version => 0);
ROLLBACK;
SELECT es.stream_version('tx-1');
SELECT count(*) FROM es.stream_catalog WHERE stream = 'tx-1';
BEGIN;
SELECT es.append('tx-1', 'A', '{}');
SELECT es.append('tx-1', 'B', '{}', expected_version => 0);
COMMIT;
SELECT es.stream_version('tx-1');

-- A savepoint rolled back inside the transaction leaves no gap.
BEGIN;
SELECT es.append('tx-2', 'A', '{}');
SAVEPOINT s;
SELECT es.append('tx-2', 'B', '{}');
ROLLBACK TO SAVEPOINT s;
SELECT es.append('tx-2', 'C', '{}');
COMMIT;
SELECT stream_offset, event_type FROM es.read_stream('tx-2');

-- REPEATABLE READ: an append sees the stream as it is now, not as of the
-- transaction's snapshot, so offsets stay gapless and unique.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT es.stream_version('account-1');
SELECT es.append('account-1', 'Deposited', '{"amount": 1}', expected_version => 2);
COMMIT;

-- The streams view.
SELECT stream, kind, category, version, event_count, updated_at >= created_at AS times_ok
  FROM es.streams ORDER BY stream;
SELECT es.category('order-42'), es.category('order'), es.category('a-b-c'), es.category('-x');

-- A transaction that appended can be prepared (two-phase commit): its
-- events appear at COMMIT PREPARED, and read_all waits for it meanwhile
-- (test/specs/read_all_order.spec).
BEGIN;
SELECT es.append('tx-3', 'A', '{}');
PREPARE TRANSACTION 'es_append_2pc';
SELECT es.stream_version('tx-3');
SELECT count(*) FROM pg_prepared_xacts;
COMMIT PREPARED 'es_append_2pc';
SELECT es.stream_version('tx-3');
-- Rolled back, it leaves nothing.
BEGIN;
SELECT es.append('tx-3', 'B', '{}');
PREPARE TRANSACTION 'es_append_2pc';
ROLLBACK PREPARED 'es_append_2pc';
SELECT es.stream_version('tx-3');
-- A prepared transaction that did not append is fine.
BEGIN;
SELECT es.stream_version('tx-3');
PREPARE TRANSACTION 'es_read_2pc';
COMMIT PREPARED 'es_read_2pc';
