import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { formatStages, summariseStages } from '../scripts/bench-profile.js';

const root = resolve(import.meta.dirname, '..');
const project = (path: string) => pathToFileURL(join(root, path)).href;
const dir = mkdtempSync(join(tmpdir(), 'guiji-bench-profile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Frame {
  id: number;
  name: string;
  url: string;
  children?: number[];
}

/**
 * A profile of the given call tree whose samples are (node id, µs spent) in order, one sample a millisecond
 * apart at least: V8 counts a sample's time as the gap to the next one.
 */
function writeProfile(name: string, frames: Frame[], samples: [number, number][], startTime = 1_000_000) {
  const path = join(dir, `${name}.cpuprofile`);
  const ids = samples.map(([id]) => id);
  // timeDeltas[i] is the gap before sample i; the time of sample i is timeDeltas[i + 1]
  const deltas = [0, ...samples.map(([, us]) => us)];
  writeFileSync(
    path,
    JSON.stringify({
      nodes: frames.map((f) => ({
        id: f.id,
        callFrame: { functionName: f.name, url: f.url, lineNumber: 0, columnNumber: 0 },
        children: f.children ?? [],
      })),
      startTime,
      endTime: startTime + deltas.reduce((a, b) => a + b, 0),
      samples: [...ids, 1],
      timeDeltas: deltas,
    }),
  );
  return path;
}

const FRAMES: Frame[] = [
  { id: 1, name: '(root)', url: '', children: [2, 3, 4, 5, 6, 7, 8, 13] },
  { id: 2, name: '(garbage collector)', url: '' },
  { id: 3, name: '(idle)', url: '' },
  { id: 4, name: 'parse', url: 'file:///x/node_modules/csv-parse/lib/api/index.js' },
  // the validator and a builtin it calls (JSON.stringify): the builtin's time is the validator's
  { id: 5, name: 'validate', url: project('pipelines/validate/row-validator.ts'), children: [9, 10] },
  // the loader, and Buffer#write (Node's core) under it
  { id: 6, name: 'addRecord', url: project('pipelines/load/loader.ts'), children: [11] },
  // zlib's callback, called from no project code: its core module decides
  { id: 7, name: 'processCallback', url: 'node:zlib' },
  { id: 8, name: 'runPipeline', url: project('pipelines/run.ts'), children: [12] },
  { id: 9, name: 'stringify', url: '' },
  // hashing is hashing, whoever calls it
  { id: 10, name: 'hash', url: 'node:internal/crypto/hash' },
  { id: 11, name: 'write', url: 'node:buffer' },
  // a builtin under code of no stage stays there
  { id: 12, name: 'push', url: '' },
  { id: 13, name: 'matchBatch', url: project('pipelines/match/match-batch.ts') },
];

describe('the CPU per row by stage (scripts/bench-profile.ts)', () => {
  it('gives each sample to one stage: its own code, else its caller, else its core module', () => {
    const path = writeProfile('one', FRAMES, [
      [2, 1000],
      [3, 5000],
      [4, 2000],
      [5, 3000],
      [9, 1000],
      [10, 4000],
      [6, 1000],
      [11, 2000],
      [7, 500],
      [8, 700],
      [12, 300],
      [13, 600],
    ]);
    const s = summariseStages([path]);
    expect(s.ms).toEqual({
      read: 2.5,
      validate: 4,
      digest: 4,
      load: 3,
      match: 0.6,
      source: 0,
      gc: 1,
      other: 1,
    });
    expect(s.idleMs).toBe(5);
    // self time only: the stages add up to the sampled time, nothing counted twice
    expect(s.totalMs).toBeCloseTo(16.1, 9);
    expect(s.threadMs).toEqual([s.totalMs]);
  });

  it('counts only the samples inside the run, and the threads of a process together', () => {
    const main = writeProfile('main', FRAMES, [
      [4, 1000], // at 1,000,000 µs: before the run
      [5, 2000], // at 1,001,000
      [6, 3000], // at 1,003,000
      [13, 4000], // at 1,006,000: after the run
    ]);
    const worker = writeProfile('worker', FRAMES, [[4, 7000]], 1_002_000);
    const s = summariseStages([main, worker], { startUs: 1_000_500, endUs: 1_005_000 });
    expect(s.ms.read).toBe(7);
    expect(s.ms.validate).toBe(2);
    expect(s.ms.load).toBe(3);
    expect(s.ms.match).toBe(0);
    expect(s.threadMs).toEqual([5, 7]);
  });

  it('scales the sampled time to the measured CPU of the main thread, and says by how much', () => {
    const path = writeProfile('busy', FRAMES, [
      [4, 6000],
      [5, 4000],
    ]);
    const text = formatStages(summariseStages([path]), 100, { mainThreadS: 0.005, processS: 0.008 });
    // 10 ms sampled, 5 ms measured: reading 6 ms × 0.5 = 3 ms over 100 rows = 30 µs a row
    expect(text).toMatch(/\| reading \+ decoding +\| +30\.0 \| +60% \|/);
    expect(text).toMatch(/\| \*\*total\*\* +\| +50\.0 \| +100% \|/);
    expect(text).toContain('stages scaled by 0.50');
    expect(text).toContain('80.0 µs/row');
  });
});
