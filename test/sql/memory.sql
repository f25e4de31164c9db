-- Memory: a long loop of appends, queue operations, reads and subscription
-- commits in one session, each iteration its own transaction, keeps the
-- backend's memory flat.  A leak into a context that lives as long as the
-- session (TopMemoryContext, CacheMemoryContext, a cache of the extension's)
-- shows here as growth between two measurements taken after the same number
-- of iterations.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS event_streaming;
RESET client_min_messages;
SET synchronous_commit = off;   -- thousands of commits: don't wait for each flush

SELECT es.create_queue('mem_queue', visibility_timeout => '5 minutes', max_deliveries => 100);
SELECT es.create_subscription('mem_sub', 'mem', 'end');

-- One iteration: an append to a new stream and to the same stream, a batch,
-- two enqueues (one into a group), a dequeue and nack, a dequeue of both and
-- their acks, reads of a stream and in global order, a subscription read and
-- commit; then COMMIT.
CREATE PROCEDURE mem_loop(n integer, tag text) LANGUAGE plpgsql AS $$
DECLARE
    m record;
    pos bigint;
    last_pos bigint := es.settled_position();
BEGIN
    FOR i IN 1 .. n LOOP
        PERFORM es.append('mem-' || tag || '-' || i, 'Created', jsonb_build_object('i', i));
        PERFORM es.append('mem-same', 'Ticked', jsonb_build_object('i', i),
                          '{"correlation_id": "mem"}');
        PERFORM es.append_batch('mem-batch', jsonb_build_array(
            jsonb_build_object('type', 'A', 'data', jsonb_build_object('i', i)),
            jsonb_build_object('type', 'B', 'data', '{}'::jsonb,
                               'metadata', '{"causation_id": "mem"}'::jsonb)));
        PERFORM es.enqueue('mem_queue', jsonb_build_object('i', i));
        PERFORM es.enqueue('mem_queue', jsonb_build_object('j', i), '{"h": 1}', group_key => 'g');
        SELECT * INTO STRICT m FROM es.dequeue('mem_queue', 'mem-consumer');
        IF NOT es.nack('mem_queue', m.message_id, m.receipt, error => 'again') THEN
            RAISE EXCEPTION 'nack refused in iteration %', i;
        END IF;
        FOR m IN SELECT * FROM es.dequeue('mem_queue', 'mem-consumer', max_messages => 10) LOOP
            IF NOT es.ack('mem_queue', m.message_id, m.receipt) THEN
                RAISE EXCEPTION 'ack refused in iteration %', i;
            END IF;
        END LOOP;
        PERFORM count(*) FROM es.read_stream('mem-same', greatest(es.stream_version('mem-same') - 5, 0), 10);
        PERFORM count(*) FROM es.read_stream('mem-' || tag || '-' || i);
        SELECT max(global_position) INTO pos FROM es.read_all(last_pos, 100, ARRAY['mem']);
        last_pos := coalesce(pos, last_pos);
        SELECT max(global_position) INTO pos FROM es.read_subscription('mem_sub', 100);
        IF pos IS NOT NULL THEN
            PERFORM es.commit_subscription('mem_sub', pos);
        END IF;
        COMMIT;
    END LOOP;
END $$;

-- Warm up (catalog caches, plans, the extension's caches), measure, run as
-- many iterations again, measure.  Used bytes (the chunks allocated) move by
-- what is allocated: after the warm-up they stay within about 10 kB, also
-- with ANALYZE running alongside (catalog cache entries replaced), and a
-- leak of 22 bytes an iteration (the smallest palloc takes 24) goes over
-- the 64 kB bound; a LISTEN on a new channel each iteration (43 bytes kept)
-- grows them by 126 kB.  Total bytes move by whole blocks
-- (CacheMemoryContext's next block can be 1 or 2 MB), so their bound only
-- catches a large leak.  (The first query only loads what measuring needs.)
SELECT sum(total_bytes) AS total_unused FROM pg_backend_memory_contexts \gset
CALL mem_loop(3000, 'a');
SELECT sum(total_bytes) AS total_before, sum(used_bytes) AS used_before
  FROM pg_backend_memory_contexts \gset
CALL mem_loop(3000, 'b');
SELECT sum(total_bytes) AS total_after, sum(used_bytes) AS used_after
  FROM pg_backend_memory_contexts \gset
SELECT :used_after - :used_before < 64 * 1024 AS used_flat,
       :total_after - :total_before < 4 * 1024 * 1024 AS total_flat;
-- Shown only when one is not: the numbers and the largest contexts.
SELECT :used_before AS used_before, :used_after AS used_after,
       :total_before AS total_before, :total_after AS total_after
 WHERE :used_after - :used_before >= 64 * 1024 OR :total_after - :total_before >= 4 * 1024 * 1024;
SELECT name, ident, level, total_bytes, used_bytes FROM pg_backend_memory_contexts
 WHERE :used_after - :used_before >= 64 * 1024 OR :total_after - :total_before >= 4 * 1024 * 1024
 ORDER BY used_bytes DESC LIMIT 10;

-- The loop left nothing behind in the queue, and the subscription kept up.
SELECT queue, depth, in_flight, dead_lettered FROM es.queue_stats WHERE queue = 'mem_queue';
SELECT count(*) AS events, count(DISTINCT stream) AS streams FROM es.events
 WHERE split_part(stream, '-', 1) = 'mem';
SELECT lag <= 4 AS subscription_kept_up FROM es.subscriptions WHERE name = 'mem_sub';

DROP PROCEDURE mem_loop(integer, text);
SELECT es.drop_subscription('mem_sub');
SELECT es.drop_queue('mem_queue');
RESET synchronous_commit;
