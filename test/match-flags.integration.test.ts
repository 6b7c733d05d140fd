import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Warehouse } from '../lib/db.js';
import {
  drop,
  enterprise,
  PENALTY_2019_HEADER,
  penalty2019,
  REGISTER_HEADER,
  registerRows,
} from './fixtures/match/data.js';
import { expectLedgerBalanced, makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

/** The flags the loader writes with the records it COPYs, against the register's current and former names. */
describe(`flags of records filed by their credit code (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  const renamed = enterprise('界首市旧名称电器有限公司');
  const elsewhere = enterprise('合肥市某某贸易有限公司', '340100');

  beforeAll(async () => {
    env = await makeEnv('matchflags');
    db = await env.open();
    await drop(env.config.dropDir, '企业登记.csv', REGISTER_HEADER, registerRows([renamed, elsewhere]));
    await env.run(db);
    // renamed in the register: the old name becomes a former name
    await drop(
      env.config.dropDir,
      '企业登记-变更.csv',
      REGISTER_HEADER,
      registerRows([{ ...renamed, name: '界首市新名称电器有限公司' }]),
    );
    await env.run(db);
    await drop(env.config.dropDir, '行政处罚.csv', PENALTY_2019_HEADER, [
      penalty2019('101', { name: '界首市新名称电器有限公司', uscc: renamed.uscc }),
      penalty2019('102', { name: '界首市旧名称电器有限公司', uscc: renamed.uscc }),
      penalty2019('103', { name: '界首市（新名称）电器有限责任公司', uscc: renamed.uscc }),
      penalty2019('104', { name: '界首市完全不同的公司', uscc: renamed.uscc }),
      penalty2019('105', { name: '合肥市某某贸易有限公司', uscc: elsewhere.uscc }),
    ]);
    await env.run(db);
  });
  afterAll(async () => {
    await expectLedgerBalanced(db);
    await db.close();
    await env.cleanup();
  });

  it('flags a name that is neither the current nor a former one, and a code from outside the city', async () => {
    const rows = await db.query<{ doc: string; method: string; score: number; flags: string[] }>(
      `SELECT data->>'CF_WSH' AS doc, match_method AS method, match_score AS score, match_flags AS flags
       FROM records WHERE resource = 'xzcf' ORDER BY 1`,
    );
    expect(rows.map((r) => [r.doc.replace(/\D+/g, ' ').trim(), r.method, r.score, r.flags])).toEqual([
      ['2024 101', 'uscc', 1, []],
      ['2024 102', 'uscc', 1, []],
      ['2024 103', 'uscc', 1, []],
      ['2024 104', 'uscc', 1, ['name_mismatch']],
      ['2024 105', 'uscc', 1, ['out_of_region']],
    ]);
  });
});
