/**
 * The report's trends: the last runs one by one, and the figures per China day and per month. Every figure is
 * computed as the cards compute it (./figures.ts), over the nightly and manual runs; backfill partitions are
 * history and stand in a column of their own (their ledger), never in the rates.
 */
import type { Warehouse } from '../../lib/db.js';
import { shanghaiIso } from '../../lib/time.js';
import { type Figures, figuresOf, PARTS_SQL, type PartsRow, partsOfRow } from './figures.js';
import {
  addDays,
  addMonths,
  BACKFILL,
  BACKFILL_SQL,
  type BackfillFigures,
  backfillOfRow,
  chinaMidnight,
  emptyBackfill,
  nextDay,
  nextMonthStart,
} from './scope.js';

/** How many runs the per-run trend shows. */
export const TREND_RUNS = 30;
/** Days and months of the per-day and per-month trends (a period longer than that: its last days). */
export const TREND_DAYS = 31;
export const MAX_TREND_DAYS = 366;
export const TREND_MONTHS = 12;

export interface TrendPoint extends Figures {
  runId: number;
  kind: string;
  startedAt: string;
}

/** One China day (`YYYY-MM-DD`) or month (`YYYY-MM`): its runs' figures, and the backfill partitions apart. */
export interface TrendPeriod extends Figures {
  period: string;
  /** Nightly and manual runs started in the period (the figures are theirs). */
  runs: number;
  backfill: BackfillFigures;
}

/** The non-backfill runs, up to the report's run, that the per-run trend shows (oldest first). */
export async function trendRunIds(db: Warehouse, runId: number): Promise<number[]> {
  const rows = await db.query<{ id: string }>(
    `SELECT id FROM runs WHERE id <= $1 AND status <> 'running' AND kind <> $2 ORDER BY id DESC LIMIT $3`,
    [runId, BACKFILL, TREND_RUNS],
  );
  return rows.map((r) => Number(r.id)).reverse();
}

/** The last TREND_RUNS nightly and manual runs up to the report's run, oldest first. */
export async function readRunTrends(db: Warehouse, runId: number): Promise<TrendPoint[]> {
  const rows = await db.query<PartsRow & { id: string; kind: string; started_at: Date | string }>(
    `SELECT r.id, r.kind, r.started_at, ${PARTS_SQL}
     FROM runs r LEFT JOIN quality_metrics m ON m.run_id = r.id
     WHERE r.id = ANY($1::bigint[])
     GROUP BY r.id, r.kind, r.started_at ORDER BY r.id`,
    [await trendRunIds(db, runId)],
  );
  return rows.map((r) => ({
    runId: Number(r.id),
    kind: r.kind,
    startedAt: shanghaiIso(r.started_at),
    ...figuresOf(partsOfRow(r)),
  }));
}

/** The China days of the per-day trend: the period's days (its last MAX_TREND_DAYS), else the last TREND_DAYS. */
export function trendDays(firstDay: string | null, lastDay: string): string[] {
  const floor = addDays(lastDay, -(MAX_TREND_DAYS - 1));
  const start = firstDay === null ? addDays(lastDay, -(TREND_DAYS - 1)) : firstDay < floor ? floor : firstDay;
  const days: string[] = [];
  for (let d = start; d <= lastDay; d = nextDay(d)) days.push(d);
  return days;
}

export function trendMonths(lastMonth: string): string[] {
  return Array.from({ length: TREND_MONTHS }, (_, i) => addMonths(lastMonth, i - (TREND_MONTHS - 1)));
}

/**
 * The runs (up to `runId` unless null: a closed period's trends end with its last day, whatever the ids), grouped by the China day or month they started (`to_char` pattern `YYYY-MM-DD` or
 * `YYYY-MM`), within [from, to): the runs' figures, and the backfill partitions' ledger apart. Every period of
 * `periods` gets a line, with zeros when nothing ran (a night that did not run shows).
 */
async function readPeriods(
  db: Warehouse,
  runId: number | null,
  pattern: 'YYYY-MM-DD' | 'YYYY-MM',
  periods: string[],
  from: string,
  to: string,
): Promise<TrendPeriod[]> {
  const args = [runId, BACKFILL, from, to, pattern];
  const where = `($1::bigint IS NULL OR r.id <= $1::bigint) AND r.status <> 'running' AND r.started_at >= $3::timestamptz
     AND r.started_at < $4::timestamptz`;
  const period = `to_char(r.started_at AT TIME ZONE 'Asia/Shanghai', $5)`;
  const runRows = await db.query<PartsRow & { period: string; runs: string }>(
    `SELECT ${period} AS period, count(DISTINCT r.id) AS runs, ${PARTS_SQL}
     FROM runs r LEFT JOIN quality_metrics m ON m.run_id = r.id
     WHERE ${where} AND r.kind <> $2 GROUP BY 1`,
    args,
  );
  const backfillRows = await db.query<Record<keyof BackfillFigures, string> & { period: string }>(
    `SELECT ${period} AS period, ${BACKFILL_SQL}
     FROM runs r LEFT JOIN source_runs s ON s.run_id = r.id
     WHERE ${where} AND r.kind = $2 GROUP BY 1`,
    args,
  );
  const runsBy = new Map(runRows.map((r) => [r.period, r]));
  const backfillBy = new Map(backfillRows.map((r) => [r.period, r]));
  return periods.map((p) => {
    const r = runsBy.get(p);
    const b = backfillBy.get(p);
    return {
      period: p,
      runs: Number(r?.runs ?? 0),
      ...figuresOf(partsOfRow(r ?? ({} as PartsRow))),
      backfill: b ? backfillOfRow(b) : emptyBackfill(),
    };
  });
}

/** The per-day trend over `days` (China dates, consecutive). */
export function readDayTrends(db: Warehouse, runId: number | null, days: string[]): Promise<TrendPeriod[]> {
  const first = days[0] as string;
  const last = days[days.length - 1] as string;
  return readPeriods(db, runId, 'YYYY-MM-DD', days, chinaMidnight(first), chinaMidnight(nextDay(last)));
}

/** The per-month trend over `months` (consecutive). */
export function readMonthTrends(
  db: Warehouse,
  runId: number | null,
  months: string[],
): Promise<TrendPeriod[]> {
  const first = months[0] as string;
  const last = months[months.length - 1] as string;
  return readPeriods(
    db,
    runId,
    'YYYY-MM',
    months,
    chinaMidnight(`${first}-01`),
    chinaMidnight(nextMonthStart(last)),
  );
}

/** The runs of the trend windows, for their metrics to be computed when missing. */
export async function trendWindowRuns(
  db: Warehouse,
  runId: number | null,
  from: string,
  to: string,
): Promise<number[]> {
  const rows = await db.query<{ id: string }>(
    `SELECT id FROM runs WHERE ($1::bigint IS NULL OR id <= $1::bigint) AND status <> 'running' AND kind <> $2
       AND started_at >= $3::timestamptz AND started_at < $4::timestamptz`,
    [runId, BACKFILL, from, to],
  );
  return rows.map((r) => Number(r.id));
}
