/**
 * What a quality report says, read from the quality tables (and the run ledger) for a scope of runs: the JSON
 * contract (`reportVersion` 1) that the HTML and XLSX reports render.
 */
import type { Catalog } from '../../catalog/load.js';
import { departmentName } from '../../catalog/load.js';
import type { Warehouse } from '../../lib/db.js';
import { GuijiError } from '../../lib/errors.js';
import type { Issue } from '../../lib/types.js';
import { computeQualityMetrics, MATCH_METHODS } from '../quality/metrics.js';

export const REPORT_VERSION = 1;

/** A department whose late-report rate is above this is listed as "to be watched" (STANDARDS.md §7). */
export const WATCH_LATE_RATE = 0.5;

export interface ReportScope {
  /** The run the report is about (the last run of the scope). */
  runId: number;
  /** Every run the figures add up, oldest first. */
  runs: number[];
  /** Start of the first run of the scope (or the `--since` date), ISO. */
  from: string;
  /** End of the last run of the scope (its start when it has not finished), ISO. */
  to: string;
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

export interface ResourceLine {
  resource: string;
  name: string;
  /** Rows the runs loaded or rejected (loaded + quarantined + duplicates; unchanged rows are in totals only). */
  read: number;
  loaded: number;
  inserted: number;
  updated: number;
  quarantined: number;
  duplicates: number;
  matched: number;
  unmatched: number;
  /** New records measured against the collection deadline, on time and late. */
  measured: number;
  onTime: number;
  late: number;
  /** Public records measured against the publication deadline, and those published late. */
  publishMeasured: number;
  publishLate: number;
  /** Share of rows read that passed every check (数据合规率), and of measured records delivered late (迟报率). */
  complianceRate: number | null;
  lateRate: number | null;
}

export interface DepartmentLine {
  department: string;
  name: string;
  read: number;
  quarantined: number;
  duplicates: number;
  late: number;
  measured: number;
  validity: number | null;
  timeliness: number | null;
  completeness: number | null;
  score: number | null;
  rank: number;
  /** Late-report rate above 50%: 需重点关注整改. */
  watch: boolean;
}

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

export interface TrendPoint {
  runId: number;
  kind: string;
  startedAt: string;
  read: number;
  loaded: number;
  quarantined: number;
  duplicates: number;
  late: number;
  measured: number;
  unmatched: number;
  complianceRate: number | null;
  lateRate: number | null;
  matchRate: number | null;
}

export interface QualityReport {
  reportVersion: typeof REPORT_VERSION;
  generatedAt: string;
  scope: ReportScope;
  totals: ReportTotals;
  resources: ResourceLine[];
  departments: DepartmentLine[];
  issues: IssueLine[];
  /** The headline rates of the scope (the monthly briefing's figures). */
  rates: { complianceRate: number | null; lateRate: number | null; matchRate: number | null };
  completeness: CompletenessLine[];
  matching: MatchingLine[];
  uniqueness: UniquenessLine[];
  consistency: ConsistencyLine[];
  /** Records delivered late, most overdue first: `total` of them, `rows` capped. */
  overdue: { total: number; rows: OverdueLine[] };
  /** Rejected rows with where they came from, capped; the full list is `guiji quarantine list`. */
  quarantineSamples: { total: number; rows: QuarantineSample[] };
  /** The last 30 runs with metrics up to the scope's run, oldest first. */
  trends: TrendPoint[];
}

export interface GatherOptions {
  /** 'latest' (default) or a run id. */
  run?: number | 'latest';
  /** Include every run started on or after this China date (YYYY-MM-DD) up to the run. */
  since?: string;
  /** How many overdue records and quarantine samples to carry. */
  overdueCap?: number;
  sampleCap?: number;
  /** Where the calendar's override file lives, to compute the metrics of a run that has none yet. */
  catalogDir?: string;
}

const TREND_RUNS = 30;

function rate(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

function iso(value: Date | string | null): string | null {
  if (value === null) return null;
  return (value instanceof Date ? value : new Date(value)).toISOString();
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
  const runRows =
    options.run === undefined || options.run === 'latest'
      ? await db.query<{ id: string }>(
          `SELECT id FROM runs WHERE status <> 'running' ORDER BY id DESC LIMIT 1`,
        )
      : await db.query<{ id: string }>('SELECT id FROM runs WHERE id = $1', [options.run]);
  const last = runRows[0];
  if (!last) {
    throw new GuijiError(
      'GUIJI_ERR_USAGE',
      options.run === undefined || options.run === 'latest'
        ? 'there is no finished run to report on yet (run `guiji run` first)'
        : `there is no run ${options.run}`,
    );
  }
  const runId = Number(last.id);
  if (options.since !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(options.since)) {
    throw new GuijiError('GUIJI_ERR_USAGE', `--since ${options.since}: expected a date written YYYY-MM-DD`);
  }
  const scopeRows = await db.query<{
    id: string;
    started_at: Date | string;
    finished_at: Date | string | null;
  }>(
    options.since === undefined
      ? 'SELECT id, started_at, finished_at FROM runs WHERE id = $1'
      : `SELECT id, started_at, finished_at FROM runs
         WHERE id <= $1 AND status <> 'running'
           AND (started_at AT TIME ZONE 'Asia/Shanghai')::date >= $2::date
         ORDER BY id`,
    options.since === undefined ? [runId] : [runId, options.since],
  );
  if (!scopeRows.length) throw new GuijiError('GUIJI_ERR_USAGE', `no run since ${options.since}`);
  const runs = scopeRows.map((r) => Number(r.id));
  // runs without metrics (their computation failed, runs older than the quality tables, backfill partitions):
  // those of the scope and of the trend window are computed now, from the warehouse as it is
  const missing = await db.query<{ id: string }>(
    `SELECT r.id FROM runs r
     WHERE (r.id = ANY($1::bigint[])
            OR r.id IN (SELECT id FROM runs WHERE id <= $2 AND status <> 'running' ORDER BY id DESC LIMIT $3))
       AND NOT EXISTS (SELECT 1 FROM quality_runs q WHERE q.run_id = r.id)
     ORDER BY r.id`,
    [runs, runId, TREND_RUNS],
  );
  for (const { id } of missing) {
    await computeQualityMetrics(
      db,
      catalog,
      Number(id),
      options.catalogDir ? { catalogDir: options.catalogDir } : {},
    );
  }
  const first = scopeRows[0] as (typeof scopeRows)[number];
  const lastRow = scopeRows[scopeRows.length - 1] as (typeof scopeRows)[number];
  const scope: ReportScope = {
    runId,
    runs,
    from: options.since !== undefined ? `${options.since}T00:00:00+08:00` : (iso(first.started_at) as string),
    to: iso(lastRow.finished_at) ?? (iso(lastRow.started_at) as string),
  };

  const [ledger] = await db.query<Record<keyof ReportTotals, string>>(
    `SELECT coalesce(sum(read), 0) AS read, coalesce(sum(inserted), 0) AS inserted,
            coalesce(sum(updated), 0) AS updated, coalesce(sum(unchanged), 0) AS unchanged,
            coalesce(sum(quarantined), 0) AS quarantined, coalesce(sum(duplicates), 0) AS duplicates,
            coalesce(sum(unmatched), 0) AS unmatched
     FROM source_runs WHERE run_id = ANY($1::bigint[])`,
    [runs],
  );
  const totals: ReportTotals = {
    read: Number(ledger?.read ?? 0),
    inserted: Number(ledger?.inserted ?? 0),
    updated: Number(ledger?.updated ?? 0),
    unchanged: Number(ledger?.unchanged ?? 0),
    quarantined: Number(ledger?.quarantined ?? 0),
    duplicates: Number(ledger?.duplicates ?? 0),
    unmatched: Number(ledger?.unmatched ?? 0),
  };

  const metrics = await db.query<{
    resource: string;
    department: string;
    dimension: string;
    measure: string;
    field: string;
    value: string;
    base: string;
  }>(
    `SELECT resource, department, dimension, measure, field, sum(value) AS value, sum(base) AS base
     FROM quality_metrics WHERE run_id = ANY($1::bigint[])
     GROUP BY resource, department, dimension, measure, field
     ORDER BY resource, department, dimension, measure, field`,
    [runs],
  );

  const resourceName = (id: string) => catalog.resources.get(id)?.name ?? (id === '' ? '(未识别)' : id);
  const byResource = new Map<string, ResourceLine>();
  const line = (resource: string): ResourceLine => {
    let l = byResource.get(resource);
    if (!l) {
      l = {
        resource,
        name: resourceName(resource),
        read: 0,
        loaded: 0,
        inserted: 0,
        updated: 0,
        quarantined: 0,
        duplicates: 0,
        matched: 0,
        unmatched: 0,
        measured: 0,
        onTime: 0,
        late: 0,
        publishMeasured: 0,
        publishLate: 0,
        complianceRate: null,
        lateRate: null,
      };
      byResource.set(resource, l);
    }
    return l;
  };
  const issues = new Map<string, IssueLine>();
  const completeness = new Map<string, CompletenessLine>();
  const matching = new Map<string, MatchingLine>();
  const uniqueness = new Map<string, UniquenessLine>();
  const consistency = new Map<string, ConsistencyLine>();
  const fieldTitle = (resource: string, field: string) => {
    const r = catalog.resources.get(resource);
    for (const v of [...(r?.versions ?? [])].reverse()) {
      const f = v.fields.find((x) => x.code === field);
      if (f) return f.title;
    }
    return field;
  };
  for (const m of metrics) {
    const value = Number(m.value);
    const base = Number(m.base);
    const l = line(m.resource);
    switch (m.dimension) {
      case 'volume':
        if (m.measure === 'read') l.read += value;
        else if (m.measure === 'loaded') l.loaded += value;
        else if (m.measure === 'inserted') l.inserted += value;
        else if (m.measure === 'updated') l.updated += value;
        else if (m.measure === 'quarantined') l.quarantined += value;
        else if (m.measure === 'duplicates') l.duplicates += value;
        break;
      case 'timeliness':
        if (m.measure === 'collect_late') {
          l.late += value;
          l.measured += base;
        } else if (m.measure === 'collect_on_time') l.onTime += value;
        else if (m.measure === 'publish_late') {
          l.publishLate += value;
          l.publishMeasured += base;
        }
        break;
      case 'matching': {
        if (m.measure === 'unmatched') l.unmatched += value;
        else l.matched += value;
        const key = `${m.resource}\u0000${m.measure}`;
        const ml = matching.get(key) ?? { resource: m.resource, method: m.measure, count: 0, share: null };
        ml.count += value;
        matching.set(key, ml);
        break;
      }
      case 'validity': {
        const key = `${m.resource}\u0000${m.measure}\u0000${m.field}`;
        const il = issues.get(key) ?? { resource: m.resource, type: m.measure, field: m.field, count: 0 };
        il.count += value;
        issues.set(key, il);
        break;
      }
      case 'completeness': {
        const key = `${m.resource}\u0000${m.field}`;
        const cl = completeness.get(key) ?? {
          resource: m.resource,
          field: m.field,
          title: fieldTitle(m.resource, m.field),
          missing: 0,
          rows: 0,
          fillRate: null,
        };
        cl.missing += value;
        cl.rows += base;
        completeness.set(key, cl);
        break;
      }
      case 'uniqueness': {
        const ul = uniqueness.get(m.resource) ?? {
          resource: m.resource,
          duplicatesInRun: 0,
          acrossSources: 0,
        };
        if (m.measure === 'duplicate_in_run') ul.duplicatesInRun += value;
        else if (m.measure === 'across_sources') ul.acrossSources += value;
        uniqueness.set(m.resource, ul);
        break;
      }
      case 'consistency': {
        const cl = consistency.get(m.resource) ?? {
          resource: m.resource,
          nameMismatch: 0,
          outOfRegion: 0,
          conflictingVersions: 0,
        };
        if (m.measure === 'name_mismatch') cl.nameMismatch += value;
        else if (m.measure === 'out_of_region') cl.outOfRegion += value;
        else if (m.measure === 'conflicting_versions') cl.conflictingVersions += value;
        consistency.set(m.resource, cl);
        break;
      }
    }
  }
  const resources = [...byResource.values()].sort((a, b) => a.resource.localeCompare(b.resource));
  for (const l of resources) {
    l.complianceRate = rate(l.read - l.quarantined - l.duplicates, l.read);
    l.lateRate = rate(l.late, l.measured);
  }
  for (const m of matching.values()) {
    m.share = rate(m.count, byResource.get(m.resource)?.loaded ?? 0);
  }
  for (const c of completeness.values()) c.fillRate = rate(c.rows - c.missing, c.rows);

  // departments: the same score as the view quality_department_scores, over the scope's summed parts
  const departmentRows = await db.query<{
    department: string;
    read: string;
    quarantined: string;
    duplicates: string;
    late: string;
    measured: string;
    validity: string | null;
    timeliness: string | null;
    completeness: string | null;
    score: string | null;
  }>(
    `WITH parts AS (
       SELECT department,
         coalesce(sum(value) FILTER (WHERE dimension = 'volume' AND measure = 'read'), 0) AS read,
         coalesce(sum(value) FILTER (WHERE dimension = 'volume' AND measure = 'quarantined'), 0) AS quarantined,
         coalesce(sum(value) FILTER (WHERE dimension = 'volume' AND measure = 'duplicates'), 0) AS duplicates,
         coalesce(sum(value) FILTER (WHERE dimension = 'timeliness' AND measure = 'collect_late'), 0) AS late,
         coalesce(sum(base) FILTER (WHERE dimension = 'timeliness' AND measure = 'collect_late'), 0) AS measured,
         coalesce(sum(value) FILTER (WHERE dimension = 'completeness' AND measure = 'missing'), 0) AS missing,
         coalesce(sum(base) FILTER (WHERE dimension = 'completeness' AND measure = 'missing'), 0) AS cells
       FROM quality_metrics WHERE run_id = ANY($1::bigint[]) GROUP BY department
     ), rates AS (
       SELECT *,
         CASE WHEN read > 0 THEN 1 - (quarantined + duplicates)::numeric / read END AS validity,
         CASE WHEN measured > 0 THEN 1 - late::numeric / measured END AS timeliness,
         CASE WHEN cells > 0 THEN 1 - missing::numeric / cells END AS completeness
       FROM parts
     )
     SELECT department, read, quarantined, duplicates, late, measured, validity, timeliness, completeness,
            quality_score(validity, timeliness, completeness) AS score
     FROM rates`,
    [runs],
  );
  const toNumber = (v: string | null) => (v === null ? null : Number(v));
  const departments: DepartmentLine[] = departmentRows
    .map((d) => ({
      department: d.department,
      name: d.department === '' ? '(未填写)' : departmentName(catalog, d.department),
      read: Number(d.read),
      quarantined: Number(d.quarantined),
      duplicates: Number(d.duplicates),
      late: Number(d.late),
      measured: Number(d.measured),
      validity: toNumber(d.validity),
      timeliness: toNumber(d.timeliness),
      completeness: toNumber(d.completeness),
      score: toNumber(d.score),
      rank: 0,
      watch: Number(d.measured) > 0 && Number(d.late) / Number(d.measured) > WATCH_LATE_RATE,
    }))
    .sort((a, b) => (b.score ?? -1) - (a.score ?? -1) || a.department.localeCompare(b.department));
  departments.forEach((d, i) => {
    d.rank = i + 1;
  });

  const overdueCap = options.overdueCap ?? 200;
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
    `SELECT run_id, resource, department, natural_key, uscc, subject_name, produced_date::text,
            received_date::text, workdays, collect_late, publish_late
     FROM quality_overdue WHERE run_id = ANY($1::bigint[])
     ORDER BY workdays DESC, resource, natural_key LIMIT $2`,
    [runs, overdueCap],
  );
  const sampleCap = options.sampleCap ?? 100;
  const [sampleTotal] = await db.query<{ n: string }>(
    'SELECT count(*) AS n FROM quarantine WHERE run_id = ANY($1::bigint[])',
    [runs],
  );
  // a few rows of each resource rather than the first hundred of one file
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
    [runs, sampleCap],
  );

  const trendRows = await db.query<{
    run_id: string;
    kind: string;
    run_started_at: Date | string;
    read: string;
    loaded: string;
    quarantined: string;
    duplicates: string;
    late: string;
    measured: string;
    unmatched: string;
  }>(
    `SELECT * FROM (
       SELECT q.run_id, q.kind, q.run_started_at,
         coalesce(sum(m.value) FILTER (WHERE m.dimension = 'volume' AND m.measure = 'read'), 0) AS read,
         coalesce(sum(m.value) FILTER (WHERE m.dimension = 'volume' AND m.measure = 'loaded'), 0) AS loaded,
         coalesce(sum(m.value) FILTER (WHERE m.dimension = 'volume' AND m.measure = 'quarantined'), 0) AS quarantined,
         coalesce(sum(m.value) FILTER (WHERE m.dimension = 'volume' AND m.measure = 'duplicates'), 0) AS duplicates,
         coalesce(sum(m.value) FILTER (WHERE m.dimension = 'timeliness' AND m.measure = 'collect_late'), 0) AS late,
         coalesce(sum(m.base) FILTER (WHERE m.dimension = 'timeliness' AND m.measure = 'collect_late'), 0) AS measured,
         coalesce(sum(m.value) FILTER (WHERE m.dimension = 'matching' AND m.measure = 'unmatched'), 0) AS unmatched
       FROM quality_runs q LEFT JOIN quality_metrics m ON m.run_id = q.run_id
       WHERE q.run_id <= $1
       GROUP BY q.run_id, q.kind, q.run_started_at
       ORDER BY q.run_id DESC LIMIT $2
     ) t ORDER BY run_id`,
    [runId, TREND_RUNS],
  );
  const trends: TrendPoint[] = trendRows.map((t) => {
    const read = Number(t.read);
    const loaded = Number(t.loaded);
    const quarantined = Number(t.quarantined);
    const duplicates = Number(t.duplicates);
    const late = Number(t.late);
    const measured = Number(t.measured);
    const unmatched = Number(t.unmatched);
    return {
      runId: Number(t.run_id),
      kind: t.kind,
      startedAt: iso(t.run_started_at) as string,
      read,
      loaded,
      quarantined,
      duplicates,
      late,
      measured,
      unmatched,
      complianceRate: rate(read - quarantined - duplicates, read),
      lateRate: rate(late, measured),
      matchRate: rate(loaded - unmatched, loaded),
    };
  });

  const sum = (f: (l: ResourceLine) => number) => resources.reduce((n, l) => n + f(l), 0);
  const matchingLines = [...matching.values()].sort(
    (a, b) =>
      a.resource.localeCompare(b.resource) ||
      [...MATCH_METHODS, 'unmatched'].indexOf(a.method as never) -
        [...MATCH_METHODS, 'unmatched'].indexOf(b.method as never),
  );
  return {
    reportVersion: REPORT_VERSION,
    generatedAt: new Date().toISOString(),
    scope,
    totals,
    resources,
    departments,
    issues: [...issues.values()].sort(
      (a, b) => b.count - a.count || a.resource.localeCompare(b.resource) || a.type.localeCompare(b.type),
    ),
    rates: {
      complianceRate: rate(
        sum((l) => l.read - l.quarantined - l.duplicates),
        sum((l) => l.read),
      ),
      lateRate: rate(
        sum((l) => l.late),
        sum((l) => l.measured),
      ),
      matchRate: rate(
        sum((l) => l.matched),
        sum((l) => l.loaded),
      ),
    },
    completeness: [...completeness.values()].sort(
      (a, b) =>
        a.resource.localeCompare(b.resource) ||
        (a.fillRate ?? 1) - (b.fillRate ?? 1) ||
        a.field.localeCompare(b.field),
    ),
    matching: matchingLines,
    uniqueness: [...uniqueness.values()].sort((a, b) => a.resource.localeCompare(b.resource)),
    consistency: [...consistency.values()].sort((a, b) => a.resource.localeCompare(b.resource)),
    overdue: {
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
    },
    quarantineSamples: {
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
    },
    trends,
  };
}
