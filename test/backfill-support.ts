import { expect } from 'vitest';
import type { Warehouse } from '../lib/db.js';
import {
  DEFAULT_CREDIT_APP_KEY,
  DEFAULT_CREDIT_APP_SECRET,
  type RunningSimulator,
  startCreditSimulator,
} from '../pipelines/simulate/credit-platform.js';
import { createStore } from '../pipelines/simulate/store.js';

/** A credit-platform simulator whose records were all updated during `year` (China time). */
export async function historySimulator(records: number, year = 2015): Promise<RunningSimulator> {
  const store = createStore({
    records,
    seed: 11,
    datasets: ['xzxk', 'xzcf'],
    fromMs: Date.parse(`${year}-01-01T00:00:00+08:00`),
    toMs: Date.parse(`${year}-12-31T23:59:59+08:00`),
  });
  return startCreditSimulator({ store, hangMs: 1500, retryAfterSeconds: 0 });
}

export function creditEnv(sim: RunningSimulator, extra: Record<string, string> = {}): Record<string, string> {
  return {
    GUIJI_CREDIT_URL: sim.url,
    GUIJI_CREDIT_APP_KEY: DEFAULT_CREDIT_APP_KEY,
    GUIJI_CREDIT_APP_SECRET: DEFAULT_CREDIT_APP_SECRET,
    GUIJI_CREDIT_DATASETS: 'xzxk,xzcf',
    GUIJI_CREDIT_LAG_SECONDS: '0',
    GUIJI_CREDIT_TIMEOUT_MS: '400',
    GUIJI_BACKFILL_LEASE_SECONDS: '2',
    GUIJI_BACKFILL_BACKOFF_SECONDS: '0',
    ...extra,
  };
}

/**
 * Every record the simulator holds is on file exactly once: loaded (one version, no history: its natural key is
 * its own) or quarantined, and nothing else is.
 */
export async function expectEveryRecordOnce(db: Warehouse, sim: RunningSimulator): Promise<void> {
  for (const dataset of ['xzxk', 'xzcf']) {
    const loaded = await db.query<{ id: string; version: number }>(
      `SELECT provenance->>'recordId' AS id, version FROM records WHERE resource = $1`,
      [dataset],
    );
    const rejected = await db.query<{ id: string }>(
      `SELECT DISTINCT record_id AS id FROM quarantine WHERE resource = $1`,
      [dataset],
    );
    const ids = [...loaded.map((r) => r.id), ...rejected.map((r) => r.id)].sort();
    expect(ids).toEqual(sim.store.ids(dataset).sort());
    expect(loaded.filter((r) => r.version !== 1)).toEqual([]);
  }
  const history = await db.query('SELECT natural_key FROM record_history');
  expect(history).toEqual([]);
}

/** Every partition of the warehouse is done, and was done exactly once. */
export async function expectDoneOnce(db: Warehouse): Promise<number> {
  const partitions = await db.query<{ id: string; state: string; completions: number; done: string }>(
    `SELECT p.id, p.state, p.completions,
            (SELECT count(*) FROM backfill_attempts a WHERE a.partition_id = p.id AND a.outcome = 'done') AS done
     FROM backfill_partitions p ORDER BY p.id`,
  );
  expect(partitions.length).toBeGreaterThan(0);
  expect(partitions.filter((p) => p.state !== 'done' || p.completions !== 1 || Number(p.done) !== 1)).toEqual(
    [],
  );
  return partitions.length;
}
