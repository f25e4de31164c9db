-- event_streaming 0.2.0 → 0.3.0: retention, stream configuration, the
-- background worker's passes and status.
\echo Use "ALTER EXTENSION event_streaming UPDATE TO '0.3.0'" to load this file. \quit

-- Retention removes the oldest events of a stream; the offsets below
-- truncated_before are gone for good.  A stream's version is its last
-- event's offset, or truncated_before - 1 when retention removed them all,
-- so numbering continues after any truncation.
ALTER TABLE es.stream_catalog
    ADD COLUMN truncated_before bigint NOT NULL DEFAULT 0,
    ADD CONSTRAINT stream_catalog_truncated_before_check CHECK (truncated_before >= 0);

-- The streams of a category, for category-wide retention.
CREATE INDEX stream_catalog_category_idx
    ON es.stream_catalog (pg_catalog.split_part(stream, '-', 1), stream);

-- Retention of persistent streams, set on one stream or on a category (the
-- default for every stream of the category that does not set its own).
-- Queues keep their settings in es.queues.  Read both through
-- es.configuration; change them with es.configure and friends.
CREATE TABLE es.stream_settings (
    scope       text        NOT NULL,
    name        text        NOT NULL,
    max_age     interval,
    max_count   bigint,
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT stream_settings_pkey PRIMARY KEY (scope, name),
    CONSTRAINT stream_settings_scope_check CHECK (scope IN ('stream', 'category')),
    CONSTRAINT stream_settings_max_age_check
        CHECK (max_age > '0'::interval AND max_age <= '100 years'::interval),
    CONSTRAINT stream_settings_max_count_check CHECK (max_count >= 1)
);
SELECT pg_catalog.pg_extension_config_dump('es.stream_settings', '');

-- Queue retention (of waiting messages and of dead letters) and backoff:
-- an expired lease or a nack without a delay makes the message visible
-- again only after retry_delay * 2^(deliveries - 1), at most retry_delay_max.
ALTER TABLE es.queues
    ADD COLUMN max_age               interval,
    ADD COLUMN max_count             bigint,
    ADD COLUMN dead_letter_max_age   interval,
    ADD COLUMN dead_letter_max_count bigint,
    ADD COLUMN retry_delay           interval,
    ADD COLUMN retry_delay_max       interval,
    ADD CONSTRAINT queues_max_age_check
        CHECK (max_age > '0'::interval AND max_age <= '100 years'::interval),
    ADD CONSTRAINT queues_max_count_check CHECK (max_count >= 1),
    ADD CONSTRAINT queues_dead_letter_max_age_check
        CHECK (dead_letter_max_age > '0'::interval AND dead_letter_max_age <= '100 years'::interval),
    ADD CONSTRAINT queues_dead_letter_max_count_check CHECK (dead_letter_max_count >= 1),
    ADD CONSTRAINT queues_retry_delay_check
        CHECK (retry_delay > '0'::interval AND retry_delay <= '7 days'::interval),
    ADD CONSTRAINT queues_retry_delay_max_check
        CHECK (retry_delay_max >= retry_delay AND retry_delay_max <= '7 days'::interval);

-- Dead-letter retention and redrive go oldest dead letter first.
CREATE INDEX dead_letter_messages_age_idx
    ON es.dead_letter_messages (queue_id, dead_lettered_at, message_id);

-- Every setting in one place: one row per configured stream, per configured
-- category and per queue.  NULL means not set (a stream then takes its
-- category's value; a queue keeps its messages until they are acked).
CREATE VIEW es.configuration AS
SELECT s.scope,
       s.name,
       s.max_age,
       s.max_count,
       NULL::interval AS visibility_timeout,
       NULL::integer  AS max_deliveries,
       NULL::interval AS retry_delay,
       NULL::interval AS retry_delay_max,
       NULL::interval AS dead_letter_max_age,
       NULL::bigint   AS dead_letter_max_count
  FROM es.stream_settings s
UNION ALL
SELECT 'queue',
       q.queue,
       q.max_age,
       q.max_count,
       q.visibility_timeout,
       q.max_deliveries,
       q.retry_delay,
       q.retry_delay_max,
       q.dead_letter_max_age,
       q.dead_letter_max_count
  FROM es.queues q;

-- Set the given settings of a persistent stream or a queue; NULL leaves a
-- setting as it is.  Settings that do not apply to the stream's kind are
-- refused.
CREATE FUNCTION es.configure(
    stream                text,
    max_age               interval DEFAULT NULL,
    max_count             bigint   DEFAULT NULL,
    visibility_timeout    interval DEFAULT NULL,
    max_deliveries        integer  DEFAULT NULL,
    retry_delay           interval DEFAULT NULL,
    retry_delay_max       interval DEFAULT NULL,
    dead_letter_max_age   interval DEFAULT NULL,
    dead_letter_max_count bigint   DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'es_configure'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION es.configure_category(
    category  text,
    max_age   interval DEFAULT NULL,
    max_count bigint   DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'es_configure_category'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Back to the default: the named settings, or all of them when NULL.
CREATE FUNCTION es.reset_configuration(stream text, settings text[] DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'es_reset_configuration'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION es.reset_category_configuration(category text, settings text[] DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'es_reset_category_configuration'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- The background worker's passes, run by hand: what each removed or moved,
-- per stream or queue.  now is the time the passes take as the present (a
-- fixed value makes them deterministic); max_rows bounds the rows the call
-- changes (NULL: as many as there are).
CREATE FUNCTION es.sweep(
    now      timestamptz DEFAULT pg_catalog.now(),
    max_rows bigint      DEFAULT NULL)
RETURNS TABLE (pass text, name text, affected bigint)
AS 'MODULE_PATHNAME', 'es_sweep'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION es.sweep_redelivery(
    now      timestamptz DEFAULT pg_catalog.now(),
    max_rows bigint      DEFAULT NULL)
RETURNS TABLE (pass text, name text, affected bigint)
AS 'MODULE_PATHNAME', 'es_sweep_redelivery'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION es.sweep_retention(
    now      timestamptz DEFAULT pg_catalog.now(),
    max_rows bigint      DEFAULT NULL)
RETURNS TABLE (pass text, name text, affected bigint)
AS 'MODULE_PATHNAME', 'es_sweep_retention'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- The worker of this database, one row per pass, from shared memory (so
-- it starts empty at each server start).
CREATE FUNCTION es.worker_status()
RETURNS TABLE (
    pass          text,
    worker_pid    integer,
    worker_start  timestamptz,
    runs          bigint,
    last_start    timestamptz,
    last_finish   timestamptz,
    last_affected bigint,
    total_affected bigint,
    errors        bigint,
    last_error    text,
    last_error_at timestamptz)
AS 'MODULE_PATHNAME', 'es_worker_status'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

CREATE VIEW es.worker_status AS SELECT * FROM es.worker_status();

-- A stream's version survives retention: it comes from truncated_before
-- when no event is left.
CREATE OR REPLACE VIEW es.streams AS
SELECT c.stream,
       c.kind,
       es.category(c.stream)                                    AS category,
       COALESCE(l.stream_offset, c.truncated_before - 1)        AS version,
       COALESCE(l.stream_offset - f.stream_offset + 1, 0)       AS event_count,
       c.created_at,
       COALESCE(l.created_at, c.created_at)                     AS updated_at
  FROM es.stream_catalog c
  LEFT JOIN LATERAL (SELECT e.stream_offset, e.created_at
                       FROM es.events e
                      WHERE e.stream = c.stream
                      ORDER BY e.stream_offset DESC LIMIT 1) l ON true
  LEFT JOIN LATERAL (SELECT e.stream_offset
                       FROM es.events e
                      WHERE e.stream = c.stream
                      ORDER BY e.stream_offset LIMIT 1) f ON true;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA es FROM PUBLIC;
