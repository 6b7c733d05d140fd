import { join } from 'node:path';
import type { Catalog } from '../../catalog/load.js';
import { CREDIT_SOURCE } from '../../connectors/credit-platform/client.js';
import { SHARING_SOURCE } from '../../connectors/sharing-platform/client.js';
import { xlsxLimitsOf } from '../../connectors/spreadsheet/xlsx-reader.js';
import type { Config } from '../../lib/config.js';
import type { Warehouse } from '../../lib/db.js';
import { GuijiError, messageOf } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { type Ajv, createAjv } from '../../schemas/ajv.js';
import { DROPS_SOURCE } from '../sources/drops.js';
import {
  creditAdapter,
  loadPlatformWindow,
  type PlatformAdapter,
  sharingAdapter,
} from '../sources/platform.js';
import { loadSpreadsheet } from './drops-partition.js';
import { NO_PROGRESS, type Progress } from './progress.js';
import {
  type Claim,
  claimPartition,
  completePartition,
  expireDeadLeases,
  failPartition,
  fenceBatch,
  heartbeat,
  LeaseLostError,
  outstanding,
  ownerName,
  releasePartition,
} from './store.js';

export interface ClaimersOptions {
  config: Readonly<Config>;
  db: Warehouse;
  catalog: Catalog;
  logger: Logger;
  /** Partitions of these backfills only (`guiji backfill`), or of every backfill (`guiji worker`). */
  backfillIds: number[] | null;
  /** Sources this process can load (a platform is served only when it is configured here). */
  sources: string[];
  concurrency: number;
  /** Return once nothing is pending or running (else keep polling, as a worker does). */
  exitWhenIdle: boolean;
  /** Stops claiming; a partition under way is given back at its next batch. */
  signal: AbortSignal;
  progress?: Progress;
  pollMs?: number;
}

export interface ClaimersResult {
  done: number;
  failed: number;
  retried: number;
  released: number;
  rows: number;
}

/** The sources this configuration can load: drops always, a platform when its URL is set. */
export function servableSources(config: Readonly<Config>): string[] {
  return [
    DROPS_SOURCE,
    ...(config.creditUrl ? [CREDIT_SOURCE] : []),
    ...(config.sharingUrl ? [SHARING_SOURCE] : []),
  ];
}

/**
 * Runs `concurrency` claimers in this process; each claims a partition (`FOR UPDATE SKIP LOCKED` leases in the
 * warehouse, so `guiji backfill` and any `guiji worker` processes share the work), loads it while a heartbeat
 * renews its lease, and records how it ended. A failed partition is retried later with backoff.
 */
export async function runClaimers(options: ClaimersOptions): Promise<ClaimersResult> {
  const { db, config, logger } = options;
  const progress = options.progress ?? NO_PROGRESS;
  const pollMs = options.pollMs ?? 1000;
  const ajv = createAjv();
  // a client per partition: its retry budget is one run's, as in the nightly run, not the whole backfill's
  const adapterFor = (source: string): PlatformAdapter => {
    const log = logger.child({ source });
    return source === CREDIT_SOURCE ? creditAdapter(config, log) : sharingAdapter(config, log);
  };
  const result: ClaimersResult = { done: 0, failed: 0, retried: 0, released: 0, rows: 0 };
  await expireDeadLeases(db);

  const claimer = async (n: number) => {
    const owner = ownerName(n);
    while (!options.signal.aborted) {
      const claim = await claimPartition(db, {
        owner,
        leaseSeconds: config.backfillLeaseSeconds,
        backfillIds: options.backfillIds,
        sources: options.sources,
      });
      if (!claim) {
        const left = await outstanding(db, options.backfillIds, options.sources);
        if (left.pending + left.running === 0 && options.exitWhenIdle) return;
        const wait = left.nextInSeconds === null ? pollMs : Math.min(pollMs, left.nextInSeconds * 1000 + 50);
        await sleep(Math.max(50, wait), options.signal);
        continue;
      }
      await execute(claim, { ...options, ajv, adapterFor, progress }, result);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, (_, i) => claimer(i + 1)));
  return result;
}

interface ExecuteContext extends ClaimersOptions {
  ajv: Ajv;
  adapterFor(source: string): PlatformAdapter;
  progress: Progress;
}

async function execute(claim: Claim, ctx: ExecuteContext, result: ClaimersResult): Promise<void> {
  const { db, config } = ctx;
  const log = ctx.logger.child({
    partition: claim.partitionId,
    backfill: claim.backfillId,
    runId: claim.runId,
    source: claim.source,
  });
  log.info(
    {
      stream: claim.stream,
      from: claim.windowFrom,
      to: claim.windowTo,
      file: claim.file,
      attempt: claim.attempts,
    },
    'partition claimed',
  );
  const controller = new AbortController();
  const stop = () =>
    controller.abort(new GuijiError('GUIJI_ERR_LOAD', 'stopping: the partition is given back'));
  ctx.signal.addEventListener('abort', stop, { once: true });
  const lease = config.backfillLeaseSeconds;
  const beat = setInterval(
    () => {
      heartbeat(db, claim, lease).then(
        (ours) => {
          if (!ours) controller.abort(new LeaseLostError(claim.partitionId));
        },
        (error) => log.warn({ err: messageOf(error) }, 'heartbeat failed'),
      );
    },
    Math.max(200, (lease * 1000) / 3),
  );
  const started = Date.now();
  let rows = 0;
  try {
    if (claim.source === DROPS_SOURCE) {
      if (!claim.file) throw new GuijiError('GUIJI_ERR_LOAD', `partition ${claim.partitionId} names no file`);
      const outcome = await loadSpreadsheet(
        {
          db,
          ajv: ctx.ajv,
          catalog: ctx.catalog,
          logger: log,
          runId: claim.runId,
          batchSize: config.batchSize,
          workDir: join(config.home, 'backfill-work', `${claim.partitionId}-${claim.token}`),
          xlsxLimits: xlsxLimitsOf(config),
          readWorker: config.readWorker === 1,
          bulkBytes: config.bulkBytes,
          feedbackDir: join(config.reportDir, `backfill-${claim.backfillId}`),
        },
        claim.file,
      );
      // a file runs to its end even when stopping: it is recorded as loaded with its last batch
      rows = outcome.read;
      ctx.progress.rows(rows);
      await completePartition(
        db,
        claim,
        rows,
        outcome.status === 'rejected' ? `file rejected: ${outcome.message ?? ''}` : null,
      );
    } else {
      if (!claim.resource || !claim.windowFrom || !claim.windowTo) {
        throw new GuijiError('GUIJI_ERR_LOAD', `partition ${claim.partitionId} has no window`);
      }
      const adapter = ctx.adapterFor(claim.source);
      const windowTo = claim.windowTo;
      const loaded = await loadPlatformWindow(
        {
          db,
          ajv: ctx.ajv,
          catalog: ctx.catalog,
          logger: log,
          runId: claim.runId,
          batchSize: config.batchSize,
          signal: controller.signal,
        },
        adapter,
        claim.stream,
        claim.resource,
        { from: claim.windowFrom, to: windowTo, resumeFrom: claim.resumeFrom },
        (tx, p) => fenceBatch(tx, claim, lease, { ...p, cursorAfter: `${claim.stream}=${windowTo}` }),
        (n) => {
          rows += n;
          ctx.progress.rows(n);
        },
      );
      rows = loaded.read;
    }
    result.done++;
    result.rows += rows;
    ctx.progress.partitionFinished();
    log.info({ rows, ms: Date.now() - started }, 'partition done');
  } catch (error) {
    const reason = controller.signal.aborted ? controller.signal.reason : error;
    if (reason instanceof LeaseLostError || error instanceof LeaseLostError) {
      log.warn({ err: messageOf(reason) }, 'partition lease lost: another worker has it');
      await releasePartition(db, claim, 'lost', messageOf(reason));
      result.released++;
    } else if (ctx.signal.aborted) {
      log.info('partition given back: stopping');
      await releasePartition(db, claim, 'interrupted', 'stopped');
      result.released++;
    } else {
      const message = messageOf(error);
      const outcome = await failPartition(db, claim, message, {
        maxAttempts: config.backfillMaxAttempts,
        backoffSeconds: config.backfillBackoffSeconds,
        retryable: !(
          error instanceof GuijiError && ['GUIJI_ERR_CONFIG', 'GUIJI_ERR_USAGE'].includes(error.code)
        ),
      });
      if (outcome === 'failed') {
        result.failed++;
        ctx.progress.partitionFinished();
        log.error({ err: message, attempts: claim.attempts }, 'partition failed');
      } else {
        result.retried++;
        log.warn({ err: message, attempts: claim.attempts }, 'partition failed; retried later');
      }
    }
  } finally {
    clearInterval(beat);
    ctx.signal.removeEventListener('abort', stop);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
