import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from './helpers/cli.js';
import { expectLedgerBalanced, makeEnv, snapshot, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';
import { uninterruptedSnapshot, writeDropInput } from './helpers/input.js';

const BATCH = '400';

const writeInput = (env: TestEnv) => writeDropInput(env, { seed: 7 });

/** Every record and every quarantined row belongs to a file the ledger counted: no half-loaded file. */
async function expectWholeBatches(env: TestEnv): Promise<void> {
  const db = await env.open();
  try {
    await expectLedgerBalanced(db);
    const [ledger] = await db.query<{ inserted: string; rejected: string }>(
      `SELECT coalesce(sum(inserted), 0) AS inserted, coalesce(sum(quarantined + duplicates), 0) AS rejected
       FROM source_runs`,
    );
    const [stored] = await db.query<{ records: string; quarantine: string }>(
      `SELECT (SELECT count(*) FROM records) AS records, (SELECT count(*) FROM quarantine) AS quarantine`,
    );
    expect(Number(stored!.records)).toBe(Number(ledger!.inserted));
    expect(Number(stored!.quarantine)).toBe(Number(ledger!.rejected));
  } finally {
    await db.close();
  }
}

describe(`SIGTERM during a run (${WAREHOUSE_KIND})`, () => {
  let reference: Awaited<ReturnType<typeof snapshot>>;
  const envs: TestEnv[] = [];

  beforeAll(async () => {
    const uninterrupted = await uninterruptedSnapshot('term-ref', writeInput, BATCH);
    envs.push(uninterrupted.env);
    reference = uninterrupted.reference;
  });

  afterAll(async () => {
    for (const env of envs) await env.cleanup();
  });

  it('guiji run: rolls back the file in flight (it stays in incoming/), records the run as interrupted, exits 0; a re-run completes it', async () => {
    const env = await makeEnv('term-run');
    envs.push(env);
    await writeInput(env);
    const vars = { ...env.env, GUIJI_BATCH_SIZE: BATCH, GUIJI_LOG_LEVEL: 'debug' };
    const victim = startCli(['run', '--json'], vars);
    // the register's one batch and file, then two batches into the first penalty file
    await victim.waitForLog('file committed');
    await victim.waitForLog('batch written', 3);
    victim.child.kill('SIGTERM');
    const stopped = await victim.done;
    expect(stopped.signal, stopped.stderr.slice(-2000)).toBeNull();
    expect(stopped.code, stopped.stderr.slice(-2000)).toBe(0);
    const summary = JSON.parse(stopped.stdout) as {
      runId: number;
      status: string;
      sources: { status: string; read: number }[];
    };
    expect(summary.status).toBe('interrupted');
    expect(summary.sources[0]!.status).toBe('interrupted');
    // stopped early: the register loaded, not the whole input
    expect(summary.sources[0]!.read).toBeGreaterThan(0);
    expect(summary.sources[0]!.read).toBeLessThan(4800);
    await expectWholeBatches(env);
    // the file in flight rolled back whole: it waits in incoming/ with nothing of it in the warehouse
    const waiting = readdirSync(join(env.config.dropDir, 'incoming'));
    expect(waiting.length).toBeGreaterThan(0);

    const db = await env.open();
    try {
      const [partial] = await db.query<{ n: string }>(
        `SELECT (SELECT count(*) FROM records WHERE provenance->>'file' = ANY($1::text[]))
              + (SELECT count(*) FROM quarantine WHERE file = ANY($1::text[])) AS n`,
        [waiting],
      );
      expect(Number(partial!.n)).toBe(0);
      const [run] = await db.query<{ status: string; finished_at: Date | null }>(
        'SELECT status, finished_at FROM runs WHERE id = $1',
        [summary.runId],
      );
      expect(run?.status).toBe('interrupted');
      expect(run?.finished_at).not.toBeNull();
    } finally {
      await db.close();
    }

    // the lock was released: the next run starts at once and ends as one uninterrupted run would
    const rerun = await runCli(['run', '--json'], vars);
    expect(rerun.code, rerun.stderr.slice(-2000)).toBe(0);
    const after = await env.open();
    try {
      const state = await snapshot(after);
      expect(state.records).toEqual(reference.records);
      expect(state.history).toEqual(reference.history);
      expect(state.quarantine).toEqual(reference.quarantine);
      expect(state.enterprises).toEqual(reference.enterprises);
      expect(state.files).toEqual(reference.files);
      await expectLedgerBalanced(after);
    } finally {
      await after.close();
    }
  });

  it('guiji schedule: stops the nightly run, rolling back the file in flight, exits 0, and catches the night up on restart', async () => {
    const env = await makeEnv('term-schedule');
    envs.push(env);
    await writeInput(env);
    // the default 01:30 slot: the last one has not run, so the scheduler catches it up at once
    const vars = { ...env.env, GUIJI_BATCH_SIZE: BATCH, GUIJI_LOG_LEVEL: 'debug' };
    const first = startCli(['schedule'], vars);
    await first.waitForLog('file committed');
    await first.waitForLog('batch written', 3);
    first.child.kill('SIGTERM');
    const stopped = await first.done;
    expect(stopped.code, stopped.stderr.slice(-2000)).toBe(0);
    await expectWholeBatches(env);
    const db = await env.open();
    try {
      const slots = await db.query<{ status: string; run_id: string }>(
        'SELECT status, run_id FROM schedule_slots',
      );
      expect(slots).toHaveLength(1);
      expect(slots[0]!.status).toBe('interrupted');
      const [run] = await db.query<{ status: string; kind: string }>(
        'SELECT status, kind FROM runs WHERE id = $1',
        [slots[0]!.run_id],
      );
      expect(run).toEqual({ status: 'interrupted', kind: 'nightly' });
    } finally {
      await db.close();
    }

    const second = startCli(['schedule'], vars);
    await second.waitForLog('nightly run finished');
    second.child.kill('SIGTERM');
    const done = await second.done;
    expect(done.code, done.stderr.slice(-2000)).toBe(0);
    const after = await env.open();
    try {
      const slots = await after.query<{ status: string; run_status: string }>(
        'SELECT status, run_status FROM schedule_slots',
      );
      expect(slots).toEqual([{ status: 'finished', run_status: 'succeeded' }]);
      const state = await snapshot(after);
      expect(state.records).toEqual(reference.records);
      expect(state.quarantine).toEqual(reference.quarantine);
      expect(state.files).toEqual(reference.files);
      await expectLedgerBalanced(after);
    } finally {
      await after.close();
    }
  });
});
