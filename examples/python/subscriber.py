#!/usr/bin/env python3
"""subscriber.py — a subscription consumer: reads the events of category 'cart'
in batches with es.read_subscription, applies each ItemAdded to the
application's sku_demand table, and commits the subscription's position in
the same transaction as those writes, so every event's effect is applied
exactly once, whenever the consumer stops or crashes.

    python3 subscriber.py [--name sku-demand] [--batch 100] [--max-events N]

Stops when caught up (a read returns nothing) or after --max-events events;
the next run goes on from the committed position.
Connection: libpq environment variables (PGHOST, PGPORT, PGDATABASE, PGUSER).
Output: one JSON line {program, subscription, events, batches, position}.
"""
import argparse
import json
import math

import psycopg
from psycopg.rows import namedtuple_row


def handle(conn: psycopg.Connection, event) -> None:
    """The handler: the event's effect on the application's tables."""
    if event.event_type != "ItemAdded":
        return
    conn.execute("""
        INSERT INTO sku_demand AS d (sku, qty) VALUES (%s, %s)
        ON CONFLICT (sku) DO UPDATE SET qty = d.qty + EXCLUDED.qty""",
        (event.data["sku"], event.data["qty"]))


def main() -> None:
    parser = argparse.ArgumentParser(description="Consume the cart events through a subscription.")
    parser.add_argument("--name", default="sku-demand")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--max-events", type=int, default=math.inf)
    args = parser.parse_args()

    with psycopg.connect(autocommit=True, row_factory=namedtuple_row) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS sku_demand (sku text PRIMARY KEY, qty bigint NOT NULL)")
        conn.execute("""
            SELECT es.create_subscription(name => %(name)s, source => 'cart', start => 'beginning')
             WHERE NOT EXISTS (SELECT FROM es.subscriptions WHERE name = %(name)s)""",
            {"name": args.name})

        events = batches = 0
        position = None
        while events < args.max_events:
            with conn.transaction():
                batch = conn.execute("""
                    SELECT global_position, event_type, data
                      FROM es.read_subscription(name => %s, max_count => %s)""",
                    (args.name, min(args.batch, args.max_events - events))).fetchall()
                for event in batch:
                    handle(conn, event)
                if batch:
                    conn.execute("SELECT es.commit_subscription(%s, %s)",
                                 (args.name, batch[-1].global_position))
            if not batch:
                break  # caught up
            events += len(batch)
            batches += 1
            position = batch[-1].global_position

    print(json.dumps({"program": "subscriber", "subscription": args.name,
                      "events": events, "batches": batches, "position": position}))


if __name__ == "__main__":
    main()
