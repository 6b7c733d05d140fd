import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createRandom,
  generateEnterprises,
  generatePenalties,
  PENALTY_HEADER,
  writeDelimited,
} from '../pipelines/demo/generate.js';
import { previousSlot } from '../pipelines/schedule/slots.js';
import { runCli, startCli } from './helpers/cli.js';
import { expectLedgerBalanced, makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

async function writeDrop(env: TestEnv, name: string, seed: number): Promise<void> {
  const incoming = join(env.config.dropDir, 'incoming');
  mkdirSync(incoming, { recursive: true });
  const random = createRandom(seed);
  const plan = generatePenalties(random, generateEnterprises(random, 20), 60, { faultShare: 0.1 });
  await writeDelimited(join(incoming, name), PENALTY_HEADER, plan.rows);
}

interface SlotRow {
  job: string;
  slot_at: Date | string;
  status: string;
  run_id: string | null;
  run_status: string | null;
}

describe(`guiji schedule (${WAREHOUSE_KIND})`, () => {
  const envs: TestEnv[] = [];
  afterAll(async () => {
    for (const env of envs) await env.cleanup();
  });

  it('refuses a bad cron expression as a configuration error naming the setting', async () => {
    const env = await makeEnv('sched-bad');
    envs.push(env);
    const result = await runCli(['schedule'], { ...env.env, GUIJI_SCHEDULE_DROPS: '30 25 * * *' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/GUIJI_SCHEDULE_DROPS/);
    expect(result.stderr).toMatch(/cron/);
    const help = await runCli(['--help'], {});
    expect(help.stdout).toContain('GUIJI_SCHEDULE_CREDIT');
  });

  it('catches up a missed night on start, and only once', async () => {
    const env = await makeEnv('sched-catchup');
    envs.push(env);
    await writeDrop(env, 'p.csv', 3);
    const vars = { ...env.env, GUIJI_LOG_LEVEL: 'info' };
    const before = new Date();
    const first = startCli(['schedule'], vars);
    await first.waitForLog('nightly run finished');
    first.child.kill('SIGTERM');
    const stopped = await first.done;
    expect(stopped.code, stopped.stderr.slice(-2000)).toBe(0);
    // pino JSON lines when stderr is not a terminal
    expect(stopped.stderr.split('\n')[0]).toMatch(/^\{".*"msg":"schedule started"/);

    const db = await env.open();
    try {
      const slots = await db.query<SlotRow>('SELECT * FROM schedule_slots');
      expect(slots).toHaveLength(1);
      const slot = slots[0]!;
      expect(slot).toMatchObject({ job: 'drops', status: 'finished', run_status: 'succeeded' });
      // the last 01:30 in Shanghai before the scheduler started
      const expected = previousSlot('30 1 * * *', before)!;
      expect(new Date(slot.slot_at).toISOString()).toBe(expected.toISOString());
      expect(expected.getUTCHours() * 60 + expected.getUTCMinutes()).toBe(17 * 60 + 30);
      const runs = await db.query<{ id: string; kind: string; status: string }>(
        'SELECT id, kind, status FROM runs',
      );
      expect(runs).toEqual([{ id: slot.run_id, kind: 'nightly', status: 'succeeded' }]);
      const [files] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM drop_files`);
      expect(Number(files!.n)).toBe(1);
    } finally {
      await db.close();
    }

    // started again the same day: the night has run, nothing to catch up
    await writeDrop(env, 'q.csv', 4);
    const second = startCli(['schedule'], vars);
    await second.waitForLog('nothing to catch up: the last slot has run');
    second.child.kill('SIGTERM');
    const again = await second.done;
    expect(again.code, again.stderr.slice(-2000)).toBe(0);
    const after = await env.open();
    try {
      const [runs] = await after.query<{ n: string }>('SELECT count(*) AS n FROM runs');
      expect(Number(runs!.n)).toBe(1);
    } finally {
      await after.close();
    }
  });

  // on the embedded warehouse the second scheduler reaches it through the first one's socket
  it('runs each slot once when two schedulers share the warehouse', async () => {
    const env = await makeEnv('sched-two');
    envs.push(env);
    await writeDrop(env, 'p.csv', 5);
    // a slot every two seconds: both schedulers fire at the same instants
    const vars = { ...env.env, GUIJI_LOG_LEVEL: 'info', GUIJI_SCHEDULE: '*/2 * * * * *' };
    const a = startCli(['schedule'], vars);
    await a.waitForLog('schedule started');
    const b = startCli(['schedule'], vars);
    await b.waitForLog('schedule started');
    // several slots after both are up
    await Promise.all([a.waitForLog('nightly slot due', 3), b.waitForLog('nightly slot due', 3)]);
    await new Promise((r) => setTimeout(r, 1500));
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    const [doneA, doneB] = await Promise.all([a.done, b.done]);
    expect(doneA.code, doneA.stderr.slice(-2000)).toBe(0);
    expect(doneB.code, doneB.stderr.slice(-2000)).toBe(0);
    const skipped = `${doneA.stderr}${doneB.stderr}`.match(
      /"msg":"nightly run skipped: (another process holds the nightly lock|this slot has already run)"/g,
    );
    // both were due at the same slots: one ran each, the other logged and skipped it
    expect(skipped?.length ?? 0).toBeGreaterThanOrEqual(2);

    const db = await env.open();
    try {
      const slots = await db.query<SlotRow>('SELECT * FROM schedule_slots ORDER BY slot_at');
      expect(slots.length).toBeGreaterThanOrEqual(3);
      const runs = await db.query<{ id: string; kind: string }>(`SELECT id, kind FROM runs ORDER BY id`);
      // one run per slot, never two
      expect(runs.every((r) => r.kind === 'nightly')).toBe(true);
      expect(runs.map((r) => r.id).sort()).toEqual(
        slots
          .map((s) => s.run_id)
          .filter((id): id is string => id !== null)
          .sort(),
      );
      expect(runs.length).toBe(slots.length);
      const [loaded] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM drop_files`);
      expect(Number(loaded!.n)).toBe(1);
      await expectLedgerBalanced(db);
    } finally {
      await db.close();
    }
  });
  // only the embedded warehouse has a holder that can go away while the others stay
  it.skipIf(WAREHOUSE_KIND === 'postgres')(
    'exits 1 when the scheduler serving the embedded warehouse stops; started again it holds it itself',
    async () => {
      const env = await makeEnv('sched-holder');
      envs.push(env);
      const vars = { ...env.env, GUIJI_LOG_LEVEL: 'info' };
      const holder = startCli(['schedule'], vars);
      await holder.waitForLog('nightly run finished');
      const client = startCli(['schedule'], vars);
      await client.waitForLog('nothing to catch up: the last slot has run');
      holder.child.kill('SIGTERM');
      expect((await holder.done).code).toBe(0);
      const lost = await client.done;
      expect(lost.code, lost.stderr.slice(-2000)).toBe(1);
      expect(lost.stderr).toMatch(/the warehouse does not answer/);

      const again = startCli(['schedule'], vars);
      await again.waitForLog('nothing to catch up: the last slot has run');
      const served = JSON.parse(readFileSync(join(env.config.home, 'warehouse.served.json'), 'utf8')) as {
        pid: number;
      };
      expect(served.pid).toBe(again.child.pid);
      again.child.kill('SIGTERM');
      expect((await again.done).code).toBe(0);
    },
  );
});
