-- The shape of the API, asserted with pgTAP: functions, signatures,
-- volatility, privileges, and the config-dump registration of user data.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS event_streaming;
CREATE EXTENSION IF NOT EXISTS pgtap;
RESET client_min_messages;
SET intervalstyle = postgres;  -- pg_regress sets postgres_verbose; defaults read as written
\pset format unaligned
\pset tuples_only true

SELECT plan(173);

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
  ARRAY['es.stream_catalog', 'es.events', 'es.global_position_seq',
        'es.queues', 'es.queue_id_seq', 'es.messages', 'es.message_id_seq',
        'es.dead_letter_messages', 'es.stream_settings',
        'es.subscription_catalog', 'es.subscription_positions', 'es.projection_catalog', 'es.parked_events',
        'es.upcasters', 'es.data_migration_catalog'],
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

-- Queues (0.2.0).
SELECT has_table('es', 'queues', 'es.queues exists');
SELECT has_table('es', 'messages', 'es.messages exists');
SELECT has_table('es', 'dead_letter_messages', 'es.dead_letter_messages exists');
SELECT has_view('es', 'queue_stats', 'es.queue_stats exists');
SELECT has_view('es', 'dead_letters', 'es.dead_letters exists');
SELECT function_returns('es', 'create_queue', ARRAY['text', 'interval', 'integer', 'boolean'], 'boolean');
SELECT function_returns('es', 'drop_queue', ARRAY['text', 'boolean'], 'boolean');
SELECT function_returns('es', 'purge_queue', ARRAY['text'], 'bigint');
SELECT function_returns('es', 'enqueue', ARRAY['text', 'jsonb', 'jsonb', 'interval', 'text'], 'bigint');
SELECT function_returns('es', 'enqueue_batch', ARRAY['text', 'jsonb[]', 'jsonb', 'interval', 'text'], 'setof bigint');
SELECT function_returns('es', 'dequeue', ARRAY['text', 'text', 'interval', 'integer', 'interval'], 'setof record');
SELECT function_returns('es', 'ack', ARRAY['text', 'bigint', 'uuid'], 'boolean');
SELECT function_returns('es', 'nack', ARRAY['text', 'bigint', 'uuid', 'boolean', 'interval', 'text'], 'boolean');
SELECT function_returns('es', 'extend', ARRAY['text', 'bigint', 'uuid', 'interval'], 'boolean');
SELECT function_returns('es', 'redrive', ARRAY['text', 'integer'], 'bigint');
SELECT function_returns('es', 'purge_dead_letters', ARRAY['text'], 'bigint');
SELECT is((SELECT count(*)::int FROM pg_proc
            WHERE pronamespace = 'es'::regnamespace
              AND proname IN ('create_queue', 'drop_queue', 'purge_queue', 'enqueue', 'enqueue_batch',
                              'dequeue', 'ack', 'nack', 'extend', 'redrive', 'purge_dead_letters')
              AND prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')
              AND provolatile = 'v'),
          11, 'queue functions are C and volatile');
SELECT is((SELECT pg_get_function_arguments('es.dequeue(text,text,interval,integer,interval)'::regprocedure)),
          'queue text, consumer text, visibility_timeout interval DEFAULT NULL::interval, max_messages integer DEFAULT 1, wait interval DEFAULT ''00:00:00''::interval',
          'es.dequeue arguments and defaults');
SELECT is((SELECT pg_get_function_result('es.dequeue(text,text,interval,integer,interval)'::regprocedure)),
          'TABLE(message_id bigint, receipt uuid, payload jsonb, headers jsonb, delivery_count integer, enqueued_at timestamp with time zone, visible_until timestamp with time zone, group_key text)',
          'es.dequeue result columns');
SELECT is((SELECT pg_get_function_arguments('es.create_queue(text,interval,integer,boolean)'::regprocedure)),
          'queue text, visibility_timeout interval DEFAULT ''00:00:30''::interval, max_deliveries integer DEFAULT 5, if_not_exists boolean DEFAULT false',
          'es.create_queue arguments and defaults');
SELECT is((SELECT pg_get_function_arguments('es.nack(text,bigint,uuid,boolean,interval,text)'::regprocedure)),
          'queue text, message_id bigint, receipt uuid, requeue boolean DEFAULT true, delay interval DEFAULT ''00:00:00''::interval, error text DEFAULT NULL::text',
          'es.nack arguments and defaults');
SELECT col_is_pk('es', 'messages', 'message_id', 'messages keyed by message id');
SELECT has_index('es', 'messages', 'messages_ready_idx', ARRAY['queue_id', 'available_at', 'message_id']);
SELECT has_index('es', 'messages', 'messages_group_idx', ARRAY['queue_id', 'group_key', 'message_id']);
SELECT col_is_pk('es', 'dead_letter_messages', ARRAY['queue_id', 'message_id'], 'dead letters keyed by queue and message id');
-- Churn settings: room for HOT updates, vacuum after a fixed number of dead rows.
SELECT is((SELECT reloptions FROM pg_class WHERE oid = 'es.messages'::regclass),
          ARRAY['fillfactor=70', 'autovacuum_vacuum_scale_factor=0', 'autovacuum_vacuum_threshold=2000',
                'autovacuum_vacuum_insert_scale_factor=0', 'autovacuum_vacuum_insert_threshold=20000',
                'autovacuum_vacuum_cost_delay=0'],
          'es.messages storage parameters');
-- No index covers the columns a delivery changes, so deliveries are HOT updates.
SELECT is((SELECT count(*)::int FROM pg_index i, unnest(i.indkey) k
            JOIN pg_attribute a ON a.attrelid = 'es.messages'::regclass AND a.attnum = k
            WHERE i.indrelid = 'es.messages'::regclass
              AND a.attname IN ('delivery_count', 'leased_until', 'receipt', 'last_delivered_at', 'consumer')),
          0, 'no index on the columns a delivery changes');
SELECT columns_are('es', 'messages', ARRAY['message_id', 'queue_id', 'available_at', 'delivery_count',
  'leased_until', 'receipt', 'enqueued_at', 'last_delivered_at', 'consumer', 'group_key', 'last_error',
  'headers', 'payload']);

-- 0.3.0: configuration, retention, the worker.
SELECT has_view('es', 'configuration', 'es.configuration exists');
SELECT columns_are('es', 'configuration', ARRAY['scope', 'name', 'max_age', 'max_count',
  'visibility_timeout', 'max_deliveries', 'retry_delay', 'retry_delay_max',
  'dead_letter_max_age', 'dead_letter_max_count']);
SELECT has_view('es', 'worker_status', 'es.worker_status exists');
SELECT col_is_pk('es', 'stream_settings', ARRAY['scope', 'name'], 'settings keyed by scope and name');
SELECT has_column('es', 'stream_catalog', 'truncated_before', 'the catalog keeps where retention cut each stream');
SELECT col_not_null('es', 'stream_catalog', 'truncated_before', 'truncated_before is never null');
SELECT has_index('es', 'dead_letter_messages', 'dead_letter_messages_age_idx',
                 ARRAY['queue_id', 'dead_lettered_at', 'message_id']);
SELECT is((SELECT pg_get_function_arguments('es.configure(text,interval,bigint,interval,integer,interval,interval,interval,bigint)'::regprocedure)),
          'stream text, max_age interval DEFAULT NULL::interval, max_count bigint DEFAULT NULL::bigint, visibility_timeout interval DEFAULT NULL::interval, max_deliveries integer DEFAULT NULL::integer, retry_delay interval DEFAULT NULL::interval, retry_delay_max interval DEFAULT NULL::interval, dead_letter_max_age interval DEFAULT NULL::interval, dead_letter_max_count bigint DEFAULT NULL::bigint',
          'es.configure arguments: NULL leaves a setting as it is');
SELECT is((SELECT pg_get_function_result('es.sweep(timestamp with time zone,bigint)'::regprocedure)),
          'TABLE(pass text, name text, affected bigint)', 'es.sweep result columns');
SELECT functions_are('es', ARRAY['ack', 'append', 'append_batch', 'append_event', 'category',
  'configure', 'configure_category', 'create_queue', 'dequeue', 'drop_queue', 'enqueue',
  'enqueue_batch', 'extend', 'nack', 'purge_dead_letters', 'purge_queue', 'read_stream',
  'read_stream_backward', 'redrive', 'reset_category_configuration', 'reset_configuration',
  'stream_version', 'sweep', 'sweep_redelivery', 'sweep_retention', 'worker_status',
  -- 0.4.0
  'read_all', 'settled_position', 'member_of', 'source_head',
  'create_subscription', 'read_subscription', 'commit_subscription', 'reset_subscription', 'drop_subscription',
  'projection_catalog_guard',
  'create_projection', 'run_projection', 'resume_projection', 'rebuild_projection', 'drop_projection',
  -- 0.5.0
  'register_upcaster', 'drop_upcaster', 'upcasters_changed', 'read_stream_raw',
  'register_data_migration', 'drop_data_migration', 'run_data_migrations', 'request_data_migrations',
  'import_table', 'capture_table', 'uncapture_table', 'capture_trigger',
  -- 0.6.0
  'events_guard',
  -- 0.7.0
  'metric_counters', 'tail', 'peek'],
  'the API functions, no others');
-- Nothing new is granted to PUBLIC.
SELECT is((SELECT count(*)::int FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
            WHERE p.pronamespace = 'es'::regnamespace AND a.grantee = 0),
          0, 'no es function is executable by PUBLIC');
-- A stream with retention keeps its version once every event is gone.
SELECT es.append('tap-ret-1', 'T', '{}') FROM generate_series(1, 3);
SELECT es.configure('tap-ret-1', max_age => '1 second');
SELECT is((SELECT sum(affected)::int FROM es.sweep(now() + interval '1 hour')), 3, 'the sweep removes the three events');
SELECT is(es.stream_version('tap-ret-1'), 2::bigint, 'the version survives');


-- 0.4.0: reads in global order, subscriptions, projections.
SELECT function_returns('es', 'read_all', ARRAY['bigint', 'integer', 'text[]', 'text[]'], 'setof es.event');
SELECT is((SELECT pg_get_function_arguments('es.read_all(bigint,integer,text[],text[])'::regprocedure)),
          'from_position bigint, max_count integer, categories text[] DEFAULT NULL::text[], event_types text[] DEFAULT NULL::text[]',
          'es.read_all arguments and defaults');
SELECT function_lang_is('es', 'read_all', ARRAY['bigint', 'integer', 'text[]', 'text[]'], 'c');
-- read_all waits for the settled horizon: never stable, never parallel.
SELECT volatility_is('es', 'read_all', ARRAY['bigint', 'integer', 'text[]', 'text[]'], 'volatile');
SELECT is((SELECT proparallel::text FROM pg_proc WHERE oid = 'es.read_all(bigint,integer,text[],text[])'::regprocedure),
          'u', 'es.read_all is parallel unsafe');
SELECT function_returns('es', 'settled_position', ARRAY[]::text[], 'bigint');
SELECT volatility_is('es', 'settled_position', ARRAY[]::text[], 'volatile');
SELECT function_returns('es', 'member_of', ARRAY['text', 'integer'], 'integer');
SELECT volatility_is('es', 'member_of', ARRAY['text', 'integer'], 'immutable');
SELECT is_strict('es', 'member_of', ARRAY['text', 'integer'], 'es.member_of is strict');
SELECT function_returns('es', 'source_head', ARRAY['text'], 'bigint');
SELECT volatility_is('es', 'source_head', ARRAY['text'], 'stable');
SELECT has_index('es', 'events', 'events_category_idx', ARRAY['split_part(stream, ''-''::text, 1)', 'global_position']);
SELECT index_is_type('es', 'events', 'events_category_idx', 'btree');
-- Subscriptions.
SELECT has_table('es', 'subscription_catalog', 'es.subscription_catalog exists');
SELECT has_table('es', 'subscription_positions', 'es.subscription_positions exists');
SELECT col_is_pk('es', 'subscription_catalog', 'name', 'subscriptions keyed by name');
SELECT col_is_pk('es', 'subscription_positions', ARRAY['subscription', 'member'], 'positions keyed by subscription and member');
SELECT has_view('es', 'subscriptions', 'es.subscriptions exists');
SELECT columns_are('es', 'subscriptions', ARRAY['name', 'source', 'members', 'member', 'position',
  'head_position', 'lag', 'commits', 'created_at', 'last_commit_at']);
SELECT function_returns('es', 'create_subscription', ARRAY['text', 'text', 'text', 'integer'], 'void');
SELECT is((SELECT pg_get_function_arguments('es.create_subscription(text,text,text,integer)'::regprocedure)),
          'name text, source text DEFAULT ''$all''::text, start text DEFAULT ''beginning''::text, members integer DEFAULT 1',
          'es.create_subscription arguments and defaults');
SELECT function_returns('es', 'read_subscription', ARRAY['text', 'integer', 'integer', 'integer'], 'setof es.event');
SELECT is((SELECT pg_get_function_arguments('es.read_subscription(text,integer,integer,integer)'::regprocedure)),
          'name text, max_count integer, member integer DEFAULT 0, members integer DEFAULT NULL::integer',
          'es.read_subscription arguments and defaults');
SELECT function_returns('es', 'commit_subscription', ARRAY['text', 'bigint', 'integer'], 'void');
SELECT function_returns('es', 'reset_subscription', ARRAY['text', 'text', 'integer'], 'void');
SELECT function_returns('es', 'drop_subscription', ARRAY['text'], 'void');
-- Projections.
SELECT has_table('es', 'projection_catalog', 'es.projection_catalog exists');
SELECT has_table('es', 'parked_events', 'es.parked_events exists');
SELECT col_is_pk('es', 'projection_catalog', 'name', 'projections keyed by name');
SELECT col_is_pk('es', 'parked_events', ARRAY['projection', 'global_position'], 'parked events keyed by projection and position');
SELECT has_view('es', 'projections', 'es.projections exists');
SELECT columns_are('es', 'projections', ARRAY['name', 'source', 'handler', 'owner', 'on_error', 'status',
  'position', 'head_position', 'lag', 'events_applied', 'parked', 'last_error', 'error_position',
  'error_at', 'created_at', 'updated_at']);
SELECT function_returns('es', 'create_projection', ARRAY['text', 'text', 'regprocedure', 'text', 'text'], 'void');
SELECT is((SELECT pg_get_function_arguments('es.create_projection(text,text,regprocedure,text,text)'::regprocedure)),
          'name text, source text, handler regprocedure, on_error text DEFAULT ''stop''::text, start text DEFAULT ''beginning''::text',
          'es.create_projection arguments and defaults');
SELECT function_returns('es', 'run_projection', ARRAY['text', 'integer'], 'bigint');
SELECT function_returns('es', 'resume_projection', ARRAY['text'], 'void');
SELECT function_returns('es', 'rebuild_projection', ARRAY['text', 'regclass[]'], 'void');
SELECT function_returns('es', 'drop_projection', ARRAY['text'], 'void');
SELECT is((SELECT count(*)::int FROM pg_proc
            WHERE pronamespace = 'es'::regnamespace
              AND proname IN ('read_all', 'settled_position', 'create_subscription', 'read_subscription',
                              'commit_subscription', 'reset_subscription', 'drop_subscription',
                              'create_projection', 'run_projection', 'resume_projection',
                              'rebuild_projection', 'drop_projection')
              AND prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')
              AND provolatile = 'v' AND NOT prosecdef),
          12, 'the 0.4.0 working functions are C, volatile, not SECURITY DEFINER');
SELECT is(current_setting('event_streaming.projections'), 'on', 'projections are on by default');
-- None of the 0.4.0 functions, tables or views is granted to PUBLIC.
SELECT is((SELECT count(*)::int FROM pg_proc p
            WHERE p.pronamespace = 'es'::regnamespace
              AND p.proname IN ('read_all', 'settled_position', 'member_of', 'source_head',
                                'create_subscription', 'read_subscription', 'commit_subscription',
                                'reset_subscription', 'drop_subscription', 'create_projection',
                                'run_projection', 'resume_projection', 'rebuild_projection', 'drop_projection')
              AND NOT has_function_privilege('public', p.oid, 'EXECUTE')),
          14, 'none of the 14 functions of 0.4.0 is executable by PUBLIC');
SELECT is((SELECT count(*)::int FROM pg_class c
            WHERE c.oid IN ('es.subscription_catalog'::regclass, 'es.subscription_positions'::regclass,
                            'es.projection_catalog'::regclass, 'es.parked_events'::regclass,
                            'es.subscriptions'::regclass, 'es.projections'::regclass)
              AND NOT has_table_privilege('public', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')),
          6, 'none of the tables and views of 0.4.0 is granted to PUBLIC');

-- 0.5.0: event schema versions, data migrations, CRUD tables onto events.
SELECT has_table('es', 'upcasters', 'es.upcasters exists');
SELECT col_is_pk('es', 'upcasters', ARRAY['event_type', 'from_version'], 'one step per type and version');
SELECT has_trigger('es', 'upcasters', 'upcasters_changed', 'a change to es.upcasters drops the cached chains');
SELECT has_view('es', 'event_types', 'es.event_types exists');
SELECT columns_are('es', 'event_types', ARRAY['event_type', 'current_version', 'oldest_upcast_version', 'upcasters']);
SELECT function_returns('es', 'register_upcaster', ARRAY['text', 'integer', 'regprocedure'], 'integer');
SELECT function_returns('es', 'drop_upcaster', ARRAY['text', 'integer'], 'void');
SELECT function_returns('es', 'read_stream_raw', ARRAY['text', 'bigint', 'integer'], 'setof es.event');
SELECT is((SELECT pg_get_function_arguments('es.read_stream_raw(text,bigint,integer)'::regprocedure)),
          'stream text, from_offset bigint DEFAULT 0, max_count integer DEFAULT 1000',
          'es.read_stream_raw has read_stream''s arguments');
SELECT volatility_is('es', 'read_stream_raw', ARRAY['text', 'bigint', 'integer'], 'stable');
SELECT has_table('es', 'data_migration_catalog', 'es.data_migration_catalog exists');
SELECT col_is_pk('es', 'data_migration_catalog', 'name', 'data migrations keyed by name');
SELECT col_is_unique('es', 'data_migration_catalog', 'run_order', 'one data migration per run_order');
SELECT has_trigger('es', 'data_migration_catalog', 'data_migration_catalog_guard', 'rows guarded by owner');
SELECT has_view('es', 'data_migrations', 'es.data_migrations exists');
SELECT function_returns('es', 'register_data_migration', ARRAY['text', 'integer', 'regprocedure'], 'void');
SELECT function_returns('es', 'drop_data_migration', ARRAY['text'], 'void');
SELECT function_returns('es', 'request_data_migrations', ARRAY[]::text[], 'integer');
SELECT is((SELECT prokind::text FROM pg_proc WHERE oid = 'es.run_data_migrations()'::regprocedure),
          'p', 'es.run_data_migrations is a procedure (it commits between steps)');
SELECT is((SELECT pg_get_function_arguments('es.import_table(regclass,text,name,text)'::regprocedure)),
          '"table" regclass, stream_prefix text, id_column name DEFAULT NULL::name, event_type text DEFAULT ''Imported''::text',
          'es.import_table arguments and defaults');
SELECT function_returns('es', 'import_table', ARRAY['regclass', 'text', 'name', 'text'], 'bigint');
SELECT is((SELECT pg_get_function_arguments('es.capture_table(regclass,text,name,text)'::regprocedure)),
          '"table" regclass, stream_prefix text, id_column name DEFAULT NULL::name, event_type_prefix text DEFAULT ''''::text',
          'es.capture_table arguments and defaults');
SELECT function_returns('es', 'uncapture_table', ARRAY['regclass'], 'void');
SELECT has_view('es', 'captured_tables', 'es.captured_tables exists');
SELECT is((SELECT count(*)::int FROM pg_proc p
            WHERE p.pronamespace = 'es'::regnamespace
              AND p.proname IN ('register_upcaster', 'drop_upcaster', 'upcasters_changed', 'read_stream_raw',
                                'register_data_migration', 'drop_data_migration', 'run_data_migrations',
                                'request_data_migrations', 'import_table', 'capture_table',
                                'uncapture_table', 'capture_trigger')
              AND NOT p.prosecdef AND NOT has_function_privilege('public', p.oid, 'EXECUTE')),
          12, 'none of the 12 functions of 0.5.0 is SECURITY DEFINER or executable by PUBLIC');
SELECT is((SELECT count(*)::int FROM pg_class c
            WHERE c.oid IN ('es.upcasters'::regclass, 'es.data_migration_catalog'::regclass,
                            'es.event_types'::regclass, 'es.data_migrations'::regclass,
                            'es.captured_tables'::regclass)
              AND NOT has_table_privilege('public', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')),
          5, 'none of the tables and views of 0.5.0 is granted to PUBLIC');

-- 0.6.0: stored events are append-only.
SELECT has_trigger('es', 'events', 'events_append_only', 'es.events is guarded');
SELECT is((SELECT tgtype::int FROM pg_trigger WHERE tgname = 'events_append_only'
                                                AND tgrelid = 'es.events'::regclass),
          2 | 8 | 16 | 32, 'a statement trigger before UPDATE, DELETE and TRUNCATE');
SELECT is((SELECT count(*)::int FROM pg_proc p
            WHERE p.oid = 'es.events_guard()'::regprocedure
              AND NOT p.prosecdef AND NOT has_function_privilege('public', p.oid, 'EXECUTE')),
          1, 'es.events_guard is not SECURITY DEFINER or executable by PUBLIC');
SELECT is((SELECT count(*)::int FROM pg_proc p
            WHERE p.pronamespace = 'es'::regnamespace AND p.prosecdef),
          0, 'no es function is SECURITY DEFINER');

-- 0.7.0: monitoring and psql helpers.
SELECT has_view('es', 'metrics', 'es.metrics exists');
SELECT columns_are('es', 'metrics', ARRAY['kind', 'name', 'member', 'metric', 'value'],
                   'es.metrics is one row per object and metric');
SELECT col_type_is('es', 'metrics', 'value', 'double precision', 'es.metrics.value is a float8');
SELECT is((SELECT pg_get_function_result('es.peek(text,integer)'::regprocedure)),
          'TABLE(message_id bigint, state text, delivery_count integer, enqueued_at timestamp with time zone, available_at timestamp with time zone, leased_until timestamp with time zone, consumer text, group_key text, last_error text, headers jsonb, payload jsonb)',
          'es.peek result columns');
SELECT is((SELECT pg_get_function_arguments('es.tail(text,integer)'::regprocedure)),
          'stream text, max_count integer DEFAULT 10', 'es.tail arguments');
SELECT function_returns('es', 'tail', ARRAY['text', 'integer'], 'setof es.event', 'es.tail returns es.event rows');
SELECT is((SELECT count(*)::int FROM pg_proc p
            WHERE p.oid IN ('es.metric_counters()'::regprocedure, 'es.tail(text,integer)'::regprocedure,
                            'es.peek(text,integer)'::regprocedure)
              AND NOT p.prosecdef AND NOT has_function_privilege('public', p.oid, 'EXECUTE')),
          3, 'none of the 3 functions of 0.7.0 is SECURITY DEFINER or executable by PUBLIC');
SELECT ok(NOT has_table_privilege('public', 'es.metrics', 'SELECT'), 'es.metrics is not granted to PUBLIC');
SELECT matches((SELECT obj_description(e.oid, 'pg_extension') FROM pg_extension e
                 WHERE e.extname = 'event_streaming'),
               '^event store .* and message queue ', '\dx describes the extension');

SELECT * FROM finish();
