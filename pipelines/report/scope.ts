/**
 * Which runs a report adds up: one run; every run since a date up to a run (`--since`); every run of a China
 * calendar month (`--month`) or of a range of China days (`--since` with `--until`). A period's figures are
 * those of the nightly and manual runs (every kind but `backfill`): backfill partitions load history, and are
 * counted apart ({@link BACKFILL}) so that nothing is hidden.
 */
import { dateOfDayNumber, dayNumberOf } from '../../lib/calendar.js';
import type { Warehouse } from '../../lib/db.js';
import { GuijiError, UsageError } from '../../lib/errors.js';
import { shanghaiIso } from '../../lib/time.js';

/** The run kind of history backfill partitions: outside a period's figures. */
export const BACKFILL = 'backfill';

/** How the report's runs were asked for. */
export interface ReportPeriod {
  /** `YYYY-MM`: every run started in that Asia/Shanghai calendar month. */
  month: string | null;
  /** `YYYY-MM-DD`: every run started on or after that China date (up to `until`, else up to the run). */
  since: string | null;
  /** `YYYY-MM-DD`: with `since`, every run started up to the end of that China date. */
  until: string | null;
}

export interface ScopeRequest {
  run?: number | 'latest';
  since?: string;
  until?: string;
  month?: string;
}

const MONTH = /^(\d{4})-(\d{2})$/;

/** A real month written YYYY-MM. */
export function isMonth(text: string): boolean {
  const m = MONTH.exec(text);
  return m !== null && Number(m[2]) >= 1 && Number(m[2]) <= 12 && Number(m[1]) >= 2000;
}

function checkDate(value: string | undefined, flag: string): void {
  if (value !== undefined && dayNumberOf(value) === undefined)
    throw new UsageError(flag, `expected a real date written YYYY-MM-DD (e.g. 2026-11-01), got "${value}"`);
}

/** The period asked for, its options checked against each other: a conflict is a usage error (exit 2). */
export function periodOf(request: ScopeRequest): ReportPeriod {
  const runAsked = request.run !== undefined && request.run !== 'latest';
  checkDate(request.since, '--since');
  checkDate(request.until, '--until');
  if (request.month !== undefined) {
    if (!isMonth(request.month))
      throw new UsageError(
        '--month',
        `expected a month written YYYY-MM (e.g. 2026-11), got "${request.month}"`,
      );
    if (request.since !== undefined || request.until !== undefined)
      throw new UsageError('--month', 'give either --month or --since/--until, not both');
    if (runAsked) throw new UsageError('--month', 'a month covers its own runs: leave out --run');
    return { month: request.month, since: null, until: null };
  }
  if (request.until !== undefined) {
    if (request.since === undefined)
      throw new UsageError('--until', 'needs --since (the first day of the range), or use --month');
    if (runAsked) throw new UsageError('--until', 'a range covers its own runs: leave out --run');
    if (request.until < request.since)
      throw new UsageError('--until', `${request.until} is before --since ${request.since}`);
  }
  return { month: null, since: request.since ?? null, until: request.until ?? null };
}

/** The China day after `date`. */
export function nextDay(date: string): string {
  return dateOfDayNumber((dayNumberOf(date) as number) + 1);
}

/** `date` moved by `days` (negative: earlier). */
export function addDays(date: string, days: number): string {
  return dateOfDayNumber((dayNumberOf(date) as number) + days);
}

/** The first day of the month after `month` (`2026-12` → `2027-01-01`). */
export function nextMonthStart(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01`;
}

/** `month` moved by `months`. */
export function addMonths(month: string, months: number): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const n = y * 12 + (m - 1) + months;
  return `${Math.floor(n / 12)}-${String((n % 12) + 1).padStart(2, '0')}`;
}

/** Midnight of a China date, as an instant with its offset. */
export function chinaMidnight(date: string): string {
  return `${date}T00:00:00.000+08:00`;
}

/** The period's China days as a half-open window of instants [from, to); `to` null: open-ended. */
export function periodWindow(period: ReportPeriod): { from: string; to: string | null } | null {
  if (period.month !== null)
    return { from: chinaMidnight(`${period.month}-01`), to: chinaMidnight(nextMonthStart(period.month)) };
  if (period.since === null) return null;
  return {
    from: chinaMidnight(period.since),
    to: period.until === null ? null : chinaMidnight(nextDay(period.until)),
  };
}

export interface ScopedRuns {
  runId: number;
  runs: number[];
  from: string;
  to: string;
  kind: string;
  status: string;
}

interface RunRow {
  id: string;
  kind: string;
  status: string;
  started_at: Date | string;
  finished_at: Date | string | null;
}

/** The run a report is about: the latest finished run (of a period's kinds when `periodKinds`), or the one asked for. */
async function findRun(db: Warehouse, request: ScopeRequest, periodKinds: boolean): Promise<number> {
  const latest = request.run === undefined || request.run === 'latest';
  const rows = latest
    ? await db.query<{ id: string }>(
        `SELECT id FROM runs WHERE status <> 'running' AND (NOT $1 OR kind <> $2) ORDER BY id DESC LIMIT 1`,
        [periodKinds, BACKFILL],
      )
    : await db.query<{ id: string }>('SELECT id FROM runs WHERE id = $1', [request.run]);
  const last = rows[0];
  if (!last) {
    throw new GuijiError(
      'GUIJI_ERR_USAGE',
      latest
        ? 'there is no finished run to report on yet (run `guiji run` first)'
        : `there is no run ${request.run}`,
    );
  }
  return Number(last.id);
}

/** What to say when a period holds no run. */
function nothingIn(period: ReportPeriod): string {
  if (period.month !== null) return `no nightly or manual run in ${period.month} (Asia/Shanghai)`;
  if (period.until !== null) return `no nightly or manual run from ${period.since} to ${period.until}`;
  return `no run since ${period.since}`;
}

/**
 * The runs of the period (finished, every kind but backfill), oldest first; a single run alone. The scope
 * runs from the period's first day (or the run's start) to its last day's end (or the last run's end).
 */
export async function readScopedRuns(
  db: Warehouse,
  request: ScopeRequest,
  period: ReportPeriod,
): Promise<ScopedRuns> {
  const window = periodWindow(period);
  if (window === null) {
    const runId = await findRun(db, request, false);
    const rows = await db.query<RunRow>(
      'SELECT id, kind, status, started_at, finished_at FROM runs WHERE id = $1',
      [runId],
    );
    return scopedRuns(rows, null, null);
  }
  const upTo = period.month === null && period.until === null ? await findRun(db, request, true) : null;
  const rows = await db.query<RunRow>(
    `SELECT id, kind, status, started_at, finished_at FROM runs
     WHERE status <> 'running' AND kind <> $1
       AND started_at >= $2::timestamptz AND ($3::timestamptz IS NULL OR started_at < $3::timestamptz)
       AND ($4::bigint IS NULL OR id <= $4::bigint)
     ORDER BY id`,
    [BACKFILL, window.from, window.to, upTo],
  );
  if (!rows.length) throw new GuijiError('GUIJI_ERR_USAGE', nothingIn(period));
  return scopedRuns(rows, window.from, period.until !== null || period.month !== null ? window.to : null);
}

function scopedRuns(rows: RunRow[], from: string | null, to: string | null): ScopedRuns {
  const first = rows[0] as RunRow;
  const last = rows[rows.length - 1] as RunRow;
  return {
    runId: Number(last.id),
    runs: rows.map((r) => Number(r.id)),
    from: from ?? shanghaiIso(first.started_at),
    // a closed period ends at its last millisecond; else the last run's end (its start while it runs)
    to: to !== null ? shanghaiIso(Date.parse(to) - 1) : shanghaiIso(last.finished_at ?? last.started_at),
    kind: last.kind,
    status: last.status,
  };
}

/** The rows the backfill partitions of a window read and loaded, from their ledger (history, kept apart). */
export interface BackfillFigures {
  runs: number;
  read: number;
  loaded: number;
  quarantined: number;
  duplicates: number;
}

export function emptyBackfill(): BackfillFigures {
  return { runs: 0, read: 0, loaded: 0, quarantined: 0, duplicates: 0 };
}

/** The ledger sums of backfill runs over `runs r` joined to `source_runs s` (a fixed SQL text). */
export const BACKFILL_SQL = `
  count(DISTINCT r.id) AS runs, coalesce(sum(s.read), 0) AS read,
  coalesce(sum(s.inserted + s.updated), 0) AS loaded, coalesce(sum(s.quarantined), 0) AS quarantined,
  coalesce(sum(s.duplicates), 0) AS duplicates`;

export function backfillOfRow(row: Record<keyof BackfillFigures, string | number | null>): BackfillFigures {
  return {
    runs: Number(row.runs ?? 0),
    read: Number(row.read ?? 0),
    loaded: Number(row.loaded ?? 0),
    quarantined: Number(row.quarantined ?? 0),
    duplicates: Number(row.duplicates ?? 0),
  };
}

/** The backfill partitions started in the scope's window (none for a single run's report). */
export async function readScopeBackfill(
  db: Warehouse,
  scope: { from: string; to: string; runId: number },
  period: ReportPeriod,
): Promise<BackfillFigures> {
  if (periodWindow(period) === null) return emptyBackfill();
  const [row] = await db.query<Record<keyof BackfillFigures, string>>(
    `SELECT ${BACKFILL_SQL}
     FROM runs r LEFT JOIN source_runs s ON s.run_id = r.id
     WHERE r.kind = $1 AND r.started_at >= $2::timestamptz AND r.started_at <= $3::timestamptz`,
    [BACKFILL, scope.from, scope.to],
  );
  return row ? backfillOfRow(row) : emptyBackfill();
}

/** The base of the report's file names: the month, the range, or the run. */
export function reportBaseName(period: ReportPeriod, runId: number): string {
  if (period.month !== null) return `quality-month-${period.month}`;
  if (period.since !== null && period.until !== null)
    return `quality-range-${period.since}-to-${period.until}`;
  if (period.since !== null) return `quality-since-${period.since}-run-${runId}`;
  return `quality-run-${runId}`;
}

/** The scope in words, for titles: `2026年11月`, `2026-11-01 至 2026-11-15`, `运行 #12`… */
export function periodLabel(
  period: ReportPeriod,
  scope: { runId: number; runs: number[] },
  lang: 'zh' | 'en',
): string {
  const zh = lang === 'zh';
  if (period.month !== null) {
    const [y, m] = period.month.split('-');
    return zh ? `${y}年${Number(m)}月` : period.month;
  }
  if (period.since !== null && period.until !== null)
    return zh ? `${period.since} 至 ${period.until}` : `${period.since} to ${period.until}`;
  if (period.since !== null)
    return zh
      ? `${period.since} 起（至运行 #${scope.runId}）`
      : `since ${period.since} (up to run #${scope.runId})`;
  return zh ? `运行 #${scope.runId}` : `run #${scope.runId}`;
}
