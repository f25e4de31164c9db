-- Every bad input, with its SQLSTATE.  Nothing may be written by any of them.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS event_streaming;
RESET client_min_messages;

CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text; msg text; detail text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
    RETURN state || ': ' || msg || coalesce(' | ' || nullif(detail, ''), '');
END $$;

SELECT es.append('err-1', 'Opened', '{}');
SELECT count(*) AS events_before FROM es.events \gset
SELECT es.create_queue('err-q');

CREATE TABLE pg_temp.cases (n serial, stmt text);
INSERT INTO pg_temp.cases (stmt) VALUES
 -- stream names
 ($$SELECT es.append(NULL, 'T', '{}')$$),
 ($$SELECT es.append('', 'T', '{}')$$),
 ($$SELECT es.append(repeat('x', 201), 'T', '{}')$$),
 ($$SELECT es.append(repeat('é', 101), 'T', '{}')$$),
 ($$SELECT es.append(E'bad\nname', 'T', '{}')$$),
 ($$SELECT es.append(E'tab\there', 'T', '{}')$$),
 ($$SELECT es.append(E'del\x7f', 'T', '{}')$$),
 -- event types and data
 ($$SELECT es.append('err-1', NULL, '{}')$$),
 ($$SELECT es.append('err-1', '', '{}')$$),
 ($$SELECT es.append('err-1', repeat('t', 201), '{}')$$),
 ($$SELECT es.append('err-1', E'T\r', '{}')$$),
 ($$SELECT es.append('err-1', 'T', NULL)$$),
 ($$SELECT es.append('err-1', 'T', '{}', '[1]')$$),
 ($$SELECT es.append('err-1', 'T', '{}', '"meta"')$$),
 -- expected versions
 ($$SELECT es.append('err-1', 'T', '{}', NULL, -2)$$),
 ($$SELECT es.append('err-1', 'T', '{}', NULL, -9223372036854775808)$$),
 ($$SELECT es.append('err-1', 'T', '{}', NULL, 5)$$),
 ($$SELECT es.append('err-1', 'T', '{}', NULL, -1)$$),
 ($$SELECT es.append('err-new', 'T', '{}', NULL, 0)$$),
 ($$SELECT es.append_event('err-1', 'T', '{}', NULL, 3)$$),
 -- batches
 ($$SELECT es.append_batch(NULL, '[{"type":"T","data":1}]')$$),
 ($$SELECT es.append_batch('', '[{"type":"T","data":1}]')$$),
 ($$SELECT es.append_batch('err-1', NULL)$$),
 ($$SELECT es.append_batch('err-1', '{"type":"T","data":1}')$$),
 ($$SELECT es.append_batch('err-1', '"text"')$$),
 ($$SELECT es.append_batch('err-1', '[]')$$),
 ($$SELECT es.append_batch('err-1', '[1]')$$),
 ($$SELECT es.append_batch('err-1', '[[{"type":"T","data":1}]]')$$),
 ($$SELECT es.append_batch('err-1', '[{"data":1}]')$$),
 ($$SELECT es.append_batch('err-1', '[{"type":"T"}]')$$),
 ($$SELECT es.append_batch('err-1', '[{"type":5,"data":1}]')$$),
 ($$SELECT es.append_batch('err-1', '[{"type":"","data":1}]')$$),
 ($$SELECT es.append_batch('err-1', '[{"type":"T","data":1,"metadata":[1]}]')$$),
 ($$SELECT es.append_batch('err-1', '[{"type":"T","data":1,"id":"not-a-uuid"}]')$$),
 ($$SELECT es.append_batch('err-1', '[{"type":"T","data":1,"id":7}]')$$),
 ($$SELECT es.append_batch('err-1', '[{"type":"T","data":1,"typo":true}]')$$),
 ($$SELECT es.append_batch('err-1', '[{"type":"T","data":1,"id":"c0000000-0000-4000-8000-000000000001"},{"type":"T","data":2,"id":"c0000000-0000-4000-8000-000000000001"}]')$$),
 ($$SELECT es.append_batch('err-1', '[{"type":"T","data":1}]', -2)$$),
 ($$SELECT es.append_batch('err-1', '[{"type":"T","data":1}]', 9)$$),
 ($$SELECT es.append_batch('err-1', (SELECT jsonb_agg(jsonb_build_object('type','T','data',i)) FROM generate_series(1, 10001) i))$$),
 -- reads
 ($$SELECT * FROM es.read_stream(NULL)$$),
 ($$SELECT * FROM es.read_stream('')$$),
 ($$SELECT * FROM es.read_stream(repeat('x', 201))$$),
 ($$SELECT * FROM es.read_stream('err-1', -1)$$),
 ($$SELECT * FROM es.read_stream('err-1', 0, 0)$$),
 ($$SELECT * FROM es.read_stream('err-1', 0, -5)$$),
 ($$SELECT * FROM es.read_stream('err-1', 0, 2147483647)$$),
 ($$SELECT * FROM es.read_stream('err-1', 0, NULL)$$),
 ($$SELECT * FROM es.read_stream_backward('err-1', -1)$$),
 ($$SELECT * FROM es.read_stream_backward('err-1', NULL, 0)$$),
 ($$SELECT es.stream_version(NULL)$$),
 ($$SELECT es.stream_version('')$$),
 ($$SELECT es.stream_version(E'x\ny')$$),
 -- queues: names and settings
 ($$SELECT es.create_queue(NULL)$$),
 ($$SELECT es.create_queue('')$$),
 ($$SELECT es.create_queue(repeat('q', 201))$$),
 ($$SELECT es.create_queue(E'q\n1')$$),
 ($$SELECT es.create_queue('err-1')$$),
 ($$SELECT es.create_queue('err-q')$$),
 ($$SELECT es.create_queue('err-q2', NULL)$$),
 ($$SELECT es.create_queue('err-q2', '0')$$),
 ($$SELECT es.create_queue('err-q2', '-1 second')$$),
 ($$SELECT es.create_queue('err-q2', '12 hours 1 second')$$),
 ($$SELECT es.create_queue('err-q2', '100000000 years')$$),
 ($$SELECT es.create_queue('err-q2', '1 second', 0)$$),
 ($$SELECT es.create_queue('err-q2', '1 second', -1)$$),
 ($$SELECT es.create_queue('err-q2', '1 second', 1001)$$),
 ($$SELECT es.create_queue('err-q2', '1 second', NULL)$$),
 ($$SELECT es.drop_queue(NULL)$$),
 ($$SELECT es.drop_queue('err-nope')$$),
 ($$SELECT es.drop_queue('err-1')$$),
 ($$SELECT es.drop_queue('err-1', if_exists => true)$$),
 ($$SELECT es.purge_queue('err-nope')$$),
 ($$SELECT es.purge_dead_letters('err-1')$$),
 ($$SELECT es.redrive('err-nope')$$),
 ($$SELECT es.redrive('err-q', 0)$$),
 ($$SELECT es.redrive('err-q', -5)$$),
 -- enqueue
 ($$SELECT es.enqueue(NULL, '{}')$$),
 ($$SELECT es.enqueue('err-nope', '{}')$$),
 ($$SELECT es.enqueue('err-1', '{}')$$),
 ($$SELECT es.enqueue('err-q', NULL)$$),
 ($$SELECT es.enqueue('err-q', '{}', '[1]')$$),
 ($$SELECT es.enqueue('err-q', '{}', '"h"')$$),
 ($$SELECT es.enqueue('err-q', '{}', NULL, NULL)$$),
 ($$SELECT es.enqueue('err-q', '{}', NULL, '-1 second')$$),
 ($$SELECT es.enqueue('err-q', '{}', NULL, '8 days')$$),
 ($$SELECT es.enqueue('err-q', '{}', NULL, '0', '')$$),
 ($$SELECT es.enqueue('err-q', '{}', NULL, '0', repeat('g', 201))$$),
 ($$SELECT es.enqueue_batch('err-q', NULL)$$),
 ($$SELECT es.enqueue_batch('err-q', ARRAY[]::jsonb[])$$),
 ($$SELECT es.enqueue_batch('err-q', ARRAY['{}', NULL]::jsonb[])$$),
 ($$SELECT es.enqueue_batch('err-q', ARRAY[['{}'], ['{}']]::jsonb[])$$),
 ($$SELECT es.enqueue_batch('err-q', array_fill('{}'::jsonb, ARRAY[10001]))$$),
 ($$SELECT es.enqueue_batch('err-1', ARRAY['{}']::jsonb[])$$),
 -- dequeue
 ($$SELECT * FROM es.dequeue(NULL, 'c')$$),
 ($$SELECT * FROM es.dequeue('err-nope', 'c')$$),
 ($$SELECT * FROM es.dequeue('err-1', 'c')$$),
 ($$SELECT * FROM es.dequeue('err-q', NULL)$$),
 ($$SELECT * FROM es.dequeue('err-q', '')$$),
 ($$SELECT * FROM es.dequeue('err-q', 'c', '0')$$),
 ($$SELECT * FROM es.dequeue('err-q', 'c', '-5 seconds')$$),
 ($$SELECT * FROM es.dequeue('err-q', 'c', '1 year')$$),
 ($$SELECT * FROM es.dequeue('err-q', 'c', NULL, 0)$$),
 ($$SELECT * FROM es.dequeue('err-q', 'c', NULL, -1)$$),
 ($$SELECT * FROM es.dequeue('err-q', 'c', NULL, 10001)$$),
 ($$SELECT * FROM es.dequeue('err-q', 'c', NULL, NULL)$$),
 ($$SELECT * FROM es.dequeue('err-q', 'c', NULL, 1, '-1 second')$$),
 ($$SELECT * FROM es.dequeue('err-q', 'c', NULL, 1, '2 hours')$$),
 ($$SELECT * FROM es.dequeue('err-q', 'c', NULL, 1, NULL)$$),
 -- ack, nack, extend
 ($$SELECT es.ack('err-q', 1, NULL)$$),
 ($$SELECT es.ack('err-q', NULL, gen_random_uuid())$$),
 ($$SELECT es.ack('err-q', 1, 'not-a-receipt')$$),
 ($$SELECT es.ack('err-nope', 1, gen_random_uuid())$$),
 ($$SELECT es.ack('err-1', 1, gen_random_uuid())$$),
 ($$SELECT es.nack('err-q', 1, gen_random_uuid(), NULL)$$),
 ($$SELECT es.nack('err-q', 1, gen_random_uuid(), true, '-1 second')$$),
 ($$SELECT es.nack('err-q', 1, gen_random_uuid(), true, NULL)$$),
 ($$SELECT es.nack('err-q', 1, NULL)$$),
 ($$SELECT es.extend('err-q', 1, gen_random_uuid(), '0')$$),
 ($$SELECT es.extend('err-q', 1, gen_random_uuid(), '13 hours')$$),
 ($$SELECT es.extend('err-q', 1, gen_random_uuid(), NULL)$$),
 ($$SELECT es.extend('err-q', 1, NULL, '1 minute')$$),
 -- configuration
 ($$SELECT es.configure(NULL, max_count => 1)$$),
 ($$SELECT es.configure('err-nope', max_count => 1)$$),
 ($$SELECT es.configure('err-1', max_age => '-1 day')$$),
 ($$SELECT es.configure('err-1', max_age => '0')$$),
 ($$SELECT es.configure('err-1', max_age => '101 years')$$),
 ($$SELECT es.configure('err-1', max_count => 0)$$),
 ($$SELECT es.configure('err-1', max_count => -5)$$),
 ($$SELECT es.configure('err-1', visibility_timeout => '1 minute')$$),
 ($$SELECT es.configure('err-1', max_deliveries => 3)$$),
 ($$SELECT es.configure('err-1', retry_delay => '1 second')$$),
 ($$SELECT es.configure('err-1', dead_letter_max_count => 10)$$),
 ($$SELECT es.configure('err-q', visibility_timeout => '0')$$),
 ($$SELECT es.configure('err-q', visibility_timeout => '13 hours')$$),
 ($$SELECT es.configure('err-q', max_deliveries => 0)$$),
 ($$SELECT es.configure('err-q', max_deliveries => 1001)$$),
 ($$SELECT es.configure('err-q', retry_delay => '-1 second')$$),
 ($$SELECT es.configure('err-q', retry_delay => '8 days')$$),
 ($$SELECT es.configure('err-q', retry_delay_max => '1 minute')$$),
 ($$SELECT es.configure('err-q', retry_delay => '1 minute', retry_delay_max => '1 second')$$),
 ($$SELECT es.configure('err-q', dead_letter_max_age => '0')$$),
 ($$SELECT es.configure('err-q', dead_letter_max_count => 0)$$),
 ($$SELECT es.configure('err-q', max_count => 0)$$),
 ($$SELECT es.configure_category(NULL, max_count => 1)$$),
 ($$SELECT es.configure_category('', max_count => 1)$$),
 ($$SELECT es.configure_category('err-1', max_count => 1)$$),
 ($$SELECT es.configure_category('err', max_count => 0)$$),
 ($$SELECT es.configure_category('err', max_age => '-1 hour')$$),
 ($$SELECT es.reset_configuration('err-nope')$$),
 ($$SELECT es.reset_configuration('err-1', ARRAY['nope'])$$),
 ($$SELECT es.reset_configuration('err-1', ARRAY['visibility_timeout'])$$),
 ($$SELECT es.reset_configuration('err-1', ARRAY[NULL])$$),
 ($$SELECT es.reset_category_configuration('err', ARRAY['max_deliveries'])$$),
 ($$SELECT es.reset_category_configuration('a-b')$$),
 -- sweeps
 ($$SELECT * FROM es.sweep(NULL)$$),
 ($$SELECT * FROM es.sweep(now(), 0)$$),
 ($$SELECT * FROM es.sweep_retention(now(), -1)$$),
 ($$SELECT * FROM es.sweep_redelivery(NULL)$$),
 ($$SELECT * FROM es.sweep('infinity')$$),
 -- settings: out of range, and the reserved prefix
 ($$SET event_streaming.max_batch_size = 0$$),
 ($$SET event_streaming.max_read_count = -1$$),
 ($$SET event_streaming.sweep_batch_size = 0$$),
 ($$SET event_streaming.naptime = 5$$),
 ($$SET event_streaming.no_such_setting = 1$$);

SELECT n, pg_temp.try(stmt) AS result FROM pg_temp.cases ORDER BY n;

-- None of them wrote anything.
SELECT count(*) - :events_before AS events_written FROM es.events;
SELECT count(*) AS streams_registered FROM es.stream_catalog WHERE stream LIKE 'err-%' AND stream NOT IN ('err-1', 'err-q');
SELECT count(*) AS messages_written FROM es.messages;
SELECT queue, visibility_timeout, max_deliveries FROM es.queues WHERE queue LIKE 'err-%';
SELECT count(*) AS settings_written FROM es.configuration WHERE scope <> 'queue';
SELECT name, max_age, max_count, retry_delay, retry_delay_max, dead_letter_max_age, dead_letter_max_count
  FROM es.configuration WHERE name LIKE 'err-%';
