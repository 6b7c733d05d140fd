import type { Catalog, Resource } from '../../catalog/load.js';
import type { SqlTx, Warehouse } from '../../lib/db.js';
import { GuijiError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { CellValue, Provenance } from '../../lib/types.js';
import type { Ajv } from '../../schemas/ajv.js';
import { Batch, BatchQueue } from '../load/loader.js';
import type { PlatformAdapter } from '../sources/platform.js';
import { compileRowValidator } from '../validate/row-validator.js';

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
 * Loads one frozen half-open window `[from, to)` of one platform stream, as the nightly run loads its window,
 * but without reading or moving the nightly cursor (`source_state`): each batch commits with `fence` instead,
 * which records how far the window got. `resumeFrom` (the largest update time of the batches committed before a
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
      `backfill partition of ${stream}: no catalog resource ${resourceId}`,
    );
  }
  const source = adapter.source;
  const from = window.resumeFrom && window.resumeFrom > window.from ? window.resumeFrom : window.from;
  const log = ctx.logger.child({ stream, from, to: window.to });
  const fields = resource.current.fields;
  const validate = compileRowValidator(ctx.ajv, ctx.catalog, resource, resource.current, fields);
  const queue = new BatchQueue(ctx.db, ctx.runId, ctx.catalog.resources);
  let batch = new Batch(source, ctx.catalog.resources);
  let keys = new Set<string>();
  let maxSjc = '';
  let read = 0;
  const flush = async (last: boolean) => {
    ctx.signal.throwIfAborted();
    const current = batch;
    const rows = current.size;
    const resumeFrom = maxSjc || null;
    current.finalize = (tx) => fence(tx, { rows, resumeFrom, last });
    batch = new Batch(source, ctx.catalog.resources);
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
          const provenance: Provenance = { source, file: stream, recordId: id };
          const result = validate(fields.map((f) => toCell(row[f.code])));
          if (!result.ok) {
            batch.quarantined.push({
              rowRef: `${source}:${stream}:${id}:${sjc}`,
              resource: resourceId,
              provenance,
              raw: row,
              issues: result.issues,
            });
          } else {
            // the same record twice in one batch goes to the next one, as in the nightly load
            if (keys.has(result.value.naturalKey)) await flush(false);
            keys.add(result.value.naturalKey);
            batch.addRecord(result.value, JSON.stringify({ ...provenance, sjc }));
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

function toCell(value: unknown): CellValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return JSON.stringify(value);
}
