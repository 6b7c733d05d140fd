/** The monthly briefing of the 质量 page: the report of every finished run started in a China month. */
import type { Catalog } from '../../catalog/load.js';
import type { Warehouse } from '../../lib/db.js';
import { gatherReport, type QualityReport } from '../report/data.js';

export const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/** The month after `YYYY-MM`, as its first day. */
function nextMonthStart(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01`;
}

/** The report of `month` (YYYY-MM), or null when no run finished in it. */
export async function monthReport(
  db: Warehouse,
  catalog: Catalog,
  month: string,
  catalogDir: string,
): Promise<QualityReport | null> {
  const since = `${month}-01`;
  const [last] = await db.query<{ id: string }>(
    `SELECT id FROM runs
     WHERE status <> 'running'
       AND (started_at AT TIME ZONE 'Asia/Shanghai')::date >= $1::date
       AND (started_at AT TIME ZONE 'Asia/Shanghai')::date < $2::date
     ORDER BY id DESC LIMIT 1`,
    [since, nextMonthStart(month)],
  );
  if (!last) return null;
  return gatherReport(db, catalog, {
    run: Number(last.id),
    since,
    catalogDir,
    overdueCap: 50,
    sampleCap: 30,
  });
}
