import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockHolder, processStart, tryLock } from '../lib/lock-file.js';

const RUN_TS = resolve(import.meta.dirname, '../bin/run-ts.js');
const RACER = resolve(import.meta.dirname, 'helpers/lock-racer.ts');

/** A live process that is not guiji: its pid is what a reused pid looks like. */
function foreignProcess(): ChildProcess {
  return spawn(process.execPath, ['-e', 'process.stdin.resume()'], { stdio: ['pipe', 'ignore', 'ignore'] });
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid as number;
}

function bootId(): string {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

function record(pid: number, start: string | null, boot: string | null = bootId()): string {
  return JSON.stringify({
    guiji: 'guiji-lock',
    pid,
    start,
    boot,
    host: hostname(),
    command: 'run',
    at: '2026-12-01T01:30:00.000Z',
    nonce: `n${pid}${start}${boot}`,
  });
}

describe('lock files in GUIJI_HOME', () => {
  let dir: string;
  let foreign: ChildProcess;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'guiji-lock-'));
    foreign = foreignProcess();
    await once(foreign, 'spawn');
  });
  afterAll(() => {
    foreign.stdin?.end();
    rmSync(dir, { recursive: true, force: true });
  });

  it('are taken when free, private, and held against this process too until released', () => {
    const path = join(dir, 'free.lock');
    const attempt = tryLock(path, 'run');
    if (!('release' in attempt)) throw new Error('not taken');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const written = JSON.parse(readFileSync(path, 'utf8')) as { pid: number; start: string; command: string };
    expect(written).toMatchObject({ pid: process.pid, start: processStart(process.pid), command: 'run' });
    const again = tryLock(path);
    expect('holder' in again && again.holder.pid).toBe(process.pid);
    attempt.release();
    expect(existsSync(path)).toBe(false);
    // nothing left beside it
    expect(readdirSync(dir).filter((f) => f.startsWith('free.lock'))).toEqual([]);
  });

  it('holds against a live guiji process: same pid, same start time', () => {
    const path = join(dir, 'live.lock');
    writeFileSync(path, record(foreign.pid as number, processStart(foreign.pid as number)));
    const attempt = tryLock(path);
    expect('holder' in attempt && attempt.holder.pid).toBe(foreign.pid);
    expect(lockHolder(path)?.pid).toBe(foreign.pid);
  });

  it.each([
    ['whose pid is now another program (another start time)', () => record(foreign.pid as number, '1')],
    [
      'written in another boot',
      () => record(foreign.pid as number, processStart(foreign.pid as number), 'x'),
    ],
    ['in the old format, whose pid is not a guiji process', () => String(foreign.pid)],
    ['that is not a lock of ours', () => 'garbage'],
  ])('takes over a lock %s', (_name, content) => {
    const path = join(dir, `stale-${_name.length}.lock`);
    writeFileSync(path, content());
    expect(lockHolder(path)).toBeNull();
    const attempt = tryLock(path);
    if (!('release' in attempt)) throw new Error(`held by ${attempt.holder.pid}`);
    expect(JSON.parse(readFileSync(path, 'utf8')).pid).toBe(process.pid);
    attempt.release();
  });

  it('takes over a lock whose process has exited', async () => {
    const path = join(dir, 'dead.lock');
    writeFileSync(path, record(await deadPid(), '12345'));
    const attempt = tryLock(path);
    expect('release' in attempt).toBe(true);
    if ('release' in attempt) attempt.release();
  });

  it('lets exactly one of four processes racing for a stale lock win', async () => {
    for (let round = 0; round < 3; round++) {
      const path = join(dir, `race-${round}.lock`);
      // stale both ways in turn: a dead pid, a reused one
      writeFileSync(path, round % 2 ? record(foreign.pid as number, '1') : record(await deadPid(), '7'));
      const racers = Array.from({ length: 4 }, () =>
        spawn(process.execPath, [RUN_TS, RACER, path], { stdio: ['pipe', 'pipe', 'inherit'] }),
      );
      const said = racers.map((child) => lineReader(child));
      await Promise.all(said.map((next) => next().then((line) => expect(line).toBe('ready'))));
      for (const child of racers) child.stdin?.write('go\n');
      const answers = await Promise.all(said.map((next) => next()));
      const winners = answers.filter((a) => a.startsWith('won'));
      expect(winners, answers.join(', ')).toHaveLength(1);
      const winner = Number(winners[0]!.split(' ')[1]);
      // the losers saw the winner's lock, and the lock is the winner's
      expect(answers.filter((a) => a === `held ${winner}`)).toHaveLength(3);
      expect(JSON.parse(readFileSync(path, 'utf8')).pid).toBe(winner);
      for (const child of racers) child.stdin?.end();
      await Promise.all(racers.map((child) => once(child, 'exit')));
      // the winner released it on its way out
      expect(existsSync(path)).toBe(false);
    }
  });
});

/** The next line a child writes on stdout, each call the next one. */
function lineReader(child: ChildProcess): () => Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  const queue: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (line) => {
    const waiter = waiting.shift();
    if (waiter) waiter(line);
    else queue.push(line);
  });
  return () => {
    const line = queue.shift();
    if (line !== undefined) return Promise.resolve(line);
    return new Promise((resolveLine) => waiting.push(resolveLine));
  };
}
