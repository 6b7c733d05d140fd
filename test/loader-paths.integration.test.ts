import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Warehouse } from '../lib/db.js';
import {
  drop,
  enterprise,
  PENALTY_2016_HEADER,
  PENALTY_2019_HEADER,
  penalty2016,
  penalty2019,
  REGISTER_HEADER,
  registerRows,
} from './fixtures/match/data.js';
import { expectLedgerBalanced, makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

/**
 * The loader's two ways in: a batch whose keys look new is COPYed without asking the warehouse first (the
 * refused COPY falls back to asking), and the register's names are remembered for a file — until the file
 * itself loads register rows.
 */
describe(`loading without asking first (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  const open = async (batchSize: number) => {
    env = await makeEnv('loaderpaths', { GUIJI_BATCH_SIZE: String(batchSize) });
    db = await env.open();
  };
  afterEach(async () => {
    await expectLedgerBalanced(db);
    await db.close();
    await env.cleanup();
  });

  it.each([1, 10_000])(
    'matches the records before and after a register sheet of the same workbook (batches of %i rows)',
    async (batchSize) => {
      // batches of one row: the sheets load one after the other; of 10,000: the workbook is one batch
      await open(batchSize);
      const newcomer = enterprise('界首市新来电器有限公司');
      const workbook = new ExcelJS.Workbook();
      const before = workbook.addWorksheet('处罚一');
      before.addRow(PENALTY_2019_HEADER);
      for (const doc of ['201', '202'])
        before.addRow(penalty2019(doc, { name: newcomer.name, uscc: newcomer.uscc }));
      const older = workbook.addWorksheet('处罚旧'); // the 2016 field set: no credit code, matched by name
      older.addRow(PENALTY_2016_HEADER);
      older.addRow(penalty2016('205', { name: newcomer.name }));
      const register = workbook.addWorksheet('登记');
      register.addRow(REGISTER_HEADER);
      for (const row of registerRows([newcomer])) register.addRow(row);
      const after = workbook.addWorksheet('处罚二');
      after.addRow(PENALTY_2019_HEADER);
      for (const doc of ['203', '204'])
        after.addRow(penalty2019(doc, { name: newcomer.name, uscc: newcomer.uscc }));
      mkdirSync(join(env.config.dropDir, 'incoming'), { recursive: true });
      await workbook.xlsx.writeFile(join(env.config.dropDir, 'incoming', '混合报送.xlsx'));

      const source = (await env.run(db)).summary.sources[0];
      const rows = await db.query<{ doc: string; method: string | null }>(
        `SELECT data->>'CF_WSH' AS doc, match_method AS method FROM records WHERE resource = 'xzcf' ORDER BY 1`,
      );
      // the first ones were COPYed unmatched and filed when the register sheet arrived; the last two were
      // COPYed after it, so the register's answer for the code must not be the one remembered before it
      expect(rows.map((r) => [r.doc.replace(/\D+/g, ' ').trim(), r.method])).toEqual([
        ['2014 205', 'name'],
        ['2024 201', 'uscc'],
        ['2024 202', 'uscc'],
        ['2024 203', 'uscc'],
        ['2024 204', 'uscc'],
      ]);
      // the ledger counts what is still unmatched when the run ends: nothing, all were filed in this run
      expect(source).toMatchObject({ read: 6, inserted: 6, unmatched: 0 });
      const ledger = await db.query<{ unmatched: number | string }>('SELECT unmatched FROM source_runs');
      expect(ledger.map((r) => Number(r.unmatched))).toEqual([0]);
    },
  );

  it('loads a correction among new records in a batch it expected to be all new', async () => {
    await open(10_000);
    const known = enterprise('界首市老字号食品有限公司');
    await drop(env.config.dropDir, '企业登记.csv', REGISTER_HEADER, registerRows([known]));
    await drop(env.config.dropDir, '行政处罚.csv', PENALTY_2019_HEADER, [
      penalty2019('301', { name: known.name, uscc: known.uscc }),
      penalty2019('302', { name: known.name, uscc: known.uscc }),
    ]);
    await env.run(db);
    // one batch: a correction of 302 (another penalty content) between two new records
    const corrected = penalty2019('302', { name: known.name, uscc: known.uscc });
    corrected[10] = '在网店页面发布虚假宣传内容（更正后的违法事实）';
    await drop(env.config.dropDir, '行政处罚-更正.csv', PENALTY_2019_HEADER, [
      penalty2019('303', { name: known.name, uscc: known.uscc }),
      corrected,
      penalty2019('304', { name: known.name, uscc: known.uscc }),
    ]);
    const source = (await env.run(db)).summary.sources[0];
    expect(source).toMatchObject({ read: 3, inserted: 2, updated: 1, unchanged: 0, unmatched: 0 });
    const rows = await db.query<{ doc: string; version: number; method: string | null }>(
      `SELECT data->>'CF_WSH' AS doc, version, match_method AS method FROM records
       WHERE resource = 'xzcf' ORDER BY 1`,
    );
    expect(rows.map((r) => [r.doc.replace(/\D+/g, ' ').trim(), r.version, r.method])).toEqual([
      ['2024 301', 1, 'uscc'],
      ['2024 302', 2, 'uscc'],
      ['2024 303', 1, 'uscc'],
      ['2024 304', 1, 'uscc'],
    ]);
    const history = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM record_history WHERE resource = 'xzcf'`,
    );
    expect(Number(history[0]?.n)).toBe(1);
  });
});
