-- Infinite intervals.  PostgreSQL 17 made 'infinity' and '-infinity' valid
-- intervals; every interval argument of the API has a finite range
-- (visibility timeout up to 12 hours, delay up to 7 days, wait up to 1 hour,
-- max_age up to 100 years), so it refuses them as invalid, 22023, with a
-- message of their own ("must be finite": neither bound speaks to
-- -infinity), and creates or changes nothing.
-- Before 17 the server itself refuses the literal (22007, invalid input
-- syntax for type interval) before the API is called:
-- expected/infinite_intervals_1.out is that server's output, the only
-- difference.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS event_streaming;
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/try.sql

SELECT es.create_queue('infq'), es.append('inf-1', 'InfOpened', '{}');

SELECT pg_temp.try($$SELECT es.create_queue('infq-2', 'infinity')$$) AS visibility_timeout;
SELECT pg_temp.try($$SELECT es.create_queue('infq-2', '-infinity')$$) AS visibility_timeout;
SELECT pg_temp.try($$SELECT es.enqueue('infq', '{}', NULL, 'infinity')$$) AS delay;
SELECT pg_temp.try($$SELECT es.enqueue('infq', '{}', NULL, '-infinity')$$) AS delay;
SELECT pg_temp.try($$SELECT * FROM es.dequeue('infq', 'c', 'infinity')$$) AS visibility_timeout;
SELECT pg_temp.try($$SELECT * FROM es.dequeue('infq', 'c', NULL, 1, 'infinity')$$) AS wait;
SELECT pg_temp.try($$SELECT * FROM es.dequeue('infq', 'c', NULL, 1, '-infinity')$$) AS wait;
SELECT pg_temp.try($$SELECT es.configure('inf-1', max_age => 'infinity')$$) AS max_age;
SELECT pg_temp.try($$SELECT es.configure('inf-1', max_age => '-infinity')$$) AS max_age;

-- Nothing was created or changed.
SELECT count(*) AS queues FROM es.queues WHERE queue LIKE 'infq%';
SELECT depth, in_flight FROM es.queue_stats WHERE queue = 'infq';
SELECT count(*) AS settings FROM es.configuration WHERE name = 'inf-1';

SELECT es.drop_queue('infq');
RESET client_min_messages;
