#!/usr/bin/env python3
"""projection.py — a read model kept by a projection: registers the projection
cart_totals over category 'cart' with a PL/pgSQL handler this program
creates, brings it up to date with es.run_projection, and prints the read
model.  The background worker runs the same projection by itself (woken by
each append's commit); es.run_projection applies the pending events now, in
this session.  Either way the handler's writes and the projection's position
commit together: each event is applied exactly once.

    python3 projection.py [--name cart_totals]

Connection: libpq environment variables (PGHOST, PGPORT, PGDATABASE, PGUSER).
Output: one JSON line {program, projection, applied, carts: [{cart, lines,
quantity, version}]}.
"""
import argparse
import json
import sys

import psycopg
from psycopg.rows import dict_row


def main() -> None:
    parser = argparse.ArgumentParser(description="Keep the cart_totals read model with a projection.")
    parser.add_argument("--name", default="cart_totals")
    args = parser.parse_args()

    with psycopg.connect(autocommit=True, row_factory=dict_row) as conn:
        with conn.transaction():
            conn.execute("""
                CREATE TABLE IF NOT EXISTS cart_totals (
                    cart     text   PRIMARY KEY,
                    lines    int    NOT NULL,
                    quantity int    NOT NULL,
                    version  bigint NOT NULL)     -- offset of the last event applied""")
            # The worker calls the handler with its own search_path: pin this one.
            conn.execute("""
                CREATE OR REPLACE FUNCTION cart_totals_apply(e es.event) RETURNS void
                LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
                BEGIN
                    IF e.event_type = 'ItemAdded' THEN
                        INSERT INTO cart_totals AS t (cart, lines, quantity, version)
                        VALUES (e.stream, 1, (e.data->>'qty')::int, e.stream_offset)
                        ON CONFLICT (cart) DO UPDATE
                           SET lines = t.lines + 1, quantity = t.quantity + EXCLUDED.quantity,
                               version = EXCLUDED.version;
                    END IF;
                END $$""")
            conn.execute("""
                SELECT es.create_projection(name => %(name)s, source => 'cart',
                                            handler => 'cart_totals_apply(es.event)', on_error => 'stop')
                 WHERE NOT EXISTS (SELECT FROM es.projections WHERE name = %(name)s)""",
                {"name": args.name})

        # Each call applies up to max_events in its own transaction; 0: up to date.
        applied = 0
        while n := conn.execute("SELECT es.run_projection(name => %s, max_events => 1000) AS n",
                                (args.name,)).fetchone()["n"]:
            applied += n
        # A handler error stops the projection (on_error => 'stop'): report it.
        state = conn.execute("SELECT status, last_error FROM es.projections WHERE name = %s",
                             (args.name,)).fetchone()
        if state["status"] != "running":
            sys.exit(f"projection {args.name} {state['status']}: {state['last_error']}")

        carts = conn.execute("SELECT cart, lines, quantity, version FROM cart_totals ORDER BY cart").fetchall()

    print(json.dumps({"program": "projection", "projection": args.name, "applied": applied, "carts": carts}))


if __name__ == "__main__":
    main()
