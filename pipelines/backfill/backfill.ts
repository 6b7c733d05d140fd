import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Catalog } from '../../catalog/load.js';
import { CREDIT_SOURCE } from '../../connectors/credit-platform/client.js';
import { SHARING_SOURCE } from '../../connectors/sharing-platform/client.js';
import type { Config } from '../../lib/config.js';
import type { Warehouse } from '../../lib/db.js';
import { GuijiError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { DROPS_SOURCE } from '../sources/drops.js';
import { creditAdapter, sharingAdapter } from '../sources/platform.js';
import { prepareWarehouse } from '../warehouse/prepare.js';
import { runClaimers } from './claimer.js';
import { listSpreadsheets } from './drops-partition.js';
import { NO_PROGRESS, type Progress } from './progress.js';
import {
  type BackfillSpec,
  ensureBackfill,
  findBackfill,
  markFinished,
  type PartitionSpec,
  type PartitionState,
  retryFailed,
} from './store.js';
import { type Granularity, parseDay, windowsOf } from './windows.js';

export const BACKFILL_SOURCES = [DROPS_SOURCE, CREDIT_SOURCE, SHARING_SOURCE] as const;

export interface BackfillRequest {
  source: string;
  from?: string;
  to?: string;
  by?: Granularity;
  /** The folder of historical spreadsheets (`--source drops`). */
  dir?: string;
  concurrency: number;
  dryRun?: boolean;
  retryFailed?: boolean;
  /** Store the partitions and leave them to `guiji worker` processes. */
  enqueueOnly?: boolean;
}

export interface PartitionCounts {
  total: number;
  pending: number;
  running: number;
  done: number;
  failed: number;
}

export interface BackfillOutcome {
  backfillId: number | null;
  source: string;
  dryRun: boolean;
  created: boolean;
  /** Partitions added by this command (new ones; a folder's new files). */
  added: number;
  /** Failed partitions made pending again by `--retry-failed`. */
  retried: number;
  partitions: PartitionCounts;
  rows: number;
  /** The command was stopped (SIGINT, SIGTERM) before the backfill finished. */
  stopped: boolean;
  failures: { partitionId: number; key: string; attempts: number; error: string | null }[];
  /** `--dry-run`: the partitions still to load (every one when the backfill does not exist yet). */
  toDo?: { key: string; state: PartitionState | 'new' }[];
}

export interface BackfillOptions {
  config: Readonly<Config>;
  db: Warehouse;
  catalog: Catalog;
  logger: Logger;
  request: BackfillRequest;
  progress?: Progress;
  signal?: AbortSignal;
}

/** The backfill a request names, and its partitions: streams × windows for a platform, files for a folder. */
export function planBackfill(
  config: Readonly<Config>,
  catalog: Catalog,
  logger: Logger,
  request: BackfillRequest,
): { spec: BackfillSpec; partitions: PartitionSpec[] } {
  const { source } = request;
  if (!(BACKFILL_SOURCES as readonly string[]).includes(source)) {
    throw new GuijiError(
      'GUIJI_ERR_USAGE',
      `--source: unknown source "${source}" (known: ${BACKFILL_SOURCES.join(', ')})`,
    );
  }
  if (source === DROPS_SOURCE) {
    if (!request.dir)
      throw new GuijiError('GUIJI_ERR_USAGE', '--source drops needs --dir <folder of spreadsheets>');
    if (request.from || request.to) {
      throw new GuijiError(
        'GUIJI_ERR_USAGE',
        '--from/--to apply to platform sources; a folder backfills every file',
      );
    }
    const dir = resolve(request.dir);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new GuijiError('GUIJI_ERR_USAGE', `--dir ${dir}: not a folder`, { context: { file: dir } });
    }
    return {
      spec: { spec: `${DROPS_SOURCE}|${dir}`, source, rangeFrom: null, rangeTo: null, by: 'file', dir },
      partitions: listSpreadsheets(dir).map((f) => ({
        key: f.key,
        stream: '',
        resource: null,
        windowFrom: null,
        windowTo: null,
        file: f.path,
      })),
    };
  }
  if (!request.from || !request.to) {
    throw new GuijiError('GUIJI_ERR_USAGE', `--source ${source} needs --from and --to (YYYY-MM-DD)`);
  }
  if (request.dir) throw new GuijiError('GUIJI_ERR_USAGE', '--dir applies to --source drops only');
  const by = request.by ?? 'month';
  parseDay(request.from, '--from');
  parseDay(request.to, '--to');
  const adapter = source === CREDIT_SOURCE ? creditAdapter(config, logger) : sharingAdapter(config, logger);
  const missing = adapter.streams.filter((s) => !catalog.resources.has(s.resource)).map((s) => s.resource);
  if (missing.length) {
    const setting = source === CREDIT_SOURCE ? 'GUIJI_CREDIT_DATASETS' : 'GUIJI_SHARING_INTERFACES';
    throw new GuijiError('GUIJI_ERR_CONFIG', `${setting}: no catalog resource ${missing.join(', ')}`, {
      context: { setting },
    });
  }
  const windows = windowsOf(request.from, request.to, by);
  const partitions: PartitionSpec[] = [];
  for (const { stream, resource } of adapter.streams) {
    for (const w of windows) {
      partitions.push({
        key: `${stream}|${w.from}`,
        stream,
        resource,
        windowFrom: w.from,
        windowTo: w.to,
        file: null,
      });
    }
  }
  return {
    spec: {
      spec: `${source}|${request.from}|${request.to}|${by}`,
      source,
      rangeFrom: request.from,
      rangeTo: request.to,
      by,
      dir: null,
    },
    partitions,
  };
}

/**
 * `guiji backfill`: stores the backfill's partitions (or finds them: the same command resumes), then loads them
 * with `concurrency` claimers — the same claim code as `guiji worker`, so workers started elsewhere share the
 * work — until none is pending or running. Never reads or moves the nightly cursors.
 */
export async function runBackfill(options: BackfillOptions): Promise<BackfillOutcome> {
  const { config, db, catalog, logger, request } = options;
  const { spec, partitions } = planBackfill(config, catalog, logger, request);
  await prepareWarehouse(db, catalog);
  if (request.dryRun) {
    const id = await findBackfill(db, spec.spec);
    const states = new Map<string, PartitionState>();
    if (id !== null) {
      const rows = await db.query<{ key: string; state: PartitionState }>(
        'SELECT key, state FROM backfill_partitions WHERE backfill_id = $1',
        [id],
      );
      for (const r of rows) states.set(r.key, r.state);
    }
    const toDo = partitions
      .map((p) => ({ key: p.key, state: states.get(p.key) ?? ('new' as const) }))
      .filter((p) => p.state !== 'done');
    const counts = id === null ? emptyCounts() : (await countsOf(db, id)).counts;
    return {
      backfillId: id,
      source: spec.source,
      dryRun: true,
      created: false,
      added: 0,
      retried: 0,
      partitions: { ...counts, total: Math.max(counts.total, partitions.length) },
      rows: id === null ? 0 : (await countsOf(db, id)).rows,
      stopped: false,
      failures: [],
      toDo,
    };
  }
  const { id, created, added } = await ensureBackfill(db, spec, partitions);
  const log = logger.child({ backfill: id, source: spec.source });
  const retried = request.retryFailed ? await retryFailed(db, id) : 0;
  log.info({ created, added, retried, partitions: partitions.length }, 'backfill started');
  let stopped = false;
  if (!request.enqueueOnly) {
    const before = await countsOf(db, id);
    const progress = options.progress ?? NO_PROGRESS;
    progress.begin(before.counts.total, before.counts.done + before.counts.failed);
    const signal = options.signal ?? new AbortController().signal;
    try {
      await runClaimers({
        config,
        db,
        catalog,
        logger: log,
        backfillIds: [id],
        sources: [spec.source],
        concurrency: request.concurrency,
        exitWhenIdle: true,
        signal,
        progress,
      });
    } finally {
      progress.end();
    }
    stopped = signal.aborted;
    await markFinished(db, [id]);
  }
  const { counts, rows } = await countsOf(db, id);
  const failures = await db.query<{ id: string; key: string; attempts: number; error: string | null }>(
    `SELECT id, key, attempts, error FROM backfill_partitions WHERE backfill_id = $1 AND state = 'failed' ORDER BY id`,
    [id],
  );
  log.info({ ...counts, rows, stopped }, 'backfill finished');
  return {
    backfillId: id,
    source: spec.source,
    dryRun: false,
    created,
    added,
    retried,
    partitions: counts,
    rows,
    stopped,
    failures: failures.map((f) => ({
      partitionId: Number(f.id),
      key: f.key,
      attempts: f.attempts,
      error: f.error,
    })),
  };
}

function emptyCounts(): PartitionCounts {
  return { total: 0, pending: 0, running: 0, done: 0, failed: 0 };
}

export async function countsOf(
  db: Warehouse,
  backfillId: number,
): Promise<{ counts: PartitionCounts; rows: number }> {
  const rows = await db.query<{ state: PartitionState; n: string; rows: string | null }>(
    'SELECT state, count(*) AS n, sum(rows) AS rows FROM backfill_partitions WHERE backfill_id = $1 GROUP BY state',
    [backfillId],
  );
  const counts = emptyCounts();
  let total = 0;
  for (const r of rows) {
    counts[r.state] = Number(r.n);
    counts.total += Number(r.n);
    total += Number(r.rows ?? 0);
  }
  return { counts, rows: total };
}
