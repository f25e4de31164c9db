-- Event schema versions: upcaster chains, every read path upcasting, the raw
-- read, registration and drop rules.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS event_streaming;
SELECT es.settled_position() AS base \gset
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text; msg text; detail text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
    -- Positions depend on the tests run before this one.
    RETURN state || ': ' || regexp_replace(msg, 'event [0-9]+ ', 'event N ')
           || coalesce(' | ' || nullif(detail, ''), '');
END $$;

-- Version 1: {"total": n}.  Version 2 adds a currency.  Version 3 renames
-- total to amount and records who placed it, from the metadata.
CREATE FUNCTION up_currency(d jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE
  AS $$ SELECT d || '{"currency": "EUR"}' $$;
CREATE FUNCTION up_amount(d jsonb, m jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE
  AS $$ SELECT (d - 'total') || jsonb_build_object('amount', d->'total', 'by', m->'user') $$;

SELECT es.append('upc_order-1', 'UpcPlaced', '{"total": 10}', '{"user": "ann"}');
SELECT es.append('upc_order-1', 'UpcNoted', '{"text": "v1 forever"}');
SELECT es.register_upcaster('UpcPlaced', 1, 'up_currency(jsonb)');
-- From now on appends are stamped with version 2.
SELECT es.append('upc_order-1', 'UpcPlaced', '{"total": 20, "currency": "USD"}');
SELECT es.register_upcaster('UpcPlaced', 2, 'up_amount(jsonb,jsonb)');
SELECT es.append('upc_order-2', 'UpcPlaced', '{"amount": 30, "currency": "EUR", "by": "bob"}');
SELECT es.append_batch('upc_order-2', '[{"type": "UpcPlaced", "data": {"amount": 1, "currency": "EUR", "by": null}}]');

-- Stored: each event as written, with the version it was written at.
SELECT stream, stream_offset, event_type, schema_version, data
  FROM es.events WHERE stream LIKE 'upc_order-%' ORDER BY global_position;
-- Raw read: the same.
SELECT stream_offset, event_type, schema_version, data FROM es.read_stream_raw('upc_order-1');
-- Every other read path: the current version.
SELECT stream_offset, event_type, schema_version, data FROM es.read_stream('upc_order-1');
SELECT stream_offset, schema_version, data FROM es.read_stream_backward('upc_order-1', NULL, 2);
SELECT global_position - :base AS pos, stream, schema_version, data
  FROM es.read_all(:base, 100, ARRAY['upc_order']);
SELECT global_position - :base AS pos, schema_version, data
  FROM es.read_all(:base, 100, NULL, ARRAY['UpcPlaced']);
-- Under REPEATABLE READ (another code path inside read_all).
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT global_position - :base AS pos, schema_version, data FROM es.read_all(:base, 2, ARRAY['upc_order']);
COMMIT;
SELECT es.create_subscription('upc_sub', 'upc_order', 'beginning');
SELECT stream, stream_offset, schema_version, data FROM es.read_subscription('upc_sub', 10);
-- A projection sees upcast events too, also when rebuilt.
CREATE TABLE upc_totals (stream text PRIMARY KEY, amount numeric NOT NULL, versions int[] NOT NULL);
CREATE FUNCTION upc_project(e es.event) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF e.event_type = 'UpcPlaced' THEN
    INSERT INTO upc_totals VALUES (e.stream, (e.data->>'amount')::numeric, ARRAY[e.schema_version])
      ON CONFLICT (stream) DO UPDATE
        SET amount = upc_totals.amount + EXCLUDED.amount,
            versions = upc_totals.versions || EXCLUDED.versions;
  END IF;
END $$;
SELECT es.create_projection('upc_proj', 'upc_order', 'upc_project(es.event)');
SELECT es.run_projection('upc_proj');
SELECT * FROM upc_totals ORDER BY stream;
SELECT es.rebuild_projection('upc_proj', ARRAY['upc_totals'::regclass]);
SELECT es.run_projection('upc_proj');
SELECT * FROM upc_totals ORDER BY stream;
-- The stored rows did not change.
SELECT stream_offset, schema_version, data FROM es.events WHERE stream = 'upc_order-1' ORDER BY stream_offset;

SELECT event_type, current_version, oldest_upcast_version, upcasters
  FROM es.event_types WHERE event_type LIKE 'Upc%' ORDER BY event_type;

-- Registration errors.
SELECT pg_temp.try($$SELECT es.register_upcaster('UpcPlaced', 2, 'up_currency(jsonb)')$$);   -- duplicate step
SELECT pg_temp.try($$SELECT es.register_upcaster('UpcPlaced', 1, 'up_currency(jsonb)')$$);   -- duplicate step
SELECT pg_temp.try($$SELECT es.register_upcaster('UpcPlaced', 4, 'up_currency(jsonb)')$$);   -- gap
SELECT pg_temp.try($$SELECT es.register_upcaster('UpcOther', 2, 'up_currency(jsonb)')$$);    -- first step not from 1
SELECT pg_temp.try($$SELECT es.register_upcaster('UpcOther', 0, 'up_currency(jsonb)')$$);
SELECT pg_temp.try($$SELECT es.register_upcaster('UpcOther', -1, 'up_currency(jsonb)')$$);
SELECT pg_temp.try($$SELECT es.register_upcaster('UpcOther', 2147483647, 'up_currency(jsonb)')$$);
SELECT pg_temp.try($$SELECT es.register_upcaster('UpcOther', NULL, 'up_currency(jsonb)')$$);
SELECT pg_temp.try($$SELECT es.register_upcaster(NULL, 1, 'up_currency(jsonb)')$$);
SELECT pg_temp.try($$SELECT es.register_upcaster('', 1, 'up_currency(jsonb)')$$);
SELECT pg_temp.try($$SELECT es.register_upcaster(repeat('x', 201), 1, 'up_currency(jsonb)')$$);
SELECT pg_temp.try($$SELECT es.register_upcaster('UpcOther', 1, NULL)$$);
SELECT pg_temp.try($$SELECT es.register_upcaster('UpcOther', 1, 99999999)$$);
CREATE FUNCTION up_text(d text) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
CREATE FUNCTION up_ret_text(d jsonb) RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$;
CREATE FUNCTION up_three(d jsonb, m jsonb, x jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT d $$;
CREATE FUNCTION up_set(d jsonb) RETURNS SETOF jsonb LANGUAGE sql AS $$ SELECT d $$;
CREATE PROCEDURE up_proc(d jsonb) LANGUAGE sql AS $$ SELECT 1 $$;
SELECT pg_temp.try($$SELECT es.register_upcaster('UpcOther', 1, 'up_text(text)')$$);
SELECT pg_temp.try($$SELECT es.register_upcaster('UpcOther', 1, 'up_ret_text(jsonb)')$$);
SELECT pg_temp.try($$SELECT es.register_upcaster('UpcOther', 1, 'up_three(jsonb,jsonb,jsonb)')$$);
SELECT pg_temp.try($$SELECT es.register_upcaster('UpcOther', 1, 'up_set(jsonb)')$$);
SELECT pg_temp.try($$SELECT es.register_upcaster('UpcOther', 1, 'up_proc(jsonb)')$$);
-- Fine: a builtin, here the (data, metadata) form.  (jsonb_strip_nulls(jsonb),
-- the one builtin of the (data) form, has a second argument since 18.)
SELECT es.register_upcaster('UpcOther', 1, 'pg_catalog.jsonb_concat(jsonb,jsonb)');
-- Nothing half-written: only the last one registered.
SELECT event_type, from_version, function, with_metadata FROM es.upcasters ORDER BY 1, 2;

-- Drop rules: only the first or last step, only when no stored event needs it.
SELECT pg_temp.try($$SELECT es.drop_upcaster('UpcPlaced', 1)$$);   -- events at version 1 need it
SELECT pg_temp.try($$SELECT es.drop_upcaster('UpcPlaced', 2)$$);   -- events at version 3 would be ahead
SELECT pg_temp.try($$SELECT es.drop_upcaster('UpcPlaced', 7)$$);
SELECT es.drop_upcaster('UpcOther', 1);    -- no UpcOther event stored: fine
SELECT es.register_upcaster('UpcThree', 1, 'up_currency(jsonb)');
SELECT es.register_upcaster('UpcThree', 2, 'up_currency(jsonb)');
SELECT es.register_upcaster('UpcThree', 3, 'up_currency(jsonb)');
SELECT pg_temp.try($$SELECT es.drop_upcaster('UpcThree', 2)$$);    -- in the middle
SELECT es.append('upc_three-1', 'UpcThree', '{}');   -- stamped 4
SELECT es.drop_upcaster('UpcThree', 1);    -- first step, nothing at version <= 1
SELECT pg_temp.try($$SELECT es.drop_upcaster('UpcThree', 3)$$);    -- last step, an event at 4
SELECT event_type, current_version, oldest_upcast_version FROM es.event_types WHERE event_type = 'UpcThree';
SELECT schema_version FROM es.read_stream('upc_three-1');

-- Failing upcasters: an error names the event; NULL is refused; a dropped
-- function is reported; and a read stays consistent afterwards.
CREATE FUNCTION up_fail(d jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  IF d ? 'bad' THEN RAISE EXCEPTION 'cannot upcast %', d->>'bad'; END IF;
  IF d ? 'null' THEN RETURN NULL; END IF;
  RETURN d || '{"v": 2}';
END $$;
SELECT es.register_upcaster('UpcFail', 1, 'up_fail(jsonb)');
SELECT es.drop_upcaster('UpcFail', 1);
INSERT INTO es.events (global_position, stream, stream_offset, event_id, event_type, schema_version, data)
  VALUES (nextval('es.global_position_seq'), 'upc_fail-1', 0, gen_random_uuid(), 'UpcFail', 1, '{"bad": "x"}'),
         (nextval('es.global_position_seq'), 'upc_fail-2', 0, gen_random_uuid(), 'UpcFail', 1, '{"null": true}'),
         (nextval('es.global_position_seq'), 'upc_fail-3', 0, gen_random_uuid(), 'UpcFail', 1, '{}');
INSERT INTO es.stream_catalog (stream, kind) VALUES ('upc_fail-1', 'persistent'), ('upc_fail-2', 'persistent'), ('upc_fail-3', 'persistent');
SELECT es.register_upcaster('UpcFail', 1, 'up_fail(jsonb)');
SELECT pg_temp.try($$SELECT data FROM es.read_stream('upc_fail-1')$$);
SELECT pg_temp.try($$SELECT data FROM es.read_stream('upc_fail-2')$$);
SELECT data, schema_version FROM es.read_stream('upc_fail-3');
SELECT data, schema_version FROM es.read_stream_raw('upc_fail-1');
DROP FUNCTION up_fail(jsonb);
SELECT pg_temp.try($$SELECT data FROM es.read_stream('upc_fail-3')$$);
-- Created again under the same signature: found again.
CREATE FUNCTION up_fail(d jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT d || '{"again": true}' $$;
SELECT data FROM es.read_stream('upc_fail-3');

-- A reader needs EXECUTE on the upcasters.
CREATE ROLE upc_reader;
GRANT USAGE ON SCHEMA es TO upc_reader;
GRANT SELECT ON es.events, es.stream_catalog TO upc_reader;
GRANT EXECUTE ON FUNCTION es.read_stream(text, bigint, integer), es.read_stream_raw(text, bigint, integer) TO upc_reader;
REVOKE EXECUTE ON FUNCTION up_currency(jsonb) FROM PUBLIC;
SET ROLE upc_reader;
SELECT pg_temp.try($$SELECT data FROM es.read_stream('upc_order-1')$$);
SELECT count(*) FROM es.read_stream_raw('upc_order-1');
RESET ROLE;
GRANT EXECUTE ON FUNCTION up_currency(jsonb) TO upc_reader;
SET ROLE upc_reader;
SELECT count(*) FROM es.read_stream('upc_order-1');
RESET ROLE;
REVOKE ALL ON es.events, es.stream_catalog FROM upc_reader;
REVOKE ALL ON SCHEMA es FROM upc_reader;
REVOKE ALL ON FUNCTION es.read_stream(text, bigint, integer), es.read_stream_raw(text, bigint, integer) FROM upc_reader;
REVOKE ALL ON FUNCTION up_currency(jsonb) FROM upc_reader;
DROP ROLE upc_reader;

-- A hand edit the functions refuse is reported at read time, not guessed
-- around: a missing first step, then a hole in the chain.
DELETE FROM es.upcasters WHERE event_type = 'UpcPlaced' AND from_version = 1;
SELECT pg_temp.try($$SELECT count(*) FROM es.read_stream('upc_order-1')$$);
INSERT INTO es.upcasters (event_type, from_version, function, with_metadata)
  VALUES ('UpcPlaced', 1, 'public.up_currency(pg_catalog.jsonb)', false),
         ('UpcPlaced', 4, 'public.up_currency(pg_catalog.jsonb)', false);
SELECT pg_temp.try($$SELECT count(*) FROM es.read_stream('upc_order-1')$$);
DELETE FROM es.upcasters WHERE event_type = 'UpcPlaced' AND from_version = 4;
SELECT count(*) FROM es.read_stream('upc_order-1');
SELECT es.drop_subscription('upc_sub');
SELECT es.drop_projection('upc_proj');
