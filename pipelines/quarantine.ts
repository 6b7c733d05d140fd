import type { Warehouse } from '../lib/db.js';
import { shanghaiIso } from '../lib/time.js';
import type { Issue } from '../lib/types.js';

/** The quarantine record contract (`guiji quarantine list --json`, version 1). */
export interface QuarantineRecord {
  id: number;
  source: string;
  resource: string | null;
  file: string | null;
  sheet: string | null;
  row: number | null;
  recordId: string | null;
  issues: Issue[];
  raw: Record<string, unknown>;
  runId: number;
  createdAt: string;
}

export interface QuarantineFilter {
  runId?: number;
  file?: string;
  limit: number;
}

export async function listQuarantine(db: Warehouse, filter: QuarantineFilter): Promise<QuarantineRecord[]> {
  const rows = await db.query<{
    id: string;
    source: string;
    resource: string | null;
    file: string | null;
    sheet: string | null;
    row_number: number | null;
    record_id: string | null;
    issues: Issue[];
    raw: Record<string, unknown>;
    run_id: string;
    created_at: Date | string;
  }>(
    `SELECT id, source, resource, file, sheet, row_number, record_id, issues, raw, run_id, created_at
     FROM quarantine
     WHERE ($1::bigint IS NULL OR run_id = $1) AND ($2::text IS NULL OR file = $2)
     ORDER BY run_id DESC, file, sheet NULLS FIRST, row_number
     LIMIT $3`,
    [filter.runId ?? null, filter.file ?? null, filter.limit],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    source: r.source,
    resource: r.resource,
    file: r.file,
    sheet: r.sheet,
    row: r.row_number,
    recordId: r.record_id,
    issues: r.issues,
    raw: r.raw,
    runId: Number(r.run_id),
    createdAt: shanghaiIso(r.created_at),
  }));
}

export function printQuarantine(rows: QuarantineRecord[]): void {
  if (!rows.length) {
    console.log('quarantine is empty');
    return;
  }
  for (const r of rows) {
    const where = [r.file, r.sheet, r.row !== null ? `row ${r.row}` : null, r.recordId]
      .filter(Boolean)
      .join(' / ');
    console.log(`#${r.id}  run ${r.runId}  ${r.resource ?? '?'}  ${where}`);
    for (const issue of r.issues) {
      console.log(`    ${issue.type.padEnd(22)} ${(issue.field ?? '-').padEnd(14)} ${issue.messageZh}`);
    }
  }
}
