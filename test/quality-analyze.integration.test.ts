import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Warehouse } from '../lib/db.js';
import { computeQualityMetrics } from '../pipelines/quality/metrics.js';
import { drop, enterprise, PENALTY_2019_HEADER, penalty2019 } from './fixtures/match/data.js';
import { expectLedgerBalanced, makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

/** A run that wrote many records has the planner's statistics refreshed before its metrics scan them. */
describe(`statistics before the metrics (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  let runId: number;

  beforeAll(async () => {
    env = await makeEnv('qanalyze');
    db = await env.open();
    const subject = enterprise('界首市统计测试有限公司');
    await drop(env.config.dropDir, '行政处罚.csv', PENALTY_2019_HEADER, [
      penalty2019('401', { name: subject.name, uscc: subject.uscc }),
      penalty2019('402', { name: subject.name, uscc: subject.uscc }),
    ]);
    runId = (await env.run(db)).summary.runId;
  });
  afterAll(async () => {
    await expectLedgerBalanced(db);
    await db.close();
    await env.cleanup();
  });

  const lastAnalyze = async () =>
    (
      await db.query<{ at: Date | string | null }>(
        `SELECT last_analyze AS at FROM pg_stat_user_tables
         WHERE relname = 'r_xzcf' AND schemaname = current_schema()`,
      )
    )[0]?.at ?? null;

  it('leaves a small run to autovacuum, and analyses the tables it wrote after a run that wrote enough records', async () => {
    // the run wrote 2 records: below the default threshold, nothing was analysed
    expect(await lastAnalyze()).toBeNull();
    await computeQualityMetrics(db, env.catalog, runId, {
      catalogDir: env.config.catalogDir,
      analyzeAfter: 3,
    });
    expect(await lastAnalyze()).toBeNull();
    await computeQualityMetrics(db, env.catalog, runId, {
      catalogDir: env.config.catalogDir,
      analyzeAfter: 2,
    });
    expect(await lastAnalyze()).not.toBeNull();
    // only the tables the run wrote: the register's stayed as it was
    const [register] = await db.query<{ at: Date | string | null }>(
      `SELECT last_analyze AS at FROM pg_stat_user_tables
       WHERE relname = 'r_enterprise' AND schemaname = current_schema()`,
    );
    expect(register?.at ?? null).toBeNull();
  });
});
