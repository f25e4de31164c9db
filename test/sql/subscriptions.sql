-- Reads in global order, subscriptions, notifications.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS event_streaming;
-- Positions start after 2000000 here, so that errors quoting them do not
-- depend on the tests before this one (moving the sequence forward is safe).
SELECT pg_catalog.setval('es.global_position_seq', 2000000) AS base \gset

SELECT es.append('sub_order-1', 'Placed', '{"n": 1}') IS NOT NULL AS ok;
SELECT es.append('sub_order-2', 'Placed', '{"n": 2}') IS NOT NULL AS ok;
SELECT es.append('sub_user-1', 'Joined', '{"n": 3}') IS NOT NULL AS ok;
SELECT es.append('sub_order-1', 'Paid', '{"n": 4}') IS NOT NULL AS ok;
SELECT count(*) FROM es.append_batch('sub_user-2',
  '[{"type": "Joined", "data": {"n": 5}}, {"type": "Left", "data": {"n": 6}}]');

-- read_all: after from_position (exclusive), in order, filtered.
SELECT global_position - :base AS pos, stream, event_type, data->>'n' AS n
  FROM es.read_all(:base, 100);
SELECT global_position - :base AS pos, stream FROM es.read_all(:base + 2, 2);
SELECT global_position - :base AS pos, stream FROM es.read_all(:base, 100, ARRAY['sub_order']);
SELECT global_position - :base AS pos, stream FROM es.read_all(:base, 100, ARRAY['sub_order', 'sub_user'], ARRAY['Joined', 'Paid']);
SELECT global_position - :base AS pos, stream FROM es.read_all(:base, 100, NULL, ARRAY['Left']);
SELECT count(*) FROM es.read_all(:base, 100, ARRAY[]::text[]);
SELECT count(*) FROM es.read_all(:base + 6, 100);
SELECT es.settled_position() - :base AS settled;
-- NULL from_position: from the start.
SELECT count(*) >= 6 FROM es.read_all(NULL, 10000);
-- Bad input.
SELECT * FROM es.read_all(-1, 10);
SELECT * FROM es.read_all(0, NULL);
SELECT * FROM es.read_all(0, 0);
SELECT * FROM es.read_all(0, 10, ARRAY['a', NULL]);
SELECT * FROM es.read_all(0, 10, NULL, ARRAY[NULL]::text[]);
SELECT * FROM es.read_all(0, 10, ARRAY[['a'], ['b']]);

-- In the caller's own open transaction, its appends are not yet settled.
BEGIN;
SELECT es.append('sub_order-3', 'Placed', '{}') IS NOT NULL AS ok;
SELECT count(*) FROM es.read_all(:base + 6, 100);
SELECT es.settled_position() - :base AS settled;
COMMIT;
SELECT global_position - :base AS pos, stream FROM es.read_all(:base + 6, 100);

-- More events for the subscriptions (notifications: test/specs/notifications.spec).
SELECT es.append('sub_user-3', 'Joined', '{}') IS NOT NULL AS ok;
BEGIN;
SELECT es.append('sub_user-3', 'Left', '{}') IS NOT NULL AS ok;
SELECT es.append('sub_order-3', 'Paid', '{}') IS NOT NULL AS ok;
SELECT es.append('sub_user-4', 'Joined', '{}') IS NOT NULL AS ok;
COMMIT;
BEGIN;
SELECT es.append('sub_user-3', 'Oops', '{}') IS NOT NULL AS ok;
ROLLBACK;

-- Subscriptions.
SELECT es.create_subscription('sub_all', '$all', :'base');
SELECT es.create_subscription('sub_orders', 'sub_order', 'beginning');
SELECT es.create_subscription('sub_one', 'sub_user-3', 'beginning');
SELECT es.create_subscription('sub_late', '$all', 'end');
SELECT es.create_subscription('sub_group', '$all', :'base', 4);
SELECT name, source, members, member, position - :base AS pos FROM es.subscriptions
 WHERE name LIKE 'sub\_%' AND name <> 'sub_orders' AND name <> 'sub_one' ORDER BY name, member;

SELECT global_position - :base AS pos, stream FROM es.read_subscription('sub_all', 3);
-- Reading does not move the position; committing does.
SELECT global_position - :base AS pos, stream FROM es.read_subscription('sub_all', 3);
SELECT es.commit_subscription('sub_all', :base + 3);
SELECT global_position - :base AS pos, stream FROM es.read_subscription('sub_all', 3);
SELECT position - :base AS pos, commits, last_commit_at IS NOT NULL AS committed,
       head_position - :base AS head, lag
  FROM es.subscriptions WHERE name = 'sub_all';
-- Never back, never past what is settled.
SELECT es.commit_subscription('sub_all', :base + 2);
SELECT es.commit_subscription('sub_all', es.settled_position() + 1);
SELECT es.commit_subscription('sub_all', :base + 3);
-- A category, a stream, a subscription started at the end.
SELECT stream, event_type FROM es.read_subscription('sub_orders', 100);
SELECT stream, event_type FROM es.read_subscription('sub_one', 100);
SELECT count(*) FROM es.read_subscription('sub_late', 100);
SELECT es.append('sub_order-9', 'Late', '{}') IS NOT NULL AS ok;
SELECT stream, event_type FROM es.read_subscription('sub_late', 100);
-- Reset goes anywhere, for one member or all.
SELECT es.reset_subscription('sub_all', 'beginning');
SELECT position FROM es.subscriptions WHERE name = 'sub_all';
SELECT es.reset_subscription('sub_all', (:base + 5)::text);
SELECT global_position - :base AS pos FROM es.read_subscription('sub_all', 2);
SELECT es.reset_subscription('sub_all', 'end');
SELECT count(*) FROM es.read_subscription('sub_all', 100);

-- A group of 4: every stream goes to exactly one member, in order.
CREATE TEMP TABLE got AS
SELECT m AS member, e.*
  FROM generate_series(0, 3) m, es.read_subscription('sub_group', 1000, m, 4) e;
SELECT (SELECT count(*) FROM got) = (SELECT count(*) FROM es.read_all(:base, 1000)) AS all_delivered;
SELECT count(DISTINCT global_position) = count(*) AS once_each FROM got;
SELECT bool_and(member = es.member_of(stream, 4)) AS right_member FROM got;
SELECT count(*) AS streams_on_two_members FROM
  (SELECT stream FROM got GROUP BY stream HAVING count(DISTINCT member) > 1) s;
SELECT count(DISTINCT member) > 1 AS spread FROM got;
SELECT member, es.commit_subscription('sub_group', max(global_position), member)
  FROM got GROUP BY member ORDER BY member;
SELECT member, position > :base AS moved FROM es.subscriptions WHERE name = 'sub_group' ORDER BY member;
SELECT es.member_of('x', 1), es.member_of('order-1', 7) BETWEEN 0 AND 6 AS in_range;

-- Bad input.
SELECT es.create_subscription('sub_all');
SELECT es.create_subscription('sub_bad', '$nope');
SELECT es.create_subscription('sub_bad', '');
SELECT es.create_subscription('sub_bad', '$all', 'middle');
SELECT es.create_subscription('sub_bad', '$all', '-1');
SELECT es.create_subscription('sub_bad', '$all', 'beginning', 0);
SELECT es.create_subscription('sub_bad', '$all', 'beginning', 1025);
SELECT es.create_subscription(NULL);
SELECT es.create_subscription('sub_bad', NULL);
SELECT es.read_subscription('sub_missing', 10);
SELECT es.read_subscription('sub_group', 10, 4);
SELECT es.read_subscription('sub_group', 10, 0, 3);
SELECT es.read_subscription('sub_group', 10, NULL);
SELECT es.read_subscription('sub_all', 0);
SELECT es.commit_subscription('sub_all', NULL);
SELECT es.commit_subscription('sub_missing', 1);
SELECT es.reset_subscription('sub_all', 'sideways');
SELECT es.reset_subscription('sub_group', 'beginning', 9);
SELECT count(*) FROM es.subscription_catalog WHERE name = 'sub_bad';
SELECT es.drop_subscription('sub_missing');
SELECT es.drop_subscription('sub_group');
SELECT count(*) FROM es.subscription_positions WHERE subscription = 'sub_group';
