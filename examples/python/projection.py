#!/usr/bin/env python3
"""projection.py — a read model kept by a projection: registers the projection
cart_totals over category 'cart' with the PL/pgSQL handler of
../cart_totals.sql, brings it up to date with es.run_projection, and prints the read
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
from pathlib import Path

import psycopg
from psycopg.rows import dict_row


def main() -> None:
    parser = argparse.ArgumentParser(description="Keep the cart_totals read model with a projection.")
    parser.add_argument("--name", default="cart_totals")
    args = parser.parse_args()

    with psycopg.connect(autocommit=True, row_factory=dict_row) as conn:
        with conn.transaction():
            conn.execute((Path(__file__).parent.parent / "cart_totals.sql").read_text())
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
