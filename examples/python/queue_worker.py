#!/usr/bin/env python3
"""queue_worker.py — a work queue: enqueues email jobs, then works them off.

    python3 queue_worker.py [--queue email-jobs] [--count 6] [--idle 2]

Producer side: es.create_queue (at most 3 deliveries per message) and
--count es.enqueue calls in one transaction (the jobs appear at its commit).
Worker side: es.dequeue with a visibility timeout and `wait`, so the call
blocks in the server until a message is deliverable (also one whose nack
delay ends): no polling.  A job that succeeds is recorded in sent_emails and
acked in the same transaction; one that fails is nacked with requeue and an
exponential delay.  The jobs are simulated: a recipient without '@' always
fails — after its third delivery the message is in the dead-letter queue —
and every third job fails on its first delivery only.  The worker stops when
nothing arrived for --idle seconds.
Connection: libpq environment variables (PGHOST, PGPORT, PGDATABASE, PGUSER).
Output: one JSON line {program, queue, enqueued, acked, nacked, dead_letters}.
"""
import argparse
import json
import os

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb


class JobFailed(Exception):
    pass


def send(payload: dict, delivery_count: int) -> None:
    """The job: "send" the email; raises like a mail server that refuses it."""
    if "@" not in payload["to"]:
        raise JobFailed(f"invalid recipient {payload['to']}")
    if payload.get("flaky") and delivery_count == 1:
        raise JobFailed("451 try again later")


def retry_delay_seconds(delivery_count: int) -> float:
    """Nack delay after the n-th failed delivery: 100 ms * 2^(n-1)."""
    return 0.1 * 2 ** (delivery_count - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description="Enqueue email jobs and work them off.")
    parser.add_argument("--queue", default="email-jobs")
    parser.add_argument("--count", type=int, default=6)
    parser.add_argument("--idle", type=float, default=2)
    args = parser.parse_args()
    consumer = f"python-{os.getpid()}"

    with psycopg.connect(autocommit=True, row_factory=dict_row) as conn:
        conn.execute("""
            CREATE TABLE IF NOT EXISTS sent_emails (
                message_id bigint PRIMARY KEY,
                recipient  text NOT NULL,
                sent_at    timestamptz NOT NULL DEFAULT now())""")
        conn.execute("""
            SELECT es.create_queue(queue => %s, visibility_timeout => '30 seconds',
                                   max_deliveries => 3, if_not_exists => true)""", (args.queue,))

        # Producer side.
        with conn.transaction():
            for i in range(args.count):
                payload = ({"to": "nobody"} if i == args.count - 1  # the poison message
                           else {"to": f"user{i}@example.com", "flaky": i % 3 == 1})
                conn.execute("SELECT es.enqueue(queue => %s, payload => %s)", (args.queue, Jsonb(payload)))

        # Worker side.
        acked = nacked = 0
        while True:
            # A statement of its own, outside a transaction: while it waits it holds no
            # snapshot back from VACUUM (docs/api.md, es.dequeue).
            messages = conn.execute("""
                SELECT message_id, receipt, payload, delivery_count
                  FROM es.dequeue(queue => %s, consumer => %s, visibility_timeout => '30 seconds',
                                  max_messages => 10, wait => make_interval(secs => %s))""",
                (args.queue, consumer, args.idle)).fetchall()
            if not messages:
                break  # idle for --idle seconds
            for m in messages:
                try:
                    with conn.transaction():
                        send(m["payload"], m["delivery_count"])
                        conn.execute("INSERT INTO sent_emails (message_id, recipient) VALUES (%s, %s)",
                                     (m["message_id"], m["payload"]["to"]))
                        acked_now = conn.execute("SELECT es.ack(%s, %s, %s) AS ack",
                                                 (args.queue, m["message_id"], m["receipt"])).fetchone()["ack"]
                        if not acked_now:  # the lease ran out and another consumer has the message now
                            raise JobFailed(f"lost the lease of message {m['message_id']}")
                    acked += 1
                except Exception as err:  # the job failed (a broken connection fails the nack too)
                    # On the last allowed delivery the nack moves the message to the dead-letter queue.
                    conn.execute("""
                        SELECT es.nack(queue => %s, message_id => %s, receipt => %s, requeue => true,
                                       delay => make_interval(secs => %s), error => %s)""",
                        (args.queue, m["message_id"], m["receipt"],
                         retry_delay_seconds(m["delivery_count"]), str(err)))
                    nacked += 1

        dead_letters = conn.execute("""
            SELECT message_id, reason, delivery_count, last_error, payload
              FROM es.dead_letters WHERE queue = %s ORDER BY message_id""", (args.queue,)).fetchall()

    print(json.dumps({"program": "queue_worker", "queue": args.queue, "enqueued": args.count,
                      "acked": acked, "nacked": nacked, "dead_letters": dead_letters}))


if __name__ == "__main__":
    main()
