import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GuijiError } from '../lib/errors.js';
import type { Catalog } from './load.js';

/**
 * How long what the catalog collects stays public (STANDARDS.md §8), as data: `catalog/publication.json`, one
 * rule per public resource, each naming its source and the date it took effect. The credit office edits it;
 * `guiji catalog validate` and every command that reads it check it against the catalog.
 */

/** Minimum and maximum publication in months from the decision date. */
export interface PeriodBounds {
  minMonths: number;
  maxMonths: number;
}

/** One regime of penalty periods (527号 of 2019, the 2023 repair rules): applies to decisions before `decidedBefore`. */
export interface PenaltyPeriods {
  id: string;
  source: string;
  effective: string;
  decidedBefore?: string;
  general: PeriodBounds;
  serious: PeriodBounds;
  /** The minimum in the domains listed by the rule (特种设备, 安全生产, 消防), when longer. */
  domainMinMonths?: number;
}

export interface Domain {
  name: string;
  /** Words that, in any of `fields`, put a record in the domain. */
  contains: string[];
  fields: string[];
  /** Departments (as records name them) whose records are all in the domain. */
  departments?: string[];
}

interface RuleBase {
  /** The date field publication starts from (default: the resource's produced date). */
  from?: string;
  /** The last day public, when the record gives it (licence valid to, list validity). */
  until?: string;
  /** A removal date: public until the day before. */
  removed?: string;
  /** Status values that mean revoked (撤销, 无效): withdrawn and kept. */
  revoked?: { field: string; values: string[]; source: string };
  source?: string;
  effective?: string;
}

export interface OpenRule extends RuleBase {
  kind: 'open' | 'licence' | 'list';
}

export interface PenaltyRule extends RuleBase {
  kind: 'penalty';
  /** The record's own 公示截止期: its end date when given. */
  endDate?: string;
  /** The penalty's own validity (处罚有效期): explained, not a publication date (公示截止期 is). */
  validUntil?: string;
  severity: {
    kindsField: string;
    seriousKinds: string[];
    amountField?: string;
    seriousAmountAtLeast?: number;
    source: string;
    effective: string;
  };
  domains: Domain[];
  notRepairable?: { seriousKinds: string[]; source: string };
  periods: PenaltyPeriods[];
}

export type PublicationRule = OpenRule | PenaltyRule;

export interface PublicationRules {
  /** SHA-256 of the file: a changed file recomputes every record's state. */
  hash: string;
  resources: Map<string, PublicationRule>;
}

export const PUBLICATION_FILE = 'publication.json';

/** Reads `<catalogDir>/publication.json` and checks it against the catalog (fields exist, dates are dates). */
export function loadPublicationRules(catalogDir: string, catalog: Catalog): PublicationRules {
  const path = join(catalogDir, PUBLICATION_FILE);
  if (!existsSync(path)) return { hash: 'none', resources: new Map() };
  const text = readFileSync(path, 'utf8');
  let raw: { resources?: Record<string, PublicationRule> };
  try {
    raw = JSON.parse(text) as typeof raw;
  } catch (error) {
    throw new GuijiError('GUIJI_ERR_CATALOG', `${path}：不是有效的 JSON（${(error as Error).message}）`, {
      cause: error,
    });
  }
  const resources = new Map(Object.entries(raw.resources ?? {}));
  const problems = publicationProblems(resources, catalog);
  if (problems.length)
    throw new GuijiError('GUIJI_ERR_CATALOG', `${path}：${problems.join('；')}`, { context: { file: path } });
  return { hash: createHash('sha256').update(text).digest('hex'), resources };
}

/** What is wrong with the rules for this catalog (empty: nothing). */
export function publicationProblems(resources: Map<string, PublicationRule>, catalog: Catalog): string[] {
  const problems: string[] = [];
  for (const [id, rule] of resources) {
    const resource = catalog.resources.get(id);
    if (!resource) {
      problems.push(`${id} 不是资源目录中的资源`);
      continue;
    }
    if (resource.disclosure !== 'public') problems.push(`${id} 是共享资源，不得公示`);
    const fields = new Map(resource.current.fields.map((f) => [f.code, f]));
    const dateField = (code: string | undefined, what: string) => {
      if (code === undefined) return;
      if (fields.get(code)?.kind !== 'date') problems.push(`${id}.${what}：${code} 不是当前字段集的日期字段`);
    };
    const field = (code: string | undefined, what: string) => {
      if (code !== undefined && !fields.has(code)) problems.push(`${id}.${what}：${code} 不在当前字段集中`);
    };
    dateField(rule.from, 'from');
    dateField(rule.until, 'until');
    dateField(rule.removed, 'removed');
    field(rule.revoked?.field, 'revoked.field');
    if (rule.kind === 'penalty') {
      dateField(rule.endDate, 'endDate');
      dateField(rule.validUntil, 'validUntil');
      field(rule.severity.kindsField, 'severity.kindsField');
      field(rule.severity.amountField, 'severity.amountField');
      for (const d of rule.domains) for (const f of d.fields) field(f, `domains.${d.name}`);
      if (!rule.periods.length) problems.push(`${id}.periods：至少需要一项公示期限`);
    } else if (!['open', 'licence', 'list'].includes(rule.kind))
      problems.push(`${id}.kind：未知的类型 ${JSON.stringify(rule.kind)}`);
  }
  return problems;
}
