import { randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import knexFactory, { type Knex } from 'knex';
import type pg from 'pg';
import { from as copyFromStream } from 'pg-copy-streams';
import { redactUrl } from './config.js';
import { GuijiError, LockedError } from './errors.js';
import { knexLog, type Logger } from './logger.js';
import { PgliteServer, type ServedAddress } from './pglite-server.js';

/** One statement's answer, the same shape from pg and PGlite. */
export interface SqlResult<T> {
  rows: T[];
  rowCount: number;
}

/** A connection inside one transaction: plain SQL with parameters, and COPY for bulk rows. */
export interface SqlTx {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<SqlResult<T>>;
  /** COPY rows in PostgreSQL text format (already escaped, tab-separated, newline-ended) into `table`. */
  copyText(table: string, columns: readonly string[], chunks: readonly Buffer[]): Promise<void>;
}

export interface Warehouse {
  readonly kind: 'pglite' | 'postgres';
  readonly schema: string;
  /** For migrations and readers; loads go through `transaction`. */
  readonly knex: Knex;
  transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T>;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /**
   * Takes the "one run at a time" lock: a session advisory lock on PostgreSQL (held on a connection of its
   * own until released), the warehouse lock file for PGlite (taken when the warehouse was opened).
   */
  tryRunLock(name: string): Promise<(() => Promise<void>) | null>;
  close(): Promise<void>;
}

export interface OpenOptions {
  home: string;
  databaseUrl: string | null;
  schema: string;
  /**
   * A long-lived holder of the embedded warehouse (`guiji schedule`, `guiji worker`): serve it on a local
   * socket so that the other commands connect to it instead of finding it locked.
   */
  serve?: boolean;
  /** Where knex's warnings go (stderr through pino); without one they are dropped, never printed on stdout. */
  logger?: Logger;
}

/**
 * Opens the warehouse the configuration names: PostgreSQL when a URL is set, else PGlite under `home` — or,
 * when a live `guiji schedule` (or worker) holds that PGlite and serves it, a connection to its socket.
 */
export async function openWarehouse(options: OpenOptions): Promise<Warehouse> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options.schema, options.logger);
  const home = options.home;
  mkdirSync(home, { recursive: true });
  const servedPath = join(home, SERVED_FILE);
  let releaseFile: () => void;
  try {
    releaseFile = acquireLockFile(join(home, 'warehouse.lock'));
  } catch (error) {
    const served = error instanceof LockedError ? await waitForServed(home) : null;
    if (!served) throw error;
    return openServed(served, options.schema, home, options.logger);
  }
  // left by a holder that died; a holder about to serve says so at once, so that nobody takes it for one that
  // does not (and exits 3) while it opens the warehouse
  rmSync(servedPath, { force: true });
  if (options.serve) writeServed(servedPath, { pid: process.pid, starting: true });
  return options.serve
    ? servePglite(join(home, 'warehouse'), options.schema, home, releaseFile, options.logger)
    : openPglite(join(home, 'warehouse'), options.schema, releaseFile, options.logger);
}

/**
 * In GUIJI_HOME while a process serves the embedded warehouse: `{ pid, host, port, password }` (mode 0600: the
 * password, made anew by each holder, keeps out local users who cannot read GUIJI_HOME).
 */
const SERVED_FILE = 'warehouse.served.json';

interface Served extends ServedAddress {
  pid: number;
  password: string;
}

/** How long a command waits for a holder that is opening the warehouse to serve it. */
const SERVE_WAIT_MS = 60_000;

/**
 * Where the holder of the warehouse lock serves it, once it does; null when it does not serve (a manual run
 * holds the warehouse) or is gone.
 */
async function waitForServed(home: string): Promise<Served | null> {
  const until = Date.now() + SERVE_WAIT_MS;
  for (;;) {
    const served = readServed(home);
    if (served !== 'starting') return served;
    if (Date.now() > until) return null;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function readServed(home: string): Served | 'starting' | null {
  try {
    const served = JSON.parse(readFileSync(join(home, SERVED_FILE), 'utf8')) as Served & {
      starting?: boolean;
    };
    const holder = Number(readFileSync(join(home, 'warehouse.lock'), 'utf8').trim());
    if (served.pid !== holder || !isAlive(served.pid)) return null;
    if (served.starting) return 'starting';
    if (typeof served.host !== 'string' || typeof served.port !== 'number') return null;
    if (typeof served.password !== 'string') return null;
    return served;
  } catch {
    // no served file (the holder does not serve), or one being replaced: the lock error stands
    return null;
  }
}

/** Written whole or not at all (a reader never sees half of it), readable by the owner only. */
function writeServed(path: string, content: object): void {
  const written = `${path}.${process.pid}`;
  writeFileSync(written, JSON.stringify(content), { mode: 0o600 });
  renameSync(written, path);
}

function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name))
    throw new GuijiError('GUIJI_ERR_DB', `not a safe identifier: ${name}`);
  return `"${name}"`;
}

function openPostgres(url: string, schema: string, logger?: Logger): Promise<Warehouse> {
  return connectPostgres(url, schema, {
    describe: `PostgreSQL at ${redactUrl(url)}`,
    setting: 'GUIJI_DATABASE_URL',
    lockFiles: null,
    logger,
  });
}

/** The embedded warehouse served by another process (or by this one, for its own use). */
function openServed(
  served: ServedAddress & { pid?: number; password: string },
  schema: string,
  home: string,
  logger?: Logger,
): Promise<Warehouse> {
  return connectPostgres(
    {
      host: served.host,
      port: served.port,
      user: 'postgres',
      database: 'postgres',
      password: served.password,
    },
    schema,
    {
      describe: `the embedded warehouse served${served.pid ? ` by pid ${served.pid}` : ''} on ${served.host}`,
      setting: 'GUIJI_HOME',
      lockFiles: home,
      logger,
    },
  );
}

async function connectPostgres(
  connection: string | { host: string; port: number; user: string; database: string; password: string },
  schema: string,
  options: {
    describe: string;
    setting: string;
    /**
     * A served PGlite is one session shared by every client, where advisory locks exclude nobody: its run
     * locks are lock files in this folder instead. Null on a PostgreSQL server.
     */
    lockFiles: string | null;
    logger: Logger | undefined;
  },
): Promise<Warehouse> {
  const knex = knexFactory({
    client: 'pg',
    connection,
    searchPath: [schema],
    pool: { min: 0, max: 4 },
    log: knexLog(options.logger),
  });
  try {
    await knex.raw(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  } catch (error) {
    await knex.destroy();
    throw new GuijiError('GUIJI_ERR_DB', `cannot reach ${options.describe}: ${(error as Error).message}`, {
      cause: error,
      context: { setting: options.setting },
    });
  }
  const lockFiles = options.lockFiles;

  const withConnection = async <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = (await knex.client.acquireConnection()) as pg.Client;
    try {
      return await fn(client);
    } finally {
      await knex.client.releaseConnection(client);
    }
  };

  return {
    kind: 'postgres',
    schema,
    knex,
    transaction: (fn) =>
      withConnection(async (client) => {
        const tx: SqlTx = {
          async query<T>(sql: string, params?: unknown[]) {
            const result = await client.query(sql, params as unknown[]);
            return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
          },
          async copyText(table, columns, chunks) {
            const stream = client.query(
              copyFromStream(`COPY ${quoteIdent(table)} (${columns.map(quoteIdent).join(', ')}) FROM STDIN`),
            );
            // One chunk at a time, the next after the last was handed to the socket. Written all at once, the
            // chunks queue inside pg-copy-streams, which flushes them on the socket's next 'drain' even after
            // the server refused the COPY and the stream let go of the connection: an uncaught TypeError
            // (brianc/node-pg-copy-streams#171) — and the loader goes on with that connection after a refusal.
            await new Promise<void>((resolve, reject) => {
              let failed = false;
              const fail = (error: unknown) => {
                if (failed) return;
                failed = true;
                reject(error);
              };
              stream.on('error', fail);
              stream.on('finish', () => resolve());
              const next = (i: number): void => {
                if (failed) return;
                if (i === chunks.length) {
                  stream.end();
                  return;
                }
                stream.write(chunks[i], (error) => (error ? fail(error) : next(i + 1)));
              };
              next(0);
            });
          },
        };
        await client.query('BEGIN');
        try {
          const result = await fn(tx);
          await client.query('COMMIT');
          return result;
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {
            // the connection may be gone; the original error is the one worth reporting
          });
          throw error;
        }
      }),
    query: <T>(sql: string, params?: unknown[]) =>
      withConnection(async (client) => (await client.query(sql, params as unknown[])).rows as T[]),
    async tryRunLock(name) {
      if (lockFiles !== null) return tryLockFile(join(lockFiles, `${name}.lock`));
      const client = (await knex.client.acquireConnection()) as pg.Client;
      const key = `guiji:${schema}:${name}`;
      const { rows } = await client.query<{ ok: boolean }>(
        'SELECT pg_try_advisory_lock(hashtext($1)) AS ok',
        [key],
      );
      if (!rows[0]?.ok) {
        await knex.client.releaseConnection(client);
        return null;
      }
      return async () => {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [key]);
        await knex.client.releaseConnection(client);
      };
    },
    close: () => knex.destroy(),
  };
}

async function openPglite(
  dataDir: string,
  schema: string,
  releaseFile: () => void,
  logger?: Logger,
): Promise<Warehouse> {
  mkdirSync(dataDir, { recursive: true });
  let pglite: PGlite;
  try {
    // loaded only for the embedded warehouse: PostgreSQL users never pay its start-up
    const { PGlite } = await import('@electric-sql/pglite');
    pglite = await PGlite.create(dataDir);
    await pglite.exec(
      `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}; SET search_path TO ${quoteIdent(schema)}`,
    );
  } catch (error) {
    releaseFile();
    throw new GuijiError(
      'GUIJI_ERR_DB',
      `cannot open the embedded warehouse in ${dataDir}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const { default: ClientPgLite } = await import('knex-pglite');
  const knex = knexFactory({
    client: ClientPgLite as unknown as typeof knexFactory.Client,
    connection: { pglite } as never,
    log: knexLog(logger),
  });
  let closed = false;
  return {
    kind: 'pglite',
    schema,
    knex,
    transaction: (fn) =>
      pglite.transaction(async (t) => {
        const tx: SqlTx = {
          async query<T>(sql: string, params?: unknown[]) {
            const result = await t.query<T>(sql, params as unknown[]);
            return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
          },
          async copyText(table, columns, chunks) {
            await t.query(
              `COPY ${quoteIdent(table)} (${columns.map(quoteIdent).join(', ')}) FROM '/dev/blob'`,
              [],
              { blob: new Blob(chunks as Buffer[]) },
            );
          },
        };
        return fn(tx);
      }),
    async query<T>(sql: string, params?: unknown[]) {
      const result = await pglite.query<T>(sql, params as unknown[]);
      return result.rows;
    },
    // The lock file taken at open already makes this process the warehouse's only user.
    tryRunLock: async () => async () => {},
    async close() {
      if (closed) return;
      closed = true;
      try {
        await knex.destroy();
        if (!pglite.closed) await pglite.close();
      } finally {
        releaseFile();
      }
    },
  };
}

/**
 * The embedded warehouse held by a long-lived process and served on a socket in `home` (its address in
 * warehouse.served.json). This process reaches it through the socket too, so that its own transactions take
 * turns with the other clients' instead of interleaving with them.
 */
async function servePglite(
  dataDir: string,
  schema: string,
  home: string,
  releaseFile: () => void,
  logger?: Logger,
): Promise<Warehouse> {
  mkdirSync(dataDir, { recursive: true });
  const servedPath = join(home, SERVED_FILE);
  let pglite: PGlite | null = null;
  let server: PgliteServer | null = null;
  try {
    const { PGlite } = await import('@electric-sql/pglite');
    pglite = await PGlite.create(dataDir);
    const password = randomBytes(24).toString('base64url');
    server = new PgliteServer(pglite, password);
    const address = await server.listen(home);
    const db = await openServed({ ...address, password }, schema, home, logger);
    writeServed(servedPath, { pid: process.pid, ...address, password });
    const [held, listening] = [pglite, server];
    let closed = false;
    return {
      ...db,
      async close() {
        if (closed) return;
        closed = true;
        try {
          await db.close();
        } finally {
          rmSync(servedPath, { force: true });
          await listening.close();
          if (!held.closed) await held.close();
          releaseFile();
        }
      },
    };
  } catch (error) {
    rmSync(servedPath, { force: true });
    await server?.close().catch(() => {
      // the error that stopped the start is the one worth reporting
    });
    if (pglite && !pglite.closed) await pglite.close().catch(() => {});
    releaseFile();
    if (error instanceof GuijiError) throw error;
    throw new GuijiError(
      'GUIJI_ERR_DB',
      `cannot serve the embedded warehouse in ${dataDir}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Lock files this process holds (a lock file naming our pid that is not here was left by an earlier process). */
const heldLockFiles = new Set<string>();

/**
 * A run lock as a lock file holding the owner's pid: taken unless a live process holds it; one left by a process
 * that no longer exists is taken over. Null when it is held.
 */
function tryLockFile(path: string): (() => Promise<void>) | null {
  if (heldLockFiles.has(path)) return null;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      heldLockFiles.add(path);
      return async () => {
        heldLockFiles.delete(path);
        rmSync(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let pid = 0;
      try {
        pid = Number(readFileSync(path, 'utf8').trim());
      } catch {
        // removed meanwhile: try again
        continue;
      }
      if (pid && pid !== process.pid && isAlive(pid)) return null;
      rmSync(path, { force: true });
    }
  }
  return null;
}

/**
 * A PGlite data directory belongs to one process at a time (two writers lose rows): a lock file holding the
 * owner's pid guards it; a lock left by a process that no longer exists is taken over.
 */
export function acquireLockFile(path: string): () => void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (pid && pid !== process.pid && isAlive(pid)) {
        throw new LockedError(
          `the embedded warehouse is in use by another guiji process (pid ${pid}, lock ${path}); wait for it to finish`,
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new LockedError(`could not take the warehouse lock ${path}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
