// projection.js — a read model kept by a projection: registers the projection
// cart_totals over category 'cart' with a PL/pgSQL handler this program
// creates, brings it up to date with es.run_projection, and prints the read
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
import pg from 'pg';
import { options, report, transaction } from './lib.js';

const opts = options({ name: 'cart_totals' });

const client = new pg.Client();
await client.connect();

try {
  await transaction(client, async () => {
    await client.query(`CREATE TABLE IF NOT EXISTS cart_totals (
        cart     text   PRIMARY KEY,
        lines    int    NOT NULL,
        quantity int    NOT NULL,
        version  bigint NOT NULL)     -- offset of the last event applied`);
    // The worker calls the handler with its own search_path: pin this one.
    await client.query(`CREATE OR REPLACE FUNCTION cart_totals_apply(e es.event) RETURNS void
        LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
        BEGIN
            IF e.event_type = 'ItemAdded' THEN
                INSERT INTO cart_totals AS t (cart, lines, quantity, version)
                VALUES (e.stream, 1, (e.data->>'qty')::int, e.stream_offset)
                ON CONFLICT (cart) DO UPDATE
                   SET lines = t.lines + 1, quantity = t.quantity + EXCLUDED.quantity,
                       version = EXCLUDED.version;
            END IF;
        END $$`);
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
