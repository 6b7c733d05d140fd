import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackfillOutcome } from '../pipelines/backfill/backfill.js';
import type { BackfillPlan, BackfillSummary, PartitionSummary } from '../pipelines/backfill/report.js';
import {
  createRandom,
  ENTERPRISE_HEADER,
  enterpriseRow,
  generateEnterprises,
  generatePenalties,
  PENALTY_HEADER,
  writeDelimited,
} from '../pipelines/demo/generate.js';
import type { RunningSimulator } from '../pipelines/simulate/credit-platform.js';
import { creditEnv, expectDoneOnce, expectEveryRecordOnce, historySimulator } from './backfill-support.js';
import { runCli, startCli } from './helpers/cli.js';
import { expectLedgerBalanced, makeEnv, snapshot, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

const YEAR = ['--source', 'credit-platform', '--from', '2015-01-01', '--to', '2015-12-31', '--by', 'month'];

let sim: RunningSimulator;
const envs: TestEnv[] = [];

beforeAll(async () => {
  sim = await historySimulator(1200);
});
afterAll(async () => {
  await sim.close();
  for (const env of envs) await env.cleanup();
});

async function env(name: string, extra: Record<string, string> = {}): Promise<TestEnv> {
  const e = await makeEnv(name, creditEnv(sim, extra));
  envs.push(e);
  return e;
}

function outcomeOf(stdout: string): BackfillOutcome {
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as BackfillOutcome;
}

// Each test starts a dozen CLI processes and loads 24 partitions: a hang guard above the suite's two minutes,
// which a shared 2-core machine under load went past (139–150 s with or without warehouse v2)
describe(`guiji backfill of a platform (${WAREHOUSE_KIND})`, { timeout: 360_000 }, () => {
  it('loads every record of the range once under runs of kind backfill, leaves the nightly cursor alone, and resumes by skipping done partitions', async () => {
    const e = await env('bf-basic', { GUIJI_BATCH_SIZE: '40' });
    let db = await e.open();
    // a nightly cursor as a nightly run leaves it
    await db.query(
      `INSERT INTO source_state (source, stream, cursor, run_id) VALUES ('credit-platform', 'xzcf', '2025-06-01 00:00:00', 7)`,
    );
    const before = await db.query('SELECT * FROM source_state ORDER BY source, stream');
    await db.close();

    const running = startCli(['backfill', ...YEAR, '--concurrency', '2', '--json'], {
      ...e.env,
      GUIJI_LOG_LEVEL: 'info',
    });
    // while it loads, the other commands still work (an embedded warehouse is served by the backfill)
    await running.waitForLog('partition done');
    const meanwhile = await runCli(['backfill', 'status', '--json'], e.env);
    expect(meanwhile.code, meanwhile.stderr.slice(-2000)).toBe(0);
    const [progress] = (JSON.parse(meanwhile.stdout) as { backfills: BackfillSummary[] }).backfills;
    expect(progress!.partitions.total).toBe(24);
    expect(progress!.partitions.done).toBeGreaterThan(0);
    const first = await running.done;
    expect(first.code, first.stderr.slice(-2000)).toBe(0);
    const outcome = outcomeOf(first.stdout);
    expect(outcome.partitions).toEqual({ total: 24, pending: 0, running: 0, done: 24, failed: 0 });
    expect(outcome.rows).toBe(1200);

    db = await e.open();
    try {
      await expectEveryRecordOnce(db, sim);
      await expectLedgerBalanced(db);
      expect(await expectDoneOnce(db)).toBe(24);
      expect(await db.query('SELECT * FROM source_state ORDER BY source, stream')).toEqual(before);
      const runs = await db.query<{ kind: string; status: string; n: string }>(
        'SELECT kind, status, count(*)::int AS n FROM runs GROUP BY kind, status',
      );
      expect(runs).toEqual([{ kind: 'backfill', status: 'succeeded', n: 24 }]);
      const [ledger] = await db.query<{ read: string }>('SELECT sum(read) AS read FROM source_runs');
      expect(Number(ledger!.read)).toBe(1200);
    } finally {
      await db.close();
    }

    // the same command again: every partition is done, nothing is pulled nor run
    const requests = sim.stats.requests;
    const again = await runCli(['backfill', ...YEAR, '--json'], e.env);
    expect(again.code, again.stderr.slice(-2000)).toBe(0);
    expect(outcomeOf(again.stdout)).toMatchObject({
      created: false,
      added: 0,
      partitions: { done: 24, total: 24 },
    });
    expect(sim.stats.requests).toBe(requests);
    db = await e.open();
    try {
      const [runs] = await db.query<{ n: string }>('SELECT count(*) AS n FROM runs');
      expect(Number(runs!.n)).toBe(24);
    } finally {
      await db.close();
    }

    // a dry run of a longer range lists only what is left: the new months
    const dry = await runCli(
      [
        'backfill',
        '--source',
        'credit-platform',
        '--from',
        '2015-01-01',
        '--to',
        '2016-02-29',
        '--dry-run',
        '--json',
      ],
      e.env,
    );
    expect(dry.code, dry.stderr.slice(-2000)).toBe(0);
    const planned = outcomeOf(dry.stdout);
    expect(planned.dryRun).toBe(true);
    expect(planned.backfillId).toBeNull();
    expect(planned.toDo).toHaveLength(28);

    // status, plan and guiji status tell the same story
    const status = await runCli(['backfill', 'status', String(outcome.backfillId), '--json'], e.env);
    expect(status.code, status.stderr).toBe(0);
    const detail = JSON.parse(status.stdout) as { backfill: BackfillSummary; partitions: PartitionSummary[] };
    expect(detail.backfill.partitions.done).toBe(24);
    expect(detail.partitions.every((p) => p.state === 'done' && p.attempts === 1)).toBe(true);
    const plan = await runCli(['backfill', 'plan', '--since', '2014-10-01', '--json'], e.env);
    expect(plan.code, plan.stderr).toBe(0);
    const p = JSON.parse(plan.stdout) as BackfillPlan;
    expect(p.sources).toEqual([
      expect.objectContaining({ source: 'credit-platform', toDo: 0, rowsLoaded: 1200 }),
    ]);
    const started = Date.parse(p.firstStartedAt!);
    const deadline = Date.parse(p.deadline!);
    expect(deadline - started).toBeGreaterThan(88 * 86_400_000);
    expect(deadline - started).toBeLessThan(93 * 86_400_000);
    expect(p.secondsLeft!).toBeGreaterThan(88 * 86_400);
    // by default the backfill's runs (one a partition) are summed up, not listed; --kind backfill lists them
    const whole = await runCli(['status', '--json'], e.env);
    const parsed = JSON.parse(whole.stdout) as {
      runs: unknown[];
      backfillRuns: { runs: number; failed: number };
      backfills: BackfillPlan;
    };
    expect(parsed.runs).toEqual([]);
    expect(parsed.backfillRuns.runs).toBeGreaterThan(0);
    expect(parsed.backfillRuns.failed).toBe(0);
    expect(parsed.backfills.sources[0]).toMatchObject({ source: 'credit-platform', rowsLoaded: 1200 });
    const listed = await runCli(['status', '--kind', 'backfill', '--limit', '1000', '--json'], e.env);
    const backfillRuns = (JSON.parse(listed.stdout) as { runs: { kind: string }[] }).runs;
    expect(backfillRuns.length).toBe(parsed.backfillRuns.runs);
    expect(backfillRuns.every((r) => r.kind === 'backfill')).toBe(true);
  });

  it('killed with SIGKILL mid-partition and run again, ends with the same warehouse as an uninterrupted backfill', async () => {
    const vars = { GUIJI_BATCH_SIZE: '20', GUIJI_LOG_LEVEL: 'debug' };
    const ref = await env('bf-ref', vars);
    const refResult = await runCli(['backfill', ...YEAR, '--json'], ref.env);
    expect(refResult.code, refResult.stderr.slice(-2000)).toBe(0);
    let db = await ref.open();
    const expected = await snapshot(db);
    await db.close();
    expect(expected.records!.length).toBeGreaterThan(1000);

    const victim = await env('bf-kill', vars);
    const first = startCli(['backfill', ...YEAR, '--json'], victim.env);
    // 20-row batches, about 50 rows a partition; a partition's last batch is logged apart, so this kill falls
    // in the middle of a partition (the third or so)
    await first.waitForLog('batch committed', 8);
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');

    db = await victim.open();
    const [half] = await db.query<{ done: string; running: string }>(
      `SELECT count(*) FILTER (WHERE state = 'done') AS done, count(*) FILTER (WHERE state = 'running') AS running
       FROM backfill_partitions`,
    );
    await db.close();
    expect(Number(half!.done)).toBeLessThan(24);
    expect(Number(half!.running)).toBe(1);

    const rerun = await runCli(['backfill', ...YEAR, '--json'], victim.env);
    expect(rerun.code, rerun.stderr.slice(-2000)).toBe(0);
    expect(outcomeOf(rerun.stdout).partitions.done).toBe(24);
    db = await victim.open();
    try {
      const actual = await snapshot(db);
      expect(actual.records).toEqual(expected.records);
      expect(actual.quarantine).toEqual(expected.quarantine);
      expect(actual.history).toEqual(expected.history);
      await expectLedgerBalanced(db);
      await expectDoneOnce(db);
      const interrupted = await db.query<{ kind: string }>(
        `SELECT kind FROM runs WHERE status = 'interrupted'`,
      );
      expect(interrupted).toEqual([{ kind: 'backfill' }]);
      // the half-done partition went on from where its last batch committed
      const [resumed] = await db.query<{ attempts: number; resume_from: string | null }>(
        `SELECT p.attempts, p.resume_from FROM backfill_partitions p
         JOIN backfill_attempts a ON a.partition_id = p.id WHERE a.outcome = 'lost'`,
      );
      expect(resumed!.attempts).toBe(2);
      expect(resumed!.resume_from).not.toBeNull();
    } finally {
      await db.close();
    }
  });

  it('stops on SIGTERM at the next batch, gives the partition back, exits 0, and the same command finishes it', async () => {
    // 5-row batches: about ten to a partition, so the stop falls well inside the first one
    const e = await env('bf-term', { GUIJI_BATCH_SIZE: '5', GUIJI_LOG_LEVEL: 'debug' });
    const first = startCli(['backfill', ...YEAR, '--json'], e.env);
    await first.waitForLog('batch committed', 3);
    first.child.kill('SIGTERM');
    const stopped = await first.done;
    expect(stopped.code, stopped.stderr.slice(-2000)).toBe(0);
    const outcome = outcomeOf(stopped.stdout);
    expect(outcome.stopped).toBe(true);
    expect(outcome.partitions.running).toBe(0);
    expect(outcome.partitions.done).toBeLessThan(24);
    let db = await e.open();
    try {
      await expectLedgerBalanced(db);
      const given = await db.query<{ outcome: string; state: string; attempts: number }>(
        `SELECT a.outcome, p.state, p.attempts FROM backfill_attempts a JOIN backfill_partitions p ON p.id = a.partition_id
         WHERE a.outcome <> 'done'`,
      );
      expect(given).toEqual([{ outcome: 'interrupted', state: 'pending', attempts: 0 }]);
    } finally {
      await db.close();
    }
    const rerun = await runCli(['backfill', ...YEAR, '--json'], e.env);
    expect(rerun.code, rerun.stderr.slice(-2000)).toBe(0);
    db = await e.open();
    try {
      await expectDoneOnce(db);
      await expectEveryRecordOnce(db, sim);
      await expectLedgerBalanced(db);
    } finally {
      await db.close();
    }
  });

  it('retries a failing partition with backoff up to the limit, marks it failed with its error, and --retry-failed loads it', async () => {
    const e = await env('bf-retry', {
      GUIJI_BACKFILL_MAX_ATTEMPTS: '3',
      GUIJI_BACKFILL_BACKOFF_SECONDS: '1',
    });
    const month = ['backfill', '--source', 'credit-platform', '--from', '2015-03-01', '--to', '2015-03-31'];
    sim.setFaults('quota=1');
    let failed: Awaited<ReturnType<typeof runCli>>;
    try {
      failed = await runCli([...month, '--json'], e.env);
    } finally {
      sim.setFaults('');
    }
    expect(failed.code, failed.stderr.slice(-2000)).toBe(1);
    const outcome = outcomeOf(failed.stdout);
    expect(outcome.partitions).toMatchObject({ total: 2, failed: 2, done: 0 });
    expect(outcome.failures.map((f) => f.attempts)).toEqual([3, 3]);
    expect(outcome.failures.every((f) => (f.error ?? '').length > 0)).toBe(true);

    let db = await e.open();
    try {
      const attempts = await db.query<{ partition_id: string; outcome: string; started_at: Date }>(
        'SELECT partition_id, outcome, started_at FROM backfill_attempts ORDER BY partition_id, id',
      );
      const byPartition = new Map<string, typeof attempts>();
      for (const a of attempts)
        byPartition.set(a.partition_id, [...(byPartition.get(a.partition_id) ?? []), a]);
      expect(byPartition.size).toBe(2);
      for (const list of byPartition.values()) {
        expect(list.map((a) => a.outcome)).toEqual(['retry', 'retry', 'failed']);
        const gaps = list.slice(1).map((a, i) => a.started_at.getTime() - list[i]!.started_at.getTime());
        // backoff 1 s, then 2 s
        expect(gaps[0]!).toBeGreaterThanOrEqual(950);
        expect(gaps[1]!).toBeGreaterThanOrEqual(1950);
      }
      await expectLedgerBalanced(db);
      const [records] = await db.query<{ n: string }>('SELECT count(*) AS n FROM records');
      expect(Number(records!.n)).toBe(0);
    } finally {
      await db.close();
    }

    // without --retry-failed a failed partition stays failed
    const still = await runCli([...month, '--json'], e.env);
    expect(still.code).toBe(1);
    expect(outcomeOf(still.stdout).partitions.failed).toBe(2);

    const retried = await runCli([...month, '--retry-failed', '--json'], e.env);
    expect(retried.code, retried.stderr.slice(-2000)).toBe(0);
    expect(outcomeOf(retried.stdout)).toMatchObject({ retried: 2, partitions: { done: 2, failed: 0 } });
    db = await e.open();
    try {
      const [records] = await db.query<{ n: string }>('SELECT count(*) AS n FROM records');
      expect(Number(records!.n)).toBeGreaterThan(50);
      await expectLedgerBalanced(db);
    } finally {
      await db.close();
    }
  });

  it('fails at once, naming the setting, when the platform refuses the signature', async () => {
    const e = await env('bf-badsig', { GUIJI_CREDIT_APP_SECRET: 'not-the-secret-42' });
    const result = await runCli(
      ['backfill', '--source', 'credit-platform', '--from', '2015-03-01', '--to', '2015-03-31', '--json'],
      e.env,
    );
    expect(result.code).toBe(1);
    const outcome = outcomeOf(result.stdout);
    expect(outcome.failures).toHaveLength(2);
    for (const f of outcome.failures) {
      expect(f.attempts).toBe(1);
      expect(f.error).toMatch(/GUIJI_CREDIT_APP_SECRET/);
    }
    expect(result.stdout + result.stderr).not.toContain('not-the-secret-42');
  });

  it('rejects bad usage with exit 2 and a message naming the flag', async () => {
    const e = await env('bf-usage');
    const badDate = await runCli(
      ['backfill', '--source', 'credit-platform', '--from', '2015-02-30', '--to', '2015-03-31'],
      e.env,
    );
    expect(badDate.code).toBe(2);
    expect(badDate.stderr).toMatch(/--from: expected a date YYYY-MM-DD, got "2015-02-30"/);
    const noDir = await runCli(['backfill', '--source', 'drops'], e.env);
    expect(noDir.code).toBe(2);
    expect(noDir.stderr).toMatch(/--dir/);
  });
});

describe(`guiji backfill of a folder of historical spreadsheets (${WAREHOUSE_KIND})`, () => {
  it('loads each file as a partition, leaves the folder as it was, and never loads a file twice', async () => {
    const e = await env('bf-drops');
    const dir = join(e.dir, 'history');
    mkdirSync(join(dir, '2016'), { recursive: true });
    const random = createRandom(3);
    const enterprises = generateEnterprises(random, 100);
    await writeDelimited(
      join(dir, 'register.csv'),
      ENTERPRISE_HEADER,
      enterprises.map((x) => enterpriseRow(random, x)),
    );
    const a = generatePenalties(random, enterprises, 300, { faultShare: 0.05 });
    await writeDelimited(join(dir, '2016', 'penalties-2016.csv'), PENALTY_HEADER, a.rows, {
      encoding: 'gb18030',
    });
    const b = generatePenalties(random, enterprises, 200, { faultShare: 0.05 });
    await writeDelimited(join(dir, 'penalties-2017.csv'), PENALTY_HEADER, b.rows);
    const files = readdirSync(dir, { recursive: true }).sort();

    const result = await runCli(
      ['backfill', '--source', 'drops', '--dir', dir, '--concurrency', '2', '--json'],
      e.env,
    );
    expect(result.code, result.stderr.slice(-2000)).toBe(0);
    const outcome = outcomeOf(result.stdout);
    expect(outcome.partitions).toMatchObject({ total: 3, done: 3 });
    expect(outcome.rows).toBe(600);
    expect(readdirSync(dir, { recursive: true }).sort()).toEqual(files);
    expect(existsSync(join(e.config.home, 'backfill-work'))).toBe(true);
    expect(readdirSync(join(e.config.home, 'backfill-work'))).toEqual([]);

    const db = await e.open();
    try {
      const [loaded] = await db.query<{ n: string }>(
        `SELECT count(*) AS n FROM drop_files WHERE status = 'loaded'`,
      );
      expect(Number(loaded!.n)).toBe(3);
      const [ledger] = await db.query<{ read: string }>(`SELECT sum(read) AS read FROM source_runs`);
      expect(Number(ledger!.read)).toBe(600);
      await expectLedgerBalanced(db);
      await expectDoneOnce(db);
    } finally {
      await db.close();
    }
    const again = await runCli(['backfill', '--source', 'drops', '--dir', dir, '--json'], e.env);
    expect(again.code).toBe(0);
    expect(outcomeOf(again.stdout)).toMatchObject({ created: false, added: 0, partitions: { done: 3 } });
  });
});
