import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { SqlTx, Warehouse } from '../../lib/db.js';
import { GuijiError } from '../../lib/errors.js';

/**
 * Glossary: a **backfill** is one historical load (a source and a range, or a folder of spreadsheets); its
 * **partitions** are the units of work (a stream's frozen window, or one file), each claimed by one claimer at a
 * time under a **lease** (owner, token, expiry renewed by a heartbeat); every claim is an **attempt**, recorded
 * with the run of the ledger it loaded under.
 */
export type PartitionState = 'pending' | 'running' | 'done' | 'failed';

export interface BackfillSpec {
  spec: string;
  source: string;
  rangeFrom: string | null;
  rangeTo: string | null;
  by: 'day' | 'week' | 'month' | 'file';
  dir: string | null;
}

export interface PartitionSpec {
  key: string;
  stream: string;
  resource: string | null;
  windowFrom: string | null;
  windowTo: string | null;
  file: string | null;
}

/** A partition as claimed: what to load, and the lease that fences its batches. */
export interface Claim {
  partitionId: number;
  backfillId: number;
  source: string;
  stream: string;
  resource: string | null;
  windowFrom: string | null;
  windowTo: string | null;
  file: string | null;
  resumeFrom: string | null;
  attempts: number;
  owner: string;
  token: string;
  runId: number;
  attemptId: number;
}

/** The lease of a partition was taken over by another claimer: this one must not commit anything more. */
export class LeaseLostError extends GuijiError {
  constructor(partitionId: number) {
    super('GUIJI_ERR_LOAD', `lost the lease of backfill partition ${partitionId} to another worker`);
  }
}

/** Finds the backfill of this spec or creates it, and adds the partitions it does not have yet. */
export async function ensureBackfill(
  db: Warehouse,
  spec: BackfillSpec,
  partitions: readonly PartitionSpec[],
): Promise<{ id: number; created: boolean; added: number }> {
  return db.transaction(async (tx) => {
    const inserted = await tx.query<{ id: string }>(
      `INSERT INTO backfills (spec, source, range_from, range_to, by, dir) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (spec) DO NOTHING RETURNING id`,
      [spec.spec, spec.source, spec.rangeFrom, spec.rangeTo, spec.by, spec.dir],
    );
    const created = inserted.rows.length === 1;
    const id = created
      ? Number(inserted.rows[0]?.id)
      : Number(
          (await tx.query<{ id: string }>('SELECT id FROM backfills WHERE spec = $1', [spec.spec])).rows[0]
            ?.id,
        );
    const added = await tx.query<{ id: string }>(
      `INSERT INTO backfill_partitions (backfill_id, key, source, stream, resource, window_from, window_to, file)
       SELECT $1, p.key, $2, p.stream, p.resource, p.window_from, p.window_to, p.file
       FROM jsonb_to_recordset($3::jsonb) AS p(key text, stream text, resource text, window_from text,
                                               window_to text, file text)
       ON CONFLICT (backfill_id, key) DO NOTHING RETURNING id`,
      [
        id,
        spec.source,
        JSON.stringify(
          partitions.map((p) => ({
            key: p.key,
            stream: p.stream,
            resource: p.resource,
            window_from: p.windowFrom,
            window_to: p.windowTo,
            file: p.file,
          })),
        ),
      ],
    );
    if (added.rows.length) await tx.query('UPDATE backfills SET finished_at = NULL WHERE id = $1', [id]);
    return { id, created, added: added.rows.length };
  });
}

export async function findBackfill(db: Warehouse, spec: string): Promise<number | null> {
  const [row] = await db.query<{ id: string }>('SELECT id FROM backfills WHERE spec = $1', [spec]);
  return row ? Number(row.id) : null;
}

/** `--retry-failed`: failed partitions of the backfill start again with a fresh count of attempts. */
export async function retryFailed(db: Warehouse, backfillId: number): Promise<number> {
  const rows = await db.query<{ id: string }>(
    `UPDATE backfill_partitions SET state = 'pending', attempts = 0, available_at = now(), error = NULL
     WHERE backfill_id = $1 AND state = 'failed' RETURNING id`,
    [backfillId],
  );
  if (rows.length) await db.query('UPDATE backfills SET finished_at = NULL WHERE id = $1', [backfillId]);
  return rows.length;
}

/** This process's name as a lease owner: host, pid and the claimer's number. */
export function ownerName(claimer: number): string {
  return `${hostname()}:${process.pid}:${claimer}`;
}

/**
 * Leases that cannot be alive any more expire now instead of at their time: every lease on the embedded
 * warehouse (its lock file makes this process its only user), and on PostgreSQL the leases of processes of this
 * host that no longer exist (a worker killed a moment ago).
 */
export async function expireDeadLeases(db: Warehouse): Promise<number> {
  const running = await db.query<{ id: string; lease_owner: string | null }>(
    `SELECT id, lease_owner FROM backfill_partitions WHERE state = 'running' AND lease_expires_at > now()`,
  );
  const host = hostname();
  const dead = running
    .filter((p) => {
      if (db.kind === 'pglite') return true;
      const [owner, pid] = (p.lease_owner ?? '').split(':');
      return owner === host && Number(pid) !== process.pid && !isAlive(Number(pid));
    })
    .map((p) => p.id);
  if (dead.length) {
    await db.query(
      `UPDATE backfill_partitions SET lease_expires_at = now() - interval '1 second'
       WHERE id = ANY($1::bigint[]) AND state = 'running'`,
      [dead],
    );
  }
  return dead.length;
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface ClaimOptions {
  owner: string;
  leaseSeconds: number;
  /** Only partitions of these backfills (`guiji backfill`), or of any (`guiji worker`). */
  backfillIds: number[] | null;
  /** Only partitions of these sources (the ones this process is configured for). */
  sources: string[];
}

interface PartitionRow {
  id: string;
  backfill_id: string;
  source: string;
  stream: string;
  resource: string | null;
  window_from: string | null;
  window_to: string | null;
  file: string | null;
  resume_from: string | null;
  attempts: number;
  run_id: string | null;
}

/**
 * Claims the next partition that is pending and due, or running under an expired lease (its worker died or
 * stalled): `FOR UPDATE SKIP LOCKED`, so concurrent claimers never wait for each other nor take the same one.
 * The claim opens the partition's run (kind `backfill`) and its line of the ledger, and marks the run of a
 * dead holder interrupted, in the same transaction.
 */
export async function claimPartition(db: Warehouse, options: ClaimOptions): Promise<Claim | null> {
  return db.transaction(async (tx) => {
    const found = await tx.query<PartitionRow>(
      `SELECT id, backfill_id, source, stream, resource, window_from, window_to, file, resume_from, attempts, run_id
       FROM backfill_partitions
       WHERE ((state = 'pending' AND available_at <= now()) OR (state = 'running' AND lease_expires_at < now()))
         AND ($1::bigint[] IS NULL OR backfill_id = ANY($1::bigint[]))
         AND source = ANY($2::text[])
       ORDER BY id
       LIMIT 1
       FOR UPDATE SKIP LOCKED`,
      [options.backfillIds, options.sources],
    );
    const row = found.rows[0];
    if (!row) return null;
    if (row.run_id !== null)
      await endRun(tx, Number(row.run_id), 'interrupted', 'lease expired: its worker stopped');
    await tx.query(
      `UPDATE backfill_attempts SET outcome = 'lost', finished_at = now(), error = 'lease expired'
       WHERE partition_id = $1 AND outcome = 'running'`,
      [row.id],
    );
    const [run] = (
      await tx.query<{ id: string }>(
        `INSERT INTO runs (kind, host, pid) VALUES ('backfill', $1, $2) RETURNING id`,
        [hostname(), process.pid],
      )
    ).rows;
    const runId = Number(run?.id);
    await tx.query(`INSERT INTO source_runs (run_id, source, cursor_before) VALUES ($1, $2, $3)`, [
      runId,
      row.source,
      row.file ?? `${row.stream}=${row.resume_from ?? row.window_from}`,
    ]);
    const token = randomUUID();
    await tx.query(
      `UPDATE backfill_partitions SET state = 'running', attempts = attempts + 1, lease_owner = $2, lease_token = $3,
         lease_expires_at = now() + make_interval(secs => $4), heartbeat_at = now(), run_id = $5,
         started_at = coalesce(started_at, now())
       WHERE id = $1`,
      [row.id, options.owner, token, options.leaseSeconds, runId],
    );
    const [attempt] = (
      await tx.query<{ id: string }>(
        `INSERT INTO backfill_attempts (partition_id, run_id, owner) VALUES ($1, $2, $3) RETURNING id`,
        [row.id, runId, options.owner],
      )
    ).rows;
    return {
      partitionId: Number(row.id),
      backfillId: Number(row.backfill_id),
      source: row.source,
      stream: row.stream,
      resource: row.resource,
      windowFrom: row.window_from,
      windowTo: row.window_to,
      file: row.file,
      resumeFrom: row.resume_from,
      attempts: row.attempts + 1,
      owner: options.owner,
      token,
      runId,
      attemptId: Number(attempt?.id),
    };
  });
}

async function endRun(tx: SqlTx, runId: number, status: string, error: string | null): Promise<void> {
  await tx.query(
    `UPDATE source_runs SET status = $2, error = coalesce($3, error), finished_at = coalesce(finished_at, now())
     WHERE run_id = $1 AND status IN ('running', 'interrupted')`,
    [runId, status, error],
  );
  await tx.query(
    `UPDATE runs SET status = $2, error = coalesce($3, error), finished_at = coalesce(finished_at, now())
     WHERE id = $1 AND status IN ('running', 'interrupted')`,
    [runId, status, error],
  );
}

/** Renews the lease; false when it is no longer ours. */
export async function heartbeat(db: Warehouse, claim: Claim, leaseSeconds: number): Promise<boolean> {
  const rows = await db.query<{ id: string }>(
    `UPDATE backfill_partitions SET heartbeat_at = now(), lease_expires_at = now() + make_interval(secs => $3)
     WHERE id = $1 AND lease_token = $2 AND state = 'running' RETURNING id`,
    [claim.partitionId, claim.token, leaseSeconds],
  );
  return rows.length === 1;
}

/**
 * Commits with a batch: checks the lease is still ours (or the whole batch rolls back), counts its rows, moves
 * the partition's resume point, and on its last batch marks the partition done and its run succeeded.
 */
export async function fenceBatch(
  tx: SqlTx,
  claim: Claim,
  leaseSeconds: number,
  progress: { rows: number; resumeFrom: string | null; last: boolean; cursorAfter?: string },
): Promise<void> {
  const result = await tx.query<{ id: string }>(
    `UPDATE backfill_partitions SET rows = rows + $3, resume_from = coalesce($4, resume_from),
       heartbeat_at = now(), lease_expires_at = now() + make_interval(secs => $5)
     WHERE id = $1 AND lease_token = $2 AND state = 'running' RETURNING id`,
    [claim.partitionId, claim.token, progress.rows, progress.resumeFrom, leaseSeconds],
  );
  if (result.rows.length !== 1) throw new LeaseLostError(claim.partitionId);
  await tx.query('UPDATE backfill_attempts SET rows = rows + $2 WHERE id = $1', [
    claim.attemptId,
    progress.rows,
  ]);
  if (progress.last) await completeInTx(tx, claim, null, progress.cursorAfter ?? null);
}

async function completeInTx(
  tx: SqlTx,
  claim: Claim,
  note: string | null,
  cursorAfter: string | null,
): Promise<void> {
  const done = await tx.query<{ id: string }>(
    `UPDATE backfill_partitions SET state = 'done', completions = completions + 1, finished_at = now(),
       lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, error = $3
     WHERE id = $1 AND lease_token = $2 AND state = 'running' RETURNING id`,
    [claim.partitionId, claim.token, note],
  );
  if (done.rows.length !== 1) throw new LeaseLostError(claim.partitionId);
  await tx.query(`UPDATE backfill_attempts SET outcome = 'done', finished_at = now() WHERE id = $1`, [
    claim.attemptId,
  ]);
  if (cursorAfter !== null)
    await tx.query('UPDATE source_runs SET cursor_after = $2 WHERE run_id = $1', [claim.runId, cursorAfter]);
  await endRun(tx, claim.runId, 'succeeded', null);
}

/** Marks a partition done outside a batch (a file partition, once its file is recorded as processed). */
export async function completePartition(
  db: Warehouse,
  claim: Claim,
  rows: number,
  note: string | null,
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('UPDATE backfill_partitions SET rows = $2 WHERE id = $1 AND lease_token = $3', [
      claim.partitionId,
      rows,
      claim.token,
    ]);
    await tx.query('UPDATE backfill_attempts SET rows = $2 WHERE id = $1', [claim.attemptId, rows]);
    await completeInTx(tx, claim, note, null);
  });
}

/**
 * A failed attempt: the partition waits `backoff × 2^(attempt−1)` seconds and is tried again, until
 * `maxAttempts`, then it is failed with its error (`--retry-failed` starts it again).
 */
export async function failPartition(
  db: Warehouse,
  claim: Claim,
  error: string,
  policy: { maxAttempts: number; backoffSeconds: number; retryable: boolean },
): Promise<'retry' | 'failed'> {
  const outcome = policy.retryable && claim.attempts < policy.maxAttempts ? 'retry' : 'failed';
  const delay = policy.backoffSeconds * 2 ** (claim.attempts - 1);
  await db.transaction(async (tx) => {
    await tx.query(
      `UPDATE backfill_partitions SET state = $3, error = $4, available_at = now() + make_interval(secs => $5),
         lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL,
         finished_at = CASE WHEN $3 = 'failed' THEN now() END
       WHERE id = $1 AND lease_token = $2 AND state = 'running'`,
      [claim.partitionId, claim.token, outcome === 'retry' ? 'pending' : 'failed', error, delay],
    );
    await tx.query(
      `UPDATE backfill_attempts SET outcome = $2, error = $3, finished_at = now() WHERE id = $1`,
      [claim.attemptId, outcome, error],
    );
    await endRun(tx, claim.runId, 'failed', error);
  });
  return outcome;
}

/**
 * Gives a partition back (the process is stopping, or its lease was lost): the run is interrupted; a partition
 * still ours is pending again at once, and the attempt does not count against its retries.
 */
export async function releasePartition(
  db: Warehouse,
  claim: Claim,
  outcome: 'interrupted' | 'lost',
  reason: string,
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(
      `UPDATE backfill_partitions SET state = 'pending', attempts = greatest(attempts - 1, 0), available_at = now(),
         lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
       WHERE id = $1 AND lease_token = $2 AND state = 'running'`,
      [claim.partitionId, claim.token],
    );
    await tx.query(
      `UPDATE backfill_attempts SET outcome = $2, error = $3, finished_at = now() WHERE id = $1 AND outcome = 'running'`,
      [claim.attemptId, outcome, reason],
    );
    await endRun(tx, claim.runId, 'interrupted', reason);
  });
}

export interface Outstanding {
  pending: number;
  running: number;
  /** Seconds until the next pending partition is due or a running lease expires (null when none). */
  nextInSeconds: number | null;
}

/** What is left to claim now or later. */
export async function outstanding(
  db: Warehouse,
  backfillIds: number[] | null,
  sources: string[],
): Promise<Outstanding> {
  const [row] = await db.query<{ pending: string; running: string; next: number | null }>(
    `SELECT count(*) FILTER (WHERE state = 'pending') AS pending,
            count(*) FILTER (WHERE state = 'running') AS running,
            extract(epoch FROM min(CASE WHEN state = 'pending' THEN available_at ELSE lease_expires_at END) - now())::float8 AS next
     FROM backfill_partitions
     WHERE state IN ('pending', 'running') AND ($1::bigint[] IS NULL OR backfill_id = ANY($1::bigint[]))
       AND source = ANY($2::text[])`,
    [backfillIds, sources],
  );
  return {
    pending: Number(row?.pending ?? 0),
    running: Number(row?.running ?? 0),
    nextInSeconds: row?.next === null || row?.next === undefined ? null : Number(row.next),
  };
}

/** Marks the backfills with nothing pending or running as finished. */
export async function markFinished(db: Warehouse, backfillIds: number[]): Promise<void> {
  await db.query(
    `UPDATE backfills b SET finished_at = now()
     WHERE b.id = ANY($1::bigint[]) AND b.finished_at IS NULL
       AND NOT EXISTS (SELECT 1 FROM backfill_partitions p WHERE p.backfill_id = b.id AND p.state IN ('pending', 'running'))`,
    [backfillIds],
  );
}
