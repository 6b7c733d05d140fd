import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCalendar } from '../lib/calendar.js';
import type { Warehouse } from '../lib/db.js';
import type { QualityReport } from '../pipelines/report/data.js';
import { gatherReport } from '../pipelines/report/data.js';
import { writeReports } from '../pipelines/report/index.js';
import { recentRuns } from '../pipelines/run.js';
import { EXPECTED, writeQualityDrop } from './fixtures/quality/dataset.js';
import { runCli } from './helpers/cli.js';
import { makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

/**
 * Runs placed around the month boundaries as Asia/Shanghai reads them (UTC+8):
 *   #1 manual   2026-11-30T15:59:59Z = 11-30 23:59:59 → November (the quality data set)
 *   #2 manual   2026-11-30T17:00:00Z = 12-01 01:00    → December (a re-sent file: unchanged rows)
 *   #3 backfill 2026-11-15T02:00:00Z = 11-15 10:00    → November's history, never in its figures
 *   #4 nightly  2026-10-31T16:00:00Z = 11-01 00:00    → November (reads nothing)
 *   #5 nightly  2026-10-31T15:59:59Z = 10-31 23:59:59 → October (reads nothing)
 */
describe(`report of a month or a range (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  const ids: number[] = [];
  const BACKFILL_LEDGER = { read: 500, inserted: 480, quarantined: 20 };
  /** The reports' clock: 2026-12-07 12:00 in Jieshou, December under way. */
  const now = new Date('2026-12-07T04:00:00Z');

  async function place(runId: number, kind: string, startedAt: string): Promise<void> {
    await db.query('UPDATE runs SET kind = $2, started_at = $3, finished_at = $3 WHERE id = $1', [
      runId,
      kind,
      startedAt,
    ]);
  }

  beforeAll(async () => {
    env = await makeEnv('report-period');
    db = await env.open();
    const incoming = join(env.config.dropDir, 'incoming');
    await writeQualityDrop(env.config.dropDir, loadCalendar());
    const register = readFileSync(join(incoming, '企业登记.csv'));
    ids.push((await env.run(db)).summary.runId);
    // the same register again without its byte-order mark (another file, the same rows): all unchanged
    expect([...register.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    writeFileSync(join(incoming, '企业登记_重报.csv'), register.subarray(3));
    ids.push((await env.run(db)).summary.runId);
    const [backfill] = await db.query<{ id: string }>(
      `INSERT INTO runs (kind, status) VALUES ('backfill', 'succeeded') RETURNING id`,
    );
    ids.push(Number(backfill?.id));
    await db.query(
      `INSERT INTO source_runs (run_id, source, status, read, inserted, quarantined)
       VALUES ($1, 'credit-platform', 'succeeded', $2, $3, $4)`,
      [ids[2], BACKFILL_LEDGER.read, BACKFILL_LEDGER.inserted, BACKFILL_LEDGER.quarantined],
    );
    ids.push((await env.run(db)).summary.runId);
    ids.push((await env.run(db)).summary.runId);
    await place(ids[0] as number, 'run', '2026-11-30T15:59:59Z');
    await place(ids[1] as number, 'run', '2026-11-30T17:00:00Z');
    await place(ids[2] as number, 'backfill', '2026-11-15T02:00:00Z');
    await place(ids[3] as number, 'nightly', '2026-10-31T16:00:00Z');
    await place(ids[4] as number, 'nightly', '2026-10-31T15:59:59Z');
  }, 240_000);

  afterAll(async () => {
    await db?.close();
    await env?.cleanup();
  });

  it('--month takes exactly the runs started in that Asia/Shanghai month, backfill apart', async () => {
    const out = join(env.dir, 'month');
    const written = await writeReports(db, env.catalog, { outDir: out, month: '2026-11', now });
    const r = written.report;
    expect(r.scope.runs).toEqual([ids[0], ids[3]]);
    expect(r.scope.period).toEqual({ month: '2026-11', since: null, until: null });
    expect(r.scope.from).toBe('2026-11-01T00:00:00.000+08:00');
    expect(r.scope.to).toBe('2026-11-30T23:59:59.999+08:00');
    expect(r.figures.read).toBe(EXPECTED.totals.read);
    // the backfill partition: shown apart, from its ledger, and in none of the figures
    expect(r.backfill).toEqual({ runs: 1, read: 500, loaded: 480, quarantined: 20, duplicates: 0 });
    expect(r.figures.quarantined).toBe(EXPECTED.totals.quarantined);
    // the files and titles say the month
    expect(Object.values(written.files).map((f) => f.split('/').pop())).toEqual([
      'quality-month-2026-11.html',
      'quality-month-2026-11.xlsx',
      'quality-month-2026-11.json',
    ]);
    const html = readFileSync(written.files.html as string, 'utf8');
    expect(html).toContain('<title>涉企信息归集数据质量报告 · 2026年11月</title>');
    expect(html).toMatch(
      /<div id="backfill"><h3>历史补录（不计入本期数据）<\/h3><p>本期另有 1 个历史补录分区运行：读取 500 行/,
    );
    // per day: November's 30 days, the run of 11-30 23:59:59 on the 30th, the backfill on the 15th, apart
    expect(r.trendsByDay.map((d) => d.period)).toHaveLength(30);
    expect(r.trendsByDay[0]?.period).toBe('2026-11-01');
    const day = (d: string) => r.trendsByDay.find((p) => p.period === d);
    expect(day('2026-11-30')).toMatchObject({ runs: 1, read: EXPECTED.totals.read });
    expect(day('2026-11-01')).toMatchObject({ runs: 1, read: 0 });
    expect(day('2026-11-15')).toMatchObject({ runs: 0, read: 0, backfill: { runs: 1, read: 500 } });
    expect(r.trendsByDay.reduce((n, d) => n + d.read, 0)).toBe(r.figures.read);
    // per month: the last 12, October's run in October, November's figures equal the card
    const month = (m: string) => r.trendsByMonth.find((p) => p.period === m);
    expect(r.trendsByMonth.map((m) => m.period)).toHaveLength(12);
    expect(r.trendsByMonth.at(-1)?.period).toBe('2026-11');
    expect(month('2026-11')).toMatchObject({ runs: 2, read: r.figures.read, backfill: { runs: 1 } });
    expect(month('2026-11')?.lateRate).toBe(r.rates.lateRate);
    expect(month('2026-10')).toMatchObject({ runs: 1, read: 0 });
    // the per-run trend leaves the backfill partition out
    expect(r.trends.map((t) => t.runId)).not.toContain(ids[2]);
  });

  it('a run at 2026-11-30T17:00Z belongs to December; its 归集 card equals its trend lines', async () => {
    const out = join(env.dir, 'december');
    const written = await writeReports(db, env.catalog, { outDir: out, month: '2026-12', now });
    const r = written.report;
    expect(r.scope.runs).toEqual([ids[1]]);
    // the re-sent file: rows read by the source that were unchanged are not collected again
    expect(r.totals.unchanged).toBeGreaterThan(0);
    expect(r.figures.read).toBe(r.totals.read - r.totals.unchanged - r.reconciliation.rewrittenInRun);
    expect(r.reconciliation).toMatchObject({ ledgerRead: r.totals.read, collected: r.figures.read });
    const html = readFileSync(written.files.html as string, 'utf8');
    const card = /data-figure="read"><div class="v">([^<]*)</.exec(html)?.[1];
    const point = r.trends.find((t) => t.runId === ids[1]);
    const today = r.trendsByDay.find((d) => d.period === '2026-12-01');
    expect(card).toBe(point?.read.toLocaleString('en-US'));
    expect(today?.read).toBe(point?.read);
    // December under way: its per-day trend ends on the report's day
    expect(r.trendsByDay.map((d) => d.period)).toEqual([1, 2, 3, 4, 5, 6, 7].map((d) => `2026-12-0${d}`));
    expect(r.generatedAt).toBe('2026-12-07T12:00:00.000+08:00');
    expect(r.figures.read).toBe(r.resources.reduce((n, l) => n + l.read, 0));
    // the trend table of the page shows the same figure on the run's line
    const line = new RegExp(
      `<tr><td class="n">${ids[1]}</td><td class="d">2026-12-01 01:00</td><td class="n">([^<]*)<`,
    );
    expect(line.exec(html)?.[1]).toBe(String(point?.read));
    expect(html).toContain(`各来源共读取 ${r.totals.read.toLocaleString('en-US')} 行`);
  });

  it('--since/--until take the China days asked for; --since alone runs up to the run', async () => {
    const range = await gatherReport(db, env.catalog, { since: '2026-11-01', until: '2026-11-30', now });
    expect(range.scope.runs).toEqual([ids[0], ids[3]]);
    expect(range.backfill.runs).toBe(1);
    const boundary = await gatherReport(db, env.catalog, { since: '2026-11-30', until: '2026-12-01', now });
    expect(boundary.scope.runs).toEqual([ids[0], ids[1]]);
    expect(boundary.scope.to).toBe('2026-12-01T23:59:59.999+08:00');
    expect(boundary.trendsByDay.map((d) => d.period)).toEqual(['2026-11-30', '2026-12-01']);
    const since = await gatherReport(db, env.catalog, { since: '2026-12-01', now });
    expect(since.scope.runs).toEqual([ids[1]]);
    const written = await writeReports(db, env.catalog, {
      outDir: join(env.dir, 'range'),
      since: '2026-11-01',
      until: '2026-11-30',
      formats: ['json'],
    });
    expect(written.files.json).toMatch(/quality-range-2026-11-01-to-2026-11-30\.json$/);
    expect(readFileSync(join(env.dir, 'range', 'index.html'), 'utf8')).toContain('2026-11-01 至 2026-11-30');
  });

  it('refuses conflicting or malformed period options as usage errors', async () => {
    const refused = async (options: Parameters<typeof gatherReport>[2], text: string) => {
      await expect(gatherReport(db, env.catalog, options)).rejects.toMatchObject({
        code: 'GUIJI_ERR_USAGE',
        message: expect.stringContaining(text),
      });
    };
    await refused(
      { month: '2026-11', since: '2026-11-01' },
      '--month: give either --month or --since/--until',
    );
    await refused({ month: '2026-13' }, '--month: expected a month written YYYY-MM');
    await refused({ month: '2026-11', run: ids[0] as number }, '--month: a month covers its own runs');
    await refused({ until: '2026-11-30' }, '--until: needs --since');
    await refused({ since: '2026-12-01', until: '2026-11-01' }, 'is before --since');
    await refused({ since: '2026-02-30' }, '--since: expected a real date');
    await refused({ month: '2025-06' }, 'no nightly or manual run in 2025-06');
  });

  it('says what each figure means in JSON, HTML and XLSX, the score by the catalog’s weights', async () => {
    const out = join(env.dir, 'definitions');
    const written = await writeReports(db, env.catalog, { outDir: out, month: '2026-11', now });
    const json = JSON.parse(readFileSync(written.files.json as string, 'utf8')) as QualityReport;
    expect(json.definitions.map((d) => [d.figure, d.nameZh])).toEqual([
      ['read', '归集'],
      ['loaded', '清洗入库'],
      ['complianceRate', '数据合规率'],
      ['lateRate', '迟报率'],
      ['matchRate', '企业关联率'],
      ['score', '部门评分'],
    ]);
    const html = readFileSync(written.files.html as string, 'utf8');
    const notes = /<section id="definitions">([\s\S]*?)<\/section>/.exec(html)?.[1] ?? '';
    for (const d of json.definitions) expect(notes).toContain(`<td>${d.nameZh}</td><td>${d.zh}</td>`);
    expect(notes).toContain('× 40%');
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(written.files.xlsx as string);
    const sheet = workbook.getWorksheet('指标说明');
    const rows: unknown[][] = [];
    sheet?.eachRow((row) => rows.push((row.values as unknown[]).slice(1)));
    expect(rows).toEqual([['指标', '定义'], ...json.definitions.map((d) => [d.nameZh, d.zh])]);
    // the weights are the catalog's: all on validity, the score is the department's compliance rate
    const weighted = await gatherReport(
      db,
      { ...env.catalog, quality: { scoreWeights: { validity: 1, timeliness: 0, completeness: 0 } } },
      { month: '2026-11', now },
    );
    for (const d of weighted.departments)
      expect(d.score).toBe(d.validity === null ? null : Math.round(d.validity * 1000) / 10);
    expect(weighted.definitions.find((d) => d.figure === 'score')?.zh).toContain('× 100%');
  });

  it('status shows each run’s kind, filters by it, and sums the backfill partitions up', async () => {
    const byDefault = await recentRuns(db, 10);
    expect(byDefault.map((r) => r.runId)).not.toContain(ids[2]);
    expect(byDefault.find((r) => r.runId === ids[3])?.kind).toBe('nightly');
    expect((await recentRuns(db, 10, 'backfill')).map((r) => r.runId)).toEqual([ids[2]]);
    expect((await recentRuns(db, 10, 'nightly')).map((r) => r.runId)).toEqual([ids[4], ids[3]]);
    expect(await recentRuns(db, 10, 'all')).toHaveLength(5);
    await db.close(); // the embedded warehouse belongs to one process at a time
    try {
      const text = await runCli(['status'], env.env);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toContain(`run ${ids[3]}  nightly  succeeded`);
      expect(text.stdout).not.toContain(`run ${ids[2]}  backfill`);
      expect(text.stdout).toContain('backfill partitions: 1 runs (0 running, 0 failed)');
      const json = await runCli(['status', '--kind', 'backfill', '--json'], env.env);
      expect(json.code, json.stderr).toBe(0);
      const parsed = JSON.parse(json.stdout) as { runs: { runId: number; kind: string }[] };
      expect(parsed.runs.map((r) => [r.runId, r.kind])).toEqual([[ids[2], 'backfill']]);
      const bad = await runCli(['status', '--kind', 'weekly'], env.env);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--kind: expected one of run, nightly, backfill, demo, all');
      const conflict = await runCli(['report', '--month', '2026-11', '--since', '2026-11-01'], env.env);
      expect(conflict.code).toBe(2);
      expect(conflict.stderr).toContain('--month: give either --month or --since/--until, not both');
    } finally {
      db = await env.open();
    }
  }, 600_000);
});
