/** The departments the 首页 names: late in the last 30 days, and silent (nothing delivered in them). */
import type { Catalog } from '../../catalog/load.js';
import type { Warehouse } from '../../lib/db.js';
import { WATCH_LATE_RATE } from '../report/data.js';

export interface DepartmentAttention {
  late: { department: string; name: string; late: number; measured: number }[];
  /** Catalog departments with no row read in the last 30 days. */
  silent: { department: string; name: string }[];
}

const WINDOW_DAYS = 30;

/** From the quality metrics of the runs started in the last 30 days (the report's figures, per department). */
export async function departmentAttention(db: Warehouse, catalog: Catalog): Promise<DepartmentAttention> {
  const rows = await db.query<{ department: string; read: string; late: string; measured: string }>(
    `SELECT m.department,
            coalesce(sum(m.value) FILTER (WHERE m.dimension = 'volume' AND m.measure = 'read'), 0) AS read,
            coalesce(sum(m.value) FILTER (WHERE m.dimension = 'timeliness' AND m.measure = 'collect_late'), 0) AS late,
            coalesce(sum(m.base) FILTER (WHERE m.dimension = 'timeliness' AND m.measure = 'collect_late'), 0) AS measured
     FROM quality_metrics m JOIN quality_runs q ON q.run_id = m.run_id
     WHERE q.run_started_at >= now() - make_interval(days => $1)
     GROUP BY m.department`,
    [WINDOW_DAYS],
  );
  const nameOf = (code: string) => catalog.departments.find((d) => d.code === code)?.name ?? code;
  const delivered = new Set(rows.filter((r) => Number(r.read) > 0).map((r) => r.department));
  return {
    late: rows
      .filter((r) => Number(r.measured) > 0 && Number(r.late) / Number(r.measured) > WATCH_LATE_RATE)
      .map((r) => ({
        department: r.department,
        name: nameOf(r.department),
        late: Number(r.late),
        measured: Number(r.measured),
      })),
    silent: catalog.departments
      .filter((d) => !delivered.has(d.code))
      .map((d) => ({ department: d.code, name: d.name })),
  };
}
