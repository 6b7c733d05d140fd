import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Warehouse } from '../lib/db.js';
import { FEEDBACK_PAGE, FEEDBACK_PLANNER } from '../pipelines/feedback/workbook.js';
import { drop, enterprise, PENALTY_2019_HEADER, penalty2019 } from './fixtures/match/data.js';
import { expectLedgerBalanced, makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

/**
 * The feedback workbook reads a file's rejected rows page by page in file order. The quarantine only grows, so
 * each page must come from an index, not a scan of every row ever rejected.
 */
/** A cell no text format passes through by accident: backslashes, a tab, quotes, a line break. */
const AWKWARD = '违法事实\\含\\\\反斜杠\t制表符"引号"\n第二行 \\N';

describe(`a file's rejected rows, in order (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  let sha256: string;

  beforeAll(async () => {
    env = await makeEnv('feedbackorder');
    db = await env.open();
    const subject = enterprise('界首市退回测试有限公司');
    const bad = (doc: string) => {
      const row = penalty2019(doc, { name: subject.name, uscc: subject.uscc });
      row[14] = '2024-02-30'; // no such day
      return row;
    };
    const awkward = bad('503');
    awkward[10] = AWKWARD;
    await drop(env.config.dropDir, '行政处罚.csv', PENALTY_2019_HEADER, [
      bad('501'),
      penalty2019('502', { name: subject.name, uscc: subject.uscc }),
      awkward,
      bad('504'),
    ]);
    await env.run(db);
    const [row] = await db.query<{ sha256: string }>('SELECT DISTINCT sha256 FROM quarantine');
    sha256 = row?.sha256 ?? '';
  });
  afterAll(async () => {
    await expectLedgerBalanced(db);
    await db.close();
    await env.cleanup();
  });

  it('pages through them in row order, rows numbered as a spreadsheet shows them', async () => {
    // row 4's cell holds a line break: the next record starts on line 6 of the file, but in row 5
    const first = await db.query<{ row_number: number }>(FEEDBACK_PAGE, [sha256, '', -1, 2]);
    expect(first.map((r) => r.row_number)).toEqual([2, 4]);
    const next = await db.query<{ row_number: number }>(FEEDBACK_PAGE, [sha256, '', 4, 2]);
    expect(next.map((r) => r.row_number)).toEqual([5]);
  });

  it('keeps a rejected row exactly as it was sent', async () => {
    const [row] = await db.query<{ sy: string }>(
      `SELECT raw->>'CF_SY' AS sy FROM quarantine WHERE sha256 = $1 AND row_number = 4`,
      [sha256],
    );
    expect(row?.sy).toBe(AWKWARD);
  });

  it('reads each page along the quarantine_by_file index, whatever the statistics say', async () => {
    const plan = await db.transaction(async (tx) => {
      // the settings the workbook pages with; sequential scans priced out too, as on a large quarantine
      for (const setting of FEEDBACK_PLANNER) await tx.query(setting);
      await tx.query('SET LOCAL enable_seqscan = off');
      const explained = await tx.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) ${FEEDBACK_PAGE}`, [
        sha256,
        '',
        -1,
        2000,
      ]);
      return JSON.stringify(explained.rows[0]?.['QUERY PLAN']);
    });
    expect(plan).toContain('"Node Type":"Index Scan"');
    expect(plan).toContain('"Index Name":"quarantine_by_file"');
    expect(plan).not.toContain('"Node Type":"Sort"');
  });
});
