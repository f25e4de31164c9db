// subscriber.js — a subscription consumer: reads the events of category 'cart'
// in batches with es.read_subscription, applies each ItemAdded to the
// application's sku_demand table, and commits the subscription's position in
// the same transaction as those writes, so every event's effect is applied
// exactly once, whenever the consumer stops or crashes.
//
//   node subscriber.js [--name sku-demand] [--batch 100] [--max-events N]
//
// Stops when caught up (a read returns nothing) or after --max-events events;
// the next run goes on from the committed position.
// Connection: libpq environment variables (PGHOST, PGPORT, PGDATABASE, PGUSER).
// Output: one JSON line {program, subscription, events, batches, position}.
import pg from 'pg';
import { options, report, transaction } from './lib.js';

const opts = options({ name: 'sku-demand', batch: 100, 'max-events': Infinity });

const client = new pg.Client();
await client.connect();

// The handler: the event's effect on the application's tables.
async function handle(event) {
  if (event.event_type !== 'ItemAdded') return;
  await client.query(
    `INSERT INTO sku_demand AS d (sku, qty) VALUES ($1, $2)
     ON CONFLICT (sku) DO UPDATE SET qty = d.qty + EXCLUDED.qty`,
    [event.data.sku, event.data.qty]);
}

try {
  await client.query('CREATE TABLE IF NOT EXISTS sku_demand (sku text PRIMARY KEY, qty bigint NOT NULL)');
  await client.query(
    `SELECT es.create_subscription(name => $1, source => 'cart', start => 'beginning')
      WHERE NOT EXISTS (SELECT FROM es.subscriptions WHERE name = $1)`, [opts.name]);

  let events = 0, batches = 0, position = null;
  while (events < opts['max-events']) {
    const batch = await transaction(client, async () => {
      const { rows } = await client.query(
        `SELECT global_position, event_type, data
           FROM es.read_subscription(name => $1, max_count => $2)`,
        [opts.name, Math.min(opts.batch, opts['max-events'] - events)]);
      for (const event of rows) await handle(event);
      if (rows.length > 0)
        await client.query('SELECT es.commit_subscription($1, $2)',
          [opts.name, rows.at(-1).global_position]);
      return rows;
    });
    if (batch.length === 0) break; // caught up
    events += batch.length;
    batches++;
    position = batch.at(-1).global_position;
  }
  report({ program: 'subscriber', subscription: opts.name, events, batches, position });
} finally {
  await client.end();
}
