-- Data written through the 0.5.0 API (see data-0.1.0.sql): 0.4.0's, then
-- an upcaster chain, events of an upcast type read back upcast and raw,
-- data migrations (one finished, one failed, one pending), a table captured
-- with inserts, an update and a delete, and a table imported.
-- Tables: + es.upcasters, es.data_migration_catalog.
\ir data-0.4.0.sql

-- Event schema versions: UpgPriced 1 → 2 → 3.
SELECT es.append('upgprice-1', 'UpgPriced', '{"cents": 150}');
CREATE FUNCTION public.upg_price_v2(d jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE
    RETURN d - 'cents' || jsonb_build_object('amount', (d->>'cents')::numeric / 100);
CREATE FUNCTION public.upg_price_v3(d jsonb, m jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE
    RETURN d || jsonb_build_object('currency', coalesce(m->>'currency', 'EUR'));
SELECT es.register_upcaster('UpgPriced', 1, 'public.upg_price_v2(jsonb)');
SELECT es.append('upgprice-1', 'UpgPriced', '{"amount": 2.5}');
SELECT es.register_upcaster('UpgPriced', 2, 'public.upg_price_v3(jsonb,jsonb)');
SELECT es.append('upgprice-1', 'UpgPriced', '{"amount": 3, "currency": "NOK"}');
SELECT stream_offset, schema_version, data FROM es.read_stream('upgprice-1') ORDER BY stream_offset;
SELECT stream_offset, schema_version, data FROM es.read_stream_raw('upgprice-1') ORDER BY stream_offset;
SELECT * FROM es.event_types WHERE event_type = 'UpgPriced';

-- Data migrations.
CREATE TABLE public.upg_migrated (step text PRIMARY KEY);
CREATE PROCEDURE public.upg_step_one() LANGUAGE sql
    BEGIN ATOMIC INSERT INTO public.upg_migrated VALUES ('one'); END;
CREATE FUNCTION public.upg_step_bad() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'upg_step_bad: not yet' USING ERRCODE = 'data_exception';
END
$$;
CREATE PROCEDURE public.upg_step_later() LANGUAGE sql
    BEGIN ATOMIC INSERT INTO public.upg_migrated VALUES ('later'); END;
SELECT es.register_data_migration('upg_one', 10, 'public.upg_step_one()');
SELECT es.register_data_migration('upg_bad', 20, 'public.upg_step_bad()');
SELECT es.register_data_migration('upg_later', 30, 'public.upg_step_later()');
\set ON_ERROR_STOP 0
CALL es.run_data_migrations();
\set ON_ERROR_STOP 1
SELECT es.request_data_migrations();
SELECT name, run_order, status, attempts, last_sqlstate FROM es.data_migrations ORDER BY run_order;

-- CRUD tables onto events: one captured, one imported.
CREATE TABLE public.upg_customers (id integer PRIMARY KEY, name text NOT NULL);
SELECT es.capture_table('public.upg_customers', 'upgcustomer');
INSERT INTO public.upg_customers VALUES (1, 'Ada'), (2, 'Grace');
UPDATE public.upg_customers SET name = 'Ada L.' WHERE id = 1;
DELETE FROM public.upg_customers WHERE id = 2;
CREATE TABLE public.upg_products (sku text PRIMARY KEY, price numeric NOT NULL);
INSERT INTO public.upg_products VALUES ('a-1', 10), ('b-2', 20);
SELECT es.import_table('public.upg_products', 'upgproduct', event_type => 'UpgProductImported');
SELECT stream, event_type, data, metadata FROM es.events
 WHERE stream LIKE 'upgcustomer-%' OR stream LIKE 'upgproduct-%' ORDER BY global_position;
SELECT * FROM es.captured_tables;
