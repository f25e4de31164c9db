-- Moving CRUD tables onto events: es.import_table, es.capture_table,
-- es.uncapture_table.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS event_streaming;
RESET client_min_messages;
-- Positions are shown from the last one taken (tests before this one may
-- have taken positions they rolled back).
SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS base
  FROM es.global_position_seq \gset
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/try.sql

-- A table with a composite, an array, a jsonb and NULL-able columns.
CREATE TYPE cap_address AS (street text, city text);
CREATE TABLE cap_orders (
    id      int PRIMARY KEY,
    total   numeric(10,2) NOT NULL,
    tags    text[],
    address cap_address,
    extra   jsonb,
    note    text
);
INSERT INTO cap_orders VALUES
  (1, 10.50, ARRAY['a','b'], ROW('Main St 1', 'Oslo'), '{"gift": true}', NULL),
  (2, 20, NULL, NULL, NULL, 'second');

-- Capture and import in one transaction: no change falls between them.
BEGIN;
SELECT es.capture_table('cap_orders', 'cap_order');
SELECT es.import_table('cap_orders', 'cap_order');
COMMIT;
SELECT * FROM es.captured_tables WHERE "table" = 'cap_orders'::regclass;
-- Importing again appends nothing: the streams exist.
SELECT es.import_table('cap_orders', 'cap_order');

INSERT INTO cap_orders VALUES (3, 30, ARRAY[]::text[], ROW(NULL, 'Bergen'), '[1, {"x": null}]', NULL);
UPDATE cap_orders SET total = 11, tags = tags || 'c'::text WHERE id = 1;
UPDATE cap_orders SET note = NULL WHERE id = 1;              -- no change: no event
UPDATE cap_orders SET note = 'set', address = NULL WHERE id = 2;
UPDATE cap_orders SET id = 4 WHERE id = 3;                   -- a new key
DELETE FROM cap_orders WHERE id = 2;
-- A rolled-back change leaves no event.
BEGIN;
UPDATE cap_orders SET total = 99 WHERE id = 1;
SAVEPOINT s;
INSERT INTO cap_orders VALUES (5, 5, NULL, NULL, NULL, NULL);
ROLLBACK TO SAVEPOINT s;
ROLLBACK;
-- TRUNCATE is refused; the rows and the events stay.
SELECT pg_temp.try($$TRUNCATE cap_orders$$);
SELECT count(*) FROM cap_orders;

SELECT global_position - :base AS pos, stream, stream_offset, event_type, data, metadata
  FROM es.read_all(:base, 100, ARRAY['cap_order']);
-- The events replay the table: the last image of each stream not deleted.
SELECT (array_agg(data ORDER BY stream_offset DESC))[1]->'new' AS last
  FROM es.events WHERE stream LIKE 'cap_order-%'
 GROUP BY stream
HAVING (array_agg(event_type ORDER BY stream_offset DESC))[1] <> 'Deleted'
 ORDER BY 1::text;
SELECT to_jsonb(o) FROM cap_orders o ORDER BY 1::text;

-- A writer without any right on schema es: the events are appended as the
-- table's owner.
CREATE ROLE cap_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON cap_orders TO cap_writer;
SET ROLE cap_writer;
INSERT INTO cap_orders VALUES (6, 6, NULL, NULL, NULL, 'by cap_writer');
SELECT pg_temp.try($$SELECT es.append('cap_order-6', 'Hand', '{}')$$);
SELECT pg_temp.try($$SELECT es.capture_table('cap_orders', 'x')$$);
SELECT pg_temp.try($$SELECT es.uncapture_table('cap_orders')$$);
RESET ROLE;
SELECT stream, event_type, data->'new'->>'note' AS note FROM es.read_stream('cap_order-6');

-- Event type prefix, a named key column, and a partitioned table.
CREATE TABLE cap_users (email text NOT NULL UNIQUE, name text, id serial PRIMARY KEY);
SELECT es.capture_table('cap_users', 'cap_user', 'email', 'User');
INSERT INTO cap_users (email, name) VALUES ('ann@example.com', 'Ann');
UPDATE cap_users SET name = 'Anne';
SELECT stream, stream_offset, event_type, data->'changed' AS changed FROM es.read_all(:base, 100, ARRAY['cap_user']);
CREATE TABLE cap_parts (id bigint PRIMARY KEY, region text NOT NULL) PARTITION BY HASH (id);
CREATE TABLE cap_parts_0 PARTITION OF cap_parts FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE cap_parts_1 PARTITION OF cap_parts FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO cap_parts SELECT g, 'r' || g FROM generate_series(1, 4) g;
BEGIN;
SELECT es.capture_table('cap_parts', 'cap_part');
SELECT es.import_table('cap_parts', 'cap_part', NULL, 'PartImported');
COMMIT;
INSERT INTO cap_parts VALUES (5, 'r5');
ALTER TABLE cap_parts DETACH PARTITION cap_parts_1;
ALTER TABLE cap_parts ATTACH PARTITION cap_parts_1 FOR VALUES WITH (MODULUS 2, REMAINDER 1);
UPDATE cap_parts SET region = 'moved' WHERE id = 2;
SELECT stream, stream_offset, event_type, metadata->>'operation' AS op
  FROM es.read_all(:base, 100, ARRAY['cap_part']) ORDER BY stream, stream_offset;
SELECT "table", stream_prefix, id_column, event_type_prefix, enabled FROM es.captured_tables ORDER BY 1::text;

-- Refused: each with its SQLSTATE, and nothing installed.
CREATE TABLE cap_nokey (a int);
CREATE TABLE cap_twokey (a int, b int, PRIMARY KEY (a, b));
CREATE TABLE cap_floatkey (f float8 PRIMARY KEY);
CREATE TABLE cap_jsonkey (j text[] PRIMARY KEY);
CREATE TABLE cap_nullable (a int UNIQUE, b int PRIMARY KEY);
CREATE VIEW cap_view AS SELECT * FROM cap_orders;
CREATE TEMP TABLE cap_temp (id int PRIMARY KEY);
CREATE TABLE pg_temp.x (id int);
SELECT pg_temp.try($$SELECT es.capture_table('cap_nokey', 'nk')$$);
SELECT pg_temp.try($$SELECT es.import_table('cap_nokey', 'nk')$$);
SELECT pg_temp.try($$SELECT es.capture_table('cap_twokey', 'tk')$$);
SELECT pg_temp.try($$SELECT es.capture_table('cap_twokey', 'tk', 'a')$$);
SELECT pg_temp.try($$SELECT es.capture_table('cap_floatkey', 'fk')$$);
SELECT pg_temp.try($$SELECT es.capture_table('cap_jsonkey', 'jk')$$);
SELECT pg_temp.try($$SELECT es.capture_table('cap_nullable', 'nl', 'a')$$);
SELECT pg_temp.try($$SELECT es.capture_table('cap_nullable', 'nl', 'zz')$$);
SELECT pg_temp.try($$SELECT es.capture_table('cap_nullable', 'nl', 'ctid')$$);
SELECT pg_temp.try($$SELECT es.capture_table('cap_view', 'v')$$);
SELECT pg_temp.try($$SELECT es.import_table('cap_view', 'v')$$);
SELECT pg_temp.try($$SELECT es.capture_table('cap_temp', 't')$$);
SELECT pg_temp.try($$SELECT es.capture_table('es.events', 'e')$$);
SELECT pg_temp.try($$SELECT es.capture_table('pg_class', 'e')$$);
SELECT pg_temp.try($$SELECT es.capture_table('cap_orders', 'again')$$);
SELECT pg_temp.try($$SELECT es.capture_table('cap_nullable', 'a-b')$$);
SELECT pg_temp.try($$SELECT es.capture_table('cap_nullable', '')$$);
SELECT pg_temp.try($$SELECT es.capture_table('cap_nullable', NULL)$$);
SELECT pg_temp.try($$SELECT es.capture_table(NULL, 'n')$$);
SELECT pg_temp.try($$SELECT es.capture_table('cap_nullable', 'n', NULL, NULL)$$);
SELECT pg_temp.try($$SELECT es.capture_table('cap_nullable', 'n', NULL, repeat('x', 194))$$);
SELECT pg_temp.try($$SELECT es.import_table('cap_nullable', 'n', NULL, NULL)$$);
SELECT pg_temp.try($$SELECT es.import_table('cap_nullable', 'n', NULL, '')$$);
SELECT pg_temp.try($$SELECT es.uncapture_table('cap_nullable')$$);
SELECT pg_temp.try($$SELECT es.uncapture_table(NULL)$$);
SELECT count(*) AS triggers FROM pg_trigger WHERE tgname LIKE 'es_capture%'
   AND tgrelid IN ('cap_nokey'::regclass, 'cap_twokey'::regclass, 'cap_floatkey'::regclass,
                   'cap_jsonkey'::regclass, 'cap_nullable'::regclass);
-- A key too long for a stream name fails the change, not the event log.
CREATE TABLE cap_longkey (k text PRIMARY KEY);
SELECT es.capture_table('cap_longkey', 'lk');
SELECT pg_temp.try($$INSERT INTO cap_longkey VALUES (repeat('k', 200))$$);
SELECT count(*) FROM cap_longkey;
-- Import needs SELECT on the table, and refuses row-level security.
CREATE TABLE cap_secret (id int PRIMARY KEY);
INSERT INTO cap_secret VALUES (1);
GRANT USAGE ON SCHEMA es TO cap_writer;
GRANT EXECUTE ON FUNCTION es.import_table(regclass, text, name, text) TO cap_writer;
SET ROLE cap_writer;
SELECT pg_temp.try($$SELECT es.import_table('cap_secret', 's')$$);
RESET ROLE;
ALTER TABLE cap_secret ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON cap_secret TO cap_writer;
SET ROLE cap_writer;
SELECT pg_temp.try($$SELECT es.import_table('cap_secret', 's')$$);
RESET ROLE;
-- Only the table's owner captures it, or stops capturing it.
GRANT EXECUTE ON FUNCTION es.capture_table(regclass, text, name, text),
  es.uncapture_table(regclass) TO cap_writer;
SET ROLE cap_writer;
SELECT pg_temp.try($$SELECT es.capture_table('cap_secret', 's')$$);
SELECT pg_temp.try($$SELECT es.uncapture_table('cap_users')$$);
RESET ROLE;

-- Uncapture: changes append nothing any more, TRUNCATE works again.
SELECT es.uncapture_table('cap_orders');
SELECT count(*) AS before FROM es.events WHERE stream LIKE 'cap_order-%' \gset
UPDATE cap_orders SET total = total + 1;
SELECT count(*) - :before AS appended FROM es.events WHERE stream LIKE 'cap_order-%';
TRUNCATE cap_orders;
SELECT "table" FROM es.captured_tables ORDER BY 1::text;

-- 100,000 rows imported in one call, each the first event of its stream.
CREATE TABLE cap_big (id bigint PRIMARY KEY, payload text);
INSERT INTO cap_big SELECT g, md5(g::text) FROM generate_series(1, 100000) g;
SELECT es.import_table('cap_big', 'cap_big', 'id', 'BigImported');
SELECT count(*), count(DISTINCT stream), min(stream_offset), max(stream_offset),
       bool_and(data->'new'->>'payload' = md5(substr(stream, 9))) AS payloads
  FROM es.events WHERE event_type = 'BigImported';
SELECT count(*) FROM es.stream_catalog WHERE stream LIKE 'cap\_big-%';
SELECT es.import_table('cap_big', 'cap_big', 'id', 'BigImported');

DROP TABLE cap_big, cap_secret, cap_longkey, cap_nokey, cap_twokey, cap_floatkey, cap_jsonkey,
  cap_nullable, cap_parts, cap_users, cap_orders CASCADE;
DROP TYPE cap_address;
REVOKE ALL ON SCHEMA es FROM cap_writer;
REVOKE ALL ON FUNCTION es.import_table(regclass, text, name, text),
  es.capture_table(regclass, text, name, text), es.uncapture_table(regclass) FROM cap_writer;
DROP ROLE cap_writer;
