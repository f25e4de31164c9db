// producer.js — appends ItemAdded events to a cart stream with optimistic
// concurrency and writes the application's own table in the same transaction.
//
//   node producer.js [--stream cart-1] [--writer node] [--count 5]
//
// Each event is appended with expected_version = the version this writer last
// saw.  When another writer got there first the append fails with SQLSTATE
// ES001; the producer re-reads the stream's version and retries after a
// jittered exponential backoff, a bounded number of times.  A connection lost
// mid-transaction is retried the same way on a new connection.
//
// Event ids are derived from the command (stream, writer, item number), not
// drawn at random: a retry after a lost COMMIT acknowledgement — or a rerun of
// the same command line — sends the same id, es.append_event answers
// duplicate = true with the original offset, and nothing is written twice.
//
// Connection: libpq environment variables (PGHOST, PGPORT, PGDATABASE, PGUSER).
// Output: one JSON line {program, stream, writer, appended, duplicates,
// conflicts, reconnects, version}.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { options, report, transaction } from './lib.js';

const WRONG_EXPECTED_VERSION = 'ES001'; // wrong expected version (docs/api.md, es.append)
const MAX_ATTEMPTS = 8;
// Namespace of the example's version-5 event ids (the Python producer uses the same).
const ID_NAMESPACE = '6f1c2b1e-2f0a-4d4e-9a57-3c1e8f0b7d21';

const opts = options({ stream: 'cart-1', writer: 'node', count: 5 });

// The RFC 4122 version-5 UUID of name (what Python's uuid.uuid5 returns).
function uuidV5(namespace, name) {
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replaceAll('-', ''), 'hex'))
    .update(name)
    .digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.toString('hex', 0, 16);
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join('-');
}

// Full-jitter exponential backoff: a random delay below 10 ms * 2^attempt, capped at 1 s.
const backoffMs = (attempt) => Math.random() * Math.min(1000, 10 * 2 ** attempt);

const pool = new pg.Pool({ max: 1 });
// A connection that breaks emits 'error' on its client (which the pool re-emits
// when the client is idle); unhandled, that would end the process.  The query in
// flight, if any, is rejected with the error too, and retried below.
pool.on('connect', (client) => client.on('error', (err) => console.error('connection lost:', err.message)));
pool.on('error', () => {}); // logged by the client's listener
const stats = { appended: 0, duplicates: 0, conflicts: 0, reconnects: 0 };

async function streamVersion(stream) {
  const { rows } = await pool.query('SELECT es.stream_version($1) AS v', [stream]);
  return rows[0].v;
}

// Append one event with expected_version, and the matching row of the
// application's table, in one transaction.  Returns the stream's new version.
async function addItem(stream, item, eventId, version) {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    try {
      const event = await transaction(client, async () => {
        const { rows: [appended] } = await client.query(
          `SELECT stream_offset, duplicate
             FROM es.append_event(stream => $1, event_type => 'ItemAdded', data => $2,
                                  expected_version => $3, event_id => $4)`,
          [stream, item, version, eventId]);
        if (!appended.duplicate) // a duplicate's row was written with it
          await client.query(
            'INSERT INTO cart_lines (cart, line, sku, qty, event_id) VALUES ($1, $2, $3, $4, $5)',
            [stream, appended.stream_offset, item.sku, item.qty, eventId]);
        return appended;
      });
      client.release();
      stats[event.duplicate ? 'duplicates' : 'appended']++;
      return event.duplicate ? version : event.stream_offset;
    } catch (err) {
      client.release(err.connectionLost ? err : undefined); // a broken connection is discarded
      if (err.code === WRONG_EXPECTED_VERSION) stats.conflicts++;
      else if (err.connectionLost) stats.reconnects++;
      else throw err;
      if (attempt === MAX_ATTEMPTS) throw err;
    }
    await sleep(backoffMs(attempt));
    version = await streamVersion(stream); // someone else appended: catch up
  }
}

try {
  await pool.query(`CREATE TABLE IF NOT EXISTS cart_lines (
      cart     text   NOT NULL,
      line     bigint NOT NULL,          -- the event's stream offset
      sku      text   NOT NULL,
      qty      int    NOT NULL,
      event_id uuid   NOT NULL UNIQUE,
      PRIMARY KEY (cart, line))`);
  let version = await streamVersion(opts.stream); // -1: no stream yet
  for (let i = 0; i < opts.count; i++) {
    const item = { sku: `sku-${i % 3}`, qty: 1 + (i % 4), writer: opts.writer };
    version = await addItem(opts.stream, item, uuidV5(ID_NAMESPACE, `${opts.stream}/${opts.writer}/${i}`), version);
  }
  report({ program: 'producer', stream: opts.stream, writer: opts.writer, ...stats, version });
} finally {
  await pool.end();
}
