import { GuijiError } from '../../lib/errors.js';
import { shanghaiIso, shanghaiIsoOrNull } from '../../lib/time.js';
import { recordAudit } from './audit.js';
import { REASON_TEXT, type Reason, type Severity } from './decide.js';
import { listObjections, type Objection } from './objections.js';
import { actorOf, decisionOf, type PublicationContext, publicRecord, refreshRecord } from './record.js';
import { listRepairs, type Repair } from './repairs.js';

/** `guiji publication show`: whether a record is public today, since when, until when, and why. */
export interface PublicationReport {
  record: number;
  resource: string;
  resourceName: string;
  version: number;
  today: string;
  state: string;
  reason: string | null;
  reasonText: string | null;
  publicFrom: string | null;
  publicUntil: string | null;
  severity: Severity | null;
  repairFrom: string | null;
  repairable: boolean;
  basis: string;
  why: string[];
  /** When the stored state was last computed (+08:00); null when never. */
  computedAt: string | null;
  history: { at: string; state: string; reason: string | null; from: string | null; until: string | null }[];
  objections: Objection[];
  repairs: Repair[];
}

export async function showPublication(ctx: PublicationContext, recordId: number): Promise<PublicationReport> {
  const record = await publicRecord(ctx, recordId);
  const decision = await decisionOf(ctx, record);
  const [stored] = await ctx.db.query<{ state: string; reason: string | null; computed_at: Date }>(
    `SELECT state, reason, computed_at FROM publication WHERE record_id = $1`,
    [recordId],
  );
  const history = await ctx.db.query<{
    at: Date;
    state: string;
    reason: string | null;
    public_from: string | null;
    public_until: string | null;
  }>(
    `SELECT at, state, reason, public_from::text AS public_from, public_until::text AS public_until
     FROM publication_events WHERE record_id = $1 ORDER BY id`,
    [recordId],
  );
  const objections = (await listObjections(ctx.db, { today: ctx.today })).filter(
    (o) => o.record === recordId,
  );
  const why = [...decision.why];
  if (stored && stored.state !== decision.state)
    why.push(
      `公示视图仍按上次计算的状态（${stored.state}）显示，下次运行或 guiji publication refresh 后更新`,
    );
  return {
    record: recordId,
    resource: record.resource.id,
    resourceName: record.resource.name,
    version: record.version,
    today: ctx.today,
    state: decision.state,
    reason: decision.reason,
    reasonText: REASON_TEXT[decision.reason],
    publicFrom: decision.publicFrom,
    publicUntil: decision.publicUntil,
    severity: decision.severity,
    repairFrom: decision.repairFrom,
    repairable: decision.repairable,
    basis: decision.basis,
    why,
    computedAt: shanghaiIsoOrNull(stored?.computed_at),
    history: history.map((h) => ({
      at: shanghaiIso(h.at),
      state: h.state,
      reason: h.reason,
      from: h.public_from,
      until: h.public_until,
    })),
    objections,
    repairs: await listRepairs(ctx, { record: recordId }),
  };
}

const STATE_TEXT: Record<string, string> = {
  pending: '待公示',
  public: '公示中',
  suspended: '暂停公示',
  withdrawn: '已撤下',
};

export function stateText(state: string): string {
  return STATE_TEXT[state] ?? state;
}

export function formatPublication(r: PublicationReport): string {
  const lines = [
    `记录 ${r.record}（${r.resourceName}，版本 ${r.version}）于 ${r.today}：${stateText(r.state)} — ${r.reasonText ?? ''}`,
    `公示期：${r.publicFrom ?? '未载明'} 至 ${r.publicUntil ?? '无截止日'}`,
    ...(r.severity ? [`严重程度：${r.severity === 'serious' ? '严重' : '一般'}`] : []),
    ...(r.repairFrom ? [`信用修复：${r.repairable ? `${r.repairFrom} 起可申请` : '不予提前修复'}`] : []),
    '原因：',
    ...r.why.map((w) => `  - ${w}`),
  ];
  if (r.history.length) {
    lines.push('状态变化：');
    for (const h of r.history)
      lines.push(
        `  ${h.at.slice(0, 16).replace('T', ' ')}  ${stateText(h.state)}（${REASON_TEXT[h.reason as Reason] ?? h.reason ?? ''}）`,
      );
  }
  for (const o of r.objections)
    lines.push(
      `异议 ${o.id}：${o.received} 受理，期限 ${o.deadline}，${o.status === 'open' ? '处理中' : `已办结（${o.outcome}）`}`,
    );
  for (const p of r.repairs)
    lines.push(`信用修复 ${p.id}：${p.date}，${p.status === 'applied' ? '有效' : '已撤销'}`);
  return lines.join('\n');
}

/** A person takes a record down (or puts it back) whatever its period says; recorded in the audit log. */
export async function setWithdrawal(
  ctx: PublicationContext,
  input: { record: number; reason: string; withdraw: boolean; by?: string },
): Promise<PublicationReport> {
  if (!input.reason.trim()) throw new GuijiError('GUIJI_ERR_USAGE', '--reason：请写明理由');
  return changeRecord(
    ctx,
    input.record,
    input.by,
    input.withdraw ? 'publication.withdraw' : 'publication.restore',
    input.reason,
    {
      sql: `UPDATE publication SET withdrawn_reason = $2 WHERE record_id = $1`,
      value: input.withdraw ? input.reason.trim() : null,
    },
  );
}

/** A person decides the penalty's severity (严重/一般), or gives it back to the catalog's rules (`auto`). */
export async function setSeverity(
  ctx: PublicationContext,
  input: { record: number; severity: Severity | 'auto'; reason: string; by?: string },
): Promise<PublicationReport> {
  if (!input.reason.trim()) throw new GuijiError('GUIJI_ERR_USAGE', '--reason：请写明认定依据');
  return changeRecord(ctx, input.record, input.by, 'publication.severity', input.reason, {
    sql: `UPDATE publication SET severity_override = $2 WHERE record_id = $1`,
    value: input.severity === 'auto' ? null : input.severity,
  });
}

async function changeRecord(
  ctx: PublicationContext,
  recordId: number,
  by: string | undefined,
  action: string,
  reason: string,
  change: { sql: string; value: string | null },
): Promise<PublicationReport> {
  const record = await publicRecord(ctx, recordId);
  // the row exists once the record's state was computed: compute it first when a run has not yet
  await refreshRecord(ctx, recordId);
  await ctx.db.transaction(async (tx) => {
    await tx.query(change.sql, [recordId, change.value]);
    await recordAudit(tx, {
      actor: actorOf(by),
      action,
      resource: record.resource.id,
      recordId,
      reason: reason.trim(),
      detail: { value: change.value },
    });
  });
  await refreshRecord(ctx, recordId);
  return showPublication(ctx, recordId);
}
