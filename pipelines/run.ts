import { hostname } from 'node:os';
import type { Catalog } from '../catalog/load.js';
import { loadPublicationRules } from '../catalog/publication.js';
import { checkDropFolder } from '../connectors/spreadsheet/drop-folder.js';
import { xlsxLimitsOf } from '../connectors/spreadsheet/xlsx-reader.js';
import type { Config } from '../lib/config.js';
import type { Warehouse } from '../lib/db.js';
import { GuijiError, LockedError, messageOf } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { shanghaiDate, shanghaiIsoOrNull } from '../lib/time.js';
import { type Ajv, createAjv } from '../schemas/ajv.js';
import type { BatchCounts } from './load/loader.js';
import { refreshPublication } from './publication/state.js';
import { computeQualityMetrics } from './quality/metrics.js';
import { DROPS_SOURCE, DropsIncomplete, type FileOutcome, runDrops } from './sources/drops.js';
import {
  CREDIT_SOURCE,
  creditAdapter,
  runPlatform,
  SHARING_SOURCE,
  sharingAdapter,
} from './sources/platform.js';
import { migrate } from './warehouse/migrate.js';
import { prepareWarehouse } from './warehouse/prepare.js';

export type RunStatus = 'running' | 'succeeded' | 'partial' | 'failed' | 'interrupted';

/** One source's line of the run ledger (the `--json` contract of `guiji run` and `guiji status`). */
export interface SourceSummary extends BatchCounts {
  source: string;
  status: RunStatus;
  error: string | null;
}

export interface RunSummary {
  runId: number;
  /** `run` (manual), `nightly` (the scheduler), `backfill` (a history partition), `demo`. */
  kind: string;
  status: RunStatus;
  startedAt: string;
  finishedAt: string | null;
  sources: SourceSummary[];
}

export interface RunResult {
  summary: RunSummary;
  files: FileOutcome[];
}

export const SOURCES = [DROPS_SOURCE, CREDIT_SOURCE, SHARING_SOURCE] as const;

export interface RunOptions {
  config: Readonly<Config>;
  db: Warehouse;
  catalog: Catalog;
  logger: Logger;
  sources?: readonly string[];
  kind?: string;
  /**
   * Stops the run between batches (SIGTERM, SIGINT): the batch in flight commits, the source and the run are
   * recorded as interrupted, the sources not yet started are not run.
   */
  signal?: AbortSignal;
  /** Called once the run has its id (the scheduler records it with its slot). */
  onRunStarted?: (runId: number) => Promise<void>;
}

/**
 * One run of the pipeline: takes the "one run at a time" lock, marks runs that died before it as interrupted,
 * then runs each source; a source that fails is recorded as failed and the others still load.
 */
export async function runPipeline(options: RunOptions): Promise<RunResult> {
  const { db, config, catalog } = options;
  const sources = sourcesToRun(config, options.sources);
  // a missing drop folder is an unmounted share or a typo: a configuration error, before any run is recorded
  if (sources.includes(DROPS_SOURCE)) checkDropFolder(config.dropDir);
  // the migrations, the typed tables and the analysts' views follow the build and the catalog; nothing is
  // done when neither changed
  await prepareWarehouse(db, catalog);
  const release = await db.tryRunLock('run');
  if (!release)
    throw new LockedError('another guiji run holds the warehouse run lock; this run was not started');
  try {
    const run = await startRun(options, sources);
    const interrupted = await runSources(run, sources);
    await finishRun(db, run.runId, interrupted);
    await computeRunMetrics(run);
    await refreshRunPublication(run);
    const summary = await getRun(db, run.runId);
    if (!summary) throw new GuijiError('GUIJI_ERR_DB', `run ${run.runId} vanished`);
    run.logger.info({ status: summary.status }, 'run finished');
    return { summary, files: run.files };
  } finally {
    await release();
  }
}

/**
 * The sources this run loads: those asked for, else every source that is configured (a platform without a
 * URL is not part of this city's setup). An unknown source is a usage error.
 */
function sourcesToRun(config: Readonly<Config>, requested: readonly string[] | undefined): readonly string[] {
  const sources = requested?.length
    ? requested
    : SOURCES.filter(
        (s) => (s !== CREDIT_SOURCE || config.creditUrl) && (s !== SHARING_SOURCE || config.sharingUrl),
      );
  for (const source of sources) {
    if (!(SOURCES as readonly string[]).includes(source)) {
      throw new GuijiError('GUIJI_ERR_USAGE', `unknown source "${source}" (known: ${SOURCES.join(', ')})`);
    }
  }
  return sources;
}

/** What the steps of one run share, once the run has its id. */
interface RunContext {
  db: Warehouse;
  config: Readonly<Config>;
  catalog: Catalog;
  runId: number;
  /** The run's logger (`runId` bound). */
  logger: Logger;
  ajv: Ajv;
  signal: AbortSignal | undefined;
  /** The drop folder's files as the run handled them, filled as the drops source goes. */
  files: FileOutcome[];
}

/**
 * Opens the run under the lock: the runs that died before it are marked interrupted, then the run is recorded
 * and the caller told its id.
 */
async function startRun(options: RunOptions, sources: readonly string[]): Promise<RunContext> {
  const { db } = options;
  await markInterrupted(db);
  const [run] = await db.query<{ id: string }>(
    `INSERT INTO runs (kind, host, pid) VALUES ($1, $2, $3) RETURNING id`,
    [options.kind ?? 'run', hostname(), process.pid],
  );
  const runId = Number(run?.id);
  const logger = options.logger.child({ runId });
  logger.info({ sources }, 'run started');
  await options.onRunStarted?.(runId);
  return {
    db,
    config: options.config,
    catalog: options.catalog,
    runId,
    logger,
    ajv: createAjv(),
    signal: options.signal,
    files: [],
  };
}

/** Runs the sources one after the other; true when a stop request cut the run short. */
async function runSources(run: RunContext, sources: readonly string[]): Promise<boolean> {
  for (const source of sources) {
    if (run.signal?.aborted) return true;
    if ((await runSource(run, source)) === 'interrupted') return true;
  }
  return false;
}

/**
 * One source with its line of the ledger: succeeded, partial or failed as the load went (a failure is recorded
 * and the run goes on); a stop request between two batches leaves it interrupted, with what it committed.
 */
async function runSource(run: RunContext, source: string): Promise<'done' | 'interrupted'> {
  const { db, runId, signal } = run;
  const log = run.logger.child({ source });
  await db.query(`INSERT INTO source_runs (run_id, source) VALUES ($1, $2)`, [runId, source]);
  const started = Date.now();
  try {
    const { status, problem } = await loadSource(run, source, log);
    await db.query(
      `UPDATE source_runs SET status = $3, error = $4, finished_at = now() WHERE run_id = $1 AND source = $2`,
      [runId, source, status, problem],
    );
    log.info({ ms: Date.now() - started, status }, 'source done');
    return 'done';
  } catch (error) {
    if (signal?.aborted && error === signal.reason) {
      // the source stopped between two batches: what it committed stays, the next run goes on from there
      log.warn({ ms: Date.now() - started }, 'source interrupted');
      await db.query(
        `UPDATE source_runs SET status = 'interrupted', finished_at = now() WHERE run_id = $1 AND source = $2`,
        [runId, source],
      );
      return 'interrupted';
    }
    log.error({ err: messageOf(error) }, 'source failed');
    await db.query(
      `UPDATE source_runs SET status = 'failed', error = $3, finished_at = now() WHERE run_id = $1 AND source = $2`,
      [runId, source, messageOf(error)],
    );
    return 'done';
  }
}

interface SourceOutcome {
  status: RunStatus;
  problem: string | null;
}

/** Loads one source: a platform through its adapter, or the drop folder. */
async function loadSource(run: RunContext, source: string, log: Logger): Promise<SourceOutcome> {
  if (source !== CREDIT_SOURCE && source !== SHARING_SOURCE) return loadDrops(run, log);
  const { db, ajv, catalog, config, runId, signal } = run;
  const adapter = source === CREDIT_SOURCE ? creditAdapter(config, log) : sharingAdapter(config, log);
  await runPlatform(
    {
      db,
      ajv,
      catalog,
      logger: log,
      runId,
      batchSize: config.batchSize,
      ...(signal ? { signal } : {}),
    },
    adapter,
  );
  return { status: 'succeeded', problem: null };
}

/**
 * Loads the drop folder. When every file had its turn but not all went as they should, the source is partly
 * done, or failed when no file loaded.
 */
async function loadDrops(run: RunContext, log: Logger): Promise<SourceOutcome> {
  const { db, ajv, catalog, config, runId, signal } = run;
  try {
    run.files.push(
      ...(await runDrops({
        db,
        ajv,
        catalog,
        logger: log,
        runId,
        dropDir: config.dropDir,
        batchSize: config.batchSize,
        xlsxLimits: xlsxLimitsOf(config),
        bulkBytes: config.bulkBytes,
        readWorker: config.readWorker === 1,
        ...(signal ? { signal } : {}),
      })),
    );
    return { status: 'succeeded', problem: null };
  } catch (error) {
    if (!(error instanceof DropsIncomplete)) throw error;
    run.files.push(...error.files);
    const done = error.files.some((f) => f.status === 'loaded' || f.status === 'rejected');
    log.error({ problems: error.problems }, 'drop folder: not everything was processed');
    return { status: done ? 'partial' : 'failed', problem: error.message };
  }
}

/** The run's status from its sources' lines: interrupted, succeeded, partial (some loaded) or failed. */
async function finishRun(db: Warehouse, runId: number, interrupted: boolean): Promise<void> {
  await db.query(
    `UPDATE runs SET finished_at = now(), status = CASE
       WHEN $2::boolean THEN 'interrupted'
       WHEN NOT EXISTS (SELECT 1 FROM source_runs WHERE run_id = $1 AND status <> 'succeeded') THEN 'succeeded'
       WHEN EXISTS (SELECT 1 FROM source_runs WHERE run_id = $1 AND status IN ('succeeded', 'partial'))
         THEN 'partial'
       ELSE 'failed' END
     WHERE id = $1`,
    [runId, interrupted],
  );
}

/**
 * The run's quality metrics, still under the run lock (no other run writes records meanwhile). A failure is
 * logged and leaves the loaded run as it stands: `guiji report` computes missing metrics when it reports.
 */
async function computeRunMetrics(run: RunContext): Promise<void> {
  try {
    const quality = await computeQualityMetrics(run.db, run.catalog, run.runId, {
      catalogDir: run.config.catalogDir,
    });
    run.logger.info(
      { ms: quality.ms, lines: quality.rows, overdue: quality.overdue },
      'quality metrics computed',
    );
  } catch (error) {
    run.logger.error(
      { err: messageOf(error) },
      'quality metrics failed; the run stands, guiji report computes them later',
    );
  }
}

/**
 * What is public today, recomputed after the load for the records it brought or changed and the periods that
 * began or ended (issue 14). A failure is logged and leaves the run as it stands: the public views keep the
 * states computed before, until `guiji publication refresh` or the next run.
 */
async function refreshRunPublication(run: RunContext): Promise<void> {
  try {
    const today = run.config.today ?? shanghaiDate();
    const rules = loadPublicationRules(run.config.catalogDir, run.catalog);
    const result = await refreshPublication(run.db, run.catalog, rules, { today, runId: run.runId });
    run.logger.info(
      { today, computed: result.computed, changed: result.changed },
      'publication states computed',
    );
  } catch (error) {
    run.logger.error(
      { err: messageOf(error) },
      'publication states failed; the run stands, guiji publication refresh computes them',
    );
  }
}

/** Runs still marked running while we hold the lock died (killed, crashed): say so. */
async function markInterrupted(db: Warehouse): Promise<void> {
  // a backfill's runs are not under the run lock: a live worker's lease, not this lock, says whether they live
  await db.query(
    `UPDATE source_runs SET status = 'interrupted', finished_at = coalesce(finished_at, now())
     WHERE status = 'running' AND run_id IN (SELECT id FROM runs WHERE status = 'running' AND kind <> 'backfill')`,
  );
  await db.query(
    `UPDATE runs SET status = 'interrupted', finished_at = coalesce(finished_at, now())
     WHERE status = 'running' AND kind <> 'backfill'`,
  );
}

interface RunRow {
  id: string;
  kind: string;
  status: RunStatus;
  started_at: Date | string;
  finished_at: Date | string | null;
}

interface SourceRunRow {
  run_id: string;
  source: string;
  status: RunStatus;
  read: string;
  inserted: string;
  updated: string;
  unchanged: string;
  quarantined: string;
  duplicates: string;
  unmatched: string;
  error: string | null;
}

/** JSON times carry their offset: the instant, written in Asia/Shanghai (`…+08:00`). */
const iso = shanghaiIsoOrNull;

function toSummary(run: RunRow, sources: SourceRunRow[]): RunSummary {
  return {
    runId: Number(run.id),
    kind: run.kind,
    status: run.status,
    startedAt: iso(run.started_at) as string,
    finishedAt: iso(run.finished_at),
    sources: sources.map((s) => ({
      source: s.source,
      status: s.status,
      read: Number(s.read),
      inserted: Number(s.inserted),
      updated: Number(s.updated),
      unchanged: Number(s.unchanged),
      quarantined: Number(s.quarantined),
      duplicates: Number(s.duplicates),
      unmatched: Number(s.unmatched),
      error: s.error,
    })),
  };
}

/** The backfill partitions' runs summed up: how many, running and failed, and when the latest started. */
export interface BackfillRunCounts {
  runs: number;
  running: number;
  failed: number;
  lastStartedAt: string | null;
}

export async function backfillRunCounts(db: Warehouse): Promise<BackfillRunCounts> {
  const [row] = await db.query<{ runs: string; running: string; failed: string; last: Date | string | null }>(
    `SELECT count(*) AS runs, count(*) FILTER (WHERE status = 'running') AS running,
            count(*) FILTER (WHERE status = 'failed') AS failed, max(started_at) AS last
     FROM runs WHERE kind = 'backfill'`,
  );
  return {
    runs: Number(row?.runs ?? 0),
    running: Number(row?.running ?? 0),
    failed: Number(row?.failed ?? 0),
    lastStartedAt: iso(row?.last ?? null),
  };
}

export async function getRun(db: Warehouse, runId: number): Promise<RunSummary | null> {
  const runs = await db.query<RunRow>(
    'SELECT id, kind, status, started_at, finished_at FROM runs WHERE id = $1',
    [runId],
  );
  const run = runs[0];
  if (!run) return null;
  const sources = await db.query<SourceRunRow>(
    'SELECT * FROM source_runs WHERE run_id = $1 ORDER BY source',
    [runId],
  );
  return toSummary(run, sources);
}

/** The most recent runs, newest first, each with its ledger. */
/**
 * Which runs `recentRuns` lists: one kind, every kind (`all`), or by default every kind but backfill
 * partitions (hundreds of them would hide the nightly runs; {@link backfillRunCounts} sums them up).
 */
export type RunKindFilter = string | 'all' | 'default';

export async function recentRuns(
  db: Warehouse,
  limit = 20,
  kind: RunKindFilter = 'default',
): Promise<RunSummary[]> {
  await migrate(db.knex, db.schema);
  const runs = await db.query<RunRow>(
    `SELECT id, kind, status, started_at, finished_at FROM runs
     WHERE CASE $2::text WHEN 'all' THEN true WHEN 'default' THEN kind <> 'backfill' ELSE kind = $2::text END
     ORDER BY id DESC LIMIT $1`,
    [limit, kind],
  );
  return summarizeRuns(db, runs);
}

/** These runs (rows of `runs`), each with its sources' ledger, in the order given. */
export async function summarizeRuns(
  db: Warehouse,
  runs: ReadonlyArray<{
    id: string;
    status: string;
    started_at: Date | string;
    finished_at: Date | string | null;
  }>,
): Promise<RunSummary[]> {
  if (!runs.length) return [];
  const sources = await db.query<SourceRunRow>(
    'SELECT * FROM source_runs WHERE run_id = ANY($1::bigint[]) ORDER BY source',
    [runs.map((r) => r.id)],
  );
  return runs.map((run) =>
    toSummary(
      run as RunRow,
      sources.filter((s) => s.run_id === run.id || Number(s.run_id) === Number(run.id)),
    ),
  );
}
