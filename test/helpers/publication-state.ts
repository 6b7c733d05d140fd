import type { Warehouse } from '../../lib/db.js';

/**
 * The publication state as migration 011 contracts it: `publication` (each record's state today) and
 * `publication_events` (one row per change of state). Created here only when the warehouse does not have them.
 */
export async function ensurePublicationTables(db: Warehouse): Promise<void> {
  const [row] = await db.query<{ present: boolean }>(
    `SELECT to_regclass('publication_events') IS NOT NULL AS present`,
  );
  if (row?.present) return;
  await db.query(`CREATE TABLE publication (
    resource text NOT NULL,
    record_id bigint PRIMARY KEY,
    state text NOT NULL CHECK (state IN ('pending', 'public', 'suspended', 'withdrawn')),
    reason text,
    public_from date,
    public_until date,
    changed_at timestamptz NOT NULL,
    run_id bigint
  )`);
  await db.query(`CREATE TABLE publication_events (
    id bigserial PRIMARY KEY,
    resource text NOT NULL,
    record_id bigint NOT NULL,
    state text NOT NULL,
    reason text,
    at timestamptz NOT NULL,
    run_id bigint
  )`);
}

export interface StateChange {
  resource: string;
  recordId: number;
  state: 'pending' | 'public' | 'suspended' | 'withdrawn';
  reason?: string;
  at: string;
  publicFrom?: string;
  publicUntil?: string;
}

/** Records changes of state as the publication step does: the state today, and an event each. */
export async function changeStates(db: Warehouse, changes: readonly StateChange[]): Promise<void> {
  for (const c of changes) {
    // the publication step made a row for every record of a public resource
    await db.query(
      `UPDATE publication SET state = $2, reason = $3, public_from = $4, public_until = $5, changed_at = $6
       WHERE record_id = $1`,
      [c.recordId, c.state, c.reason ?? null, c.publicFrom ?? null, c.publicUntil ?? null, c.at],
    );
    await db.query(
      `INSERT INTO publication_events (resource, record_id, state, reason, at) VALUES ($1, $2, $3, $4, $5)`,
      [c.resource, c.recordId, c.state, c.reason ?? null, c.at],
    );
  }
}
