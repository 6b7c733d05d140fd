import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Warehouse } from '../lib/db.js';
import { makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

describe(`runs left running when a run starts (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;

  beforeEach(async () => {
    env = await makeEnv('interrupted');
    db = await env.open();
    await env.run(db); // migrations, and a first run
  });
  afterEach(async () => {
    await db.close();
    await env.cleanup();
  });

  it("marks a dead run interrupted, and leaves a backfill's runs to their leases", async () => {
    const [dead] = await db.query<{ id: string }>(
      `INSERT INTO runs (kind, status) VALUES ('run', 'running') RETURNING id`,
    );
    const [backfill] = await db.query<{ id: string }>(
      `INSERT INTO runs (kind, status) VALUES ('backfill', 'running') RETURNING id`,
    );
    for (const id of [dead!.id, backfill!.id]) {
      await db.query(`INSERT INTO source_runs (run_id, source) VALUES ($1, 'credit-platform')`, [id]);
    }
    await env.run(db);
    const runs = await db.query<{ kind: string; status: string; source_status: string }>(
      `SELECT r.kind, r.status, s.status AS source_status FROM runs r JOIN source_runs s ON s.run_id = r.id
       WHERE r.id = ANY($1::bigint[]) ORDER BY r.id`,
      [[dead!.id, backfill!.id]],
    );
    expect(runs).toEqual([
      { kind: 'run', status: 'interrupted', source_status: 'interrupted' },
      { kind: 'backfill', status: 'running', source_status: 'running' },
    ]);
  });
});
