// queue_worker.js — a work queue: enqueues email jobs, then works them off.
//
//   node queue_worker.js [--queue email-jobs] [--count 6] [--idle 2]
//
// Producer side: es.create_queue (at most 3 deliveries per message) and
// --count es.enqueue calls in one transaction (the jobs appear at its commit).
// Worker side: es.dequeue with a visibility timeout and `wait`, so the call
// blocks in the server until a message is deliverable (also one whose nack
// delay ends): no polling.  A job that succeeds is recorded in sent_emails and
// acked in the same transaction; one that fails is nacked with requeue and an
// exponential delay.  The jobs are simulated: a recipient without '@' always
// fails — after its third delivery the message is in the dead-letter queue —
// and every third job fails on its first delivery only.  The worker stops when
// nothing arrived for --idle seconds.
// Connection: libpq environment variables (PGHOST, PGPORT, PGDATABASE, PGUSER).
// Output: one JSON line {program, queue, enqueued, acked, nacked, dead_letters}.
import pg from 'pg';
import { options, report, transaction } from './lib.js';

const opts = options({ queue: 'email-jobs', count: 6, idle: 2 });
const consumer = `node-${process.pid}`;

const client = new pg.Client();
await client.connect();

// The job: "send" the email; throws like a mail server that refuses it.
function send(payload, deliveryCount) {
  if (!payload.to.includes('@')) throw new Error(`invalid recipient ${payload.to}`);
  if (payload.flaky && deliveryCount === 1) throw new Error('451 try again later');
}

// Nack delay after the n-th failed delivery: 100 ms * 2^(n-1).
const retryDelaySeconds = (deliveryCount) => 0.1 * 2 ** (deliveryCount - 1);

try {
  await client.query(`CREATE TABLE IF NOT EXISTS sent_emails (
      message_id bigint PRIMARY KEY,
      recipient  text NOT NULL,
      sent_at    timestamptz NOT NULL DEFAULT now())`);
  await client.query(
    `SELECT es.create_queue(queue => $1, visibility_timeout => '30 seconds',
                            max_deliveries => 3, if_not_exists => true)`, [opts.queue]);

  // Producer side.
  await transaction(client, async () => {
    for (let i = 0; i < opts.count; i++) {
      const payload = i === opts.count - 1
        ? { to: 'nobody' } // the poison message
        : { to: `user${i}@example.com`, flaky: i % 3 === 1 };
      await client.query('SELECT es.enqueue(queue => $1, payload => $2)', [opts.queue, payload]);
    }
  });

  // Worker side.
  let acked = 0, nacked = 0;
  for (;;) {
    // A statement of its own, outside a transaction: while it waits it holds no
    // snapshot back from VACUUM (docs/api.md, es.dequeue).
    const { rows: messages } = await client.query(
      `SELECT message_id, receipt, payload, delivery_count
         FROM es.dequeue(queue => $1, consumer => $2, visibility_timeout => '30 seconds',
                         max_messages => 10, wait => make_interval(secs => $3))`,
      [opts.queue, consumer, opts.idle]);
    if (messages.length === 0) break; // idle for --idle seconds
    for (const m of messages) {
      try {
        await transaction(client, async () => {
          send(m.payload, m.delivery_count);
          await client.query('INSERT INTO sent_emails (message_id, recipient) VALUES ($1, $2)',
            [m.message_id, m.payload.to]);
          const { rows: [{ ack }] } = await client.query(
            'SELECT es.ack($1, $2, $3) AS ack', [opts.queue, m.message_id, m.receipt]);
          // false: the lease ran out and another consumer has the message now.
          if (!ack) throw new Error(`lost the lease of message ${m.message_id}`);
        });
        acked++;
      } catch (err) {
        // On the last allowed delivery the nack moves the message to the dead-letter queue.
        await client.query(
          `SELECT es.nack(queue => $1, message_id => $2, receipt => $3, requeue => true,
                          delay => make_interval(secs => $4), error => $5)`,
          [opts.queue, m.message_id, m.receipt, retryDelaySeconds(m.delivery_count), err.message]);
        nacked++;
      }
    }
  }

  const { rows: deadLetters } = await client.query(
    `SELECT message_id, reason, delivery_count, last_error, payload
       FROM es.dead_letters WHERE queue = $1 ORDER BY message_id`, [opts.queue]);
  report({ program: 'queue_worker', queue: opts.queue, enqueued: opts.count, acked, nacked,
    dead_letters: deadLetters });
} finally {
  await client.end();
}
