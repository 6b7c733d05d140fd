import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCalendar } from '../lib/calendar.js';
import type { Warehouse } from '../lib/db.js';
import type { OverdueLine, QualityReport, QuarantineSample } from '../pipelines/report/data.js';
import { escapeHtml, renderHtml } from '../pipelines/report/html.js';
import { writeReports } from '../pipelines/report/index.js';
import { writeXlsx } from '../pipelines/report/xlsx.js';
import { CELL_MAX_CHARS, cellText } from '../pipelines/xlsx-cells.js';
import { chinaToday, EXPECTED, writeQualityDrop } from './fixtures/quality/dataset.js';
import { CHROMIUM, SKIP_BROWSER } from './helpers/chromium.js';
import { runCli } from './helpers/cli.js';
import { makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';
import { asRead, expectSafeWorkbook, HOSTILE, unzipText } from './helpers/workbook-cells.js';

describe(`quality reports (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  let report: QualityReport;
  let files: { html: string; xlsx: string; json: string; htmlEn: string };
  let runId: number;

  beforeAll(async () => {
    env = await makeEnv('report');
    db = await env.open();
    await writeQualityDrop(env.config.dropDir, loadCalendar());
    const { summary } = await env.run(db);
    runId = summary.runId;
    const out = join(env.dir, 'reports');
    const written = await writeReports(db, env.catalog, { outDir: out });
    report = written.report;
    const en = await writeReports(db, env.catalog, { outDir: out, formats: ['html'], lang: 'en' });
    files = {
      html: written.files.html as string,
      xlsx: written.files.xlsx as string,
      json: written.files.json as string,
      htmlEn: en.files.html as string,
    };
  });

  afterAll(async () => {
    await db?.close();
    await env?.cleanup();
  });

  it('writes the JSON contract with the data set’s known figures', () => {
    const json = JSON.parse(readFileSync(files.json, 'utf8')) as QualityReport;
    expect(json.reportVersion).toBe(1);
    expect(json.scope).toMatchObject({ runId, runs: [runId] });
    expect(Date.parse(json.generatedAt)).not.toBeNaN();
    expect(Date.parse(json.scope.from)).toBeLessThanOrEqual(Date.parse(json.scope.to));
    expect(json.totals).toMatchObject(EXPECTED.totals);
    for (const resource of ['enterprise', 'xzcf'] as const) {
      const x = EXPECTED[resource];
      expect(json.resources.find((r) => r.resource === resource)).toMatchObject({
        read: x.read,
        loaded: x.loaded,
        quarantined: x.quarantined,
        duplicates: x.duplicates,
        matched: x.matched,
        unmatched: x.unmatched,
        onTime: x.onTime,
        late: x.late,
      });
    }
    expect(json.resources.find((r) => r.resource === 'xzcf')?.publishLate).toBe(EXPECTED.xzcf.publishLate);
    for (const [department, x] of Object.entries(EXPECTED.departments)) {
      const d = json.departments.find((l) => l.department === department);
      expect(d, department).toMatchObject({ read: x.read, quarantined: x.quarantined, late: x.late });
      expect(typeof d?.score).toBe('number');
    }
    // the ranking is by score, the two that delivered first (the silent ones follow, unscored), and swj's
    // late-report rate (2 of 4) is not above 50%
    expect(json.departments.map((d) => d.rank)).toEqual(json.departments.map((_, i) => i + 1));
    expect(
      json.departments
        .slice(0, 2)
        .map((d) => d.department)
        .sort(),
    ).toEqual(['scjgj', 'swj']);
    expect(json.departments.slice(2).every((d) => d.score === null && d.read === 0)).toBe(true);
    expect(json.departments[0]!.score!).toBeGreaterThanOrEqual(json.departments[1]!.score!);
    expect(json.departments.every((d) => !d.watch)).toBe(true);
    expect(json.issues).toEqual(expect.arrayContaining(EXPECTED.issues));
    expect(json.issues.reduce((n, i) => n + i.count, 0)).toBe(4);
    expect(json.overdue.total).toBe(EXPECTED.xzcf.late);
    expect(json.overdue.rows).toHaveLength(EXPECTED.xzcf.late);
    expect(json.overdue.rows.filter((o) => o.publishLate)).toHaveLength(1);
    expect(json.quarantineSamples.total).toBe(4);
    expect(json.matching.find((m) => m.resource === 'xzcf' && m.method === 'uscc')?.count).toBe(14);
    expect(json.completeness.find((c) => c.resource === 'xzcf' && c.field === 'CF_XDR_MC')).toMatchObject({
      missing: 1,
      rows: 19,
    });
    // consistency: the two late rows that carry a register code under another name (matching flags them)
    expect(json.consistency.find((c) => c.resource === 'xzcf')).toMatchObject({
      nameMismatch: 2,
      outOfRegion: 0,
      conflictingVersions: 0,
    });
    expect(json.trends.map((t) => t.runId)).toEqual([runId]);
    expect(json.rates.lateRate).toBeCloseTo(6 / 26, 10);
  });

  it('carries the department × resource matrix, each cell the figures of the rows loaded and rejected', async () => {
    const json = JSON.parse(readFileSync(files.json, 'utf8')) as QualityReport;
    const cell = (department: string, resource: string) =>
      json.departments
        .find((d) => d.department === department)
        ?.resources.find((c) => c.resource === resource);
    // the warehouse's own rows, per department as written and resource: what the cells must add up to
    const loaded = await db.query<{ resource: string; department: string; n: string }>(
      `SELECT resource, department, count(*) AS n FROM records WHERE run_id = $1 GROUP BY resource, department`,
      [runId],
    );
    const loadedOf = (resource: string, name: string) =>
      Number(loaded.find((l) => l.resource === resource && l.department === name)?.n ?? 0);
    const rejected = await db.query<{ file: string; duplicate: boolean; n: string }>(
      `SELECT file, issues @> '[{"type":"duplicate-row"}]' AS duplicate, count(*) AS n
       FROM quarantine WHERE run_id = $1 GROUP BY file, duplicate`,
      [runId],
    );
    const rejectedOf = (file: string, duplicate: boolean) =>
      Number(rejected.find((r) => r.file === file && r.duplicate === duplicate)?.n ?? 0);
    expect(loadedOf('xzcf', '界首市市场监督管理局')).toBe(12);
    expect(cell('scjgj', 'xzcf')).toMatchObject({
      name: '行政处罚信息',
      read: 15,
      loaded: loadedOf('xzcf', '界首市市场监督管理局'),
      quarantined: rejectedOf('行政处罚-市场监管局.csv', false),
      duplicates: rejectedOf('行政处罚-市场监管局.csv', true),
      measured: 12,
      onTime: 8,
      late: 4,
      rejectedFiles: 0,
      silent: false,
    });
    expect(cell('scjgj', 'xzcf')?.complianceRate).toBeCloseTo(12 / 15, 12);
    expect(cell('scjgj', 'xzcf')?.lateRate).toBeCloseTo(4 / 12, 12);
    expect(cell('swj', 'xzcf')).toMatchObject({
      read: 5,
      loaded: loadedOf('xzcf', '国家税务总局界首市税务局'),
      quarantined: rejectedOf('行政处罚-税务局.csv', false),
      duplicates: 0,
      measured: 4,
      onTime: 2,
      late: 2,
    });
    expect(cell('swj', 'xzcf')?.lateRate).toBeCloseTo(2 / 4, 12);
    expect(cell('scjgj', 'enterprise')).toMatchObject({
      read: 10,
      loaded: 10,
      measured: 10,
      onTime: 10,
      late: 0,
    });
    expect(cell('scjgj', 'enterprise')?.complianceRate).toBe(1);
    // the cells add up to the department's line and to the resource table
    for (const d of json.departments) {
      expect(
        d.resources.reduce((n, c) => n + c.read, 0),
        d.department,
      ).toBe(d.read);
      expect(
        d.resources.reduce((n, c) => n + c.late, 0),
        d.department,
      ).toBe(d.late);
    }
    for (const r of json.resources) {
      const cells = json.departments.flatMap((d) => d.resources.filter((c) => c.resource === r.resource));
      expect(
        cells.reduce((n, c) => n + c.loaded, 0),
        r.resource,
      ).toBe(r.loaded);
      expect(
        cells.reduce((n, c) => n + c.measured, 0),
        r.resource,
      ).toBe(r.measured);
    }
  });

  it('names the silent departments: expected a resource of the scope, delivered nothing of it', () => {
    const json = JSON.parse(readFileSync(files.json, 'utf8')) as QualityReport;
    expect(json.departmentScope.resources.map((r) => r.resource)).toEqual(['enterprise', 'xzcf']);
    expect(json.departmentScope.note).toContain('行政处罚信息（xzcf）');
    // every catalog department that must deliver penalties or the register, but the two that did
    const expected = env.catalog.departments
      .filter((d) => !['scjgj', 'swj'].includes(d.code))
      .filter((d) => (d.resources ?? []).some((r) => r === 'xzcf' || r === 'enterprise'))
      .map((d) => d.code)
      .sort();
    expect(expected.length).toBeGreaterThan(3);
    const silent = json.departments.filter((d) => d.silentResources.length > 0);
    expect(silent.map((d) => d.department).sort()).toEqual(expected);
    const fgw = json.departments.find((d) => d.department === 'fgw');
    expect(fgw).toMatchObject({
      name: '界首市发展和改革委员会',
      read: 0,
      silentResources: ['xzcf'],
      score: null,
    });
    expect(fgw?.resources).toEqual([
      expect.objectContaining({ resource: 'xzcf', read: 0, loaded: 0, silent: true, lateRate: null }),
    ]);
    // a department that must deliver neither (公积金: nsxx only) is not named; the two that delivered are not silent
    expect(json.departments.find((d) => d.department === 'gjj')).toBeUndefined();
    expect(json.departments.find((d) => d.department === 'swj')?.silentResources).toEqual([]);
  });

  it('shows the matrix and the silent departments in the HTML and the XLSX', async () => {
    const html = readFileSync(files.html, 'utf8');
    const matrix = /<section id="matrix">([\s\S]*?)<\/section>/.exec(html)?.[1] ?? '';
    expect(matrix).toContain('<th>数据合规率</th>');
    const rowOf = (department: string, resource: string) =>
      [...matrix.matchAll(/<tr>([\s\S]*?)<\/tr>/g)]
        .map((m) => [...(m[1] ?? '').matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) => c[1]))
        .find((cells) => cells[0] === department && cells[1] === resource);
    expect(rowOf('界首市市场监督管理局', '行政处罚信息')).toEqual([
      '界首市市场监督管理局',
      '行政处罚信息',
      '15',
      '12',
      '2',
      '1',
      '12',
      '8',
      '4',
      '80.0%',
      '33.3%',
      '0',
      '',
    ]);
    expect(rowOf('界首市发展和改革委员会', '行政处罚信息')?.slice(-3)).toEqual(['—', '0', '未报送']);
    // the departments over 50% late are named first in the matrix too (swj made one here)
    const firstRow = (page: string) =>
      /<section id="matrix">[\s\S]*?<tbody>\s*<tr><td>(.*?)<\/td>/.exec(page)?.[1];
    expect(firstRow(html)).toBe('界首市市场监督管理局');
    const watched: QualityReport = {
      ...report,
      departments: report.departments.map((d) => (d.department === 'swj' ? { ...d, watch: true } : d)),
    };
    expect(firstRow(renderHtml(watched))).toBe('国家税务总局界首市税务局');
    const silent = /<section id="silent">([\s\S]*?)<\/section>/.exec(html)?.[1] ?? '';
    expect(silent).toContain('界首市发展和改革委员会');
    expect(silent).toContain('未报送部门的判定范围');
    expect(silent).not.toContain('国家税务总局界首市税务局');

    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(files.xlsx);
    const sheet = workbook.getWorksheet('部门×信息类别');
    if (!sheet) throw new Error('no matrix sheet');
    const header = (sheet.getRow(1).values as unknown[]).slice(1);
    expect(header).toEqual([
      '部门',
      '部门代码',
      '信息类别',
      '类别代码',
      '归集',
      '清洗入库',
      '不合规（隔离）',
      '重复',
      '参与时限统计',
      '按时',
      '迟报',
      '数据合规率',
      '迟报率',
      '整体退回文件',
      '未报送',
    ]);
    const find = (department: string, resource: string) => {
      let found: ExcelJS.Row | undefined;
      sheet.eachRow((row) => {
        if (row.getCell(2).value === department && row.getCell(4).value === resource) found = row;
      });
      if (!found) throw new Error(`no row ${department} ${resource}`);
      return found;
    };
    const swj = find('swj', 'xzcf');
    expect((swj.values as unknown[]).slice(5, 12)).toEqual([5, 4, 1, 0, 4, 2, 2]);
    expect(swj.getCell(13).value).toBe(0.5);
    expect(swj.getCell(13).numFmt).toBe('0.0%');
    expect(find('scjgj', 'xzcf').getCell(12).value as number).toBeCloseTo(0.8, 12);
    expect(find('scjgj', 'xzcf').getCell(12).numFmt).toBe('0.0%');
    expect(find('fgw', 'xzcf').getCell(15).value).toBe('未报送');
    const scorecard = workbook.getWorksheet('部门评分排名');
    let fgwSilent: unknown;
    scorecard?.eachRow((row) => {
      if (row.getCell(3).value === 'fgw') fgwSilent = row.getCell(15).value;
    });
    expect(fgwSilent).toBe('行政处罚信息');
  });

  it('writes the same figures into the XLSX, a sheet per dimension, styled and frozen', async () => {
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(files.xlsx);
    const names = workbook.worksheets.map((w) => w.name);
    expect(names).toEqual([
      '概览',
      '部门评分排名',
      '部门×信息类别',
      '各类信息归集情况',
      '完整性',
      '有效性',
      '唯一性',
      '一致性',
      '及时性',
      '企业关联',
      '超期清单',
      '隔离样例',
      '趋势',
      '按日趋势',
      '按月趋势',
      '指标说明',
    ]);
    const rowsOf = (name: string) => {
      const sheet = workbook.getWorksheet(name);
      if (!sheet) throw new Error(`no sheet ${name}`);
      const rows: unknown[][] = [];
      sheet.eachRow((row) => rows.push((row.values as unknown[]).slice(1)));
      return rows;
    };
    const resources = rowsOf('各类信息归集情况');
    const header = resources[0] as string[];
    for (const resource of ['enterprise', 'xzcf'] as const) {
      const line = resources.find((r) => r[1] === resource) as unknown[];
      const at = (title: string) => line[header.indexOf(title)];
      const x = EXPECTED[resource];
      expect([
        at('归集'),
        at('清洗入库'),
        at('不合规（隔离）'),
        at('重复'),
        at('未关联企业'),
        at('按时'),
        at('迟报'),
      ]).toEqual([x.read, x.loaded, x.quarantined, x.duplicates, x.unmatched, x.onTime, x.late]);
    }
    const scorecard = rowsOf('部门评分排名');
    for (const [department, x] of Object.entries(EXPECTED.departments)) {
      const line = scorecard.find((r) => r[2] === department) as unknown[];
      expect(line[7]).toBe(x.read);
      expect(line[8]).toBe(x.quarantined);
      expect(line[10]).toBe(x.late);
      expect(line[3]).toBe(report.departments.find((d) => d.department === department)?.score);
    }
    const validity = rowsOf('有效性').slice(1);
    for (const issue of EXPECTED.issues) {
      expect(validity.find((r) => r[2] === issue.type && (r[3] ?? '') === issue.field)?.[4], issue.type).toBe(
        issue.count,
      );
    }
    expect(rowsOf('超期清单')).toHaveLength(1 + EXPECTED.xzcf.late);
    expect(rowsOf('隔离样例')).toHaveLength(1 + 4);

    const sheet = workbook.getWorksheet('超期清单');
    expect(sheet?.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
    expect(sheet?.getRow(1).font?.bold).toBe(true);
    expect(sheet?.getRow(1).getCell(1).fill).toMatchObject({ type: 'pattern', pattern: 'solid' });
  });

  it('writes rates as numbers shown as percentages, and only Chinese headers in the Chinese workbook', async () => {
    const PERCENT_FORMAT = '0.0%';
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(files.xlsx);
    const summary = workbook.getWorksheet('概览');
    const item = (title: string) => {
      let found: ExcelJS.Cell | undefined;
      summary?.eachRow((row) => {
        if (row.getCell(1).value === title) found = row.getCell(2);
      });
      if (!found) throw new Error(`no summary row ${title}`);
      return found;
    };
    for (const [title, value] of [
      ['数据合规率', report.rates.complianceRate],
      ['迟报率', report.rates.lateRate],
      ['企业关联率', report.rates.matchRate],
    ] as const) {
      const cell = item(title);
      expect(typeof cell.value, title).toBe('number');
      expect(cell.value as number).toBeCloseTo(value as number, 12);
      expect(cell.numFmt, title).toBe(PERCENT_FORMAT);
    }
    // every rate column of every sheet: a number with the percentage format
    let rateCells = 0;
    for (const sheet of workbook.worksheets) {
      const header = (sheet.getRow(1).values as unknown[]).slice(1).map(String);
      header.forEach((title, i) => {
        if (!/(率|占比)$/.test(title)) return;
        sheet.eachRow((row, n) => {
          if (n === 1 || row.getCell(i + 1).value === null) return;
          expect(typeof row.getCell(i + 1).value, `${sheet.name} ${title}`).toBe('number');
          expect(row.getCell(i + 1).numFmt, `${sheet.name} ${title}`).toBe(PERCENT_FORMAT);
          rateCells++;
        });
      });
    }
    expect(rateCells).toBeGreaterThan(10);
    // headers: Chinese only (digits and the UTC+8 of a time note aside), in every sheet
    const english: string[] = [];
    for (const sheet of workbook.worksheets) {
      sheet.getRow(1).eachCell((cell) => {
        if (/[A-Za-z]/.test(String(cell.value).replace(/UTC\+8/g, '')))
          english.push(`${sheet.name}: ${cell.value}`);
      });
    }
    expect(english).toEqual([]);
    // the run kind reads in Chinese too
    const trends = workbook.getWorksheet('趋势');
    expect(trends?.getRow(2).getCell(2).value).toBe('手动运行');
  });

  it('shows every time in Asia/Shanghai and writes JSON times with their +08:00 offset', async () => {
    const json = JSON.parse(readFileSync(files.json, 'utf8')) as QualityReport;
    const times = [json.generatedAt, json.scope.from, json.scope.to, ...json.trends.map((p) => p.startedAt)];
    for (const time of times) expect(time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+08:00$/);
    // the same instants as before, written with the offset
    expect(Date.parse(json.scope.from)).toBe(Date.parse(report.scope.from));
    expect(Math.abs(Date.parse(json.generatedAt) - Date.now())).toBeLessThan(10 * 60_000);
    // 08:58 UTC is 16:58 in Jieshou, in the HTML and the XLSX
    const at = '2026-12-06T08:58:00.000Z';
    const shifted: QualityReport = {
      ...report,
      generatedAt: at,
      scope: { ...report.scope, from: at, to: at },
      trends: report.trends.map((p) => ({ ...p, startedAt: at })),
    };
    for (const lang of ['zh', 'en'] as const) {
      const page = renderHtml(shifted, lang);
      expect(page).toContain('2026-12-06 16:58');
      expect(page).not.toContain('08:58');
    }
    const xlsx = join(env.dir, 'shifted.xlsx');
    await writeXlsx(shifted, xlsx, 'zh');
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(xlsx);
    const summary: Record<string, unknown> = {};
    workbook.getWorksheet('概览')?.eachRow((row) => {
      summary[String(row.getCell(1).value)] = row.getCell(2).value;
    });
    expect([summary['自'], summary['至'], summary['生成时间']]).toEqual([
      '2026-12-06 16:58:00',
      '2026-12-06 16:58:00',
      '2026-12-06 16:58:00',
    ]);
    expect(workbook.getWorksheet('趋势')?.getRow(2).getCell(3).value).toBe('2026-12-06 16:58');
  });

  it('draws an empty chart with a "no data" note', () => {
    const empty: QualityReport = {
      ...report,
      departments: [],
      trends: [],
      trendsByDay: [],
      trendsByMonth: [],
      resources: [],
      matching: [],
    };
    for (const [lang, note] of [
      ['zh', '暂无数据'],
      ['en', 'No data'],
    ] as const) {
      const page = renderHtml(empty, lang);
      const charts = [...page.matchAll(/<div class="chart">([\s\S]*?<\/svg>)/g)].map((m) => m[1] ?? '');
      expect(charts).toHaveLength(6);
      for (const chart of charts) expect(chart).toContain(note);
    }
    // a chart with data carries no note
    expect(renderHtml(report, 'zh')).not.toContain('暂无数据');
  });

  it('never writes a text a spreadsheet would run as a formula', async () => {
    expect(cellText('=1+2')).toBe("'=1+2");
    expect(cellText('+86 558')).toBe("'+86 558");
    expect(cellText('-1')).toBe("'-1");
    expect(cellText('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(cellText('界首市=')).toBe('界首市=');
    // the subject named "=HYPERLINK(…)" is late: it is in the overdue sheet, as text behind an apostrophe
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(files.xlsx);
    const names: unknown[] = [];
    workbook.getWorksheet('超期清单')?.eachRow((row) => names.push(row.getCell(6).value));
    expect(names).toContain(`'${EXPECTED.formulaName}`);
    expect(names).not.toContain(EXPECTED.formulaName);
    // and in the file itself: no formula anywhere, the text stored as a string
    const entries = await unzipText(files.xlsx);
    const sheets = [...entries].filter(([name]) => name.startsWith('xl/worksheets/sheet'));
    expect(sheets.length).toBe(16);
    for (const [name, xml] of sheets) expect(xml, name).not.toMatch(/<f[ >]/);
    const strings = entries.get('xl/sharedStrings.xml') ?? '';
    expect(strings).toContain('&apos;=HYPERLINK(&quot;http://example.invalid&quot;,&quot;点击&quot;)');
    expect(strings).not.toMatch(/<t[^>]*>=HYPERLINK/);
  });

  it("writes the departments' hostile text as safe cells: no formula, no cell past 32,767, valid XML", async () => {
    // a department's names and a quarantined row's reasons are the departments' text: any of these can arrive
    const [late] = report.overdue.rows;
    const [sample] = report.quarantineSamples.rows;
    expect(late && sample).toBeTruthy();
    const hostile: QualityReport = {
      ...report,
      departments: report.departments.map((d, i) => (i === 0 ? { ...d, name: HOSTILE.dde } : d)),
      overdue: {
        ...report.overdue,
        rows: [
          { ...(late as OverdueLine), subjectName: HOSTILE.fullWidth, naturalKey: HOSTILE.at },
          { ...(late as OverdueLine), subjectName: HOSTILE.nul, naturalKey: HOSTILE.minus },
          { ...(late as OverdueLine), subjectName: HOSTILE.controls, naturalKey: HOSTILE.tab },
        ],
      },
      quarantineSamples: {
        ...report.quarantineSamples,
        rows: [
          { ...(sample as QuarantineSample), file: HOSTILE.hyperlink, sheet: HOSTILE.carriageReturn },
          {
            ...(sample as QuarantineSample),
            file: '行政处罚.csv',
            issues: [{ type: 'type-error', field: null, message: 'x', messageZh: HOSTILE.long }],
          },
        ],
      },
    };
    const file = join(env.dir, 'hostile.xlsx');
    await writeXlsx(hostile, file);
    const texts = [...(await expectSafeWorkbook(file)).values()].flat();
    for (const value of [HOSTILE.dde, HOSTILE.fullWidth, HOSTILE.at, HOSTILE.minus, HOSTILE.hyperlink]) {
      expect(texts, value).toContain(`'${value}`);
    }
    expect(texts).toContain(asRead(`'${HOSTILE.tab}`));
    expect(texts).toContain(asRead(`'${HOSTILE.carriageReturn}`));
    expect(texts).toContain('违法\uFFFD事实');
    expect(texts).toContain('处罚\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD依据\uFFFD\uFFFD');
    const reasons = texts.filter((t) => t.includes('已截断，原文共'));
    expect(reasons).toHaveLength(1);
    expect(reasons[0]?.length).toBeLessThanOrEqual(CELL_MAX_CHARS);
  });

  it('writes one self-contained HTML page with the same figures, escaped, and SVG charts', () => {
    const html = readFileSync(files.html, 'utf8');
    const figure = (id: string) => new RegExp(`data-figure="${id}"><div class="v">([^<]*)<`).exec(html)?.[1];
    expect(figure('read')).toBe(String(EXPECTED.totals.read));
    expect(figure('loaded')).toBe(String(EXPECTED.totals.inserted));
    expect(figure('quarantined')).toBe(String(EXPECTED.totals.quarantined));
    expect(figure('duplicates')).toBe(String(EXPECTED.totals.duplicates));
    expect(figure('lateRate')).toBe(`${((6 / 26) * 100).toFixed(1)}%`);
    // the resources table: the penalties' row with the known counts
    const row =
      /<tr><td>行政处罚信息 \(xzcf\)<\/td>((?:<td class="n">[^<]*<\/td>)+)<\/tr>/.exec(html)?.[1] ?? '';
    const cells = [...row.matchAll(/<td class="n">([^<]*)<\/td>/g)].map((m) => m[1]);
    const x = EXPECTED.xzcf;
    expect(cells.slice(0, 9)).toEqual(
      [
        x.read,
        x.loaded,
        x.quarantined,
        x.duplicates,
        x.matched,
        x.unmatched,
        x.onTime,
        x.late,
        x.publishLate,
      ].map(String),
    );
    // charts: six inline SVGs rendered on the server; nothing to fetch, no script
    expect(html.match(/<svg /g)?.length).toBe(6);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?https?:/i);
    expect(html).not.toMatch(/<link /i);
    // the subject named "<script>…" is in the overdue list as text
    expect(html).toContain(escapeHtml(EXPECTED.markupName));
    expect(html).toContain('超期报送清单');
    expect(html).toContain('市市场监督管理局');
    const english = readFileSync(files.htmlEn, 'utf8');
    expect(english).toContain('Compliance rate');
    expect(english).toContain('<html lang="en">');
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    // a department as written (not in the catalog) reaches the charts' SVG too: escaped there as well
    const hostile = {
      ...report,
      departments: report.departments.map((d) => ({
        ...d,
        name: `<script>alert("${d.department}")</script>`,
      })),
    };
    const page = renderHtml(hostile, 'zh');
    expect(page).not.toMatch(/<script/i);
    expect(page).toContain('&lt;script&gt;alert(');
  });

  it.skipIf(SKIP_BROWSER)(
    `opens in headless Chromium with no console error and its charts drawn${SKIP_BROWSER ? ' (SKIPPED: no chromium found and CI unset; set GUIJI_CHROMIUM)' : ''}`,
    async () => {
      if (!CHROMIUM)
        throw new Error('CI is set but no chromium was found (GUIJI_CHROMIUM, /usr/bin/chromium)');
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      try {
        const page = await browser.newPage();
        const problems: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
        });
        page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
        page.on('request', (r) => {
          if (!r.url().startsWith('file:')) problems.push(`request: ${r.url()}`);
        });
        await page.goto(pathToFileURL(files.html).href, { waitUntil: 'load' });
        const charts = await page.$$eval('.chart svg', (svgs) =>
          svgs.map((s) => ({
            w: s.getBoundingClientRect().width,
            shapes: s.querySelectorAll('path, rect, text').length,
          })),
        );
        expect(charts).toHaveLength(6);
        for (const c of charts) {
          expect(c.w).toBeGreaterThan(100);
          expect(c.shapes).toBeGreaterThan(3);
        }
        // tables fit: no column squeezed to one character a line
        const narrow = await page.$$eval('th, td', (cells) =>
          cells
            .filter((c) => (c.textContent ?? '').trim().length >= 2)
            .map((c) => {
              const style = (
                globalThis as unknown as {
                  getComputedStyle(e: unknown): {
                    paddingLeft: string;
                    paddingRight: string;
                    fontSize: string;
                  };
                }
              ).getComputedStyle(c);
              const inner =
                c.getBoundingClientRect().width -
                parseFloat(style.paddingLeft) -
                parseFloat(style.paddingRight);
              return { text: (c.textContent ?? '').trim(), inner, em: parseFloat(style.fontSize) };
            })
            .filter((c) => c.inner < 1.9 * c.em)
            .map((c) => `${c.text} (${c.inner.toFixed(0)}px)`),
        );
        expect(narrow).toEqual([]);
        const text = (await page.textContent('#headline')) ?? '';
        expect(text).toContain(String(EXPECTED.totals.read));
        expect(await page.$$eval('script', (s) => s.length)).toBe(0);
        expect(problems).toEqual([]);
      } finally {
        await browser.close();
      }
    },
  );

  it('guiji report: writes the formats asked for into --out, exits 2 on a bad format or run', async () => {
    const out = join(env.dir, 'cli-reports');
    await db.close(); // the embedded warehouse belongs to one process at a time
    try {
      const ok = await runCli(['report', '--format', 'json,html', '--out', out, '--json'], env.env);
      expect(ok.code, ok.stderr).toBe(0);
      const result = JSON.parse(ok.stdout) as { files: Record<string, string>; report: QualityReport };
      expect(Object.keys(result.files).sort()).toEqual(['html', 'json']);
      expect(existsSync(result.files.json as string)).toBe(true);
      expect(result.report.totals).toMatchObject(EXPECTED.totals);
      // a second report (since today): the folder's index.html lists both, newest first, with their files
      const since = await runCli(
        ['report', '--since', chinaToday(), '--format', 'json,xlsx', '--out', out, '--json'],
        env.env,
      );
      expect(since.code, since.stderr).toBe(0);
      const index = readFileSync(join(out, 'index.html'), 'utf8');
      expect((JSON.parse(since.stdout) as { index: string }).index).toBe(join(out, 'index.html'));
      const listed = [...index.matchAll(/<tr data-report="([^"]+)">([\s\S]*?)<\/tr>/g)];
      expect(listed.map((m) => m[1])).toEqual([
        `quality-since-${chinaToday()}-run-${runId}`,
        `quality-run-${runId}`,
      ]);
      const links = (row: string) => [...row.matchAll(/href="([^"]+)"/g)].map((m) => m[1] ?? '');
      expect(links(listed[0]?.[2] ?? '')).toEqual([
        `quality-since-${chinaToday()}-run-${runId}.xlsx`,
        `quality-since-${chinaToday()}-run-${runId}.json`,
      ]);
      expect(links(listed[1]?.[2] ?? '')).toEqual([`quality-run-${runId}.html`, `quality-run-${runId}.json`]);
      for (const href of links(index)) expect(existsSync(join(out, href))).toBe(true);
      expect(listed[1]?.[2]).toContain('成功');
      const bad = await runCli(['report', '--format', 'pdf', '--out', out], env.env);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('unknown format "pdf"');
      const missing = await runCli(['report', '--run', '999999', '--out', out], env.env);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('no run 999999');
    } finally {
      db = await env.open();
    }
  });

  it('--since adds up every run since a date; trends keep one point per run', async () => {
    const second = await env.run(db); // nothing new in the drop folder: a run that reads nothing
    const written = await writeReports(db, env.catalog, {
      outDir: join(env.dir, 'since'),
      since: chinaToday(),
      formats: ['json'],
    });
    expect(written.report.scope.runs).toEqual([runId, second.summary.runId]);
    expect(written.report.scope.runId).toBe(second.summary.runId);
    expect(written.report.totals).toMatchObject(EXPECTED.totals);
    expect(written.report.resources.find((r) => r.resource === 'xzcf')?.late).toBe(EXPECTED.xzcf.late);
    expect(written.report.trends.map((t) => t.runId)).toEqual([runId, second.summary.runId]);
    expect(written.files.json).toMatch(/quality-since-\d{4}-\d{2}-\d{2}-run-\d+\.json$/);
    const latest = await writeReports(db, env.catalog, { outDir: join(env.dir, 'since'), formats: ['json'] });
    expect(latest.report.totals.read).toBe(0);
  });
});
