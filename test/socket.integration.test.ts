import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createRandom,
  generateEnterprises,
  generatePenalties,
  PENALTY_HEADER,
  writeDelimited,
} from '../pipelines/demo/generate.js';
import { runCli, startCli } from './helpers/cli.js';
import { expectLedgerBalanced, makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';
import { holdAt } from './helpers/hold.js';

function lockedSince(env: TestEnv): string {
  return (JSON.parse(readFileSync(join(env.config.home, 'warehouse.lock'), 'utf8')) as { at: string }).at;
}

async function writeDrop(env: TestEnv, name: string, seed: number, rows: number): Promise<void> {
  const incoming = join(env.config.dropDir, 'incoming');
  mkdirSync(incoming, { recursive: true });
  const random = createRandom(seed);
  const plan = generatePenalties(random, generateEnterprises(random, 50), rows, { faultShare: 0.1 });
  await writeDelimited(join(incoming, name), PENALTY_HEADER, plan.rows);
}

/**
 * On the embedded warehouse `guiji schedule` holds the PGlite directory and serves it on a socket in
 * GUIJI_HOME; the other commands connect to it. (On PostgreSQL the same commands simply share the server.)
 */
describe(`the other commands while guiji schedule holds the warehouse (${WAREHOUSE_KIND})`, () => {
  const envs: TestEnv[] = [];
  afterAll(async () => {
    for (const env of envs) await env.cleanup();
  });

  it('status --json, a manual run and the quarantine work from other processes; both runs exit 0', async () => {
    const env = await makeEnv('socket');
    envs.push(env);
    const vars = { ...env.env, GUIJI_LOG_LEVEL: 'info' };
    const scheduler = startCli(['schedule'], vars);
    // the catch-up of the last 01:30 (an empty drop folder): the scheduler is idle afterwards
    await scheduler.waitForLog('nightly run finished');
    if (WAREHOUSE_KIND === 'pglite')
      expect(existsSync(join(env.config.home, 'warehouse.served.json'))).toBe(true);

    const status = await runCli(['status', '--json'], vars);
    expect(status.code, status.stderr).toBe(0);
    const { runs } = JSON.parse(status.stdout) as { runs: { runId: number; status: string }[] };
    expect(runs).toHaveLength(1);
    expect(runs[0]!.status).toBe('succeeded');

    await writeDrop(env, 'p.csv', 21, 900);
    const run = await runCli(['run', '--json'], { ...vars, GUIJI_BATCH_SIZE: '200' });
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    const summary = JSON.parse(run.stdout) as {
      runId: number;
      status: string;
      sources: { read: number; inserted: number; quarantined: number }[];
    };
    expect(summary.status).toBe('succeeded');
    expect(summary.sources[0]!.read).toBe(900);
    expect(summary.sources[0]!.inserted).toBeGreaterThan(600);

    const quarantine = await runCli(['quarantine', 'list', '--json', '--run', String(summary.runId)], vars);
    expect(quarantine.code, quarantine.stderr).toBe(0);
    expect(quarantine.stdout.trim().split('\n').length).toBeGreaterThan(0);

    const again = await runCli(['status', '--json'], vars);
    expect((JSON.parse(again.stdout) as { runs: unknown[] }).runs).toHaveLength(2);

    scheduler.child.kill('SIGTERM');
    const stopped = await scheduler.done;
    expect(stopped.code, stopped.stderr.slice(-2000)).toBe(0);
    // the holder is gone: its socket and address with it, and what the manual run loaded is in the warehouse
    expect(existsSync(join(env.config.home, 'warehouse.served.json'))).toBe(false);
    const db = await env.open();
    try {
      const [records] = await db.query<{ n: string }>('SELECT count(*) AS n FROM records');
      expect(Number(records!.n)).toBe(summary.sources[0]!.inserted);
      await expectLedgerBalanced(db);
    } finally {
      await db.close();
    }
  });

  it('lets one of two manual runs through the socket run; the other exits 3', async () => {
    const env = await makeEnv('socket-lock');
    envs.push(env);
    const vars = { ...env.env, GUIJI_LOG_LEVEL: 'debug', GUIJI_BATCH_SIZE: '200' };
    const scheduler = startCli(['schedule'], vars);
    await scheduler.waitForLog('nightly run finished');
    await writeDrop(env, 'p.csv', 22, 2000);

    // the first run stops after its first committed load, holding the run lock, until the second has tried
    const first = startCli(['run', '--json'], { ...vars, ...holdAt('load-commit:1', 'wait') });
    await first.waitForLog('test hold reached');
    let second: Awaited<ReturnType<typeof runCli>>;
    try {
      second = await runCli(['run', '--json'], vars);
    } finally {
      first.child.kill('SIGUSR2');
    }
    expect(second.code, second.stderr.slice(-2000)).toBe(3);
    expect(second.stderr).toMatch(/another guiji run/);
    const done = await first.done;
    expect(done.code, done.stderr.slice(-2000)).toBe(0);
    expect((JSON.parse(done.stdout) as { sources: { read: number }[] }).sources[0]!.read).toBe(2000);

    scheduler.child.kill('SIGTERM');
    expect((await scheduler.done).code).toBe(0);
  });

  it.skipIf(WAREHOUSE_KIND === 'postgres')(
    'a command started while the scheduler opens the warehouse waits for it to serve',
    async () => {
      const env = await makeEnv('socket-early');
      envs.push(env);
      const vars = { ...env.env, GUIJI_LOG_LEVEL: 'info' };
      // the scheduler holds the lock and has opened PGlite, but waits before its first statement: it has not
      // said where it serves yet
      const scheduler = startCli(['schedule'], { ...vars, ...holdAt('query:1', 'wait') });
      await scheduler.waitForLog('test hold reached');
      expect(JSON.parse(readFileSync(join(env.config.home, 'warehouse.served.json'), 'utf8'))).toEqual({
        pid: scheduler.child.pid,
        starting: true,
      });
      const status = startCli(['status', '--json'], vars);
      await status.waitForLog(
        `the embedded warehouse is held by guiji schedule (pid ${scheduler.child.pid}, since ${lockedSince(env)}): waiting for it`,
      );
      scheduler.child.kill('SIGUSR2');
      const answered = await status.done;
      expect(answered.code, answered.stderr).toBe(0);
      expect(JSON.parse(answered.stdout)).toHaveProperty('runs');
      scheduler.child.kill('SIGTERM');
      expect((await scheduler.done).code).toBe(0);
    },
  );
});
