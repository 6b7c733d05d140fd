/**
 * The quality report over a large run (issue 5: 5,000,000 records in under 60 s).
 *
 *   node bin/run-ts.js scripts/bench-report.ts [--rows N] [--keep]      (npm run bench runs it last)
 *
 * Generates N records of one run straight into a PostgreSQL schema of their own (`INSERT … SELECT
 * generate_series` into the typed tables of warehouse v2: penalties, licences and register rows from eight
 * departments, subject, department and date in their fields (a penalty's usual fields too), produced and
 * received dates 0–29 days apart, 5% unmatched, a few out-of-region and name flags) plus 2% as many quarantined
 * rows, then times what the nightly run does after loading: the metrics of the run, and the report in all
 * three formats. Prints the times and the peak RSS; exits 1 when the 60 s target is missed or a figure is wrong.
 *
 * Environment: GUIJI_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/guiji_bench, created when
 * missing); the schema `bench_report` is dropped and recreated (kept afterwards with --keep).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { tableOf } from '../catalog/columns.js';
import { loadCatalog } from '../catalog/load.js';
import { redactUrl } from '../lib/config.js';
import { openWarehouse } from '../lib/db.js';
import { computeQualityMetrics } from '../pipelines/quality/metrics.js';
import { writeReports } from '../pipelines/report/index.js';
import { prepareWarehouse } from '../pipelines/warehouse/prepare.js';
import { DEPARTMENTS, ensureDatabase, generateSql, quoteIdent, SHARES } from './bench-warehouse.js';

const ROOT = resolve(import.meta.dirname, '..');
const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/guiji_bench';
const SCHEMA = 'bench_report';
const TARGET_SECONDS = 60;

function seconds(since: number): number {
  return (Date.now() - since) / 1000;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { rows: { type: 'string' }, keep: { type: 'boolean' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    console.log('usage: node bin/run-ts.js scripts/bench-report.ts [--rows N (default 5000000)] [--keep]');
    return 0;
  }
  const rows = Number(values.rows ?? 5_000_000);
  if (!Number.isInteger(rows) || rows < 100)
    throw new Error(`--rows: a whole number ≥ 100, got ${values.rows}`);
  const url = process.env.GUIJI_BENCH_DATABASE_URL || DEFAULT_URL;
  await ensureDatabase(url);
  const catalog = loadCatalog(join(ROOT, 'catalog'), join(ROOT, 'schemas'));
  const db = await openWarehouse({
    home: join(tmpdir(), 'guiji-bench-report'),
    databaseUrl: url,
    schema: SCHEMA,
  });
  const out = mkdtempSync(join(tmpdir(), 'guiji-bench-report-'));
  try {
    console.log(
      `bench-report: ${rows.toLocaleString('en-US')} records, PostgreSQL at ${redactUrl(url)}, schema ${SCHEMA}`,
    );
    let t = Date.now();
    await db.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await db.query(`CREATE SCHEMA ${SCHEMA}`);
    await prepareWarehouse(db, catalog);
    const [run] = await db.query<{ id: string }>(
      `INSERT INTO runs (kind, status, finished_at) VALUES ('backfill', 'succeeded', now()) RETURNING id`,
    );
    const runId = Number(run?.id);
    const quarantined = Math.round(rows * 0.02);
    // one statement per resource and slice of a million rows, so that progress shows
    const slice = 1_000_000;
    for (let from = 1; from <= rows; from += slice) {
      const to = Math.min(rows, from + slice - 1);
      for (const share of SHARES) await db.query(generateSql(catalog, share), [runId, from, to, DEPARTMENTS]);
      process.stdout.write(
        `  generated ${to.toLocaleString('en-US')} records (${seconds(t).toFixed(0)} s)\n`,
      );
    }
    await db.query(
      `INSERT INTO quarantine (row_ref, source, resource, file, row_number, raw, issues, run_id)
       SELECT 'bench:' || i, 'drops', CASE WHEN i % 2 = 0 THEN 'xzcf' ELSE 'xzxk' END, 'bench.csv', i,
              jsonb_build_object('行政相对人名称', '', '数据来源单位', ($2::text[])[1 + (i % 8)]),
              CASE WHEN i % 10 = 0
                THEN '[{"type":"duplicate-row","field":null,"message":"dup","messageZh":"重复"}]'::jsonb
                ELSE '[{"type":"missing-cell","field":"CF_XDR_MC","message":"empty","messageZh":"为空"}]'::jsonb END,
              $1
       FROM generate_series(1, $3::bigint) AS i`,
      [runId, DEPARTMENTS, quarantined],
    );
    const duplicates = Math.floor(quarantined / 10);
    await db.query(
      `INSERT INTO source_runs (run_id, source, status, read, inserted, quarantined, duplicates, finished_at)
       VALUES ($1, 'drops', 'succeeded', $2, $3, $4, $5, now())`,
      [runId, rows + quarantined, rows, quarantined - duplicates, duplicates],
    );
    for (const share of SHARES) await db.query(`ANALYZE ${quoteIdent(tableOf(share.resource))}`);
    await db.query('ANALYZE quarantine');
    const [size] = await db.query<{ size: string }>(
      `SELECT pg_size_pretty(sum(pg_total_relation_size(t::regclass))) AS size FROM unnest($1::text[]) AS t`,
      [SHARES.map((share) => quoteIdent(tableOf(share.resource)))],
    );
    console.log(`  data ready in ${seconds(t).toFixed(1)} s (records ${size?.size}); now timed:`);

    const total = Date.now();
    t = Date.now();
    const metrics = await computeQualityMetrics(db, catalog, runId, { catalogDir: join(ROOT, 'catalog') });
    const metricsSeconds = seconds(t);
    console.log(
      `  metrics:  ${metricsSeconds.toFixed(2)} s (${metrics.rows} lines, ${metrics.overdue} overdue records kept)`,
    );
    t = Date.now();
    const written = await writeReports(db, catalog, { outDir: out, run: runId });
    const reportSeconds = seconds(t);
    const sizes = Object.entries(written.files)
      .map(([format, file]) => `${format} ${(statSync(file).size / 1024).toFixed(0)} KB`)
      .join(', ');
    console.log(`  reports:  ${reportSeconds.toFixed(2)} s (${sizes})`);
    const totalSeconds = seconds(total);
    const rssMb = process.resourceUsage().maxRSS / 1024;
    console.log(
      `  total:    ${totalSeconds.toFixed(2)} s for ${rows.toLocaleString('en-US')} records ` +
        `(target < ${TARGET_SECONDS} s${totalSeconds < TARGET_SECONDS ? '' : ' — MISSED'}); peak RSS ${rssMb.toFixed(0)} MB`,
    );

    const problems: string[] = [];
    const r = written.report;
    const loaded = r.resources.reduce((n, l) => n + l.loaded, 0);
    if (loaded !== rows) problems.push(`the report counts ${loaded} loaded records, not ${rows}`);
    if (r.totals.read !== rows + quarantined)
      problems.push(`totals.read ${r.totals.read} ≠ ${rows + quarantined}`);
    const unmatched = r.resources.reduce((n, l) => n + l.unmatched, 0);
    if (unmatched !== Math.floor(rows / 20))
      problems.push(`unmatched ${unmatched} ≠ ${Math.floor(rows / 20)}`);
    if (r.departments.length !== DEPARTMENTS.length) problems.push(`${r.departments.length} departments`);
    for (const p of problems) console.log(`  WRONG: ${p}`);
    console.log(
      `  late ${r.resources.reduce((n, l) => n + l.late, 0).toLocaleString('en-US')} of ` +
        `${r.resources.reduce((n, l) => n + l.measured, 0).toLocaleString('en-US')} measured; ` +
        `scores ${r.departments.map((d) => `${d.department} ${d.score}`).join(', ')}`,
    );
    return problems.length || totalSeconds >= TARGET_SECONDS ? 1 : 0;
  } finally {
    if (!values.keep) await db.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await db.close();
    rmSync(out, { recursive: true, force: true });
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`bench-report: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
