-- The shape of the API, asserted with pgTAP: functions, signatures,
-- volatility, privileges, and the config-dump registration of user data.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS event_streaming;
CREATE EXTENSION IF NOT EXISTS pgtap;
RESET client_min_messages;
\pset format unaligned
\pset tuples_only true

SELECT plan(50);

SELECT has_schema('es');
SELECT has_table('es', 'events', 'es.events exists');
SELECT has_table('es', 'stream_catalog', 'es.stream_catalog exists');
SELECT has_view('es', 'streams', 'es.streams exists');
SELECT has_sequence('es', 'global_position_seq', 'es.global_position_seq exists');
SELECT has_type('es', 'event', 'es.event exists');
SELECT has_type('es', 'append_result', 'es.append_result exists');

-- Signatures and return types.
SELECT function_returns('es', 'append', ARRAY['text', 'text', 'jsonb', 'jsonb', 'bigint', 'uuid'], 'bigint');
SELECT function_returns('es', 'append_event', ARRAY['text', 'text', 'jsonb', 'jsonb', 'bigint', 'uuid'], 'es.append_result');
SELECT function_returns('es', 'append_batch', ARRAY['text', 'jsonb', 'bigint'], 'bigint');
SELECT function_returns('es', 'read_stream', ARRAY['text', 'bigint', 'integer'], 'setof es.event');
SELECT function_returns('es', 'read_stream_backward', ARRAY['text', 'bigint', 'integer'], 'setof es.event');
SELECT function_returns('es', 'stream_version', ARRAY['text'], 'bigint');
SELECT function_returns('es', 'category', ARRAY['text'], 'text');

-- The working functions are C, not PL/pgSQL.
SELECT function_lang_is('es', 'append', ARRAY['text', 'text', 'jsonb', 'jsonb', 'bigint', 'uuid'], 'c');
SELECT function_lang_is('es', 'append_batch', ARRAY['text', 'jsonb', 'bigint'], 'c');
SELECT function_lang_is('es', 'read_stream', ARRAY['text', 'bigint', 'integer'], 'c');
SELECT function_lang_is('es', 'read_stream_backward', ARRAY['text', 'bigint', 'integer'], 'c');
SELECT function_lang_is('es', 'stream_version', ARRAY['text'], 'c');

-- Volatility: writes are volatile, reads stable, the category immutable.
SELECT volatility_is('es', 'append', ARRAY['text', 'text', 'jsonb', 'jsonb', 'bigint', 'uuid'], 'volatile');
SELECT volatility_is('es', 'append_event', ARRAY['text', 'text', 'jsonb', 'jsonb', 'bigint', 'uuid'], 'volatile');
SELECT volatility_is('es', 'append_batch', ARRAY['text', 'jsonb', 'bigint'], 'volatile');
SELECT volatility_is('es', 'read_stream', ARRAY['text', 'bigint', 'integer'], 'stable');
SELECT volatility_is('es', 'read_stream_backward', ARRAY['text', 'bigint', 'integer'], 'stable');
SELECT volatility_is('es', 'stream_version', ARRAY['text'], 'stable');
SELECT volatility_is('es', 'category', ARRAY['text'], 'immutable');

-- No function is SECURITY DEFINER.
SELECT is((SELECT count(*)::int FROM pg_proc WHERE pronamespace = 'es'::regnamespace AND prosecdef),
          0, 'no SECURITY DEFINER functions');

-- Defaults.
SELECT is((SELECT pg_get_function_arguments('es.append(text,text,jsonb,jsonb,bigint,uuid)'::regprocedure)),
          'stream text, event_type text, data jsonb, metadata jsonb DEFAULT NULL::jsonb, expected_version bigint DEFAULT NULL::bigint, event_id uuid DEFAULT NULL::uuid',
          'es.append arguments and defaults');
SELECT is((SELECT pg_get_function_arguments('es.read_stream(text,bigint,integer)'::regprocedure)),
          'stream text, from_offset bigint DEFAULT 0, max_count integer DEFAULT 1000',
          'es.read_stream arguments and defaults');

-- Nothing is granted to PUBLIC.
SELECT is((SELECT count(*)::int FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
            WHERE p.pronamespace = 'es'::regnamespace AND a.grantee = 0),
          0, 'no function executable by PUBLIC');
SELECT is((SELECT count(*)::int FROM pg_class c, aclexplode(c.relacl) a
            WHERE c.relnamespace = 'es'::regnamespace AND a.grantee = 0),
          0, 'no table, view or sequence granted to PUBLIC');
SELECT is((SELECT count(*)::int FROM pg_namespace n, aclexplode(n.nspacl) a
            WHERE n.nspname = 'es' AND a.grantee = 0),
          0, 'schema es not granted to PUBLIC');
SELECT ok(NOT has_schema_privilege('public', 'es', 'USAGE'), 'PUBLIC has no USAGE on es');

-- Every table holding user data is dumped with pg_dump.
SELECT set_eq(
  $$SELECT unnest(extconfig)::regclass::text FROM pg_extension WHERE extname = 'event_streaming'$$,
  ARRAY['es.stream_catalog', 'es.events', 'es.global_position_seq'],
  'user data registered with pg_extension_config_dump');

-- Indexes for the queries users run.
SELECT has_pk('es', 'events', 'events has a primary key');
SELECT col_is_pk('es', 'events', 'global_position', 'events keyed by global position');
SELECT has_index('es', 'events', 'events_stream_offset_key', ARRAY['stream', 'stream_offset']);
SELECT index_is_unique('es', 'events', 'events_stream_offset_key');
SELECT has_index('es', 'events', 'events_event_id_key', ARRAY['event_id']);
SELECT index_is_unique('es', 'events', 'events_event_id_key');
SELECT has_index('es', 'events', 'events_event_type_idx', ARRAY['event_type', 'global_position']);
SELECT has_index('es', 'events', 'events_correlation_id_idx', ARRAY['correlation_id']);
SELECT has_index('es', 'events', 'events_created_at_idx', ARRAY['created_at']);
SELECT index_is_type('es', 'events', 'events_created_at_idx', 'brin');
SELECT hasnt_index('es', 'events', 'events_data_idx', 'no GIN index on data by default');

-- Columns of an event.
SELECT columns_are('es', 'events', ARRAY['global_position', 'stream', 'stream_offset', 'event_id',
  'event_type', 'schema_version', 'data', 'metadata', 'correlation_id', 'causation_id', 'created_at']);

-- The extension is not relocatable and lives in es.
SELECT is((SELECT extrelocatable FROM pg_extension WHERE extname = 'event_streaming'), false, 'not relocatable');
SELECT is((SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'event_streaming'), 'es', 'installed in es');

-- GUCs are defined, and the prefix is reserved.
SELECT is(current_setting('event_streaming.max_batch_size'), '10000', 'max_batch_size default');
SELECT is(current_setting('event_streaming.max_read_count'), '10000', 'max_read_count default');

SELECT * FROM finish();
