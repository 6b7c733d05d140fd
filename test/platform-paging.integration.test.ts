/**
 * Platforms never lose a window: platforms that cap their page size (saying so or not) and gateways that cut a
 * page short, on both platforms, end to end through the pipeline into the warehouse. Every record arrives
 * exactly once, or the dataset fails with its cursor where it was and the run says why.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { formatChinaTime, parseChinaTime } from '../connectors/http/china-time.js';
import type { Warehouse } from '../lib/db.js';
import {
  DEFAULT_CREDIT_APP_KEY,
  DEFAULT_CREDIT_APP_SECRET,
  startCreditSimulator,
} from '../pipelines/simulate/credit-platform.js';
import type { PagingQuirks } from '../pipelines/simulate/pages.js';
import {
  DEFAULT_SHARING_APP_KEY,
  DEFAULT_SHARING_APP_SECRET,
  startSharingSimulator,
} from '../pipelines/simulate/sharing-platform.js';
import type { SimStore } from '../pipelines/simulate/store.js';
import { runCli } from './helpers/cli.js';
import { expectLedgerBalanced, makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';
import { expectEveryRecord } from './helpers/platform.js';

interface Sim {
  url: string;
  store: SimStore;
  stats: { served: number; shortPages: number };
  setPaging(quirks: PagingQuirks): void;
  close(): Promise<void>;
}

interface Platform {
  source: 'credit-platform' | 'sharing-platform';
  /** The streams pulled, each of 200 records. */
  streams: string[];
  start(quirks: PagingQuirks): Promise<Sim>;
  env(sim: Sim): Record<string, string>;
}

const PER_STREAM = 200;
const PAGE_SIZE = 50;
const CLAMP = 20;

const PLATFORMS: Platform[] = [
  {
    source: 'credit-platform',
    streams: ['xzxk', 'xzcf'],
    start: (quirks) =>
      startCreditSimulator({ records: PER_STREAM * 3, seed: 21, retryAfterSeconds: 0, ...quirks }),
    env: (sim) => ({
      GUIJI_CREDIT_URL: sim.url,
      GUIJI_CREDIT_APP_KEY: DEFAULT_CREDIT_APP_KEY,
      GUIJI_CREDIT_APP_SECRET: DEFAULT_CREDIT_APP_SECRET,
      GUIJI_CREDIT_DATASETS: 'xzxk,xzcf',
      GUIJI_CREDIT_LAG_SECONDS: '0',
      GUIJI_CREDIT_PAGE_SIZE: String(PAGE_SIZE),
    }),
  },
  {
    source: 'sharing-platform',
    streams: ['xzxk'],
    start: (quirks) => startSharingSimulator({ records: PER_STREAM, seed: 22, ...quirks }),
    env: (sim) => ({
      GUIJI_SHARING_URL: sim.url,
      GUIJI_SHARING_APP_KEY: DEFAULT_SHARING_APP_KEY,
      GUIJI_SHARING_APP_SECRET: DEFAULT_SHARING_APP_SECRET,
      GUIJI_SHARING_LAG_SECONDS: '0',
      GUIJI_SHARING_PAGE_SIZE: String(PAGE_SIZE),
    }),
  },
];

const sims: Sim[] = [];
const envs: TestEnv[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  for (const env of envs) await env.cleanup();
});

async function setup(platform: Platform, name: string, quirks: PagingQuirks) {
  const sim = await platform.start(quirks);
  sims.push(sim);
  // small batches: batches commit (and move the cursor) before a gap further down the window
  const env = await makeEnv(`${name}-${platform.source}`, { ...platform.env(sim), GUIJI_BATCH_SIZE: '30' });
  envs.push(env);
  mkdirSync(join(env.config.dropDir, 'incoming'), { recursive: true });
  return { sim, env };
}

async function cursors(db: Warehouse, source: string): Promise<Record<string, string | null>> {
  const rows = await db.query<{ stream: string; cursor: string | null }>(
    'SELECT stream, cursor FROM source_state WHERE source = $1 ORDER BY stream',
    [source],
  );
  return Object.fromEntries(rows.map((r) => [r.stream, r.cursor]));
}

describe.each(PLATFORMS)(`paging the $source (${WAREHOUSE_KIND})`, (platform) => {
  const total = PER_STREAM * platform.streams.length;

  /** One run: the source succeeded, read each record once, and every record is on file once. */
  async function expectWholeRun(env: TestEnv, sim: Sim): Promise<void> {
    const db = await env.open();
    try {
      const { summary } = await env.run(db, [platform.source]);
      const line = summary.sources[0]!;
      expect(line.error).toBeNull();
      expect(line.status).toBe('succeeded');
      expect(line.read).toBe(total); // each record read once: no page lost, none read twice
      await expectEveryRecord(db, sim, platform.streams);
      await expectLedgerBalanced(db);
      const now = await cursors(db, platform.source);
      expect(Object.keys(now)).toEqual([...platform.streams].sort());
      for (const c of Object.values(now)) expect(c! > '2025-07-01').toBe(true); // the window's end: now
    } finally {
      await db.close();
    }
  }

  it('follows a page size capped and declared: asked 50, served 20 a page', async () => {
    const { sim, env } = await setup(platform, 'clamp-declared', {
      clampPageSize: CLAMP,
      declarePageSize: true,
    });
    await expectWholeRun(env, sim);
    expect(sim.stats.served).toBe(total / CLAMP);
  });

  it('follows a page size capped without saying so: the rows served are the page size', async () => {
    const { sim, env } = await setup(platform, 'clamp-silent', {
      clampPageSize: CLAMP,
      declarePageSize: false,
    });
    await expectWholeRun(env, sim);
    expect(sim.stats.served).toBe(total / CLAMP);
  });

  it('asks again for one page cut short in the middle of the window', async () => {
    const { sim, env } = await setup(platform, 'short-once', { shortPage: { pageNo: 2, rows: 7, times: 1 } });
    await expectWholeRun(env, sim);
    expect(sim.stats.shortPages).toBe(1);
  });

  it('fails the dataset of a page that stays short, keeps its cursor, exits 4; mended, the next run loads it all once', async () => {
    const { sim, env } = await setup(platform, 'short-always', {
      shortPage: { pageNo: 2, rows: 7, times: Number.POSITIVE_INFINITY },
    });
    const result = await runCli(['run', '--json'], { ...env.env, GUIJI_LOG_LEVEL: 'error' });
    expect(result.code, result.stderr.slice(-2000)).toBe(4);
    const summary = JSON.parse(result.stdout) as {
      status: string;
      sources: { source: string; status: string; error: string | null; read: number }[];
    };
    expect(summary.status).toBe('partial');
    expect(summary.sources.find((s) => s.source === 'drops')?.status).toBe('succeeded');
    const line = summary.sources.find((s) => s.source === platform.source)!;
    expect(line.status).toBe('failed');
    const stream = platform.streams[0]!;
    const kind = platform.source === 'credit-platform' ? 'dataset' : 'interface';
    expect(line.error).toMatch(
      new RegExp(
        `${kind} ${stream} window \\[\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d, \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\) ` +
          `cannot be finished: page 2 held 7 rows where ${PAGE_SIZE} were due, 3 times asked; the platform ` +
          `declares ${PER_STREAM} records in the window, ${PAGE_SIZE} were read \\(${PER_STREAM - PAGE_SIZE} from ` +
          `record ${PAGE_SIZE + 1} on not read\\); its cursor stays unset \\(never pulled\\)`,
      ),
    );
    // the engineer's log says the same, in English, naming the dataset and the window
    expect(result.stderr).toMatch(
      new RegExp(`"msg":"dataset ${stream} failed: window \\[[^)]+\\) not finished; its cursor stays unset`),
    );
    const db = await env.open();
    try {
      // a batch of the window's first page had committed (and moved the cursor): it is put back
      expect(line.read).toBeGreaterThan(0);
      expect(await cursors(db, platform.source)).toEqual({});
      await expectLedgerBalanced(db);
      sim.setPaging({});
      const { summary: again } = await env.run(db, [platform.source]);
      expect(again.sources[0]).toMatchObject({ status: 'succeeded', read: total });
      await expectEveryRecord(db, sim, platform.streams);
      await expectLedgerBalanced(db);
    } finally {
      await db.close();
    }
  });
  it('puts back a cursor a failed window had moved, and the mended next run goes on from it', async () => {
    const { sim, env } = await setup(platform, 'short-later', {});
    const db = await env.open();
    try {
      const first = await env.run(db, [platform.source]);
      expect(first.summary.sources[0]!.status).toBe('succeeded');
      const before = await cursors(db, platform.source);
      const stream = platform.streams[0]!;
      // 120 records updated a second after the cursor: the next window holds them, more than two pages of 50,
      // and its first batch moves the cursor to their update time (the window ends at now: let now pass it)
      const cursorAt = parseChinaTime(before[stream]!);
      const updatedAt = formatChinaTime(cursorAt + 1_000);
      while (Date.now() < cursorAt + 2_000) await new Promise((resolve) => setTimeout(resolve, 50));
      for (const id of sim.store.ids(stream).slice(0, 120)) sim.store.update(stream, id, updatedAt);
      sim.setPaging({ shortPage: { pageNo: 2, rows: 7, times: Number.POSITIVE_INFINITY } });
      const failed = (await env.run(db, [platform.source])).summary.sources[0]!;
      expect(failed.status).toBe('failed');
      expect(failed.error).toContain(`${stream} window [`);
      expect(failed.error).toContain(`its cursor stays at ${before[stream]}`);
      // a batch of the first page had committed and moved the cursor past the gap's start: it is back
      expect(failed.read).toBeGreaterThan(0);
      expect((await cursors(db, platform.source))[stream]).toBe(before[stream]);
      await expectLedgerBalanced(db);
      sim.setPaging({});
      const mended = (await env.run(db, [platform.source])).summary.sources[0]!;
      expect(mended.status).toBe('succeeded');
      expect((await cursors(db, platform.source))[stream]! > before[stream]!).toBe(true);
      await expectEveryRecord(db, sim, platform.streams);
      await expectLedgerBalanced(db);
    } finally {
      await db.close();
    }
  });
});
