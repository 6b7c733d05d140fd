import type { SqlTx, Warehouse } from '../../lib/db.js';
import { shanghaiIso } from '../../lib/time.js';

/**
 * The audit log: every change a person makes to what is published (objection, repair, withdrawal, severity),
 * with who, when, what and why, written in the transaction of the change.
 */

export interface AuditEntry {
  actor: string;
  action: string;
  resource: string;
  recordId: number;
  /** The objection's or repair's id, when the change has one. */
  subjectId?: number;
  reason?: string | null;
  detail?: Record<string, unknown>;
}

export async function recordAudit(tx: SqlTx, entry: AuditEntry): Promise<void> {
  await tx.query(
    `INSERT INTO audit_log (actor, action, resource, record_id, subject_id, reason, detail)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`,
    [
      entry.actor,
      entry.action,
      entry.resource,
      entry.recordId,
      entry.subjectId ?? null,
      entry.reason ?? null,
      JSON.stringify(entry.detail ?? {}),
    ],
  );
}

export interface AuditLine {
  id: number;
  at: string;
  by: string;
  action: string;
  resource: string | null;
  record: number | null;
  subject: number | null;
  reason: string | null;
  detail: Record<string, unknown>;
}

export async function listAudit(
  db: Warehouse,
  options: { record?: number; limit?: number } = {},
): Promise<AuditLine[]> {
  const rows = await db.query<{
    id: string;
    at: Date;
    actor: string;
    action: string;
    resource: string | null;
    record_id: string | null;
    subject_id: string | null;
    reason: string | null;
    detail: Record<string, unknown>;
  }>(`SELECT * FROM audit_log WHERE ($1::bigint IS NULL OR record_id = $1) ORDER BY id DESC LIMIT $2`, [
    options.record ?? null,
    options.limit ?? 100,
  ]);
  return rows.map((r) => ({
    id: Number(r.id),
    at: shanghaiIso(r.at),
    by: r.actor,
    action: r.action,
    resource: r.resource,
    record: r.record_id === null ? null : Number(r.record_id),
    subject: r.subject_id === null ? null : Number(r.subject_id),
    reason: r.reason,
    detail: r.detail,
  }));
}

/** What each action is called in the printed list. */
export const ACTION_TEXT: Record<string, string> = {
  'objection.open': '受理异议',
  'objection.resolve': '办结异议',
  'repair.apply': '信用修复',
  'repair.revoke': '撤销信用修复',
  'publication.withdraw': '人工撤下公示',
  'publication.restore': '恢复公示',
  'publication.severity': '认定严重程度',
};
