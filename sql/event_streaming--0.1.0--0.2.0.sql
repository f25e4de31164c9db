-- event_streaming 0.1.0 → 0.2.0: queues (ephemeral streams) with receipts
-- and a dead-letter queue.
\echo Use "ALTER EXTENSION event_streaming UPDATE TO '0.2.0'" to load this file. \quit

-- A queue's name is registered in es.stream_catalog with kind 'ephemeral',
-- so it can never be used as a persistent stream, and the other way round.
CREATE SEQUENCE es.queue_id_seq AS integer MINVALUE 1 NO CYCLE;

CREATE TABLE es.queues (
    queue_id            integer     NOT NULL DEFAULT pg_catalog.nextval('es.queue_id_seq'),
    queue               text        NOT NULL,
    visibility_timeout  interval    NOT NULL,
    max_deliveries      integer     NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT queues_pkey PRIMARY KEY (queue_id),
    CONSTRAINT queues_queue_key UNIQUE (queue),
    CONSTRAINT queues_queue_fkey FOREIGN KEY (queue) REFERENCES es.stream_catalog (stream),
    CONSTRAINT queues_visibility_timeout_check
        CHECK (visibility_timeout > '0'::interval AND visibility_timeout <= '12 hours'::interval),
    CONSTRAINT queues_max_deliveries_check CHECK (max_deliveries BETWEEN 1 AND 1000)
);
ALTER SEQUENCE es.queue_id_seq OWNED BY es.queues.queue_id;

CREATE SEQUENCE es.message_id_seq AS bigint MINVALUE 1 NO CYCLE;

-- Messages waiting, delayed or in flight.  A message is visible when
-- available_at has passed and it has no unexpired lease.
--
-- Storage is shaped for churn (docs in README, "Queues: storage"):
--  * A delivery changes only columns that no index covers (the lease, the
--    receipt, the count), so it is a HOT update: no index entries, and the
--    old version is pruned from the page without VACUUM.  fillfactor leaves
--    each page room for those versions.
--  * Expired leases need no index change either: a leased message keeps its
--    place in messages_ready_idx, and es.dequeue checks the lease on the row.
--  * Acks delete.  Autovacuum is set to visit the table after a fixed number
--    of dead rows rather than a fraction of its size, so that the space an
--    ack frees is reused instead of growing the table.
CREATE TABLE es.messages (
    message_id          bigint      NOT NULL,
    queue_id            integer     NOT NULL,
    available_at        timestamptz NOT NULL,
    delivery_count      integer     NOT NULL DEFAULT 0,
    leased_until        timestamptz,
    receipt             uuid,
    enqueued_at         timestamptz NOT NULL,
    last_delivered_at   timestamptz,
    consumer            text,
    group_key           text,
    last_error          text,
    headers             jsonb,
    payload             jsonb       NOT NULL,
    CONSTRAINT messages_pkey PRIMARY KEY (message_id)
) WITH (fillfactor = 70,
        autovacuum_vacuum_scale_factor = 0,
        autovacuum_vacuum_threshold = 2000,
        autovacuum_vacuum_insert_scale_factor = 0,
        autovacuum_vacuum_insert_threshold = 20000,
        autovacuum_vacuum_cost_delay = 0);
-- The order es.dequeue hands messages out in: oldest available first.
CREATE INDEX messages_ready_idx ON es.messages (queue_id, available_at, message_id);
-- The head of each message group (its lowest message id) is the only
-- message of the group that may be delivered.
CREATE INDEX messages_group_idx ON es.messages (queue_id, group_key, message_id)
    WHERE group_key IS NOT NULL;

-- Messages that exhausted their deliveries or were rejected by a consumer.
CREATE TABLE es.dead_letter_messages (
    queue_id            integer     NOT NULL,
    message_id          bigint      NOT NULL,
    reason              text        NOT NULL,
    delivery_count      integer     NOT NULL,
    enqueued_at         timestamptz NOT NULL,
    last_delivered_at   timestamptz,
    dead_lettered_at    timestamptz NOT NULL,
    group_key           text,
    last_error          text,
    headers             jsonb,
    payload             jsonb       NOT NULL,
    CONSTRAINT dead_letter_messages_pkey PRIMARY KEY (queue_id, message_id),
    -- Dead-lettering takes no queue lock: the key makes a racing drop_queue
    -- take the new dead letter with it (or the move fail), never orphan it.
    CONSTRAINT dead_letter_messages_queue_id_fkey FOREIGN KEY (queue_id)
        REFERENCES es.queues (queue_id) ON DELETE CASCADE,
    CONSTRAINT dead_letter_messages_reason_check
        CHECK (reason IN ('max_deliveries', 'rejected'))
);

SELECT pg_catalog.pg_extension_config_dump('es.queues', '');
SELECT pg_catalog.pg_extension_config_dump('es.queue_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('es.messages', '');
SELECT pg_catalog.pg_extension_config_dump('es.message_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('es.dead_letter_messages', '');

CREATE FUNCTION es.create_queue(
    queue              text,
    visibility_timeout interval DEFAULT '30 seconds',
    max_deliveries     integer  DEFAULT 5,
    if_not_exists      boolean  DEFAULT false)
RETURNS boolean
AS 'MODULE_PATHNAME', 'es_create_queue'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION es.drop_queue(queue text, if_exists boolean DEFAULT false)
RETURNS boolean
AS 'MODULE_PATHNAME', 'es_drop_queue'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION es.purge_queue(queue text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_purge_queue'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION es.enqueue(
    queue     text,
    payload   jsonb,
    headers   jsonb    DEFAULT NULL,
    delay     interval DEFAULT '0',
    group_key text     DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_enqueue'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION es.enqueue_batch(
    queue     text,
    payloads  jsonb[],
    headers   jsonb    DEFAULT NULL,
    delay     interval DEFAULT '0',
    group_key text     DEFAULT NULL)
RETURNS SETOF bigint
AS 'MODULE_PATHNAME', 'es_enqueue_batch'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

CREATE FUNCTION es.dequeue(
    queue              text,
    consumer           text,
    visibility_timeout interval DEFAULT NULL,
    max_messages       integer  DEFAULT 1,
    wait               interval DEFAULT '0')
RETURNS TABLE (
    message_id     bigint,
    receipt        uuid,
    payload        jsonb,
    headers        jsonb,
    delivery_count integer,
    enqueued_at    timestamptz,
    visible_until  timestamptz,
    group_key      text)
AS 'MODULE_PATHNAME', 'es_dequeue'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 1;

CREATE FUNCTION es.ack(queue text, message_id bigint, receipt uuid)
RETURNS boolean
AS 'MODULE_PATHNAME', 'es_ack'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION es.nack(
    queue      text,
    message_id bigint,
    receipt    uuid,
    requeue    boolean  DEFAULT true,
    delay      interval DEFAULT '0',
    error      text     DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'es_nack'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION es.extend(
    queue              text,
    message_id         bigint,
    receipt            uuid,
    visibility_timeout interval)
RETURNS boolean
AS 'MODULE_PATHNAME', 'es_extend'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION es.redrive(queue text, max_messages integer DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_redrive'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION es.purge_dead_letters(queue text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_purge_dead_letters'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Dead-lettered messages by queue name: list and inspect with plain SQL.
CREATE VIEW es.dead_letters AS
SELECT q.queue, d.message_id, d.reason, d.delivery_count, d.last_error,
       d.enqueued_at, d.last_delivered_at, d.dead_lettered_at, d.group_key,
       d.headers, d.payload
  FROM es.dead_letter_messages d
  JOIN es.queues q USING (queue_id);

-- One row per queue.  depth counts every message not yet acked (visible,
-- in flight and delayed); dead-lettered messages are counted apart.
CREATE VIEW es.queue_stats AS
SELECT q.queue,
       COALESCE(m.depth, 0)         AS depth,
       COALESCE(m.visible, 0)       AS visible,
       COALESCE(m.in_flight, 0)     AS in_flight,
       COALESCE(m.delayed, 0)       AS delayed,
       COALESCE(d.dead_lettered, 0) AS dead_lettered,
       t.now - m.oldest_enqueued_at AS oldest_age,
       q.visibility_timeout,
       q.max_deliveries
  FROM (SELECT pg_catalog.clock_timestamp() AS now) t
 CROSS JOIN es.queues q
  LEFT JOIN LATERAL (
       SELECT count(*) AS depth,
              count(*) FILTER (WHERE mm.leased_until > t.now) AS in_flight,
              count(*) FILTER (WHERE NOT COALESCE(mm.leased_until > t.now, false)
                                 AND mm.available_at > t.now) AS delayed,
              count(*) FILTER (WHERE NOT COALESCE(mm.leased_until > t.now, false)
                                 AND mm.available_at <= t.now) AS visible,
              min(mm.enqueued_at) AS oldest_enqueued_at
         FROM es.messages mm
        WHERE mm.queue_id = q.queue_id) m ON true
  LEFT JOIN LATERAL (
       SELECT count(*) AS dead_lettered
         FROM es.dead_letter_messages dl
        WHERE dl.queue_id = q.queue_id) d ON true;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA es FROM PUBLIC;
