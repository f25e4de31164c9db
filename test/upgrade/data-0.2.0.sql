-- Data written through the 0.2.0 API (see data-0.1.0.sql): 0.1.0's, then
-- queues with waiting, delayed, grouped, in-flight, nacked and extended
-- messages, dead letters of both reasons, a redrive, a dropped queue.
-- Tables: + es.queues, es.messages, es.dead_letter_messages; sequences
-- + es.queue_id_seq, es.message_id_seq.
\ir data-0.1.0.sql

-- upgwork: leases long enough to outlast the test; deliveries left, so no
-- sweep dead-letters them.
SELECT es.create_queue('upgwork', visibility_timeout => '1 hour', max_deliveries => 5);
SELECT es.create_queue('upgwork', if_not_exists => true);
SELECT es.enqueue('upgwork', '{"job": 1}', '{"h": "a"}');
SELECT es.enqueue('upgwork', '{"job": 2}');
SELECT es.enqueue('upgwork', '{"job": 3}', delay => '1 day');
SELECT es.enqueue('upgwork', '{"job": 4}', group_key => 'g1');
SELECT es.enqueue('upgwork', '{"job": 5}', group_key => 'g1');
SELECT * FROM es.enqueue_batch('upgwork', ARRAY['{"job": 6}', '{"job": 7}']::jsonb[], '{"batch": true}');
-- job 1 stays in flight; job 2 is acked; job 4 (the head of g1) is nacked
-- back with a delay and an error; job 6's lease is extended.
SELECT message_id AS w1, receipt AS r1 FROM es.dequeue('upgwork', 'worker-a') \gset
SELECT message_id AS w2, receipt AS r2 FROM es.dequeue('upgwork', 'worker-a') \gset
SELECT es.ack('upgwork', :w2, :'r2');
SELECT message_id AS w4, receipt AS r4 FROM es.dequeue('upgwork', 'worker-b') \gset
SELECT es.nack('upgwork', :w4, :'r4', delay => '1 day', error => 'busy');
SELECT message_id AS w6, receipt AS r6 FROM es.dequeue('upgwork', 'worker-b', visibility_timeout => '1 hour') \gset
SELECT es.extend('upgwork', :w6, :'r6', '2 hours');
SELECT es.ack('upgwork', :w6, '00000000-0000-4000-8000-000000000000');  -- a forged receipt: false

-- upgmail: one delivery each; one rejected, one out of deliveries (its
-- only delivery nacked), then the oldest dead letter redriven.
SELECT es.create_queue('upgmail', visibility_timeout => '1 hour', max_deliveries => 1);
SELECT * FROM es.enqueue_batch('upgmail', ARRAY['{"m": 1}', '{"m": 2}', '{"m": 3}', '{"m": 4}']::jsonb[]);
SELECT message_id AS m1, receipt AS q1 FROM es.dequeue('upgmail', 'mailer') \gset
SELECT es.nack('upgmail', :m1, :'q1', requeue => false, error => 'bad address');
SELECT message_id AS m2, receipt AS q2 FROM es.dequeue('upgmail', 'mailer') \gset
SELECT es.nack('upgmail', :m2, :'q2', error => 'timeout');
SELECT message_id AS m3, receipt AS q3 FROM es.dequeue('upgmail', 'mailer') \gset
SELECT es.nack('upgmail', :m3, :'q3', requeue => false, error => 'spam');
SELECT es.redrive('upgmail', 1);

-- A queue created, used and dropped (its id is not reused), one purged.
SELECT es.create_queue('upgtemp');
SELECT es.enqueue('upgtemp', '{}');
SELECT es.drop_queue('upgtemp');
SELECT es.create_queue('upgpurged', visibility_timeout => '5 minutes', max_deliveries => 2);
SELECT es.enqueue('upgpurged', '{"gone": true}');
SELECT es.purge_queue('upgpurged');

SELECT queue, depth, visible, in_flight, delayed, dead_lettered FROM es.queue_stats ORDER BY queue;
SELECT queue, message_id, reason, delivery_count, last_error FROM es.dead_letters ORDER BY queue, message_id;
