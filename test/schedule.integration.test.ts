import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { openWarehouse } from '../lib/db.js';
import { createLogger } from '../lib/logger.js';
import {
  createRandom,
  generateEnterprises,
  generatePenalties,
  PENALTY_HEADER,
  writeDelimited,
} from '../pipelines/demo/generate.js';
import { runScheduler, type Trigger } from '../pipelines/schedule/scheduler.js';
import { previousSlot } from '../pipelines/schedule/slots.js';
import { migrate } from '../pipelines/warehouse/migrate.js';
import { runCli, startCli } from './helpers/cli.js';
import { expectLedgerBalanced, makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

async function writeDrop(env: TestEnv, name: string, seed: number): Promise<void> {
  const incoming = join(env.config.dropDir, 'incoming');
  mkdirSync(incoming, { recursive: true });
  const random = createRandom(seed);
  const plan = generatePenalties(random, generateEnterprises(random, 20), 60, { faultShare: 0.1 });
  await writeDelimited(join(incoming, name), PENALTY_HEADER, plan.rows);
}

const SETTLED =
  /^(nightly run finished|nightly run skipped: .*|nothing to catch up: the last slot has run|nightly slot failed)$/;

/** A logger's destination that keeps each line's message and lets a test wait for them. */
class LogLines extends Writable {
  readonly messages: string[] = [];
  private readonly waiters: { pattern: RegExp; count: number; resolve: () => void }[] = [];

  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    for (const line of chunk.toString().split('\n')) {
      if (line) this.messages.push((JSON.parse(line) as { msg: string }).msg);
    }
    for (const waiter of [...this.waiters]) this.check(waiter);
    callback();
  }

  waitFor(pattern: RegExp, count: number): Promise<void> {
    return new Promise((resolve) => this.check({ pattern, count, resolve }, true));
  }

  private check(waiter: { pattern: RegExp; count: number; resolve: () => void }, fresh = false): void {
    if (this.messages.filter((m) => waiter.pattern.test(m)).length >= waiter.count) {
      const at = this.waiters.indexOf(waiter);
      if (at !== -1) this.waiters.splice(at, 1);
      waiter.resolve();
    } else if (fresh) this.waiters.push(waiter);
  }
}

function warehouseOf(env: TestEnv) {
  return { home: env.config.home, databaseUrl: env.config.databaseUrl, schema: env.config.dbSchema };
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

  // On the embedded warehouse the second scheduler reaches it through the first one's socket. The slots are
  // fired by the test (an injected trigger) at both schedulers at the same instant, each after both have
  // settled the one before: no waiting for real seconds, no slot missed or merged by a slow machine.
  it('runs each slot once when two schedulers share the warehouse', async () => {
    const env = await makeEnv('sched-two');
    envs.push(env);
    await writeDrop(env, 'p.csv', 5);
    const now = new Date('2026-11-27T02:20:30.000Z');
    const expression = '30 1 * * *';
    const first = previousSlot(expression, now)!;
    const dayMs = 86_400_000;
    const a = await openWarehouse({ ...warehouseOf(env), serve: true });
    // migrated before: two knex instances migrating one warehouse at the same instant is not this test's topic
    await migrate(a.knex, a.schema);
    const b = await openWarehouse(warehouseOf(env));
    const schedulers = [a, b].map((db, i) => {
      const log = new LogLines();
      const fires: ((slot: Date) => void)[] = [];
      const controller = new AbortController();
      const trigger: Trigger = (_expression, _name, fire) => {
        fires.push(fire);
        return { getNextRun: () => null, destroy: () => {} };
      };
      const done = runScheduler({
        config: env.config,
        db,
        catalog: env.catalog,
        logger: createLogger('info', log).child({ scheduler: i }),
        signal: controller.signal,
        now: () => now,
        trigger,
      });
      return { log, fires, controller, done };
    });
    const settled = (n: number) => Promise.all(schedulers.map((s) => s.log.waitFor(SETTLED, n)));
    // the catch-up of the last 01:30 on start, then three nights fired at both
    await settled(1);
    for (let night = 1; night <= 3; night++) {
      for (const s of schedulers) for (const fire of s.fires) fire(new Date(first.getTime() + night * dayMs));
      await settled(night + 1);
    }
    for (const s of schedulers) s.controller.abort();
    await Promise.all(schedulers.map((s) => s.done));
    await b.close();
    await a.close();

    const messages = schedulers.flatMap((s) => s.log.messages);
    // each of the four slots: one scheduler ran it, the other logged and skipped it
    expect(messages.filter((m) => m === 'nightly run finished')).toHaveLength(4);
    expect(
      messages.filter((m) =>
        /^nightly run skipped: (another process holds the nightly lock|this slot has already run)$|^nothing to catch up/.test(
          m,
        ),
      ),
    ).toHaveLength(4);

    const db = await env.open();
    try {
      const slots = await db.query<SlotRow>('SELECT * FROM schedule_slots ORDER BY slot_at');
      expect(slots.map((s) => new Date(s.slot_at).getTime())).toEqual(
        [0, 1, 2, 3].map((night) => first.getTime() + night * dayMs),
      );
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
  }, 400_000);

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
