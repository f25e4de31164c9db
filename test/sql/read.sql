-- Reads: forward, backward, limits, past the end, versions.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS event_streaming;
RESET client_min_messages;

SELECT es.append_batch('log-1', (SELECT jsonb_agg(jsonb_build_object('type', 'Line', 'data', i))
                                   FROM generate_series(0, 9) i));

SELECT stream_offset, data FROM es.read_stream('log-1');
SELECT stream_offset, data FROM es.read_stream('log-1', 7);
SELECT stream_offset, data FROM es.read_stream('log-1', 2, 3);
-- Past the end: no rows, no error.
SELECT count(*) FROM es.read_stream('log-1', 10);
SELECT count(*) FROM es.read_stream('log-1', 9223372036854775807);
-- A stream that does not exist reads as empty.
SELECT count(*) FROM es.read_stream('log-none');

SELECT stream_offset, data FROM es.read_stream_backward('log-1', NULL, 3);
SELECT stream_offset, data FROM es.read_stream_backward('log-1', 4, 2);
SELECT stream_offset, data FROM es.read_stream_backward('log-1', 0);
SELECT count(*) FROM es.read_stream_backward('log-1', 100);
SELECT count(*) FROM es.read_stream_backward('log-none');

-- Every column of the event is there.
SELECT global_position > 0 AS has_position, stream, stream_offset, event_id IS NOT NULL AS has_id,
       event_type, schema_version, data, metadata, correlation_id, causation_id,
       created_at <= now() AS created_ok
  FROM es.read_stream('log-1', 0, 1);

-- max_count is bounded by event_streaming.max_read_count.
SET event_streaming.max_read_count = 5;
SELECT count(*) FROM es.read_stream('log-1', 0, 5);
SELECT count(*) FROM es.read_stream('log-1', 0, 6);
RESET event_streaming.max_read_count;

-- Reads see the caller's snapshot.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM es.read_stream('log-1');
SELECT es.stream_version('log-1');
COMMIT;

-- A queue's name is not a stream (queues arrive in 0.2.0; the catalog knows the kind).
INSERT INTO es.stream_catalog (stream, kind) VALUES ('jobs', 'ephemeral');
SELECT count(*) FROM es.read_stream('jobs');
SELECT es.stream_version('jobs');
SELECT es.append('jobs', 'X', '{}');
SELECT es.append_batch('jobs', '[{"type": "X", "data": {}}]');
DELETE FROM es.stream_catalog WHERE stream = 'jobs';
