/**
 * The platform part of `npm run bench`: a pull of N records (default 1,000,000; `--quick` 100,000) from the
 * credit-platform simulator, end to end into PostgreSQL, in a fresh child process (scripts/bench-child.ts) so
 * that its peak RSS is its own. Target (issue 6): ≥ 20,000 records/s at ≤ 400 MB.
 *
 *   node bin/run-ts.js scripts/bench-platform.ts [--rows N] [--quick]
 *
 * Environment: GUIJI_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/guiji_bench; the database
 * must exist — scripts/bench.ts creates it), GUIJI_BENCH_PLATFORM_SCHEMA (default `bench_platform`),
 * GUIJI_BENCH_PROFILE_DIR (when set, the pulling child writes its CPU profile there: node --cpu-prof).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEFAULT_CREDIT_APP_KEY,
  DEFAULT_CREDIT_APP_SECRET,
  startCreditSimulator,
} from '../pipelines/simulate/credit-platform.js';
import { createStore } from '../pipelines/simulate/store.js';
import type { ChildResult } from './bench-child.js';
import { meterSteal } from './bench-pgcpu.js';

const ROOT = resolve(import.meta.dirname, '..');

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { rows: { type: 'string' }, quick: { type: 'boolean' } },
    strict: false,
  });
  const rows = values.quick ? 100_000 : Number(values.rows ?? 1_000_000);
  const url = process.env.GUIJI_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/guiji_bench';
  const schema = process.env.GUIJI_BENCH_PLATFORM_SCHEMA ?? 'bench_platform';
  const profileDir = process.env.GUIJI_BENCH_PROFILE_DIR;
  const reset = spawnSync('psql', [url, '-qc', `DROP SCHEMA IF EXISTS ${schema} CASCADE`], {
    encoding: 'utf8',
  });
  if (reset.status !== 0) throw new Error(`psql: ${reset.stderr}`);

  // three datasets, every record in one window; the simulator serves pages of up to 1,000 rows. Its rows are
  // rendered before the clock starts: the platform is another agency's machine, not this one's cores.
  const store = createStore({ records: rows, seed: 7, keepRendered: true });
  store.prerender();
  const sim = await startCreditSimulator({ store, maxPageSize: 1000 });
  const drop = mkdtempSync(join(tmpdir(), 'guiji-bench-platform-'));
  try {
    const stealMeter = meterSteal();
    const child = spawn(
      process.execPath,
      [
        '--max-old-space-size=300',
        '--initial-old-space-size=128',
        ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
        join(ROOT, 'bin/run-ts.js'),
        join(ROOT, 'scripts/bench-child.ts'),
        '--drop',
        drop,
        '--schema',
        schema,
      ],
      {
        env: {
          ...process.env,
          GUIJI_BENCH_DATABASE_URL: url,
          GUIJI_CREDIT_URL: sim.url,
          GUIJI_CREDIT_APP_KEY: DEFAULT_CREDIT_APP_KEY,
          GUIJI_CREDIT_APP_SECRET: DEFAULT_CREDIT_APP_SECRET,
          GUIJI_CREDIT_DATASETS: 'xzxk,xzcf,lhcj',
          GUIJI_CREDIT_LAG_SECONDS: '0',
          // the simulator is on this machine: pages as large as it serves, no politeness limit
          GUIJI_CREDIT_PAGE_SIZE: '1000',
          GUIJI_CREDIT_REQUESTS_PER_SECOND: '1000',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    const steal = stealMeter.stop();
    const line = out.trim().split('\n').at(-1) ?? '';
    if (code !== 0 || !line.startsWith('{')) {
      console.log(`platform pull: FAILED (exit ${code})`);
      return 1;
    }
    const result = JSON.parse(line) as ChildResult;
    const source = result.summary.sources.find((s) => s.source === 'credit-platform');
    const read = source?.read ?? 0;
    const rate = read / result.seconds;
    const rss = result.maxRssKb / 1024;
    console.log(
      `\nplatform pull (credit-platform simulator → PostgreSQL, ${rows.toLocaleString('en-US')} records in 3 datasets):`,
    );
    console.log(
      `  ${read.toLocaleString('en-US')} read, ${source?.inserted ?? 0} inserted, ${source?.updated ?? 0} updated, ` +
        `${source?.unchanged ?? 0} unchanged, ${source?.quarantined ?? 0} quarantined in ${result.seconds.toFixed(1)} s: ` +
        `${Math.round(rate).toLocaleString('en-US')} records/s (target ≥ 20,000: ${rate >= 20_000 ? 'ok' : 'MISSED'}), ` +
        `peak RSS ${rss.toFixed(0)} MB (≤ 400: ${rss <= 400 ? 'ok' : 'MISSED'})` +
        (steal === null ? '' : `; CPU stolen by other guests meanwhile: ${(steal * 100).toFixed(0)}%`),
    );
    return 0;
  } finally {
    await sim.close();
    rmSync(drop, { recursive: true, force: true });
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`bench-platform: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
