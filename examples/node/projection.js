// projection.js — a read model kept by a projection: registers the projection
// cart_totals over category 'cart' with the PL/pgSQL handler of
// ../cart_totals.sql, brings it up to date with es.run_projection, and prints the read
// model.  The background worker runs the same projection by itself (woken by
// each append's commit); es.run_projection applies the pending events now, in
// this session.  Either way the handler's writes and the projection's position
// commit together: each event is applied exactly once.
//
//   node projection.js [--name cart_totals]
//
// Connection: libpq environment variables (PGHOST, PGPORT, PGDATABASE, PGUSER).
// Output: one JSON line {program, projection, applied, carts: [{cart, lines,
// quantity, version}]}.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { options, report, transaction } from './lib.js';

const opts = options({ name: 'cart_totals' });

const client = new pg.Client();
await client.connect();

try {
  await transaction(client, async () => {
    await client.query(readFileSync(new URL('../cart_totals.sql', import.meta.url), 'utf8'));
    await client.query(
      `SELECT es.create_projection(name => $1, source => 'cart',
                                   handler => 'cart_totals_apply(es.event)', on_error => 'stop')
        WHERE NOT EXISTS (SELECT FROM es.projections WHERE name = $1)`, [opts.name]);
  });

  // Each call applies up to max_events in its own transaction; 0: up to date.
  let applied = 0;
  for (;;) {
    const { rows: [run] } = await client.query(
      'SELECT es.run_projection(name => $1, max_events => 1000) AS n', [opts.name]);
    if (run.n === 0) break;
    applied += run.n;
  }
  // A handler error stops the projection (on_error => 'stop'): report it.
  const { rows: [state] } = await client.query(
    'SELECT status, last_error FROM es.projections WHERE name = $1', [opts.name]);
  if (state.status !== 'running') throw new Error(`projection ${opts.name} ${state.status}: ${state.last_error}`);

  const { rows: carts } = await client.query(
    'SELECT cart, lines, quantity, version FROM cart_totals ORDER BY cart');
  report({ program: 'projection', projection: opts.name, applied, carts });
} finally {
  await client.end();
}
