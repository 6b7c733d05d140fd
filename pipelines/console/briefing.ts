/** The monthly briefing of the 质量 page: the report of the month's runs, as `guiji report --month` makes it. */
import type { Catalog } from '../../catalog/load.js';
import type { Warehouse } from '../../lib/db.js';
import { gatherReport, type QualityReport } from '../report/data.js';
import { BACKFILL, chinaMidnight, nextMonthStart } from '../report/scope.js';

export const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/**
 * The report of `month` (YYYY-MM): every finished run but the history backfill's started in that China month,
 * backfill shown apart (the report's own scope rules); null when there is no such run.
 */
export async function monthReport(
  db: Warehouse,
  catalog: Catalog,
  month: string,
  catalogDir: string,
): Promise<QualityReport | null> {
  const [any] = await db.query<{ id: string }>(
    `SELECT id FROM runs
     WHERE status <> 'running' AND kind <> $1 AND started_at >= $2::timestamptz AND started_at < $3::timestamptz
     LIMIT 1`,
    [BACKFILL, chinaMidnight(`${month}-01`), chinaMidnight(nextMonthStart(month))],
  );
  if (!any) return null;
  return gatherReport(db, catalog, { month, catalogDir, overdueCap: 50, sampleCap: 30 });
}
