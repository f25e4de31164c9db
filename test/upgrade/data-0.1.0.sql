-- Data written through the 0.1.0 API, for test/t/012_upgrade_matrix.pl: run
-- with psql -f (ON_ERROR_STOP) right after CREATE EXTENSION ... VERSION
-- '0.1.0'.  Deterministic input; every name starts with "upg" so that it
-- meets no name of the pg_regress suite.  Later versions' files include this
-- one (\ir) and add their own API.
-- Tables: es.stream_catalog, es.events; sequence es.global_position_seq.

-- Single appends: expected versions, metadata (correlation and causation
-- ids), a fixed event id.
SELECT es.append('upgorder-1', 'OrderPlaced', '{"total": 42}',
                 '{"correlation_id": "req-1", "causation_id": "cmd-1"}', -1,
                 'e0000000-0000-4000-8000-000000000001');
SELECT es.append('upgorder-1', 'OrderPaid', '{"amount": 42}', NULL, 0);
SELECT * FROM es.append_event('upgorder-2', 'OrderPlaced', '[1, 2, 3]', '{"user": "ann"}', NULL,
                              'e0000000-0000-4000-8000-000000000002');
-- A batch, with per-event metadata and ids.
SELECT es.append_batch('upgcart-1', '[
  {"type": "CartCreated", "data": {"by": "ann"}},
  {"type": "ItemAdded", "data": {"sku": "A"}, "metadata": {"correlation_id": "c-1"},
   "id": "e0000000-0000-4000-8000-000000000003"},
  {"type": "ItemAdded", "data": {"sku": "B"}, "metadata": null}
]', -1);
SELECT es.append('upgorder-1', 'OrderShipped', '"by post"', '{"causation_id": "cmd-2"}', 1);
-- An idempotent retry: returns the original offset, writes nothing.
SELECT * FROM es.append_event('upgorder-1', 'OrderPlaced', '{"total": 42}', NULL, NULL,
                              'e0000000-0000-4000-8000-000000000001');
-- A longer stream (0.3.0's file trims it with retention), scalar payloads.
SELECT es.append('upglog-1', 'Line', to_jsonb(i)) FROM generate_series(1, 6) AS i;
SELECT es.append('upgjob-1', 'Started', 'null');

-- Reads.
SELECT stream_offset, event_type, data FROM es.read_stream('upgorder-1');
SELECT stream_offset, event_type FROM es.read_stream_backward('upglog-1', NULL, 2);
SELECT es.stream_version('upgorder-1'), es.stream_version('upgnone-1');
SELECT stream, kind, version, event_count FROM es.streams WHERE stream LIKE 'upg%' ORDER BY stream;
