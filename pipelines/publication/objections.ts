import type { Warehouse } from '../../lib/db.js';
import { GuijiError } from '../../lib/errors.js';
import { qualityCalendar } from '../quality/workdays.js';
import { recordAudit } from './audit.js';
import { actorOf, type PublicationContext, publicRecord, refreshRecord } from './record.js';

/**
 * Objections (异议, seed §5): a party disputing a record files one; the record's publication is suspended at
 * once and the department has 20 Chinese working days from receipt to check it. Resolved as upheld (the record
 * is withdrawn), corrected (suspended until a corrected version is loaded, which is then published) or
 * rejected (published again).
 */

export const OBJECTION_WORKDAYS = 20;

export type Outcome = 'upheld' | 'corrected' | 'rejected';
export const OUTCOMES: readonly Outcome[] = ['upheld', 'corrected', 'rejected'];

export interface Objection {
  id: number;
  record: number;
  resource: string;
  received: string;
  deadline: string;
  status: 'open' | 'resolved';
  reason: string;
  outcome: Outcome | null;
}

interface ObjectionRow {
  id: string;
  record_id: string;
  resource: string;
  received: string;
  deadline: string;
  status: 'open' | 'resolved';
  reason: string;
  outcome: Outcome | null;
}

const COLUMNS = `id, record_id, resource, received::text AS received, deadline::text AS deadline, status, reason, outcome`;

function objectionOf(r: ObjectionRow): Objection {
  return {
    id: Number(r.id),
    record: Number(r.record_id),
    resource: r.resource,
    received: r.received,
    deadline: r.deadline,
    status: r.status,
    reason: r.reason,
    outcome: r.outcome,
  };
}

/** The day the department must have answered by: 20 working days after receipt (STANDARDS.md §8). */
export function objectionDeadline(catalogDir: string, received: string): string {
  return qualityCalendar(catalogDir).addWorkdays(received, OBJECTION_WORKDAYS);
}

export async function openObjection(
  ctx: PublicationContext,
  input: { record: number; received: string; reason: string; by?: string },
): Promise<Objection> {
  if (!input.reason.trim()) throw new GuijiError('GUIJI_ERR_USAGE', '--reason：请写明异议理由');
  if (input.received > ctx.today)
    throw new GuijiError(
      'GUIJI_ERR_USAGE',
      `--received：受理日期 ${input.received} 晚于今天（${ctx.today}）`,
    );
  const record = await publicRecord(ctx, input.record);
  const [open] = await ctx.db.query<{ id: string }>(
    `SELECT id FROM objections WHERE record_id = $1 AND status = 'open'`,
    [record.recordId],
  );
  if (open)
    throw new GuijiError('GUIJI_ERR_USAGE', `记录 ${record.recordId} 已有未办结的异议 ${open.id}，请先办结`);
  const deadline = objectionDeadline(ctx.catalogDir, input.received);
  const actor = actorOf(input.by);
  const row = await ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<ObjectionRow>(
      `INSERT INTO objections (resource, record_id, received, deadline, reason, opened_by)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
      [record.resource.id, record.recordId, input.received, deadline, input.reason.trim(), actor],
    );
    const inserted = rows[0] as ObjectionRow;
    await recordAudit(tx, {
      actor,
      action: 'objection.open',
      resource: record.resource.id,
      recordId: record.recordId,
      subjectId: Number(inserted.id),
      reason: input.reason.trim(),
      detail: { received: input.received, deadline },
    });
    return inserted;
  });
  await refreshRecord(ctx, record.recordId);
  return objectionOf(row);
}

export async function resolveObjection(
  ctx: PublicationContext,
  input: { id: number; outcome: Outcome; note?: string; by?: string },
): Promise<Objection> {
  const [found] = await ctx.db.query<ObjectionRow>(`SELECT ${COLUMNS} FROM objections WHERE id = $1`, [
    input.id,
  ]);
  if (!found)
    throw new GuijiError(
      'GUIJI_ERR_USAGE',
      `异议 ${input.id} 不存在（\`guiji objection list\` 列出全部异议）`,
    );
  if (found.status !== 'open')
    throw new GuijiError(
      'GUIJI_ERR_USAGE',
      `异议 ${input.id} 已办结（结果：${found.outcome}），不能再次办结`,
    );
  const record = await publicRecord(ctx, Number(found.record_id));
  const actor = actorOf(input.by);
  const row = await ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<ObjectionRow>(
      `UPDATE objections SET status = 'resolved', outcome = $2, note = $3, resolved_by = $4, resolved_at = now(),
         corrected_version = CASE WHEN $2 = 'corrected' THEN $5::integer END
       WHERE id = $1 AND status = 'open' RETURNING ${COLUMNS}`,
      [input.id, input.outcome, input.note ?? null, actor, record.version],
    );
    const updated = rows[0];
    if (!updated) throw new GuijiError('GUIJI_ERR_USAGE', `异议 ${input.id} 刚被他人办结`);
    await recordAudit(tx, {
      actor,
      action: 'objection.resolve',
      resource: record.resource.id,
      recordId: record.recordId,
      subjectId: input.id,
      reason: input.note ?? null,
      detail: { outcome: input.outcome, version: record.version },
    });
    return updated;
  });
  await refreshRecord(ctx, record.recordId);
  return objectionOf(row);
}

export async function listObjections(
  db: Warehouse,
  options: { open?: boolean; overdue?: boolean; today: string; limit?: number },
): Promise<Objection[]> {
  const rows = await db.query<ObjectionRow>(
    `SELECT ${COLUMNS} FROM objections
     WHERE (NOT $1::boolean OR status = 'open') AND (NOT $2::boolean OR (status = 'open' AND deadline < $3::date))
     ORDER BY id LIMIT $4`,
    [options.open ?? false, options.overdue ?? false, options.today, options.limit ?? 1000],
  );
  return rows.map(objectionOf);
}
