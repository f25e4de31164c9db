-- Data migrations run by CALL es.run_data_migrations(): order, failure,
-- rerun.  (test/t/013_evolution_worker.pl covers the worker.)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS event_streaming;
RESET client_min_messages;
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/try.sql

CREATE TABLE dm_log (n serial, step text, txid xid8 DEFAULT pg_current_xact_id());
CREATE TABLE dm_totals (stream text PRIMARY KEY, total numeric);
CREATE PROCEDURE dm_backfill() LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO dm_log (step) VALUES ('backfill');
  INSERT INTO dm_totals SELECT stream, sum((data->>'n')::numeric)
    FROM es.events WHERE stream LIKE 'dm_acc-%' GROUP BY stream;
END $$;
CREATE FUNCTION dm_flaky() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO dm_log (step) VALUES ('flaky');
  IF NOT EXISTS (SELECT 1 FROM pg_class WHERE relname = 'dm_ready') THEN
    RAISE EXCEPTION 'dm_ready is missing' USING ERRCODE = 'P0002', DETAIL = 'create it first';
  END IF;
END $$;
CREATE PROCEDURE dm_last() LANGUAGE sql AS $$ INSERT INTO dm_log (step) VALUES ('last') $$;

SELECT es.append('dm_acc-1', 'Deposited', '{"n": 5}') >= 0 AS ok;
SELECT es.append('dm_acc-1', 'Deposited', '{"n": 7}') >= 0 AS ok;
SELECT es.append('dm_acc-2', 'Deposited', '{"n": 1}') >= 0 AS ok;

-- Registered out of order; they run by run_order.
SELECT es.register_data_migration('dm 3 last', 30, 'dm_last()');
SELECT es.register_data_migration('dm 1 backfill', 10, 'dm_backfill()');
SELECT es.register_data_migration('dm 2 flaky', 20, 'dm_flaky()');
SELECT name, run_order, procedure, owner = current_user::regrole AS mine, status, attempts,
       started_at, finished_at, last_error
  FROM es.data_migrations ORDER BY run_order;

-- The first runs and commits; the second fails: its changes are rolled
-- back, the failure is recorded and raised, the third waits.
CALL es.run_data_migrations();
SELECT name, status, attempts, started_at IS NOT NULL AS started,
       finished_at IS NOT NULL AS finished, last_error, last_sqlstate
  FROM es.data_migrations ORDER BY run_order;
SELECT step FROM dm_log ORDER BY n;
SELECT * FROM dm_totals ORDER BY stream;

-- Again, still failing: attempts go up, nothing else moves.
CALL es.run_data_migrations();
SELECT name, status, attempts FROM es.data_migrations ORDER BY run_order;

-- Fixed: the run resumes at the failed step, the finished one is not run again.
CREATE TABLE dm_ready ();
CALL es.run_data_migrations();
SELECT name, status, attempts, last_error, last_sqlstate, duration >= '0'::interval AS timed
  FROM es.data_migrations ORDER BY run_order;
SELECT step FROM dm_log ORDER BY n;
-- Each step ran in its own transaction.
SELECT count(DISTINCT txid) FROM dm_log;
-- Nothing left: a run does nothing.
CALL es.run_data_migrations();
SELECT count(*) FROM dm_log;

-- Only with CALL, outside a transaction block.
SELECT pg_temp.try($$CALL es.run_data_migrations()$$);
BEGIN;
CALL es.run_data_migrations();
ROLLBACK;

-- A step whose procedure is gone fails, recorded, without running anything.
CREATE PROCEDURE dm_gone() LANGUAGE sql AS $$ SELECT 1 $$;
SELECT es.register_data_migration('dm 4 gone', 40, 'dm_gone()');
DROP PROCEDURE dm_gone();
CALL es.run_data_migrations();
SELECT name, status, last_error, last_sqlstate FROM es.data_migrations WHERE name = 'dm 4 gone';
SELECT es.drop_data_migration('dm 4 gone');

-- A step that tries to COMMIT fails (each step is one transaction).
CREATE PROCEDURE dm_commits() LANGUAGE plpgsql AS $$ BEGIN COMMIT; END $$;
SELECT es.register_data_migration('dm 5 commits', 50, 'dm_commits()');
CALL es.run_data_migrations();
SELECT name, status, last_sqlstate FROM es.data_migrations WHERE name = 'dm 5 commits';
SELECT es.drop_data_migration('dm 5 commits');

-- request_data_migrations marks what is pending for the worker (none
-- serves this database: the marks stay).
SELECT es.request_data_migrations();
CREATE PROCEDURE dm_later() LANGUAGE sql AS $$ INSERT INTO dm_log (step) VALUES ('later') $$;
SELECT es.register_data_migration('dm 6 later', 60, 'dm_later()');
SELECT es.request_data_migrations();
SELECT name, requested_at IS NOT NULL AS requested FROM es.data_migrations ORDER BY run_order;
CALL es.run_data_migrations();
SELECT name, status, requested_at IS NOT NULL AS requested FROM es.data_migrations WHERE name = 'dm 6 later';

-- Bad input, each with its SQLSTATE; nothing registered by any of them.
CREATE FUNCTION dm_args(x int) RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION dm_set() RETURNS SETOF int LANGUAGE sql AS $$ SELECT 1 $$;
CREATE AGGREGATE dm_agg(int) (sfunc = int4pl, stype = int);
SELECT pg_temp.try($$SELECT es.register_data_migration('dm 1 backfill', 99, 'dm_last()')$$);
SELECT pg_temp.try($$SELECT es.register_data_migration('dm x', 10, 'dm_last()')$$);
SELECT pg_temp.try($$SELECT es.register_data_migration(NULL, 99, 'dm_last()')$$);
SELECT pg_temp.try($$SELECT es.register_data_migration('', 99, 'dm_last()')$$);
SELECT pg_temp.try($$SELECT es.register_data_migration(repeat('m', 201), 99, 'dm_last()')$$);
SELECT pg_temp.try($$SELECT es.register_data_migration('dm x', NULL, 'dm_last()')$$);
SELECT pg_temp.try($$SELECT es.register_data_migration('dm x', 99, NULL)$$);
SELECT pg_temp.try($$SELECT es.register_data_migration('dm x', 99, 4294967295)$$);
SELECT pg_temp.try($$SELECT es.register_data_migration('dm x', 99, 'dm_args(int)')$$);
SELECT pg_temp.try($$SELECT es.register_data_migration('dm x', 99, 'dm_set()')$$);
SELECT pg_temp.try($$SELECT es.register_data_migration('dm x', 99, 'dm_agg(int)')$$);
SELECT pg_temp.try($$SELECT es.drop_data_migration('no such')$$);
SELECT pg_temp.try($$SELECT es.drop_data_migration(NULL)$$);
SELECT count(*) FROM es.data_migrations;

-- Another role may neither drop nor run someone else's step, nor register
-- without EXECUTE on the procedure.
CREATE ROLE dm_other;
GRANT USAGE ON SCHEMA es TO dm_other;
GRANT SELECT, INSERT, UPDATE, DELETE ON es.data_migration_catalog TO dm_other;
GRANT EXECUTE ON FUNCTION es.drop_data_migration(text), es.register_data_migration(text, integer, regprocedure),
  es.request_data_migrations() TO dm_other;
REVOKE EXECUTE ON PROCEDURE dm_later() FROM PUBLIC;
SET ROLE dm_other;
SELECT pg_temp.try($$SELECT es.drop_data_migration('dm 1 backfill')$$);
SELECT pg_temp.try($$SELECT es.register_data_migration('dm 7', 70, 'dm_later()')$$);
-- Writing the catalog directly cannot borrow another owner either.
SELECT pg_temp.try($$INSERT INTO es.data_migration_catalog (name, run_order, procedure, owner)
                     VALUES ('dm 8', 80, 'public.dm_last()', 'postgres')$$);
SELECT pg_temp.try($$SELECT es.request_data_migrations()$$);
RESET ROLE;

-- Two owners with pending steps: a request marks only the caller's own,
-- and a failure clears only the runner's requests (the others' stay).
CREATE FUNCTION dm_fail_other() RETURNS void LANGUAGE sql RETURN (SELECT 1 / 0);
SELECT es.register_data_migration('dm p', 95, 'dm_last()');
SELECT es.request_data_migrations();
GRANT EXECUTE ON PROCEDURE es.run_data_migrations() TO dm_other;
SET ROLE dm_other;
SELECT es.register_data_migration('dm o', 90, 'dm_fail_other()');
SELECT es.request_data_migrations();
CALL es.run_data_migrations();
RESET ROLE;
SELECT name, owner, status, last_sqlstate, requested_at IS NOT NULL AS requested
  FROM es.data_migrations WHERE name IN ('dm o', 'dm p') ORDER BY run_order;
SELECT es.drop_data_migration('dm o'), es.drop_data_migration('dm p');
DROP FUNCTION dm_fail_other();
REVOKE ALL ON PROCEDURE es.run_data_migrations() FROM dm_other;
REVOKE ALL ON es.data_migration_catalog FROM dm_other;
REVOKE ALL ON FUNCTION es.drop_data_migration(text), es.register_data_migration(text, integer, regprocedure),
  es.request_data_migrations() FROM dm_other;
REVOKE ALL ON SCHEMA es FROM dm_other;
DROP ROLE dm_other;

SELECT es.drop_data_migration(name) FROM es.data_migrations ORDER BY run_order;
SELECT count(*) FROM es.data_migrations;
