/**
 * The backfill part of `npm run bench`: throughput of one backfill of N records (default 200,000; `--quick`
 * 20,000) from the credit-platform simulator (records updated 2014-10-01 .. 2020-06-28, three datasets,
 * partitions by month) loaded by 1, 2 and 3 `guiji worker` processes against one PostgreSQL, each count into a
 * fresh schema. Every scenario must end with every partition done once and the ledger balanced.
 *
 *   node bin/run-ts.js scripts/bench-backfill.ts [--rows N] [--quick] [--workers 1,2,3]
 *
 * Environment: GUIJI_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/guiji_bench; created when
 * missing), GUIJI_BENCH_BACKFILL_SCHEMA (default `bench_backfill`; dropped and recreated per scenario).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { redactUrl } from '../lib/config.js';
import {
  DEFAULT_CREDIT_APP_KEY,
  DEFAULT_CREDIT_APP_SECRET,
  startCreditSimulator,
} from '../pipelines/simulate/credit-platform.js';
import { createStore } from '../pipelines/simulate/store.js';

const ROOT = resolve(import.meta.dirname, '..');
const GUIJI = join(ROOT, 'bin/guiji.js');

function psql(url: string, sql: string): string {
  const r = spawnSync('psql', [url, '-qAtX', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql (${redactUrl(url)}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

function ensureDatabase(url: string): void {
  const parsed = new URL(url);
  const name = parsed.pathname.slice(1);
  if (!/^[a-z_][a-z0-9_]*$/.test(name))
    throw new Error(`bench database name must be a plain identifier: ${name}`);
  parsed.pathname = '/postgres';
  const admin = parsed.toString();
  if (psql(admin, `SELECT 1 FROM pg_database WHERE datname = '${name}'`) !== '1') {
    psql(admin, `CREATE DATABASE ${name}`);
  }
}

function guiji(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(
      process.execPath,
      ['--max-old-space-size=300', '--initial-old-space-size=128', GUIJI, ...args],
      {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

interface Measurement {
  workers: number;
  seconds: number;
  loading: number;
  read: number;
  partitions: number;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { rows: { type: 'string' }, quick: { type: 'boolean' }, workers: { type: 'string' } },
    strict: false,
  });
  const rows = values.quick ? 20_000 : Number(values.rows ?? 200_000);
  const counts = String(values.workers ?? '1,2,3')
    .split(',')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
  const url = process.env.GUIJI_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/guiji_bench';
  const schema = process.env.GUIJI_BENCH_BACKFILL_SCHEMA ?? 'bench_backfill';
  if (!/^[a-z_][a-z0-9_]*$/.test(schema))
    throw new Error(`GUIJI_BENCH_BACKFILL_SCHEMA: not an identifier: ${schema}`);
  ensureDatabase(url);

  const store = createStore({
    records: rows,
    seed: 17,
    fromMs: Date.parse('2014-10-01T00:00:00+08:00'),
    toMs: Date.parse('2020-06-28T23:59:59+08:00'),
    keepRendered: true,
  });
  store.prerender(); // before the clock: the platform is not on this machine's cores
  const sim = await startCreditSimulator({ store, maxPageSize: 1000 });
  const home = mkdtempSync(join(tmpdir(), 'guiji-bench-backfill-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GUIJI_HOME: home,
    GUIJI_DATABASE_URL: url,
    GUIJI_DB_SCHEMA: schema,
    GUIJI_LOG_LEVEL: 'warn',
    GUIJI_CREDIT_URL: sim.url,
    GUIJI_CREDIT_APP_KEY: DEFAULT_CREDIT_APP_KEY,
    GUIJI_CREDIT_APP_SECRET: DEFAULT_CREDIT_APP_SECRET,
    GUIJI_CREDIT_DATASETS: 'xzxk,xzcf,lhcj',
    // the simulator is on this machine: pages as large as it serves, no politeness limit
    GUIJI_CREDIT_PAGE_SIZE: '1000',
    GUIJI_CREDIT_REQUESTS_PER_SECOND: '1000',
  };
  const measured: Measurement[] = [];
  const failures: string[] = [];
  try {
    for (const workers of counts) {
      psql(url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      const enqueue = await guiji(
        [
          'backfill',
          '--source',
          'credit-platform',
          '--from',
          '2014-10-01',
          '--to',
          '2020-06-28',
          '--by',
          'month',
          '--enqueue',
          '--json',
        ],
        env,
      );
      if (enqueue.code !== 0)
        throw new Error(`backfill --enqueue exited ${enqueue.code}: ${enqueue.stderr.slice(-1000)}`);
      const started = process.hrtime.bigint();
      const results = await Promise.all(
        Array.from({ length: workers }, () => guiji(['worker', '--exit-when-idle', '--json'], env)),
      );
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      for (const r of results)
        if (r.code !== 0)
          failures.push(`${workers} workers: a worker exited ${r.code}: ${r.stderr.slice(-500)}`);
      // the loading alone, first claim to last partition done (without the workers' start-up)
      const loading = Number(
        psql(
          url,
          `SELECT extract(epoch FROM max(finished_at) - min(started_at)) FROM ${schema}.backfill_attempts`,
        ),
      );
      const [read, partitions, notDone, unbalanced] = psql(
        url,
        `SET search_path TO ${schema};
         SELECT (SELECT coalesce(sum(read), 0) FROM source_runs) || '|' || (SELECT count(*) FROM backfill_partitions)
           || '|' || (SELECT count(*) FROM backfill_partitions WHERE state <> 'done' OR completions <> 1)
           || '|' || (SELECT count(*) FROM source_runs WHERE read <> inserted + updated + unchanged + quarantined + duplicates)`,
      )
        .split('|')
        .map(Number);
      if (notDone) failures.push(`${workers} workers: ${notDone} partitions not done exactly once`);
      if (unbalanced) failures.push(`${workers} workers: ${unbalanced} ledger lines do not balance`);
      if (read !== rows) failures.push(`${workers} workers: read ${read} of ${rows} records`);
      measured.push({ workers, seconds, loading, read: read ?? 0, partitions: partitions ?? 0 });
      console.log(
        `  ${workers} worker(s): ${read?.toLocaleString('en-US')} records in ${seconds.toFixed(1)} s: ` +
          `${Math.round((read ?? 0) / seconds).toLocaleString('en-US')} records/s`,
      );
    }
  } finally {
    await sim.close();
    rmSync(home, { recursive: true, force: true });
  }
  const base = measured[0];
  console.log(
    `\nbackfill (credit-platform simulator → PostgreSQL, ${rows.toLocaleString('en-US')} records, ${base?.partitions ?? 0} partitions by month):`,
  );
  console.log('  workers   wall s   records/s   × 1 worker   loading s   records/s   × 1 worker');
  const rate = (m: Measurement, s: number) => m.read / s;
  for (const m of measured) {
    const wall = rate(m, m.seconds);
    const load = rate(m, m.loading);
    console.log(
      `  ${String(m.workers).padStart(7)}   ${m.seconds.toFixed(1).padStart(6)}   ${Math.round(wall).toLocaleString('en-US').padStart(9)}   ` +
        `${(base ? wall / rate(base, base.seconds) : 1).toFixed(2).padStart(10)}   ${m.loading.toFixed(1).padStart(9)}   ` +
        `${Math.round(load).toLocaleString('en-US').padStart(9)}   ${(base ? load / rate(base, base.loading) : 1).toFixed(2).padStart(10)}`,
    );
  }
  console.log(
    '  (wall: from starting the workers to the last one exiting; loading: first claim to last partition done)',
  );
  psql(url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  if (failures.length) {
    console.log(`\n${failures.length} failure(s):`);
    for (const f of failures) console.log(`  ${f}`);
    return 1;
  }
  return 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`bench-backfill: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
