import { createRandom, generateLicences, LICENCE_HEADER } from '../../pipelines/demo/generate.js';
import {
  drop,
  enterprise,
  PENALTY_2016_HEADER,
  PENALTY_2019_HEADER,
  penalty2016,
  penalty2019,
  REGISTER_HEADER,
  registerRows,
} from '../fixtures/match/data.js';
import type { TestEnv } from './env.js';

/**
 * A small warehouse for the console: two enterprises, one renamed by the second run; a licence and two penalties
 * filed under the first, one penalty corrected by the second run (version 2); a rejected penalty row; and a
 * penalty without a credit code whose name is close to the first enterprise's (waiting for review).
 */
export const BAICHUAN = enterprise('界首市百川电器有限公司');
export const RENAMED = '界首市百川智能电器有限公司';
export const DONGFANG = enterprise('界首市东方红农机有限公司');
export const CLOSE_NAME = '界首市百川电气有限公司';
export const PENALTY_DOC = '界市监罚〔2024〕1号';
/** A subject with a credit code the register does not hold (an enterprise registered elsewhere). */
export const OUTSIDER = enterprise('阜阳市外地商贸有限公司', '341200');

export async function loadConsoleData(env: TestEnv): Promise<void> {
  const dir = env.config.dropDir;
  const bad = penalty2019('3', { name: DONGFANG.name, uscc: DONGFANG.uscc });
  bad[14] = '2024-13-45';
  await drop(dir, '企业登记.csv', REGISTER_HEADER, registerRows([BAICHUAN, DONGFANG]));
  await drop(dir, '行政处罚.csv', PENALTY_2019_HEADER, [
    penalty2019('1', { name: BAICHUAN.name, uscc: BAICHUAN.uscc }),
    penalty2019('2', { name: DONGFANG.name, uscc: DONGFANG.uscc }),
    bad,
  ]);
  const licensee = { ...BAICHUAN, legalRep: '张伟', founded: '2010-05-01', address: '安徽省界首市东城1号' };
  await drop(dir, '行政许可.csv', LICENCE_HEADER, generateLicences(createRandom(1), [licensee], 1));
  await drop(dir, '行政处罚（旧）.csv', PENALTY_2016_HEADER, [penalty2016('9', { name: CLOSE_NAME })]);
  await runOnce(env);
  const corrected = penalty2019('1', { name: BAICHUAN.name, uscc: BAICHUAN.uscc });
  corrected[9] = '虚假宣传（更正）';
  await drop(dir, '企业登记-变更.csv', REGISTER_HEADER, registerRows([{ ...BAICHUAN, name: RENAMED }]));
  await drop(dir, '行政处罚-更正.csv', PENALTY_2019_HEADER, [
    corrected,
    penalty2019('4', { name: OUTSIDER.name, uscc: OUTSIDER.uscc }),
  ]);
  await runOnce(env);
}

async function runOnce(env: TestEnv): Promise<void> {
  const db = await env.open();
  try {
    await env.run(db);
  } finally {
    await db.close();
  }
}
