import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import knexFactory, { type Knex } from 'knex';
import type pg from 'pg';
import { from as copyFromStream } from 'pg-copy-streams';
import { redactUrl } from './config.js';
import { GuijiError, LockedError } from './errors.js';
import { describeHolder, lockHolder, tryLock } from './lock-file.js';
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
   * A holder of the embedded warehouse that works on it for a while (`run`, `backfill`, `worker`, `schedule`,
   * `demo`): serve it on a local socket so that the other commands connect to it instead of finding it locked.
   */
  serve?: boolean;
  /** Where knex's warnings go (stderr through pino); without one they are dropped, never printed on stdout. */
  logger?: Logger;
  /** Told when the embedded warehouse is held by a process that does not serve it (yet): this one waits. */
  onWait?: (message: string) => void;
}

/** How long a command waits for the holder of the embedded warehouse to serve it or to let it go. */
const HOLDER_WAIT_MS = 60_000;
const HOLDER_POLL_MS = 100;

/**
 * Opens the warehouse the configuration names: PostgreSQL when a URL is set, else PGlite under `home` — or,
 * when another guiji process holds that PGlite and serves it, a connection to its socket. A holder that does
 * not serve (a short command such as `status`, or a holder still opening the warehouse) is waited for, up to a
 * minute. The PGlite directory is opened only under its lock: never behind a live holder's back.
 */
export async function openWarehouse(options: OpenOptions): Promise<Warehouse> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options.schema, options.logger);
  const home = options.home;
  // created private; an existing GUIJI_HOME keeps the mode its owner gave it (what it holds is private itself)
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const servedPath = join(home, SERVED_FILE);
  const lockPath = join(home, WAREHOUSE_LOCK);
  const until = Date.now() + HOLDER_WAIT_MS;
  let toldAbout: string | null = null;
  for (;;) {
    const attempt = tryLock(lockPath);
    if ('release' in attempt) {
      // left by a holder that died; a holder about to serve says so at once, so that nobody takes it for one
      // that does not while it opens the warehouse
      rmSync(servedPath, { force: true });
      if (options.serve) writeServed(servedPath, { pid: process.pid, starting: true });
      return options.serve
        ? servePglite(join(home, 'warehouse'), options.schema, home, attempt.release, options.logger)
        : openPglite(join(home, 'warehouse'), options.schema, attempt.release, options.logger);
    }
    const holder = attempt.holder;
    const served = readServed(home, holder.pid);
    if (served) {
      try {
        return await openServed(served, options.schema, home, options.logger);
      } catch (error) {
        // the holder stopped serving between our look and our call: look again
        if (lockHolder(lockPath)?.nonce === holder.nonce || Date.now() > until) throw error;
        continue;
      }
    }
    if (Date.now() > until) {
      throw new LockedError(
        `the embedded warehouse is in use by ${describeHolder(holder)}, which does not serve it; wait for it to finish`,
      );
    }
    if (toldAbout !== holder.nonce) {
      toldAbout = holder.nonce;
      options.onWait?.(`the embedded warehouse is held by ${describeHolder(holder)}: waiting for it`);
    }
    await new Promise((resolve) => setTimeout(resolve, HOLDER_POLL_MS));
  }
}

const WAREHOUSE_LOCK = 'warehouse.lock';

/**
 * In GUIJI_HOME while a process serves the embedded warehouse: `{ pid, host, port, password }` (mode 0600: the
 * password, made anew by each holder, keeps out local users who cannot read GUIJI_HOME).
 */
const SERVED_FILE = 'warehouse.served.json';

interface Served extends ServedAddress {
  pid: number;
  password: string;
}

/** Where `holder` serves the warehouse; null while it opens it, when it does not serve, or is gone. */
function readServed(home: string, holder: number): Served | null {
  try {
    const served = JSON.parse(readFileSync(join(home, SERVED_FILE), 'utf8')) as Served & {
      starting?: boolean;
    };
    if (served.pid !== holder || served.starting) return null;
    if (typeof served.host !== 'string' || typeof served.port !== 'number') return null;
    if (typeof served.password !== 'string') return null;
    return served;
  } catch {
    // no served file (the holder does not serve), or one being replaced
    return null;
  }
}

/** Written whole or not at all (a reader never sees half of it), readable by the owner only. */
function writeServed(path: string, content: object): void {
  const written = `${path}.${process.pid}`;
  writeFileSync(written, JSON.stringify(content), { mode: 0o600 });
  renameSync(written, path);
}

/**
 * PGlite's own start parameters, with PostgreSQL's shared buffers at 16 MB instead of 128 MB: inside
 * WebAssembly they are part of the process's memory (its linear memory grew from 128 to 189 MB with them) and
 * the operating system caches the data files anyway. Measured on a 50,000-row drop (scripts/bench-embedded.ts):
 * peak RSS about 135 MB lower, the same speed.
 */
function pgliteStartParams(pglite: { defaultStartParams?: string[] }): string[] {
  return [...(pglite.defaultStartParams ?? []), '-c', 'shared_buffers=16MB'];
}

/**
 * A new PGlite directory is made in a short-lived process of its own: PGlite's initdb holds about 760 MB while
 * it runs (a second WebAssembly instance, the cluster it unpacks) and a process's memory does not shrink back,
 * so done here it would stay this process's peak for the whole run — twice the 400 MB the pipeline keeps to.
 */
async function initPglite(dataDir: string): Promise<void> {
  if (existsSync(join(dataDir, 'PG_VERSION'))) return;
  const module = import.meta.resolve('@electric-sql/pglite');
  const script = `const { PGlite } = await import(${JSON.stringify(module)});
const pglite = await PGlite.create(process.argv[1], { startParams: [...(PGlite.defaultStartParams ?? []), '-c', 'shared_buffers=16MB'] });
await pglite.close();`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, dataDir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) {
    throw new Error(
      `creating the embedded warehouse failed (exit ${code}): ${stderr.trim().split('\n').pop() ?? ''}`,
    );
  }
}

/** The PGlite directory: the owner's only, whatever it was. */
function makePrivateDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chmodSync(path, 0o700);
}

/**
 * PGlite writes the files of a new data directory world-writable (0666: its initial cluster is unpacked with
 * the archive's modes, whatever the umask) and a few later ones 0644: every file 0600, every folder 0700.
 */
function makePrivateTree(path: string): void {
  for (const entry of readdirSync(path, { withFileTypes: true, recursive: true })) {
    const full = join(entry.parentPath, entry.name);
    try {
      if (entry.isDirectory()) chmodSync(full, 0o700);
      else if (entry.isFile()) chmodSync(full, 0o600);
    } catch (error) {
      // removed since it was listed (PostgreSQL's temporary files)
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
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
  makePrivateDir(dataDir);
  let pglite: PGlite;
  try {
    // loaded only for the embedded warehouse: PostgreSQL users never pay its start-up
    await initPglite(dataDir);
    const { PGlite } = await import('@electric-sql/pglite');
    pglite = await PGlite.create(dataDir, { startParams: pgliteStartParams(PGlite) });
    makePrivateTree(dataDir);
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
        makePrivateTree(dataDir);
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
  makePrivateDir(dataDir);
  const servedPath = join(home, SERVED_FILE);
  let pglite: PGlite | null = null;
  let server: PgliteServer | null = null;
  try {
    await initPglite(dataDir);
    const { PGlite } = await import('@electric-sql/pglite');
    pglite = await PGlite.create(dataDir, { startParams: pgliteStartParams(PGlite) });
    makePrivateTree(dataDir);
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
          makePrivateTree(dataDir);
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

/** A run lock of a served warehouse as a lock file in GUIJI_HOME; null when a live process holds it. */
function tryLockFile(path: string): (() => Promise<void>) | null {
  const attempt = tryLock(path);
  if (!('release' in attempt)) return null;
  const release = attempt.release;
  return async () => release();
}
