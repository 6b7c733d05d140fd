/**
 * What the commands share: the configuration and logger, the warehouse handle, JSON output, signal handling
 * and the checks of flag values (each done before any SQL, naming the flag; exit 2).
 */
import { type Catalog, loadCatalog } from '../../catalog/load.js';
import { isIsoDate } from '../../lib/calendar.js';
import { type Config, loadConfig } from '../../lib/config.js';
import { openWarehouse, type Warehouse } from '../../lib/db.js';
import { databaseError, GuijiError, UsageError, type WarehouseTarget } from '../../lib/errors.js';
import { createLogger, type Logger } from '../../lib/logger.js';
import { qualityCalendar } from '../quality/workdays.js';
import type { RunSummary } from '../run.js';
import { CREDIT_SOURCE, creditAdapter, SHARING_SOURCE, sharingAdapter } from '../sources/platform.js';

export interface CommandContext {
  config: Readonly<Config>;
  logger: Logger;
}

/** Loads the configuration (a bad setting throws ConfigError: exit 2) and the root logger on stderr. */
export function commandContext(overrides: Partial<Config> = {}): CommandContext {
  const config = loadConfig({ overrides });
  return { config, logger: createLogger(config.logLevel, process.stderr) };
}

/** The configured catalog folder and its schemas, read when a command that needs only them runs. */
export function catalogLocation(): { catalogDir: string; schemasDir: string } {
  const { catalogDir, schemasDir } = loadConfig();
  return { catalogDir, schemasDir };
}

/** The resource catalog the configuration points at. */
export function commandCatalog(ctx: CommandContext): Catalog {
  return loadCatalog(ctx.config.catalogDir, ctx.config.schemasDir);
}

/** The warehouse as a message names it: `host:port` of the URL (never its password), or the embedded one. */
export function warehouseTarget(config: Readonly<Config>): WarehouseTarget {
  if (config.databaseUrl) {
    try {
      const url = new URL(config.databaseUrl);
      return { where: `${url.hostname || 'localhost'}:${url.port || '5432'}`, setting: 'GUIJI_DATABASE_URL' };
    } catch {
      return { where: '(an unparseable URL)', setting: 'GUIJI_DATABASE_URL' };
    }
  }
  return { where: `the embedded warehouse in ${config.home}`, setting: 'GUIJI_HOME' };
}

/**
 * Opens the warehouse, runs `fn` with it and closes it. A database failure (unreachable, refused, a SQLSTATE)
 * comes out as a GuijiError in plain words, never the driver's message. `serve`: a long-lived holder of the
 * embedded warehouse serves it on a local socket, so that `guiji status` and the rest still work meanwhile.
 */
export async function withWarehouse<T>(
  ctx: CommandContext,
  fn: (db: Warehouse) => Promise<T>,
  options: { serve?: boolean } = {},
): Promise<T> {
  const target = warehouseTarget(ctx.config);
  let db: Warehouse;
  try {
    db = await openWarehouse({
      home: ctx.config.home,
      databaseUrl: ctx.config.databaseUrl,
      schema: ctx.config.dbSchema,
      logger: ctx.logger,
      ...(options.serve ? { serve: true } : {}),
      onWait: (message) => ctx.logger.info(message),
    });
  } catch (error) {
    throw databaseError(error, target) ?? error;
  }
  try {
    return await fn(db);
  } catch (error) {
    throw databaseError(error, target) ?? error;
  } finally {
    await db.close();
  }
}

export function writeJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/**
 * SIGTERM and SIGINT stop `run` and `schedule` between batches: the batch in flight commits, the run is
 * recorded as interrupted, the locks are released and the command exits 0. A second signal stops at once.
 */
export function stopSignal(logger: Logger): AbortSignal {
  const controller = new AbortController();
  for (const name of ['SIGTERM', 'SIGINT'] as const) {
    process.on(name, () => {
      if (controller.signal.aborted) {
        logger.warn({ signal: name }, 'second signal: stopping now, without waiting for the batch in flight');
        process.exit(130);
      }
      logger.warn(
        { signal: name },
        'stopping: the batch in flight commits, then the run is recorded as interrupted',
      );
      controller.abort();
    });
  }
  return controller.signal;
}

/** SIGINT and SIGTERM stop claiming and give the partitions under way back (the same command resumes them). */
export function stopOnSignals(logger: Logger): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) return;
    logger.warn({ signal }, 'stopping: partitions under way are given back at their next batch');
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}

/** 0 succeeded, 4 partly done, 1 failed (DESIGN.md's exit codes). */
export function exitCodeForRun(summary: RunSummary): number {
  return summary.status === 'succeeded' ? 0 : summary.status === 'partial' ? 4 : 1;
}

/** A whole number from `min` to `max` (a limit, a count, a seed). */
export function integerFlag(value: string, flag: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
    throw new UsageError(flag, `expected a whole number ${range}, got "${value}"`);
  }
  return n;
}

/** `--limit`: a positive whole number (at most a million: a screenful is a hundred). */
export function limitFlag(value: string, flag = '--limit'): number {
  return integerFlag(value, flag, 1, 1_000_000);
}

/** A run, backfill or review id: a positive whole number that PostgreSQL's bigint holds. */
export function idFlag(value: string, flag: string): number {
  return integerFlag(value, flag, 1);
}

/** A real calendar date written YYYY-MM-DD (2026-13-45 and 2025-02-29 are refused). */
export function dateFlag(value: string, flag: string): string {
  if (!isIsoDate(value))
    throw new UsageError(flag, `expected a real date written YYYY-MM-DD (e.g. 2026-11-01), got "${value}"`);
  return value;
}

/**
 * The settings a run needs, checked before the run is opened, so that a configuration error exits 2 and leaves
 * no failed run in the history: each platform source asked for (or configured) has its URL, key and secret,
 * and its datasets or interfaces name catalog resources; the working-day override file the quality metrics
 * count with (`<catalog>/workdays.override.json`) is readable.
 */
export function checkRunSettings(
  config: Readonly<Config>,
  catalog: Catalog,
  logger: Logger,
  sources: readonly string[] | undefined,
): void {
  const platforms = sources?.length
    ? sources.filter((s) => s === CREDIT_SOURCE || s === SHARING_SOURCE)
    : [...(config.creditUrl ? [CREDIT_SOURCE] : []), ...(config.sharingUrl ? [SHARING_SOURCE] : [])];
  qualityCalendar(config.catalogDir);
  for (const source of platforms) {
    const adapter = source === CREDIT_SOURCE ? creditAdapter(config, logger) : sharingAdapter(config, logger);
    const missing = adapter.streams.filter((s) => !catalog.resources.has(s.resource)).map((s) => s.resource);
    if (missing.length) {
      const setting = source === CREDIT_SOURCE ? 'GUIJI_CREDIT_DATASETS' : 'GUIJI_SHARING_INTERFACES';
      throw new GuijiError('GUIJI_ERR_CONFIG', `${setting}: no catalog resource ${missing.join(', ')}`, {
        context: { setting },
      });
    }
  }
}
