import type { Warehouse } from '../../lib/db.js';
import { GuijiError } from '../../lib/errors.js';
import { shanghaiIso, shanghaiIsoOrNull, shanghaiText } from '../../lib/time.js';
import type { PartitionCounts } from './backfill.js';
import { formatSeconds } from './progress.js';
import type { PartitionState } from './store.js';
import { parseDay } from './windows.js';

/** One backfill in `guiji backfill status` and `guiji status` (JSON contract: fields are only ever added). */
export interface BackfillSummary {
  id: number;
  source: string;
  from: string | null;
  to: string | null;
  by: string;
  dir: string | null;
  createdAt: string;
  finishedAt: string | null;
  partitions: PartitionCounts;
  rows: number;
}

export interface PartitionSummary {
  id: number;
  key: string;
  state: PartitionState;
  attempts: number;
  completions: number;
  rows: number;
  leaseOwner: string | null;
  leaseExpiresAt: string | null;
  runId: number | null;
  error: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

/** `guiji backfill plan` (and the `backfills` field of `guiji status --json`). */
export interface BackfillPlan {
  /** The start of the history asked about (null: every backfill). */
  since: string | null;
  /** When the first backfill of the history started, and the three-month deadline counted from it. */
  firstStartedAt: string | null;
  deadline: string | null;
  secondsLeft: number | null;
  sources: {
    source: string;
    backfills: number[];
    partitions: PartitionCounts;
    /** Partitions still to load: pending, running and failed. */
    toDo: number;
    rowsLoaded: number;
  }[];
  backfills: BackfillSummary[];
}

/** JSON times carry their offset: the instant, written in Asia/Shanghai (`…+08:00`, one format: they sort as text). */
const iso = shanghaiIsoOrNull;

interface BackfillRow {
  id: string;
  source: string;
  range_from: string | null;
  range_to: string | null;
  by: string;
  dir: string | null;
  created_at: Date | string;
  finished_at: Date | string | null;
  pending: string;
  running: string;
  done: string;
  failed: string;
  total: string;
  rows: string | null;
}

export async function listBackfills(db: Warehouse, id?: number): Promise<BackfillSummary[]> {
  const rows = await db.query<BackfillRow>(
    `SELECT b.id, b.source, b.range_from::text AS range_from, b.range_to::text AS range_to, b.by, b.dir, b.created_at, b.finished_at,
            count(p.id) FILTER (WHERE p.state = 'pending') AS pending,
            count(p.id) FILTER (WHERE p.state = 'running') AS running,
            count(p.id) FILTER (WHERE p.state = 'done') AS done,
            count(p.id) FILTER (WHERE p.state = 'failed') AS failed,
            count(p.id) AS total, sum(p.rows) AS rows
     FROM backfills b LEFT JOIN backfill_partitions p ON p.backfill_id = b.id
     WHERE $1::bigint IS NULL OR b.id = $1
     GROUP BY b.id ORDER BY b.id`,
    [id ?? null],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    source: r.source,
    from: r.range_from,
    to: r.range_to,
    by: r.by,
    dir: r.dir,
    createdAt: iso(r.created_at) as string,
    finishedAt: iso(r.finished_at),
    partitions: {
      total: Number(r.total),
      pending: Number(r.pending),
      running: Number(r.running),
      done: Number(r.done),
      failed: Number(r.failed),
    },
    rows: Number(r.rows ?? 0),
  }));
}

export async function listPartitions(db: Warehouse, backfillId: number): Promise<PartitionSummary[]> {
  const rows = await db.query<{
    id: string;
    key: string;
    state: PartitionState;
    attempts: number;
    completions: number;
    rows: string;
    lease_owner: string | null;
    lease_expires_at: Date | string | null;
    run_id: string | null;
    error: string | null;
    started_at: Date | string | null;
    finished_at: Date | string | null;
  }>(
    `SELECT id, key, state, attempts, completions, rows, lease_owner, lease_expires_at, run_id, error, started_at,
            finished_at
     FROM backfill_partitions WHERE backfill_id = $1 ORDER BY id`,
    [backfillId],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    key: r.key,
    state: r.state,
    attempts: r.attempts,
    completions: r.completions,
    rows: Number(r.rows),
    leaseOwner: r.lease_owner,
    leaseExpiresAt: iso(r.lease_expires_at),
    runId: r.run_id === null ? null : Number(r.run_id),
    error: r.error,
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
  }));
}

/** Three calendar months after `start` (the city's deadline for the historical load). */
export function threeMonthsAfter(start: Date): Date {
  const end = new Date(start.getTime());
  const dayOfMonth = end.getUTCDate();
  end.setUTCDate(1);
  end.setUTCMonth(end.getUTCMonth() + 3);
  const lastDay = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth() + 1, 0)).getUTCDate();
  end.setUTCDate(Math.min(dayOfMonth, lastDay));
  return end;
}

/**
 * Per source, what the backfills of the history since `since` still have to do and what they loaded, and the
 * time left to the three-month deadline counted from the first backfill's start.
 */
export async function backfillPlan(
  db: Warehouse,
  since: string | null,
  now: number = Date.now(),
): Promise<BackfillPlan> {
  if (since !== null) parseDay(since, '--since');
  const backfills = (await listBackfills(db)).filter(
    (b) => since === null || b.from === null || b.from >= since,
  );
  const first = backfills.reduce<string | null>(
    (min, b) => (min === null || b.createdAt < min ? b.createdAt : min),
    null,
  );
  const deadline = first ? threeMonthsAfter(new Date(first)) : null;
  const sources = new Map<string, BackfillPlan['sources'][number]>();
  for (const b of backfills) {
    let s = sources.get(b.source);
    if (!s) {
      s = {
        source: b.source,
        backfills: [],
        partitions: { total: 0, pending: 0, running: 0, done: 0, failed: 0 },
        toDo: 0,
        rowsLoaded: 0,
      };
      sources.set(b.source, s);
    }
    s.backfills.push(b.id);
    for (const k of ['total', 'pending', 'running', 'done', 'failed'] as const)
      s.partitions[k] += b.partitions[k];
    s.toDo += b.partitions.pending + b.partitions.running + b.partitions.failed;
    s.rowsLoaded += b.rows;
  }
  return {
    since,
    firstStartedAt: first,
    deadline: deadline ? shanghaiIso(deadline) : null,
    secondsLeft: deadline ? Math.round((deadline.getTime() - now) / 1000) : null,
    sources: [...sources.values()],
    backfills,
  };
}

const shown = (time: string | null) => (time === null ? '—' : shanghaiText(time));

export function formatPlan(plan: BackfillPlan): string {
  const history = plan.since ? `history since ${plan.since}` : 'backfills';
  if (!plan.backfills.length) return `${history}: none started yet`;
  const lines = [
    `${history}: first backfill started ${shown(plan.firstStartedAt)}; deadline ${shown(plan.deadline)} (Asia/Shanghai) ` +
      `(${(plan.secondsLeft ?? 0) >= 0 ? `${formatSeconds(plan.secondsLeft ?? 0)} left` : `${formatSeconds(-(plan.secondsLeft ?? 0))} OVERDUE`})`,
    `  ${'source'.padEnd(18)}${'to do'.padStart(8)}${'pending'.padStart(9)}${'running'.padStart(9)}${'failed'.padStart(8)}${'done'.padStart(8)}${'rows loaded'.padStart(14)}`,
  ];
  for (const s of plan.sources) {
    lines.push(
      `  ${s.source.padEnd(18)}${String(s.toDo).padStart(8)}${String(s.partitions.pending).padStart(9)}${String(s.partitions.running).padStart(9)}${String(s.partitions.failed).padStart(8)}${String(s.partitions.done).padStart(8)}${s.rowsLoaded.toLocaleString('en-US').padStart(14)}`,
    );
  }
  return lines.join('\n');
}

export function formatBackfills(backfills: BackfillSummary[]): string {
  if (!backfills.length)
    return 'no backfills yet: `guiji backfill --source S --from DATE --to DATE` starts one';
  return backfills
    .map((b) => {
      const what = b.dir ?? `${b.from} .. ${b.to} by ${b.by}`;
      const p = b.partitions;
      return `backfill ${b.id}  ${b.source}  ${what}  ${b.finishedAt ? 'finished' : 'open'}\n  partitions ${p.total}: ${p.done} done, ${p.pending} pending, ${p.running} running, ${p.failed} failed; ${b.rows.toLocaleString('en-US')} rows`;
    })
    .join('\n');
}

export function formatPartitions(backfill: BackfillSummary, partitions: PartitionSummary[]): string {
  const lines = [formatBackfills([backfill])];
  for (const state of ['failed', 'running', 'pending', 'done'] as const) {
    const these = partitions.filter((p) => p.state === state);
    if (!these.length) continue;
    lines.push(`  ${state} (${these.length}):`);
    for (const p of these) {
      const extra =
        state === 'running'
          ? ` owner ${p.leaseOwner} until ${p.leaseExpiresAt}`
          : state === 'failed' || (state === 'done' && p.error)
            ? ` — ${p.error}`
            : '';
      lines.push(`    #${p.id} ${p.key}  attempts ${p.attempts}  rows ${p.rows}${extra}`);
    }
  }
  return lines.join('\n');
}

export function requireBackfill(list: BackfillSummary[], id: number): BackfillSummary {
  const found = list.find((b) => b.id === id);
  if (!found) throw new GuijiError('GUIJI_ERR_USAGE', `no backfill ${id} (guiji backfill status lists them)`);
  return found;
}
