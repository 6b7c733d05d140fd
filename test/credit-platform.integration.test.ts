import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { formatChinaTime } from '../connectors/http/china-time.js';
import {
  DEFAULT_CREDIT_APP_KEY,
  DEFAULT_CREDIT_APP_SECRET,
  type RunningSimulator,
  startCreditSimulator,
} from '../pipelines/simulate/credit-platform.js';
import { runCli, startCli } from './helpers/cli.js';
import { expectLedgerBalanced, makeEnv, snapshot, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';
import { expectEveryRecord } from './helpers/platform.js';

const running: RunningSimulator[] = [];
const envs: TestEnv[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  for (const env of envs) await env.cleanup();
});

async function setup(name: string, faults?: string, extra: Record<string, string> = {}) {
  const sim = await startCreditSimulator({
    records: 400,
    seed: 5,
    hangMs: 1500,
    retryAfterSeconds: 0,
    ...(faults ? { faults } : {}),
  });
  running.push(sim);
  const env = await makeEnv(name, {
    GUIJI_CREDIT_URL: sim.url,
    GUIJI_CREDIT_APP_KEY: DEFAULT_CREDIT_APP_KEY,
    GUIJI_CREDIT_APP_SECRET: DEFAULT_CREDIT_APP_SECRET,
    GUIJI_CREDIT_DATASETS: 'xzxk,xzcf',
    GUIJI_CREDIT_LAG_SECONDS: '0',
    GUIJI_CREDIT_TIMEOUT_MS: '400',
    ...extra,
  });
  envs.push(env);
  return { sim, env };
}

describe(`the credit platform source (${WAREHOUSE_KIND})`, () => {
  it('pulls every record exactly once through 5xx, timeouts, quota answers, expired timestamps and drift', async () => {
    const { sim, env } = await setup(
      'credit-faults',
      '5xx=0.1,timeout=0.05,quota=0.05,expire=0.02,drift=0.01',
    );
    const db = await env.open();
    try {
      const { summary } = await env.run(db, ['credit-platform']);
      expect(summary.sources[0]).toMatchObject({ source: 'credit-platform', status: 'succeeded' });
      await expectEveryRecord(db, sim);
      await expectLedgerBalanced(db);
      // the cursor moved to the window's end, and a second run pulls only the overlap: nothing new
      const [state] = await db.query<{ cursor: string }>(
        `SELECT cursor FROM source_state WHERE stream = 'xzcf'`,
      );
      expect(state!.cursor > '2025-06-30').toBe(true);
      const again = (await env.run(db, ['credit-platform'])).summary.sources[0]!;
      expect(again.inserted).toBe(0);
    } finally {
      await db.close();
    }
  });

  it('files an updated record as a new version, not a duplicate', async () => {
    const { sim, env } = await setup('credit-update');
    const db = await env.open();
    try {
      await env.run(db, ['credit-platform']);
      const [before] = await db.query<{ n: string }>(
        `SELECT count(*) AS n FROM records WHERE resource = 'xzcf'`,
      );
      const loaded = await db.query<{ id: string }>(
        `SELECT provenance->>'recordId' AS id FROM records WHERE resource = 'xzcf' AND version = 1 LIMIT 1`,
      );
      const id = loaded[0]!.id;
      // updated a few seconds ago: inside the next window [cursor − overlap, now)
      const row = sim.store.update('xzcf', id, formatChinaTime(Date.now() - 5000));
      expect(row.SJC).toBeDefined();
      const second = (await env.run(db, ['credit-platform'])).summary.sources[0]!;
      expect(second.updated).toBe(1);
      const [after] = await db.query<{ n: string }>(
        `SELECT count(*) AS n FROM records WHERE resource = 'xzcf'`,
      );
      expect(after!.n).toBe(before!.n);
      const [record] = await db.query<{ version: number }>(
        `SELECT version FROM records WHERE provenance->>'recordId' = $1`,
        [id],
      );
      expect(record!.version).toBe(2);
      const history = await db.query<{ version: number }>(
        `SELECT h.version FROM record_history h JOIN records r USING (resource, natural_key)
         WHERE r.provenance->>'recordId' = $1`,
        [id],
      );
      expect(history).toEqual([{ version: 1 }]);
    } finally {
      await db.close();
    }
  });

  it('fails the source with a message naming the setting when the signature is refused, and the run is partly done', async () => {
    const { env } = await setup('credit-badsig', undefined, { GUIJI_CREDIT_APP_SECRET: 'not-the-secret-42' });
    const result = await runCli(['run', '--json'], env.env);
    expect(result.code).toBe(4);
    const summary = JSON.parse(result.stdout) as {
      status: string;
      sources: { source: string; status: string; error: string }[];
    };
    expect(summary.status).toBe('partial');
    const credit = summary.sources.find((s) => s.source === 'credit-platform')!;
    expect(credit.status).toBe('failed');
    expect(credit.error).toMatch(/GUIJI_CREDIT_APP_SECRET/);
    expect(result.stdout + result.stderr).not.toContain('not-the-secret-42');
    expect(summary.sources.find((s) => s.source === 'drops')!.status).toBe('succeeded');
  });

  it('ends a run killed mid-pagination and run again in the same state as an uninterrupted one', async () => {
    const reference = await setup('credit-ref', undefined, { GUIJI_BATCH_SIZE: '50' });
    const refResult = await runCli(['run', '--source', 'credit-platform', '--json'], reference.env.env);
    expect(refResult.code, refResult.stderr.slice(-1000)).toBe(0);
    const refDb = await reference.env.open();
    const expected = await snapshot(refDb);
    await refDb.close();

    const victim = await setup('credit-kill', undefined, {
      GUIJI_BATCH_SIZE: '50',
      GUIJI_LOG_LEVEL: 'debug',
    });
    const first = startCli(['run', '--source', 'credit-platform', '--json'], victim.env.env);
    await first.waitForLog('batch committed', 3);
    first.child.kill('SIGKILL');
    await first.done;
    const rerun = await runCli(['run', '--source', 'credit-platform', '--json'], victim.env.env);
    expect(rerun.code, rerun.stderr.slice(-1000)).toBe(0);
    const db = await victim.env.open();
    try {
      const actual = await snapshot(db);
      expect(actual.records).toEqual(expected.records);
      expect(actual.quarantine).toEqual(expected.quarantine);
      expect(actual.history).toEqual(expected.history);
      await expectLedgerBalanced(db);
    } finally {
      await db.close();
    }
  });
});

describe(`the data-sharing platform source (${WAREHOUSE_KIND})`, () => {
  it('pulls every licence through faults, secret expiry, drift and datas sent as a string, as resource xzxk', async () => {
    const { startSharingSimulator, DEFAULT_SHARING_APP_KEY, DEFAULT_SHARING_APP_SECRET } = await import(
      '../pipelines/simulate/sharing-platform.js'
    );
    const sim = await startSharingSimulator({
      records: 300,
      seed: 9,
      hangMs: 1500,
      requestSecretTtlMs: 2000,
      faults: '5xx=0.1,timeout=0.05,quota=0.05,expire=0.05,drift=0.3',
    });
    const env = await makeEnv('sharing', {
      GUIJI_SHARING_URL: sim.url,
      GUIJI_SHARING_APP_KEY: DEFAULT_SHARING_APP_KEY,
      GUIJI_SHARING_APP_SECRET: DEFAULT_SHARING_APP_SECRET,
      GUIJI_SHARING_LAG_SECONDS: '0',
      GUIJI_SHARING_TIMEOUT_MS: '400',
      GUIJI_SHARING_PAGE_SIZE: '20', // many pages: faults and drift land between them
    });
    envs.push(env);
    const db = await env.open();
    try {
      const { summary } = await env.run(db, ['sharing-platform']);
      expect(summary.sources[0]).toMatchObject({ source: 'sharing-platform', status: 'succeeded' });
      expect(sim.store.ids('xzxk').length).toBeGreaterThan(50);
      expect(sim.stats.served).toBeGreaterThanOrEqual(300 / 20); // pages of 20 (GUIJI_SHARING_PAGE_SIZE) were asked
      // records updated while the run paged moved past its frozen window: the next run brings them (their
      // update time has whole seconds, and the window is half-open: wait for the next second)
      expect(sim.stats.faults.drift).toBeGreaterThan(0);
      sim.setFaults('');
      await new Promise((r) => setTimeout(r, 1_100));
      const again = (await env.run(db, ['sharing-platform'])).summary.sources[0];
      expect(again?.status).toBe('succeeded');
      // drifted records: new ones the first run could not see, or new versions of ones it loaded
      expect((again?.inserted ?? 0) + (again?.updated ?? 0)).toBeGreaterThan(0);
      await expectEveryRecord(db, sim, ['xzxk']);
      await expectLedgerBalanced(db);
    } finally {
      await db.close();
      await sim.close();
    }
  });
});
