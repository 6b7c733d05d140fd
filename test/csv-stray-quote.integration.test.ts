import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Warehouse } from '../lib/db.js';
import {
  createRandom,
  ENTERPRISE_HEADER,
  enterpriseRow,
  generateEnterprises,
  generatePenalties,
  PENALTY_HEADER,
  writeDelimited,
} from '../pipelines/demo/generate.js';
import { expectLedgerBalanced, makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

/**
 * The file of issue 15: one stray quote before a name in row 4 of a 50,000-row CSV. The hand-written splitter
 * read it as 3 rows and one 20 MB cell ("loaded 3 rows, 1 rejected"); csv-parse finds the quote still open
 * 1 MiB on, and the file is refused naming row 4.
 */
describe(`a CSV with a quote that never closes (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  let files: Awaited<ReturnType<TestEnv['run']>>['files'];
  const NAME = '行政处罚.csv';

  beforeAll(async () => {
    env = await makeEnv('csv-stray-quote');
    db = await env.open();
    const incoming = join(env.config.dropDir, 'incoming');
    mkdirSync(incoming, { recursive: true });
    const random = createRandom(15);
    const enterprises = generateEnterprises(random, 50);
    await writeDelimited(
      join(incoming, '企业登记.csv'),
      ENTERPRISE_HEADER,
      enterprises.map((e) => enterpriseRow(random, e)),
    );
    const plan = generatePenalties(random, enterprises, 49_999, { faultShare: 0, unknownShare: 0 });
    const path = join(incoming, NAME);
    await writeDelimited(path, PENALTY_HEADER, plan.rows);
    const lines = readFileSync(path, 'utf8').split('\r\n');
    expect(lines.join('')).not.toContain('"');
    lines[3] = `"${lines[3]}`; // row 4: a quote before the name
    writeFileSync(path, lines.join('\r\n'));
    ({ files } = await env.run(db));
  }, 300_000);

  afterAll(async () => {
    await expectLedgerBalanced(db);
    await db.close();
    await env.cleanup();
  });

  it('rejects the file, naming row 4, and loads the register beside it', () => {
    const byName = Object.fromEntries(files.map((f) => [f.file, f]));
    expect(byName['企业登记.csv']).toMatchObject({ status: 'loaded', read: 50 });
    expect(byName[NAME]).toMatchObject({ status: 'rejected', read: 0 });
    expect(byName[NAME]!.message).toMatch(/row 4 never closes/);
  });

  it('moves it to rejected/ with the reason beside it', () => {
    const rejected = join(env.config.dropDir, 'rejected');
    expect(existsSync(join(rejected, NAME))).toBe(true);
    expect(readdirSync(join(env.config.dropDir, 'incoming'))).toEqual([]);
    const reason = readFileSync(join(rejected, `${NAME}.错误说明.txt`), 'utf8');
    expect(reason).toMatch(/第 4 行的引号没有闭合/);
    expect(reason).not.toMatch(/[A-Za-z]{4,}/);
    expect(reason).not.toContain(env.dir);
  });

  it('loads nothing of it', async () => {
    const [records] = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM records WHERE provenance->>'file' = $1`,
      [NAME],
    );
    expect(Number(records!.n)).toBe(0);
    const [quarantined] = await db.query<{ n: string }>('SELECT count(*) AS n FROM quarantine');
    expect(Number(quarantined!.n)).toBe(0);
    const ledger = await db.query<{ status: string; rows_read: number }>(
      'SELECT status, rows_read::int AS rows_read FROM drop_files WHERE name = $1',
      [NAME],
    );
    expect(ledger).toEqual([{ status: 'rejected', rows_read: 0 }]);
  });
});
