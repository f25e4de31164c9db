// lib.js — what the Node.js examples share.
import { parseArgs } from 'node:util';
import pg from 'pg';

// bigint columns (offsets, positions, message ids) as numbers rather than
// strings: the examples' values stay far below Number.MAX_SAFE_INTEGER.
pg.types.setTypeParser(pg.types.builtins.INT8, Number);

// Run fn() between BEGIN and COMMIT on client; on an error, ROLLBACK and rethrow
// it.  err.connectionLost tells that the ROLLBACK failed too: the connection is
// gone, and the COMMIT may or may not have happened.
export async function transaction(client, fn) {
  try {
    await client.query('BEGIN');
    const result = await fn();
    await client.query('COMMIT');
    return result;
  } catch (err) {
    err.connectionLost = await client.query('ROLLBACK').then(() => false, () => true);
    throw err;
  }
}

// The command-line options --name value, given as {name: default}; a number
// when the default is one.
export function options(defaults) {
  const { values } = parseArgs({
    options: Object.fromEntries(Object.keys(defaults).map((name) => [name, { type: 'string' }])),
  });
  return Object.fromEntries(Object.entries(defaults).map(([name, fallback]) => {
    const value = values[name] ?? fallback;
    if (typeof fallback !== 'number') return [name, value];
    if (Number.isNaN(Number(value))) throw new Error(`--${name}: not a number: ${value}`);
    return [name, Number(value)];
  }));
}

// The JSON line each program ends with.
export const report = (summary) => console.log(JSON.stringify(summary));
