import { mkdirSync } from 'node:fs';
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
 * Every record as the analysts see it, without the times of the load (for a drop file's records `sjc` is its
 * delivery: when each warehouse first saw the file, a second apart between the two loads).
 */
const RECORDS = `SELECT resource, natural_key, version, content_hash, data, uscc, own_uscc, matched_uscc, match_method,
                        match_score, match_flags, department, produced_date, provenance - 'sjc' AS provenance,
                        delivered_at IS NOT NULL AS delivered
                 FROM records ORDER BY resource, natural_key`;

const INDEXES = `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'r_xzcf' ORDER BY 1`;

/** Writes the same drop (a register, 600 penalties of which some faulty) into an environment's folder. */
async function writeDrop(env: TestEnv, second = false): Promise<void> {
  const incoming = join(env.config.dropDir, 'incoming');
  mkdirSync(incoming, { recursive: true });
  const random = createRandom(16);
  const enterprises = generateEnterprises(random, 40);
  await writeDelimited(
    join(incoming, '企业登记.csv'),
    ENTERPRISE_HEADER,
    enterprises.map((e) => enterpriseRow(random, e)),
  );
  const plan = generatePenalties(random, enterprises, 600, { faultShare: 0.05, unknownShare: 0.1 });
  const rows = second
    ? plan.rows.slice(300).map((r, i) => (i % 7 ? r : r.map((c, j) => (j === 9 ? `${c}（更正）` : c))))
    : plan.rows;
  await writeDelimited(join(incoming, second ? '行政处罚-更正.csv' : '行政处罚.csv'), PENALTY_HEADER, rows);
}

/**
 * The bulk path (an empty table loaded before its secondary indexes are built) gives the very warehouse the
 * row-by-row path gives, and leaves the indexes in place; a file that fails on it leaves the table as it was.
 */
describe(`the bulk path for an empty table (${WAREHOUSE_KIND})`, () => {
  let bulk: TestEnv;
  let plain: TestEnv;
  let bulkDb: Warehouse;
  let plainDb: Warehouse;

  beforeAll(async () => {
    bulk = await makeEnv('bulk-on', { GUIJI_BULK_BYTES: '0', GUIJI_BATCH_SIZE: '100' });
    plain = await makeEnv('bulk-off', { GUIJI_BULK_BYTES: '1000000000', GUIJI_BATCH_SIZE: '100' });
    bulkDb = await bulk.open();
    plainDb = await plain.open();
  }, 120_000);

  afterAll(async () => {
    await bulkDb?.close();
    await plainDb?.close();
    await bulk?.cleanup();
    await plain?.cleanup();
  });

  it('loads the same records, ids and flags as the row-by-row path, and keeps the indexes', async () => {
    const expected = (await plainDb.query<{ indexname: string }>(INDEXES, [plainDb.schema])).map(
      (r) => r.indexname,
    );
    expect(expected).toEqual([
      'r_xzcf_matched',
      'r_xzcf_pkey',
      'r_xzcf_record_id',
      'r_xzcf_run_id',
      'r_xzcf_warned',
    ]);
    for (const [env, db] of [
      [bulk, bulkDb],
      [plain, plainDb],
    ] as const) {
      await writeDrop(env);
      const { summary } = await env.run(db);
      expect(summary.status).toBe('succeeded');
      expect(summary.sources[0]!.inserted).toBeGreaterThan(500);
    }
    expect(await bulkDb.query(RECORDS)).toEqual(await plainDb.query(RECORDS));
    expect(
      (await bulkDb.query<{ indexname: string }>(INDEXES, [bulkDb.schema])).map((r) => r.indexname),
    ).toEqual(expected);
    // the indexes are whole: the planner finds a record by its id through them
    const [one] = await bulkDb.query<{ record_id: string }>('SELECT record_id FROM r_xzcf LIMIT 1');
    const [found] = await bulkDb.query<{ n: string }>(
      'SELECT count(*) AS n FROM r_xzcf WHERE record_id = $1',
      [one!.record_id],
    );
    expect(Number(found!.n)).toBe(1);
    await expectLedgerBalanced(bulkDb);
  }, 300_000);

  it('takes the ordinary path into a table that has records, with the same outcome', async () => {
    for (const [env, db] of [
      [bulk, bulkDb],
      [plain, plainDb],
    ] as const) {
      await writeDrop(env, true);
      const { summary } = await env.run(db);
      expect(summary.status).toBe('succeeded');
      expect(summary.sources[0]!.updated).toBeGreaterThan(0);
    }
    expect(await bulkDb.query(RECORDS)).toEqual(await plainDb.query(RECORDS));
    const history =
      'SELECT natural_key, version, data, (record_id IS NOT NULL) AS identified FROM record_history ORDER BY natural_key, version';
    expect(await bulkDb.query(history)).toEqual(await plainDb.query(history));
  }, 300_000);

  it('rolls a failed bulk load back whole: no records, the indexes in place', async () => {
    const env = await makeEnv('bulk-fail', { GUIJI_BULK_BYTES: '0', GUIJI_BATCH_SIZE: '100' });
    const db = await env.open();
    try {
      // the warehouse refuses the 250th penalty: after the indexes went, before they came back
      await db.query(`CREATE FUNCTION refuse_late() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF (SELECT count(*) FROM r_xzcf) >= 250 THEN RAISE EXCEPTION 'refused' USING ERRCODE = '53100'; END IF;
          RETURN NEW;
        END $$`);
      await db.query(
        `CREATE TRIGGER refuse_late BEFORE INSERT ON r_xzcf FOR EACH ROW EXECUTE FUNCTION refuse_late()`,
      );
      await writeDrop(env);
      const { summary } = await env.run(db);
      expect(summary.status).not.toBe('succeeded');
      const [n] = await db.query<{ n: string }>('SELECT count(*) AS n FROM r_xzcf');
      expect(Number(n!.n)).toBe(0);
      expect((await db.query<{ indexname: string }>(INDEXES, [db.schema])).map((r) => r.indexname)).toEqual([
        'r_xzcf_matched',
        'r_xzcf_pkey',
        'r_xzcf_record_id',
        'r_xzcf_run_id',
        'r_xzcf_warned',
      ]);
      await expectLedgerBalanced(db);
    } finally {
      await db.close();
      await env.cleanup();
    }
  }, 300_000);
});
