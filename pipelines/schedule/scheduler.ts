import { hostname } from 'node:os';
import cron from 'node-cron';
import type { Catalog } from '../../catalog/load.js';
import type { Config } from '../../lib/config.js';
import type { Warehouse } from '../../lib/db.js';
import { GuijiError, LockedError, messageOf } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { type RunSummary, runPipeline } from '../run.js';
import { prepareWarehouse } from '../warehouse/prepare.js';
import { previousSlot, SCHEDULE_TIME_ZONE, type ScheduleJob, scheduleJobs } from './slots.js';

/** What runs after a nightly run finished (the quality report); its failure is logged, never fatal. */
export type AfterNightly = (context: {
  config: Readonly<Config>;
  db: Warehouse;
  catalog: Catalog;
  logger: Logger;
  run: RunSummary;
}) => Promise<void>;

export interface SchedulerOptions {
  config: Readonly<Config>;
  db: Warehouse;
  catalog: Catalog;
  logger: Logger;
  /** Aborted (SIGTERM): no new slot starts, the run under way stops after its batch in flight. */
  signal: AbortSignal;
  afterNightly?: AfterNightly;
  /** The clock (tests). */
  now?: () => Date;
  /** What fires a job at its slots: node-cron in Shanghai time; tests fire slots themselves. */
  trigger?: Trigger;
}

/** Calls `fire` with each slot of `expression` as it comes; `destroy` stops it. */
export type Trigger = (
  expression: string,
  name: string,
  fire: (slot: Date) => void,
) => { getNextRun(): Date | null; destroy(): void | Promise<void> };

const cronTrigger: Trigger = (expression, name, fire) =>
  cron.schedule(expression, (context) => fire(context.date), { timezone: SCHEDULE_TIME_ZONE, name });

export type SlotOutcome = 'ran' | 'locked' | 'skipped' | 'already-run' | 'interrupted' | 'error';

/**
 * How often the scheduler checks that the warehouse still answers. A scheduler that lost it (the PostgreSQL
 * server went away, or the process serving the embedded warehouse stopped) exits 1, and its service manager
 * starts it again: it then reconnects, or holds the embedded warehouse itself, and catches up what it missed.
 */
export const HEALTH_CHECK_MS = 15_000;

/** A slot skipped for a lock someone else held is tried again this much later, until a later slot is due. */
export const LOCKED_RETRY_MS = 5 * 60_000;

/** The advisory lock (PostgreSQL) that makes one nightly run at a time across every scheduler. */
const NIGHTLY_LOCK = 'nightly';

/**
 * The nightly schedule as a long-lived service: catches up each job's last slot when it has no finished run,
 * then runs every job at its cron slots (Asia/Shanghai time), one run at a time in this process, and one
 * nightly run at a time across every process sharing the warehouse. Resolves once `signal` is aborted and the
 * run under way has stopped.
 */
export async function runScheduler(options: SchedulerOptions): Promise<void> {
  const { config, db, logger, signal } = options;
  const now = options.now ?? (() => new Date());
  await prepareWarehouse(db, options.catalog);
  const jobs = scheduleJobs(config);

  // one slot at a time in this process; while one runs, a job keeps at most its newest waiting slot
  const waiting = new Map<string, { job: ScheduleJob; slot: Date; catchUp: boolean }>();
  const latest = new Map<string, number>();
  const retries = new Set<NodeJS.Timeout>();
  let chain: Promise<void> = Promise.resolve();
  // the lock was held (another scheduler on this slot, a manual run): try again later; the slots table tells
  // whether the night has run meanwhile
  const retryLater = (job: ScheduleJob, slot: Date) => {
    const timer = setTimeout(() => {
      retries.delete(timer);
      if ((latest.get(job.name) ?? 0) <= slot.getTime() && !waiting.has(job.name)) enqueue(job, slot, true);
    }, LOCKED_RETRY_MS);
    retries.add(timer);
  };
  const enqueue = (job: ScheduleJob, slot: Date, catchUp: boolean) => {
    if (signal.aborted) return;
    latest.set(job.name, Math.max(latest.get(job.name) ?? 0, slot.getTime()));
    const before = waiting.get(job.name);
    if (before)
      logger.warn({ job: job.name, slot: before.slot }, 'slot superseded by a later one while busy');
    waiting.set(job.name, { job, slot, catchUp });
    chain = chain.then(async () => {
      const next = waiting.get(job.name);
      if (!next || signal.aborted) return;
      waiting.delete(job.name);
      const outcome = await runSlot(options, next.job, next.slot, next.catchUp).catch((error: unknown) => {
        logger.error({ job: job.name, err: messageOf(error) }, 'nightly slot failed');
        return 'error' as const;
      });
      if ((outcome === 'locked' || outcome === 'skipped') && !signal.aborted) retryLater(next.job, next.slot);
    });
  };

  const trigger = options.trigger ?? cronTrigger;
  const tasks = jobs.map((job) =>
    trigger(job.expression, `guiji:${job.name}`, (slot) => enqueue(job, slot, false)),
  );
  logger.info(
    {
      jobs: jobs.map((job, i) => ({ job: job.name, cron: job.expression, next: tasks[i]?.getNextRun() })),
      timezone: SCHEDULE_TIME_ZONE,
    },
    'schedule started',
  );
  for (const job of jobs) {
    const slot = previousSlot(job.expression, now());
    if (slot && !(await slotFinished(db, job.name, slot))) enqueue(job, slot, true);
    else logger.info({ job: job.name, slot }, 'nothing to catch up: the last slot has run');
  }

  let lost: unknown = null;
  await new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    let checking = false;
    const health = setInterval(() => {
      if (checking) return;
      checking = true;
      db.query('SELECT 1')
        .catch((error: unknown) => {
          lost = error;
          clearInterval(health);
          resolve();
        })
        .finally(() => {
          checking = false;
        });
    }, HEALTH_CHECK_MS);
    signal.addEventListener(
      'abort',
      () => {
        clearInterval(health);
        resolve();
      },
      { once: true },
    );
  });
  for (const task of tasks) await task.destroy();
  for (const timer of retries) clearTimeout(timer);
  if (lost !== null) {
    logger.error({ err: messageOf(lost) }, 'the warehouse does not answer: the schedule stops');
    await chain;
    throw new GuijiError('GUIJI_ERR_DB', `the warehouse does not answer any more: ${messageOf(lost)}`, {
      cause: lost,
    });
  }
  logger.info('schedule stopping: waiting for the run under way to stop after its batch');
  await chain;
  logger.info('schedule stopped');
}

async function slotFinished(db: Warehouse, job: string, slot: Date): Promise<boolean> {
  const rows = await db.query<{ status: string }>(
    'SELECT status FROM schedule_slots WHERE job = $1 AND slot_at = $2',
    [job, slot],
  );
  return rows[0]?.status === 'finished';
}

/**
 * Runs one slot of a job unless another process holds the nightly lock (it logs and skips) or the slot has
 * already run to its end. A slot whose run was interrupted, or whose scheduler died, runs again.
 */
export async function runSlot(
  options: SchedulerOptions,
  job: ScheduleJob,
  slot: Date,
  catchUp = false,
): Promise<SlotOutcome> {
  const { config, db, catalog, signal } = options;
  const log = options.logger.child({ job: job.name, slot: slot.toISOString() });
  const release = await db.tryRunLock(NIGHTLY_LOCK);
  if (!release) {
    log.info('nightly run skipped: another process holds the nightly lock');
    return 'locked';
  }
  try {
    // under the nightly lock nobody else is running a slot: one not finished is ours to (re)run
    const claimed = await db.query(
      `INSERT INTO schedule_slots (job, slot_at, host, pid) VALUES ($1, $2, $3, $4)
       ON CONFLICT (job, slot_at) DO UPDATE SET status = 'running', host = EXCLUDED.host, pid = EXCLUDED.pid,
         run_id = NULL, run_status = NULL, error = NULL, claimed_at = now(), finished_at = NULL
       WHERE schedule_slots.status <> 'finished'
       RETURNING job`,
      [job.name, slot, hostname(), process.pid],
    );
    if (!claimed.length) {
      log.info('nightly run skipped: this slot has already run');
      return 'already-run';
    }
    log.info({ catchUp, sources: job.sources }, catchUp ? 'catching up a missed slot' : 'nightly slot due');
    let run: RunSummary;
    try {
      ({ summary: run } = await runPipeline({
        config,
        db,
        catalog,
        logger: log,
        sources: job.sources,
        kind: 'nightly',
        signal,
        onRunStarted: async (runId) => {
          await db.query('UPDATE schedule_slots SET run_id = $3 WHERE job = $1 AND slot_at = $2', [
            job.name,
            slot,
            runId,
          ]);
        },
      }));
    } catch (error) {
      // a manual run holds the run lock ('skipped'), or the warehouse failed ('error'): caught up on restart
      const status = error instanceof LockedError ? 'skipped' : 'error';
      log.warn({ err: messageOf(error) }, `nightly run ${status === 'skipped' ? 'skipped' : 'failed'}`);
      await db.query(
        `UPDATE schedule_slots SET status = $3, error = $4, finished_at = now() WHERE job = $1 AND slot_at = $2`,
        [job.name, slot, status, messageOf(error)],
      );
      return status === 'skipped' ? 'skipped' : 'error';
    }
    const status = run.status === 'interrupted' ? 'interrupted' : 'finished';
    await db.query(
      `UPDATE schedule_slots SET status = $3, run_id = $4, run_status = $5, finished_at = now()
       WHERE job = $1 AND slot_at = $2`,
      [job.name, slot, status, run.runId, run.status],
    );
    log.info({ runId: run.runId, status: run.status }, 'nightly run finished');
    if (status === 'interrupted') return 'interrupted';
    if (options.afterNightly) {
      try {
        await options.afterNightly({ config, db, catalog, logger: log.child({ runId: run.runId }), run });
      } catch (error) {
        log.error({ err: messageOf(error) }, 'after the nightly run: the quality report failed');
      }
    }
    return 'ran';
  } finally {
    await release();
  }
}
