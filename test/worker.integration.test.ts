import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackfillOutcome } from '../pipelines/backfill/backfill.js';
import type { RunningSimulator } from '../pipelines/simulate/credit-platform.js';
import { creditEnv, expectDoneOnce, expectEveryRecordOnce, historySimulator } from './backfill-support.js';
import { type CliProcess, runCli, startCli } from './helpers/cli.js';
import { expectLedgerBalanced, makeEnv, TEST_DATABASE_URL, type TestEnv } from './helpers/env.js';

const YEAR = ['--source', 'credit-platform', '--from', '2015-01-01', '--to', '2015-12-31', '--by', 'month'];

// several processes on one warehouse: PostgreSQL only (an embedded warehouse belongs to one process)
describe.skipIf(!TEST_DATABASE_URL)('guiji worker processes sharing a backfill (postgres)', () => {
  let sim: RunningSimulator;
  const envs: TestEnv[] = [];
  beforeAll(async () => {
    sim = await historySimulator(1200);
  });
  afterAll(async () => {
    await sim.close();
    for (const env of envs) await env.cleanup();
  });

  it('three workers, one killed with SIGKILL mid-partition, finish every partition exactly once', async () => {
    const env = await makeEnv(
      'workers',
      creditEnv(sim, { GUIJI_BATCH_SIZE: '20', GUIJI_BACKFILL_LEASE_SECONDS: '3' }),
    );
    envs.push(env);
    const enqueued = await runCli(['backfill', ...YEAR, '--enqueue', '--json'], env.env);
    expect(enqueued.code, enqueued.stderr.slice(-2000)).toBe(0);
    const outcome = JSON.parse(enqueued.stdout) as BackfillOutcome;
    expect(outcome.partitions).toMatchObject({ total: 24, pending: 24 });

    const vars = { ...env.env, GUIJI_LOG_LEVEL: 'debug' };
    const workers: CliProcess[] = [1, 2, 3].map(() =>
      startCli(['worker', '--exit-when-idle', '--json'], vars),
    );
    // a partition's last batch is logged apart: after its second "batch committed" the victim is mid-partition
    await workers[0]!.waitForLog('batch committed', 2);
    workers[0]!.child.kill('SIGKILL');
    const killed = await workers[0]!.done;
    expect(killed.signal).toBe('SIGKILL');
    const results = await Promise.all(workers.slice(1).map((w) => w.done));
    for (const r of results) expect(r.code, r.stderr.slice(-2000)).toBe(0);

    const db = await env.open();
    try {
      expect(await expectDoneOnce(db)).toBe(24);
      await expectEveryRecordOnce(db, sim);
      await expectLedgerBalanced(db);
      // the victim's partition was taken over when its lease expired, its run marked interrupted
      const victimPid = workers[0]!.child.pid;
      const lost = await db.query<{ owner: string; partition_id: string }>(
        `SELECT owner, partition_id FROM backfill_attempts WHERE outcome = 'lost'`,
      );
      const victims = lost.filter((a) => a.owner.includes(`:${victimPid}:`));
      expect(victims).toHaveLength(1);
      const [takenOver] = await db.query<{ owner: string; resume_from: string | null }>(
        `SELECT a.owner, p.resume_from FROM backfill_attempts a JOIN backfill_partitions p ON p.id = a.partition_id
         WHERE a.partition_id = $1 AND a.outcome = 'done'`,
        [victims[0]!.partition_id],
      );
      expect(takenOver!.owner).not.toContain(`:${victimPid}:`);
      expect(takenOver!.resume_from).not.toBeNull();
      const interrupted = await db.query<{ pid: number }>(
        `SELECT pid FROM runs WHERE status = 'interrupted' AND kind = 'backfill'`,
      );
      expect(interrupted).toContainEqual({ pid: victimPid });
      const open = await db.query(`SELECT id FROM backfills WHERE finished_at IS NULL`);
      expect(open).toEqual([]);
      // the work was shared
      const owners = await db.query<{ pid: string }>(
        `SELECT DISTINCT split_part(owner, ':', 2) AS pid FROM backfill_attempts WHERE outcome = 'done'`,
      );
      expect(owners.length).toBeGreaterThanOrEqual(2);
    } finally {
      await db.close();
    }
  });

  it('a worker stalled past its lease loses its partition to another and cannot commit a batch of it afterwards', async () => {
    const env = await makeEnv('stalled', creditEnv(sim, { GUIJI_BATCH_SIZE: '20' }));
    envs.push(env);
    const enqueued = await runCli(['backfill', ...YEAR, '--enqueue', '--json'], env.env);
    expect(enqueued.code, enqueued.stderr.slice(-2000)).toBe(0);
    const vars = { ...env.env, GUIJI_LOG_LEVEL: 'info' };
    const stalled = startCli(['worker', '--exit-when-idle', '--json'], vars);
    await stalled.waitForLog('partition claimed');
    // a stalled process (a long GC pause, a frozen VM): alive, silent, its lease running out
    stalled.child.kill('SIGSTOP');
    const other = await runCli(['worker', '--exit-when-idle', '--json'], vars).finally(() => {
      stalled.child.kill('SIGCONT');
    });
    expect(other.code, other.stderr.slice(-2000)).toBe(0);
    expect((JSON.parse(other.stdout.trim()) as { done: number }).done).toBe(24);
    const woke = await stalled.done;
    expect(woke.code, woke.stderr.slice(-2000)).toBe(0);
    expect((JSON.parse(woke.stdout.trim()) as { done: number; released: number }).done).toBe(0);
    expect(woke.stderr).toContain('partition lease lost');
    const db = await env.open();
    try {
      expect(await expectDoneOnce(db)).toBe(24);
      await expectEveryRecordOnce(db, sim);
      await expectLedgerBalanced(db);
      const lost = await db.query<{ owner: string }>(
        `SELECT owner FROM backfill_attempts WHERE outcome = 'lost'`,
      );
      expect(lost.map((a) => a.owner.split(':')[1])).toEqual([String(stalled.child.pid)]);
    } finally {
      await db.close();
    }
  });

  it('guiji backfill resumes a backfill a worker is loading, and the two share its partitions', async () => {
    const env = await makeEnv('backfill-worker', creditEnv(sim, { GUIJI_BATCH_SIZE: '20' }));
    envs.push(env);
    // by day: 730 small partitions, more than one worker loads before the backfill has started
    const days = [...YEAR.slice(0, -1), 'day'];
    const enqueued = await runCli(['backfill', ...days, '--enqueue', '--json'], env.env);
    expect(enqueued.code, enqueued.stderr.slice(-2000)).toBe(0);
    const total = (JSON.parse(enqueued.stdout) as BackfillOutcome).partitions.total;
    expect(total).toBe(730);
    const vars = { ...env.env, GUIJI_LOG_LEVEL: 'info' };
    const worker = startCli(['worker', '--exit-when-idle', '--json'], vars);
    await worker.waitForLog('partition claimed');
    const backfill = startCli(['backfill', ...days, '--json'], vars);
    const [b, w] = await Promise.all([backfill.done, worker.done]);
    expect(b.code, b.stderr.slice(-2000)).toBe(0);
    expect(w.code, w.stderr.slice(-2000)).toBe(0);
    const outcome = JSON.parse(b.stdout.trim()) as BackfillOutcome;
    expect(outcome).toMatchObject({ created: false, partitions: { total, done: total } });
    const workerDid = JSON.parse(w.stdout.trim()) as { done: number };
    expect(workerDid.done).toBeGreaterThan(0);
    expect(workerDid.done).toBeLessThan(total);
    const db = await env.open();
    try {
      await expectDoneOnce(db);
      await expectEveryRecordOnce(db, sim);
      await expectLedgerBalanced(db);
      const owners = await db.query<{ pid: string }>(
        `SELECT DISTINCT split_part(owner, ':', 2) AS pid FROM backfill_attempts WHERE outcome = 'done'`,
      );
      expect(owners.map((o) => Number(o.pid)).sort()).toEqual([backfill.child.pid, worker.child.pid].sort());
    } finally {
      await db.close();
    }
  });
});
