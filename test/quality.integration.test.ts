import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCalendar } from '../lib/calendar.js';
import type { Warehouse } from '../lib/db.js';
import { computeQualityMetrics } from '../pipelines/quality/metrics.js';
import { syncWorkdays } from '../pipelines/quality/workdays.js';
import { gatherReport } from '../pipelines/report/data.js';
import { renderHtml } from '../pipelines/report/html.js';
import { writeTemplate } from '../pipelines/template/workbook.js';
import { makeOrgCode, makeUscc } from '../schemas/identifiers.js';
import { chinaToday, EXPECTED, writeQualityDrop } from './fixtures/quality/dataset.js';
import { expectLedgerBalanced, makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

const calendar = loadCalendar();

interface Metric {
  resource: string;
  department: string;
  dimension: string;
  measure: string;
  field: string;
  value: string;
  base: string;
}

function metric(rows: Metric[], where: Partial<Metric>): { value: number; base: number } {
  const hits = rows.filter((r) => Object.entries(where).every(([k, v]) => r[k as keyof Metric] === v));
  return {
    value: hits.reduce((n, r) => n + Number(r.value), 0),
    base: hits.reduce((n, r) => n + Number(r.base), 0),
  };
}

describe(`quality metrics in the warehouse (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;

  beforeEach(async () => {
    env = await makeEnv('quality');
    db = await env.open();
  });

  afterEach(async () => {
    await db.close();
    await env.cleanup();
  });

  it('reproduces the known numbers of a generated drop per resource, department and dimension', async () => {
    const data = await writeQualityDrop(env.config.dropDir, calendar);
    const { summary } = await env.run(db);
    expect(summary.status).toBe('succeeded');
    await expectLedgerBalanced(db);
    const runId = summary.runId;
    const [computed] = await db.query<{ run_id: string }>('SELECT run_id FROM quality_runs');
    expect(Number(computed?.run_id)).toBe(runId);
    const rows = await db.query<Metric>('SELECT * FROM quality_metrics WHERE run_id = $1', [runId]);

    for (const resource of ['enterprise', 'xzcf'] as const) {
      const x = EXPECTED[resource];
      expect(metric(rows, { resource, dimension: 'volume', measure: 'read' }).value, resource).toBe(x.read);
      expect(metric(rows, { resource, dimension: 'volume', measure: 'loaded' }).value).toBe(x.loaded);
      expect(metric(rows, { resource, dimension: 'volume', measure: 'quarantined' }).value).toBe(
        x.quarantined,
      );
      expect(metric(rows, { resource, dimension: 'volume', measure: 'duplicates' }).value).toBe(x.duplicates);
      expect(metric(rows, { resource, dimension: 'matching', measure: 'unmatched' }).value).toBe(x.unmatched);
      expect(metric(rows, { resource, dimension: 'matching', measure: 'uscc' }).value).toBe(x.matched);
      expect(metric(rows, { resource, dimension: 'timeliness', measure: 'collect_late' })).toEqual({
        value: x.late,
        base: x.onTime + x.late,
      });
      expect(metric(rows, { resource, dimension: 'timeliness', measure: 'collect_on_time' }).value).toBe(
        x.onTime,
      );
    }
    expect(metric(rows, { resource: 'xzcf', dimension: 'timeliness', measure: 'publish_late' }).value).toBe(
      EXPECTED.xzcf.publishLate,
    );
    expect(
      metric(rows, { resource: 'xzcf', dimension: 'uniqueness', measure: 'duplicate_in_run' }).value,
    ).toBe(1);

    // departments: the free text of 数据来源单位 / 登记机关 filed under the catalog's codes
    expect(new Set(rows.map((r) => r.department))).toEqual(new Set(['scjgj', 'swj']));
    for (const [department, x] of Object.entries(EXPECTED.departments)) {
      expect(metric(rows, { department, dimension: 'volume', measure: 'read' }).value, department).toBe(
        x.read,
      );
      expect(metric(rows, { department, dimension: 'volume', measure: 'quarantined' }).value).toBe(
        x.quarantined,
      );
      expect(metric(rows, { department, dimension: 'volume', measure: 'duplicates' }).value).toBe(
        x.duplicates,
      );
      expect(metric(rows, { department, dimension: 'timeliness', measure: 'collect_late' })).toEqual({
        value: x.late,
        base: x.measured,
      });
    }

    // validity: every issue by type and field, the quarantined rows' departments read from the raw rows
    const issues = rows
      .filter((r) => r.dimension === 'validity')
      .map((r) => ({ resource: r.resource, type: r.measure, field: r.field, count: Number(r.value) }));
    expect(issues).toEqual(expect.arrayContaining(EXPECTED.issues));
    expect(metric(rows, { department: 'swj', dimension: 'validity', measure: 'type-error' }).value).toBe(1);
    expect(metric(rows, { department: 'scjgj', dimension: 'validity', measure: 'duplicate-row' }).value).toBe(
      1,
    );

    // completeness: the missing name is the one gap of CF_XDR_MC among the 19 non-duplicate penalty rows
    expect(metric(rows, { resource: 'xzcf', dimension: 'completeness', field: 'CF_XDR_MC' })).toEqual({
      value: 1,
      base: 19,
    });
    expect(metric(rows, { resource: 'xzcf', dimension: 'completeness', field: 'CF_WSH' })).toEqual({
      value: 0,
      base: 19,
    });

    // the overdue list: the late records with their keys, most overdue first
    const overdue = await db.query<{
      natural_key: string;
      workdays: number;
      collect_late: boolean;
      publish_late: boolean;
    }>(
      `SELECT natural_key, workdays, collect_late, publish_late FROM quality_overdue WHERE run_id = $1
       ORDER BY workdays DESC, natural_key`,
      [runId],
    );
    expect(overdue.map((o) => o.natural_key).sort()).toEqual([...data.lateKeys].sort());
    expect(overdue[0]?.publish_late).toBe(true);
    expect(overdue.filter((o) => o.publish_late)).toHaveLength(1);
    for (const o of overdue) expect(o.workdays).toBeGreaterThan(7);
    // the full list is the view, the same records
    const all = await db.query<{ n: string }>(
      'SELECT count(*) AS n FROM quality_overdue_all WHERE first_run_id = $1',
      [runId],
    );
    expect(Number(all[0]?.n)).toBe(EXPECTED.xzcf.late);

    // the scorecard view: 40% validity, 40% timeliness, 20% completeness
    const scores = await db.query<{
      department: string;
      score: string;
      validity: string;
      timeliness: string;
    }>('SELECT department, score, validity, timeliness FROM quality_department_scores WHERE run_id = $1', [
      runId,
    ]);
    const swj = scores.find((s) => s.department === 'swj');
    const cells = metric(rows, { department: 'swj', dimension: 'completeness' });
    const completeness = 1 - cells.value / cells.base;
    const expectedScore = 100 * (0.4 * (1 - 1 / 5) + 0.4 * (1 - 2 / 4) + 0.2 * completeness);
    expect(Number(swj?.score)).toBeCloseTo(Math.round(expectedScore * 10) / 10, 5);
    expect(Number(swj?.validity)).toBeCloseTo(0.8, 10);
    expect(Number(swj?.timeliness)).toBeCloseTo(0.5, 10);
  });

  it('counts working days across Spring Festival and National Day with their make-up days, in China time', async () => {
    await syncWorkdays(db, calendar, chinaToday());
    const [run] = await db.query<{ id: string }>(
      `INSERT INTO runs (kind, status) VALUES ('test', 'succeeded') RETURNING id`,
    );
    const runId = Number(run?.id);
    // [natural key, produced, received (timestamptz), working days]
    const cases: [string, string, string, number][] = [
      // 2024 Spring Festival: off 02-10..02-17, make-up Sundays 02-04 and 02-18 → 4, where Monday–Friday says 8
      ['sf-on-time', '2024-02-08', '2024-02-20 10:00:00+08', 4],
      // received 07:30 on 02-20 in China, still 02-19 in UTC
      ['sf-utc-evening', '2024-02-08', '2024-02-19 23:30:00+00', 4],
      // produced before the holiday, received 8 working days later (Monday–Friday: 12)
      ['sf-late', '2024-02-05', '2024-02-21 09:00:00+08', 8],
      // 2024 National Day: off 10-01..10-07, make-up Sunday 09-29 and Saturday 10-12 → 5, where Monday–Friday says 9
      ['nd-on-time', '2024-09-27', '2024-10-10 09:00:00+08', 5],
      ['nd-late', '2024-09-20', '2024-10-10 09:00:00+08', 10],
      // more than 20 working days: late for publication too
      ['nd-publish-late', '2024-09-02', '2024-10-12 09:00:00+08', 25],
    ];
    for (const [key, produced, received] of cases) {
      const expected = cases.find((c) => c[0] === key)?.[3];
      expect(
        calendar.workdaysBetween(produced, key === 'sf-utc-evening' ? '2024-02-20' : received.slice(0, 10)),
      ).toBe(expected);
      await db.query(
        `INSERT INTO r_xzcf (uscc, natural_key, schema_version, catalog_version, content_hash, department,
                             produced_date, received_at, disclosure, match_method, matched_uscc, match_flags, source,
                             first_run_id, run_id)
         VALUES ('', $1, '2019', 'test', 'h', '界首市市场监督管理局', $2, $3, 'public', $4,
                 CASE WHEN $4::text IS NOT NULL THEN '91341282MA2N0000X0' END, $5, 'drops', $6, $6)`,
        [
          key,
          produced,
          received,
          key === 'sf-late' ? null : 'uscc',
          key === 'nd-on-time'
            ? ['out_of_region', 'name_mismatch']
            : key === 'nd-late'
              ? ['out_of_region']
              : [],
          runId,
        ],
      );
    }
    await computeQualityMetrics(db, env.catalog, runId, { calendar });
    const overdue = await db.query<{
      natural_key: string;
      workdays: number;
      received_date: string;
      publish_late: boolean;
    }>(
      'SELECT natural_key, workdays, received_date::text, publish_late FROM quality_overdue WHERE run_id = $1 ORDER BY natural_key',
      [runId],
    );
    expect(overdue).toEqual([
      { natural_key: 'nd-late', workdays: 10, received_date: '2024-10-10', publish_late: false },
      { natural_key: 'nd-publish-late', workdays: 25, received_date: '2024-10-12', publish_late: true },
      { natural_key: 'sf-late', workdays: 8, received_date: '2024-02-21', publish_late: false },
    ]);
    const timeliness = await db.query<{ natural_key: string; workdays: number; received_date: string }>(
      `SELECT natural_key, workdays, received_date::text FROM quality_timeliness ORDER BY natural_key`,
    );
    for (const [key, , , workdays] of cases) {
      expect(timeliness.find((t) => t.natural_key === key)?.workdays, key).toBe(workdays);
    }
    expect(timeliness.find((t) => t.natural_key === 'sf-utc-evening')?.received_date).toBe('2024-02-20');
    const rows = await db.query<Metric>('SELECT * FROM quality_metrics WHERE run_id = $1', [runId]);
    expect(metric(rows, { department: 'scjgj', measure: 'collect_late' })).toEqual({ value: 3, base: 6 });
    expect(metric(rows, { measure: 'publish_late' })).toEqual({ value: 1, base: 6 });
    expect(metric(rows, { measure: 'out_of_region' })).toEqual({ value: 2, base: 6 });
    expect(metric(rows, { measure: 'name_mismatch' })).toEqual({ value: 1, base: 6 });
    expect(metric(rows, { dimension: 'matching', measure: 'unmatched' })).toEqual({ value: 1, base: 6 });

    // capped, the list keeps the most overdue: the cap falls inside the histogram of working days
    await computeQualityMetrics(db, env.catalog, runId, { calendar, overdueCap: 2 });
    const capped = await db.query<{ natural_key: string }>(
      'SELECT natural_key FROM quality_overdue WHERE run_id = $1 ORDER BY workdays DESC',
      [runId],
    );
    expect(capped.map((o) => o.natural_key)).toEqual(['nd-publish-late', 'nd-late']);
    // the figures do not depend on the cap
    const again = await db.query<Metric>('SELECT * FROM quality_metrics WHERE run_id = $1', [runId]);
    expect(metric(again, { measure: 'collect_late' })).toEqual({ value: 3, base: 6 });
  });

  it('files records under departments by the source unit’s credit code, then exact name; unresolved as given', async () => {
    await syncWorkdays(db, calendar, chinaToday());
    const [run] = await db.query<{ id: string }>(
      `INSERT INTO runs (kind, status) VALUES ('test', 'succeeded') RETURNING id`,
    );
    const runId = Number(run?.id);
    const code = (d: string) => env.catalog.departments.find((x) => x.code === d)?.uscc?.[0] ?? '';
    const fuyang = makeUscc(`11341200${makeOrgCode('10324679')}`);
    // [natural key, department as written, its credit code, received: 2 working days (on time) or 12 (late)]
    const cases: [string, string, string | null, boolean][] = [
      ['fy-scjgj', '阜阳市市场监督管理局', fuyang, true],
      ['ah-scjgj', '安徽省市场监督管理局', null, false],
      ['fy-court', '阜阳市中级人民法院', null, false],
      ['sthjj', '界首市生态环境分局', null, false],
      ['misspelt', '界首市市场监管督理局', code('scjgj'), true],
      ['longer', '界首市市场监督管理局颍南市场监督管理所', null, false],
      ['exact', '界首市市场监督管理局', null, false],
    ];
    for (const [key, department, uscc, late] of cases) {
      await db.query(
        `INSERT INTO r_xzcf (uscc, natural_key, schema_version, catalog_version, content_hash, department, cf_sjlydm,
                             produced_date, received_at, disclosure, match_flags, source, first_run_id, run_id)
         VALUES ('', $1, '2019', 'test', 'h', $2, $3, '2024-09-02', $4, 'public', '{}', 'drops', $5, $5)`,
        [key, department, uscc, late ? '2024-09-18 10:00:00+08' : '2024-09-04 10:00:00+08', runId],
      );
    }
    // a rejected row: its department's name and code read from the raw row under the file's titles
    await db.query(
      `INSERT INTO quarantine (row_ref, source, resource, raw, issues, run_id)
       VALUES ('q1', 'drops', 'xzcf', $1, '[{"type":"missing-cell","field":"CF_WSH"}]', $2)`,
      [JSON.stringify({ 数据来源单位: '阜阳市市场监督管理局', 数据来源单位代码: code('scjgj') }), runId],
    );
    await computeQualityMetrics(db, env.catalog, runId, { calendar });
    const rows = await db.query<Metric>('SELECT * FROM quality_metrics WHERE run_id = $1', [runId]);
    const read = (department: string) => metric(rows, { department, measure: 'read' }).value;
    expect(new Set(rows.map((r) => r.department))).toEqual(
      new Set([
        'scjgj',
        'sthjj',
        '阜阳市市场监督管理局',
        '安徽省市场监督管理局',
        '阜阳市中级人民法院',
        '界首市市场监督管理局颍南市场监督管理所',
      ]),
    );
    // scjgj: the exact name, the misspelt name with its code, and the rejected row with its code
    expect(read('scjgj')).toBe(3);
    expect(metric(rows, { department: 'scjgj', measure: 'quarantined' }).value).toBe(1);
    expect(metric(rows, { department: 'scjgj', measure: 'collect_late' })).toEqual({ value: 1, base: 2 });
    expect(read('sthjj')).toBe(1);
    expect(read('阜阳市市场监督管理局')).toBe(1);
    expect(metric(rows, { department: '阜阳市市场监督管理局', measure: 'collect_late' }).value).toBe(1);
    const overdue = await db.query<{ natural_key: string; department: string }>(
      'SELECT natural_key, department FROM quality_overdue WHERE run_id = $1 ORDER BY natural_key',
      [runId],
    );
    expect(overdue).toEqual([
      { natural_key: 'fy-scjgj', department: '阜阳市市场监督管理局' },
      { natural_key: 'misspelt', department: 'scjgj' },
    ]);

    const report = await gatherReport(db, env.catalog, { run: runId, catalogDir: env.config.catalogDir });
    const line = (department: string) => report.departments.find((d) => d.department === department);
    expect(line('scjgj')).toMatchObject({ name: '界首市市场监督管理局', resolved: true, read: 3 });
    expect(line('sthjj')).toMatchObject({ name: '阜阳市界首市生态环境分局', resolved: true });
    for (const given of ['阜阳市市场监督管理局', '安徽省市场监督管理局', '阜阳市中级人民法院'])
      expect(line(given), given).toMatchObject({ name: given, resolved: false, read: 1 });
    // the HTML says which departments the catalog does not know
    const html = renderHtml(report);
    expect(html).toContain('阜阳市市场监督管理局（资源目录外，未识别）');
    expect(html).not.toContain('界首市市场监督管理局（资源目录外');
  });

  it('materialises the calendar: every difference of workday numbers is the calendar’s count', async () => {
    expect(await syncWorkdays(db, calendar, '2026-06-01')).toBe(true);
    expect(await syncWorkdays(db, calendar, '2026-06-01')).toBe(false); // unchanged: not rewritten
    const days = await db.query<{ day: string; workday: boolean; workday_no: number }>(
      `SELECT day::text, workday, workday_no FROM workdays
       WHERE day IN ('2014-10-01', '2024-02-04', '2024-02-12', '2024-10-12', '2025-01-26', '2027-12-31')
       ORDER BY day`,
    );
    expect(days.map((d) => [d.day, d.workday])).toEqual([
      ['2014-10-01', false], // National Day
      ['2024-02-04', true], // make-up Sunday
      ['2024-02-12', false], // Spring Festival Monday
      ['2024-10-12', true], // make-up Saturday
      ['2025-01-26', true], // make-up Sunday before the 2025 Spring Festival
      ['2027-12-31', true], // the table runs to the end of next year
    ]);
    const pairs: [string, string][] = [
      ['2014-09-30', '2014-10-10'],
      ['2019-12-31', '2020-02-10'],
      ['2023-09-28', '2023-10-09'],
      ['2025-01-20', '2025-02-10'],
      ['2025-09-30', '2025-10-11'],
      ['2026-02-13', '2026-02-28'],
    ];
    for (const [a, b] of pairs) {
      const [row] = await db.query<{ n: number }>(
        `SELECT wb.workday_no - wa.workday_no AS n FROM workdays wa, workdays wb WHERE wa.day = $1 AND wb.day = $2`,
        [a, b],
      );
      expect(row?.n, `${a} → ${b}`).toBe(calendar.workdaysBetween(a, b));
    }
  });

  it('a metrics failure leaves the run loaded; the report computes the missing metrics later', async () => {
    await writeQualityDrop(env.config.dropDir, calendar);
    await db.query('ALTER TABLE quality_metrics RENAME TO quality_metrics_away');
    const { summary } = await env.run(db);
    expect(summary.status).toBe('succeeded');
    expect(await db.query('SELECT * FROM quality_runs')).toEqual([]);
    await db.query('ALTER TABLE quality_metrics_away RENAME TO quality_metrics');
    const report = await gatherReport(db, env.catalog, {
      run: summary.runId,
      catalogDir: env.config.catalogDir,
    });
    expect(report.resources.find((r) => r.resource === 'xzcf')).toMatchObject({
      read: EXPECTED.xzcf.read,
      late: EXPECTED.xzcf.late,
    });
    expect(await db.query('SELECT run_id FROM quality_runs')).toHaveLength(1);
  });

  it('counts files rejected whole under the department their template or their name tells, never by substring', async () => {
    const incoming = join(env.config.dropDir, 'incoming');
    mkdirSync(incoming, { recursive: true });
    // fgw's penalty template, sent back empty: rejected whole (header, no data rows); its title names fgw
    await writeTemplate(env.catalog, 'xzcf', join(incoming, '三月报送.xlsx'), { department: 'fgw' });
    const garbage = '这不是表头,也不是\n1,2\n';
    // the name tells: an alias of rsj and a resource's name without 信息
    writeFileSync(join(incoming, '界首市人社局_行政处罚_202403.csv'), garbage);
    // the name tells the department only
    writeFileSync(join(incoming, '应急管理局_三月.csv'), `${garbage}\n`);
    // a longer name that contains scjgj's is not scjgj's; two departments named tell neither
    writeFileSync(join(incoming, '界首市市场监督管理局颍南所_xzcf_202403.csv'), `${garbage}\n\n`);
    writeFileSync(join(incoming, '法院_税务局_xzcf.csv'), `${garbage}\n\n\n`);
    // a type the reader does not take is not opened again: its name tells
    writeFileSync(join(incoming, '税务局_行政处罚信息_202403.pdf'), '%PDF-1.4');
    const { summary } = await env.run(db);
    const files = await db.query<{
      name: string;
      status: string;
      department: string | null;
      resources: string[];
    }>('SELECT name, status, department, resources FROM drop_files ORDER BY name');
    expect(files.every((f) => f.status === 'rejected')).toBe(true);
    const byName = Object.fromEntries(files.map((f) => [f.name, [f.department, f.resources]]));
    expect(byName).toEqual({
      '三月报送.xlsx': ['fgw', ['xzcf']],
      '界首市人社局_行政处罚_202403.csv': ['rsj', ['xzcf']],
      '应急管理局_三月.csv': ['yjj', []],
      '界首市市场监督管理局颍南所_xzcf_202403.csv': [null, ['xzcf']],
      '法院_税务局_xzcf.csv': [null, ['xzcf']],
      '税务局_行政处罚信息_202403.pdf': ['swj', ['xzcf']],
    });

    const report = await gatherReport(db, env.catalog, {
      run: summary.runId,
      catalogDir: env.config.catalogDir,
    });
    const line = (department: string) => report.departments.find((d) => d.department === department);
    // every file rejected, nothing read: the departments appear all the same, with their rejected files
    expect(line('fgw')).toMatchObject({ read: 0, rejectedFiles: 1, silentResources: [] });
    expect(line('fgw')?.resources).toEqual([
      expect.objectContaining({ resource: 'xzcf', read: 0, rejectedFiles: 1, silent: false }),
    ]);
    expect(line('rsj')).toMatchObject({ read: 0, rejectedFiles: 1, silentResources: [] });
    // yjj's file told no resource: it counts for the department, and yjj is still silent on xzcf
    expect(line('yjj')).toMatchObject({ read: 0, rejectedFiles: 1, silentResources: ['xzcf'] });
    expect(line('scjgj')).toMatchObject({ read: 0, rejectedFiles: 0, silentResources: ['xzcf'] });
    expect(report.departmentScope.resources).toEqual([{ resource: 'xzcf', name: '行政处罚信息' }]);
    expect(line('swj')).toMatchObject({ read: 0, rejectedFiles: 1, silentResources: [] });
    expect(report.departments.reduce((n, d) => n + d.rejectedFiles, 0)).toBe(4);
    // the two whose department cannot be told are counted apart, and said in the HTML
    expect(report.departmentScope.untoldRejectedFiles).toBe(2);
    expect(renderHtml(report)).toContain('无法判断报送部门的整体退回文件: 2');
  });
});
