-- event_streaming 0.4.0 → 0.5.0: event schema versions and upcasting, data
-- migrations, moving CRUD tables onto events.
\echo Use "ALTER EXTENSION event_streaming UPDATE TO '0.5.0'" to load this file. \quit

-- Event schema versions.  One row per step of a type's chain: the function
-- turns the data of version from_version into that of from_version + 1.  A
-- type's current version is one past its highest step (1 without steps);
-- appends are stamped with it, and every read path except es.read_stream_raw
-- runs the steps a stored event is behind, leaving the row as it was.
CREATE TABLE es.upcasters (
    event_type    text        NOT NULL,
    from_version  integer     NOT NULL,
    function      text        NOT NULL,   -- as to_regprocedure reads it
    with_metadata boolean     NOT NULL,   -- (data jsonb, metadata jsonb) rather than (data jsonb)
    registered_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT upcasters_pkey PRIMARY KEY (event_type, from_version),
    CONSTRAINT upcasters_from_version_check CHECK (from_version >= 1)
);
SELECT pg_catalog.pg_extension_config_dump('es.upcasters', '');

-- Backends cache the chains; any change to the table, by the functions below
-- or by hand, tells every backend to reload them.
CREATE FUNCTION es.upcasters_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'es_upcasters_changed'
LANGUAGE C;
CREATE TRIGGER upcasters_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON es.upcasters
    FOR EACH STATEMENT EXECUTE FUNCTION es.upcasters_changed();

-- fn: (data jsonb) → jsonb, or (data jsonb, metadata jsonb) → jsonb.
-- Returns the type's new current version.
CREATE FUNCTION es.register_upcaster(event_type text, from_version integer, fn regprocedure)
RETURNS integer
AS 'MODULE_PATHNAME', 'es_register_upcaster'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Only the first or the last step of a chain, and only when no stored event
-- needs it.
CREATE FUNCTION es.drop_upcaster(event_type text, from_version integer)
RETURNS void
AS 'MODULE_PATHNAME', 'es_drop_upcaster'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- The stored form: what es.read_stream returned before any upcaster.
CREATE FUNCTION es.read_stream_raw(
    stream      text,
    from_offset bigint  DEFAULT 0,
    max_count   integer DEFAULT 1000)
RETURNS SETOF es.event
AS 'MODULE_PATHNAME', 'es_read_stream_raw'
LANGUAGE C STABLE PARALLEL SAFE ROWS 1000;

-- Every type appended or given upcasters, with its current version.  The
-- appended types are found by skipping through events_event_type_idx, one
-- probe per type.
CREATE VIEW es.event_types AS
WITH RECURSIVE appended(event_type) AS (
    SELECT pg_catalog.min(e.event_type) FROM es.events e
    UNION ALL
    SELECT (SELECT pg_catalog.min(e.event_type) FROM es.events e
             WHERE e.event_type OPERATOR(pg_catalog.>) a.event_type)
      FROM appended a
     WHERE a.event_type IS NOT NULL
)
SELECT t.event_type,
       COALESCE(pg_catalog.max(u.from_version) OPERATOR(pg_catalog.+) 1, 1) AS current_version,
       pg_catalog.min(u.from_version) AS oldest_upcast_version,
       COALESCE(pg_catalog.array_agg(u.function ORDER BY u.from_version)
                    FILTER (WHERE u.function IS NOT NULL), '{}') AS upcasters
  FROM (SELECT a.event_type FROM appended a WHERE a.event_type IS NOT NULL
        UNION
        SELECT u.event_type FROM es.upcasters u) t
  LEFT JOIN es.upcasters u ON u.event_type OPERATOR(pg_catalog.=) t.event_type
 GROUP BY t.event_type;

-- Data migrations: named steps run once each, in run_order, each in its own
-- transaction, by CALL es.run_data_migrations() or by the worker on request.
CREATE TABLE es.data_migration_catalog (
    name          text        NOT NULL,
    run_order     integer     NOT NULL,
    procedure     text        NOT NULL,   -- as to_regprocedure reads it
    owner         regrole     NOT NULL,
    status        text        NOT NULL DEFAULT 'pending',
    attempts      integer     NOT NULL DEFAULT 0,
    started_at    timestamptz,
    finished_at   timestamptz,
    last_error    text,
    last_sqlstate text,
    requested_at  timestamptz,
    registered_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT data_migration_catalog_pkey PRIMARY KEY (name),
    CONSTRAINT data_migration_catalog_run_order_key UNIQUE (run_order),
    CONSTRAINT data_migration_catalog_status_check
        CHECK (status IN ('pending', 'running', 'finished', 'failed'))
);
SELECT pg_catalog.pg_extension_config_dump('es.data_migration_catalog', '');

-- The worker runs a step as its owner: only members of the owner may write a row.
CREATE TRIGGER data_migration_catalog_guard
    BEFORE INSERT OR UPDATE ON es.data_migration_catalog
    FOR EACH ROW EXECUTE FUNCTION es.projection_catalog_guard('data migration');

CREATE VIEW es.data_migrations AS
SELECT m.name, m.run_order, m.procedure, m.owner, m.status, m.attempts,
       m.started_at, m.finished_at,
       m.finished_at OPERATOR(pg_catalog.-) m.started_at AS duration,
       m.last_error, m.last_sqlstate, m.requested_at, m.registered_at
  FROM es.data_migration_catalog m;

-- procedure: a procedure or function without arguments.
CREATE FUNCTION es.register_data_migration(name text, run_order integer, procedure regprocedure)
RETURNS void
AS 'MODULE_PATHNAME', 'es_register_data_migration'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION es.drop_data_migration(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'es_drop_data_migration'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Runs the steps not finished, in order, each step in its own transaction,
-- stopping at the first failure (raised after it is recorded).
CREATE PROCEDURE es.run_data_migrations()
AS 'MODULE_PATHNAME', 'es_run_data_migrations'
LANGUAGE C;

-- Asks the worker to run them; returns how many steps are pending.
CREATE FUNCTION es.request_data_migrations()
RETURNS integer
AS 'MODULE_PATHNAME', 'es_request_data_migrations'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Moving a CRUD table onto events.  import_table appends one event per row,
-- the first of stream '<stream_prefix>-<id>'; capture_table installs
-- triggers that append Created, Updated and Deleted events in the same
-- transaction as each change, and refuse TRUNCATE.  id_column NULL: the
-- primary key, which must be one column.
CREATE FUNCTION es.import_table(
    "table"       regclass,
    stream_prefix text,
    id_column     name DEFAULT NULL,
    event_type    text DEFAULT 'Imported')
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_import_table'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION es.capture_trigger() RETURNS trigger
AS 'MODULE_PATHNAME', 'es_capture_trigger'
LANGUAGE C;

CREATE FUNCTION es.capture_table(
    "table"           regclass,
    stream_prefix     text,
    id_column         name DEFAULT NULL,
    event_type_prefix text DEFAULT '')
RETURNS void
AS 'MODULE_PATHNAME', 'es_capture_table'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION es.uncapture_table("table" regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'es_uncapture_table'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- The captured tables, read from the triggers themselves (so a dump and
-- restore, or a dropped table, needs no bookkeeping).
CREATE VIEW es.captured_tables AS
SELECT t.tgrelid::pg_catalog.regclass AS "table",
       a.args[1] AS stream_prefix,
       a.args[2]::pg_catalog.name AS id_column,
       a.args[3] AS event_type_prefix,
       t.tgenabled OPERATOR(pg_catalog.<>) 'D' AS enabled
  FROM pg_catalog.pg_trigger t
 CROSS JOIN LATERAL (SELECT pg_catalog.string_to_array(
                                pg_catalog.encode(t.tgargs, 'escape'), '\000') AS args) a
 WHERE t.tgfoid OPERATOR(pg_catalog.=) 'es.capture_trigger()'::pg_catalog.regprocedure
   AND t.tgname OPERATOR(pg_catalog.=) 'es_capture'
   AND t.tgparentid OPERATOR(pg_catalog.=) 0;

REVOKE ALL ON FUNCTION
    es.upcasters_changed(),
    es.register_upcaster(text, integer, regprocedure), es.drop_upcaster(text, integer),
    es.read_stream_raw(text, bigint, integer),
    es.register_data_migration(text, integer, regprocedure), es.drop_data_migration(text),
    es.request_data_migrations(),
    es.import_table(regclass, text, name, text),
    es.capture_trigger(), es.capture_table(regclass, text, name, text),
    es.uncapture_table(regclass)
  FROM PUBLIC;
REVOKE ALL ON PROCEDURE es.run_data_migrations() FROM PUBLIC;
