-- event_streaming 0.6.0 → 0.7.0: es.metrics for monitoring, and psql helpers.
\echo Use "ALTER EXTENSION event_streaming UPDATE TO '0.7.0'" to load this file. \quit

COMMENT ON EXTENSION event_streaming IS
    'event store (append-only streams, ordered reads, subscriptions, projections) and message queue (leases, receipts, dead letters) in one database';

-- es.source_head reads es.events as their owner, like the rest of the API,
-- so that a role may see lags (es.subscriptions, es.projections,
-- es.metrics) without being able to read events.  Same answers.
CREATE OR REPLACE FUNCTION es.source_head(source text) RETURNS bigint
AS 'MODULE_PATHNAME', 'es_source_head'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

-- The counters metrics.c keeps for this database since the server started:
-- events appended per category, messages per queue (by id).  The row with
-- both keys null is the server's count of what found no room.
CREATE FUNCTION es.metric_counters()
RETURNS TABLE (category text, queue_id integer, metric text, value bigint)
AS 'MODULE_PATHNAME', 'es_metric_counters'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

-- One row per object and metric, for a Prometheus exporter and for psql.
-- Names ending in _total are counters (rate() them), the others gauges.
-- Counters count committed work since the server started; gauges are read
-- now.  docs/operations.md lists every metric;
-- docs/monitoring/postgres_exporter.yaml turns them into Prometheus series.
CREATE VIEW es.metrics AS
WITH now AS (
    SELECT pg_catalog.clock_timestamp() AS t
), counters AS (
    SELECT * FROM es.metric_counters()
), by_queue AS (
    SELECT c.queue_id,
           pg_catalog.sum(c.value) FILTER (WHERE c.metric OPERATOR(pg_catalog.=) 'enqueued_total') AS enqueued,
           pg_catalog.sum(c.value) FILTER (WHERE c.metric OPERATOR(pg_catalog.=) 'delivered_total') AS delivered,
           pg_catalog.sum(c.value) FILTER (WHERE c.metric OPERATOR(pg_catalog.=) 'acked_total') AS acked,
           pg_catalog.sum(c.value) FILTER (WHERE c.metric OPERATOR(pg_catalog.=) 'nacked_total') AS nacked,
           pg_catalog.sum(c.value) FILTER (WHERE c.metric OPERATOR(pg_catalog.=) 'dead_lettered_total') AS dead_lettered
      FROM counters c
     WHERE c.queue_id IS NOT NULL
     GROUP BY c.queue_id
), categories AS (
    SELECT es.category(s.stream) AS category, pg_catalog.count(*) AS streams
      FROM es.stream_catalog s
     WHERE s.kind OPERATOR(pg_catalog.=) 'persistent'
     GROUP BY 1
)
SELECT 'database'::text AS kind, pg_catalog.current_database()::text AS name,
       NULL::integer AS member, v.metric, v.value
  FROM (SELECT (SELECT pg_catalog.sum(c.streams) FROM categories c) AS streams,
               (SELECT pg_catalog.count(*) FROM es.queues) AS queues,
               (SELECT pg_catalog.sum(c.value) FROM counters c
                 WHERE c.metric OPERATOR(pg_catalog.=) 'events_appended_total') AS appended,
               (SELECT c.value FROM counters c
                 WHERE c.metric OPERATOR(pg_catalog.=) 'metrics_dropped_total') AS dropped,
               es.source_head('$all') AS head) d
 CROSS JOIN LATERAL (VALUES
       ('streams', COALESCE(d.streams, 0)::float8),
       ('queues', d.queues::float8),
       ('head_position', d.head::float8),
       ('events_appended_total', COALESCE(d.appended, 0)::float8),
       ('metrics_dropped_total', COALESCE(d.dropped, 0)::float8)) v(metric, value)
UNION ALL
SELECT 'category', c.category, NULL, v.metric, v.value
  FROM categories c
  LEFT JOIN counters n ON n.category OPERATOR(pg_catalog.=) c.category
                     AND n.metric OPERATOR(pg_catalog.=) 'events_appended_total'
 CROSS JOIN LATERAL (VALUES
       ('streams', c.streams::float8),
       ('events_appended_total', COALESCE(n.value, 0)::float8)) v(metric, value)
UNION ALL
SELECT 'queue', s.queue, NULL, v.metric, v.value
  FROM es.queue_stats s
  JOIN es.queues q ON q.queue OPERATOR(pg_catalog.=) s.queue
  LEFT JOIN by_queue n ON n.queue_id OPERATOR(pg_catalog.=) q.queue_id
 CROSS JOIN LATERAL (VALUES
       ('depth', s.depth::float8),
       ('visible', s.visible::float8),
       ('in_flight', s.in_flight::float8),
       ('delayed', s.delayed::float8),
       ('dead_letters', s.dead_lettered::float8),
       ('oldest_age_seconds', COALESCE(pg_catalog.date_part('epoch', s.oldest_age), 0)),
       ('enqueued_total', COALESCE(n.enqueued, 0)::float8),
       ('delivered_total', COALESCE(n.delivered, 0)::float8),
       ('acked_total', COALESCE(n.acked, 0)::float8),
       ('nacked_total', COALESCE(n.nacked, 0)::float8),
       ('dead_lettered_total', COALESCE(n.dead_lettered, 0)::float8)) v(metric, value)
UNION ALL
SELECT 'subscription', s.name, s.member, v.metric, v.value
  FROM es.subscriptions s
 CROSS JOIN now
 CROSS JOIN LATERAL (VALUES
       ('position', s.position::float8),
       ('lag', COALESCE(s.lag, 0)::float8),
       ('commits_total', s.commits::float8),
       ('last_commit_age_seconds',
        pg_catalog.date_part('epoch', now.t OPERATOR(pg_catalog.-) COALESCE(s.last_commit_at, s.created_at)))) v(metric, value)
UNION ALL
SELECT 'projection', p.name, NULL, v.metric, v.value
  FROM es.projections p
 CROSS JOIN LATERAL (VALUES
       ('position', p.position::float8),
       ('lag', COALESCE(p.lag, 0)::float8),
       ('events_applied_total', p.events_applied::float8),
       ('parked', p.parked::float8),
       ('failed', (p.status OPERATOR(pg_catalog.=) 'failed')::integer::float8)) v(metric, value)
UNION ALL
SELECT 'worker', w.pass, NULL, v.metric, v.value
  FROM es.worker_status() w
 CROSS JOIN now
 CROSS JOIN LATERAL (VALUES
       ('up', (w.worker_pid IS NOT NULL)::integer::float8),
       ('runs_total', COALESCE(w.runs, 0)::float8),
       ('errors_total', COALESCE(w.errors, 0)::float8),
       ('affected_total', COALESCE(w.total_affected, 0)::float8),
       ('last_run_age_seconds',
        pg_catalog.date_part('epoch', now.t OPERATOR(pg_catalog.-) w.last_finish))) v(metric, value)
 WHERE v.value IS NOT NULL;   -- (this branch only) no last_run_age_seconds before the first run

-- psql helpers.  es.tail: the last events of a stream, oldest first (as
-- `tail` shows a file); upcast like es.read_stream.
CREATE FUNCTION es.tail(stream text, max_count integer DEFAULT 10)
RETURNS SETOF es.event
LANGUAGE sql STABLE PARALLEL SAFE ROWS 10
BEGIN ATOMIC
    SELECT e.global_position, e.stream, e.stream_offset, e.event_id, e.event_type,
           e.schema_version, e.data, e.metadata, e.correlation_id, e.causation_id,
           e.created_at
      FROM es.read_stream_backward(tail.stream, NULL::bigint, tail.max_count) e
     ORDER BY e.stream_offset;
END;

-- es.peek: a queue's next messages and their state, without claiming them.
CREATE FUNCTION es.peek(queue text, max_messages integer DEFAULT 10)
RETURNS TABLE (message_id     bigint,
               state          text,
               delivery_count integer,
               enqueued_at    timestamptz,
               available_at   timestamptz,
               leased_until   timestamptz,
               consumer       text,
               group_key      text,
               last_error     text,
               headers        jsonb,
               payload        jsonb)
AS 'MODULE_PATHNAME', 'es_peek'
LANGUAGE C VOLATILE PARALLEL RESTRICTED ROWS 10;

REVOKE ALL ON FUNCTION es.metric_counters(), es.tail(text, integer), es.peek(text, integer)
    FROM PUBLIC;

