/** Runs with their ledger, a run's files, and the rejected rows by file: what the 运行 and 退回 pages show. */
import type { Warehouse } from '../../lib/db.js';
import { shanghaiIso, shanghaiIsoOrNull } from '../../lib/time.js';
import type { Issue } from '../../lib/types.js';
import { getRun, type RunSummary, summarizeRuns } from '../run.js';

export interface RunLine extends RunSummary {
  kind: string;
}

export interface RunFilter {
  kind?: string | undefined;
  source?: string | undefined;
  status?: readonly string[] | undefined;
  limit: number;
}

/** Runs newest first, of one kind, touching one source, in some statuses (each filter optional). */
export async function listRuns(db: Warehouse, filter: RunFilter): Promise<RunLine[]> {
  const rows = await db.query<{
    id: string;
    kind: string;
    status: string;
    started_at: Date;
    finished_at: Date | null;
  }>(
    `SELECT id, kind, status, started_at, finished_at FROM runs r
     WHERE ($1::text IS NULL OR r.kind = $1)
       AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM source_runs s WHERE s.run_id = r.id AND s.source = $2))
       AND ($3::text[] IS NULL OR r.status = ANY($3::text[]))
     ORDER BY r.id DESC LIMIT $4`,
    [filter.kind ?? null, filter.source ?? null, filter.status ?? null, filter.limit],
  );
  const kinds = new Map(rows.map((r) => [Number(r.id), r.kind]));
  const summaries = await summarizeRuns(db, rows);
  return summaries.map((s) => ({ ...s, kind: kinds.get(s.runId) ?? 'run' }));
}

export interface FileLine {
  sha256: string;
  name: string;
  status: 'loaded' | 'rejected';
  resources: string[];
  rowsRead: number;
  rowsQuarantined: number;
  /** Why the whole file was refused: the engineer's words, then the department's after ` / `. */
  error: string | null;
  /** The department's words alone (Chinese). */
  reason: string | null;
  finishedAt: string;
}

export interface RunDetail {
  run: RunLine;
  files: FileLine[];
}

/** A run with its sources' ledger and the files it read; null when there is no such run. */
export async function runDetail(db: Warehouse, id: number): Promise<RunDetail | null> {
  const summary = await getRun(db, id);
  if (!summary) return null;
  const [kind] = await db.query<{ kind: string }>('SELECT kind FROM runs WHERE id = $1', [id]);
  const files = await db.query<{
    sha256: string;
    name: string;
    status: 'loaded' | 'rejected';
    resources: string[];
    rows_read: string;
    rows_quarantined: string;
    error: string | null;
    finished_at: Date;
  }>(
    `SELECT sha256, name, status, resources, rows_read, rows_quarantined, error, finished_at
     FROM drop_files WHERE run_id = $1 ORDER BY name`,
    [id],
  );
  return {
    run: { ...summary, kind: kind?.kind ?? 'run' },
    files: files.map((f) => ({
      sha256: f.sha256,
      name: f.name,
      status: f.status,
      resources: f.resources,
      rowsRead: Number(f.rows_read),
      rowsQuarantined: Number(f.rows_quarantined),
      error: f.error,
      reason: f.error === null ? null : (f.error.split(' / ').at(-1) ?? f.error),
      finishedAt: shanghaiIso(f.finished_at),
    })),
  };
}

export interface RejectedRow {
  sheet: string | null;
  row: number | null;
  resource: string | null;
  issues: Issue[];
}

export interface RejectedFile {
  file: string;
  sha256: string | null;
  runId: number;
  rows: number;
  /** The first rows, in file order, each with every reason. */
  sample: RejectedRow[];
}

/** The files with rejected rows, newest run first, each with its first `perFile` rows and every reason. */
export async function rejectedByFile(
  db: Warehouse,
  options: { runId?: number | undefined; limit: number; perFile: number },
): Promise<RejectedFile[]> {
  const files = await db.query<{ file: string | null; sha256: string | null; run_id: string; rows: string }>(
    `SELECT file, sha256, max(run_id) AS run_id, count(*) AS rows FROM quarantine
     WHERE ($1::bigint IS NULL OR run_id = $1)
     GROUP BY file, sha256 ORDER BY max(run_id) DESC, file LIMIT $2`,
    [options.runId ?? null, options.limit],
  );
  const out: RejectedFile[] = [];
  for (const f of files) {
    const rows = await db.query<{
      sheet: string | null;
      row_number: number | null;
      resource: string | null;
      issues: Issue[];
    }>(
      `SELECT sheet, row_number, resource, issues FROM quarantine
       WHERE file IS NOT DISTINCT FROM $1 AND sha256 IS NOT DISTINCT FROM $2
       ORDER BY coalesce(sheet, ''), coalesce(row_number, 0) LIMIT $3`,
      [f.file, f.sha256, options.perFile],
    );
    out.push({
      file: f.file ?? '',
      sha256: f.sha256,
      runId: Number(f.run_id),
      rows: Number(f.rows),
      sample: rows.map((r) => ({
        sheet: r.sheet,
        row: r.row_number,
        resource: r.resource,
        issues: r.issues,
      })),
    });
  }
  return out;
}

/** Times of a run line as the pages print them. */
export const runTime = shanghaiIsoOrNull;
