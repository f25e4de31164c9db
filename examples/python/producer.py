#!/usr/bin/env python3
"""producer.py — appends ItemAdded events to a cart stream with optimistic
concurrency and writes the application's own table in the same transaction.

    python3 producer.py [--stream cart-1] [--writer python] [--count 5]

Each event is appended with expected_version = the version this writer last
saw.  When another writer got there first the append fails with SQLSTATE
ES001; the producer re-reads the stream's version and retries after a
jittered exponential backoff, a bounded number of times.  A connection lost
mid-transaction is retried the same way on a new connection.

Event ids are derived from the command (stream, writer, item number), not
drawn at random: a retry after a lost COMMIT acknowledgement — or a rerun of
the same command line — sends the same id, es.append_event answers
duplicate = true with the original offset, and nothing is written twice.

Connection: libpq environment variables (PGHOST, PGPORT, PGDATABASE, PGUSER).
Output: one JSON line {program, stream, writer, appended, duplicates,
conflicts, reconnects, version}.
"""
import argparse
import json
import random
import time
import uuid

import psycopg
from psycopg.types.json import Jsonb

WRONG_EXPECTED_VERSION = "ES001"  # wrong expected version (docs/api.md, es.append)
MAX_ATTEMPTS = 8
# Namespace of the example's version-5 event ids (the Node.js producer uses the same).
ID_NAMESPACE = uuid.UUID("6f1c2b1e-2f0a-4d4e-9a57-3c1e8f0b7d21")


def backoff(attempt: int) -> float:
    """Full-jitter exponential backoff: a random delay below 10 ms * 2^attempt, capped at 1 s."""
    return random.uniform(0, min(1.0, 0.01 * 2**attempt))


class Producer:
    """One writer of one stream: its connection and the stream version it last saw."""

    def __init__(self, stream: str):
        self.stream = stream
        self.conn = psycopg.connect(autocommit=True)
        self.conn.execute("""
            CREATE TABLE IF NOT EXISTS cart_lines (
                cart     text   NOT NULL,
                line     bigint NOT NULL,          -- the event's stream offset
                sku      text   NOT NULL,
                qty      int    NOT NULL,
                event_id uuid   NOT NULL UNIQUE,
                PRIMARY KEY (cart, line))""")
        self.version = self.stream_version()  # -1: no stream yet
        self.stats = dict(appended=0, duplicates=0, conflicts=0, reconnects=0)

    def stream_version(self) -> int:
        return self.conn.execute("SELECT es.stream_version(%s)", (self.stream,)).fetchone()[0]

    def add_item(self, item: dict, event_id: uuid.UUID) -> None:
        """Append one event with expected_version, and the matching row of the
        application's table, in one transaction."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self.conn.transaction():
                    offset, duplicate = self.conn.execute(
                        """SELECT stream_offset, duplicate
                             FROM es.append_event(stream => %s, event_type => 'ItemAdded', data => %s,
                                                  expected_version => %s, event_id => %s)""",
                        (self.stream, Jsonb(item), self.version, event_id)).fetchone()
                    if not duplicate:  # a duplicate's row was written with it
                        self.conn.execute(
                            "INSERT INTO cart_lines (cart, line, sku, qty, event_id) VALUES (%s, %s, %s, %s, %s)",
                            (self.stream, offset, item["sku"], item["qty"], event_id))
                self.stats["duplicates" if duplicate else "appended"] += 1
                if not duplicate:
                    self.version = offset
                return
            except psycopg.Error as err:
                if err.sqlstate == WRONG_EXPECTED_VERSION:
                    self.stats["conflicts"] += 1
                elif self.conn.broken:  # the COMMIT may or may not have happened
                    self.stats["reconnects"] += 1
                else:
                    raise
                if attempt == MAX_ATTEMPTS:
                    raise
            time.sleep(backoff(attempt))
            if self.conn.broken:
                self.conn = psycopg.connect(autocommit=True)
            self.version = self.stream_version()  # someone else appended: catch up


def main() -> None:
    parser = argparse.ArgumentParser(description="Append cart events with optimistic concurrency.")
    parser.add_argument("--stream", default="cart-1")
    parser.add_argument("--writer", default="python")
    parser.add_argument("--count", type=int, default=5)
    args = parser.parse_args()

    producer = Producer(args.stream)
    for i in range(args.count):
        item = {"sku": f"sku-{i % 3}", "qty": 1 + i % 4, "writer": args.writer}
        producer.add_item(item, uuid.uuid5(ID_NAMESPACE, f"{args.stream}/{args.writer}/{i}"))
    producer.conn.close()
    print(json.dumps({"program": "producer", "stream": args.stream, "writer": args.writer,
                      **producer.stats, "version": producer.version}))


if __name__ == "__main__":
    main()
