import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Warehouse } from '../lib/db.js';
import { sqlState } from '../lib/errors.js';
import { makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

/**
 * A COPY the server refuses part-way (a key already stored) while the client still has megabytes to send: the
 * loader's optimistic COPY does exactly this, then goes on with the same connection. Nothing of the refused
 * COPY may be left behind to fire later (pg-copy-streams flushed queued chunks into a connection it had
 * already let go of: an uncaught TypeError).
 */
describe(`a refused COPY (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;

  beforeAll(async () => {
    env = await makeEnv('copyrefused');
    db = await env.open();
    await db.query('CREATE TABLE copy_refused (k integer PRIMARY KEY, v text)');
    await db.query(`INSERT INTO copy_refused VALUES (1, 'stored')`);
  });
  afterAll(async () => {
    await db.close();
    await env.cleanup();
  });

  it('fails with the key violation, and the connection goes on working', async () => {
    const filler = 'x'.repeat(1000);
    const chunks: Buffer[] = [];
    let k = 1; // the first row is the stored key
    for (let c = 0; c < 400; c++) {
      let text = '';
      for (let r = 0; r < 60; r++) text += `${k++}\t${filler}\n`;
      chunks.push(Buffer.from(text));
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const error = await db
        .transaction((tx) => tx.copyText('copy_refused', ['k', 'v'], chunks))
        .catch((e: unknown) => e);
      expect(sqlState(error)).toBe('23505');
      // more traffic on the pooled connection: a leftover flush would fire now
      for (let i = 0; i < 20; i++) {
        const rows = await db.query<{ n: string }>('SELECT count(*) AS n FROM copy_refused');
        expect(Number(rows[0]?.n)).toBe(1);
      }
    }
  });
});
