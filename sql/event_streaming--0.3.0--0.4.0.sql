-- event_streaming 0.3.0 → 0.4.0: reads in global order, subscriptions,
-- notifications and projections.
\echo Use "ALTER EXTENSION event_streaming UPDATE TO '0.4.0'" to load this file. \quit

-- Reads of one category in position order walk this index.  Building it
-- locks es.events against appends for the time it takes.
CREATE INDEX events_category_idx
    ON es.events (pg_catalog.split_part(stream, '-', 1), global_position);

-- The member of a group of `members` consumers that a stream belongs to.
CREATE FUNCTION es.member_of(stream text, members integer) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN (((pg_catalog.hashtextextended(stream, 0) OPERATOR(pg_catalog.%) members)
             OPERATOR(pg_catalog.+) members) OPERATOR(pg_catalog.%) members)::integer;

-- The last event of a source ('$all', a category or a stream), 0 for none.
CREATE FUNCTION es.source_head(source text) RETURNS bigint
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    RETURN COALESCE(CASE
        WHEN source OPERATOR(pg_catalog.=) '$all' THEN
            (SELECT pg_catalog.max(e.global_position) FROM es.events e)
        WHEN pg_catalog.strpos(source, '-') OPERATOR(pg_catalog.=) 0 THEN
            (SELECT pg_catalog.max(e.global_position) FROM es.events e
              WHERE pg_catalog.split_part(e.stream, '-', 1) OPERATOR(pg_catalog.=) source)
        ELSE
            (SELECT e.global_position FROM es.events e
              WHERE e.stream OPERATOR(pg_catalog.=) source
              ORDER BY e.stream_offset DESC LIMIT 1)
        END, 0);

-- Every event in global order, never skipping one that commits later: see
-- docs/ordering.md.  Events after from_position (exclusive).
CREATE FUNCTION es.read_all(
    from_position bigint,
    max_count     integer,
    categories    text[] DEFAULT NULL,
    event_types   text[] DEFAULT NULL)
RETURNS SETOF es.event
AS 'MODULE_PATHNAME', 'es_read_all'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Every position up to this one is committed or aborted for good.
CREATE FUNCTION es.settled_position() RETURNS bigint
AS 'MODULE_PATHNAME', 'es_settled_position'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Subscriptions: a named reader of a source with committed positions, one
-- per member of its group.
CREATE TABLE es.subscription_catalog (
    name        text        NOT NULL,
    source      text        NOT NULL,
    members     integer     NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT subscription_catalog_pkey PRIMARY KEY (name),
    CONSTRAINT subscription_catalog_members_check CHECK (members BETWEEN 1 AND 1024)
);

CREATE TABLE es.subscription_positions (
    subscription   text        NOT NULL,
    member         integer     NOT NULL,
    position       bigint      NOT NULL,
    commits        bigint      NOT NULL DEFAULT 0,
    last_commit_at timestamptz,
    CONSTRAINT subscription_positions_pkey PRIMARY KEY (subscription, member),
    CONSTRAINT subscription_positions_subscription_fkey FOREIGN KEY (subscription)
        REFERENCES es.subscription_catalog (name) ON DELETE CASCADE,
    CONSTRAINT subscription_positions_position_check CHECK (position >= 0)
);

SELECT pg_catalog.pg_extension_config_dump('es.subscription_catalog', '');
SELECT pg_catalog.pg_extension_config_dump('es.subscription_positions', '');

CREATE VIEW es.subscriptions AS
SELECT s.name,
       s.source,
       s.members,
       p.member,
       p.position,
       h.head_position,
       GREATEST(h.head_position - p.position, 0) AS lag,
       p.commits,
       s.created_at,
       p.last_commit_at
  FROM es.subscription_catalog s
  JOIN es.subscription_positions p ON p.subscription = s.name
 CROSS JOIN LATERAL (SELECT es.source_head(s.source) AS head_position) h;

-- start: 'beginning', 'end' (after what is settled now) or a position.
CREATE FUNCTION es.create_subscription(
    name    text,
    source  text    DEFAULT '$all',
    start   text    DEFAULT 'beginning',
    members integer DEFAULT 1)
RETURNS void
AS 'MODULE_PATHNAME', 'es_create_subscription'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- The next events after the member's committed position; does not move it.
CREATE FUNCTION es.read_subscription(
    name      text,
    max_count integer,
    member    integer DEFAULT 0,
    members   integer DEFAULT NULL)
RETURNS SETOF es.event
AS 'MODULE_PATHNAME', 'es_read_subscription'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Moves the member's position forward (never back: see reset).
CREATE FUNCTION es.commit_subscription(
    name     text,
    "position" bigint,
    member   integer DEFAULT 0)
RETURNS void
AS 'MODULE_PATHNAME', 'es_commit_subscription'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Sets the position of a member (NULL: of every member), back or forward.
CREATE FUNCTION es.reset_subscription(
    name   text,
    start  text    DEFAULT 'beginning',
    member integer DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'es_reset_subscription'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION es.drop_subscription(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'es_drop_subscription'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Projections: the worker feeds a handler the events of a source, in
-- order, and commits the handler's writes with the new position.
CREATE TABLE es.projection_catalog (
    name           text         NOT NULL,
    source         text         NOT NULL,
    handler        text         NOT NULL,   -- the function, as to_regprocedure reads it
    owner          regrole      NOT NULL,
    on_error       text         NOT NULL DEFAULT 'stop',
    position       bigint       NOT NULL DEFAULT 0,
    status         text         NOT NULL DEFAULT 'running',
    events_applied bigint       NOT NULL DEFAULT 0,
    last_error     text,
    error_position bigint,
    error_at       timestamptz,
    created_at     timestamptz  NOT NULL DEFAULT pg_catalog.now(),
    updated_at     timestamptz  NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT projection_catalog_pkey PRIMARY KEY (name),
    CONSTRAINT projection_catalog_on_error_check CHECK (on_error IN ('stop', 'park')),
    CONSTRAINT projection_catalog_status_check CHECK (status IN ('running', 'failed')),
    CONSTRAINT projection_catalog_position_check CHECK (position >= 0)
);

-- Events a projection's handler failed on, set aside (on_error 'park').
CREATE TABLE es.parked_events (
    projection      text        NOT NULL,
    global_position bigint      NOT NULL,
    error           text        NOT NULL,
    parked_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT parked_events_pkey PRIMARY KEY (projection, global_position),
    CONSTRAINT parked_events_projection_fkey FOREIGN KEY (projection)
        REFERENCES es.projection_catalog (name) ON DELETE CASCADE
);

SELECT pg_catalog.pg_extension_config_dump('es.projection_catalog', '');

-- The worker calls a handler as the projection's owner: only members of an
-- owner may write its rows.
CREATE FUNCTION es.projection_catalog_guard() RETURNS trigger
AS 'MODULE_PATHNAME', 'es_projection_catalog_guard'
LANGUAGE C;
CREATE TRIGGER projection_catalog_guard
    BEFORE INSERT OR UPDATE ON es.projection_catalog
    FOR EACH ROW EXECUTE FUNCTION es.projection_catalog_guard();
SELECT pg_catalog.pg_extension_config_dump('es.parked_events', '');

CREATE VIEW es.projections AS
SELECT p.name,
       p.source,
       p.handler,
       p.owner,
       p.on_error,
       p.status,
       p.position,
       h.head_position,
       GREATEST(h.head_position - p.position, 0) AS lag,
       p.events_applied,
       (SELECT pg_catalog.count(*) FROM es.parked_events k
         WHERE k.projection OPERATOR(pg_catalog.=) p.name) AS parked,
       p.last_error,
       p.error_position,
       p.error_at,
       p.created_at,
       p.updated_at
  FROM es.projection_catalog p
 CROSS JOIN LATERAL (SELECT es.source_head(p.source) AS head_position) h;

-- handler: a function taking one es.event; what it returns is ignored.
CREATE FUNCTION es.create_projection(
    name     text,
    source   text,
    handler  regprocedure,
    on_error text DEFAULT 'stop',
    start    text DEFAULT 'beginning')
RETURNS void
AS 'MODULE_PATHNAME', 'es_create_projection'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Apply up to max_events events now, in the caller's transaction; returns
-- how many were applied (a failing event is recorded, not raised).
CREATE FUNCTION es.run_projection(name text, max_events integer DEFAULT 1000)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_run_projection'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- A failed projection runs again, from the event it failed on.
CREATE FUNCTION es.resume_projection(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'es_resume_projection'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Empty the read model's tables and replay from the start.
CREATE FUNCTION es.rebuild_projection(name text, clear regclass[] DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'es_rebuild_projection'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION es.drop_projection(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'es_drop_projection'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

REVOKE ALL ON FUNCTION
    es.member_of(text, integer), es.source_head(text),
    es.read_all(bigint, integer, text[], text[]), es.settled_position(),
    es.create_subscription(text, text, text, integer),
    es.read_subscription(text, integer, integer, integer),
    es.commit_subscription(text, bigint, integer),
    es.reset_subscription(text, text, integer), es.drop_subscription(text),
    es.projection_catalog_guard(),
    es.create_projection(text, text, regprocedure, text, text),
    es.run_projection(text, integer), es.resume_projection(text),
    es.rebuild_projection(text, regclass[]), es.drop_projection(text)
  FROM PUBLIC;
