import { GuijiError } from '../../lib/errors.js';
import { shanghaiIso } from '../../lib/time.js';
import { recordAudit } from './audit.js';
import { actorOf, decisionOf, type PublicationContext, publicRecord, refreshRecord } from './record.js';

/**
 * Credit repair (信用修复, 527号 and the 2023 rules): once a penalty's minimum publication period is over, a
 * verified repair takes it down early (withdrawn, reason `repaired`); before, it is refused with the first day
 * it becomes possible; the serious cases the catalog marks as not repairable are refused. A repair can be
 * revoked (a mistake, a repair found to be false): the record's state is computed again.
 */

export interface Repair {
  id: number;
  record: number;
  resource: string;
  date: string;
  status: 'applied' | 'revoked';
  source: string;
  by: string;
  at: string;
}

interface RepairRow {
  id: string;
  record_id: string;
  resource: string;
  repair_date: string;
  status: 'applied' | 'revoked';
  source: string;
  applied_by: string;
  applied_at: Date;
}

const COLUMNS = `id, record_id, resource, repair_date::text AS repair_date, status, source, applied_by, applied_at`;

function repairOf(r: RepairRow): Repair {
  return {
    id: Number(r.id),
    record: Number(r.record_id),
    resource: r.resource,
    date: r.repair_date,
    status: r.status,
    source: r.source,
    by: r.applied_by,
    at: shanghaiIso(r.applied_at),
  };
}

export async function applyRepair(
  ctx: PublicationContext,
  input: { record: number; date: string; by?: string; note?: string; source?: string },
): Promise<Repair> {
  const record = await publicRecord(ctx, input.record);
  const decision = await decisionOf(ctx, record);
  if (decision.repairFrom === null)
    throw new GuijiError(
      'GUIJI_ERR_USAGE',
      `记录 ${record.recordId}（${record.resource.name}）不适用信用修复`,
    );
  if (!decision.repairable)
    throw new GuijiError(
      'GUIJI_ERR_USAGE',
      `记录 ${record.recordId} 属严重失信情形，资源目录规定不予提前修复：${decision.why.find((w) => w.includes('不予提前修复')) ?? ''}`,
    );
  if (input.date < decision.repairFrom)
    throw new GuijiError(
      'GUIJI_ERR_USAGE',
      `记录 ${record.recordId} 的最短公示期未满：${decision.repairFrom} 起方可申请信用修复（修复日期 ${input.date}）`,
    );
  const [applied] = await ctx.db.query<{ id: string }>(
    `SELECT id FROM repairs WHERE record_id = $1 AND status = 'applied'`,
    [record.recordId],
  );
  if (applied)
    throw new GuijiError('GUIJI_ERR_USAGE', `记录 ${record.recordId} 已完成信用修复（修复 ${applied.id}）`);
  const actor = actorOf(input.by);
  const row = await ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<RepairRow>(
      `INSERT INTO repairs (resource, record_id, repair_date, source, note, applied_by)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
      [record.resource.id, record.recordId, input.date, input.source ?? 'manual', input.note ?? null, actor],
    );
    const inserted = rows[0] as RepairRow;
    await recordAudit(tx, {
      actor,
      action: 'repair.apply',
      resource: record.resource.id,
      recordId: record.recordId,
      subjectId: Number(inserted.id),
      reason: input.note ?? null,
      detail: { date: input.date, repairFrom: decision.repairFrom, source: input.source ?? 'manual' },
    });
    return inserted;
  });
  await refreshRecord(ctx, record.recordId);
  return repairOf(row);
}

export async function revokeRepair(
  ctx: PublicationContext,
  input: { id: number; reason: string; by?: string },
): Promise<Repair> {
  if (!input.reason.trim()) throw new GuijiError('GUIJI_ERR_USAGE', '--reason：请写明撤销修复的理由');
  const actor = actorOf(input.by);
  const row = await ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<RepairRow>(
      `UPDATE repairs SET status = 'revoked', revoked_by = $2, revoked_at = now(), revoke_reason = $3
       WHERE id = $1 AND status = 'applied' RETURNING ${COLUMNS}`,
      [input.id, actor, input.reason.trim()],
    );
    const updated = rows[0];
    if (!updated)
      throw new GuijiError('GUIJI_ERR_USAGE', `信用修复 ${input.id} 不存在或已撤销（\`guiji repair list\`）`);
    await recordAudit(tx, {
      actor,
      action: 'repair.revoke',
      resource: updated.resource,
      recordId: Number(updated.record_id),
      subjectId: input.id,
      reason: input.reason.trim(),
    });
    return updated;
  });
  await refreshRecord(ctx, Number(row.record_id));
  return repairOf(row);
}

export async function listRepairs(
  ctx: PublicationContext,
  options: { record?: number } = {},
): Promise<Repair[]> {
  const rows = await ctx.db.query<RepairRow>(
    `SELECT ${COLUMNS} FROM repairs WHERE ($1::bigint IS NULL OR record_id = $1) ORDER BY id`,
    [options.record ?? null],
  );
  return rows.map(repairOf);
}
