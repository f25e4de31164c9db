-- Bad input, table-driven: every function of the API, every argument, with
-- what it must refuse and the SQLSTATE it must refuse it with (NULL, empty,
-- over 200 bytes, negative, out of range, absurd intervals, the wrong kind of
-- name, another queue's receipt, batches over max_batch_size, deep nesting,
-- values over max_payload_size).  A few rows are valid but odd input that
-- must be accepted ("00000", or "= v": accepted, returning v).  Each call
-- runs in a subtransaction of its own; one that does not fail is rolled back
-- too, so no row depends on another.  The output lists only the rows whose
-- outcome differs from the table, then a count; then it checks that nothing
-- the calls touched changed.  Everything runs in one transaction that is
-- rolled back at the end, so later tests see none of it (only sequence
-- values move).  A call that crashes the backend ends the test there.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS event_streaming;
SELECT es.settled_position() AS settled_before \gset

BEGIN;
-- Fixtures: a stream, two queues with a message in flight each, a
-- subscription, a projection, upcasters, a data migration and tables to
-- import and capture.
SELECT es.append('bad-1', 'BadOpened', '{}') AS bad_1_offset;
SELECT es.append('bad-2', 'BadOpened', '{}', event_id => 'b0000000-0000-4000-8000-0000000000b2') AS bad_2_offset;
SELECT es.append('bad-null', 'BadNull', '{}') AS bad_null_offset;
SELECT es.create_queue('badq'), es.create_queue('badq-2');
SELECT es.enqueue('badq', '{"n": 1}') IS NOT NULL AS enqueued, es.enqueue('badq-2', '{"n": 2}') IS NOT NULL AS enqueued;
CREATE TABLE bad_lease AS
  SELECT 'badq' AS queue, message_id, receipt FROM es.dequeue('badq', 'bad-consumer')
  UNION ALL
  SELECT 'badq-2', message_id, receipt FROM es.dequeue('badq-2', 'bad-consumer');
CREATE FUNCTION bad_mid(q text) RETURNS bigint LANGUAGE sql AS $$ SELECT message_id FROM bad_lease WHERE queue = q $$;
CREATE FUNCTION bad_rcpt(q text) RETURNS uuid LANGUAGE sql AS $$ SELECT receipt FROM bad_lease WHERE queue = q $$;
SELECT es.create_subscription('badsub', 'bad'), es.create_subscription('badsub3', '$all', members => 3);
CREATE TABLE bad_model (stream text PRIMARY KEY);
CREATE FUNCTION bad_apply(e es.event) RETURNS void LANGUAGE sql AS
  $$ INSERT INTO bad_model VALUES (e.stream) ON CONFLICT DO NOTHING $$;
CREATE FUNCTION bad_apply2(e es.event, x int) RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE PROCEDURE bad_apply_proc(e es.event) LANGUAGE sql AS $$ SELECT $$;
SELECT es.create_projection('badproj', 'bad', 'bad_apply(es.event)');
CREATE FUNCTION bad_up(data jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT data $$;
CREATE FUNCTION bad_up_null(data jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT NULL::jsonb $$;
CREATE FUNCTION bad_up_text(data jsonb) RETURNS text LANGUAGE sql AS $$ SELECT '' $$;
CREATE FUNCTION bad_up_set(data jsonb) RETURNS SETOF jsonb LANGUAGE sql AS $$ SELECT data $$;
CREATE PROCEDURE bad_up_proc(data jsonb) LANGUAGE sql AS $$ SELECT $$;
CREATE AGGREGATE bad_up_agg(jsonb) (sfunc = jsonb_concat, stype = jsonb);
SELECT es.register_upcaster('BadOpened', 1, 'bad_up(jsonb)') AS bad_opened_version,
       es.register_upcaster('BadNull', 1, 'bad_up_null(jsonb)') AS bad_null_version;
CREATE PROCEDURE bad_mig() LANGUAGE sql AS $$ SELECT $$;
CREATE PROCEDURE bad_mig_arg(x int) LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION bad_mig_set() RETURNS SETOF int LANGUAGE sql AS $$ SELECT 1 $$;
SELECT es.register_data_migration('bad migration', 987654, 'bad_mig()');
CREATE TABLE bad_crud (id int PRIMARY KEY, v text);
INSERT INTO bad_crud VALUES (1, 'a'), (2, 'b');
CREATE TABLE bad_nopk (v text);
CREATE TABLE bad_comp (a int, b int, PRIMARY KEY (a, b));
CREATE TABLE bad_float (id float8 PRIMARY KEY);
CREATE TABLE bad_nullable (id int PRIMARY KEY, alt int);
CREATE VIEW bad_view AS SELECT * FROM bad_crud;
CREATE TEMP TABLE bad_temp (id int PRIMARY KEY);
CREATE TABLE bad_cap_q (id int PRIMARY KEY);          -- captured into category badq: badq-2 is a queue
CREATE TABLE bad_cap_long (id int PRIMARY KEY);       -- captured with a 199-byte prefix
CREATE TABLE bad_trig (id int PRIMARY KEY);           -- es.capture_trigger set up by hand, wrongly
SELECT es.capture_table('bad_crud', 'badcrud'), es.capture_table('bad_cap_q', 'badq'),
       es.capture_table('bad_cap_long', repeat('c', 199));
CREATE TRIGGER bad_trig_capture AFTER INSERT ON bad_trig FOR EACH ROW EXECUTE FUNCTION es.capture_trigger();
-- 10,000 levels of nesting (PostgreSQL's parser takes that; 100,000 exceeds
-- its stack depth), and a 100 MB JSON value, stored compressed: the calls
-- get it toasted, as they would from a table (built in two steps, so the
-- backend holds less at once).
CREATE TEMP TABLE bad_deep AS
  SELECT (repeat('[', 10000) || repeat(']', 10000))::jsonb AS arr,
         (repeat('{"a":', 10000) || '1' || repeat('}', 10000))::jsonb AS obj;
SET LOCAL default_toast_compression = lz4;
CREATE TEMP TABLE bad_big_text AS SELECT repeat(repeat('a', 1024), 100 * 1024) AS t;
CREATE TEMP TABLE bad_big AS SELECT jsonb_build_object('x', t) AS j FROM bad_big_text;
SELECT pg_column_size(j) < 10 * 1024 * 1024 AS stored_compressed,
       length(j ->> 'x') = 100 * 1024 * 1024 AS is_100mb FROM bad_big;

-- What the calls must leave as it is.
CREATE TEMP VIEW bad_state (item, value) AS
          SELECT 'events', count(*)::text FROM es.events
UNION ALL SELECT 'streams', count(*) || ': ' || string_agg(format('%s %s %s', stream, kind, version), ', ' ORDER BY stream)
            FILTER (WHERE stream LIKE 'bad%' OR stream LIKE 'ccc%') FROM es.streams
UNION ALL SELECT 'queues', string_agg(format('%s %s/%s/%s/%s/%s', queue, depth, visible, in_flight, delayed, dead_lettered), ', ' ORDER BY queue)
            FROM es.queue_stats
UNION ALL SELECT 'messages', count(*)::text FROM es.messages
UNION ALL SELECT 'deliveries', string_agg(format('%s %s %s', message_id, delivery_count, receipt), ', ' ORDER BY message_id) FROM es.messages
UNION ALL SELECT 'dead letters', count(*)::text FROM es.dead_letter_messages
UNION ALL SELECT 'configuration', count(*) || ': ' || coalesce(string_agg(c::text, ', ' ORDER BY c::text) FILTER (WHERE name LIKE 'bad%'), '')
            FROM es.configuration c
UNION ALL SELECT 'subscriptions', string_agg(format('%s/%s %s', name, member, position), ', ' ORDER BY name, member) FROM es.subscriptions
UNION ALL SELECT 'projections', string_agg(format('%s %s %s %s', name, status, position, events_applied), ', ' ORDER BY name) FROM es.projections
UNION ALL SELECT 'upcasters', string_agg(format('%s %s', event_type, upcasters), ', ' ORDER BY event_type) FROM es.event_types
UNION ALL SELECT 'data migrations', string_agg(format('%s %s %s', name, status, attempts), ', ' ORDER BY name) FROM es.data_migrations
UNION ALL SELECT 'captured tables', string_agg(format('%s %s', "table", stream_prefix), ', ' ORDER BY "table"::text) FROM es.captured_tables
UNION ALL SELECT 'triggers', count(*)::text FROM pg_trigger WHERE NOT tgisinternal
UNION ALL SELECT 'es relations', count(*)::text FROM pg_class WHERE relnamespace = 'es'::regnamespace
UNION ALL SELECT 'fixture rows', format('%s %s %s', (SELECT count(*) FROM bad_crud), (SELECT count(*) FROM bad_model), (SELECT count(*) FROM bad_cap_q))
UNION ALL SELECT 'settled position', es.settled_position()::text;
CREATE TEMP TABLE bad_state_before AS SELECT * FROM bad_state;

-- The table.  expected: the SQLSTATE the call must raise; 00000 for a call
-- that must succeed; "= v" for a call that must succeed and return v.
-- Global-order reads (es.read_all, es.read_subscription) see none of the
-- fixtures' events inside this transaction, so only their arguments are
-- tested here.
CREATE TEMP TABLE bad_calls (n serial, label text UNIQUE, sql text, expected text,
                             got text, message text, returned text);
INSERT INTO bad_calls (label, sql, expected) VALUES
 -- es.append
 ('append: stream NULL',                 $$SELECT es.append(NULL, 'T', '{}')$$, '22004'),
 ('append: stream empty',                $$SELECT es.append('', 'T', '{}')$$, '22023'),
 ('append: stream 201 bytes',            $$SELECT es.append(repeat('s', 201), 'T', '{}')$$, '22001'),
 ('append: stream 202 bytes in 101 chars', $$SELECT es.append(repeat('é', 101), 'T', '{}')$$, '22001'),
 ('append: stream 10 MB',                $$SELECT es.append(repeat('s', 10 * 1024 * 1024), 'T', '{}')$$, '22001'),
 ('append: stream control character',    $$SELECT es.append(E'bad\x01', 'T', '{}')$$, '22023'),
 ('append: stream is a queue',           $$SELECT es.append('badq-2', 'T', '{}')$$, '42809'),
 ('append: event_type NULL',             $$SELECT es.append('bad-1', NULL, '{}')$$, '22004'),
 ('append: event_type empty',            $$SELECT es.append('bad-1', '', '{}')$$, '22023'),
 ('append: event_type 201 bytes',        $$SELECT es.append('bad-1', repeat('t', 201), '{}')$$, '22001'),
 ('append: event_type control character', $$SELECT es.append('bad-1', E'T\x7f', '{}')$$, '22023'),
 ('append: data NULL',                   $$SELECT es.append('bad-1', 'T', NULL)$$, '22004'),
 ('append: metadata an array',           $$SELECT es.append('bad-1', 'T', '{}', '[]')$$, '22023'),
 ('append: metadata JSON null',          $$SELECT es.append('bad-1', 'T', '{}', 'null')$$, '22023'),
 ('append: expected_version -2',         $$SELECT es.append('bad-1', 'T', '{}', NULL, -2)$$, '22023'),
 ('append: expected_version min bigint', $$SELECT es.append('bad-1', 'T', '{}', NULL, -9223372036854775808)$$, '22023'),
 ('append: expected_version max bigint', $$SELECT es.append('bad-1', 'T', '{}', NULL, 9223372036854775807)$$, 'ES001'),
 ('append: event_id of another stream',  $$SELECT es.append('bad-1', 'T', '{}', event_id => 'b0000000-0000-4000-8000-0000000000b2')$$, '23505'),
 ('append: data 100 MB',                 $$SELECT es.append('bad-1', 'T', (SELECT j FROM bad_big))$$, '54000'),
 ('append: metadata 100 MB',             $$SELECT es.append('bad-1', 'T', '{}', (SELECT j FROM bad_big))$$, '54000'),
 ('append: data 17 MB (default limit 16 MB)', $$SELECT es.append('bad-1', 'T', jsonb_build_object('x', repeat('a', 17 * 1024 * 1024)))$$, '54000'),
 ('append: data nested 10,000 deep (accepted)',     $$SELECT es.append('bad-1', 'T', (SELECT arr FROM bad_deep))$$, '= 1'),
 ('append: metadata nested 10,000 deep (accepted)', $$SELECT es.append('bad-1', 'T', '{}', (SELECT obj FROM bad_deep))$$, '= 1'),
 ('append: data nested 100,000 deep (parser)',      $$SELECT es.append('bad-1', 'T', (repeat('[', 100000) || repeat(']', 100000))::jsonb)$$, '54001'),
 ('append: read-only transaction',       $$SELECT es.append('bad-1', 'T', '{}') FROM set_config('transaction_read_only', 'on', true)$$, '25006'),
 -- es.append_event
 ('append_event: stream NULL',           $$SELECT * FROM es.append_event(NULL, 'T', '{}')$$, '22004'),
 ('append_event: stream is a queue',     $$SELECT * FROM es.append_event('badq', 'T', '{}')$$, '42809'),
 ('append_event: event_type 201 bytes',  $$SELECT * FROM es.append_event('bad-1', repeat('t', 201), '{}')$$, '22001'),
 ('append_event: data NULL',             $$SELECT * FROM es.append_event('bad-1', 'T', NULL)$$, '22004'),
 ('append_event: metadata a string',     $$SELECT * FROM es.append_event('bad-1', 'T', '{}', '"m"')$$, '22023'),
 ('append_event: expected_version -5',   $$SELECT * FROM es.append_event('bad-1', 'T', '{}', NULL, -5)$$, '22023'),
 ('append_event: expected_version ahead', $$SELECT * FROM es.append_event('bad-1', 'T', '{}', NULL, 7)$$, 'ES001'),
 ('append_event: event_id of another stream', $$SELECT * FROM es.append_event('bad-1', 'T', '{}', NULL, NULL, 'b0000000-0000-4000-8000-0000000000b2')$$, '23505'),
 ('append_event: data 100 MB',           $$SELECT * FROM es.append_event('bad-1', 'T', (SELECT j FROM bad_big))$$, '54000'),
 -- es.append_batch
 ('append_batch: stream NULL',           $$SELECT es.append_batch(NULL, '[{"type":"T","data":1}]')$$, '22004'),
 ('append_batch: stream 201 bytes',      $$SELECT es.append_batch(repeat('s', 201), '[{"type":"T","data":1}]')$$, '22001'),
 ('append_batch: stream control character', $$SELECT es.append_batch(E'bad\n1', '[{"type":"T","data":1}]')$$, '22023'),
 ('append_batch: stream is a queue',     $$SELECT es.append_batch('badq', '[{"type":"T","data":1}]')$$, '42809'),
 ('append_batch: events NULL',           $$SELECT es.append_batch('bad-1', NULL)$$, '22004'),
 ('append_batch: events JSON null',      $$SELECT es.append_batch('bad-1', 'null')$$, '22023'),
 ('append_batch: events an object',      $$SELECT es.append_batch('bad-1', '{"type":"T","data":1}')$$, '22023'),
 ('append_batch: events empty array',    $$SELECT es.append_batch('bad-1', '[]')$$, '22023'),
 ('append_batch: element not an object', $$SELECT es.append_batch('bad-1', '[{"type":"T","data":1}, 5]')$$, '22023'),
 ('append_batch: element without type',  $$SELECT es.append_batch('bad-1', '[{"data":1}]')$$, '22023'),
 ('append_batch: element without data',  $$SELECT es.append_batch('bad-1', '[{"type":"T"}]')$$, '22023'),
 ('append_batch: element type null',     $$SELECT es.append_batch('bad-1', '[{"type":null,"data":1}]')$$, '22023'),
 ('append_batch: element type 201 bytes', $$SELECT es.append_batch('bad-1', jsonb_build_array(jsonb_build_object('type', repeat('t', 201), 'data', 1)))$$, '22001'),
 ('append_batch: element metadata a number', $$SELECT es.append_batch('bad-1', '[{"type":"T","data":1,"metadata":5}]')$$, '22023'),
 ('append_batch: element unknown key',   $$SELECT es.append_batch('bad-1', '[{"type":"T","data":1,"tpye":"T"}]')$$, '22023'),
 ('append_batch: element id not a UUID', $$SELECT es.append_batch('bad-1', '[{"type":"T","data":1,"id":"nope"}]')$$, '22P02'),
 ('append_batch: element id a number',   $$SELECT es.append_batch('bad-1', '[{"type":"T","data":1,"id":5}]')$$, '22023'),
 ('append_batch: ids repeated in the batch', $$SELECT es.append_batch('bad-1', '[{"type":"T","data":1,"id":"b0000000-0000-4000-8000-0000000000b9"},{"type":"T","data":2,"id":"b0000000-0000-4000-8000-0000000000b9"}]')$$, '22023'),
 ('append_batch: id of another stream',  $$SELECT es.append_batch('bad-1', '[{"type":"T","data":1,"id":"b0000000-0000-4000-8000-0000000000b2"}]')$$, '23505'),
 ('append_batch: expected_version -2',   $$SELECT es.append_batch('bad-1', '[{"type":"T","data":1}]', -2)$$, '22023'),
 ('append_batch: expected_version ahead', $$SELECT es.append_batch('bad-1', '[{"type":"T","data":1}]', 3)$$, 'ES001'),
 ('append_batch: 10,001 events',         $$SELECT es.append_batch('bad-1', (SELECT jsonb_agg(jsonb_build_object('type', 'T', 'data', i)) FROM generate_series(1, 10001) i))$$, '54000'),
 ('append_batch: 100,001 events',        $$SELECT es.append_batch('bad-1', (SELECT jsonb_agg(jsonb_build_object('type', 'T', 'data', i)) FROM generate_series(1, 100001) i))$$, '54000'),
 ('append_batch: event data 17 MB',      $$SELECT es.append_batch('bad-1', jsonb_build_array(jsonb_build_object('type', 'T', 'data', repeat('a', 17 * 1024 * 1024))))$$, '54000'),
 ('append_batch: event metadata 17 MB',  $$SELECT es.append_batch('bad-1', jsonb_build_array(jsonb_build_object('type', 'T', 'data', 1, 'metadata', jsonb_build_object('x', repeat('a', 17 * 1024 * 1024)))))$$, '54000'),
 ('append_batch: events nested 10,000 deep', $$SELECT es.append_batch('bad-1', (SELECT arr FROM bad_deep))$$, '22023'),
 ('append_batch: event data nested 10,000 deep (accepted)', $$SELECT es.append_batch('bad-1', jsonb_build_array(jsonb_build_object('type', 'T', 'data', (SELECT obj FROM bad_deep))))$$, '= 1'),
 ('append_batch: read-only transaction', $$SELECT es.append_batch('bad-1', '[{"type":"T","data":1}]') FROM set_config('transaction_read_only', 'on', true)$$, '25006'),
 -- reads of one stream
 ('read_stream: stream NULL',            $$SELECT * FROM es.read_stream(NULL)$$, '22004'),
 ('read_stream: stream empty',           $$SELECT * FROM es.read_stream('')$$, '22023'),
 ('read_stream: stream 201 bytes',       $$SELECT * FROM es.read_stream(repeat('s', 201))$$, '22001'),
 ('read_stream: stream is a queue',      $$SELECT * FROM es.read_stream('badq-2')$$, '42809'),
 ('read_stream: from_offset -1',         $$SELECT * FROM es.read_stream('bad-1', -1)$$, '22023'),
 ('read_stream: from_offset min bigint', $$SELECT * FROM es.read_stream('bad-1', -9223372036854775808)$$, '22023'),
 ('read_stream: max_count NULL',         $$SELECT * FROM es.read_stream('bad-1', 0, NULL)$$, '22004'),
 ('read_stream: max_count 0',            $$SELECT * FROM es.read_stream('bad-1', 0, 0)$$, '22023'),
 ('read_stream: max_count 10,001',       $$SELECT * FROM es.read_stream('bad-1', 0, 10001)$$, '22023'),
 ('read_stream: upcaster returns NULL',  $$SELECT * FROM es.read_stream('bad-null')$$, '22004'),
 ('read_stream_backward: stream NULL',   $$SELECT * FROM es.read_stream_backward(NULL)$$, '22004'),
 ('read_stream_backward: stream is a queue', $$SELECT * FROM es.read_stream_backward('badq')$$, '42809'),
 ('read_stream_backward: from_offset -1', $$SELECT * FROM es.read_stream_backward('bad-1', -1)$$, '22023'),
 ('read_stream_backward: max_count -1',  $$SELECT * FROM es.read_stream_backward('bad-1', NULL, -1)$$, '22023'),
 ('read_stream_backward: max_count NULL', $$SELECT * FROM es.read_stream_backward('bad-1', NULL, NULL)$$, '22004'),
 ('read_stream_raw: stream NULL',        $$SELECT * FROM es.read_stream_raw(NULL)$$, '22004'),
 ('read_stream_raw: stream 201 bytes',   $$SELECT * FROM es.read_stream_raw(repeat('s', 201))$$, '22001'),
 ('read_stream_raw: stream is a queue',  $$SELECT * FROM es.read_stream_raw('badq')$$, '42809'),
 ('read_stream_raw: from_offset -1',     $$SELECT * FROM es.read_stream_raw('bad-1', -1)$$, '22023'),
 ('read_stream_raw: max_count max int',  $$SELECT * FROM es.read_stream_raw('bad-1', 0, 2147483647)$$, '22023'),
 ('read_stream_raw: max_count NULL',     $$SELECT * FROM es.read_stream_raw('bad-1', 0, NULL)$$, '22004'),
 ('stream_version: stream NULL',         $$SELECT es.stream_version(NULL)$$, '22004'),
 ('stream_version: stream 201 bytes',    $$SELECT es.stream_version(repeat('s', 201))$$, '22001'),
 ('stream_version: stream control character', $$SELECT es.stream_version(E'bad\t1')$$, '22023'),
 ('stream_version: stream is a queue',   $$SELECT es.stream_version('badq-2')$$, '42809'),
 -- es.events is append-only
 ('es.events: UPDATE',                   $$UPDATE es.events SET data = '{}' WHERE stream = 'bad-1'$$, '42501'),
 ('es.events: DELETE',                   $$DELETE FROM es.events WHERE stream = 'bad-1'$$, '42501'),
 ('es.events: TRUNCATE',                 $$TRUNCATE es.events$$, '42501'),
 -- reads in global order
 ('read_all: from_position -1',          $$SELECT * FROM es.read_all(-1, 10)$$, '22023'),
 ('read_all: max_count NULL',            $$SELECT * FROM es.read_all(0, NULL)$$, '22004'),
 ('read_all: max_count 0',               $$SELECT * FROM es.read_all(0, 0)$$, '22023'),
 ('read_all: max_count 10,001',          $$SELECT * FROM es.read_all(0, 10001)$$, '22023'),
 ('read_all: categories with NULL',      $$SELECT * FROM es.read_all(0, 10, ARRAY['bad', NULL])$$, '22004'),
 ('read_all: categories two-dimensional', $$SELECT * FROM es.read_all(0, 10, ARRAY[['bad'], ['badq']])$$, '2202E'),
 ('read_all: category is a stream',      $$SELECT * FROM es.read_all(0, 10, ARRAY['bad-1'])$$, '22023'),
 ('read_all: event_types with NULL',     $$SELECT * FROM es.read_all(0, 10, NULL, ARRAY[NULL]::text[])$$, '22004'),
 ('read_all: event_types two-dimensional', $$SELECT * FROM es.read_all(0, 10, NULL, ARRAY[['T'], ['U']])$$, '2202E'),
 ('settled_position: an argument',       $$SELECT es.settled_position(1)$$, '42883'),
 ('worker_status: an argument',          $$SELECT * FROM es.worker_status('retention')$$, '42883'),
 -- helpers
 ('category: NULL is NULL',              $$SELECT es.category(NULL)$$, '= NULL'),
 ('member_of: members 0',                $$SELECT es.member_of('bad-1', 0)$$, '22023'),
 ('member_of: members -1',               $$SELECT es.member_of('bad-1', -1)$$, '22023'),
 ('member_of: members min int',          $$SELECT es.member_of('bad-1', -2147483648)$$, '22023'),
 ('member_of: NULL is NULL',             $$SELECT es.member_of('bad-1', NULL)$$, '= NULL'),
 ('source_head: NULL is NULL',           $$SELECT es.source_head(NULL)$$, '= NULL'),
 -- monitoring and psql helpers (0.7.0)
 ('metric_counters: an argument',        $$SELECT * FROM es.metric_counters('badq')$$, '42883'),
 ('tail: stream NULL',                   $$SELECT * FROM es.tail(NULL)$$, '22004'),
 ('tail: stream empty',                  $$SELECT * FROM es.tail('')$$, '22023'),
 ('tail: stream 201 bytes',              $$SELECT * FROM es.tail(repeat('s', 201))$$, '22001'),
 ('tail: stream is a queue',             $$SELECT * FROM es.tail('badq')$$, '42809'),
 ('tail: max_count 0',                   $$SELECT * FROM es.tail('bad-1', 0)$$, '22023'),
 ('tail: max_count NULL',                $$SELECT * FROM es.tail('bad-1', NULL)$$, '22004'),
 ('tail: max_count 10,001',              $$SELECT * FROM es.tail('bad-1', 10001)$$, '22023'),
 ('peek: queue NULL',                    $$SELECT * FROM es.peek(NULL)$$, '22004'),
 ('peek: queue empty',                   $$SELECT * FROM es.peek('')$$, '22023'),
 ('peek: queue 201 bytes',               $$SELECT * FROM es.peek(repeat('q', 201))$$, '22001'),
 ('peek: unknown queue',                 $$SELECT * FROM es.peek('no-such-queue')$$, '42704'),
 ('peek: a persistent stream',           $$SELECT * FROM es.peek('bad-1')$$, '42809'),
 ('peek: max_messages 0',                $$SELECT * FROM es.peek('badq', 0)$$, '22023'),
 ('peek: max_messages -1',               $$SELECT * FROM es.peek('badq', -1)$$, '22023'),
 ('peek: max_messages NULL',             $$SELECT * FROM es.peek('badq', NULL)$$, '22004'),
 ('peek: max_messages 10,001',           $$SELECT * FROM es.peek('badq', 10001)$$, '22023'),
 -- subscriptions
 ('create_subscription: name NULL',      $$SELECT es.create_subscription(NULL)$$, '22004'),
 ('create_subscription: name empty',     $$SELECT es.create_subscription('')$$, '22023'),
 ('create_subscription: name 201 bytes', $$SELECT es.create_subscription(repeat('n', 201))$$, '22001'),
 ('create_subscription: name control character', $$SELECT es.create_subscription(E'sub\r')$$, '22023'),
 ('create_subscription: name taken',     $$SELECT es.create_subscription('badsub')$$, '42710'),
 ('create_subscription: source NULL',    $$SELECT es.create_subscription('badsub2', NULL)$$, '22004'),
 ('create_subscription: source empty',   $$SELECT es.create_subscription('badsub2', '')$$, '22023'),
 ('create_subscription: source $unknown', $$SELECT es.create_subscription('badsub2', '$nope')$$, '22023'),
 ('create_subscription: source 201 bytes', $$SELECT es.create_subscription('badsub2', repeat('s', 201))$$, '22001'),
 ('create_subscription: source is a queue', $$SELECT es.create_subscription('badsub2', 'badq-2')$$, '42809'),
 ('create_subscription: start NULL',     $$SELECT es.create_subscription('badsub2', 'bad', NULL)$$, '22004'),
 ('create_subscription: start unknown',  $$SELECT es.create_subscription('badsub2', 'bad', 'middle')$$, '22023'),
 ('create_subscription: start -1',       $$SELECT es.create_subscription('badsub2', 'bad', '-1')$$, '22023'),
 ('create_subscription: start 20 digits', $$SELECT es.create_subscription('badsub2', 'bad', '99999999999999999999')$$, '22023'),
 ('create_subscription: members NULL',   $$SELECT es.create_subscription('badsub2', 'bad', 'beginning', NULL)$$, '22004'),
 ('create_subscription: members 0',      $$SELECT es.create_subscription('badsub2', 'bad', 'beginning', 0)$$, '22023'),
 ('create_subscription: members 1025',   $$SELECT es.create_subscription('badsub2', 'bad', 'beginning', 1025)$$, '22023'),
 ('read_subscription: name NULL',        $$SELECT * FROM es.read_subscription(NULL, 10)$$, '22004'),
 ('read_subscription: unknown',          $$SELECT * FROM es.read_subscription('badnosub', 10)$$, '42704'),
 ('read_subscription: a queue''s name',  $$SELECT * FROM es.read_subscription('badq', 10)$$, '42704'),
 ('read_subscription: max_count NULL',   $$SELECT * FROM es.read_subscription('badsub', NULL)$$, '22004'),
 ('read_subscription: max_count 0',      $$SELECT * FROM es.read_subscription('badsub', 0)$$, '22023'),
 ('read_subscription: member NULL',      $$SELECT * FROM es.read_subscription('badsub3', 10, NULL)$$, '22004'),
 ('read_subscription: member -1',        $$SELECT * FROM es.read_subscription('badsub3', 10, -1)$$, '22023'),
 ('read_subscription: member = members', $$SELECT * FROM es.read_subscription('badsub3', 10, 3)$$, '22023'),
 ('read_subscription: members not the group''s', $$SELECT * FROM es.read_subscription('badsub3', 10, 0, 4)$$, '22023'),
 ('commit_subscription: name NULL',      $$SELECT es.commit_subscription(NULL, 1)$$, '22004'),
 ('commit_subscription: unknown',        $$SELECT es.commit_subscription('badnosub', 1)$$, '42704'),
 ('commit_subscription: position NULL',  $$SELECT es.commit_subscription('badsub', NULL)$$, '22004'),
 ('commit_subscription: position back',  $$SELECT es.commit_subscription('badsub', -1)$$, '22023'),
 ('commit_subscription: position past settled', $$SELECT es.commit_subscription('badsub', 9223372036854775807)$$, '55000'),
 ('commit_subscription: member NULL',    $$SELECT es.commit_subscription('badsub', 0, NULL)$$, '22004'),
 ('commit_subscription: member 5 of 1',  $$SELECT es.commit_subscription('badsub', 0, 5)$$, '22023'),
 ('commit_subscription: read-only transaction', $$SELECT es.commit_subscription('badsub', 0) FROM set_config('transaction_read_only', 'on', true)$$, '25006'),
 ('reset_subscription: name NULL',       $$SELECT es.reset_subscription(NULL)$$, '22004'),
 ('reset_subscription: unknown',         $$SELECT es.reset_subscription('badnosub')$$, '42704'),
 ('reset_subscription: start NULL',      $$SELECT es.reset_subscription('badsub', NULL)$$, '22004'),
 ('reset_subscription: start unknown',   $$SELECT es.reset_subscription('badsub', 'yesterday')$$, '22023'),
 ('reset_subscription: member 3 of 3',   $$SELECT es.reset_subscription('badsub3', 'beginning', 3)$$, '22023'),
 ('drop_subscription: name NULL',        $$SELECT es.drop_subscription(NULL)$$, '22004'),
 ('drop_subscription: name 201 bytes',   $$SELECT es.drop_subscription(repeat('n', 201))$$, '22001'),
 ('drop_subscription: unknown',          $$SELECT es.drop_subscription('badnosub')$$, '42704'),
 -- projections
 ('create_projection: name NULL',        $$SELECT es.create_projection(NULL, 'bad', 'bad_apply(es.event)')$$, '22004'),
 ('create_projection: name empty',       $$SELECT es.create_projection('', 'bad', 'bad_apply(es.event)')$$, '22023'),
 ('create_projection: name 201 bytes',   $$SELECT es.create_projection(repeat('p', 201), 'bad', 'bad_apply(es.event)')$$, '22001'),
 ('create_projection: name taken',       $$SELECT es.create_projection('badproj', 'bad', 'bad_apply(es.event)')$$, '42710'),
 ('create_projection: source NULL',      $$SELECT es.create_projection('badproj2', NULL, 'bad_apply(es.event)')$$, '22004'),
 ('create_projection: source $unknown',  $$SELECT es.create_projection('badproj2', '$x', 'bad_apply(es.event)')$$, '22023'),
 ('create_projection: source is a queue', $$SELECT es.create_projection('badproj2', 'badq-2', 'bad_apply(es.event)')$$, '42809'),
 ('create_projection: handler NULL',     $$SELECT es.create_projection('badproj2', 'bad', NULL)$$, '22004'),
 ('create_projection: handler unknown',  $$SELECT es.create_projection('badproj2', 'bad', 'bad_nosuch(es.event)')$$, '42883'),
 ('create_projection: handler OID 0',    $$SELECT es.create_projection('badproj2', 'bad', 0)$$, '42883'),
 ('create_projection: handler two arguments', $$SELECT es.create_projection('badproj2', 'bad', 'bad_apply2(es.event, int)')$$, '42P13'),
 ('create_projection: handler a procedure', $$SELECT es.create_projection('badproj2', 'bad', 'bad_apply_proc(es.event)')$$, '42809'),
 ('create_projection: on_error NULL',    $$SELECT es.create_projection('badproj2', 'bad', 'bad_apply(es.event)', NULL)$$, '22004'),
 ('create_projection: on_error unknown', $$SELECT es.create_projection('badproj2', 'bad', 'bad_apply(es.event)', 'skip')$$, '22023'),
 ('create_projection: start NULL',       $$SELECT es.create_projection('badproj2', 'bad', 'bad_apply(es.event)', 'stop', NULL)$$, '22004'),
 ('create_projection: start unknown',    $$SELECT es.create_projection('badproj2', 'bad', 'bad_apply(es.event)', 'stop', 'soon')$$, '22023'),
 ('run_projection: name NULL',           $$SELECT es.run_projection(NULL)$$, '22004'),
 ('run_projection: unknown',             $$SELECT es.run_projection('badnoproj')$$, '42704'),
 ('run_projection: max_events NULL',     $$SELECT es.run_projection('badproj', NULL)$$, '22004'),
 ('run_projection: max_events 0',        $$SELECT es.run_projection('badproj', 0)$$, '22023'),
 ('run_projection: max_events min int',  $$SELECT es.run_projection('badproj', -2147483648)$$, '22023'),
 ('resume_projection: name NULL',        $$SELECT es.resume_projection(NULL)$$, '22004'),
 ('resume_projection: unknown',          $$SELECT es.resume_projection('badnoproj')$$, '42704'),
 ('rebuild_projection: name NULL',       $$SELECT es.rebuild_projection(NULL)$$, '22004'),
 ('rebuild_projection: unknown',         $$SELECT es.rebuild_projection('badnoproj')$$, '42704'),
 ('rebuild_projection: clear es.events', $$SELECT es.rebuild_projection('badproj', ARRAY['es.events'::regclass])$$, '22023'),
 ('rebuild_projection: clear a NULL',    $$SELECT es.rebuild_projection('badproj', ARRAY[NULL]::regclass[])$$, '22004'),
 ('rebuild_projection: clear OID 0',     $$SELECT es.rebuild_projection('badproj', ARRAY[0::regclass])$$, '42P01'),
 ('rebuild_projection: clear a view',    $$SELECT es.rebuild_projection('badproj', ARRAY['bad_view'::regclass])$$, '42809'),
 ('rebuild_projection: clear a catalog', $$SELECT es.rebuild_projection('badproj', ARRAY['pg_class'::regclass])$$, '42501'),
 ('drop_projection: name NULL',          $$SELECT es.drop_projection(NULL)$$, '22004'),
 ('drop_projection: name empty',         $$SELECT es.drop_projection('')$$, '22023'),
 ('drop_projection: unknown',            $$SELECT es.drop_projection('badnoproj')$$, '42704'),
 -- upcasters
 ('register_upcaster: event_type NULL',  $$SELECT es.register_upcaster(NULL, 1, 'bad_up(jsonb)')$$, '22004'),
 ('register_upcaster: event_type empty', $$SELECT es.register_upcaster('', 1, 'bad_up(jsonb)')$$, '22023'),
 ('register_upcaster: event_type 201 bytes', $$SELECT es.register_upcaster(repeat('t', 201), 1, 'bad_up(jsonb)')$$, '22001'),
 ('register_upcaster: from_version NULL', $$SELECT es.register_upcaster('BadT', NULL, 'bad_up(jsonb)')$$, '22004'),
 ('register_upcaster: from_version 0',   $$SELECT es.register_upcaster('BadT', 0, 'bad_up(jsonb)')$$, '22023'),
 ('register_upcaster: from_version max int', $$SELECT es.register_upcaster('BadT', 2147483647, 'bad_up(jsonb)')$$, '22023'),
 ('register_upcaster: first step from 2', $$SELECT es.register_upcaster('BadT', 2, 'bad_up(jsonb)')$$, '22023'),
 ('register_upcaster: step taken',       $$SELECT es.register_upcaster('BadOpened', 1, 'bad_up(jsonb)')$$, '42710'),
 ('register_upcaster: step leaves a gap', $$SELECT es.register_upcaster('BadOpened', 3, 'bad_up(jsonb)')$$, '22023'),
 ('register_upcaster: fn NULL',          $$SELECT es.register_upcaster('BadT', 1, NULL)$$, '22004'),
 ('register_upcaster: fn OID 0',         $$SELECT es.register_upcaster('BadT', 1, 0)$$, '42883'),
 ('register_upcaster: fn unknown',       $$SELECT es.register_upcaster('BadT', 1, 'bad_nosuch(jsonb)')$$, '42883'),
 ('register_upcaster: fn returns text',  $$SELECT es.register_upcaster('BadT', 1, 'bad_up_text(jsonb)')$$, '42P13'),
 ('register_upcaster: fn returns a set', $$SELECT es.register_upcaster('BadT', 1, 'bad_up_set(jsonb)')$$, '42P13'),
 ('register_upcaster: fn a procedure',   $$SELECT es.register_upcaster('BadT', 1, 'bad_up_proc(jsonb)')$$, '42809'),
 ('register_upcaster: fn an aggregate',  $$SELECT es.register_upcaster('BadT', 1, 'bad_up_agg(jsonb)')$$, '42809'),
 ('drop_upcaster: event_type NULL',      $$SELECT es.drop_upcaster(NULL, 1)$$, '22004'),
 ('drop_upcaster: event_type 201 bytes', $$SELECT es.drop_upcaster(repeat('t', 201), 1)$$, '22001'),
 ('drop_upcaster: from_version NULL',    $$SELECT es.drop_upcaster('BadOpened', NULL)$$, '22004'),
 ('drop_upcaster: from_version -1',      $$SELECT es.drop_upcaster('BadOpened', -1)$$, '22023'),
 ('drop_upcaster: not there',            $$SELECT es.drop_upcaster('BadOpened', 2)$$, '42704'),
 ('drop_upcaster: stored events need it', $$SELECT es.drop_upcaster('BadOpened', 1)$$, '2BP01'),
 -- data migrations
 ('register_data_migration: name NULL',  $$SELECT es.register_data_migration(NULL, 1, 'bad_mig()')$$, '22004'),
 ('register_data_migration: name empty', $$SELECT es.register_data_migration('', 1, 'bad_mig()')$$, '22023'),
 ('register_data_migration: name 201 bytes', $$SELECT es.register_data_migration(repeat('m', 201), 1, 'bad_mig()')$$, '22001'),
 ('register_data_migration: name taken', $$SELECT es.register_data_migration('bad migration', 987655, 'bad_mig()')$$, '42710'),
 ('register_data_migration: run_order NULL', $$SELECT es.register_data_migration('bad migration 2', NULL, 'bad_mig()')$$, '22004'),
 ('register_data_migration: run_order taken', $$SELECT es.register_data_migration('bad migration 2', 987654, 'bad_mig()')$$, '42710'),
 ('register_data_migration: procedure NULL', $$SELECT es.register_data_migration('bad migration 2', 987655, NULL)$$, '22004'),
 ('register_data_migration: procedure OID 0', $$SELECT es.register_data_migration('bad migration 2', 987655, 0)$$, '42883'),
 ('register_data_migration: procedure takes arguments', $$SELECT es.register_data_migration('bad migration 2', 987655, 'bad_mig_arg(int)')$$, '42P13'),
 ('register_data_migration: function returns a set', $$SELECT es.register_data_migration('bad migration 2', 987655, 'bad_mig_set()')$$, '42P13'),
 ('register_data_migration: an aggregate', $$SELECT es.register_data_migration('bad migration 2', 987655, 'bad_up_agg(jsonb)')$$, '42809'),
 ('drop_data_migration: name NULL',      $$SELECT es.drop_data_migration(NULL)$$, '22004'),
 ('drop_data_migration: unknown',        $$SELECT es.drop_data_migration('bad no migration')$$, '42704'),
 ('run_data_migrations: in a transaction', $$CALL es.run_data_migrations()$$, '2D000'),
 ('request_data_migrations: read-only transaction', $$SELECT es.request_data_migrations() FROM set_config('transaction_read_only', 'on', true)$$, '25006'),
 -- import and capture
 ('import_table: table NULL',            $$SELECT es.import_table(NULL, 'badimp')$$, '22004'),
 ('import_table: table OID 0',           $$SELECT es.import_table(0, 'badimp')$$, '42P01'),
 ('import_table: stream_prefix NULL',    $$SELECT es.import_table('bad_crud', NULL)$$, '22004'),
 ('import_table: stream_prefix empty',   $$SELECT es.import_table('bad_crud', '')$$, '22023'),
 ('import_table: stream_prefix with -',  $$SELECT es.import_table('bad_crud', 'bad-imp')$$, '22023'),
 ('import_table: stream_prefix 201 bytes', $$SELECT es.import_table('bad_crud', repeat('p', 201))$$, '22001'),
 ('import_table: stream names over 200 bytes', $$SELECT es.import_table('bad_crud', repeat('c', 199))$$, '22001'),
 ('import_table: a row''s stream is a queue', $$SELECT es.import_table('bad_crud', 'badq')$$, '42809'),
 ('import_table: id_column unknown',     $$SELECT es.import_table('bad_crud', 'badimp', 'nosuch')$$, '42703'),
 ('import_table: id_column not a key',   $$SELECT es.import_table('bad_nullable', 'badimp', 'alt')$$, '42P16'),
 ('import_table: event_type NULL',       $$SELECT es.import_table('bad_crud', 'badimp', NULL, NULL)$$, '22004'),
 ('import_table: event_type 201 bytes',  $$SELECT es.import_table('bad_crud', 'badimp', NULL, repeat('t', 201))$$, '22001'),
 ('import_table: no primary key',        $$SELECT es.import_table('bad_nopk', 'badimp')$$, '42P16'),
 ('import_table: composite key',         $$SELECT es.import_table('bad_comp', 'badimp')$$, '0A000'),
 ('import_table: float key',             $$SELECT es.import_table('bad_float', 'badimp')$$, '0A000'),
 ('import_table: a view',                $$SELECT es.import_table('bad_view', 'badimp')$$, '42809'),
 ('import_table: a table of es',         $$SELECT es.import_table('es.events', 'badimp')$$, '0A000'),
 ('capture_table: table NULL',           $$SELECT es.capture_table(NULL, 'badcap')$$, '22004'),
 ('capture_table: table OID 0',          $$SELECT es.capture_table(0, 'badcap')$$, '42P01'),
 ('capture_table: stream_prefix NULL',   $$SELECT es.capture_table('bad_nullable', NULL)$$, '22004'),
 ('capture_table: stream_prefix with -', $$SELECT es.capture_table('bad_nullable', 'bad-cap')$$, '22023'),
 ('capture_table: stream_prefix 201 bytes', $$SELECT es.capture_table('bad_nullable', repeat('p', 201))$$, '22001'),
 ('capture_table: id_column unknown',    $$SELECT es.capture_table('bad_nullable', 'badcap', 'nosuch')$$, '42703'),
 ('capture_table: event_type_prefix NULL', $$SELECT es.capture_table('bad_nullable', 'badcap', NULL, NULL)$$, '22004'),
 ('capture_table: event types over 200 bytes', $$SELECT es.capture_table('bad_nullable', 'badcap', NULL, repeat('t', 195))$$, '22001'),
 ('capture_table: no primary key',       $$SELECT es.capture_table('bad_nopk', 'badcap')$$, '42P16'),
 ('capture_table: a view',               $$SELECT es.capture_table('bad_view', 'badcap')$$, '42809'),
 ('capture_table: a temporary table',    $$SELECT es.capture_table('bad_temp', 'badcap')$$, '0A000'),
 ('capture_table: captured already',     $$SELECT es.capture_table('bad_crud', 'badcrud')$$, '42710'),
 ('uncapture_table: table NULL',         $$SELECT es.uncapture_table(NULL)$$, '22004'),
 ('uncapture_table: table OID 0',        $$SELECT es.uncapture_table(0)$$, '42P01'),
 ('uncapture_table: not captured',       $$SELECT es.uncapture_table('bad_nopk')$$, '42704'),
 ('capture: row''s stream is a queue',   $$INSERT INTO bad_cap_q VALUES (2)$$, '42809'),
 ('capture: stream name over 200 bytes', $$INSERT INTO bad_cap_long VALUES (1)$$, '22001'),
 ('capture: TRUNCATE',                   $$TRUNCATE bad_crud$$, '0A000'),
 ('capture_trigger: called directly',    $$SELECT es.capture_trigger()$$, '39P01'),
 ('capture_trigger: without arguments',  $$INSERT INTO bad_trig VALUES (1)$$, '39P01'),
 ('projection_catalog_guard: called directly', $$SELECT es.projection_catalog_guard()$$, '39P01'),
 ('upcasters_changed: called directly',  $$SELECT es.upcasters_changed()$$, '39P01'),
 ('events_guard: called directly',      $$SELECT es.events_guard()$$, '39P01'),
 -- queues
 ('create_queue: queue NULL',            $$SELECT es.create_queue(NULL)$$, '22004'),
 ('create_queue: queue empty',           $$SELECT es.create_queue('')$$, '22023'),
 ('create_queue: queue 201 bytes',       $$SELECT es.create_queue(repeat('q', 201))$$, '22001'),
 ('create_queue: queue control character', $$SELECT es.create_queue(E'badq\x1f')$$, '22023'),
 ('create_queue: a stream''s name',      $$SELECT es.create_queue('bad-1', if_not_exists => true)$$, '42809'),
 ('create_queue: exists',                $$SELECT es.create_queue('badq')$$, '42710'),
 ('create_queue: visibility_timeout NULL', $$SELECT es.create_queue('badq-3', NULL)$$, '22004'),
 ('create_queue: visibility_timeout 0',  $$SELECT es.create_queue('badq-3', '0')$$, '22023'),
 ('create_queue: visibility_timeout -1 s', $$SELECT es.create_queue('badq-3', '-1 second')$$, '22023'),
 ('create_queue: visibility_timeout 1000 years', $$SELECT es.create_queue('badq-3', '1000 years')$$, '22023'),
 ('create_queue: max_deliveries NULL',   $$SELECT es.create_queue('badq-3', '1 minute', NULL)$$, '22004'),
 ('create_queue: max_deliveries 0',      $$SELECT es.create_queue('badq-3', '1 minute', 0)$$, '22023'),
 ('create_queue: max_deliveries max int', $$SELECT es.create_queue('badq-3', '1 minute', 2147483647)$$, '22023'),
 ('drop_queue: queue NULL',              $$SELECT es.drop_queue(NULL)$$, '22004'),
 ('drop_queue: unknown',                 $$SELECT es.drop_queue('badq-nope')$$, '42704'),
 ('drop_queue: a stream',                $$SELECT es.drop_queue('bad-1', true)$$, '42809'),
 ('purge_queue: queue NULL',             $$SELECT es.purge_queue(NULL)$$, '22004'),
 ('purge_queue: queue 201 bytes',        $$SELECT es.purge_queue(repeat('q', 201))$$, '22001'),
 ('purge_queue: unknown',                $$SELECT es.purge_queue('badq-nope')$$, '42704'),
 ('purge_queue: a stream',               $$SELECT es.purge_queue('bad-1')$$, '42809'),
 ('purge_dead_letters: queue NULL',      $$SELECT es.purge_dead_letters(NULL)$$, '22004'),
 ('purge_dead_letters: unknown',         $$SELECT es.purge_dead_letters('badq-nope')$$, '42704'),
 ('purge_dead_letters: a stream',        $$SELECT es.purge_dead_letters('bad-1')$$, '42809'),
 ('redrive: queue NULL',                 $$SELECT es.redrive(NULL)$$, '22004'),
 ('redrive: unknown',                    $$SELECT es.redrive('badq-nope')$$, '42704'),
 ('redrive: a stream',                   $$SELECT es.redrive('bad-1')$$, '42809'),
 ('redrive: max_messages 0',             $$SELECT es.redrive('badq', 0)$$, '22023'),
 ('redrive: max_messages min int',       $$SELECT es.redrive('badq', -2147483648)$$, '22023'),
 ('enqueue: queue NULL',                 $$SELECT es.enqueue(NULL, '{}')$$, '22004'),
 ('enqueue: queue empty',                $$SELECT es.enqueue('', '{}')$$, '22023'),
 ('enqueue: queue 201 bytes',            $$SELECT es.enqueue(repeat('q', 201), '{}')$$, '22001'),
 ('enqueue: unknown',                    $$SELECT es.enqueue('badq-nope', '{}')$$, '42704'),
 ('enqueue: a stream',                   $$SELECT es.enqueue('bad-1', '{}')$$, '42809'),
 ('enqueue: payload NULL',               $$SELECT es.enqueue('badq', NULL)$$, '22004'),
 ('enqueue: headers an array',           $$SELECT es.enqueue('badq', '{}', '[1]')$$, '22023'),
 ('enqueue: headers JSON null',          $$SELECT es.enqueue('badq', '{}', 'null')$$, '22023'),
 ('enqueue: delay NULL',                 $$SELECT es.enqueue('badq', '{}', NULL, NULL)$$, '22004'),
 ('enqueue: delay -1 s',                 $$SELECT es.enqueue('badq', '{}', NULL, '-1 second')$$, '22023'),
 ('enqueue: delay 7 days 1 us',          $$SELECT es.enqueue('badq', '{}', NULL, '7 days 1 microsecond')$$, '22023'),
 ('enqueue: delay 1000 years',           $$SELECT es.enqueue('badq', '{}', NULL, '1000 years')$$, '22023'),
 ('enqueue: delay max months',           $$SELECT es.enqueue('badq', '{}', NULL, '2147483647 months')$$, '22023'),
 ('enqueue: delay min interval',         $$SELECT es.enqueue('badq', '{}', NULL, '-2147483648 days -2562047788 hours')$$, '22023'),
 ('enqueue: group_key empty',            $$SELECT es.enqueue('badq', '{}', NULL, '0', '')$$, '22023'),
 ('enqueue: group_key 201 bytes',        $$SELECT es.enqueue('badq', '{}', NULL, '0', repeat('g', 201))$$, '22001'),
 ('enqueue: group_key control character', $$SELECT es.enqueue('badq', '{}', NULL, '0', E'g\n')$$, '22023'),
 ('enqueue: payload 100 MB',             $$SELECT es.enqueue('badq', (SELECT j FROM bad_big))$$, '54000'),
 ('enqueue: headers 100 MB',             $$SELECT es.enqueue('badq', '{}', (SELECT j FROM bad_big))$$, '54000'),
 ('enqueue: payload 17 MB (default limit 16 MB)', $$SELECT es.enqueue('badq', jsonb_build_object('x', repeat('a', 17 * 1024 * 1024)))$$, '54000'),
 ('enqueue: payload nested 10,000 deep (accepted)', $$SELECT es.enqueue('badq', (SELECT arr FROM bad_deep), (SELECT obj FROM bad_deep))$$, '00000'),
 ('enqueue: read-only transaction',      $$SELECT es.enqueue('badq', '{}') FROM set_config('transaction_read_only', 'on', true)$$, '25006'),
 ('enqueue_batch: queue NULL',           $$SELECT * FROM es.enqueue_batch(NULL, ARRAY['{}']::jsonb[])$$, '22004'),
 ('enqueue_batch: unknown',              $$SELECT * FROM es.enqueue_batch('badq-nope', ARRAY['{}']::jsonb[])$$, '42704'),
 ('enqueue_batch: a stream',             $$SELECT * FROM es.enqueue_batch('bad-1', ARRAY['{}']::jsonb[])$$, '42809'),
 ('enqueue_batch: payloads NULL',        $$SELECT * FROM es.enqueue_batch('badq', NULL)$$, '22004'),
 ('enqueue_batch: payloads empty',       $$SELECT * FROM es.enqueue_batch('badq', ARRAY[]::jsonb[])$$, '22023'),
 ('enqueue_batch: a payload NULL',       $$SELECT * FROM es.enqueue_batch('badq', ARRAY['{}', NULL]::jsonb[])$$, '22004'),
 ('enqueue_batch: payloads two-dimensional', $$SELECT * FROM es.enqueue_batch('badq', ARRAY[['{}'], ['{}']]::jsonb[])$$, '22023'),
 ('enqueue_batch: 10,001 payloads',      $$SELECT * FROM es.enqueue_batch('badq', array_fill('{}'::jsonb, ARRAY[10001]))$$, '54000'),
 ('enqueue_batch: 100,001 payloads',     $$SELECT * FROM es.enqueue_batch('badq', array_fill('{}'::jsonb, ARRAY[100001]))$$, '54000'),
 ('enqueue_batch: headers a string',     $$SELECT * FROM es.enqueue_batch('badq', ARRAY['{}']::jsonb[], '"h"')$$, '22023'),
 ('enqueue_batch: delay NULL',           $$SELECT * FROM es.enqueue_batch('badq', ARRAY['{}']::jsonb[], NULL, NULL)$$, '22004'),
 ('enqueue_batch: delay 1000 years',     $$SELECT * FROM es.enqueue_batch('badq', ARRAY['{}']::jsonb[], NULL, '1000 years')$$, '22023'),
 ('enqueue_batch: group_key 201 bytes',  $$SELECT * FROM es.enqueue_batch('badq', ARRAY['{}']::jsonb[], NULL, '0', repeat('g', 201))$$, '22001'),
 ('enqueue_batch: a payload 17 MB',      $$SELECT * FROM es.enqueue_batch('badq', ARRAY['{}', jsonb_build_object('x', repeat('a', 17 * 1024 * 1024))])$$, '54000'),
 ('enqueue_batch: headers 100 MB',       $$SELECT * FROM es.enqueue_batch('badq', ARRAY['{}']::jsonb[], (SELECT j FROM bad_big))$$, '54000'),
 ('dequeue: queue NULL',                 $$SELECT * FROM es.dequeue(NULL, 'c')$$, '22004'),
 ('dequeue: unknown',                    $$SELECT * FROM es.dequeue('badq-nope', 'c')$$, '42704'),
 ('dequeue: a stream',                   $$SELECT * FROM es.dequeue('bad-1', 'c')$$, '42809'),
 ('dequeue: consumer NULL',              $$SELECT * FROM es.dequeue('badq', NULL)$$, '22004'),
 ('dequeue: consumer empty',             $$SELECT * FROM es.dequeue('badq', '')$$, '22023'),
 ('dequeue: consumer 201 bytes',         $$SELECT * FROM es.dequeue('badq', repeat('c', 201))$$, '22001'),
 ('dequeue: consumer control character', $$SELECT * FROM es.dequeue('badq', E'c\x01')$$, '22023'),
 ('dequeue: visibility_timeout 0',       $$SELECT * FROM es.dequeue('badq', 'c', '0')$$, '22023'),
 ('dequeue: visibility_timeout -1000 years', $$SELECT * FROM es.dequeue('badq', 'c', '-1000 years')$$, '22023'),
 ('dequeue: visibility_timeout 1000 years', $$SELECT * FROM es.dequeue('badq', 'c', '1000 years')$$, '22023'),
 ('dequeue: max_messages NULL',          $$SELECT * FROM es.dequeue('badq', 'c', NULL, NULL)$$, '22004'),
 ('dequeue: max_messages 0',             $$SELECT * FROM es.dequeue('badq', 'c', NULL, 0)$$, '22023'),
 ('dequeue: max_messages 10,001',        $$SELECT * FROM es.dequeue('badq', 'c', NULL, 10001)$$, '22023'),
 ('dequeue: max_messages min int',       $$SELECT * FROM es.dequeue('badq', 'c', NULL, -2147483648)$$, '22023'),
 ('dequeue: wait NULL',                  $$SELECT * FROM es.dequeue('badq', 'c', NULL, 1, NULL)$$, '22004'),
 ('dequeue: wait -1 us',                 $$SELECT * FROM es.dequeue('badq', 'c', NULL, 1, '-1 microsecond')$$, '22023'),
 ('dequeue: wait 1000 years',            $$SELECT * FROM es.dequeue('badq', 'c', NULL, 1, '1000 years')$$, '22023'),
 ('dequeue: read-only transaction',      $$SELECT * FROM set_config('transaction_read_only', 'on', true), es.dequeue('badq', 'c')$$, '25006'),
 ('ack: queue NULL',                     $$SELECT es.ack(NULL, bad_mid('badq'), bad_rcpt('badq'))$$, '22004'),
 ('ack: queue empty',                    $$SELECT es.ack('', bad_mid('badq'), bad_rcpt('badq'))$$, '22023'),
 ('ack: unknown',                        $$SELECT es.ack('badq-nope', 1, gen_random_uuid())$$, '42704'),
 ('ack: a stream',                       $$SELECT es.ack('bad-1', 1, gen_random_uuid())$$, '42809'),
 ('ack: message_id NULL',                $$SELECT es.ack('badq', NULL, bad_rcpt('badq'))$$, '22004'),
 ('ack: receipt NULL',                   $$SELECT es.ack('badq', bad_mid('badq'), NULL)$$, '22004'),
 ('ack: receipt not a UUID',             $$SELECT es.ack('badq', bad_mid('badq'), 'receipt')$$, '22P02'),
 ('ack: another queue''s message',       $$SELECT es.ack('badq', bad_mid('badq-2'), bad_rcpt('badq-2'))$$, '= false'),
 ('ack: another queue''s receipt',       $$SELECT es.ack('badq', bad_mid('badq'), bad_rcpt('badq-2'))$$, '= false'),
 ('ack: nil receipt',                    $$SELECT es.ack('badq', bad_mid('badq'), '00000000-0000-0000-0000-000000000000')$$, '= false'),
 ('ack: message_id max bigint',          $$SELECT es.ack('badq', 9223372036854775807, bad_rcpt('badq'))$$, '= false'),
 ('ack: read-only transaction',          $$SELECT es.ack('badq', bad_mid('badq'), bad_rcpt('badq')) FROM set_config('transaction_read_only', 'on', true)$$, '25006'),
 ('nack: queue NULL',                    $$SELECT es.nack(NULL, bad_mid('badq'), bad_rcpt('badq'))$$, '22004'),
 ('nack: a stream',                      $$SELECT es.nack('bad-1', 1, gen_random_uuid())$$, '42809'),
 ('nack: message_id NULL',               $$SELECT es.nack('badq', NULL, bad_rcpt('badq'))$$, '22004'),
 ('nack: receipt NULL',                  $$SELECT es.nack('badq', bad_mid('badq'), NULL)$$, '22004'),
 ('nack: requeue NULL',                  $$SELECT es.nack('badq', bad_mid('badq'), bad_rcpt('badq'), NULL)$$, '22004'),
 ('nack: delay NULL',                    $$SELECT es.nack('badq', bad_mid('badq'), bad_rcpt('badq'), true, NULL)$$, '22004'),
 ('nack: delay -1 s',                    $$SELECT es.nack('badq', bad_mid('badq'), bad_rcpt('badq'), true, '-1 second')$$, '22023'),
 ('nack: delay 1000 years',              $$SELECT es.nack('badq', bad_mid('badq'), bad_rcpt('badq'), true, '1000 years')$$, '22023'),
 ('nack: another queue''s receipt',      $$SELECT es.nack('badq', bad_mid('badq-2'), bad_rcpt('badq-2'))$$, '= false'),
 ('nack: read-only transaction',         $$SELECT es.nack('badq', bad_mid('badq'), bad_rcpt('badq')) FROM set_config('transaction_read_only', 'on', true)$$, '25006'),
 ('extend: queue NULL',                  $$SELECT es.extend(NULL, bad_mid('badq'), bad_rcpt('badq'), '1 minute')$$, '22004'),
 ('extend: a stream',                    $$SELECT es.extend('bad-1', 1, gen_random_uuid(), '1 minute')$$, '42809'),
 ('extend: message_id NULL',             $$SELECT es.extend('badq', NULL, bad_rcpt('badq'), '1 minute')$$, '22004'),
 ('extend: receipt NULL',                $$SELECT es.extend('badq', bad_mid('badq'), NULL, '1 minute')$$, '22004'),
 ('extend: visibility_timeout NULL',     $$SELECT es.extend('badq', bad_mid('badq'), bad_rcpt('badq'), NULL)$$, '22004'),
 ('extend: visibility_timeout 0',        $$SELECT es.extend('badq', bad_mid('badq'), bad_rcpt('badq'), '0')$$, '22023'),
 ('extend: visibility_timeout -1 s',     $$SELECT es.extend('badq', bad_mid('badq'), bad_rcpt('badq'), '-1 second')$$, '22023'),
 ('extend: visibility_timeout 1000 years', $$SELECT es.extend('badq', bad_mid('badq'), bad_rcpt('badq'), '1000 years')$$, '22023'),
 ('extend: another queue''s receipt',    $$SELECT es.extend('badq', bad_mid('badq-2'), bad_rcpt('badq-2'), '1 minute')$$, '= false'),
 ('extend: read-only transaction',       $$SELECT es.extend('badq', bad_mid('badq'), bad_rcpt('badq'), '1 minute') FROM set_config('transaction_read_only', 'on', true)$$, '25006'),
 -- configuration
 ('configure: stream NULL',              $$SELECT es.configure(NULL, max_count => 1)$$, '22004'),
 ('configure: stream 201 bytes',         $$SELECT es.configure(repeat('s', 201), max_count => 1)$$, '22001'),
 ('configure: unknown',                  $$SELECT es.configure('bad-nope', max_count => 1)$$, '42704'),
 ('configure: a category',               $$SELECT es.configure('bad', max_count => 1)$$, '42704'),
 ('configure: max_age -1 day',           $$SELECT es.configure('bad-1', max_age => '-1 day')$$, '22023'),
 ('configure: max_age 0',                $$SELECT es.configure('bad-1', max_age => '0')$$, '22023'),
 ('configure: max_age 1000 years',       $$SELECT es.configure('bad-1', max_age => '1000 years')$$, '22023'),
 ('configure: max_count 0',              $$SELECT es.configure('bad-1', max_count => 0)$$, '22023'),
 ('configure: max_count min bigint',     $$SELECT es.configure('bad-1', max_count => -9223372036854775808)$$, '22023'),
 ('configure: visibility_timeout of a stream', $$SELECT es.configure('bad-1', visibility_timeout => '1 minute')$$, '42809'),
 ('configure: max_deliveries of a stream', $$SELECT es.configure('bad-1', max_deliveries => 3)$$, '42809'),
 ('configure: retry_delay_max of a stream', $$SELECT es.configure('bad-1', retry_delay_max => '1 minute')$$, '42809'),
 ('configure: dead_letter_max_age of a stream', $$SELECT es.configure('bad-1', dead_letter_max_age => '1 day')$$, '42809'),
 ('configure: queue visibility_timeout 0', $$SELECT es.configure('badq', visibility_timeout => '0')$$, '22023'),
 ('configure: queue visibility_timeout 1000 years', $$SELECT es.configure('badq', visibility_timeout => '1000 years')$$, '22023'),
 ('configure: queue max_deliveries -1',  $$SELECT es.configure('badq', max_deliveries => -1)$$, '22023'),
 ('configure: queue max_deliveries 1001', $$SELECT es.configure('badq', max_deliveries => 1001)$$, '22023'),
 ('configure: queue retry_delay -1 s',   $$SELECT es.configure('badq', retry_delay => '-1 second')$$, '22023'),
 ('configure: queue retry_delay 1000 years', $$SELECT es.configure('badq', retry_delay => '1000 years')$$, '22023'),
 ('configure: queue retry_delay_max alone', $$SELECT es.configure('badq', retry_delay_max => '1 minute')$$, '22023'),
 ('configure: queue retry_delay_max below retry_delay', $$SELECT es.configure('badq', retry_delay => '1 minute', retry_delay_max => '1 second')$$, '22023'),
 ('configure: queue dead_letter_max_age 1000 years', $$SELECT es.configure('badq', dead_letter_max_age => '1000 years')$$, '22023'),
 ('configure: queue dead_letter_max_count 0', $$SELECT es.configure('badq', dead_letter_max_count => 0)$$, '22023'),
 ('configure_category: category NULL',   $$SELECT es.configure_category(NULL, max_count => 1)$$, '22004'),
 ('configure_category: category empty',  $$SELECT es.configure_category('', max_count => 1)$$, '22023'),
 ('configure_category: category 201 bytes', $$SELECT es.configure_category(repeat('c', 201), max_count => 1)$$, '22001'),
 ('configure_category: a stream',        $$SELECT es.configure_category('bad-1', max_count => 1)$$, '22023'),
 ('configure_category: max_age 1000 years', $$SELECT es.configure_category('bad', max_age => '1000 years')$$, '22023'),
 ('configure_category: max_count -1',    $$SELECT es.configure_category('bad', max_count => -1)$$, '22023'),
 ('reset_configuration: stream NULL',    $$SELECT es.reset_configuration(NULL)$$, '22004'),
 ('reset_configuration: stream empty',   $$SELECT es.reset_configuration('')$$, '22023'),
 ('reset_configuration: unknown',        $$SELECT es.reset_configuration('bad-nope')$$, '42704'),
 ('reset_configuration: a category',     $$SELECT es.reset_configuration('bad')$$, '42704'),
 ('reset_configuration: setting unknown', $$SELECT es.reset_configuration('bad-1', ARRAY['max_size'])$$, '22023'),
 ('reset_configuration: setting empty',  $$SELECT es.reset_configuration('badq', ARRAY[''])$$, '22023'),
 ('reset_configuration: setting NULL',   $$SELECT es.reset_configuration('bad-1', ARRAY[NULL]::text[])$$, '22004'),
 ('reset_configuration: queue setting of a stream', $$SELECT es.reset_configuration('bad-1', ARRAY['retry_delay'])$$, '42809'),
 ('reset_category_configuration: category NULL', $$SELECT es.reset_category_configuration(NULL)$$, '22004'),
 ('reset_category_configuration: category 201 bytes', $$SELECT es.reset_category_configuration(repeat('c', 201))$$, '22001'),
 ('reset_category_configuration: a stream', $$SELECT es.reset_category_configuration('bad-1')$$, '22023'),
 ('reset_category_configuration: setting unknown', $$SELECT es.reset_category_configuration('bad', ARRAY['nope'])$$, '22023'),
 ('reset_category_configuration: queue setting', $$SELECT es.reset_category_configuration('bad', ARRAY['visibility_timeout'])$$, '42809'),
 -- sweeps
 ('sweep: now NULL',                     $$SELECT * FROM es.sweep(NULL)$$, '22004'),
 ('sweep: now infinity',                 $$SELECT * FROM es.sweep('infinity')$$, '22008'),
 ('sweep: now -infinity',                $$SELECT * FROM es.sweep('-infinity')$$, '22008'),
 ('sweep: max_rows 0',                   $$SELECT * FROM es.sweep(now(), 0)$$, '22023'),
 ('sweep: read-only transaction',        $$SELECT * FROM set_config('transaction_read_only', 'on', true), es.sweep()$$, '25006'),
 ('sweep_redelivery: now NULL',          $$SELECT * FROM es.sweep_redelivery(NULL)$$, '22004'),
 ('sweep_redelivery: now infinity',      $$SELECT * FROM es.sweep_redelivery('infinity')$$, '22008'),
 ('sweep_redelivery: max_rows -1',       $$SELECT * FROM es.sweep_redelivery(now(), -1)$$, '22023'),
 ('sweep_retention: now NULL',           $$SELECT * FROM es.sweep_retention(NULL)$$, '22004'),
 ('sweep_retention: now -infinity',      $$SELECT * FROM es.sweep_retention('-infinity')$$, '22008'),
 ('sweep_retention: max_rows min bigint', $$SELECT * FROM es.sweep_retention(now(), -9223372036854775808)$$, '22023'),
 -- settings
 ('SET max_batch_size 0',                $$SET event_streaming.max_batch_size = 0$$, '22023'),
 ('SET max_batch_size 100,001',          $$SET event_streaming.max_batch_size = 100001$$, '22023'),
 ('SET max_read_count not a number',     $$SET event_streaming.max_read_count = 'lots'$$, '22023'),
 ('SET max_payload_size 0',              $$SET event_streaming.max_payload_size = 0$$, '22023'),
 ('SET max_payload_size 2 GB',           $$SET event_streaming.max_payload_size = '2GB'$$, '22023'),
 ('SET notify not a boolean',            $$SET event_streaming.notify = 'maybe'$$, '22023'),
 ('SET naptime (reload only)',           $$SET event_streaming.naptime = '10s'$$, '55P02'),
 ('SET a misspelt setting',              $$SET event_streaming.max_batch = 10$$, '42602');

-- Every function of the API has at least one bad call.
SELECT p.oid::regprocedure AS function_without_a_bad_call
  FROM pg_proc p
 WHERE p.pronamespace = 'es'::regnamespace
   AND NOT EXISTS (SELECT FROM bad_calls c WHERE c.sql ~ ('\mes\.' || p.proname || '\('))
 ORDER BY 1::text;

-- Run each call in a subtransaction of its own; undo one that succeeds too.
DO $$
DECLARE
    c record;
    state text;
    msg text;
    res text;
BEGIN
    FOR c IN SELECT * FROM bad_calls ORDER BY n LOOP
        res := NULL;
        BEGIN
            IF c.expected LIKE '=%' THEN
                EXECUTE c.sql INTO res;
            ELSE
                EXECUTE c.sql;
            END IF;
            RAISE SQLSTATE 'ZZ999';
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
        END;
        IF state = 'ZZ999' THEN
            state := '00000';
            msg := NULL;
        END IF;
        UPDATE bad_calls
           SET got = state, message = left(msg, 200), returned = coalesce(res, 'NULL')
         WHERE n = c.n;
    END LOOP;
END
$$;

-- The calls whose outcome is not the table's (none).
SELECT n, label, expected, got,
       CASE WHEN got <> '00000' THEN message
            WHEN expected LIKE '=%' THEN 'returned ' || returned ELSE 'succeeded' END AS outcome
  FROM bad_calls
 WHERE CASE WHEN expected LIKE '=%' THEN got <> '00000' OR returned <> substr(expected, 3)
            ELSE got IS DISTINCT FROM expected END
 ORDER BY n;
SELECT format('bad calls: %s, matched: %s', count(*),
              count(*) FILTER (WHERE CASE WHEN expected LIKE '=%' THEN got = '00000' AND returned = substr(expected, 3)
                                          ELSE got = expected END)) AS summary
  FROM bad_calls;
SELECT expected AS sqlstate, count(*) AS calls FROM bad_calls GROUP BY 1 ORDER BY 1;

-- Nothing they touched changed: streams, events, queues, messages and their
-- leases, settings, subscriptions, projections, upcasters, migrations,
-- captures, and the read horizon.
SELECT item, b.value AS before, a.value AS after
  FROM bad_state_before b FULL JOIN bad_state a USING (item)
 WHERE a.value IS DISTINCT FROM b.value;
-- The transaction's settings are as they were.
SELECT current_setting('transaction_read_only') AS read_only,
       current_setting('event_streaming.max_batch_size') AS max_batch_size;
ROLLBACK;

-- Once the transaction is gone, its position slot is too: the settled
-- position is back where it was, and none of it is left.
SELECT es.settled_position() = :settled_before AS settled_position_unchanged;
SELECT count(*) AS bad_streams_left FROM es.stream_catalog WHERE stream LIKE 'bad%';
SELECT count(*) AS bad_queues_left FROM es.queues WHERE queue LIKE 'bad%';
RESET client_min_messages;
