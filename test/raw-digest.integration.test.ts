import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Warehouse } from '../lib/db.js';
import {
  createRandom,
  type DemoEnterprise,
  ENTERPRISE_HEADER,
  enterpriseRow,
  generateEnterprises,
  generatePenalties,
  PENALTY_HEADER,
  type PenaltyPlan,
  writeDelimited,
} from '../pipelines/demo/generate.js';
import { expectLedgerBalanced, makeEnv, snapshot, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

/** Enough rows for several probe chunks (2,000 rows a chunk), with faulty and duplicate rows among them. */
const ROWS = 5_000;

describe(`rows read again are recognised by their raw digest (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  let enterprises: DemoEnterprise[];
  let plan: PenaltyPlan;
  const incoming = () => join(env.config.dropDir, 'incoming');

  beforeEach(async () => {
    env = await makeEnv('rawdigest');
    db = await env.open();
    const random = createRandom(11);
    enterprises = generateEnterprises(random, 80);
    plan = generatePenalties(random, enterprises.slice(0, 70), ROWS, { faultShare: 0.1, unknownShare: 0.05 });
    mkdirSync(incoming(), { recursive: true });
    await writeDelimited(
      join(incoming(), '企业登记.csv'),
      ENTERPRISE_HEADER,
      enterprises.map((e) => enterpriseRow(random, e)),
    );
    await writeDelimited(join(incoming(), 'first.csv'), PENALTY_HEADER, plan.rows);
  });

  afterEach(async () => {
    await expectLedgerBalanced(db);
    await db.close();
    await env.cleanup();
  });

  it('counts an unchanged re-run without validating its rows again, with the same ledger and warehouse', async () => {
    const first = await env.run(db);
    const loaded = first.summary.sources[0]!;
    const penalties = first.files.find((f) => f.file === 'first.csv')!;
    expect(penalties.unchangedRaw).toBe(0);
    const before = await snapshot(db);

    // the same rows in other bytes (with a BOM), so that the file itself is not recognised as seen
    await writeDelimited(join(incoming(), 'again.csv'), PENALTY_HEADER, plan.rows, { encoding: 'utf8-bom' });
    const again = await env.run(db);
    const s = again.summary.sources[0]!;
    const file = again.files[0]!;
    const inserted = loaded.inserted - enterprises.length;
    expect([s.inserted, s.updated, s.unchanged]).toEqual([0, 0, inserted]);
    expect(s.quarantined).toBe(loaded.quarantined);
    expect(s.duplicates).toBe(loaded.duplicates);
    expect(s.unmatched).toBe(plan.unknownSubjects);
    // every valid row was recognised before validation: none went through the validator again
    expect(file.unchangedRaw).toBe(inserted);
    const after = await snapshot(db);
    expect(after.records).toEqual(before.records);
    expect(after.history).toEqual(before.history);
  });

  it('validates and loads the rows that changed, and recognises the others', async () => {
    const loaded = (await env.run(db)).summary.sources[0]!.inserted - enterprises.length;
    // a row that was loaded: its provenance names its row (the header is row 1)
    const [stored] = await db.query<{ row: number }>(
      `SELECT (provenance->>'row')::int AS row FROM records WHERE resource = 'xzcf' ORDER BY natural_key LIMIT 1`,
    );
    const changed = plan.rows.map((r) => [...r]);
    changed[stored!.row - 2]![6] = '更正后的违法事实';
    await writeDelimited(join(incoming(), 'v2.csv'), PENALTY_HEADER, changed);
    const run = await env.run(db);
    const s = run.summary.sources[0]!;
    expect([s.inserted, s.updated, s.unchanged]).toEqual([0, 1, loaded - 1]);
    expect(run.files[0]!.unchangedRaw).toBe(loaded - 1);
    const current = await db.query<{ version: number; digest: string }>(
      `SELECT version, raw_digest AS digest FROM records WHERE resource = 'xzcf' AND data->>'CF_SY' = $1`,
      ['更正后的违法事实'],
    );
    expect(current).toEqual([{ version: 2, digest: expect.any(String) }]);
  });

  it('validates every row again when the file maps its columns differently', async () => {
    await env.run(db);
    // the same records with the columns in another order: the raw rows differ, the records do not
    const order = PENALTY_HEADER.map((_, i) => i).reverse();
    await writeDelimited(
      join(incoming(), 'reordered.csv'),
      order.map((i) => PENALTY_HEADER[i]!),
      plan.rows.map((r) => order.map((i) => r[i] ?? '')),
    );
    const run = await env.run(db);
    const s = run.summary.sources[0]!;
    expect(run.files[0]!.unchangedRaw).toBe(0);
    expect([s.inserted, s.updated]).toEqual([0, 0]);
    expect(s.unchanged).toBeGreaterThan(ROWS / 2);
  });
});
