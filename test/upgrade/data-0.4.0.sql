-- Data written through the 0.4.0 API (see data-0.1.0.sql): 0.3.0's, then
-- reads in global order, subscriptions (all events, a category split
-- between two members, one stream) read and committed, and projections run
-- by hand: one applied into a table of schema public, one that parked an
-- event, one stopped by a failing event.
-- Tables: + es.subscription_catalog, es.subscription_positions,
-- es.projection_catalog, es.parked_events.
\ir data-0.3.0.sql

SELECT count(*) FROM es.read_all(0, 1000);
SELECT count(*) FROM es.read_all(0, 1000, ARRAY['upgorder'], ARRAY['OrderPlaced']);
SELECT es.settled_position() > 0 AS settled;

SELECT es.create_subscription('upgsub_all');
SELECT es.create_subscription('upgsub_orders', 'upgorder', 'beginning', 2);
SELECT es.create_subscription('upgsub_cart', 'upgcart-1', 'end');
SELECT max(global_position) AS p5 FROM es.read_subscription('upgsub_all', 5) \gset
SELECT es.commit_subscription('upgsub_all', :p5);
SELECT es.commit_subscription('upgsub_orders', max(global_position), 0)
  FROM es.read_subscription('upgsub_orders', 1000, 0) HAVING count(*) > 0;
SELECT es.commit_subscription('upgsub_orders', max(global_position), 1)
  FROM es.read_subscription('upgsub_orders', 1000, 1) HAVING count(*) > 0;
SELECT es.create_subscription('upgsub_gone');
SELECT es.drop_subscription('upgsub_gone');
SELECT es.reset_subscription('upgsub_cart', 'beginning');
SELECT name, member, position > 0 AS moved FROM es.subscriptions WHERE name LIKE 'upg%' ORDER BY name, member;

-- Projections (as the worker does not serve this database, run by hand).
CREATE TABLE public.upg_totals (stream text PRIMARY KEY, events integer NOT NULL, last_type text NOT NULL);
CREATE FUNCTION public.upg_tally(e es.event) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.upg_totals VALUES (e.stream, 1, e.event_type)
    ON CONFLICT (stream) DO UPDATE SET events = upg_totals.events + 1, last_type = excluded.last_type;
END
$$;
CREATE FUNCTION public.upg_picky(e es.event) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF e.event_type = 'OrderShipped' THEN
        RAISE EXCEPTION 'upg_picky: no shipping' USING ERRCODE = 'data_exception';
    END IF;
END
$$;
SELECT es.create_projection('upg_totals', '$all', 'public.upg_tally(es.event)');
SELECT es.run_projection('upg_totals');
SET client_min_messages = error;   -- a failing event is also a WARNING
SELECT es.create_projection('upg_parking', 'upgorder', 'public.upg_picky(es.event)', on_error => 'park');
SELECT es.run_projection('upg_parking');
SELECT es.create_projection('upg_stopped', 'upgorder-1', 'public.upg_picky(es.event)');
SELECT es.run_projection('upg_stopped');
RESET client_min_messages;
SELECT name, status, events_applied, parked, last_error FROM es.projections WHERE name LIKE 'upg%' ORDER BY name;
