/**
 * What a quality report says, read from the quality tables (and the run ledger) for a scope of runs: the JSON
 * contract (`reportVersion` 1) that the HTML and XLSX reports render.
 */
import type { Catalog } from '../../catalog/load.js';
import { departmentName, scoreWeightsOf } from '../../catalog/load.js';
import type { Warehouse } from '../../lib/db.js';
import { shanghaiIso } from '../../lib/time.js';
import type { Issue } from '../../lib/types.js';
import { isCatalogDepartment } from '../quality/departments.js';
import { computeQualityMetrics, MATCH_METHODS } from '../quality/metrics.js';
import {
  attachMatrix,
  type DepartmentLine,
  type DepartmentScope,
  type DepartmentScore,
  departmentMatrix,
  type MetricSum,
  readRejectedFiles,
  resourceName,
} from './departments.js';
import {
  addCounts,
  addParts,
  collected,
  complianceRate,
  type Definition,
  definitions,
  departmentScore,
  emptyCounts,
  emptyParts,
  type FigureParts,
  type Figures,
  figuresOf,
  type LineCounts,
  lateRate,
  PARTS_SQL,
  type PartsRow,
  partsOfRow,
  type Reconciliation,
  share as rate,
  reconcile,
} from './figures.js';
import {
  type BackfillFigures,
  chinaMidnight,
  nextDay,
  nextMonthStart,
  periodOf,
  type ReportPeriod,
  readScopeBackfill,
  readScopedRuns,
} from './scope.js';
import {
  readDayTrends,
  readMonthTrends,
  readRunTrends,
  type TrendPeriod,
  type TrendPoint,
  trendDays,
  trendMonths,
  trendRunIds,
  trendWindowRuns,
} from './trends.js';

export type { BackfillFigures, ReportPeriod } from './scope.js';
export type { TrendPeriod, TrendPoint } from './trends.js';

export const REPORT_VERSION = 1;

/** A department whose late-report rate is above this is listed as "to be watched" (STANDARDS.md §7). */
export const WATCH_LATE_RATE = 0.5;

export interface ReportScope {
  /** The run the report is about (the last run of the scope). */
  runId: number;
  /** Every run the figures add up, oldest first. */
  runs: number[];
  /** Start of the first run of the scope (or of the period's first day), ISO 8601 with the +08:00 offset. */
  from: string;
  /**
   * End of the last run of the scope (its start when it has not finished), or the last millisecond of a
   * closed period (`--month`, `--until`), ISO 8601 with the +08:00 offset.
   */
  to: string;
  /** How the runs were asked for: a month, a range of days, since a day, or (all null) one run. */
  period: ReportPeriod;
  /** The report's run: its kind (`run`, `backfill`, …) and status (`succeeded`, `partial`, `failed`, …). */
  kind: string;
  status: string;
}

export interface ReportTotals {
  read: number;
  inserted: number;
  updated: number;
  unchanged: number;
  quarantined: number;
  duplicates: number;
  unmatched: number;
}

/** A resource's figures (figures.ts; unchanged rows are in totals only) and rates. */
export interface ResourceLine extends LineCounts {
  resource: string;
  name: string;
  matched: number;
  unmatched: number;
  /** Share of rows read that passed every check (数据合规率), and of measured records delivered late (迟报率). */
  complianceRate: number | null;
  lateRate: number | null;
}

export type { DepartmentLine, DepartmentResourceLine, MetricSum } from './departments.js';

export interface IssueLine {
  resource: string;
  type: string;
  field: string;
  count: number;
}

export interface CompletenessLine {
  resource: string;
  field: string;
  title: string;
  missing: number;
  rows: number;
  fillRate: number | null;
}

export interface MatchingLine {
  resource: string;
  method: string;
  count: number;
  share: number | null;
}

export interface UniquenessLine {
  resource: string;
  duplicatesInRun: number;
  acrossSources: number;
}

export interface ConsistencyLine {
  resource: string;
  nameMismatch: number;
  outOfRegion: number;
  conflictingVersions: number;
}

export interface OverdueLine {
  runId: number;
  resource: string;
  department: string;
  naturalKey: string;
  uscc: string | null;
  subjectName: string | null;
  producedDate: string;
  receivedDate: string;
  workdays: number;
  collectLate: boolean;
  publishLate: boolean;
}

export interface QuarantineSample {
  runId: number;
  resource: string | null;
  source: string;
  file: string | null;
  sheet: string | null;
  row: number | null;
  recordId: string | null;
  rowRef: string;
  issues: Issue[];
}

export interface QualityReport {
  reportVersion: typeof REPORT_VERSION;
  generatedAt: string;
  scope: ReportScope;
  totals: ReportTotals;
  resources: ResourceLine[];
  departments: DepartmentLine[];
  issues: IssueLine[];
  /** The headline figures of the scope (归集, 清洗入库, …), as every table computes them (./figures.ts). */
  figures: Figures;
  /** The run ledger's rows read against 归集: unchanged re-sends and records rewritten within a run. */
  reconciliation: Reconciliation;
  /** The headline rates of the scope (the monthly briefing's figures). */
  rates: { complianceRate: number | null; lateRate: number | null; matchRate: number | null };
  /** Backfill partitions started in the period: history, not in the figures, counted here from their ledger. */
  backfill: BackfillFigures;
  completeness: CompletenessLine[];
  matching: MatchingLine[];
  uniqueness: UniquenessLine[];
  consistency: ConsistencyLine[];
  /** Records delivered late, most overdue first: `total` of them, `rows` capped. */
  overdue: { total: number; rows: OverdueLine[] };
  /** Rejected rows with where they came from, capped; the full list is `guiji quarantine list`. */
  quarantineSamples: { total: number; rows: QuarantineSample[] };
  /** The last 30 nightly and manual runs up to the scope's run, oldest first (backfill partitions left out). */
  trends: TrendPoint[];
  /** Open objections (异议) past their deadline on the day of the report (issue 14). */
  objectionsOverdue: ObjectionOverdueLine[];
  /** Per China day of the period (else the last 31 days) and per month (the last 12), backfill apart. */
  trendsByDay: TrendPeriod[];
  trendsByMonth: TrendPeriod[];
  /** What each figure means and how it is computed (the report's notes). */
  definitions: Definition[];
  /**
   * Which resources the silent-department check covered: those the scope's runs read rows of or rejected a
   * file of (a resource nobody delivered in the scope is not in it), and how that was decided, in Chinese.
   */
  departmentScope: DepartmentScope;
}

export interface GatherOptions {
  /** 'latest' (default) or a run id. */
  run?: number | 'latest';
  /** Include every run started on or after this China date (YYYY-MM-DD) up to the run (or up to `until`). */
  since?: string;
  /** With `since`: every run started up to the end of this China date. */
  until?: string;
  /** Every run started in this Asia/Shanghai calendar month (YYYY-MM). */
  month?: string;
  /** The report's clock (default: now): its generation time, and where a period under way ends. */
  now?: Date;
  /** How many overdue records and quarantine samples to carry. */
  overdueCap?: number;
  sampleCap?: number;
  /** Where the calendar's override file lives, to compute the metrics of a run that has none yet. */
  catalogDir?: string;
  /** The China date objections' deadlines are compared with (default: today in Asia/Shanghai). */
  today?: string;
}

function dateText(value: Date | string): string {
  return typeof value === 'string' ? value.slice(0, 10) : value.toISOString().slice(0, 10);
}

/** The figures of a scope of runs. Runs whose metrics are missing (a failure, or runs before 005) are computed first. */
export async function gatherReport(
  db: Warehouse,
  catalog: Catalog,
  options: GatherOptions = {},
): Promise<QualityReport> {
  const period = periodOf(options);
  const runs = await readScopedRuns(db, options, period);
  const scope: ReportScope = { ...runs, period };
  const generatedAt = shanghaiIso(options.now ?? new Date());
  const today = options.today ?? generatedAt.slice(0, 10);
  const windows = trendWindows(scope, today);
  await computeMissingMetrics(db, catalog, scope, windows, options);
  const totals = await readTotals(db, scope.runs);
  const metrics = await readMetricSums(db, scope.runs);
  const tables = resourceTables(catalog, metrics);
  const matrix = attachMatrix(
    catalog,
    await readDepartments(db, catalog, scope.runs),
    departmentMatrix(metrics),
    await readRejectedFiles(db, scope.runs),
  );
  const overdue = await readOverdue(db, scope.runs, options.overdueCap ?? 200);
  const quarantineSamples = await readQuarantineSamples(db, scope.runs, options.sampleCap ?? 100);
  const figures = figuresOf(tables.resources.reduce((p, l) => addParts(p, partsOfLine(l)), emptyParts()));
  return {
    reportVersion: REPORT_VERSION,
    generatedAt,
    scope,
    totals,
    figures,
    reconciliation: reconcile(totals, figures.read),
    resources: tables.resources,
    departments: matrix.departments,
    issues: tables.issues,
    rates: {
      complianceRate: figures.complianceRate,
      lateRate: figures.lateRate,
      matchRate: figures.matchRate,
    },
    backfill: await readScopeBackfill(db, scope, period),
    completeness: tables.completeness,
    matching: tables.matching,
    uniqueness: tables.uniqueness,
    consistency: tables.consistency,
    overdue,
    quarantineSamples,
    trends: await readRunTrends(db, scope.runId),
    trendsByDay: await readDayTrends(db, windows.upTo, windows.days),
    trendsByMonth: await readMonthTrends(db, windows.upTo, windows.months),
    definitions: definitions(scoreWeightsOf(catalog)),
    objectionsOverdue: await readObjectionsPastDeadline(db, today),
    departmentScope: matrix.scope,
  };
}

/** A resource line's parts, as the figures take them. */
function partsOfLine(l: ResourceLine): FigureParts {
  return {
    loaded: l.loaded,
    quarantined: l.quarantined,
    duplicates: l.duplicates,
    measured: l.measured,
    late: l.late,
    unmatched: l.unmatched,
  };
}

/** The China days and months of the trends: the period's (else the last 31 days) and the last 12 months. */
interface TrendWindows {
  days: string[];
  months: string[];
  /** The last run the trends count: the report's run, or none for a closed period (its days decide). */
  upTo: number | null;
}

function trendWindows(scope: ReportScope, today: string): TrendWindows {
  const firstDay =
    scope.period.month !== null || scope.period.since !== null ? scope.from.slice(0, 10) : null;
  // a month still under way ends today: its days to come have nothing to show
  const end = scope.to.slice(0, 10);
  const lastDay = today < end && today >= (firstDay ?? end) ? today : end;
  const closed = scope.period.month !== null || scope.period.until !== null;
  return {
    days: trendDays(firstDay, lastDay),
    months: trendMonths(lastDay.slice(0, 7)),
    upTo: closed ? null : scope.runId,
  };
}

/**
 * Runs without metrics (their computation failed, runs older than the quality tables): those of the scope and
 * of the trends are computed now, from the warehouse as it is. Backfill partitions are not: the trends count
 * them from their ledger.
 */
async function computeMissingMetrics(
  db: Warehouse,
  catalog: Catalog,
  scope: ReportScope,
  windows: TrendWindows,
  options: GatherOptions,
): Promise<void> {
  const firstDay = [windows.days[0] as string, `${windows.months[0] as string}-01`].sort()[0] as string;
  const lastDay = windows.days[windows.days.length - 1] as string;
  const lastMonth = windows.months[windows.months.length - 1] as string;
  const end = [nextDay(lastDay), nextMonthStart(lastMonth)].sort().reverse()[0] as string;
  const wanted = [
    ...scope.runs,
    ...(await trendRunIds(db, scope.runId)),
    ...(await trendWindowRuns(db, windows.upTo, chinaMidnight(firstDay), chinaMidnight(end))),
  ];
  const missing = await db.query<{ id: string }>(
    `SELECT r.id FROM runs r
     WHERE r.id = ANY($1::bigint[]) AND NOT EXISTS (SELECT 1 FROM quality_runs q WHERE q.run_id = r.id)
     ORDER BY r.id`,
    [[...new Set(wanted)]],
  );
  for (const { id } of missing) {
    await computeQualityMetrics(
      db,
      catalog,
      Number(id),
      options.catalogDir ? { catalogDir: options.catalogDir } : {},
    );
  }
}

/** The run ledger's counts over the scope (unchanged rows included, which the metrics do not count). */
async function readTotals(db: Warehouse, runs: number[]): Promise<ReportTotals> {
  const [ledger] = await db.query<Record<keyof ReportTotals, string>>(
    `SELECT coalesce(sum(read), 0) AS read, coalesce(sum(inserted), 0) AS inserted,
            coalesce(sum(updated), 0) AS updated, coalesce(sum(unchanged), 0) AS unchanged,
            coalesce(sum(quarantined), 0) AS quarantined, coalesce(sum(duplicates), 0) AS duplicates,
            coalesce(sum(unmatched), 0) AS unmatched
     FROM source_runs WHERE run_id = ANY($1::bigint[])`,
    [runs],
  );
  return {
    read: Number(ledger?.read ?? 0),
    inserted: Number(ledger?.inserted ?? 0),
    updated: Number(ledger?.updated ?? 0),
    unchanged: Number(ledger?.unchanged ?? 0),
    quarantined: Number(ledger?.quarantined ?? 0),
    duplicates: Number(ledger?.duplicates ?? 0),
    unmatched: Number(ledger?.unmatched ?? 0),
  };
}

/** The report's tables by resource, sorted and with their rates. */
interface ResourceTablesResult {
  resources: ResourceLine[];
  issues: IssueLine[];
  completeness: CompletenessLine[];
  matching: MatchingLine[];
  uniqueness: UniquenessLine[];
  consistency: ConsistencyLine[];
}

/** The scope's metric lines summed over its runs, per resource × department (what every table adds up). */
async function readMetricSums(db: Warehouse, runs: number[]): Promise<MetricSum[]> {
  return db.query<MetricSum>(
    `SELECT resource, department, dimension, measure, field, sum(value) AS value, sum(base) AS base
     FROM quality_metrics WHERE run_id = ANY($1::bigint[])
     GROUP BY resource, department, dimension, measure, field
     ORDER BY resource, department, dimension, measure, field`,
    [runs],
  );
}

/** The scope's metrics summed over its departments into the tables by resource. */
function resourceTables(catalog: Catalog, metrics: MetricSum[]): ResourceTablesResult {
  const tables = new ResourceTables(catalog);
  for (const m of metrics) tables.add(m);
  return tables.finish();
}

/**
 * The tables by resource as the metric lines fill them: every line counts towards its resource's line, and
 * the dimensions that have a table of their own (issues, completeness, matching, uniqueness, consistency)
 * towards it.
 */
class ResourceTables {
  private readonly lines = new Map<string, ResourceLine>();
  private readonly issues = new Map<string, IssueLine>();
  private readonly completeness = new Map<string, CompletenessLine>();
  private readonly matching = new Map<string, MatchingLine>();
  private readonly uniqueness = new Map<string, UniquenessLine>();
  private readonly consistency = new Map<string, ConsistencyLine>();

  constructor(private readonly catalog: Catalog) {}

  /** One metric line: to its resource's line, and to the table its dimension has, if any. */
  add(m: MetricSum): void {
    const value = Number(m.value);
    const base = Number(m.base);
    const l = this.line(m.resource);
    switch (m.dimension) {
      case 'volume':
      case 'timeliness':
        addCounts(l, m.dimension, m.measure, value, base);
        break;
      case 'matching':
        this.addMatching(l, m, value);
        break;
      case 'validity':
        this.addIssue(m, value);
        break;
      case 'completeness':
        // rows loaded with warnings (`warned`) are not missing cells: the table's figures are the missing ones
        if (m.measure === 'missing') this.addCompleteness(m, value, base);
        break;
      case 'uniqueness':
        this.addUniqueness(m, value);
        break;
      case 'consistency':
        this.addConsistency(m, value);
        break;
    }
  }

  /** The tables sorted, with each line's rates: compliance and lateness, matching shares, fill rates. */
  finish(): ResourceTablesResult {
    const resources = [...this.lines.values()].sort((a, b) => a.resource.localeCompare(b.resource));
    for (const l of resources) {
      // 归集 and the rates as ./figures.ts defines them, as the cards and the trends have them
      l.read = collected(l);
      l.complianceRate = complianceRate(l);
      l.lateRate = lateRate(l);
    }
    for (const m of this.matching.values()) {
      m.share = rate(m.count, this.lines.get(m.resource)?.loaded ?? 0);
    }
    for (const c of this.completeness.values()) c.fillRate = rate(c.rows - c.missing, c.rows);
    const methodOrder = [...MATCH_METHODS, 'unmatched'];
    return {
      resources,
      issues: [...this.issues.values()].sort(
        (a, b) => b.count - a.count || a.resource.localeCompare(b.resource) || a.type.localeCompare(b.type),
      ),
      completeness: [...this.completeness.values()].sort(
        (a, b) =>
          a.resource.localeCompare(b.resource) ||
          (a.fillRate ?? 1) - (b.fillRate ?? 1) ||
          a.field.localeCompare(b.field),
      ),
      matching: [...this.matching.values()].sort(
        (a, b) =>
          a.resource.localeCompare(b.resource) ||
          methodOrder.indexOf(a.method as never) - methodOrder.indexOf(b.method as never),
      ),
      uniqueness: [...this.uniqueness.values()].sort((a, b) => a.resource.localeCompare(b.resource)),
      consistency: [...this.consistency.values()].sort((a, b) => a.resource.localeCompare(b.resource)),
    };
  }

  /** The line of `resource`, begun at zero; a quarantined row of no known resource is '(未识别)'. */
  private line(resource: string): ResourceLine {
    let l = this.lines.get(resource);
    if (!l) {
      l = {
        resource,
        name: resourceName(this.catalog, resource),
        ...emptyCounts(),
        matched: 0,
        unmatched: 0,
        complianceRate: null,
        lateRate: null,
      };
      this.lines.set(resource, l);
    }
    return l;
  }

  /** Records matched or not, on the resource's line and by method (their share comes in `finish`). */
  private addMatching(l: ResourceLine, m: MetricSum, value: number): void {
    if (m.measure === 'unmatched') l.unmatched += value;
    else l.matched += value;
    const key = `${m.resource}\u0000${m.measure}`;
    const ml = this.matching.get(key) ?? { resource: m.resource, method: m.measure, count: 0, share: null };
    ml.count += value;
    this.matching.set(key, ml);
  }

  /** Quarantine issues by resource, type and field. */
  private addIssue(m: MetricSum, value: number): void {
    const key = `${m.resource}\u0000${m.measure}\u0000${m.field}`;
    const il = this.issues.get(key) ?? { resource: m.resource, type: m.measure, field: m.field, count: 0 };
    il.count += value;
    this.issues.set(key, il);
  }

  /** Rows missing a field, of the rows that should have it, under the field's title. */
  private addCompleteness(m: MetricSum, value: number, base: number): void {
    const key = `${m.resource}\u0000${m.field}`;
    const cl = this.completeness.get(key) ?? {
      resource: m.resource,
      field: m.field,
      title: this.fieldTitle(m.resource, m.field),
      missing: 0,
      rows: 0,
      fillRate: null,
    };
    cl.missing += value;
    cl.rows += base;
    this.completeness.set(key, cl);
  }

  /** Duplicates within the runs and records replaced from another source. */
  private addUniqueness(m: MetricSum, value: number): void {
    const ul = this.uniqueness.get(m.resource) ?? {
      resource: m.resource,
      duplicatesInRun: 0,
      acrossSources: 0,
    };
    if (m.measure === 'duplicate_in_run') ul.duplicatesInRun += value;
    else if (m.measure === 'across_sources') ul.acrossSources += value;
    this.uniqueness.set(m.resource, ul);
  }

  /** Names unlike the register's, out-of-region codes, records replaced with different content. */
  private addConsistency(m: MetricSum, value: number): void {
    const cl = this.consistency.get(m.resource) ?? {
      resource: m.resource,
      nameMismatch: 0,
      outOfRegion: 0,
      conflictingVersions: 0,
    };
    if (m.measure === 'name_mismatch') cl.nameMismatch += value;
    else if (m.measure === 'out_of_region') cl.outOfRegion += value;
    else if (m.measure === 'conflicting_versions') cl.conflictingVersions += value;
    this.consistency.set(m.resource, cl);
  }

  /** A field's title in the newest version that has it (a field since dropped keeps its last title). */
  private fieldTitle(resource: string, field: string): string {
    const r = this.catalog.resources.get(resource);
    for (const v of [...(r?.versions ?? [])].reverse()) {
      const f = v.fields.find((x) => x.code === field);
      if (f) return f.title;
    }
    return field;
  }
}

/**
 * The departments' scorecard: the same score as the view quality_department_scores, over the scope's summed
 * parts; in order of score (departments.ts ranks them), and watched when more than half their measured records
 * came late.
 */
async function readDepartments(db: Warehouse, catalog: Catalog, runs: number[]): Promise<DepartmentScore[]> {
  const departmentRows = await db.query<PartsRow & { department: string; missing: string; cells: string }>(
    `SELECT m.department, ${PARTS_SQL},
       coalesce(sum(m.value) FILTER (WHERE m.dimension = 'completeness' AND m.measure = 'missing'), 0) AS missing,
       coalesce(sum(m.base) FILTER (WHERE m.dimension = 'completeness' AND m.measure = 'missing'), 0) AS cells
     FROM quality_metrics m WHERE m.run_id = ANY($1::bigint[]) GROUP BY m.department`,
    [runs],
  );
  const weights = scoreWeightsOf(catalog);
  return departmentRows
    .map((d) => {
      const f = figuresOf(partsOfRow(d));
      const parts = {
        validity: f.complianceRate,
        timeliness: f.lateRate === null ? null : 1 - f.lateRate,
        completeness: rate(Number(d.cells) - Number(d.missing), Number(d.cells)),
      };
      return {
        department: d.department,
        name: d.department === '' ? '(未填写)' : departmentName(catalog, d.department),
        resolved: isCatalogDepartment(catalog, d.department),
        read: f.read,
        quarantined: f.quarantined,
        duplicates: f.duplicates,
        late: f.late,
        measured: f.measured,
        ...parts,
        score: departmentScore(weights, parts),
        rank: 0,
        watch: f.lateRate !== null && f.lateRate > WATCH_LATE_RATE,
      };
    })
    .sort((a, b) => (b.score ?? -1) - (a.score ?? -1) || a.department.localeCompare(b.department));
}

/** The records delivered late in the scope, most overdue first: how many there are, and the first `cap`. */
async function readOverdue(db: Warehouse, runs: number[], cap: number): Promise<QualityReport['overdue']> {
  const [overdueTotal] = await db.query<{ n: string }>(
    `SELECT coalesce(sum(value), 0) AS n FROM quality_metrics
     WHERE run_id = ANY($1::bigint[]) AND dimension = 'timeliness' AND measure = 'collect_late'`,
    [runs],
  );
  const overdueRows = await db.query<{
    run_id: string;
    resource: string;
    department: string;
    natural_key: string;
    uscc: string | null;
    subject_name: string | null;
    produced_date: string;
    received_date: string;
    workdays: number;
    collect_late: boolean;
    publish_late: boolean;
  }>(
    // the lists hold the key and name masked as the public view shows them; an ID number a list kept from
    // before is masked here too, and the person's name beside it (issue 14: a report is an export)
    `SELECT run_id, resource, department, guiji_mask_key_ids(natural_key) AS natural_key, uscc,
            CASE WHEN guiji_mask_key_ids(natural_key) <> natural_key THEN guiji_mask_name(subject_name)
                 ELSE subject_name END AS subject_name,
            produced_date::text, received_date::text, workdays, collect_late, publish_late
     FROM quality_overdue WHERE run_id = ANY($1::bigint[])
     ORDER BY workdays DESC, resource, natural_key, record_id LIMIT $2`,
    [runs, cap],
  );
  return {
    total: Number(overdueTotal?.n ?? 0),
    rows: overdueRows.map((o) => ({
      runId: Number(o.run_id),
      resource: o.resource,
      department: o.department,
      naturalKey: o.natural_key,
      uscc: o.uscc,
      subjectName: o.subject_name,
      producedDate: dateText(o.produced_date),
      receivedDate: dateText(o.received_date),
      workdays: Number(o.workdays),
      collectLate: o.collect_late,
      publishLate: o.publish_late,
    })),
  };
}

/**
 * The scope's rejected rows: how many, and `cap` of them taken a few of each resource in turn rather than the
 * first hundred of one file.
 */
async function readQuarantineSamples(
  db: Warehouse,
  runs: number[],
  cap: number,
): Promise<QualityReport['quarantineSamples']> {
  const [sampleTotal] = await db.query<{ n: string }>(
    'SELECT count(*) AS n FROM quarantine WHERE run_id = ANY($1::bigint[])',
    [runs],
  );
  const samples = await db.query<{
    run_id: string;
    resource: string | null;
    source: string;
    file: string | null;
    sheet: string | null;
    row_number: number | null;
    record_id: string | null;
    row_ref: string;
    issues: Issue[];
  }>(
    `SELECT run_id, resource, source, file, sheet, row_number, record_id, row_ref, issues FROM (
       SELECT q.*, row_number() OVER (PARTITION BY q.resource ORDER BY q.run_id, q.file, q.sheet, q.row_number,
                                      q.row_ref) AS n
       FROM quarantine q WHERE q.run_id = ANY($1::bigint[])
     ) x
     ORDER BY n, resource NULLS LAST, run_id, file, sheet, row_number, row_ref LIMIT $2`,
    [runs, cap],
  );
  return {
    total: Number(sampleTotal?.n ?? 0),
    rows: samples.map((s) => ({
      runId: Number(s.run_id),
      resource: s.resource,
      source: s.source,
      file: s.file,
      sheet: s.sheet,
      row: s.row_number,
      recordId: s.record_id,
      rowRef: s.row_ref,
      issues: s.issues,
    })),
  };
}

/** An open objection (异议) past its deadline: the department has not answered within 20 working days. */
export interface ObjectionOverdueLine {
  id: number;
  record: number;
  resource: string;
  received: string;
  deadline: string;
  reason: string;
}

/** Open objections whose 20 working days ended before `today` (China date): the department has not answered. */
async function readObjectionsPastDeadline(db: Warehouse, today: string): Promise<ObjectionOverdueLine[]> {
  const rows = await db.query<{
    id: string;
    record_id: string;
    resource: string;
    received: string;
    deadline: string;
    reason: string;
  }>(
    `SELECT id, record_id, resource, received::text AS received, deadline::text AS deadline, reason
     FROM objections WHERE status = 'open' AND deadline < $1::date ORDER BY deadline, id LIMIT 1000`,
    [today],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    record: Number(r.record_id),
    resource: r.resource,
    received: r.received,
    deadline: r.deadline,
    reason: r.reason,
  }));
}
