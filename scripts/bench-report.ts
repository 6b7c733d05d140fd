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
import pg from 'pg';
import { tableOf } from '../catalog/columns.js';
import { type Catalog, type FieldDef, loadCatalog } from '../catalog/load.js';
import { redactUrl } from '../lib/config.js';
import { openWarehouse } from '../lib/db.js';
import { computeQualityMetrics } from '../pipelines/quality/metrics.js';
import { writeReports } from '../pipelines/report/index.js';
import { prepareWarehouse } from '../pipelines/warehouse/prepare.js';
import { fromJsonSql, typedTable } from '../pipelines/warehouse/typed-schema.js';

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

/** The resources of the generated records and which of them each is: i % 10 in [from, to). */
const SHARES = [
  { resource: 'xzcf', from: 0, to: 6 },
  { resource: 'xzxk', from: 6, to: 9 },
  { resource: 'enterprise', from: 9, to: 10 },
] as const;

/** What a 行政处罚 says besides its subject, department and date (the other resources carry those only). */
const PENALTY_FIELDS: Record<string, string> = {
  CF_XDR_LB: `'法人及非法人组织'`,
  CF_WSH: `'界市监罚〔2025〕' || i || '号'`,
  CF_WFXW: `'未按规定公示年度报告'`,
  CF_SY: `'未在规定期限内公示年度报告'`,
  CF_YJ: `'《企业信息公示暂行条例》第十七条'`,
  CF_CFLB: `'警告'`,
  CF_NR: `'警告'`,
  CF_CFJG: `($4::text[])[1 + (i % 8)]`,
};

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * The statement that generates the records of one resource for i in [$2, $3] of run $1 ($4: the departments)
 * straight into its typed table (warehouse v2): the subject, department and produced date in the resource's
 * own fields (and the penalty's usual fields), each typed as the loader types it, the record columns beside.
 * Field codes come from the catalog only.
 */
function generateSql(catalog: Catalog, share: (typeof SHARES)[number]): string {
  const resource = catalog.resources.get(share.resource);
  if (!resource) throw new Error(`the catalog has no resource ${share.resource}`);
  const def = typedTable(resource);
  const data: Record<string, string> = {
    [resource.subject.name]: 'r.name',
    [resource.subject.uscc]: 'r.uscc',
    ...(resource.departmentField ? { [resource.departmentField]: 'r.department' } : {}),
    [resource.producedDate]: 'r.produced::text',
    ...(share.resource === 'xzcf' ? PENALTY_FIELDS : {}),
  };
  const pairs = Object.entries(data)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([code, value]) => `'${code}', ${value}`)
    .join(', ');
  const fields = def.columns.filter((c) => c.field);
  return `INSERT INTO ${quoteIdent(def.name)} (natural_key, version, schema_version, catalog_version, content_hash,
            uscc, matched_uscc, department, produced_date, received_at, changed_at, disclosure, match_method,
            match_score, match_flags, source, row_number, first_run_id, run_id, ${fields.map((c) => quoteIdent(c.name)).join(', ')})
   SELECT '${share.resource}:' || i, 1, '${resource.current.version}', '${catalog.version}', md5(i::text),
          r.uscc, CASE WHEN r.method IS NULL THEN NULL ELSE r.uscc END, r.department, r.produced,
          r.produced + ((i * 7) % 30) * interval '1 day' + interval '10 hours', now(), 'public', r.method,
          CASE WHEN r.method IS NULL THEN NULL ELSE 1 END,
          CASE WHEN i % 97 = 0 THEN '{out_of_region}'::text[] WHEN i % 89 = 0 THEN '{name_mismatch}'::text[]
               ELSE '{}'::text[] END,
          CASE WHEN i % 3 = 0 THEN 'credit-platform' ELSE 'drops' END, i, $1, $1,
          ${fields.map((c) => fromJsonSql(c.field as FieldDef, 'd.data')).join(',\n          ')}
   FROM generate_series($2::bigint, $3::bigint) AS i,
   LATERAL (
     SELECT '91341282' || lpad((i % 500000)::text, 9, '0') || 'X' AS uscc,
            '界首市' || (i % 500000) || '号商贸有限公司' AS name,
            ($4::text[])[1 + (i % 8)] AS department,
            date '2024-01-01' + (i % 700)::int AS produced,
            CASE WHEN i % 20 = 0 THEN NULL WHEN i % 50 = 1 THEN 'name' WHEN i % 50 = 2 THEN 'reg_no'
                 ELSE 'uscc' END AS method
   ) r,
   LATERAL (SELECT jsonb_build_object(${pairs}) AS data) d
   WHERE i % 10 >= ${share.from} AND i % 10 < ${share.to}`;
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
