-- A hostile search_path changes nothing (issue 7).  Every statement the C
-- code runs is schema-qualified, operators included, and the SQL functions
-- and views of the extension are bound when they are created.  Schema evil
-- holds a look-alike of every function, aggregate, operator, type and
-- relation the extension could reach through search_path; each one, when
-- called, counts the call in a sequence (a rollback does not undo it), warns
-- with its name, and then does what the real one does.  With evil ahead of
-- pg_catalog, every API function and view is used, with pg_temp tricks too,
-- and no look-alike may ever be called.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS event_streaming;
RESET client_min_messages;

-- The user's objects, made first; their bodies are bound at creation or run
-- with a search_path of their own (the user's code is not under test).
CREATE TABLE public.sp_orders (id int PRIMARY KEY, status text NOT NULL, total numeric NOT NULL);
INSERT INTO public.sp_orders VALUES (1, 'new', 10), (2, 'new', 20);
CREATE TABLE public.sp_rows (id int PRIMARY KEY, phase text NOT NULL, v text);
CREATE TABLE public.sp_cart_counts (stream text PRIMARY KEY, n int NOT NULL);
CREATE FUNCTION public.sp_count(e es.event) RETURNS void LANGUAGE sql
BEGIN ATOMIC
    INSERT INTO public.sp_cart_counts AS c VALUES (e.stream, 1)
        ON CONFLICT (stream) DO UPDATE SET n = c.n + 1;
END;
CREATE FUNCTION public.sp_v1_v2(data jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE STRICT RETURN jsonb_build_object('body', data);
CREATE FUNCTION public.sp_v2_v3(data jsonb, metadata jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE STRICT RETURN data || jsonb_build_object('by', metadata -> 'by');
CREATE TABLE public.sp_flags (fail boolean NOT NULL);
INSERT INTO public.sp_flags VALUES (true);
CREATE FUNCTION public.sp_picky(e es.event) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF e.data ? 'poison' AND (SELECT fail FROM public.sp_flags) THEN
        RAISE EXCEPTION 'cannot digest %', e.data ->> 'poison';
    END IF;
    INSERT INTO public.sp_cart_counts AS c VALUES (e.stream, 1)
        ON CONFLICT (stream) DO UPDATE SET n = c.n + 1;
END $$;
CREATE TABLE public.sp_migrated (step text NOT NULL);
CREATE PROCEDURE public.sp_step_one() LANGUAGE sql
BEGIN ATOMIC
    INSERT INTO public.sp_migrated VALUES ('one');
END;
CREATE FUNCTION public.sp_step_two() RETURNS void LANGUAGE sql
BEGIN ATOMIC
    INSERT INTO public.sp_migrated VALUES ('two');
END;
CREATE PROCEDURE public.sp_step_three()
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF (SELECT fail FROM public.sp_flags) THEN
        RAISE EXCEPTION 'step three is not ready';
    END IF;
    INSERT INTO public.sp_migrated VALUES ('three');
END $$;

-- The look-alikes.
CREATE SCHEMA evil;
-- Every call of a look-alike draws from this sequence and warns.
CREATE SEQUENCE evil.hits;
CREATE FUNCTION evil.hit(what text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pg_catalog.nextval('evil.hits'::pg_catalog.regclass);
    RAISE WARNING 'search_path hole: % was called', what;
    RETURN true;
END $$;

-- Functions: one per pg_catalog function of these names (all overloads
-- whose argument types a PL/pgSQL function can take), same signature.
DO $gen$
DECLARE
    f record;
    call text;
    body text;
BEGIN
    FOR f IN
        SELECT p.oid, p.proname, p.proretset, p.provariadic, p.pronargs, p.prorettype,
               pg_get_function_arguments(p.oid) AS argdef,
               pg_get_function_result(p.oid) AS result,
               p.oid::regprocedure::text AS signature
          FROM pg_proc p
         WHERE p.pronamespace = 'pg_catalog'::regnamespace
           AND p.prokind = 'f'
           AND p.proallargtypes IS NULL
           AND p.proname = ANY (ARRAY[
               'now', 'clock_timestamp', 'statement_timestamp', 'transaction_timestamp',
               'timeofday', 'split_part', 'hashtext', 'hashtextextended', 'strpos',
               'string_to_array', 'array_to_string', 'encode', 'decode', 'unnest',
               'generate_series', 'nextval', 'currval', 'setval', 'lastval',
               'to_regprocedure', 'to_regproc', 'to_regclass', 'to_regtype', 'to_regrole',
               'to_regnamespace', 'pg_has_role', 'has_table_privilege',
               'has_function_privilege', 'lower', 'upper', 'length', 'octet_length',
               'char_length', 'character_length', 'substr', 'left', 'right', 'replace',
               'btrim', 'ltrim', 'rtrim', 'starts_with', 'md5', 'jsonb_typeof',
               'jsonb_extract_path', 'jsonb_extract_path_text', 'jsonb_array_length',
               'jsonb_object_keys', 'jsonb_set', 'jsonb_insert', 'jsonb_strip_nulls',
               'jsonb_pretty', 'to_jsonb', 'to_json', 'jsonb_populate_record',
               'jsonb_exists', 'jsonb_contains', 'jsonb_concat', 'array_length',
               'array_upper', 'array_lower', 'cardinality', 'array_append', 'array_prepend',
               'array_cat', 'array_position', 'array_remove', 'gen_random_uuid', 'abs',
               'mod', 'div', 'round', 'floor', 'ceil', 'int8', 'int4', 'int2', 'text',
               'float8', 'date_trunc', 'date_part', 'age', 'make_interval',
               'justify_interval', 'timezone', 'quote_ident', 'quote_literal',
               'quote_nullable', 'pg_advisory_xact_lock', 'pg_try_advisory_xact_lock',
               'pg_advisory_lock', 'txid_current', 'pg_current_xact_id', 'pg_notify',
               'current_setting', 'set_config', 'pg_backend_pid', 'random',
               'regexp_replace', 'regexp_match', 'format', 'pg_get_userbyid',
               'pg_column_size', 'pg_sleep', 'pg_extension_config_dump', 'hash_array',
               'jsonb_hash_extended', 'uuid_hash', 'texteq', 'int8eq', 'int4eq'])
           AND NOT EXISTS (SELECT FROM unnest(p.proargtypes::oid[]) t
                            WHERE t IN ('"any"'::regtype, 'internal'::regtype, 'cstring'::regtype,
                                        'record'::regtype))
           AND p.prorettype NOT IN ('internal'::regtype, 'record'::regtype, 'cstring'::regtype,
                                    '"any"'::regtype, 'trigger'::regtype)
         ORDER BY p.oid
    LOOP
        SELECT string_agg(CASE WHEN f.provariadic <> 0 AND i = f.pronargs
                               THEN 'VARIADIC $' || i ELSE '$' || i END, ', ' ORDER BY i)
          INTO call FROM generate_series(1, f.pronargs) i;
        call := format('pg_catalog.%I(%s)', f.proname, coalesce(call, ''));
        IF f.prorettype = 'void'::regtype THEN
            body := format('PERFORM %s; RETURN;', call);
        ELSIF f.proretset THEN
            body := format('RETURN QUERY SELECT * FROM %s;', call);
        ELSE
            body := format('RETURN %s;', call);
        END IF;
        EXECUTE format($f$CREATE FUNCTION evil.%I(%s) RETURNS %s LANGUAGE plpgsql
                          SET search_path = pg_catalog, pg_temp AS $body$
                          BEGIN PERFORM evil.hit(%L); %s END $body$$f$,
                       f.proname, f.argdef, f.result, 'evil.' || f.signature, body);
    END LOOP;
END $gen$;

-- Functions of VARIADIC "any" cannot be copied; overloads of common argument
-- types would be preferred to them.
DO $gen$
DECLARE
    f text[];
BEGIN
    FOREACH f SLICE 1 IN ARRAY ARRAY[
        ['jsonb_build_object', 'text, jsonb', 'jsonb'], ['jsonb_build_object', 'text, text', 'jsonb'],
        ['jsonb_build_object', 'text, bigint', 'jsonb'], ['jsonb_build_array', 'jsonb', 'jsonb'],
        ['json_build_object', 'text, text', 'json'], ['concat', 'text, text', 'text'],
        ['format', 'text, text', 'text']]
    LOOP
        EXECUTE format($f$CREATE FUNCTION evil.%I(%s) RETURNS %s LANGUAGE plpgsql
                          SET search_path = pg_catalog, pg_temp AS $body$
                          BEGIN PERFORM evil.hit(%L); RETURN pg_catalog.%I(%s); END $body$$f$,
                       f[1], f[2], f[3], format('evil.%s(%s)', f[1], f[2]), f[1],
                       CASE WHEN f[2] LIKE '%,%' THEN '$1, $2' ELSE '$1' END);
    END LOOP;
END $gen$;

-- Aggregates: count(*), count(any), array_agg, and max, min, sum, avg...
-- for each input type.  The final function counts: it runs even on no rows.
CREATE FUNCTION evil.count_final(n bigint) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM evil.hit('evil.count'); RETURN n; END $$;
CREATE AGGREGATE evil.count(*) (sfunc = pg_catalog.int8inc, stype = bigint, initcond = '0',
                                finalfunc = evil.count_final);
CREATE AGGREGATE evil.count("any") (sfunc = pg_catalog.int8inc_any, stype = bigint,
                                    initcond = '0', finalfunc = evil.count_final);
CREATE FUNCTION evil.agg_append(s anyarray, v anynonarray) RETURNS anyarray
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN RETURN pg_catalog.array_append(s, v); END $$;
CREATE FUNCTION evil.array_agg_final(s anyarray) RETURNS anyarray
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM evil.hit('evil.array_agg(anynonarray)'); RETURN s; END $$;
CREATE AGGREGATE evil.array_agg(anynonarray) (sfunc = evil.agg_append, stype = anyarray,
                                              finalfunc = evil.array_agg_final);
DO $gen$
DECLARE
    a record;
BEGIN
    FOR a IN
        SELECT p.oid, p.proname, p.proargtypes[0]::regtype AS input, p.prorettype::regtype AS result,
               p.oid::regprocedure::text AS signature
          FROM pg_proc p
         WHERE p.pronamespace = 'pg_catalog'::regnamespace
           AND p.prokind = 'a' AND p.pronargs = 1
           AND p.proname = ANY (ARRAY['max', 'min', 'sum', 'avg', 'bool_and', 'bool_or', 'every',
                                      'bit_and', 'bit_or'])
           AND NOT EXISTS (SELECT FROM pg_type t WHERE t.oid = p.proargtypes[0]
                                                   AND (t.typtype = 'p' OR t.typarray = 0))
         ORDER BY p.oid
    LOOP
        EXECUTE format($f$CREATE FUNCTION evil.%I(s %s[]) RETURNS %s LANGUAGE plpgsql
                          SET search_path = pg_catalog, pg_temp AS $body$
                          BEGIN PERFORM evil.hit(%L);
                                RETURN (SELECT pg_catalog.%I(x) FROM pg_catalog.unnest(s) x); END
                          $body$$f$,
                       'final_' || a.oid, a.input, a.result, 'evil.' || a.signature, a.proname);
        EXECUTE format('CREATE AGGREGATE evil.%I(%s) (sfunc = pg_catalog.array_append,'
                       ' stype = %s[], initcond = %L, finalfunc = evil.%I)',
                       a.proname, a.input, a.input, '{}', 'final_' || a.oid);
    END LOOP;
END $gen$;

-- Operators: one per pg_catalog operator of these names between these types
-- (polymorphic ones included), same signature.
DO $gen$
DECLARE
    op record;
    params text;
    expr text;
    operand_types oid[] := ARRAY(SELECT t.oid FROM pg_type t
        WHERE t.typnamespace = 'pg_catalog'::regnamespace
          AND t.typname = ANY (ARRAY['text', 'varchar', 'bpchar', 'name', 'char', 'int2', 'int4',
                 'int8', 'numeric', 'float4', 'float8', 'oid', 'bool', 'bytea', 'uuid', 'jsonb',
                 'json', 'timestamptz', 'timestamp', 'date', 'interval', 'time', 'tid', 'xid',
                 'xid8', '_text', '_int8', '_int4', '_jsonb', 'anyelement', 'anyarray',
                 'anynonarray', 'anyenum', 'anyrange', 'anymultirange', 'anycompatible',
                 'anycompatiblearray', 'anycompatiblenonarray', 'anycompatiblerange']));
BEGIN
    FOR op IN
        SELECT o.oid, o.oprname, o.oprleft::regtype AS l, o.oprright::regtype AS r,
               o.oprresult::regtype AS result, o.oprleft = 0 AS prefix
          FROM pg_operator o
         WHERE o.oprnamespace = 'pg_catalog'::regnamespace
           AND o.oprname = ANY (ARRAY['=', '<>', '<', '>', '<=', '>=', '+', '-', '*', '/', '%',
                                      '^', '||', '@>', '<@', '&&', '->', '->>', '#>', '#>>',
                                      '?', '?|', '?&', '#-', '~~', '!~~', '~~*', '!~~*', '~',
                                      '!~', '@', '|/'])
           AND o.oprright = ANY (operand_types)
           AND (o.oprleft = 0 OR o.oprleft = ANY (operand_types))
         ORDER BY o.oid
    LOOP
        IF op.prefix THEN
            params := format('r %s', op.r);
            expr := format('OPERATOR(pg_catalog.%s) r', op.oprname);
        ELSE
            params := format('l %s, r %s', op.l, op.r);
            expr := format('l OPERATOR(pg_catalog.%s) r', op.oprname);
        END IF;
        EXECUTE format($f$CREATE FUNCTION evil.%I(%s) RETURNS %s LANGUAGE plpgsql
                          SET search_path = pg_catalog, pg_temp AS $body$
                          BEGIN PERFORM evil.hit(%L); RETURN %s; END $body$$f$,
                       'op_' || op.oid, params, op.result,
                       format('evil.%s(%s, %s)', op.oprname, coalesce(op.l::text, 'NONE'), op.r),
                       expr);
        EXECUTE format('CREATE OPERATOR evil.%s (%s rightarg = %s, function = evil.%I)',
                       op.oprname, CASE WHEN op.prefix THEN '' ELSE format('leftarg = %s,', op.l) END,
                       op.r, 'op_' || op.oid);
    END LOOP;
END $gen$;

-- Types: a domain named like each type the extension casts to or declares
DO $gen$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['jsonb', 'json', 'text', 'varchar', 'bpchar', 'name', 'char',
                             'uuid', 'int2', 'int4', 'int8', 'numeric', 'float4', 'float8',
                             'bool', 'oid', 'bytea', 'timestamptz', 'timestamp', 'date',
                             'interval', 'time', 'regclass', 'regproc', 'regprocedure',
                             'regrole', 'regtype', 'regnamespace', 'xid', 'tid']
    LOOP
        EXECUTE format('CREATE DOMAIN evil.%I AS pg_catalog.%I CHECK (evil.hit(%L))',
                       t, t, 'evil.' || t);
    END LOOP;
    -- SQL keywords map to pg_catalog types; these are reached only when quoted
    FOREACH t IN ARRAY ARRAY['bigint', 'integer', 'smallint', 'boolean', 'character varying',
                             'timestamp with time zone']
    LOOP
        EXECUTE format('CREATE DOMAIN evil.%I AS %s CHECK (evil.hit(%L))', t, t, 'evil.' || t);
    END LOOP;
END $gen$;
CREATE DOMAIN evil.event AS es.event CHECK (evil.hit('evil.event'));
CREATE DOMAIN evil.append_result AS es.append_result CHECK (evil.hit('evil.append_result'));

-- Relations: a view named like each table and view of es, over a function
-- that counts, with a trigger that counts and passes writes on to es
CREATE FUNCTION evil.write() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    target text := TG_ARGV[0];
    cols text;
BEGIN
    PERFORM evil.hit(TG_ARGV[1]);
    IF TG_OP = 'DELETE' THEN
        EXECUTE format('DELETE FROM %s t WHERE pg_catalog.to_jsonb(t) = $1', target)
          USING to_jsonb(OLD);
        RETURN OLD;
    END IF;
    SELECT string_agg(quote_ident(k), ', ') INTO cols
      FROM jsonb_object_keys(jsonb_strip_nulls(to_jsonb(NEW))) k;
    IF TG_OP = 'INSERT' THEN
        EXECUTE format('INSERT INTO %s (%s) SELECT %s FROM pg_catalog.jsonb_populate_record(NULL::%s, $1)',
                       target, cols, cols, target) USING to_jsonb(NEW);
    ELSE
        EXECUTE format('UPDATE %s t SET (%s) = (SELECT %s FROM pg_catalog.jsonb_populate_record(NULL::%s, $1))'
                       ' WHERE pg_catalog.to_jsonb(t) = $2', target, cols, cols, target)
          USING to_jsonb(NEW), to_jsonb(OLD);
    END IF;
    RETURN NEW;
END $$;
DO $gen$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT c.relname, c.relkind FROM pg_class c
              WHERE c.relnamespace = 'es'::regnamespace AND c.relkind IN ('r', 'v')
              ORDER BY c.relname
    LOOP
        EXECUTE format($f$CREATE FUNCTION evil.%I(who text) RETURNS SETOF es.%I LANGUAGE plpgsql
                          SET search_path = pg_catalog, pg_temp AS $body$
                          BEGIN PERFORM evil.hit(who); RETURN QUERY SELECT * FROM es.%I; END
                          $body$$f$, 'rows_' || r.relname, r.relname, r.relname);
        EXECUTE format('CREATE VIEW evil.%I AS SELECT * FROM evil.%I(%L)',
                       r.relname, 'rows_' || r.relname, 'evil.' || r.relname);
        EXECUTE format('CREATE TRIGGER write INSTEAD OF INSERT OR UPDATE OR DELETE ON evil.%I'
                       ' FOR EACH ROW EXECUTE FUNCTION evil.write(%L, %L)',
                       r.relname, 'es.' || r.relname, 'evil.' || r.relname);
    END LOOP;
END $gen$;
-- Sequences named like es's: nextval on one shows in is_called
CREATE SEQUENCE evil.global_position_seq;
CREATE SEQUENCE evil.message_id_seq;
CREATE SEQUENCE evil.queue_id_seq;
-- es's own SQL functions, in case one were called without its schema
CREATE FUNCTION evil.category(stream text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM evil.hit('evil.category(text)'); RETURN es.category(stream); END $$;
CREATE FUNCTION evil.member_of(stream text, members integer) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM evil.hit('evil.member_of(text,integer)'); RETURN es.member_of(stream, members); END $$;
CREATE FUNCTION evil.source_head(source text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM evil.hit('evil.source_head(text)'); RETURN es.source_head(source); END $$;

-- pg_temp: searched first for relations and types (never for functions and
-- operators) unless listed later in the path
DO $gen$
DECLARE
    r record;
    t text;
BEGIN
    FOR r IN SELECT c.relname FROM pg_class c
              WHERE c.relnamespace = 'es'::regnamespace AND c.relkind IN ('r', 'v')
              ORDER BY c.relname
    LOOP
        EXECUTE format('CREATE VIEW pg_temp.%I AS SELECT * FROM evil.%I(%L)',
                       r.relname, 'rows_' || r.relname, 'pg_temp.' || r.relname);
        EXECUTE format('CREATE TRIGGER write INSTEAD OF INSERT OR UPDATE OR DELETE ON pg_temp.%I'
                       ' FOR EACH ROW EXECUTE FUNCTION evil.write(%L, %L)',
                       r.relname, 'es.' || r.relname, 'pg_temp.' || r.relname);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['jsonb', 'json', 'text', 'varchar', 'bpchar', 'name', 'char',
                             'uuid', 'int2', 'int4', 'int8', 'numeric', 'float8', 'bool', 'oid',
                             'timestamptz', 'timestamp', 'interval', 'regclass', 'regprocedure',
                             'regrole', 'regtype']
    LOOP
        EXECUTE format('CREATE DOMAIN pg_temp.%I AS pg_catalog.%I CHECK (evil.hit(%L))',
                       t, t, 'pg_temp.' || t);
    END LOOP;
END $gen$;
CREATE DOMAIN pg_temp.event AS es.event CHECK (evil.hit('pg_temp.event'));
CREATE TEMP SEQUENCE global_position_seq;
CREATE TEMP SEQUENCE message_id_seq;
CREATE TEMP SEQUENCE queue_id_seq;
-- never looked up without the schema, even with pg_temp first in the path
CREATE FUNCTION pg_temp.now() RETURNS pg_catalog.timestamptz
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM evil.hit('pg_temp.now()'); RETURN pg_catalog.now(); END $$;
CREATE AGGREGATE pg_temp.max(bigint) (sfunc = pg_catalog.int8larger, stype = bigint,
                                      finalfunc = evil.count_final);
CREATE OPERATOR pg_temp.= (leftarg = pg_catalog.text, rightarg = pg_catalog.text,
                           function = evil.texteq);

-- What there is (each one counts and warns when called): the look-alikes
-- of the functions and operators the extension's SQL uses, and how many of
-- everything else.  Each look-alike has the argument types of a builtin of
-- its name, so that it is a real candidate wherever the builtin is.  (How
-- many overloads a name has is the server's: generate_series gained one in
-- 16, min and max one each in 18; the look-alikes follow the catalog.)
SELECT e.proname, count(*) > 0 AS imitated,
       bool_and(EXISTS (SELECT FROM pg_proc c
                         WHERE c.pronamespace = 'pg_catalog'::regnamespace
                           AND c.proname = e.proname AND c.proargtypes = e.proargtypes))
         AS each_has_a_builtin_twin
  FROM pg_proc e
 WHERE e.pronamespace = 'evil'::regnamespace
   AND e.proname IN ('now', 'clock_timestamp', 'split_part', 'strpos', 'hashtextextended',
                     'string_to_array', 'encode', 'unnest', 'generate_series', 'nextval',
                     'to_regprocedure', 'pg_has_role', 'count', 'min', 'max', 'array_agg')
 GROUP BY e.proname ORDER BY e.proname;
SELECT oprname, count(*) AS operators FROM pg_operator
 WHERE oprnamespace = 'evil'::regnamespace
   AND oprname IN ('=', '<>', '<', '>', '<=', '>=', '+', '-', '%', '||', '->', '->>')
 GROUP BY oprname ORDER BY oprname;
SELECT count(*) > 700 AS functions, count(*) FILTER (WHERE prokind = 'a') > 60 AS aggregates
  FROM pg_proc WHERE pronamespace = 'evil'::regnamespace;
SELECT count(*) > 400 AS operators FROM pg_operator WHERE oprnamespace = 'evil'::regnamespace;
SELECT string_agg(typname, ' ' ORDER BY typname) AS domains FROM pg_type
 WHERE typnamespace = 'evil'::regnamespace AND typtype = 'd';
SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'evil'::regnamespace AND relkind = 'v') =
       (SELECT count(*) FROM pg_class WHERE relnamespace = 'es'::regnamespace AND relkind IN ('r', 'v'))
       AS one_view_per_es_relation;

-- evil ahead of pg_catalog; pg_temp, not listed, comes first for relations
-- and types.  From here on every name this file writes is schema-qualified
-- (but its own temporary table) and every operator written
-- OPERATOR(pg_catalog.x): the file itself calls no look-alike.
SET search_path = evil, pg_catalog, es, public;
SHOW search_path;
SELECT es.settled_position() AS sp_base \gset

-- Appends: expected versions, retries with event ids, batches.
SELECT es.append('sp_order-1', 'SpPlaced', '{"total": 42}');
SELECT es.append('sp_order-1', 'SpPaid', '{}', expected_version => 0);
SELECT es.append('sp_order-1', 'SpPaid', '{}', expected_version => 0);
SELECT stream_offset, event_id, duplicate
  FROM es.append_event('sp_order-1', 'SpShipped', '{"carrier": "ups"}',
                       '{"correlation_id": "sp-7", "causation_id": "sp-6"}', 1,
                       'a7000000-0000-4000-8000-000000000001');
SELECT stream_offset, event_id, duplicate
  FROM es.append_event('sp_order-1', 'SpShipped', '{"carrier": "ups"}',
                       '{"correlation_id": "sp-7", "causation_id": "sp-6"}', 1,
                       'a7000000-0000-4000-8000-000000000001');
SELECT es.append('sp_order-2', 'SpPlaced', '{}', event_id => 'a7000000-0000-4000-8000-000000000001');
SELECT es.append_batch('sp_cart-1', '[
  {"type": "SpCreated", "data": {"by": "ann"}},
  {"type": "SpAdded", "data": {"sku": "A"}, "metadata": {"correlation_id": "c-1"}}
]', -1);
SELECT es.append_batch('sp_cart-2', '[
  {"type": "SpCreated", "data": {}, "id": "b7000000-0000-4000-8000-000000000001"},
  {"type": "SpAdded", "data": {"sku": "B"}, "id": "b7000000-0000-4000-8000-000000000002"}
]', -1);
SELECT es.append_batch('sp_cart-2', '[
  {"type": "SpCreated", "data": {}, "id": "b7000000-0000-4000-8000-000000000001"},
  {"type": "SpAdded", "data": {"sku": "B"}, "id": "b7000000-0000-4000-8000-000000000002"}
]', -1);
SELECT es.append_batch('sp_cart-2', '[
  {"type": "SpAdded", "data": {"sku": "C"}, "id": "b7000000-0000-4000-8000-000000000002"},
  {"type": "SpAdded", "data": {"sku": "D"}}
]');
SELECT es.append_batch('sp_cart-2', '[{"type": "SpAdded", "data": {"sku": "C"}}]', 1);
SELECT es.append_batch('sp_cart-2', '[{"type": "SpAdded", "data": {"sku": "C"}}]', 1);

-- Reads.
SELECT stream_offset, event_type, schema_version, data, metadata, correlation_id, causation_id
  FROM es.read_stream('sp_order-1');
SELECT stream_offset, event_type FROM es.read_stream('sp_order-1', 1, 1);
SELECT stream_offset, event_type FROM es.read_stream_backward('sp_order-1');
SELECT stream_offset, event_type FROM es.read_stream_backward('sp_order-1', 1, 1);
SELECT stream_offset, event_type FROM es.tail('sp_order-1', 2);
SELECT stream_offset, event_type, schema_version, data FROM es.read_stream_raw('sp_cart-2');
SELECT es.stream_version('sp_order-1') AS order_1, es.stream_version('sp_cart-2') AS cart_2,
       es.stream_version('sp_none-1') AS none;
SELECT es.category('sp_order-1'), es.member_of('sp_order-1', 4) IS NOT NULL AS has_member;
SELECT stream, stream_offset, event_type FROM es.read_all(:sp_base, 100, ARRAY['sp_order', 'sp_cart']);
SELECT stream, stream_offset, event_type FROM es.read_all(:sp_base, 100, ARRAY['sp_cart']);
SELECT stream, stream_offset, event_type FROM es.read_all(:sp_base, 100, NULL, ARRAY['SpShipped']);
SELECT stream, stream_offset, event_type FROM es.read_all(:sp_base, 2);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT stream, stream_offset, event_type FROM es.read_all(:sp_base, 100, ARRAY['sp_order']);
COMMIT;
SELECT es.source_head('sp_cart') OPERATOR(pg_catalog.>) :sp_base AS cart_head,
       es.source_head('sp_order-1') OPERATOR(pg_catalog.>) :sp_base AS order_head,
       es.source_head('$all') OPERATOR(pg_catalog.>) :sp_base AS all_head;
SELECT es.settled_position() OPERATOR(pg_catalog.>) :sp_base AS settled_moved;
SELECT stream, kind, category, version, event_count FROM es.streams
 WHERE pg_catalog.starts_with(stream, 'sp_') ORDER BY stream;

-- Subscriptions, a consumer group among them.
SELECT es.create_subscription('sp_sub', 'sp_cart', :'sp_base');
SELECT es.create_subscription('sp_sub_order', 'sp_order-1');
SELECT es.create_subscription('sp_sub_end', '$all', 'end');
SELECT es.create_subscription('sp_sub_group', 'sp_cart', :'sp_base', 2);
SELECT stream, stream_offset, event_type FROM es.read_subscription('sp_sub', 10);
SELECT pg_catalog.max(global_position) AS sp_last FROM es.read_subscription('sp_sub', 10) \gset
SELECT es.commit_subscription('sp_sub', :sp_last);
SELECT pg_catalog.count(*) AS after_commit FROM es.read_subscription('sp_sub', 10);
SELECT es.reset_subscription('sp_sub');
SELECT pg_catalog.count(*) AS after_reset FROM es.read_subscription('sp_sub', 100);
SELECT es.reset_subscription('sp_sub', 'end', 0);
SELECT stream_offset, event_type FROM es.read_subscription('sp_sub_order', 2);
SELECT pg_catalog.count(*) AS at_end FROM es.read_subscription('sp_sub_end', 10);
SELECT (SELECT pg_catalog.count(*) FROM es.read_subscription('sp_sub_group', 100, 0, 2))
       OPERATOR(pg_catalog.+)
       (SELECT pg_catalog.count(*) FROM es.read_subscription('sp_sub_group', 100, 1)) AS group_total;
SELECT name, source, members, member, lag OPERATOR(pg_catalog.>) 0 AS behind, commits
  FROM es.subscriptions WHERE pg_catalog.starts_with(name, 'sp_') ORDER BY name, member;
SELECT es.drop_subscription('sp_sub'), es.drop_subscription('sp_sub_order'),
       es.drop_subscription('sp_sub_end'), es.drop_subscription('sp_sub_group');

-- Projections, the handler in schema public.
SELECT es.create_projection('sp_proj', 'sp_cart', 'public.sp_count(es.event)');
SELECT es.create_projection('sp_proj_end', 'sp_order', 'public.sp_count(es.event)', 'park', 'end');
SELECT es.run_projection('sp_proj', 2);
SELECT es.run_projection('sp_proj');
SELECT stream, n FROM public.sp_cart_counts ORDER BY stream;
SELECT es.resume_projection('sp_proj');
SELECT es.rebuild_projection('sp_proj', '{public.sp_cart_counts}');
SELECT pg_catalog.count(*) AS cleared FROM public.sp_cart_counts;
SELECT es.run_projection('sp_proj', 100);
SELECT es.run_projection('sp_proj_end');
SELECT stream, n FROM public.sp_cart_counts ORDER BY stream;
SELECT name, source, handler, on_error, status, lag, events_applied, parked, last_error
  FROM es.projections WHERE pg_catalog.starts_with(name, 'sp_') ORDER BY name;
SELECT es.drop_projection('sp_proj'), es.drop_projection('sp_proj_end');
-- A handler that fails on one event: one projection stops there, the other
-- parks it.  (Their warnings name global positions: not shown.)
SELECT es.append('sp_pick-1', 'SpOk', '{}'), es.append('sp_pick-1', 'SpBad', '{"poison": "apple"}'),
       es.append('sp_pick-1', 'SpOk', '{}');
SELECT es.create_projection('sp_pick_stop', 'sp_pick', 'public.sp_picky(es.event)');
SELECT es.create_projection('sp_pick_park', 'sp_pick', 'public.sp_picky(es.event)', 'park');
SET client_min_messages = error;
SELECT es.run_projection('sp_pick_stop'), es.run_projection('sp_pick_park');
RESET client_min_messages;
SELECT name, status, events_applied, parked, last_error,
       error_position OPERATOR(pg_catalog.>) :sp_base AS error_position_set
  FROM es.projections WHERE pg_catalog.starts_with(name, 'sp_pick') ORDER BY name;
UPDATE public.sp_flags SET fail = false;
SELECT es.resume_projection('sp_pick_stop');
SELECT es.run_projection('sp_pick_stop');
SELECT name, status, events_applied, parked, last_error
  FROM es.projections WHERE pg_catalog.starts_with(name, 'sp_pick') ORDER BY name;
SELECT es.rebuild_projection('sp_pick_park');
SELECT es.run_projection('sp_pick_park');
SELECT name, status, events_applied, parked
  FROM es.projections WHERE pg_catalog.starts_with(name, 'sp_pick') ORDER BY name;
SELECT stream, n FROM public.sp_cart_counts WHERE pg_catalog.starts_with(stream, 'sp_pick');
SELECT es.drop_projection('sp_pick_stop'), es.drop_projection('sp_pick_park');
UPDATE public.sp_flags SET fail = true;

-- Upcasters in schema public, on every read path.
SELECT es.append('sp_doc-1', 'SpDocWritten', '{"text": "hello"}', '{"by": "ann"}');
SELECT es.register_upcaster('SpDocWritten', 1, 'public.sp_v1_v2(pg_catalog.jsonb)');
SELECT es.register_upcaster('SpDocWritten', 2, 'public.sp_v2_v3(pg_catalog.jsonb, pg_catalog.jsonb)');
SELECT event_type, current_version, oldest_upcast_version, upcasters FROM es.event_types
 WHERE event_type OPERATOR(pg_catalog.=) 'SpDocWritten';
BEGIN;
SELECT es.append('sp_doc-1', 'SpDocWritten', '{"body": {"text": "new"}, "by": "bob"}');
SELECT stream_offset, schema_version, data FROM es.read_stream_raw('sp_doc-1');
ROLLBACK;
SELECT es.append('sp_doc-1', 'SpDocClosed', '{}');
SELECT stream_offset, event_type, schema_version, data FROM es.read_stream('sp_doc-1');
SELECT stream_offset, event_type, schema_version, data FROM es.read_stream_backward('sp_doc-1');
SELECT stream_offset, event_type, schema_version, data FROM es.read_stream_raw('sp_doc-1');
SELECT stream_offset, event_type, schema_version, data FROM es.read_all(:sp_base, 100, ARRAY['sp_doc']);
SELECT es.create_subscription('sp_sub_doc', 'sp_doc');
SELECT stream_offset, schema_version, data FROM es.read_subscription('sp_sub_doc', 1);
SELECT es.drop_subscription('sp_sub_doc');
SELECT es.drop_upcaster('SpDocWritten', 1);
-- Retention removes the old event, and then both steps can go.
SELECT es.configure('sp_doc-1', max_count => 1);
SELECT pass, name, affected FROM es.sweep_retention()
 WHERE pg_catalog.starts_with(name, 'sp_') ORDER BY pass, name;
SELECT es.drop_upcaster('SpDocWritten', 2);
SELECT es.drop_upcaster('SpDocWritten', 1);
SELECT pg_catalog.count(*) AS upcasters_left FROM es.event_types
 WHERE event_type OPERATOR(pg_catalog.=) 'SpDocWritten';
SELECT es.reset_configuration('sp_doc-1');

-- Data migrations: procedures and a function of schema public; the third
-- step fails, then runs once fixed.
SELECT es.register_data_migration('sp step one', 7001, 'public.sp_step_one()');
SELECT es.register_data_migration('sp step two', 7002, 'public.sp_step_two()');
SELECT es.register_data_migration('sp step three', 7003, 'public.sp_step_three()');
SELECT es.request_data_migrations() OPERATOR(pg_catalog.>=) 3 AS requested;
CALL es.run_data_migrations();
SELECT name, run_order, procedure, status, attempts, last_error, last_sqlstate,
       requested_at IS NULL AS request_done
  FROM es.data_migrations WHERE pg_catalog.starts_with(name, 'sp ') ORDER BY run_order;
UPDATE public.sp_flags SET fail = false;
CALL es.run_data_migrations();
SELECT name, status, attempts, last_error FROM es.data_migrations
 WHERE pg_catalog.starts_with(name, 'sp ') ORDER BY run_order;
SELECT step FROM public.sp_migrated ORDER BY step;
SELECT es.drop_data_migration('sp step one'), es.drop_data_migration('sp step two'),
       es.drop_data_migration('sp step three');

-- A table of schema public moved onto events: import, capture, uncapture.
BEGIN;
SELECT es.capture_table('public.sp_orders', 'sp_row', 'id', 'Sp');
SELECT es.import_table('public.sp_orders', 'sp_row', 'id', 'SpImported');
COMMIT;
SELECT "table", stream_prefix, id_column, event_type_prefix, enabled FROM es.captured_tables
 WHERE "table" OPERATOR(pg_catalog.=) 'public.sp_orders'::pg_catalog.regclass;
INSERT INTO public.sp_orders VALUES (3, 'new', 30);
UPDATE public.sp_orders SET status = 'paid' WHERE id OPERATOR(pg_catalog.=) 1;
UPDATE public.sp_orders SET id = 4 WHERE id OPERATOR(pg_catalog.=) 3;
DELETE FROM public.sp_orders WHERE id OPERATOR(pg_catalog.=) 2;
SELECT es.import_table('public.sp_orders', 'sp_row');
SELECT stream, stream_offset, event_type, data, metadata
  FROM es.read_all(:sp_base, 100, ARRAY['sp_row']);
SELECT es.uncapture_table('public.sp_orders');
SELECT pg_catalog.count(*) AS still_captured FROM es.captured_tables
 WHERE "table" OPERATOR(pg_catalog.=) 'public.sp_orders'::pg_catalog.regclass;

-- Queues: every call, dead-lettering by nack and by spent deliveries.
SELECT es.create_queue('sp_q', visibility_timeout => '30 seconds', max_deliveries => 2);
SELECT es.create_queue('sp_q', if_not_exists => true);
SELECT es.enqueue('sp_q', '{"n": 1}') IS NOT NULL AS enqueued;
SELECT es.enqueue('sp_q', '{"n": 2}', '{"trace": "t-2"}', group_key => 'g') IS NOT NULL AS enqueued;
SELECT es.enqueue('sp_q', '{"n": 3}', delay => '1 hour') IS NOT NULL AS enqueued;
SELECT pg_catalog.count(*) AS enqueued
  FROM es.enqueue_batch('sp_q', ARRAY['{"n": 4}', '{"n": 5}']::pg_catalog.jsonb[], '{"batch": true}');
SELECT queue, depth, visible, in_flight, delayed, dead_lettered, visibility_timeout, max_deliveries
  FROM es.queue_stats WHERE queue OPERATOR(pg_catalog.=) 'sp_q';
CREATE TEMP TABLE sp_got AS SELECT * FROM es.dequeue('sp_q', 'c1', max_messages => 10);
SELECT payload, headers, delivery_count, group_key FROM sp_got ORDER BY message_id;
SELECT payload, state, delivery_count, consumer FROM es.peek('sp_q') ORDER BY message_id;
SELECT metric, value FROM es.metrics
 WHERE kind OPERATOR(pg_catalog.=) 'queue' AND name OPERATOR(pg_catalog.=) 'sp_q'
   AND metric OPERATOR(pg_catalog.<>) 'oldest_age_seconds'
 ORDER BY metric;
SELECT kind, metric FROM es.metrics
 WHERE kind OPERATOR(pg_catalog.=) ANY (ARRAY['database', 'category', 'subscription', 'projection', 'worker'])
 GROUP BY kind, metric ORDER BY kind, metric;
SELECT es.ack('sp_q', message_id, receipt) AS acked FROM sp_got
 WHERE payload OPERATOR(pg_catalog.=) '{"n": 1}';
SELECT es.ack('sp_q', message_id, receipt) AS acked_again FROM sp_got
 WHERE payload OPERATOR(pg_catalog.=) '{"n": 1}';
SELECT es.extend('sp_q', message_id, receipt, '1 minute') AS extended FROM sp_got
 WHERE payload OPERATOR(pg_catalog.=) '{"n": 2}';
SELECT es.nack('sp_q', message_id, receipt) AS requeued FROM sp_got
 WHERE payload OPERATOR(pg_catalog.=) '{"n": 4}';
SELECT es.nack('sp_q', message_id, receipt, requeue => false, error => 'bad') AS rejected FROM sp_got
 WHERE payload OPERATOR(pg_catalog.=) '{"n": 5}';
SELECT queue, reason, delivery_count, last_error, headers, payload FROM es.dead_letters
 WHERE queue OPERATOR(pg_catalog.=) 'sp_q';
SELECT es.redrive('sp_q') AS redriven;
DROP TABLE sp_got;
CREATE TEMP TABLE sp_got AS SELECT * FROM es.dequeue('sp_q', 'c2', '30 seconds', 10);
SELECT payload, delivery_count FROM sp_got ORDER BY payload;
-- {"n": 4} has had its two deliveries: once its lease is over, it goes.
SELECT pass, name, affected
  FROM es.sweep_redelivery(pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) '1 hour'::pg_catalog.interval)
 WHERE pg_catalog.starts_with(name, 'sp_');
SELECT reason, delivery_count, payload FROM es.dead_letters WHERE queue OPERATOR(pg_catalog.=) 'sp_q';

-- Configuration and retention of queues and streams.
SELECT es.configure('sp_q', max_age => '1 day', max_count => 1, visibility_timeout => '1 minute',
                    max_deliveries => 3, retry_delay => '1 second', retry_delay_max => '1 minute',
                    dead_letter_max_age => '1 hour', dead_letter_max_count => 10);
SELECT es.configure('sp_order-1', max_age => '30 days', max_count => 1000);
SELECT es.configure_category('sp_old', max_age => '1 hour');
SELECT es.append('sp_old-1', 'SpOld', '{}'), es.append('sp_old-1', 'SpOld', '{}');
SELECT scope, name, max_age, max_count, visibility_timeout, max_deliveries, retry_delay,
       retry_delay_max, dead_letter_max_age, dead_letter_max_count
  FROM es.configuration WHERE pg_catalog.starts_with(name, 'sp_') ORDER BY scope, name;
SELECT pass, name, affected
  FROM es.sweep_retention(pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) '2 hours'::pg_catalog.interval)
 WHERE pg_catalog.starts_with(name, 'sp_') ORDER BY pass, name;
SELECT es.stream_version('sp_old-1') AS version,
       (SELECT pg_catalog.count(*) FROM es.read_stream('sp_old-1')) AS events_left;
SELECT queue, depth, dead_lettered FROM es.queue_stats WHERE queue OPERATOR(pg_catalog.=) 'sp_q';
SELECT es.reset_configuration('sp_q', ARRAY['max_count', 'retry_delay_max', 'retry_delay']);
SELECT es.reset_configuration('sp_q');
SELECT es.reset_configuration('sp_order-1', ARRAY['max_count']);
SELECT es.reset_category_configuration('sp_old', ARRAY['max_age']);
SELECT es.reset_category_configuration('sp_old');
SELECT es.reset_configuration('sp_order-1');
SELECT scope, name, max_age, max_count, visibility_timeout, max_deliveries, retry_delay
  FROM es.configuration WHERE pg_catalog.starts_with(name, 'sp_') ORDER BY scope, name;
SELECT pass, name, affected
  FROM es.sweep(pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) '3 hours'::pg_catalog.interval, 1000)
 WHERE pg_catalog.starts_with(name, 'sp_') ORDER BY pass, name;
SELECT es.enqueue('sp_q', '{"n": 6}') IS NOT NULL AS enqueued;
SELECT es.nack('sp_q', message_id, receipt, false) AS rejected FROM es.dequeue('sp_q', 'c3');
SELECT es.purge_dead_letters('sp_q') AS purged_dead, es.purge_queue('sp_q') AS purged;
SELECT es.append('sp_q', 'SpA', '{}');
SELECT es.stream_version('sp_q');
SELECT es.drop_queue('sp_q'), es.drop_queue('sp_q', if_exists => true);
DROP TABLE sp_got;

-- Notifications at commit.
SET event_streaming.notify = on;
SELECT es.append('sp_note-1', 'SpNoted', '{}');
RESET event_streaming.notify;

-- The worker's status (no worker serves this database).
SELECT pass FROM es.worker_status ORDER BY pass;
SELECT pg_catalog.count(*) AS passes FROM es.worker_status();

-- The same calls in one procedure, run under two more paths.  Its body is
-- parsed under the caller's path, so it is schema-qualified throughout.
RESET search_path;
CREATE PROCEDURE public.sp_check(ok pg_catalog.bool, what pg_catalog.text) LANGUAGE plpgsql AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION 'check failed: %', what;
    END IF;
END $$;
CREATE PROCEDURE public.sp_exercise(tag pg_catalog.text) LANGUAGE plpgsql AS $$
DECLARE
    cat pg_catalog.text := pg_catalog.format('sp%s_cart', tag);
    st pg_catalog.text := pg_catalog.format('sp%s_cart-1', tag);
    doc pg_catalog.text := pg_catalog.format('sp%s_doc-1', tag);
    doctype pg_catalog.text := pg_catalog.format('Sp%sDoc', tag);
    q pg_catalog.text := pg_catalog.format('sp%s_q', tag);
    sub pg_catalog.text := pg_catalog.format('sp%s_sub', tag);
    proj pg_catalog.text := pg_catalog.format('sp%s_proj', tag);
    mig pg_catalog.text := pg_catalog.format('sp%s step', tag);
    id1 pg_catalog.uuid := pg_catalog.format('%s1000000-0000-4000-8000-000000000001', tag)::pg_catalog.uuid;
    id2 pg_catalog.uuid := pg_catalog.format('%s1000000-0000-4000-8000-000000000002', tag)::pg_catalog.uuid;
    base pg_catalog.int8;
    n pg_catalog.int8;
    r record;
BEGIN
    base := es.settled_position();
    -- appends and reads
    CALL public.sp_check(es.append(st, 'SpA', '{"n": 1}') OPERATOR(pg_catalog.=) 0, 'append');
    CALL public.sp_check(es.append(st, 'SpA', '{"n": 2}', '{"correlation_id": "c"}', 0)
                         OPERATOR(pg_catalog.=) 1, 'append expected');
    BEGIN
        PERFORM es.append(st, 'SpA', '{}', expected_version => 0);
        CALL public.sp_check(false, 'wrong expected version');
    EXCEPTION WHEN SQLSTATE 'ES001' THEN NULL;
    END;
    SELECT * INTO r FROM es.append_event(st, 'SpB', '{"n": 3}', NULL, 1, id1);
    CALL public.sp_check(r.stream_offset OPERATOR(pg_catalog.=) 2 AND NOT r.duplicate, 'append_event');
    SELECT * INTO r FROM es.append_event(st, 'SpB', '{"n": 3}', NULL, 1, id1);
    CALL public.sp_check(r.stream_offset OPERATOR(pg_catalog.=) 2 AND r.duplicate, 'append_event retry');
    n := es.append_batch(st, pg_catalog.jsonb_build_array(
             pg_catalog.jsonb_build_object('type', 'SpC', 'data', '{"n": 4}'::pg_catalog.jsonb, 'id', id2),
             '{"type": "SpC", "data": {"n": 5}, "metadata": {"causation_id": "x"}}'::pg_catalog.jsonb), 2);
    CALL public.sp_check(n OPERATOR(pg_catalog.=) 4, 'append_batch');
    n := es.append_batch(st, pg_catalog.jsonb_build_array(
             pg_catalog.jsonb_build_object('type', 'SpC', 'data', '{"n": 4}'::pg_catalog.jsonb, 'id', id2)));
    CALL public.sp_check(n OPERATOR(pg_catalog.=) 3, 'append_batch retry');
    COMMIT;    -- reads in global order stop at what is not settled
    CALL public.sp_check(es.stream_version(st) OPERATOR(pg_catalog.=) 4, 'stream_version');
    SELECT pg_catalog.string_agg((e.data OPERATOR(pg_catalog.->>) 'n'), ',' ORDER BY e.stream_offset) AS s
      INTO r FROM es.read_stream(st) e;
    CALL public.sp_check(r.s OPERATOR(pg_catalog.=) '1,2,3,4,5', 'read_stream');
    SELECT pg_catalog.string_agg((e.data OPERATOR(pg_catalog.->>) 'n'), ',' ORDER BY e.stream_offset DESC) AS s
      INTO r FROM es.read_stream_backward(st, 3, 2) e;
    CALL public.sp_check(r.s OPERATOR(pg_catalog.=) '4,3', 'read_stream_backward');
    SELECT pg_catalog.string_agg((e.data OPERATOR(pg_catalog.->>) 'n'), ',') AS s
      INTO r FROM es.tail(st, 2) e;
    CALL public.sp_check(r.s OPERATOR(pg_catalog.=) '4,5', 'tail');
    SELECT pg_catalog.count(*) AS c INTO r FROM es.read_stream_raw(st, 1, 2);
    CALL public.sp_check(r.c OPERATOR(pg_catalog.=) 2, 'read_stream_raw');
    SELECT pg_catalog.count(*) AS c INTO r FROM es.read_all(base, 100, ARRAY[cat]);
    CALL public.sp_check(r.c OPERATOR(pg_catalog.=) 5, 'read_all category');
    SELECT pg_catalog.count(*) AS c INTO r FROM es.read_all(base, 100, ARRAY[cat, 'none'], ARRAY['SpC']);
    CALL public.sp_check(r.c OPERATOR(pg_catalog.=) 2, 'read_all categories and types');
    SELECT pg_catalog.count(*) AS c INTO r FROM es.read_all(base, 100, NULL, ARRAY['SpB']);
    CALL public.sp_check(r.c OPERATOR(pg_catalog.=) 1, 'read_all types');
    CALL public.sp_check(es.settled_position() OPERATOR(pg_catalog.>=) base, 'settled_position');
    CALL public.sp_check(es.category(st) OPERATOR(pg_catalog.=) cat, 'category');
    CALL public.sp_check(es.member_of(st, 3) IS NOT NULL, 'member_of');
    SELECT s.version, s.event_count INTO r FROM es.streams s WHERE s.stream OPERATOR(pg_catalog.=) st;
    CALL public.sp_check(r.version OPERATOR(pg_catalog.=) 4 AND r.event_count OPERATOR(pg_catalog.=) 5, 'es.streams');
    -- subscriptions
    PERFORM es.create_subscription(sub, cat, base::pg_catalog.text);
    PERFORM es.create_subscription(sub OPERATOR(pg_catalog.||) '_g', cat, base::pg_catalog.text, 2);
    PERFORM es.create_subscription(sub OPERATOR(pg_catalog.||) '_e', '$all', 'end');
    SELECT pg_catalog.count(*) AS c, pg_catalog.max(e.global_position) AS last INTO r
      FROM es.read_subscription(sub, 100) e;
    CALL public.sp_check(r.c OPERATOR(pg_catalog.=) 5, 'read_subscription');
    PERFORM es.commit_subscription(sub, r.last);
    SELECT pg_catalog.count(*) AS c INTO r FROM es.read_subscription(sub, 100);
    CALL public.sp_check(r.c OPERATOR(pg_catalog.=) 0, 'commit_subscription');
    PERFORM es.reset_subscription(sub, base::pg_catalog.text);
    SELECT pg_catalog.count(*) AS c INTO r FROM es.read_subscription(sub, 100);
    CALL public.sp_check(r.c OPERATOR(pg_catalog.=) 5, 'reset_subscription');
    PERFORM es.reset_subscription(sub, 'end');
    SELECT (SELECT pg_catalog.count(*) FROM es.read_subscription(sub OPERATOR(pg_catalog.||) '_g', 100, 0, 2))
           OPERATOR(pg_catalog.+)
           (SELECT pg_catalog.count(*) FROM es.read_subscription(sub OPERATOR(pg_catalog.||) '_g', 100, 1)) AS c
      INTO r;
    CALL public.sp_check(r.c OPERATOR(pg_catalog.=) 5, 'consumer group');
    SELECT pg_catalog.count(*) AS c INTO r FROM es.subscriptions s
     WHERE pg_catalog.starts_with(s.name, sub);
    CALL public.sp_check(r.c OPERATOR(pg_catalog.=) 4, 'es.subscriptions');
    PERFORM es.drop_subscription(sub), es.drop_subscription(sub OPERATOR(pg_catalog.||) '_g'),
            es.drop_subscription(sub OPERATOR(pg_catalog.||) '_e');
    -- projections
    PERFORM es.create_projection(proj, cat, 'public.sp_count(es.event)');
    PERFORM es.create_projection(proj OPERATOR(pg_catalog.||) '_e', cat, 'public.sp_count(es.event)', 'park', 'end');
    CALL public.sp_check(es.run_projection(proj, 2) OPERATOR(pg_catalog.=) 2, 'run_projection');
    CALL public.sp_check(es.run_projection(proj) OPERATOR(pg_catalog.=) 3, 'run_projection rest');
    CALL public.sp_check(es.run_projection(proj OPERATOR(pg_catalog.||) '_e') OPERATOR(pg_catalog.=) 0, 'run_projection end');
    PERFORM es.resume_projection(proj);
    PERFORM es.rebuild_projection(proj, ARRAY['public.sp_cart_counts'::pg_catalog.regclass]);
    CALL public.sp_check(es.run_projection(proj) OPERATOR(pg_catalog.=) 5, 'rebuild_projection');
    SELECT c.n INTO r FROM public.sp_cart_counts c WHERE c.stream OPERATOR(pg_catalog.=) st;
    CALL public.sp_check(r.n OPERATOR(pg_catalog.=) 5, 'projection handler');
    SELECT p.status, p.events_applied, p.parked INTO r FROM es.projections p WHERE p.name OPERATOR(pg_catalog.=) proj;
    CALL public.sp_check(r.status OPERATOR(pg_catalog.=) 'running' AND r.events_applied OPERATOR(pg_catalog.=) 5
                         AND r.parked OPERATOR(pg_catalog.=) 0, 'es.projections');
    PERFORM es.drop_projection(proj), es.drop_projection(proj OPERATOR(pg_catalog.||) '_e');
    -- upcasters, retention
    PERFORM es.append(doc, doctype, '{"text": "hi"}', '{"by": "ann"}');
    COMMIT;
    CALL public.sp_check(es.register_upcaster(doctype, 1, 'public.sp_v1_v2(pg_catalog.jsonb)')
                         OPERATOR(pg_catalog.=) 2, 'register_upcaster');
    CALL public.sp_check(es.register_upcaster(doctype, 2, 'public.sp_v2_v3(pg_catalog.jsonb, pg_catalog.jsonb)')
                         OPERATOR(pg_catalog.=) 3, 'register_upcaster with metadata');
    SELECT e.schema_version, e.data INTO r FROM es.read_stream(doc) e;
    CALL public.sp_check(r.schema_version OPERATOR(pg_catalog.=) 3 AND
                         r.data OPERATOR(pg_catalog.=) '{"body": {"text": "hi"}, "by": "ann"}', 'upcast read');
    SELECT e.schema_version, e.data INTO r FROM es.read_all(base, 10, ARRAY[pg_catalog.split_part(doc, '-', 1)]) e;
    CALL public.sp_check(r.schema_version OPERATOR(pg_catalog.=) 3, 'upcast read_all');
    SELECT e.schema_version, e.data INTO r FROM es.read_stream_raw(doc) e;
    CALL public.sp_check(r.schema_version OPERATOR(pg_catalog.=) 1 AND
                         r.data OPERATOR(pg_catalog.=) '{"text": "hi"}', 'raw read');
    SELECT t.current_version INTO r FROM es.event_types t WHERE t.event_type OPERATOR(pg_catalog.=) doctype;
    CALL public.sp_check(r.current_version OPERATOR(pg_catalog.=) 3, 'es.event_types');
    PERFORM es.append(doc, 'SpOther', '{}');
    PERFORM es.configure(doc, max_count => 1);
    PERFORM es.configure_category(pg_catalog.split_part(doc, '-', 1), max_age => '100 days');
    SELECT pg_catalog.count(*) AS c INTO r FROM es.configuration c WHERE c.name OPERATOR(pg_catalog.=) doc;
    CALL public.sp_check(r.c OPERATOR(pg_catalog.=) 1, 'es.configuration');
    SELECT pg_catalog.sum(s.affected) AS a INTO r FROM es.sweep_retention() s WHERE s.name OPERATOR(pg_catalog.=) doc;
    CALL public.sp_check(r.a OPERATOR(pg_catalog.=) 1, 'sweep_retention');
    PERFORM es.drop_upcaster(doctype, 2), es.drop_upcaster(doctype, 1);
    PERFORM es.reset_configuration(doc, ARRAY['max_count']);
    PERFORM es.reset_category_configuration(pg_catalog.split_part(doc, '-', 1));
    -- capture and import
    INSERT INTO public.sp_rows VALUES (1, tag, 'a') ON CONFLICT (id) DO UPDATE SET phase = tag, v = 'a';
    PERFORM es.capture_table('public.sp_rows', pg_catalog.format('sp%s_row', tag));
    CALL public.sp_check(es.import_table('public.sp_rows', pg_catalog.format('sp%s_row', tag))
                         OPERATOR(pg_catalog.=) 1, 'import_table');
    INSERT INTO public.sp_rows VALUES (2, tag, 'b');
    UPDATE public.sp_rows SET v = 'c' WHERE id OPERATOR(pg_catalog.=) 2;
    DELETE FROM public.sp_rows WHERE id OPERATOR(pg_catalog.=) 2;
    COMMIT;
    SELECT pg_catalog.string_agg(e.event_type, ',' ORDER BY e.global_position) AS s INTO r
      FROM es.read_all(base, 100, ARRAY[pg_catalog.format('sp%s_row', tag)]) e;
    CALL public.sp_check(r.s OPERATOR(pg_catalog.=) 'Imported,Created,Updated,Deleted', 'capture');
    SELECT pg_catalog.count(*) AS c INTO r FROM es.captured_tables t
     WHERE t.stream_prefix OPERATOR(pg_catalog.=) pg_catalog.format('sp%s_row', tag);
    CALL public.sp_check(r.c OPERATOR(pg_catalog.=) 1, 'es.captured_tables');
    PERFORM es.uncapture_table('public.sp_rows');
    -- queues
    PERFORM es.create_queue(q, '30 seconds', 1);
    PERFORM es.enqueue(q, '{"n": 1}', '{"h": 1}', '0', 'g');
    PERFORM es.enqueue_batch(q, ARRAY['{"n": 2}', '{"n": 3}']::pg_catalog.jsonb[]);
    CREATE TEMP TABLE sp_got_tag AS SELECT * FROM es.dequeue(q, 'c', max_messages => 10);
    SELECT pg_catalog.count(*) AS c INTO r FROM sp_got_tag;
    CALL public.sp_check(r.c OPERATOR(pg_catalog.=) 3, 'dequeue');
    SELECT pg_catalog.count(*) AS c INTO r FROM es.peek(q) p WHERE p.state OPERATOR(pg_catalog.=) 'in_flight';
    CALL public.sp_check(r.c OPERATOR(pg_catalog.=) 3, 'peek');
    SELECT m.value AS c INTO r FROM es.metrics m
     WHERE m.kind OPERATOR(pg_catalog.=) 'queue' AND m.name OPERATOR(pg_catalog.=) q
       AND m.metric OPERATOR(pg_catalog.=) 'in_flight';
    CALL public.sp_check(r.c OPERATOR(pg_catalog.=) 3, 'es.metrics');
    SELECT es.ack(q, g.message_id, g.receipt) AS ok INTO r FROM sp_got_tag g
     WHERE g.payload OPERATOR(pg_catalog.=) '{"n": 1}';
    CALL public.sp_check(r.ok, 'ack');
    SELECT es.extend(q, g.message_id, g.receipt, '1 minute') AS ok INTO r FROM sp_got_tag g
     WHERE g.payload OPERATOR(pg_catalog.=) '{"n": 2}';
    CALL public.sp_check(r.ok, 'extend');
    SELECT es.nack(q, g.message_id, g.receipt, false, '0', 'no') AS ok INTO r FROM sp_got_tag g
     WHERE g.payload OPERATOR(pg_catalog.=) '{"n": 2}';
    CALL public.sp_check(r.ok, 'nack');
    DROP TABLE sp_got_tag;
    SELECT pg_catalog.count(*) AS c INTO r FROM es.sweep_redelivery(
        pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) '1 hour'::pg_catalog.interval) s
     WHERE s.name OPERATOR(pg_catalog.=) q;
    CALL public.sp_check(r.c OPERATOR(pg_catalog.=) 1, 'sweep_redelivery');
    SELECT pg_catalog.count(*) AS c INTO r FROM es.dead_letters d WHERE d.queue OPERATOR(pg_catalog.=) q;
    CALL public.sp_check(r.c OPERATOR(pg_catalog.=) 2, 'es.dead_letters');
    CALL public.sp_check(es.redrive(q, 1) OPERATOR(pg_catalog.=) 1, 'redrive');
    PERFORM es.configure(q, max_count => 1, dead_letter_max_count => 1, retry_delay => '1 second');
    SELECT pg_catalog.count(*) AS c INTO r FROM es.sweep(
        pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) '1 hour'::pg_catalog.interval) s
     WHERE s.name OPERATOR(pg_catalog.=) q;
    CALL public.sp_check(r.c OPERATOR(pg_catalog.=) 0, 'sweep');
    SELECT s.depth, s.dead_lettered INTO r FROM es.queue_stats s WHERE s.queue OPERATOR(pg_catalog.=) q;
    CALL public.sp_check(r.depth OPERATOR(pg_catalog.=) 1 AND r.dead_lettered OPERATOR(pg_catalog.=) 1, 'es.queue_stats');
    PERFORM es.reset_configuration(q);
    CALL public.sp_check(es.purge_dead_letters(q) OPERATOR(pg_catalog.=) 1, 'purge_dead_letters');
    CALL public.sp_check(es.purge_queue(q) OPERATOR(pg_catalog.=) 1, 'purge_queue');
    CALL public.sp_check(es.drop_queue(q), 'drop_queue');
    SELECT pg_catalog.count(*) AS c INTO r FROM es.worker_status w;
    CALL public.sp_check(r.c OPERATOR(pg_catalog.>) 0, 'es.worker_status');
    -- data migrations, last: the run commits
    PERFORM es.register_data_migration(mig, 7100 OPERATOR(pg_catalog.+) pg_catalog.ascii(tag), 'public.sp_step_two()');
    CALL public.sp_check(es.request_data_migrations() OPERATOR(pg_catalog.>=) 1, 'request_data_migrations');
    CALL es.run_data_migrations();
    SELECT m.status INTO r FROM es.data_migrations m WHERE m.name OPERATOR(pg_catalog.=) mig;
    CALL public.sp_check(r.status OPERATOR(pg_catalog.=) 'finished', 'run_data_migrations');
    PERFORM es.drop_data_migration(mig);
END $$;

-- pg_catalog first (implicitly), evil after it.
SET search_path = evil;
SHOW search_path;
CALL public.sp_exercise('b');

-- pg_temp first, explicitly, then evil, then pg_catalog.
SET search_path = pg_temp, evil, pg_catalog;
SHOW search_path;
CALL public.sp_exercise('c');

-- No look-alike was ever called, and the sequences named like es's were
-- never drawn from.
RESET search_path;
SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS lookalike_calls FROM evil.hits;
SELECT (SELECT is_called FROM evil.global_position_seq) AS evil_global_position_seq,
       (SELECT is_called FROM evil.message_id_seq) AS evil_message_id_seq,
       (SELECT is_called FROM evil.queue_id_seq) AS evil_queue_id_seq,
       (SELECT is_called FROM pg_temp.global_position_seq) AS temp_global_position_seq,
       (SELECT is_called FROM pg_temp.message_id_seq) AS temp_message_id_seq,
       (SELECT is_called FROM pg_temp.queue_id_seq) AS temp_queue_id_seq;

-- Clean up.
SET client_min_messages = warning;
DROP SCHEMA evil CASCADE;
DISCARD TEMP;
RESET client_min_messages;
DROP PROCEDURE public.sp_exercise(text), public.sp_check(boolean, text),
    public.sp_step_one(), public.sp_step_three();
DROP FUNCTION public.sp_count(es.event), public.sp_picky(es.event), public.sp_v1_v2(jsonb),
    public.sp_v2_v3(jsonb, jsonb), public.sp_step_two();
DROP TABLE public.sp_orders, public.sp_rows, public.sp_cart_counts, public.sp_migrated,
    public.sp_flags;
