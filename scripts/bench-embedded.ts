/**
 * `npm run bench -- --only embedded`: the pipeline on a 50,000-row CSV drop against the embedded warehouse
 * (PGlite under a fresh GUIJI_HOME), each run in a fresh process (scripts/bench-child.ts) so that its peak RSS
 * is the run's alone — once with PGlite in the process as a library, once served on its socket as `guiji run`
 * opens it (the pipeline then reaches it through `pg`). Reports seconds, rows/s, peak RSS against the 400 MB
 * target, what the memory is made of (V8 heap, off-heap buffers — PGlite's WebAssembly memory is one) and
 * the warehouse directory's size (its WAL apart).
 *
 *   node bin/run-ts.js scripts/bench-embedded.ts [--rows 50000]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  createRandom,
  ENTERPRISE_HEADER,
  enterpriseRow,
  generateEnterprises,
  generatePenalties,
  PENALTY_HEADER,
  writeDelimited,
} from '../pipelines/demo/generate.js';
import type { ChildResult } from './bench-child.js';

const ROOT = resolve(import.meta.dirname, '..');
const DATA_DIR = join(ROOT, 'bench-data');
const WORK_DIR = join(DATA_DIR, 'work', `embedded-${process.pid}`);
const SEED = 20240601;
const PEAK_RSS_MB = 400;
/** The node flags `guiji` runs with (its shebang: the heap cap), so that the child runs as production does. */
const GUIJI_NODE_FLAGS = (() => {
  const shebang = readFileSync(join(ROOT, 'bin', 'guiji.js'), 'utf8').split('\n', 1)[0] ?? '';
  const flags = /^#!.*\bnode\s+(.*)$/.exec(shebang)?.[1];
  return flags ? flags.trim().split(/\s+/) : [];
})();

function dirSize(path: string): number {
  let total = 0;
  for (const entry of readdirSync(path, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

/** The register and the penalty file, generated once per row count into bench-data/. */
async function ensureData(rows: number): Promise<{ register: string; penalties: string }> {
  mkdirSync(DATA_DIR, { recursive: true });
  const register = join(DATA_DIR, `embedded-${rows}.enterprises.csv`);
  const penalties = join(DATA_DIR, `embedded-${rows}.utf8.csv`);
  try {
    statSync(penalties);
    statSync(register);
    return { register, penalties };
  } catch {
    // not generated yet
  }
  const random = createRandom(SEED);
  const enterprises = generateEnterprises(random, Math.min(5000, Math.max(50, Math.round(rows / 200))));
  const write = async (path: string, header: readonly string[], data: Iterable<readonly string[]>) => {
    const partial = `${path}.${process.pid}.part`;
    await writeDelimited(partial, header, data);
    renameSync(partial, path);
  };
  await write(
    register,
    ENTERPRISE_HEADER,
    enterprises.map((e) => enterpriseRow(random, e)),
  );
  await write(
    penalties,
    PENALTY_HEADER,
    generatePenalties(random, enterprises, rows, { faultShare: 0.02 }).rows,
  );
  return { register, penalties };
}

interface Measured {
  result: ChildResult;
  warehouseBytes: number;
  walBytes: number;
}

/** One run over `files` in the warehouse of `label` (kept between the runs of one label). */
async function runOnce(label: string, serve: boolean, files: string[]): Promise<Measured> {
  const home = join(WORK_DIR, label, 'home');
  const drop = join(WORK_DIR, label, 'drops');
  mkdirSync(join(drop, 'incoming'), { recursive: true });
  for (const file of files) {
    writeFileSync(join(drop, 'incoming', file.split('/').pop() as string), readFileSync(file));
  }
  const args = [
    ...GUIJI_NODE_FLAGS,
    'bin/run-ts.js',
    'scripts/bench-child.ts',
    '--embedded',
    ...(serve ? ['--serve'] : []),
    '--drop',
    drop,
    '--home',
    home,
    '--schema',
    'public',
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  const code = await new Promise<number | null>((done) => child.on('close', done));
  const last = stdout.trim().split('\n').pop() ?? '';
  if (!last) throw new Error(`${label}: the child exited with ${code}`);
  const warehouse = join(home, 'warehouse');
  return {
    result: JSON.parse(last) as ChildResult,
    warehouseBytes: dirSize(warehouse),
    walBytes: dirSize(join(warehouse, 'pg_wal')),
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { rows: { type: 'string', default: '50000' } } });
  const rows = Number(values.rows);
  if (!Number.isSafeInteger(rows) || rows < 1)
    throw new Error(`--rows: expected a whole number, got ${values.rows}`);
  const data = await ensureData(rows);
  console.log(
    `\nembedded warehouse (PGlite): ${rows.toLocaleString('en-US')} rows, node ${GUIJI_NODE_FLAGS.join(' ')}`,
  );
  let failed = false;
  try {
    for (const [label, serve] of [
      ['in-process', false],
      ['served', true],
    ] as const) {
      // the register first, as a city loads it, then the penalties: the run measured
      await runOnce(label, serve, [data.register]);
      const measured = await runOnce(label, serve, [data.penalties]);
      const { result } = measured;
      const read = result.summary.sources.reduce((n, s) => n + s.read, 0);
      const rss = result.maxRssKb / 1024;
      console.log(
        `  ${label.padEnd(22)} ${result.seconds.toFixed(1)} s, ${Math.round(read / result.seconds).toLocaleString('en-US')} rows/s, ` +
          `peak RSS ${rss.toFixed(0)} MB (≤${PEAK_RSS_MB} MB: ${rss <= PEAK_RSS_MB ? 'ok' : 'MISSED'}); ` +
          `peaks: V8 heap used ${result.memory.heapUsedMb.toFixed(0)} MB of ${result.memory.heapTotalMb.toFixed(0)}, ` +
          `off-heap ${result.memory.externalMb.toFixed(0)} MB (array buffers ${result.memory.arrayBuffersMb.toFixed(0)}); ` +
          `warehouse ${mb(measured.warehouseBytes)} (WAL ${mb(measured.walBytes)}); run ${result.summary.status}, ${read} read`,
      );
      // the generated file holds a few rows every run quarantines: the run is 'succeeded' all the same
      if (result.summary.status !== 'succeeded' || read !== rows) failed = true;
    }
  } finally {
    rmSync(WORK_DIR, { recursive: true, force: true });
  }
  return failed ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`bench-embedded: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
