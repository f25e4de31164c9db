-- Projections, run by hand with es.run_projection (no worker serves this
-- database; test/t/010_projections.pl covers the worker).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS event_streaming;
-- A failing event is also reported as a WARNING, with its position, which
-- depends on the tests before this one: the status columns show it here.
SET client_min_messages = error;
-- Positions are shown relative to the last one handed out so far.
SELECT last_value AS base FROM es.global_position_seq \gset

CREATE TABLE proj_counts (stream text PRIMARY KEY, n int NOT NULL, last_type text);
CREATE TABLE proj_log (global_position bigint PRIMARY KEY, stream text, event_type text);
CREATE FUNCTION proj_count(e es.event) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF e.data ? 'poison' THEN
    RAISE EXCEPTION 'cannot digest %', e.data->>'poison';
  END IF;
  INSERT INTO proj_counts VALUES (e.stream, 1, e.event_type)
    ON CONFLICT (stream) DO UPDATE SET n = proj_counts.n + 1, last_type = e.event_type;
  INSERT INTO proj_log VALUES (e.global_position, e.stream, e.event_type);
END $$;

SELECT es.append('pj_cart-1', 'Added', '{}') IS NOT NULL AS ok;
SELECT es.append('pj_cart-2', 'Added', '{}') IS NOT NULL AS ok;
SELECT es.append('pj_user-1', 'Joined', '{}') IS NOT NULL AS ok;
SELECT es.append('pj_cart-1', 'Removed', '{}') IS NOT NULL AS ok;

SELECT es.create_projection('pj_carts', 'pj_cart', 'proj_count(es.event)');
SELECT name, source, handler, owner = current_user::regrole AS mine, on_error, status,
       position, lag > 0 AS behind, events_applied, parked
  FROM es.projections WHERE name = 'pj_carts';
-- Runs apply in order and move the position with the read model.
SELECT es.run_projection('pj_carts', 2);
SELECT * FROM proj_counts ORDER BY stream;
SELECT es.run_projection('pj_carts');
SELECT es.run_projection('pj_carts');
SELECT * FROM proj_counts ORDER BY stream;
SELECT position - :base AS pos, lag, events_applied FROM es.projections WHERE name = 'pj_carts';
-- The read model's writes and the position commit together: a rolled back
-- run leaves both as they were.
SELECT es.append('pj_cart-3', 'Added', '{}') IS NOT NULL AS ok;
BEGIN;
SELECT es.run_projection('pj_carts');
ROLLBACK;
SELECT count(*) FROM proj_log WHERE stream = 'pj_cart-3';
SELECT position - :base AS pos FROM es.projections WHERE name = 'pj_carts';
SELECT es.run_projection('pj_carts');
SELECT count(*) FROM proj_log WHERE stream = 'pj_cart-3';

-- A failing event stops the projection there, with the error; the events
-- before it in the same run are applied, the ones after it are not.
SELECT es.append('pj_cart-4', 'Added', '{}') IS NOT NULL AS ok;
SELECT es.append('pj_cart-4', 'Poisoned', '{"poison": "apple"}') IS NOT NULL AS ok;
SELECT es.append('pj_cart-4', 'Added', '{}') IS NOT NULL AS ok;
SELECT es.run_projection('pj_carts');
SELECT status, position - :base AS pos, error_position - :base AS error_pos, last_error,
       error_at IS NOT NULL AS has_time
  FROM es.projections WHERE name = 'pj_carts';
SELECT stream, n, last_type FROM proj_counts WHERE stream = 'pj_cart-4';
-- A failed projection does nothing until resumed.
SELECT es.run_projection('pj_carts');
-- Resumed without a fix, it stops again at the same event.
SELECT es.resume_projection('pj_carts');
SELECT es.run_projection('pj_carts');
SELECT status, error_position - :base AS error_pos FROM es.projections WHERE name = 'pj_carts';
-- Fixed and resumed, it goes on from that event.
CREATE OR REPLACE FUNCTION proj_count(e es.event) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO proj_counts VALUES (e.stream, 1, e.event_type)
    ON CONFLICT (stream) DO UPDATE SET n = proj_counts.n + 1, last_type = e.event_type;
  INSERT INTO proj_log VALUES (e.global_position, e.stream, e.event_type);
END $$;
SELECT es.resume_projection('pj_carts');
SELECT status, last_error FROM es.projections WHERE name = 'pj_carts';
SELECT es.run_projection('pj_carts');
SELECT stream, n, last_type FROM proj_counts WHERE stream = 'pj_cart-4';
SELECT status, lag, events_applied FROM es.projections WHERE name = 'pj_carts';

-- on_error 'park': the failing event is set aside and the projection goes on.
CREATE TABLE proj_parked_model (global_position bigint PRIMARY KEY);
CREATE FUNCTION proj_picky(e es.event) RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
  IF e.event_type = 'Poisoned' THEN
    RAISE EXCEPTION 'picky about %', e.stream USING ERRCODE = 'data_exception';
  END IF;
  INSERT INTO proj_parked_model VALUES (e.global_position);
  RETURN 1;
END $$;
SELECT es.create_projection('pj_picky', 'pj_cart-4', 'proj_picky(es.event)', on_error => 'park');
SELECT es.run_projection('pj_picky');
SELECT count(*) FROM proj_parked_model;
SELECT projection, global_position - :base AS pos, error FROM es.parked_events;
SELECT status, lag, events_applied, parked FROM es.projections WHERE name = 'pj_picky';

-- Rebuild: the read model is emptied and everything replays from the start.
SELECT es.rebuild_projection('pj_carts', ARRAY['proj_counts', 'proj_log']::regclass[]);
SELECT count(*) FROM proj_counts;
SELECT status, position, events_applied FROM es.projections WHERE name = 'pj_carts';
SELECT es.run_projection('pj_carts');
SELECT stream, n, last_type FROM proj_counts ORDER BY stream;
SELECT es.rebuild_projection('pj_picky');
SELECT parked, position FROM es.projections WHERE name = 'pj_picky';

-- Projections started at the end, or at a position.
SELECT es.create_projection('pj_late', '$all', 'proj_picky(es.event)', start => 'end');
SELECT es.run_projection('pj_late');
SELECT es.create_projection('pj_from', 'pj_cart', 'proj_count(es.event)', start => (:base + 3)::text);
SELECT position - :base AS pos FROM es.projections WHERE name = 'pj_from';

-- Bad input, and nothing written by it.
CREATE FUNCTION proj_two(e es.event, x int) RETURNS void LANGUAGE sql AS '';
CREATE FUNCTION proj_text(t text) RETURNS void LANGUAGE sql AS '';
CREATE FUNCTION proj_set(e es.event) RETURNS SETOF int LANGUAGE sql AS 'SELECT 1';
CREATE PROCEDURE proj_proc(e es.event) LANGUAGE sql AS '';
SELECT es.create_projection('pj_carts', 'pj_cart', 'proj_count(es.event)');
SELECT es.create_projection('pj_bad', 'pj_cart', 'proj_two(es.event, int)');
SELECT es.create_projection('pj_bad', 'pj_cart', 'proj_text(text)');
SELECT es.create_projection('pj_bad', 'pj_cart', 'proj_set(es.event)');
SELECT es.create_projection('pj_bad', 'pj_cart', 'proj_proc(es.event)');
SELECT es.create_projection('pj_bad', 'pj_cart', 0);
SELECT es.create_projection('pj_bad', 'pj_cart', NULL);
SELECT es.create_projection('pj_bad', '$everything', 'proj_count(es.event)');
SELECT es.create_projection('pj_bad', 'pj_cart', 'proj_count(es.event)', on_error => 'ignore');
SELECT es.create_projection('pj_bad', 'pj_cart', 'proj_count(es.event)', start => 'soon');
SELECT es.create_projection('', 'pj_cart', 'proj_count(es.event)');
SELECT es.create_projection(NULL, 'pj_cart', 'proj_count(es.event)');
SELECT count(*) FROM es.projection_catalog WHERE name = 'pj_bad';
SELECT es.run_projection('pj_missing');
SELECT es.run_projection('pj_carts', 0);
SELECT es.run_projection('pj_carts', NULL);
SELECT es.resume_projection('pj_missing');
SELECT es.rebuild_projection('pj_missing');
SELECT es.rebuild_projection('pj_carts', ARRAY['es.events']::regclass[]);
SELECT es.rebuild_projection('pj_carts', ARRAY[12345]::regclass[]);
SELECT count(*) > 0 AS events_kept FROM es.events;
SELECT es.drop_projection('pj_missing');

-- Only the owner's role manages a projection, even for a role that may
-- use the functions and the tables.
CREATE ROLE proj_other;
GRANT USAGE ON SCHEMA es TO proj_other;
GRANT SELECT, UPDATE, DELETE ON es.projection_catalog, es.parked_events TO proj_other;
GRANT EXECUTE ON FUNCTION es.run_projection(text, integer), es.drop_projection(text),
  es.rebuild_projection(text, regclass[]), es.resume_projection(text) TO proj_other;
SET ROLE proj_other;
SELECT es.run_projection('pj_carts');
SELECT es.drop_projection('pj_carts');
RESET ROLE;
DROP OWNED BY proj_other;
DROP ROLE proj_other;

-- Dropping removes the projection and its parked events.
SELECT es.drop_projection('pj_picky');
SELECT count(*) FROM es.parked_events WHERE projection = 'pj_picky';
SELECT es.drop_projection('pj_carts');
SELECT es.drop_projection('pj_late');
SELECT es.drop_projection('pj_from');
SELECT count(*) FROM es.projections;
