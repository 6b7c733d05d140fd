import { userInfo } from 'node:os';
import type { Catalog, Resource } from '../../catalog/load.js';
import {
  loadPublicationRules,
  type PublicationRule,
  type PublicationRules,
} from '../../catalog/publication.js';
import type { Config } from '../../lib/config.js';
import type { Warehouse } from '../../lib/db.js';
import { GuijiError } from '../../lib/errors.js';
import { shanghaiDate } from '../../lib/time.js';
import { type Decision, decide } from './decide.js';
import { basisOfOpen, factsOf, interventionsOf, recordSelectSql, refreshPublication } from './state.js';

/** What the publication commands share: the catalog, its publication rules and the day they decide for. */
export interface PublicationContext {
  db: Warehouse;
  catalog: Catalog;
  rules: PublicationRules;
  /** YYYY-MM-DD: `--today`, else GUIJI_TODAY, else today in Asia/Shanghai. */
  today: string;
  catalogDir: string;
}

export function publicationContext(
  db: Warehouse,
  catalog: Catalog,
  config: Readonly<Config>,
  today?: string,
): PublicationContext {
  return {
    db,
    catalog,
    rules: loadPublicationRules(config.catalogDir, catalog),
    today: today ?? config.today ?? shanghaiDate(),
    catalogDir: config.catalogDir,
  };
}

/** Who made a change: `--by`, else the operating-system user. */
export function actorOf(by: string | undefined): string {
  if (by?.trim()) return by.trim();
  try {
    return userInfo().username;
  } catch {
    // a container's user without a passwd entry has no name: the audit still says it was not given
    return '（未知用户）';
  }
}

/** A public resource's record and the rule deciding its publication. */
export interface PublicRecord {
  recordId: number;
  resource: Resource;
  rule: PublicationRule;
  version: number;
}

/** The record a person names by its id; refused in Chinese when there is none or it is never public. */
export async function publicRecord(ctx: PublicationContext, recordId: number): Promise<PublicRecord> {
  const [row] = await ctx.db.query<{ resource: string; version: number }>(
    `SELECT resource, version FROM common_records WHERE record_id = $1`,
    [recordId],
  );
  if (!row)
    throw new GuijiError('GUIJI_ERR_USAGE', `记录编号 ${recordId} 不存在（记录编号见各视图的 record_id 列）`);
  const resource = ctx.catalog.resources.get(row.resource) as Resource;
  const rule = ctx.rules.resources.get(row.resource);
  if (resource.disclosure !== 'public' || !rule)
    throw new GuijiError(
      'GUIJI_ERR_USAGE',
      `记录 ${recordId} 属于“${resource.name}”，该资源不公示（仅限部门共享或资源目录未规定公示期限）`,
    );
  return { recordId, resource, rule, version: row.version };
}

/** The record's state as the rules decide it today, with what people decided about it. */
export async function decisionOf(ctx: PublicationContext, record: PublicRecord): Promise<Decision> {
  const rows = await ctx.db.query<Parameters<typeof factsOf>[2]>(
    `${recordSelectSql(record.resource, record.rule)} WHERE r.record_id = $1`,
    [record.recordId],
  );
  const row = rows[0];
  if (!row) throw new GuijiError('GUIJI_ERR_USAGE', `记录编号 ${record.recordId} 不存在`);
  const people = await interventionsOf(ctx.db, rows);
  return decide(
    factsOf(record.resource, record.rule, row),
    record.rule,
    ctx.today,
    people.get(record.recordId),
    basisOfOpen(record.resource),
  );
}

/** After a person's decision: the record's state computed again at once (it leaves or enters the public view). */
export async function refreshRecord(ctx: PublicationContext, recordId: number): Promise<void> {
  await refreshPublication(ctx.db, ctx.catalog, ctx.rules, { today: ctx.today, records: [recordId] });
}
