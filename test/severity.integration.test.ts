import { existsSync } from 'node:fs';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Warehouse } from '../lib/db.js';
import type { Issue } from '../lib/types.js';
import { gatherReport } from '../pipelines/report/data.js';
import { drop, enterprise, PENALTY_2019_HEADER, penalty2019 } from './fixtures/match/data.js';
import { expectLedgerBalanced, makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

/**
 * Issue 12, item 7: a finding of severity `warn` loads its row, flagged (the record's `warnings`), counted in
 * completeness and listed as 提示 in the feedback workbook; a finding of severity `reject` quarantines the row.
 */
describe(`severity: warn loads and flags, reject quarantines (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;

  beforeAll(async () => {
    env = await makeEnv('severity');
    db = await env.open();
  });
  afterAll(async () => {
    await db.close();
    await env.cleanup();
  });

  /** Each sheet of a workbook as its rows of cell texts (header row first). */
  async function readBook(path: string): Promise<Map<string, string[][]>> {
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(path);
    const sheets = new Map<string, string[][]>();
    book.eachSheet((sheet) => {
      const rows: string[][] = [];
      sheet.eachRow((row) => {
        rows.push(
          (row.values as unknown[]).slice(1).map((v) => (v === null || v === undefined ? '' : String(v))),
        );
      });
      sheets.set(sheet.name, rows);
    });
    return sheets;
  }

  const archive = () => join(env.config.dropDir, 'archive');
  const subject = enterprise('界首市提示测试有限公司');
  const header = [...PENALTY_2019_HEADER, 'CF_GSJZQ', 'CF_ZT'];
  const jdrq = header.indexOf('CF_JDRQ');

  it('loads a row whose only defects warn, flags it, counts it, and lists it as 提示; a reject defect quarantines', async () => {
    const row = (doc: string, gsjzq = '', zt = '') => [...penalty2019(doc, subject), gsjzq, zt];
    const clean = row('701', '2027-03-01', '有效');
    const warnedDate = row('702', '2024-02-30'); // 公示截止期: no such day (warn)
    const warnedState = row('703', '', '暂停'); // 当前状态: not in its code list (warn)
    const rejected = row('704', '2024-02-31'); // and a reject defect besides: 处罚决定日期 no such day
    rejected[jdrq] = '2024-02-30';
    await drop(env.config.dropDir, '提示与退回.csv', header, [clean, warnedDate, warnedState, rejected]);
    const result = await env.run(db);
    expect(result.summary.status).toBe('succeeded');
    await expectLedgerBalanced(db);

    // loaded and flagged: the bad value is not stored, the warning keeps it as sent
    const records = await db.query<{
      cf_wsh: string;
      cf_gsjzq: string | null;
      cf_zt: string | null;
      warnings: Issue[] | null;
    }>(`SELECT cf_wsh, cf_gsjzq::text, cf_zt, warnings FROM v_xzcf ORDER BY cf_wsh`);
    expect(records.map((r) => r.cf_wsh)).toEqual([
      '界市监罚〔2024〕701号',
      '界市监罚〔2024〕702号',
      '界市监罚〔2024〕703号',
    ]);
    expect(records[0]).toMatchObject({ cf_gsjzq: '2027-03-01', cf_zt: '1', warnings: null });
    expect(records[1]?.cf_gsjzq).toBeNull();
    expect(records[1]?.warnings).toEqual([
      expect.objectContaining({
        field: 'CF_GSJZQ',
        value: '2024-02-30',
        messageZh: expect.stringContaining('2024-02-30'),
      }),
    ]);
    expect(records[2]?.warnings).toEqual([
      expect.objectContaining({
        field: 'CF_ZT',
        value: '暂停',
        messageZh: expect.stringContaining('当前状态'),
      }),
    ]);
    // the public view shows the warnings without the values as sent
    const [published] = await db.query<{ warnings: Issue[] }>(
      `SELECT warnings FROM v_xzcf_public WHERE cf_wsh = '界市监罚〔2024〕702号'`,
    );
    expect(published?.warnings).toEqual([expect.objectContaining({ field: 'CF_GSJZQ' })]);
    expect(published?.warnings[0]).not.toHaveProperty('value');

    // the reject defect quarantines, its warning listed beside it
    const quarantined = await db.query<{ row_number: number; issues: Issue[] }>(
      `SELECT row_number, issues FROM quarantine WHERE resource = 'xzcf'`,
    );
    expect(quarantined).toHaveLength(1);
    expect(quarantined[0]?.row_number).toBe(5);
    expect(quarantined[0]?.issues.map((i) => i.field)).toEqual(['CF_JDRQ', 'CF_GSJZQ']);

    // counted in completeness: two records warned, one on each field, of the four rows
    const runId = result.summary.runId;
    const warned = await db.query<{ field: string; value: string; base: string }>(
      `SELECT field, sum(value) AS value, sum(base) AS base FROM quality_metrics
       WHERE run_id = $1 AND resource = 'xzcf' AND dimension = 'completeness' AND measure = 'warned'
       GROUP BY field ORDER BY field`,
      [runId],
    );
    expect(warned.map((w) => [w.field, Number(w.value), Number(w.base)])).toEqual([
      ['CF_GSJZQ', 1, 4],
      ['CF_ZT', 1, 4],
    ]);

    // the quality report's completeness table counts missing cells only: a warned row is not a missing one
    const report = await gatherReport(db, env.catalog, { run: runId });
    const lines = report.completeness.filter((c) => c.resource === 'xzcf');
    expect(lines.find((c) => c.field === 'CF_WSH')).toMatchObject({ missing: 0, rows: 4 });
    expect(lines.map((c) => c.field)).not.toContain('CF_GSJZQ');

    // listed in the feedback workbook: 退回数据 the rejected row, 提示 the two warned ones
    const book = await readBook(join(archive(), '提示与退回.退回说明.xlsx'));
    expect([...book.keys()]).toEqual(['退回数据', '提示', '说明']);
    expect(
      book
        .get('退回数据')
        ?.slice(1)
        .map((r) => r[0]),
    ).toEqual(['5']);
    const hints = book.get('提示') ?? [];
    expect(hints[0]).toEqual(['工作表', '原行号', '主体名称', '提示说明']);
    expect(hints.slice(1).map((r) => [r[1], r[2]])).toEqual([
      ['3', subject.name],
      ['4', subject.name],
    ]);
    expect(hints[1]?.[3]).toMatch(/^1\. .*公示截止期.*2024-02-30/);
    expect(hints[2]?.[3]).toMatch(/^1\. .*当前状态.*暂停/);
    expect(book.get('说明')?.flat()).toEqual(expect.arrayContaining(['退回行数：1', '提示行数：2']));
  });

  it('writes a 提示说明 workbook without 退回数据 for a file whose rows only warn', async () => {
    const only = [...penalty2019('801', subject), '2024-13-01'];
    await drop(env.config.dropDir, '只有提示.csv', header, [only]);
    const result = await env.run(db);
    expect(result.summary.status).toBe('succeeded');
    expect(existsSync(join(archive(), '只有提示.退回说明.xlsx'))).toBe(false);
    const book = await readBook(join(archive(), '只有提示.提示说明.xlsx'));
    expect([...book.keys()]).toEqual(['提示', '说明']);
    expect(
      book
        .get('提示')
        ?.slice(1)
        .map((r) => r[1]),
    ).toEqual(['2']);
    expect(book.get('说明')?.flat()).toEqual(expect.arrayContaining(['退回行数：0', '提示行数：1']));
  });

  it('loads a register of the seven columns with no row rejected, and a bad optional value as a warning', async () => {
    const a = enterprise('界首市七列登记有限公司');
    const b = enterprise('界首市注册号有误有限公司');
    const c = enterprise('界首市日期有误有限公司');
    const seven = ['统一社会信用代码', '企业名称', '注册号', '法定代表人', '成立日期', '登记状态', '住所'];
    await drop(env.config.dropDir, '企业登记七列.csv', seven, [
      [a.uscc, a.name, a.regNo, '张伟', '2010-05-01', '存续', '界首市东城区人民路 1 号'],
      [b.uscc, b.name, '12345', '李娜', '2012-06-01', '存续', '界首市西城区'],
      [c.uscc, c.name, c.regNo, '王强', '2015-02-30', '在业', '界首市南城区'],
    ]);
    const result = await env.run(db);
    expect(result.summary.status).toBe('succeeded');
    const files = await db.query<{ rows_read: number; rows_quarantined: number }>(
      `SELECT rows_read::integer, rows_quarantined::integer FROM drop_files WHERE name = '企业登记七列.csv'`,
    );
    expect(files).toEqual([{ rows_read: 3, rows_quarantined: 0 }]);
    const register = await db.query<{ name: string; reg_no: string | null; reg_date: string | null }>(
      `SELECT name, reg_no, reg_date::text FROM enterprises WHERE uscc = ANY($1::text[])`,
      [[a.uscc, b.uscc, c.uscc]],
    );
    expect(register).toHaveLength(3);
    expect(register).toEqual(
      expect.arrayContaining([
        { name: a.name, reg_no: a.regNo, reg_date: '2010-05-01' },
        { name: b.name, reg_no: null, reg_date: '2012-06-01' },
        { name: c.name, reg_no: c.regNo, reg_date: null },
      ]),
    );
    const flagged = await db.query<{ qy_shxym: string; qy_mc: string; fields: string[] }>(
      `SELECT qy_shxym, qy_mc, (SELECT array_agg(w ->> 'field') FROM jsonb_array_elements(warnings) w) AS fields
       FROM v_enterprise WHERE warnings IS NOT NULL AND uscc = ANY($1::text[]) ORDER BY qy_shxym COLLATE "C"`,
      [[a.uscc, b.uscc, c.uscc]],
    );
    expect(flagged).toEqual(
      [
        { qy_shxym: b.uscc, qy_mc: b.name, fields: ['QY_ZCH'] },
        { qy_shxym: c.uscc, qy_mc: c.name, fields: ['QY_CLRQ'] },
      ].sort((x, y) => (x.qy_shxym < y.qy_shxym ? -1 : 1)),
    );
  });
});
