import type { FastifyRequest } from 'fastify';
import type { Catalog } from '../../catalog/load.js';
import type { Config } from '../../lib/config.js';
import type { Warehouse } from '../../lib/db.js';
import { GuijiError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { acceptReview, type Decision, rejectReview } from '../match/review.js';
import { viaOf } from './security.js';

/** What every route of the console reads: passed in, never a module-level singleton. */
export interface ConsoleContext {
  config: Readonly<Config>;
  db: Warehouse;
  catalog: Catalog;
  logger: Logger;
  /** GUIJI_SERVE_TOKEN; null: the console only shows, every action is refused. */
  token: string | null;
}

/** One action of a person or a script, as the audit log keeps it. */
export interface AuditEntry {
  action: string;
  target: string;
  outcome: 'done' | 'refused' | 'failed';
  /** Why it was refused or failed (a refusal's kind, a usage message). */
  detail?: string;
  ip: string;
  /** How the actor proved the token: header, form field or session cookie. */
  via?: string;
}

/**
 * Records an action in the audit log: a line of the service's log (pino, `audit: true`, never the token) and a
 * row of the warehouse's `audit_log` (migration 011; `guiji audit` lists it). A row that cannot be written is
 * said in the log: the action itself has already been done or refused.
 */
export async function audit(ctx: ConsoleContext, entry: AuditEntry): Promise<void> {
  ctx.logger.info({ audit: true, ...entry }, `console action ${entry.action} ${entry.outcome}`);
  try {
    await ctx.db.query(
      `INSERT INTO audit_log (actor, action, reason, detail) VALUES ($1, $2, $3, $4::jsonb)`,
      [
        consoleActor(entry.via ?? 'session', entry.ip),
        `console.${entry.action}`,
        entry.detail ?? null,
        JSON.stringify({ target: entry.target, outcome: entry.outcome }),
      ],
    );
  } catch (error) {
    ctx.logger.error({ err: (error as Error).message, action: entry.action }, 'audit row not written');
  }
}

/** Who acted, as the audit log names a console user: how the token was offered and from where. */
function consoleActor(via: string, ip: string): string {
  return `console ${via} ${ip}`;
}

/** The actor of a request, as {@link audit} records it (objections and repairs pass it as `by`). */
export function actorOfRequest(request: FastifyRequest): string {
  return consoleActor(viaOf(request), request.ip);
}

/** Accepts (filing under `uscc`, or the only candidate) or rejects review `id`, audited whether done or failed. */
export async function decideReview(
  ctx: ConsoleContext,
  request: FastifyRequest,
  kind: 'accept' | 'reject',
  id: number,
  uscc: string | undefined,
): Promise<Decision> {
  const entry = { action: `review.${kind}`, target: `review ${id}`, ip: request.ip, via: viaOf(request) };
  try {
    const result =
      kind === 'accept'
        ? await acceptReview(ctx.db, ctx.catalog, id, uscc)
        : await rejectReview(ctx.db, ctx.catalog, id);
    await audit(ctx, { ...entry, outcome: 'done', detail: result.uscc ?? '' });
    return result;
  } catch (error) {
    const detail = error instanceof GuijiError ? error.message : 'internal error';
    await audit(ctx, { ...entry, outcome: 'failed', detail });
    throw error;
  }
}
