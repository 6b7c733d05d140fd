import type { Catalog } from '../../catalog/load.js';
import type { Config } from '../../lib/config.js';
import type { Warehouse } from '../../lib/db.js';
import type { Logger } from '../../lib/logger.js';

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
 * Records an action in the audit log: the service's log (pino), one line per action with `audit: true`, never
 * the token. (The warehouse has no audit table yet; the publication issue adds one.)
 */
export function audit(ctx: ConsoleContext, entry: AuditEntry): void {
  ctx.logger.info({ audit: true, ...entry }, `console action ${entry.action} ${entry.outcome}`);
}
