/**
 * The quality report over a large run (issue 5: 5,000,000 records in under 60 s).
 *
 *   node bin/run-ts.js scripts/bench-report.ts [--rows N] [--keep]      (npm run bench runs it last)
 *
 * Generates N records of one run straight into a PostgreSQL schema of their own (`INSERT … SELECT
 * generate_series`: penalties, licences and register rows from eight departments, realistic JSONB, produced and
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
import pg from 'pg';
import { loadCatalog } from '../catalog/load.js';
import { redactUrl } from '../lib/config.js';
import { openWarehouse } from '../lib/db.js';
import { computeQualityMetrics } from '../pipelines/quality/metrics.js';
import { writeReports } from '../pipelines/report/index.js';
import { migrate } from '../pipelines/warehouse/migrate.js';

const ROOT = resolve(import.meta.dirname, '..');
const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/guiji_bench';
const SCHEMA = 'bench_report';
const TARGET_SECONDS = 60;

const DEPARTMENTS = [
  '界首市市场监督管理局',
  '国家税务总局界首市税务局',
  '界首市应急管理局',
  '阜阳市界首市生态环境分局',
  '界首市行政审批局',
  '市人力资源和社会保障局',
  '市发展和改革委员会',
  '界首市某未登记单位',
];

async function ensureDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!found.rowCount) {
      await client.query(`CREATE DATABASE "${name}"`);
      console.log(`created database ${name}`);
    }
  } finally {
    await client.end();
  }
}

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
    await migrate(db.knex, db.schema);
    const [run] = await db.query<{ id: string }>(
      `INSERT INTO runs (kind, status, finished_at) VALUES ('backfill', 'succeeded', now()) RETURNING id`,
    );
    const runId = Number(run?.id);
    const quarantined = Math.round(rows * 0.02);
    // one statement per slice of a million rows, so that progress shows
    const slice = 1_000_000;
    for (let from = 1; from <= rows; from += slice) {
      const to = Math.min(rows, from + slice - 1);
      await db.query(
        `INSERT INTO records (resource, natural_key, version, schema_version, content_hash, data, uscc, subject_name,
                              department, produced_date, received_at, changed_at, disclosure, match_method,
                              match_score, match_flags, source, provenance, first_run_id, run_id)
         SELECT r.resource, r.resource || ':' || i, 1, '2019', md5(i::text), r.data, r.uscc, r.name,
                r.department, r.produced, r.produced + ((i * 7) % 30) * interval '1 day' + interval '10 hours',
                now(), 'public', r.method, CASE WHEN r.method IS NULL THEN NULL ELSE 1 END,
                CASE WHEN i % 97 = 0 THEN '{out_of_region}'::text[] WHEN i % 89 = 0 THEN '{name_mismatch}'::text[]
                     ELSE '{}'::text[] END,
                CASE WHEN i % 3 = 0 THEN 'credit-platform' ELSE 'drops' END,
                jsonb_build_object('source', 'drops', 'file', 'bench.csv', 'row', i), $1, $1
         FROM generate_series($2::bigint, $3::bigint) AS i,
         LATERAL (
           SELECT CASE WHEN i % 10 < 6 THEN 'xzcf' WHEN i % 10 < 9 THEN 'xzxk' ELSE 'enterprise' END AS resource,
                  '91341282' || lpad((i % 500000)::text, 9, '0') || 'X' AS uscc,
                  '界首市' || (i % 500000) || '号商贸有限公司' AS name,
                  ($4::text[])[1 + (i % 8)] AS department,
                  date '2024-01-01' + (i % 700)::int AS produced,
                  CASE WHEN i % 20 = 0 THEN NULL WHEN i % 50 = 1 THEN 'name' WHEN i % 50 = 2 THEN 'reg_no'
                       ELSE 'uscc' END AS method,
                  jsonb_build_object(
                    'CF_XDR_MC', '界首市' || (i % 500000) || '号商贸有限公司', 'CF_XDR_LB', '法人及非法人组织',
                    'CF_XDR_SHXYM', '91341282' || lpad((i % 500000)::text, 9, '0') || 'X',
                    'CF_WSH', '界市监罚〔2025〕' || i || '号', 'CF_WFXW', '未按规定公示年度报告',
                    'CF_SY', '未在规定期限内公示年度报告', 'CF_YJ', '《企业信息公示暂行条例》第十七条',
                    'CF_CFLB', '警告', 'CF_NR', '警告', 'CF_JDRQ', (date '2024-01-01' + (i % 700)::int)::text,
                    'CF_CFJG', ($4::text[])[1 + (i % 8)], 'CF_SJLY', ($4::text[])[1 + (i % 8)]) AS data
         ) r`,
        [runId, from, to, DEPARTMENTS],
      );
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
    await db.query('ANALYZE records');
    await db.query('ANALYZE quarantine');
    const [size] = await db.query<{ size: string }>(
      `SELECT pg_size_pretty(pg_total_relation_size('records')) AS size`,
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
