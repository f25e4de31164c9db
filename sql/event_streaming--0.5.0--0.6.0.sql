-- event_streaming 0.5.0 → 0.6.0: stored events are append-only.
\echo Use "ALTER EXTENSION event_streaming UPDATE TO '0.6.0'" to load this file. \quit

-- Refuses UPDATE, TRUNCATE and any DELETE of es.events but retention's,
-- whoever runs it; a statement trigger, so appends and sweeps pay nothing
-- per row.
CREATE FUNCTION es.events_guard() RETURNS trigger
AS 'MODULE_PATHNAME', 'es_events_guard'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON es.events
    FOR EACH STATEMENT EXECUTE FUNCTION es.events_guard();

REVOKE ALL ON FUNCTION es.events_guard() FROM PUBLIC;

-- es.member_of refuses a group size outside 1 .. 1024 (22023) instead of
-- dividing by zero or answering for a negative size; same hash, so every
-- stream keeps its member.
CREATE OR REPLACE FUNCTION es.member_of(stream text, members integer) RETURNS integer
AS 'MODULE_PATHNAME', 'es_member_of'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
