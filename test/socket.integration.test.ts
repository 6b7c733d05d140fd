import { existsSync, mkdirSync } from 'node:fs';
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
    // large enough that the first run is still loading when the second one reaches the lock
    await writeDrop(env, 'p.csv', 22, 20000);

    const first = startCli(['run', '--json'], vars);
    await first.waitForLog('run started');
    const second = await runCli(['run', '--json'], vars);
    expect(second.code, second.stderr.slice(-2000)).toBe(3);
    expect(second.stderr).toMatch(/another guiji run/);
    const done = await first.done;
    expect(done.code, done.stderr.slice(-2000)).toBe(0);
    expect((JSON.parse(done.stdout) as { sources: { read: number }[] }).sources[0]!.read).toBe(20000);

    scheduler.child.kill('SIGTERM');
    expect((await scheduler.done).code).toBe(0);
  });

  it.skipIf(WAREHOUSE_KIND === 'postgres')(
    'a command started while the scheduler opens the warehouse waits for it to serve',
    async () => {
      const env = await makeEnv('socket-early');
      envs.push(env);
      const vars = { ...env.env, GUIJI_LOG_LEVEL: 'info' };
      const scheduler = startCli(['schedule'], vars);
      const lock = join(env.config.home, 'warehouse.lock');
      while (!existsSync(lock)) await new Promise((r) => setTimeout(r, 20));
      // the scheduler holds the lock and is still opening PGlite: not yet serving
      expect(existsSync(join(env.config.home, '.s.PGSQL.5432'))).toBe(false);
      const status = await runCli(['status', '--json'], vars);
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toHaveProperty('runs');
      scheduler.child.kill('SIGTERM');
      expect((await scheduler.done).code).toBe(0);
    },
  );
});
