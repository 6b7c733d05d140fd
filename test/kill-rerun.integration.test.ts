import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from './helpers/cli.js';
import { expectLedgerBalanced, makeEnv, snapshot, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';
import { holdAt } from './helpers/hold.js';
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

  // Kill points, each reached for certain before the kill (the child freezes there: it cannot finish first):
  // start-up, migrations, a load transaction open with its rows staged, and after the first and the second
  // committed load transaction.
  const points: { name: string; at: string }[] = [
    { name: 'before its first statement', at: 'query:1' },
    { name: 'while it migrates', at: 'create:5' },
    { name: 'in a load transaction, its rows copied', at: 'after-copy:2' },
    { name: 'after the first committed load', at: 'load-commit:1' },
    { name: 'after the second committed load', at: 'load-commit:2' },
  ];

  it.each(points)('leaves the warehouse exactly as one uninterrupted run: killed $name', async (point) => {
    const env = await makeEnv('kill');
    envs.push(env);
    await writeInput(env);
    const vars = { ...env.env, GUIJI_BATCH_SIZE: BATCH, GUIJI_LOG_LEVEL: 'debug' };
    const victim = startCli(['run', '--json'], { ...vars, ...holdAt(point.at, 'block') });
    await victim.waitForLog('test hold reached');
    victim.child.kill('SIGKILL');
    const killed = await victim.done;
    expect(killed.signal).toBe('SIGKILL');

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
      const [interrupted] = await db.query<{ n: string }>(
        `SELECT count(*) AS n FROM runs WHERE status = 'interrupted'`,
      );
      // a kill before the run row was written leaves nothing to mark
      expect(Number(interrupted!.n)).toBe(
        point.at.startsWith('load-') || point.at.startsWith('after-') ? 1 : 0,
      );
    } finally {
      await db.close();
    }
  });

  it('lets one of two runs started together run; the other exits 3 with a clear message', async () => {
    const env = await makeEnv('lock');
    envs.push(env);
    await writeInput(env);
    const vars = { ...env.env, GUIJI_BATCH_SIZE: BATCH, GUIJI_LOG_LEVEL: 'debug' };
    // the first run stops after its first committed load, holding the run lock (and, on the embedded
    // warehouse, serving it to the second), until the second has been turned away
    const first = startCli(['run', '--json'], { ...vars, ...holdAt('load-commit:1', 'wait') });
    await first.waitForLog('test hold reached');
    let second: Awaited<ReturnType<typeof runCli>>;
    try {
      second = await runCli(['run', '--json'], vars);
    } finally {
      first.child.kill('SIGUSR2');
    }
    expect(second.code, second.stderr.slice(-2000)).toBe(3);
    expect(second.stderr).toMatch(/another guiji (run|process)/);
    const done = await first.done;
    expect(done.code).toBe(0);
    const summary = JSON.parse(done.stdout) as { status: string; sources: { read: number }[] };
    expect(summary.status).toBe('succeeded');
    expect(summary.sources[0]!.read).toBeGreaterThan(4000);
  });
});
