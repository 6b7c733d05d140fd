import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Warehouse } from '../lib/db.js';
import { writeFeedbackWorkbook } from '../pipelines/feedback/workbook.js';
import { CELL_MAX_CHARS, truncationMarker } from '../pipelines/xlsx-cells.js';
import { drop, enterprise, PENALTY_2019_HEADER, penalty2019 } from './fixtures/match/data.js';
import { makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';
import { asRead, expectSafeWorkbook, FORMULA_LIKE, HOSTILE } from './helpers/workbook-cells.js';

/**
 * The feedback workbook goes back to the department that sent the file: every rejected row as it was sent.
 * What a clerk (or whoever filled the file) sent must come back readable, and must never run as a formula
 * when the clerk opens or edits it, nor make a workbook Excel refuses to open.
 */
describe(`the feedback workbook's cells (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;

  beforeAll(async () => {
    env = await makeEnv('feedbackcells');
    db = await env.open();
  });
  afterAll(async () => {
    await db.close();
    await env.cleanup();
  });

  it('hands back formula-like, overlong and unreadable values as safe, readable text', async () => {
    const sha256 = 'f'.repeat(64);
    const reject = async (
      sheet: string,
      row: number,
      raw: Record<string, string>,
      messageZh = '处罚决定日期不是有效日期',
    ) => {
      const issues = [{ type: 'type-error', field: 'CF_JDRQ', message: 'not a date', messageZh }];
      await db.query(
        `INSERT INTO quarantine (row_ref, source, file, sha256, sheet, row_number, raw, issues, run_id)
         VALUES ($1, 'drops', '行政处罚.xlsx', $2, $3, $4, $5::jsonb, $6::jsonb, 1)`,
        [`${sha256}:${sheet}:${row}`, sha256, sheet, row, JSON.stringify(raw), JSON.stringify(issues)],
      );
    };
    await reject('Sheet1', 2, {
      CF_SY: HOSTILE.hyperlink,
      CF_WFXW: HOSTILE.dde,
      CF_YJ: HOSTILE.at,
      CF_NR: HOSTILE.minus,
    });
    await reject('Sheet1', 3, {
      CF_SY: HOSTILE.long,
      CF_WFXW: HOSTILE.controls,
      CF_YJ: HOSTILE.fullWidth,
      CF_NR: HOSTILE.tab,
    });
    // a title the file had beyond the known ones, and a sheet named like a formula
    await reject('=工作表', 2, { CF_SY: HOSTILE.carriageReturn, '@备注': '多余的列' });
    // a reason quoting the whole overlong value (a stray quote once swallowed a file into one cell)
    await reject('=工作表', 3, { CF_SY: '文书' }, `文书号为空：${HOSTILE.long}`);

    const archive = join(env.dir, 'archive');
    mkdirSync(archive, { recursive: true });
    const file = await writeFeedbackWorkbook(db, sha256, join(archive, '行政处罚.xlsx'), [
      'CF_SY',
      'CF_WFXW',
      'CF_YJ',
      'CF_NR',
    ]);
    expect(file).toBe(join(archive, '行政处罚.退回说明.xlsx'));
    const texts = (await expectSafeWorkbook(file)).get('退回数据') ?? [];

    for (const value of FORMULA_LIKE) expect(texts, JSON.stringify(value)).toContain(asRead(`'${value}`));
    expect(texts).toContain("'@备注");
    expect(texts).toContain("'=工作表");
    expect(texts).toContain('处罚\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD依据\uFFFD\uFFFD');
    const cut = texts.filter((t) => t.endsWith(truncationMarker(HOSTILE.long.length)));
    expect(cut).toHaveLength(1);
    expect(cut[0]?.length).toBeLessThanOrEqual(CELL_MAX_CHARS);
    expect(cut[0]?.startsWith('界界界')).toBe(true);
    const reason = texts.find((t) => t.startsWith('1. 文书号为空：'));
    expect(reason?.length).toBeLessThanOrEqual(CELL_MAX_CHARS);
    expect(reason).toContain('已截断，原文共');
  });

  it('a rejected file with formula-like values comes back through a run with them as text', async () => {
    const subject = enterprise('界首市公式测试有限公司');
    const bad = (doc: string, values: [number, string][]) => {
      const row = penalty2019(doc, { name: subject.name, uscc: subject.uscc });
      row[14] = '2024-02-30'; // no such day: the row is handed back
      for (const [i, v] of values) row[i] = v;
      return row;
    };
    await drop(env.config.dropDir, '公式.csv', PENALTY_2019_HEADER, [
      bad('601', [
        [10, HOSTILE.hyperlink],
        [9, HOSTILE.dde],
      ]),
      bad('602', [
        [10, HOSTILE.at],
        [11, HOSTILE.fullWidth],
      ]),
    ]);
    await env.run(db);
    const archive = join(env.config.dropDir, 'archive');
    expect(readdirSync(archive)).toContain('公式.退回说明.xlsx');
    const texts = (await expectSafeWorkbook(join(archive, '公式.退回说明.xlsx'))).get('退回数据') ?? [];
    for (const value of [HOSTILE.hyperlink, HOSTILE.dde, HOSTILE.at, HOSTILE.fullWidth]) {
      expect(texts).toContain(`'${value}`);
    }
  });
});
