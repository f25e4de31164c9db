-- Batch appends: one lock, contiguous offsets, idempotent retries.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS event_streaming;
RESET client_min_messages;

SELECT es.append_batch('cart-1', '[
  {"type": "Created", "data": {"by": "bob"}},
  {"type": "ItemAdded", "data": {"sku": "A"}, "metadata": {"correlation_id": "c-1"}},
  {"type": "ItemAdded", "data": {"sku": "B"}, "metadata": null, "id": null}
]');
SELECT stream_offset, event_type, data, correlation_id FROM es.read_stream('cart-1');

-- Expected version applies to the batch as a whole.
SELECT es.append_batch('cart-1', '[{"type": "Checked", "data": {}}]', 2);
SELECT es.append_batch('cart-1', '[{"type": "Checked", "data": {}}]', 2);
SELECT es.append_batch('cart-2', '[{"type": "Created", "data": {}}]', -1);
SELECT es.append_batch('cart-2', '[{"type": "Created", "data": {}}]', -1);

-- Offsets are contiguous and positions increase within the batch.
SELECT es.append_batch('cart-3', (SELECT jsonb_agg(jsonb_build_object('type', 'Tick', 'data', i))
                                    FROM generate_series(1, 500) i));
SELECT count(*), min(stream_offset), max(stream_offset),
       bool_and(data::int = stream_offset + 1) AS in_order
  FROM es.read_stream('cart-3', 0, 1000);
SELECT bool_and(global_position > prev) AS positions_increase FROM (
  SELECT global_position, lag(global_position) OVER (ORDER BY stream_offset) AS prev
    FROM es.events WHERE stream = 'cart-3') s WHERE prev IS NOT NULL;

-- Idempotent retry of a batch with ids: the original result, nothing new.
SELECT es.append_batch('cart-4', '[
  {"type": "A", "data": 1, "id": "b0000000-0000-4000-8000-000000000001"},
  {"type": "B", "data": 2, "id": "b0000000-0000-4000-8000-000000000002"}
]', -1);
SELECT es.append_batch('cart-4', '[
  {"type": "A", "data": 1, "id": "b0000000-0000-4000-8000-000000000001"},
  {"type": "B", "data": 2, "id": "b0000000-0000-4000-8000-000000000002"}
]', -1);
SELECT es.stream_version('cart-4');
-- A batch that repeats only some of the ids is refused, nothing written.
SELECT es.append_batch('cart-4', '[
  {"type": "B", "data": 2, "id": "b0000000-0000-4000-8000-000000000002"},
  {"type": "C", "data": 3, "id": "b0000000-0000-4000-8000-000000000003"}
]');
-- The same ids sent to another stream are refused.
SELECT es.append_batch('cart-5', '[
  {"type": "A", "data": 1, "id": "b0000000-0000-4000-8000-000000000001"},
  {"type": "B", "data": 2, "id": "b0000000-0000-4000-8000-000000000002"}
]');
SELECT es.stream_version('cart-4'), es.stream_version('cart-5');

-- A bad event anywhere refuses the whole batch.
SELECT es.append_batch('cart-6', '[{"type": "A", "data": 1}, {"type": "", "data": 2}]');
SELECT es.stream_version('cart-6');

-- The batch size limit follows event_streaming.max_batch_size.
SET event_streaming.max_batch_size = 3;
SELECT es.append_batch('cart-7', '[{"type":"A","data":1},{"type":"A","data":2},{"type":"A","data":3},{"type":"A","data":4}]');
SELECT es.append_batch('cart-7', '[{"type":"A","data":1},{"type":"A","data":2},{"type":"A","data":3}]');
RESET event_streaming.max_batch_size;
