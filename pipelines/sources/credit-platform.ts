import type { Catalog } from '../../catalog/load.js';
import { CREDIT_SOURCE, createCreditClient } from '../../connectors/credit-platform/client.js';
import { formatChinaTime, parseChinaTime } from '../../connectors/http/china-time.js';
import type { Config } from '../../lib/config.js';
import type { SqlTx, Warehouse } from '../../lib/db.js';
import { ConfigError, GuijiError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { CellValue, Provenance } from '../../lib/types.js';
import type { Ajv } from '../../schemas/ajv.js';
import { Batch, loadBatch } from '../load/loader.js';
import { compileRowValidator } from '../validate/row-validator.js';

export { CREDIT_SOURCE };

/** Where a first pull starts: the day the publicity regulation came into force. */
export const FIRST_CURSOR = '2014-10-01 00:00:00';

export interface PlatformContext {
  db: Warehouse;
  ajv: Ajv;
  catalog: Catalog;
  logger: Logger;
  runId: number;
  batchSize: number;
  config: Readonly<Config>;
  /** The clock (tests). */
  now?: () => number;
}

/**
 * The credit-platform source: for each dataset, pulls the frozen window `[cursor − overlap, now − lag)`,
 * validates each row as the catalog resource of the same id, and loads it in batches; each batch commits its
 * rows with the dataset's cursor (the largest update time it holds), and the window's end becomes the cursor
 * when the window is done. Records updated while paging, and late ones, fall in the next window (the overlap),
 * and the load turns repeats into "unchanged".
 */
export async function runCreditPlatform(ctx: PlatformContext): Promise<void> {
  const { config } = ctx;
  if (!config.creditUrl) throw new ConfigError('GUIJI_CREDIT_URL', 'not set');
  if (!config.creditAppKey) throw new ConfigError('GUIJI_CREDIT_APP_KEY', 'not set');
  if (!config.creditAppSecret) throw new ConfigError('GUIJI_CREDIT_APP_SECRET', 'not set');
  const client = createCreditClient({
    baseUrl: config.creditUrl,
    appKey: config.creditAppKey,
    appSecret: config.creditAppSecret,
    timeoutMs: config.creditTimeoutMs,
    onRetry: (event) => ctx.logger.warn({ retry: event }, 'platform request retried'),
  });
  const now = ctx.now ?? Date.now;
  const datasets = config.creditDatasets.split(',');
  const missing = datasets.filter((d) => !ctx.catalog.resources.has(d));
  if (missing.length) {
    throw new GuijiError(
      'GUIJI_ERR_CONFIG',
      `GUIJI_CREDIT_DATASETS: no catalog resource for ${missing.join(', ')}`,
      {
        context: { setting: 'GUIJI_CREDIT_DATASETS' },
      },
    );
  }
  for (const dataset of datasets) {
    const resource = ctx.catalog.resources.get(dataset)!;
    const [state] = await ctx.db.query<{ cursor: string | null }>(
      'SELECT cursor FROM source_state WHERE source = $1 AND stream = $2',
      [CREDIT_SOURCE, dataset],
    );
    const cursor = state?.cursor ?? FIRST_CURSOR;
    const from = formatChinaTime(parseChinaTime(cursor) - config.creditOverlapSeconds * 1000);
    const to = formatChinaTime(now() - config.creditLagSeconds * 1000);
    const log = ctx.logger.child({ dataset, from, to });
    if (from >= to) {
      log.info('window empty: nothing to pull yet');
      continue;
    }
    const fields = resource.current.fields;
    const validate = compileRowValidator(ctx.ajv, ctx.catalog, resource, resource.current, fields);
    let batch = new Batch(CREDIT_SOURCE, ctx.catalog.resources);
    let keys = new Set<string>();
    let maxSjc = '';
    const flush = async (finalCursor?: string) => {
      const current = batch;
      const moveTo = finalCursor ?? maxSjc;
      current.finalize = async (tx: SqlTx) => {
        if (!moveTo) return;
        await tx.query(
          `INSERT INTO source_state (source, stream, cursor, run_id) VALUES ($1, $2, $3, $4)
           ON CONFLICT (source, stream) DO UPDATE SET cursor = greatest(source_state.cursor, EXCLUDED.cursor),
             run_id = EXCLUDED.run_id, updated_at = now()`,
          [CREDIT_SOURCE, dataset, moveTo, ctx.runId],
        );
      };
      batch = new Batch(CREDIT_SOURCE, ctx.catalog.resources);
      keys = new Set();
      const counts = await loadBatch(ctx.db, ctx.runId, current, ctx.catalog.resources);
      log.debug({ ...counts, cursor: moveTo }, 'batch committed');
    };
    let read = 0;
    for await (const page of client.pull(dataset, from, to)) {
      for (const row of page.rows) {
        read++;
        const id = String(row.ID ?? '');
        const sjc = typeof row.SJC === 'string' ? row.SJC : '';
        const cells: CellValue[] = fields.map((f) => toCell(row[f.code]));
        const provenance: Provenance = { source: CREDIT_SOURCE, file: dataset, recordId: id };
        const result = validate(cells);
        if (!result.ok) {
          batch.quarantined.push({
            rowRef: `${CREDIT_SOURCE}:${dataset}:${id}:${sjc}`,
            resource: dataset,
            provenance,
            raw: row,
            issues: result.issues,
          });
        } else {
          // the same record twice in one batch (a retried page, an update while paging): the later, newer one
          // goes into the next batch, where it updates or is unchanged
          if (keys.has(result.value.naturalKey)) await flush();
          keys.add(result.value.naturalKey);
          batch.addRecord(result.value, JSON.stringify({ ...provenance, sjc }));
        }
        if (sjc > maxSjc) maxSjc = sjc;
        if (batch.size >= ctx.batchSize) await flush();
      }
    }
    await flush(to);
    log.info({ read }, 'dataset pulled');
    await ctx.db.query(`UPDATE source_runs SET cursor_after = $3 WHERE run_id = $1 AND source = $2`, [
      ctx.runId,
      CREDIT_SOURCE,
      `${dataset}=${to}`,
    ]);
  }
}

function toCell(value: unknown): CellValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return JSON.stringify(value);
}
