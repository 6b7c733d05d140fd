import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgliteServer, type ServedAddress } from '../lib/pglite-server.js';

/** The server on a real (in-memory) PGlite, reached by real `pg` clients. */
describe('the embedded warehouse served over the wire protocol', () => {
  let dir: string;
  let pglite: PGlite;
  let server: PgliteServer;
  let address: ServedAddress;
  const clients: pg.Client[] = [];

  const connect = async () => {
    const client = new pg.Client({ ...address, user: 'postgres', database: 'postgres' });
    client.on('error', () => {
      // the test that kills a client's connection expects this
    });
    await client.connect();
    clients.push(client);
    return client;
  };

  const copyIn = (client: pg.Client, sql: string, text: string) =>
    new Promise<number>((resolve, reject) => {
      const stream = client.query(copyFrom(sql));
      stream.on('error', reject);
      stream.on('finish', () => resolve(stream.rowCount ?? 0));
      stream.end(text);
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'guiji-socket-'));
    pglite = await PGlite.create();
    await pglite.exec('CREATE TABLE t (a integer PRIMARY KEY, b text)');
    server = new PgliteServer(pglite);
    address = await server.listen(dir);
  });

  afterAll(async () => {
    for (const client of clients) await client.end().catch(() => {});
    await server.close();
    await pglite.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers the startup, plain and parameterised queries on a Unix socket', async () => {
    expect(address.host).toBe(dir);
    const client = await connect();
    const { rows } = await client.query<{ x: number; s: string }>('SELECT $1::int + 1 AS x, $2::text AS s', [
      41,
      '归集',
    ]);
    expect(rows).toEqual([{ x: 42, s: '归集' }]);
    const error = await client.query('SELECT 1/0').catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('22012');
    // the session is usable after an error
    expect((await client.query('SELECT 2 AS y')).rows).toEqual([{ y: 2 }]);
  });

  it("keeps another client out of one client's open transaction", async () => {
    const a = await connect();
    const b = await connect();
    await a.query('BEGIN');
    await a.query('INSERT INTO t VALUES (1, $1)', ['a']);
    let seen: number | null = null;
    const queued = once(server.events, 'queued');
    const reading = b.query<{ n: number }>('SELECT count(*)::int AS n FROM t').then((r) => {
      seen = r.rows[0]?.n ?? null;
    });
    // b's query has reached the server and waits in line: were it served now, it would run inside a's
    // transaction and see its row
    await queued;
    expect(seen).toBeNull();
    await a.query('INSERT INTO t VALUES (2, $1)', ['a']);
    await a.query('ROLLBACK');
    await reading;
    expect(seen).toBe(0);
  });

  it('runs COPY FROM STDIN in the client transaction, and reports a bad row with its SQLSTATE', async () => {
    const client = await connect();
    await client.query('BEGIN');
    expect(await copyIn(client, 'COPY t (a, b) FROM STDIN', '10\tx\n11\t\\N\n')).toBe(2);
    await client.query('COMMIT');
    const { rows } = await client.query('SELECT a, b FROM t WHERE a >= 10 ORDER BY a');
    expect(rows).toEqual([
      { a: 10, b: 'x' },
      { a: 11, b: null },
    ]);
    await client.query('BEGIN');
    const error = await copyIn(client, 'COPY t (a, b) FROM STDIN', 'twelve\ty\n').catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('22P02');
    // the failed transaction is still the client's to roll back
    const aborted = await client.query('SELECT 1').catch((e: unknown) => e);
    expect((aborted as { code?: string }).code).toBe('25P02');
    await client.query('ROLLBACK');
    expect((await client.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 2 }]);
  });

  it('rolls back what a client that vanished left open, and lets the next client in', async () => {
    const doomed = await connect();
    const other = await connect();
    await doomed.query('BEGIN');
    await doomed.query('INSERT INTO t VALUES (99, $1)', ['lost']);
    (doomed as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    const { rows } = await other.query<{ n: number }>('SELECT count(*)::int AS n FROM t WHERE a = 99');
    expect(rows).toEqual([{ n: 0 }]);
    expect(pglite.isInTransaction()).toBe(false);
  });

  it('lets in only a client that knows the password, when the server has one', async () => {
    const guarded = new PgliteServer(pglite, 'open-sesame');
    const guardedDir = mkdtempSync(join(tmpdir(), 'guiji-socket-pw-'));
    try {
      const where = await guarded.listen(guardedDir);
      const wrong = new pg.Client({ ...where, user: 'postgres', database: 'postgres', password: 'guess' });
      const refused = await wrong.connect().catch((e: unknown) => e);
      expect((refused as { code?: string }).code).toBe('28P01');
      const right = new pg.Client({
        ...where,
        user: 'postgres',
        database: 'postgres',
        password: 'open-sesame',
      });
      await right.connect();
      expect((await right.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await right.end();
    } finally {
      await guarded.close();
      rmSync(guardedDir, { recursive: true, force: true });
    }
  });
});
