-- event_streaming 0.1.0: persistent streams.
\echo Use "CREATE EXTENSION event_streaming" to load this file. \quit

-- Every stream that has ever been written, with its kind.  A name belongs to
-- one kind for good: appends refuse a name registered as a queue.
CREATE TABLE es.stream_catalog (
    stream      text        NOT NULL,
    kind        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT stream_catalog_pkey PRIMARY KEY (stream),
    CONSTRAINT stream_catalog_kind_check CHECK (kind IN ('persistent', 'ephemeral'))
);

-- Global positions come from this sequence only, through es.append*, which
-- also publishes each in-flight position in shared memory; that is what lets
-- es.read_all never skip an event committed out of order.  Sequences are
-- WAL-logged ahead of use, so a position is never handed out twice, crash
-- included.
CREATE SEQUENCE es.global_position_seq AS bigint MINVALUE 1 NO CYCLE;

-- The event log.  stream_offset is gapless from 0 within a stream (the
-- per-stream lock taken by es.append guarantees it); global_position is
-- unique and increasing in allocation order.
CREATE TABLE es.events (
    global_position bigint      NOT NULL,
    stream          text        NOT NULL,
    stream_offset   bigint      NOT NULL,
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL DEFAULT 1,
    data            jsonb       NOT NULL,
    metadata        jsonb,
    correlation_id  text,
    causation_id    text,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT events_pkey PRIMARY KEY (global_position),
    CONSTRAINT events_stream_offset_key UNIQUE (stream, stream_offset),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_offset_check CHECK (stream_offset >= 0)
);
CREATE INDEX events_event_type_idx ON es.events (event_type, global_position);
CREATE INDEX events_correlation_id_idx ON es.events (correlation_id)
    WHERE correlation_id IS NOT NULL;
-- Events arrive in time order, so a BRIN index serves time ranges for a
-- fraction of a btree's cost on every append.
CREATE INDEX events_created_at_idx ON es.events USING brin (created_at);

SELECT pg_catalog.pg_extension_config_dump('es.stream_catalog', '');
SELECT pg_catalog.pg_extension_config_dump('es.events', '');
SELECT pg_catalog.pg_extension_config_dump('es.global_position_seq', '');

-- What the read functions return: a stable shape, independent of the
-- storage table's columns.
CREATE TYPE es.event AS (
    global_position bigint,
    stream          text,
    stream_offset   bigint,
    event_id        uuid,
    event_type      text,
    schema_version  integer,
    data            jsonb,
    metadata        jsonb,
    correlation_id  text,
    causation_id    text,
    created_at      timestamptz
);

CREATE TYPE es.append_result AS (
    stream_offset   bigint,
    global_position bigint,
    event_id        uuid,
    duplicate       boolean
);

-- The category of a stream: the part of its name before the first '-'.
CREATE FUNCTION es.category(stream text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN pg_catalog.split_part(stream, '-', 1);

CREATE FUNCTION es.append(
    stream           text,
    event_type       text,
    data             jsonb,
    metadata         jsonb  DEFAULT NULL,
    expected_version bigint DEFAULT NULL,
    event_id         uuid   DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_append'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION es.append_event(
    stream           text,
    event_type       text,
    data             jsonb,
    metadata         jsonb  DEFAULT NULL,
    expected_version bigint DEFAULT NULL,
    event_id         uuid   DEFAULT NULL)
RETURNS es.append_result
AS 'MODULE_PATHNAME', 'es_append_event'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION es.append_batch(
    stream           text,
    events           jsonb,
    expected_version bigint DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_append_batch'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION es.read_stream(
    stream      text,
    from_offset bigint  DEFAULT 0,
    max_count   integer DEFAULT 1000)
RETURNS SETOF es.event
AS 'MODULE_PATHNAME', 'es_read_stream'
LANGUAGE C STABLE PARALLEL SAFE ROWS 1000;

CREATE FUNCTION es.read_stream_backward(
    stream      text,
    from_offset bigint  DEFAULT NULL,
    max_count   integer DEFAULT 1000)
RETURNS SETOF es.event
AS 'MODULE_PATHNAME', 'es_read_stream_backward'
LANGUAGE C STABLE PARALLEL SAFE ROWS 1000;

CREATE FUNCTION es.stream_version(stream text) RETURNS bigint
AS 'MODULE_PATHNAME', 'es_stream_version'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE VIEW es.streams AS
SELECT c.stream,
       c.kind,
       es.category(c.stream)                              AS category,
       COALESCE(l.stream_offset, -1)                      AS version,
       COALESCE(l.stream_offset - f.stream_offset + 1, 0) AS event_count,
       c.created_at,
       COALESCE(l.created_at, c.created_at)               AS updated_at
  FROM es.stream_catalog c
  LEFT JOIN LATERAL (SELECT e.stream_offset, e.created_at
                       FROM es.events e
                      WHERE e.stream = c.stream
                      ORDER BY e.stream_offset DESC LIMIT 1) l ON true
  LEFT JOIN LATERAL (SELECT e.stream_offset
                       FROM es.events e
                      WHERE e.stream = c.stream
                      ORDER BY e.stream_offset LIMIT 1) f ON true;

-- Nothing is granted to PUBLIC: a DBA grants what each role needs.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA es FROM PUBLIC;
