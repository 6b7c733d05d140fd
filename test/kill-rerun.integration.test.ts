import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from './helpers/cli.js';
import { expectLedgerBalanced, makeEnv, snapshot, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';
import { uninterruptedSnapshot, writeDropInput } from './helpers/input.js';

const BATCH = '400';

const writeInput = (env: TestEnv) => writeDropInput(env, { seed: 99, firstEncoding: 'gb18030' });

describe(`a run killed with SIGKILL and run again (${WAREHOUSE_KIND})`, () => {
  let reference: Awaited<ReturnType<typeof snapshot>>;
  const envs: TestEnv[] = [];

  beforeAll(async () => {
    const uninterrupted = await uninterruptedSnapshot('kill-ref', writeInput, BATCH);
    envs.push(uninterrupted.env);
    reference = uninterrupted.reference;
  });

  afterAll(async () => {
    for (const env of envs) await env.cleanup();
  });

  // Kill points: after the n-th batch written (in the first file's transaction, in the second file's), and at
  // plain times that land anywhere (start-up, migrations, a COPY under way).
  const points: { name: string; batches?: number; ms?: number }[] = [
    { name: 'after the first batch', batches: 1 },
    { name: 'in the second file', batches: 9 },
    { name: 'after 1.5 s', ms: 1500 },
    { name: 'after 0.4 s', ms: 400 },
  ];

  it.each(points)('leaves the warehouse exactly as one uninterrupted run: killed $name', async (point) => {
    const env = await makeEnv('kill');
    envs.push(env);
    await writeInput(env);
    const vars = { ...env.env, GUIJI_BATCH_SIZE: BATCH, GUIJI_LOG_LEVEL: 'debug' };
    const victim = startCli(['run', '--json'], vars);
    if (point.batches) await victim.waitForLog('batch written', point.batches);
    else await new Promise((r) => setTimeout(r, point.ms));
    victim.child.kill('SIGKILL');
    const killed = await victim.done;
    expect(killed.signal === 'SIGKILL' || killed.code === 0).toBe(true);

    const rerun = await runCli(['run', '--json'], vars);
    expect(rerun.code, rerun.stderr.slice(-2000)).toBe(0);
    const db = await env.open();
    try {
      const after = await snapshot(db);
      expect(after.records).toEqual(reference.records);
      expect(after.history).toEqual(reference.history);
      expect(after.quarantine).toEqual(reference.quarantine);
      expect(after.enterprises).toEqual(reference.enterprises);
      expect(after.files).toEqual(reference.files);
      await expectLedgerBalanced(db);
      if (killed.signal === 'SIGKILL') {
        const [interrupted] = await db.query<{ n: string }>(
          `SELECT count(*) AS n FROM runs WHERE status = 'interrupted'`,
        );
        // a kill before the run row was written leaves nothing to mark
        expect(Number(interrupted!.n)).toBeLessThanOrEqual(1);
      }
    } finally {
      await db.close();
    }
  });

  it('lets one of two runs started together run; the other exits 3 with a clear message', async () => {
    const env = await makeEnv('lock');
    envs.push(env);
    await writeInput(env);
    const vars = { ...env.env, GUIJI_BATCH_SIZE: BATCH, GUIJI_LOG_LEVEL: 'debug' };
    const first = startCli(['run', '--json'], vars);
    await first.waitForLog('run started');
    // the first run holds the lock from before "run started": keep it holding it, however fast it would load
    first.child.kill('SIGSTOP');
    let second: Awaited<ReturnType<typeof runCli>>;
    try {
      second = await runCli(['run', '--json'], vars);
    } finally {
      first.child.kill('SIGCONT');
    }
    expect(second.code).toBe(3);
    expect(second.stderr).toMatch(/another guiji (run|process)/);
    const done = await first.done;
    expect(done.code).toBe(0);
    const summary = JSON.parse(done.stdout) as { status: string; sources: { read: number }[] };
    expect(summary.status).toBe('succeeded');
    expect(summary.sources[0]!.read).toBeGreaterThan(4000);
  });
});
