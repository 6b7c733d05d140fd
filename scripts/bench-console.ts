/**
 * The console on real volume (issue 13: profile p95 under 200 ms, search p95 under 300 ms on 1,000,000 records).
 *
 *   node bin/run-ts.js scripts/bench-console.ts [--rows N] [--requests K] [--keep]   (npm run bench runs it)
 *
 * Generates N records (default 1,000,000) into the typed tables of a PostgreSQL schema of their own, as
 * scripts/bench-report.ts does (penalties, licences, register rows of up to 500,000 subjects), with the register
 * of those subjects in `enterprises` and `enterprise_names` (every tenth with a former name). Then, through the
 * console's own routes (`inject`: no socket, the whole request — validation, queries, HTML), times K requests of
 * each: the enterprise page of a random subject, and a search by a fragment of a random subject's name. Prints
 * p50, p95 and max; exits 1 when a target is missed or an answer is wrong.
 *
 * Environment: GUIJI_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/guiji_bench, created when
 * missing); the schema `bench_console` is dropped and recreated (kept afterwards with --keep).
 */
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { tableOf } from '../catalog/columns.js';
import { loadCatalog } from '../catalog/load.js';
import { loadConfig, redactUrl } from '../lib/config.js';
import { openWarehouse } from '../lib/db.js';
import { createLogger } from '../lib/logger.js';
import { buildConsole } from '../pipelines/console/server.js';
import { prepareWarehouse } from '../pipelines/warehouse/prepare.js';
import { DEPARTMENTS, ensureDatabase, generateSql, quoteIdent, SHARES } from './bench-warehouse.js';

const ROOT = resolve(import.meta.dirname, '..');
const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/guiji_bench';
const SCHEMA = 'bench_console';
/** generateSql's subjects: record i belongs to subject i % 500,000. */
const SUBJECTS = 500_000;
const TARGETS = { profile: 200, search: 300 };

const usccOf = (k: number) => `91341282${String(k).padStart(9, '0')}X`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** A deterministic sequence of subjects (the same requests on every run of the bench). */
function* subjects(count: number, of: number): Generator<number> {
  let x = 12345;
  for (let i = 0; i < count; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    yield x % of;
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string' },
      requests: { type: 'string' },
      keep: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(
      'usage: node bin/run-ts.js scripts/bench-console.ts [--rows N (1000000)] [--requests K (300)] [--keep]',
    );
    return 0;
  }
  const rows = Number(values.rows ?? 1_000_000);
  const requests = Number(values.requests ?? 300);
  if (!Number.isInteger(rows) || rows < 1000)
    throw new Error(`--rows: a whole number ≥ 1000, got ${values.rows}`);
  if (!Number.isInteger(requests) || requests < 10)
    throw new Error(`--requests: ≥ 10, got ${values.requests}`);
  const url = process.env.GUIJI_BENCH_DATABASE_URL || DEFAULT_URL;
  await ensureDatabase(url);
  const catalog = loadCatalog(join(ROOT, 'catalog'), join(ROOT, 'schemas'));
  const db = await openWarehouse({
    home: join(tmpdir(), 'guiji-bench-console'),
    databaseUrl: url,
    schema: SCHEMA,
  });
  try {
    console.log(
      `bench-console: ${rows.toLocaleString('en-US')} records, PostgreSQL at ${redactUrl(url)}, schema ${SCHEMA}`,
    );
    let t = Date.now();
    await db.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await db.query(`CREATE SCHEMA ${SCHEMA}`);
    await prepareWarehouse(db, catalog);
    const [run] = await db.query<{ id: string }>(
      `INSERT INTO runs (kind, status, finished_at) VALUES ('backfill', 'succeeded', now()) RETURNING id`,
    );
    const runId = Number(run?.id);
    for (const share of SHARES) await db.query(generateSql(catalog, share), [runId, 1, rows, DEPARTMENTS]);
    const subjectCount = Math.min(rows, SUBJECTS);
    await db.query(
      `INSERT INTO enterprises (uscc, name, status, run_id)
       SELECT '91341282' || lpad(k::text, 9, '0') || 'X', '界首市' || k || '号商贸有限公司', '存续', $1
       FROM generate_series(0, $2::bigint - 1) AS k`,
      [runId, subjectCount],
    );
    await db.query(
      `INSERT INTO enterprise_names (uscc, name, name_norm, first_run_id)
       SELECT uscc, name, name_norm, run_id FROM enterprises
       UNION ALL
       SELECT uscc, n, guiji_name_norm(n), run_id
       FROM enterprises, LATERAL (SELECT replace(name, '商贸', '贸易') AS n) f WHERE right(uscc, 2) LIKE '0X'`,
    );
    for (const share of SHARES) await db.query(`ANALYZE ${quoteIdent(tableOf(share.resource))}`);
    await db.query('ANALYZE enterprises');
    await db.query('ANALYZE enterprise_names');
    console.log(
      `  data ready in ${((Date.now() - t) / 1000).toFixed(1)} s; now timed (${requests} requests each):`,
    );

    const app = await buildConsole({
      config: loadConfig({ env: {} }),
      db,
      catalog,
      logger: createLogger('silent'),
      token: null,
    });
    const problems: string[] = [];
    const time = async (
      label: string,
      name: keyof typeof TARGETS,
      urlOf: (k: number) => string,
      check: (body: string, k: number) => boolean,
    ) => {
      for (const k of subjects(20, subjectCount)) await app.inject({ url: urlOf(k) }); // warm-up
      const took: number[] = [];
      for (const k of subjects(requests, subjectCount)) {
        t = performance.now();
        const r = await app.inject({ url: urlOf(k) });
        took.push(performance.now() - t);
        if (r.statusCode !== 200 || !check(r.body, k)) problems.push(`${label} ${urlOf(k)}: ${r.statusCode}`);
      }
      took.sort((a, b) => a - b);
      const p95 = percentile(took, 95);
      const missed = p95 >= TARGETS[name];
      console.log(
        `  ${label.padEnd(14)} p50 ${percentile(took, 50).toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${(took.at(-1) ?? 0).toFixed(1)} ms` +
          ` (target p95 < ${TARGETS[name]} ms${missed ? ' — MISSED' : ''})`,
      );
      if (missed) problems.push(`${label}: p95 ${p95.toFixed(1)} ms`);
    };
    await time(
      'profile page',
      'profile',
      (k) => `/enterprises/${usccOf(k)}`,
      (body, k) => body.includes(usccOf(k)) && body.includes('data-resource='),
    );
    await time(
      'search by name',
      'search',
      (k) => `/enterprises?q=${encodeURIComponent(`${k}号商贸`)}`,
      (body, k) => body.includes(usccOf(k)),
    );
    await time(
      'search by code',
      'search',
      (k) => `/api/enterprises?q=${usccOf(k)}`,
      (body, k) => body.includes(usccOf(k)),
    );
    await app.close();
    for (const p of problems.slice(0, 10)) console.log(`  WRONG: ${p}`);
    return problems.length ? 1 : 0;
  } finally {
    if (!values.keep) await db.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await db.close();
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`bench-console: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
