import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processStart, tryLock } from '../lib/lock-file.js';
import { runCli, startCli } from './helpers/cli.js';
import { makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';
import { holdAt } from './helpers/hold.js';
import { writeDropInput } from './helpers/input.js';

/** Modes of everything under `dir`, as { 'relative/path': 0o600 }, for what is not `mode`. */
function notPrivate(dir: string): string[] {
  const wrong: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const full = join(entry.parentPath, entry.name);
    const mode = statSync(full).mode & 0o777;
    const want = entry.isDirectory() ? 0o700 : 0o600;
    if (mode !== want) wrong.push(`${full.slice(dir.length)} ${mode.toString(8)}`);
  }
  return wrong;
}

// The embedded warehouse only: its lock file, its directory and the socket its holder serves it on.
describe.skipIf(WAREHOUSE_KIND === 'postgres')('the embedded warehouse, its lock and its holder', () => {
  const envs: TestEnv[] = [];
  afterAll(async () => {
    for (const env of envs) await env.cleanup();
  });

  it('is not blocked by a lock whose pid is now another program, and is created private', async () => {
    const env = await makeEnv('wh-stale');
    envs.push(env);
    const home = env.config.home;
    mkdirSync(home, { recursive: true });
    // a program that is not guiji, alive, with the pid the lock names: a pid reused after a reboot
    const foreign = spawn(process.execPath, ['-e', 'process.stdin.resume()'], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    await once(foreign, 'spawn');
    try {
      const lock = join(home, 'warehouse.lock');
      const record = (start: string | null) =>
        JSON.stringify({
          guiji: 'guiji-lock',
          pid: foreign.pid,
          start,
          boot: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
          host: hostname(),
          command: 'schedule',
          at: '2026-12-01T01:30:00.000Z',
          nonce: `n${start}`,
        });
      // the pid is alive, but the process that wrote the lock started at another time: not the holder
      expect(processStart(foreign.pid as number)).not.toBe('1');
      writeFileSync(lock, record('1'));
      const status = await runCli(['status', '--json'], env.env);
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ runs: [] });
      // the old format: a bare pid, a process that is not guiji
      writeFileSync(lock, String(foreign.pid));
      const again = await runCli(['status', '--json'], env.env);
      expect(again.code, again.stderr).toBe(0);
    } finally {
      foreign.stdin?.end();
    }
    expect(notPrivate(join(home, 'warehouse'))).toEqual([]);
    expect(statSync(join(home, 'warehouse')).mode & 0o777).toBe(0o700);
  }, 400_000);

  it('waits for a holder that does not serve it (a short command) and opens it once that one is done', async () => {
    const env = await makeEnv('wh-wait');
    envs.push(env);
    mkdirSync(env.config.home, { recursive: true });
    // this process holds the warehouse as a `guiji report` would: without serving it
    const held = tryLock(join(env.config.home, 'warehouse.lock'), 'report');
    if (!('release' in held)) throw new Error('the fresh warehouse is locked');
    const status = startCli(['status', '--json'], { ...env.env, GUIJI_LOG_LEVEL: 'info' });
    try {
      await status.waitForLog(
        `the embedded warehouse is held by guiji report (pid ${process.pid}, since ${
          (JSON.parse(readFileSync(join(env.config.home, 'warehouse.lock'), 'utf8')) as { at: string }).at
        }): waiting for it`,
      );
    } finally {
      held.release();
    }
    const done = await status.done;
    expect(done.code, done.stderr.slice(-2000)).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ runs: [] });
  }, 400_000);

  it('is served by a running run: status --json in another process sees the run under way', async () => {
    const env = await makeEnv('wh-served');
    envs.push(env);
    await writeDropInput(env, { seed: 7 });
    const vars = { ...env.env, GUIJI_BATCH_SIZE: '400', GUIJI_LOG_LEVEL: 'info' };
    // the run stops, serving, after its second committed load (mid-file while loads commit a batch at a time)
    const run = startCli(['run', '--json'], { ...vars, ...holdAt('load-commit:2', 'wait') });
    await run.waitForLog('test hold reached');
    const home = env.config.home;
    try {
      const lock = JSON.parse(readFileSync(join(home, 'warehouse.lock'), 'utf8')) as {
        pid: number;
        command: string;
      };
      expect(lock).toMatchObject({ pid: run.child.pid, command: 'run' });
      // a GUIJI_HOME guiji created
      expect(statSync(home).mode & 0o777).toBe(0o700);
      for (const name of ['warehouse.lock', 'warehouse.served.json', '.s.PGSQL.5432']) {
        expect((statSync(join(home, name)).mode & 0o777).toString(8), name).toBe('600');
      }
      const status = await runCli(['status', '--json'], vars);
      expect(status.code, status.stderr.slice(-2000)).toBe(0);
      const { runs } = JSON.parse(status.stdout) as {
        runs: { runId: number; status: string; sources: { read: number }[] }[];
      };
      expect(runs).toHaveLength(1);
      expect(runs[0]!.status).toBe('running');
      // what the run committed, and nothing of a load not committed
      expect(runs[0]!.sources[0]!.read).toBeGreaterThan(0);
      expect(runs[0]!.sources[0]!.read).toBeLessThan(4800);
      const quarantine = await runCli(['quarantine', 'list', '--json', '--limit', '5'], vars);
      expect(quarantine.code, quarantine.stderr.slice(-2000)).toBe(0);
      // the reader went through the holder: the lock is still the run's
      expect(JSON.parse(readFileSync(join(home, 'warehouse.lock'), 'utf8')).pid).toBe(run.child.pid);
    } finally {
      run.child.kill('SIGUSR2');
    }
    const done = await run.done;
    expect(done.code, done.stderr.slice(-2000)).toBe(0);
    const summary = JSON.parse(done.stdout) as { runId: number; status: string };
    expect(summary.status).toBe('succeeded');
    const after = await runCli(['status', '--json'], vars);
    expect((JSON.parse(after.stdout) as { runs: { status: string }[] }).runs[0]!.status).toBe('succeeded');
    expect(notPrivate(join(home, 'warehouse'))).toEqual([]);
  }, 400_000);
});
