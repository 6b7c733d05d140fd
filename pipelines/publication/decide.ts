import type { PenaltyPeriods, PenaltyRule, PublicationRule } from '../../catalog/publication.js';
import { dateOfDayNumber, dayNumberOf } from '../../lib/calendar.js';

/**
 * Whether one record is public today, and why (STANDARDS.md §8): a pure function of the record's fields, the
 * catalog's publication rule for its resource, what people decided about it (objection, repair, withdrawal,
 * severity) and the day. The warehouse keeps its result in `publication` (state.ts); `guiji publication show`
 * prints its reasons.
 */

export type PublicationState = 'pending' | 'public' | 'suspended' | 'withdrawn';

/** Why a record is in its state: a stable code (the `reason` column); {@link REASON_TEXT} says it in Chinese. */
export type Reason =
  | 'period'
  | 'not-yet'
  | 'no-start-date'
  | 'expired'
  | 'removed'
  | 'revoked'
  | 'repaired'
  | 'objection'
  | 'objection-corrected'
  | 'objection-upheld'
  | 'withdrawn-manually';

export const REASON_TEXT: Record<Reason, string> = {
  period: '在公示期内',
  'not-yet': '公示期尚未开始',
  'no-start-date': '缺少公示起始日期，暂不公示',
  expired: '公示期已届满',
  removed: '已移出名单',
  revoked: '已撤销（当前状态为无效）',
  repaired: '已完成信用修复',
  objection: '异议处理中，暂停公示',
  'objection-corrected': '异议成立需更正，待更正后的记录归集后公示',
  'objection-upheld': '异议成立，撤下公示',
  'withdrawn-manually': '经人工决定撤下公示',
};

export type Severity = 'general' | 'serious';

/** The record as the rules read it: dates written YYYY-MM-DD, other values as text. */
export interface RecordFacts {
  recordId: number;
  resource: string;
  version: number;
  producedDate: string | null;
  department: string | null;
  fields: Readonly<Record<string, string | null>>;
}

/** What people decided about the record (objection, repair, manual withdrawal, severity). */
export interface Interventions {
  objection?: {
    id: number;
    status: 'open' | 'resolved';
    outcome: 'upheld' | 'corrected' | 'rejected' | null;
    /** The record's version when the objection was resolved as corrected: a later version is published. */
    correctedVersion: number | null;
    deadline: string;
  };
  repair?: { id: number; date: string };
  withdrawal?: { reason: string };
  severity?: Severity;
}

export interface Decision {
  state: PublicationState;
  reason: Reason;
  publicFrom: string | null;
  /** The last day public (inclusive); null: no end. */
  publicUntil: string | null;
  severity: Severity | null;
  /** The first day a credit repair may be applied; null: no repair for this record. */
  repairFrom: string | null;
  repairable: boolean;
  /** The rule's source (a document and its effective date). */
  basis: string;
  /** The reasons, in Chinese, in the order they were weighed. */
  why: string[];
}

export function addDays(date: string, days: number): string {
  return dateOfDayNumber((dayNumberOf(date) as number) + days);
}

/** The same day `months` later; the month's last day when it has no such day (01-31 + 1 month = 02-28). */
export function addMonths(date: string, months: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const index = y * 12 + (m - 1) + months;
  const year = Math.floor(index / 12);
  const month = (index % 12) + 1;
  const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(Math.min(d, last)).padStart(2, '0')}`;
}

const earlier = (a: string, b: string) => (a < b ? a : b);

/** The period a rule gives the record: from, last day, severity and the first day of repair. */
interface Period {
  from: string | null;
  until: string | null;
  severity: Severity | null;
  repairFrom: string | null;
  repairable: boolean;
  /** Whether `until` comes from the removal date (移出). */
  removal: boolean;
  /** Whether a record without a start date waits (penalties, licences, lists) or is public (the rest). */
  startRequired: boolean;
  basis: string;
  why: string[];
}

/** Decides the record's state today. */
export function decide(
  facts: RecordFacts,
  rule: PublicationRule,
  today: string,
  people: Interventions = {},
  basisOfOpen = '',
): Decision {
  const period =
    rule.kind === 'penalty' ? penaltyPeriod(facts, rule, people) : plainPeriod(facts, rule, basisOfOpen);
  const result = (state: PublicationState, reason: Reason, note?: string): Decision => ({
    state,
    reason,
    publicFrom: period.from,
    publicUntil: period.until,
    severity: period.severity,
    repairFrom: period.repairFrom,
    repairable: period.repairable,
    basis: period.basis,
    why: [...period.why, note ?? REASON_TEXT[reason]],
  });
  const revoked = rule.revoked && facts.fields[rule.revoked.field];
  if (revoked && rule.revoked?.values.includes(revoked))
    return result(
      'withdrawn',
      'revoked',
      `当前状态为 ${revoked}（无效/撤销），撤下公示并保留记录（${rule.revoked.source}）`,
    );
  const { objection, repair, withdrawal } = people;
  if (objection?.outcome === 'upheld')
    return result('withdrawn', 'objection-upheld', `异议 ${objection.id} 成立，撤下公示`);
  if (withdrawal)
    return result('withdrawn', 'withdrawn-manually', `经人工决定撤下公示：${withdrawal.reason}`);
  if (repair)
    return result('withdrawn', 'repaired', `${repair.date} 完成信用修复（修复 ${repair.id}），提前撤下公示`);
  if (objection?.status === 'open')
    return result(
      'suspended',
      'objection',
      `异议 ${objection.id} 处理中（处理期限 ${objection.deadline}），暂停公示`,
    );
  if (objection?.outcome === 'corrected' && facts.version <= (objection.correctedVersion ?? 0))
    return result(
      'suspended',
      'objection-corrected',
      `异议 ${objection.id} 需更正：待部门报送更正后的记录（当前版本 ${facts.version}）`,
    );
  return byDates(period, today, result);
}

function byDates(
  period: Period,
  today: string,
  result: (state: PublicationState, reason: Reason, note?: string) => Decision,
): Decision {
  if (period.from === null)
    return period.startRequired
      ? result('pending', 'no-start-date')
      : result('public', 'period', '长期公示（未载明起始日期，无截止日期）');
  if (today < period.from) return result('pending', 'not-yet', `公示自 ${period.from} 开始`);
  if (period.until !== null && today > period.until)
    return period.removal
      ? result('withdrawn', 'removed', `已于 ${addDays(period.until, 1)} 移出名单`)
      : result('withdrawn', 'expired', `公示期至 ${period.until} 已届满`);
  return result(
    'public',
    'period',
    period.until === null
      ? `自 ${period.from} 起公示，无截止日期`
      : `公示期 ${period.from} 至 ${period.until}`,
  );
}

/** Licences, lists and the resources public as their catalog entry declares. */
function plainPeriod(facts: RecordFacts, rule: PublicationRule, basisOfOpen: string): Period {
  const from = (rule.from ? facts.fields[rule.from] : facts.producedDate) ?? null;
  const until = rule.until ? (facts.fields[rule.until] ?? null) : null;
  const removedOn = rule.removed ? (facts.fields[rule.removed] ?? null) : null;
  const dayBefore = removedOn ? addDays(removedOn, -1) : null;
  const last = dayBefore && until ? earlier(dayBefore, until) : (dayBefore ?? until);
  const basis = rule.source ? `${rule.source}（${rule.effective ?? '生效日期未载明'}起）` : basisOfOpen;
  const why = [`依据：${basis}`];
  if (rule.kind === 'licence') why.push(until ? `许可有效期至 ${until}` : '许可未载明有效期截止日期');
  if (removedOn) why.push(`移出日期 ${removedOn}`);
  return {
    from,
    until: last,
    severity: null,
    repairFrom: null,
    repairable: false,
    removal: dayBefore !== null && last === dayBefore,
    startRequired: rule.kind !== 'open',
    basis,
    why,
  };
}

function severityOf(
  facts: RecordFacts,
  rule: PenaltyRule,
  kinds: string[],
  people: Interventions,
): { severity: Severity; why: string } {
  if (people.severity)
    return {
      severity: people.severity,
      why: `严重程度由人工认定为${people.severity === 'serious' ? '严重' : '一般'}`,
    };
  const s = rule.severity;
  const kind = kinds.find((k) => s.seriousKinds.includes(k));
  if (kind) return { severity: 'serious', why: `处罚类别 ${kind} 属严重情形（${s.source}）` };
  const amount = s.amountField ? Number(facts.fields[s.amountField] ?? Number.NaN) : Number.NaN;
  if (s.seriousAmountAtLeast !== undefined && amount >= s.seriousAmountAtLeast)
    return {
      severity: 'serious',
      why: `罚款 ${amount} 万元，达到严重情形门槛 ${s.seriousAmountAtLeast} 万元`,
    };
  return { severity: 'general', why: '一般失信行为（未达严重情形）' };
}

function regimeOf(rule: PenaltyRule, from: string): PenaltyPeriods {
  return (rule.periods.find((p) => p.decidedBefore === undefined || from < p.decidedBefore) ??
    rule.periods[rule.periods.length - 1]) as PenaltyPeriods;
}

function domainOf(facts: RecordFacts, rule: PenaltyRule): string | null {
  const hit = rule.domains.find(
    (d) =>
      (facts.department !== null && d.departments?.includes(facts.department)) ||
      d.fields.some((f) => d.contains.some((word) => facts.fields[f]?.includes(word))),
  );
  return hit?.name ?? null;
}

/** 527号 / the 2023 rules: minimum and maximum from the decision date, severity and domain deciding which. */
function penaltyPeriod(facts: RecordFacts, rule: PenaltyRule, people: Interventions): Period {
  const from = (rule.from ? facts.fields[rule.from] : facts.producedDate) ?? null;
  if (from === null)
    return {
      from,
      until: null,
      severity: null,
      repairFrom: null,
      repairable: false,
      removal: false,
      startRequired: true,
      basis: '',
      why: [],
    };
  const kinds = (facts.fields[rule.severity.kindsField] ?? '').split(';').filter(Boolean);
  const { severity, why: severityWhy } = severityOf(facts, rule, kinds, people);
  const regime = regimeOf(rule, from);
  const bounds = regime[severity];
  const domain = domainOf(facts, rule);
  const minMonths =
    domain && regime.domainMinMonths ? Math.max(bounds.minMonths, regime.domainMinMonths) : bounds.minMonths;
  const repairFrom = addMonths(from, minMonths);
  const maxUntil = addDays(addMonths(from, bounds.maxMonths), -1);
  const basis = `${regime.source}（${regime.effective}起）`;
  const why = [
    `依据：${basis}`,
    severityWhy,
    ...(domain ? [`属${domain}领域，最短公示期 ${minMonths} 个月`] : []),
    `决定日期 ${from}：最短公示 ${minMonths} 个月（${repairFrom} 起可申请信用修复），最长 ${bounds.maxMonths} 个月（至 ${maxUntil}）`,
  ];
  const own = rule.endDate ? facts.fields[rule.endDate] : null;
  const valid = rule.validUntil ? facts.fields[rule.validUntil] : null;
  let until = maxUntil;
  if (own) {
    until = own;
    why.push(`记录载明公示截止期 ${own}，以其为准`);
  }
  // 处罚有效期 is the penalty's own validity, not its publication: shown, never shortening the period
  if (valid) why.push(`处罚有效期至 ${valid}`);
  const barred = rule.notRepairable?.seriousKinds.find((k) => severity === 'serious' && kinds.includes(k));
  if (barred) why.push(`处罚类别 ${barred}：不予提前修复（${rule.notRepairable?.source}）`);
  return {
    from,
    until,
    severity,
    repairFrom,
    repairable: !barred,
    removal: false,
    startRequired: true,
    basis,
    why,
  };
}
