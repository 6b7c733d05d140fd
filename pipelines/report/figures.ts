/**
 * The briefing's figures, defined once: 归集, 清洗入库, 数据合规率, 迟报率 (and the match rate and department
 * score beside them). The cards, the tables by resource and department, the trends and the XLSX all take their
 * numbers through these functions, and the report's notes (HTML, XLSX, JSON `definitions`) print the words
 * below, so that what a figure means and how it is computed cannot drift apart.
 *
 * Every figure comes from `quality_metrics` (per run × resource × department), never from the run ledger:
 * the ledger counts rows per source (a row re-sent identical to what is stored is `unchanged`, and a record
 * written twice within one run is two rows), the metrics count records, and only they can be split by resource
 * and department. The ledger's rows read are reconciled with 归集 in {@link reconcile}.
 */
import type { ScoreWeights } from '../../catalog/load.js';
import type { Lang } from './labels.js';

/** The counts a figure is computed from, summed over any set of runs, resources or departments. */
export interface FigureParts {
  /** 清洗入库: records the runs wrote (new or changed), each record once a run. */
  loaded: number;
  /** Rows rejected with their reasons (quarantine). */
  quarantined: number;
  /** Rows rejected as a repeat of a natural key already in the same run. */
  duplicates: number;
  /** Records first received by the runs and measured against the collection deadline, and those late. */
  measured: number;
  late: number;
  /** Loaded records filed under no enterprise. */
  unmatched: number;
}

/** 归集: rows the runs received that were loaded or rejected (unchanged re-sends are not counted). */
export function collected(p: Pick<FigureParts, 'loaded' | 'quarantined' | 'duplicates'>): number {
  return p.loaded + p.quarantined + p.duplicates;
}

export function share(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

/** 数据合规率: of the rows collected, the share that passed every check (清洗入库 ÷ 归集). */
export function complianceRate(p: Pick<FigureParts, 'loaded' | 'quarantined' | 'duplicates'>): number | null {
  return share(p.loaded, collected(p));
}

/** 迟报率: of the records measured against the collection deadline, the share delivered late. */
export function lateRate(p: Pick<FigureParts, 'measured' | 'late'>): number | null {
  return share(p.late, p.measured);
}

/** 企业关联率: of the records loaded, the share filed under an enterprise of the register. */
export function matchRate(p: Pick<FigureParts, 'loaded' | 'unmatched'>): number | null {
  return share(p.loaded - p.unmatched, p.loaded);
}

/** The figures of a set of parts: the counts with 归集 and the three rates. */
export interface Figures extends FigureParts {
  read: number;
  complianceRate: number | null;
  lateRate: number | null;
  matchRate: number | null;
}

export function figuresOf(p: FigureParts): Figures {
  return {
    read: collected(p),
    ...p,
    complianceRate: complianceRate(p),
    lateRate: lateRate(p),
    matchRate: matchRate(p),
  };
}

export function emptyParts(): FigureParts {
  return { loaded: 0, quarantined: 0, duplicates: 0, measured: 0, late: 0, unmatched: 0 };
}

export function addParts(into: FigureParts, p: FigureParts): FigureParts {
  into.loaded += p.loaded;
  into.quarantined += p.quarantined;
  into.duplicates += p.duplicates;
  into.measured += p.measured;
  into.late += p.late;
  into.unmatched += p.unmatched;
  return into;
}

/**
 * The parts as sums over `quality_metrics m` (a fixed SQL text: select it beside a GROUP BY); a row read with
 * these columns goes through {@link partsOfRow}.
 */
export const PARTS_SQL = `
  coalesce(sum(m.value) FILTER (WHERE m.dimension = 'volume' AND m.measure = 'loaded'), 0) AS loaded,
  coalesce(sum(m.value) FILTER (WHERE m.dimension = 'volume' AND m.measure = 'quarantined'), 0) AS quarantined,
  coalesce(sum(m.value) FILTER (WHERE m.dimension = 'volume' AND m.measure = 'duplicates'), 0) AS duplicates,
  coalesce(sum(m.base) FILTER (WHERE m.dimension = 'timeliness' AND m.measure = 'collect_late'), 0) AS measured,
  coalesce(sum(m.value) FILTER (WHERE m.dimension = 'timeliness' AND m.measure = 'collect_late'), 0) AS late,
  coalesce(sum(m.value) FILTER (WHERE m.dimension = 'matching' AND m.measure = 'unmatched'), 0) AS unmatched`;

export type PartsRow = Record<keyof FigureParts, string | number | null>;

export function partsOfRow(row: PartsRow): FigureParts {
  return {
    loaded: Number(row.loaded ?? 0),
    quarantined: Number(row.quarantined ?? 0),
    duplicates: Number(row.duplicates ?? 0),
    measured: Number(row.measured ?? 0),
    late: Number(row.late ?? 0),
    unmatched: Number(row.unmatched ?? 0),
  };
}

/**
 * The ledger's rows read against 归集: rows read = 归集 + unchanged re-sends + rows that wrote a record the same
 * run had already written (a record sent by two sources, or twice by one, in one run counts once in 清洗入库).
 */
export interface Reconciliation {
  ledgerRead: number;
  collected: number;
  unchanged: number;
  rewrittenInRun: number;
}

export function reconcile(
  ledger: { read: number; unchanged: number },
  collectedRows: number,
): Reconciliation {
  return {
    ledgerRead: ledger.read,
    collected: collectedRows,
    unchanged: ledger.unchanged,
    rewrittenInRun: ledger.read - ledger.unchanged - collectedRows,
  };
}

/**
 * The department score, 0–100 with one decimal: the weighted mean of validity (数据合规率), timeliness
 * (1 − 迟报率) and completeness (share of required cells filled); a component without a base is left out and
 * the other weights renormalised; null when none has a base.
 */
export function departmentScore(
  weights: ScoreWeights,
  parts: { validity: number | null; timeliness: number | null; completeness: number | null },
): number | null {
  let sum = 0;
  let weight = 0;
  for (const key of ['validity', 'timeliness', 'completeness'] as const) {
    const value = parts[key];
    if (value === null) continue;
    sum += weights[key] * value;
    weight += weights[key];
  }
  return weight > 0 ? Math.round((1000 * sum) / weight) / 10 : null;
}

export const FIGURE_KEYS = ['read', 'loaded', 'complianceRate', 'lateRate', 'matchRate', 'score'] as const;
export type FigureKey = (typeof FIGURE_KEYS)[number];

/** One figure's definition as the report prints it, in both languages (the JSON carries both). */
export interface Definition {
  figure: FigureKey;
  nameZh: string;
  nameEn: string;
  zh: string;
  en: string;
  formula: string;
}

const pct = (w: number) => `${Math.round(w * 1000) / 10}%`;

/** The figures' definitions, the score's with the catalog's weights. */
export function definitions(weights: ScoreWeights): Definition[] {
  return [
    {
      figure: 'read',
      nameZh: '归集',
      nameEn: 'Collected',
      zh: '统计范围内各次运行收到并处理的记录行数：清洗入库 + 不合规（隔离）+ 重复。与库中已有内容完全相同的重复推送（未变化）不计入，单列显示；历史补录不计入月度数据，单列显示。',
      en: 'Rows the runs of the scope received and processed: loaded + quarantined + duplicates. Rows re-sent identical to what is stored (unchanged) are not counted and are shown apart; history backfills are not in the month’s figures and are shown apart.',
      formula: 'loaded + quarantined + duplicates',
    },
    {
      figure: 'loaded',
      nameZh: '清洗入库',
      nameEn: 'Cleaned and loaded',
      zh: '通过全部校验、写入数据仓库的记录数（新增 + 更新），每条记录每次运行计一次。',
      en: 'Records that passed every check and were written to the warehouse (new + changed), each record once a run.',
      formula: 'inserted + updated',
    },
    {
      figure: 'complianceRate',
      nameZh: '数据合规率',
      nameEn: 'Compliance rate',
      zh: '清洗入库 ÷ 归集：归集的记录中通过全部校验的比例（不合规与重复行不合规）。',
      en: 'Loaded ÷ collected: the share of collected rows that passed every check (quarantined and duplicate rows do not).',
      formula: 'loaded / (loaded + quarantined + duplicates)',
    },
    {
      figure: 'lateRate',
      nameZh: '迟报率',
      nameEn: 'Late-report rate',
      zh: '迟报 ÷ 参与时限统计：运行首次收到、有产生日期的记录中，从产生日期到报送超过该类信息归集时限（7 个工作日）的比例。迟报率超过 50% 的部门列为需重点关注整改。',
      en: 'Late ÷ measured: of the records first received by the runs that have a produced date, the share delivered more than the resource’s collection deadline (7 working days) after it. Departments above 50% are listed to be watched.',
      formula: 'late / measured',
    },
    {
      figure: 'matchRate',
      nameZh: '企业关联率',
      nameEn: 'Match rate',
      zh: '清洗入库的记录中已关联到登记企业的比例。',
      en: 'The share of loaded records filed under an enterprise of the register.',
      formula: '(loaded − unmatched) / loaded',
    },
    {
      figure: 'score',
      nameZh: '部门评分',
      nameEn: 'Department score',
      zh: `0–100 分：有效性（该部门的数据合规率）× ${pct(weights.validity)} + 及时性（1 − 迟报率）× ${pct(weights.timeliness)} + 完整性（必填项填报率）× ${pct(weights.completeness)}；某项无统计基数时不计，其余权重按比例放大。权重取自资源目录 catalog.json 的 quality.scoreWeights。`,
      en: `0–100: validity (the department’s compliance rate) × ${pct(weights.validity)} + timeliness (1 − late-report rate) × ${pct(weights.timeliness)} + completeness (required cells filled) × ${pct(weights.completeness)}; a part without a base is left out and the other weights scaled up. The weights are the catalog’s (catalog.json quality.scoreWeights).`,
      formula: `100 × (${weights.validity}·validity + ${weights.timeliness}·timeliness + ${weights.completeness}·completeness) / (sum of the weights of the parts with a base)`,
    },
  ];
}

/** A definition's name and words in one language. */
export function definitionText(d: Definition, lang: Lang): { name: string; text: string } {
  return lang === 'zh' ? { name: d.nameZh, text: d.zh } : { name: d.nameEn, text: d.en };
}

/**
 * The counts one line of a table sums from `quality_metrics` lines (a resource, or a department × resource
 * cell); its 归集 and rates come from the functions above.
 */
export interface LineCounts {
  /** 归集, set from its parts by {@link collected} once the lines are summed (never summed itself). */
  read: number;
  loaded: number;
  inserted: number;
  updated: number;
  quarantined: number;
  duplicates: number;
  /** New records measured against the collection deadline, on time and late. */
  measured: number;
  onTime: number;
  late: number;
  /** Public records measured against the publication deadline, and those published late. */
  publishMeasured: number;
  publishLate: number;
}

export function emptyCounts(): LineCounts {
  return {
    read: 0,
    loaded: 0,
    inserted: 0,
    updated: 0,
    quarantined: 0,
    duplicates: 0,
    measured: 0,
    onTime: 0,
    late: 0,
    publishMeasured: 0,
    publishLate: 0,
  };
}

/** A `volume` metric line: rows loaded, inserted, updated, quarantined and rejected as duplicates. */
function addVolume(c: LineCounts, measure: string, value: number): void {
  if (measure === 'loaded') c.loaded += value;
  else if (measure === 'inserted') c.inserted += value;
  else if (measure === 'updated') c.updated += value;
  else if (measure === 'quarantined') c.quarantined += value;
  else if (measure === 'duplicates') c.duplicates += value;
  c.read = collected(c);
}

/** A `timeliness` metric line: the collection deadline counts records measured and late; the publication one, public ones. */
function addTimeliness(c: LineCounts, measure: string, value: number, base: number): void {
  if (measure === 'collect_late') {
    c.late += value;
    c.measured += base;
  } else if (measure === 'collect_on_time') c.onTime += value;
  else if (measure === 'publish_late') {
    c.publishLate += value;
    c.publishMeasured += base;
  }
}

/** A metric line (volume or timeliness) into `c`; the other dimensions have tables of their own. */
export function addCounts(
  c: LineCounts,
  dimension: string,
  measure: string,
  value: number,
  base: number,
): void {
  if (dimension === 'volume') addVolume(c, measure, value);
  else if (dimension === 'timeliness') addTimeliness(c, measure, value, base);
}
