import type { Catalog, FieldDef, Resource } from '../../catalog/load.js';
import { CREDIT_SOURCE, createCreditClient } from '../../connectors/credit-platform/client.js';
import { formatChinaTime, isChinaTime, parseChinaTime } from '../../connectors/http/china-time.js';
import type { RetryEvent } from '../../connectors/http/fetch-json.js';
import { createSharingClient, SHARING_SOURCE } from '../../connectors/sharing-platform/client.js';
import type { Config } from '../../lib/config.js';
import type { SqlTx, Warehouse } from '../../lib/db.js';
import { ConfigError, GuijiError, messageOf } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { CellValue } from '../../lib/types.js';
import type { Ajv } from '../../schemas/ajv.js';
import { Batch, BatchQueue, type Origin } from '../load/loader.js';
import { compileRowValidator } from '../validate/row-validator.js';

export { CREDIT_SOURCE, SHARING_SOURCE };

/** What the load needs of a platform: its streams (datasets, interfaces) and a pull of a window of one. */
export interface PlatformAdapter {
  source: string;
  /** Stream id → the catalog resource its rows are. */
  streams: { stream: string; resource: string }[];
  lagSeconds: number;
  overlapSeconds: number;
  pull(stream: string, from: string, to: string): AsyncIterable<{ rows: Record<string, unknown>[] }>;
}

/** The client settings of a configured platform (`GUIJI_CREDIT_*`, `GUIJI_SHARING_*`); none of them missing. */
function clientSettings(
  prefix: 'GUIJI_CREDIT' | 'GUIJI_SHARING',
  given: {
    url: string | null;
    appKey: string | null;
    appSecret: string | null;
    timeoutMs: number;
    pageSize: number;
    requestsPerSecond: number;
  },
  logger: Logger,
) {
  const { url, appKey, appSecret, ...limits } = given;
  if (!url) throw new ConfigError(`${prefix}_URL`, 'not set');
  if (!appKey) throw new ConfigError(`${prefix}_APP_KEY`, 'not set');
  if (!appSecret) throw new ConfigError(`${prefix}_APP_SECRET`, 'not set');
  return {
    baseUrl: url,
    appKey,
    appSecret,
    ...limits,
    onRetry: (event: RetryEvent) => logger.warn({ retry: event }, 'platform request retried'),
  };
}

/** The credit platform as configured (GUIJI_CREDIT_*): datasets named as the catalog's resources. */
export function creditAdapter(config: Readonly<Config>, logger: Logger): PlatformAdapter {
  const client = createCreditClient(
    clientSettings(
      'GUIJI_CREDIT',
      {
        url: config.creditUrl,
        appKey: config.creditAppKey,
        appSecret: config.creditAppSecret,
        timeoutMs: config.creditTimeoutMs,
        pageSize: config.creditPageSize,
        requestsPerSecond: config.creditRequestsPerSecond,
      },
      logger,
    ),
  );
  return {
    source: CREDIT_SOURCE,
    streams: config.creditDatasets.split(',').map((d) => ({ stream: d, resource: d })),
    lagSeconds: config.creditLagSeconds,
    overlapSeconds: config.creditOverlapSeconds,
    pull: (stream, from, to) => client.pull(stream, from, to),
  };
}

/** The data-sharing platform as configured (GUIJI_SHARING_*): interfaces as `id` or `id=resource` (default xzxk). */
export function sharingAdapter(config: Readonly<Config>, logger: Logger): PlatformAdapter {
  const client = createSharingClient(
    clientSettings(
      'GUIJI_SHARING',
      {
        url: config.sharingUrl,
        appKey: config.sharingAppKey,
        appSecret: config.sharingAppSecret,
        timeoutMs: config.sharingTimeoutMs,
        pageSize: config.sharingPageSize,
        requestsPerSecond: config.sharingRequestsPerSecond,
      },
      logger,
    ),
  );
  return {
    source: SHARING_SOURCE,
    streams: config.sharingInterfaces.split(',').map((item) => {
      const [stream, resource] = item.split('=');
      return { stream: stream as string, resource: resource ?? 'xzxk' };
    }),
    lagSeconds: config.sharingLagSeconds,
    overlapSeconds: config.sharingOverlapSeconds,
    pull: (stream, from, to) => client.pull(stream, from, to),
  };
}

/** Where a first pull starts: the day the publicity regulation came into force. */
export const FIRST_CURSOR = '2014-10-01 00:00:00';

export interface PlatformContext extends Omit<WindowLoadContext, 'signal'> {
  /** The clock (tests). */
  now?: () => number;
  /** Stops the source between pages (SIGTERM): it throws `signal.reason` once the batch in flight commits. */
  signal?: AbortSignal;
}

/**
 * A platform source: for each stream (dataset, interface), pulls the frozen window `[cursor − overlap, now − lag)`,
 * validates each row as the catalog resource of the same id, and loads it in batches; each batch commits its
 * rows with the dataset's cursor (the largest update time it holds), and the window's end becomes the cursor
 * when the window is done. Records updated while paging, and late ones, fall in the next window (the overlap),
 * and the load turns repeats into "unchanged". A stream whose window fails (its pages do not add up to its
 * total, the platform is down) gets its cursor back as this run found it and the other streams still load;
 * the source then fails naming each such stream, its window and counts. A refused signature fails it at once.
 */
export async function runPlatform(ctx: PlatformContext, adapter: PlatformAdapter): Promise<void> {
  const SOURCE = adapter.source;
  const now = ctx.now ?? Date.now;
  const missing = adapter.streams
    .filter((s) => !ctx.catalog.resources.has(s.resource))
    .map((s) => s.resource);
  if (missing.length) {
    const setting = SOURCE === CREDIT_SOURCE ? 'GUIJI_CREDIT_DATASETS' : 'GUIJI_SHARING_INTERFACES';
    throw new GuijiError('GUIJI_ERR_CONFIG', `${setting}: no catalog resource ${missing.join(', ')}`, {
      context: { setting },
    });
  }
  const signal = ctx.signal ?? new AbortController().signal;
  const failed: string[] = [];
  const loaded: string[] = [];
  for (const { stream: dataset, resource: resourceId } of adapter.streams) {
    signal.throwIfAborted();
    const [state] = await ctx.db.query<{ cursor: string | null; run_id: string | null }>(
      'SELECT cursor, run_id FROM source_state WHERE source = $1 AND stream = $2',
      [SOURCE, dataset],
    );
    const cursor = state?.cursor ?? FIRST_CURSOR;
    const from = formatChinaTime(parseChinaTime(cursor) - adapter.overlapSeconds * 1000);
    const to = formatChinaTime(now() - adapter.lagSeconds * 1000);
    const log = ctx.logger.child({ dataset, from, to });
    if (from >= to) {
      log.info('window empty: nothing to pull yet');
      loaded.push(dataset);
      continue;
    }
    // each batch moves the cursor to the largest update time it holds; the last one to the window's end
    const moveCursor: WindowFence = async (tx, { resumeFrom, last }) => {
      const moveTo = last ? to : resumeFrom;
      if (!moveTo) return;
      await tx.query(
        `INSERT INTO source_state (source, stream, cursor, run_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (source, stream) DO UPDATE SET cursor = greatest(source_state.cursor, EXCLUDED.cursor),
           run_id = EXCLUDED.run_id, updated_at = now()`,
        [SOURCE, dataset, moveTo, ctx.runId],
      );
    };
    try {
      const { read } = await loadPlatformWindow(
        { ...ctx, signal },
        adapter,
        dataset,
        resourceId,
        { from, to, resumeFrom: null },
        moveCursor,
      );
      log.info({ read }, 'dataset pulled');
    } catch (error) {
      // stopped (SIGTERM): what the batches committed stays and the next run goes on from there
      if (signal.aborted) throw error;
      // A window that failed keeps the cursor where it was before this run, whatever its batches committed:
      // the next run asks for the whole window again (the rows loaded meanwhile come back "unchanged").
      const kept = await keepCursor(ctx.db, SOURCE, dataset, state ?? null).then(
        (cursorNow) => (cursorNow === null ? 'unset (never pulled)' : `at ${cursorNow}`),
        (restoreError: unknown) => {
          log.error({ err: messageOf(restoreError) }, 'the cursor could not be put back');
          return 'where its last batch left it';
        },
      );
      log.error(
        { err: messageOf(error) },
        `dataset ${dataset} failed: window [${from}, ${to}) not finished; its cursor stays ${kept}, ` +
          'and the next run asks for the window again',
      );
      // the same answer awaits every dataset (a refused signature): fail the source now
      if (error instanceof GuijiError && error.code === 'GUIJI_ERR_CONFIG') throw error;
      failed.push(`${messageOf(error)}; its cursor stays ${kept}`);
      continue;
    }
    loaded.push(dataset);
    await ctx.db.query(`UPDATE source_runs SET cursor_after = $3 WHERE run_id = $1 AND source = $2`, [
      ctx.runId,
      SOURCE,
      `${dataset}=${to}`,
    ]);
  }
  if (failed.length) {
    throw new GuijiError(
      'GUIJI_ERR_SOURCE_HTTP',
      `${failed.length} of ${adapter.streams.length} streams of ${SOURCE} not finished, the next run asks ` +
        `for them again: ${failed.join('; ')}` +
        (loaded.length ? `; finished: ${loaded.join(', ')}` : ''),
      { context: { source: SOURCE } },
    );
  }
}

/** Puts a stream's cursor back as this run found it (`before`; null: never pulled) and returns that cursor. */
async function keepCursor(
  db: Warehouse,
  source: string,
  stream: string,
  before: { cursor: string | null; run_id: string | null } | null,
): Promise<string | null> {
  if (before === null) {
    await db.query('DELETE FROM source_state WHERE source = $1 AND stream = $2', [source, stream]);
    return null;
  }
  await db.query(
    'UPDATE source_state SET cursor = $3, run_id = $4, updated_at = now() WHERE source = $1 AND stream = $2',
    [source, stream, before.cursor, before.run_id],
  );
  return before.cursor;
}

export interface WindowLoadContext {
  db: Warehouse;
  ajv: Ajv;
  catalog: Catalog;
  logger: Logger;
  runId: number;
  batchSize: number;
  /** Aborted when the process stops or the lease is lost: no further batch is started. */
  signal: AbortSignal;
}

/** What commits with each batch of a window: the partition's progress, and on the last batch its end. */
export type WindowFence = (
  tx: SqlTx,
  progress: { rows: number; resumeFrom: string | null; last: boolean },
) => Promise<void>;

/**
 * Loads one frozen half-open window `[from, to)` of one platform stream: validates each row as the resource,
 * loads the rows in batches (one in flight while the next pages are fetched), and commits `fence` with each
 * batch — the nightly run moves its cursor there, a backfill partition records how far the window got and
 * never touches the nightly cursor. `resumeFrom` (the largest update time of the batches committed before a
 * crash) restarts the window there: the rows at that very time are read again and counted unchanged.
 */
export async function loadPlatformWindow(
  ctx: WindowLoadContext,
  adapter: PlatformAdapter,
  stream: string,
  resourceId: string,
  window: { from: string; to: string; resumeFrom: string | null },
  fence: WindowFence,
  onBatch: (rows: number) => void = () => {},
): Promise<{ read: number }> {
  const resource = ctx.catalog.resources.get(resourceId) as Resource | undefined;
  if (!resource) {
    throw new GuijiError(
      'GUIJI_ERR_CONFIG',
      `${adapter.source} stream ${stream}: no catalog resource ${resourceId}`,
    );
  }
  const source = adapter.source;
  const from = window.resumeFrom && window.resumeFrom > window.from ? window.resumeFrom : window.from;
  const log = ctx.logger.child({ stream, from, to: window.to });
  const fields = resource.current.fields;
  const validate = compileRowValidator(ctx.ajv, ctx.catalog, resource, resource.current, fields);
  const queue = new BatchQueue(ctx.db, ctx.runId);
  const origin: Origin = { kind: 'stream', key: stream, name: stream };
  let batch = new Batch(source, ctx.catalog, origin);
  let keys = new Set<string>();
  let maxSjc = '';
  let read = 0;
  const flush = async (last: boolean) => {
    ctx.signal.throwIfAborted();
    const current = batch;
    const rows = current.size;
    const resumeFrom = maxSjc || null;
    current.finalize = (tx) => fence(tx, { rows, resumeFrom, last });
    batch = new Batch(source, ctx.catalog, origin);
    keys = new Set();
    await queue.submit(current, (counts) => {
      onBatch(counts.read);
      // the last batch is told apart: a partition is done with it
      log.debug({ ...counts, resumeFrom }, last ? 'last batch committed' : 'batch committed');
    });
  };
  try {
    if (from < window.to) {
      for await (const page of adapter.pull(stream, from, window.to)) {
        ctx.signal.throwIfAborted();
        for (const row of page.rows) {
          read++;
          const id = String(row.ID ?? '');
          const sjc = typeof row.SJC === 'string' ? row.SJC : '';
          const cells: CellValue[] = new Array(fields.length);
          for (let i = 0; i < fields.length; i++) cells[i] = toCell(row[(fields[i] as FieldDef).code]);
          const result = validate(cells);
          if (!result.ok) {
            batch.quarantined.push({
              rowRef: `${source}:${stream}:${id}:${sjc}`,
              resource: resourceId,
              provenance: { source, file: stream, recordId: id },
              raw: row,
              issues: result.issues,
            });
          } else {
            // the same record twice in one batch goes to the next one, as in the nightly load
            if (keys.has(result.value.naturalKey)) await flush(false);
            keys.add(result.value.naturalKey);
            batch.addRecord(result.value, { recordId: id, deliveredAt: deliveredAtOf(row) });
          }
          if (sjc > maxSjc) maxSjc = sjc;
          if (batch.size >= ctx.batchSize) await flush(false);
        }
      }
    }
    await flush(true);
  } catch (error) {
    // the batch in flight finishes (or fails) before the partition is reported
    await queue.settle().catch(() => {
      // the first error is the one reported
    });
    throw error;
  }
  await queue.settle();
  log.debug({ read }, 'window loaded');
  return { read };
}

/**
 * A platform time as it comes: `YYYY-MM-DD HH:mm:ss` China time (a `T` or a fraction of a second, as some
 * databases print a timestamp, are let go), or epoch milliseconds (number or digits).
 */
function platformTime(value: unknown): string | null {
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(value)) {
    const text = `${value.slice(0, 10)} ${value.slice(11, 19)}`;
    return isChinaTime(text) ? text : null;
  }
  const ms =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d{12,13}$/.test(value)
        ? Number(value)
        : NaN;
  return Number.isFinite(ms) && ms > 0 ? formatChinaTime(ms) : null;
}

/**
 * When the platform received the record — the end of its timeliness clock (China time): its update time `SJC`
 * (the standard's, what the credit platform and the sharing gateway send), else its creation time on the platform
 * `CREATE_DATE` (a credit platform's own column, epoch ms in the published answers); null when it gives neither,
 * and the record is then measured to the time guiji loaded it.
 */
export function deliveredAtOf(row: Record<string, unknown>): string | null {
  return platformTime(row.SJC) ?? platformTime(row.CREATE_DATE);
}

function toCell(value: unknown): CellValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return JSON.stringify(value);
}
