/**
 * Quality metrics of one run, per resource × providing department × dimension (DESIGN.md "Quality
 * dimensions"), kept in `quality_metrics` so that trends and scorecards are plain SQL:
 *
 * - volume: rows read (= loaded + quarantined + duplicates), inserted, updated, loaded, quarantined, duplicates;
 * - completeness: per required field, rows missing it (quarantined rows with a missing-cell issue, records of
 *   an older field set that lack a field the current one requires) of all rows (loaded + quarantined); per
 *   field with warnings, the records loaded flagged on it (`warned`);
 * - validity: quarantine issues by type and field;
 * - uniqueness: duplicate natural keys within the run (rows rejected as duplicate-row) and across sources
 *   (records the run replaced whose previous version came from another source);
 * - consistency: name vs register (name_mismatch), out-of-region codes, conflicting versions (records the
 *   run replaced with different content);
 * - timeliness: records first received by the run, working days from produced to delivered (clock.ts: the
 *   platform's receipt time, the drop file's first sighting) against the resource's collection deadline (7) and,
 *   for public resources, its publication deadline (20); the records of a history backfill apart, against the
 *   history deadline (catalog `history`: `history_measured`, `history_late`), out of the collection figures;
 * - matching: loaded records by match method, unmatched included.
 *
 * The run's records are read in one pass (grouped in SQL, departments resolved on the grouped rows), the
 * quarantine and the history of the run in one pass each.
 */
import { headerKey } from '../../catalog/header-key.js';
import { type Catalog, DEFAULT_HISTORY, type Resource } from '../../catalog/load.js';
import type { Calendar } from '../../lib/calendar.js';
import type { SqlTx, Warehouse } from '../../lib/db.js';
import { GuijiError } from '../../lib/errors.js';
import { recordTable } from '../match/match-batch.js';
import { deliveredDaySql } from './clock.js';
import { type DepartmentResolver, departmentResolver } from './departments.js';
import { qualityCalendar, syncWorkdays } from './workdays.js';

export type Dimension =
  | 'volume'
  | 'completeness'
  | 'validity'
  | 'uniqueness'
  | 'consistency'
  | 'timeliness'
  | 'matching';

/** One line of `quality_metrics`. */
export interface MetricRow {
  resource: string;
  department: string;
  dimension: Dimension;
  measure: string;
  field: string;
  value: number;
  base: number;
}

export const MATCH_METHODS = ['uscc', 'reg_no', 'org_code', 'name', 'manual'] as const;

/** Overdue records kept per run, resource and department (most overdue first); the view has them all. */
export const OVERDUE_CAP = 1000;

export interface ComputeOptions {
  /** The working-day calendar (default: chinese-days plus the catalog folder's override file). */
  calendar?: Calendar;
  /** Where the calendar's override file lives, when no calendar is given. */
  catalogDir?: string;
  /** Today's China date, 'YYYY-MM-DD' (the workdays table runs to the end of next year). */
  today?: string;
  /** Overdue records kept per resource and department (default OVERDUE_CAP). */
  overdueCap?: number;
  /** Records the run must have written for `records` to be analysed first (default ANALYZE_AFTER_RECORDS). */
  analyzeAfter?: number;
}

export interface ComputeResult {
  runId: number;
  rows: number;
  overdue: number;
  ms: number;
}

interface Counts {
  read: number;
  loaded: number;
  inserted: number;
  updated: number;
  quarantined: number;
  duplicates: number;
  matching: Record<string, number>;
  unmatched: number;
  nameMismatch: number;
  outOfRegion: number;
  acrossSources: number;
  newRecords: number;
  measured: number;
  collectLate: number;
  publishMeasured: number;
  publishLate: number;
  /** New records of a history backfill: measured against the history deadline, not counted above. */
  historyNew: number;
  historyMeasured: number;
  historyLate: number;
  missing: Map<string, number>;
  /** Per field: records loaded with a warning on it. */
  warned: Map<string, number>;
  issues: Map<string, number>;
}

function emptyCounts(): Counts {
  return {
    read: 0,
    loaded: 0,
    inserted: 0,
    updated: 0,
    quarantined: 0,
    duplicates: 0,
    matching: {},
    unmatched: 0,
    nameMismatch: 0,
    outOfRegion: 0,
    acrossSources: 0,
    newRecords: 0,
    measured: 0,
    collectLate: 0,
    publishMeasured: 0,
    publishLate: 0,
    historyNew: 0,
    historyMeasured: 0,
    historyLate: 0,
    missing: new Map(),
    warned: new Map(),
    issues: new Map(),
  };
}

function chinaToday(): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date());
}

/** The catalog's deadlines into `quality_deadlines` (the views and the overdue lists read them). */
async function syncDeadlines(tx: SqlTx, catalog: Catalog): Promise<void> {
  const resources = [...catalog.resources.values()];
  await tx.query(
    `INSERT INTO quality_deadlines (resource, disclosure, collect_workdays, publish_workdays)
     SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::integer[])
     ON CONFLICT (resource) DO UPDATE SET disclosure = EXCLUDED.disclosure,
       collect_workdays = EXCLUDED.collect_workdays, publish_workdays = EXCLUDED.publish_workdays`,
    [
      resources.map((r) => r.id),
      resources.map((r) => r.disclosure),
      resources.map((r) => r.deadlines.collectWorkdays),
      resources.map((r) => (r.disclosure === 'public' ? (r.deadlines.publishWorkdays ?? null) : null)),
    ],
  );
  await tx.query(`DELETE FROM quality_deadlines WHERE NOT (resource = ANY($1::text[]))`, [
    resources.map((r) => r.id),
  ]);
}

/** The raw-row keys (column titles as the department wrote them) that hold one of a resource's fields. */
function fieldKeys(
  resource: Resource | undefined,
  field: string | undefined,
  keys: readonly string[],
): string[] {
  if (!resource || !field) return [];
  const names = new Set<string>();
  for (const version of resource.versions) {
    for (const f of version.fields) {
      if (f.code !== field) continue;
      for (const n of [f.code, f.title, ...f.aliases]) names.add(headerKey(n));
    }
  }
  return keys.filter((k) => {
    const key = headerKey(k);
    const bracket = /^(.*?)[([](.+)[)\]]$/.exec(key);
    return (
      names.has(key) || (bracket !== null && (names.has(bracket[1] ?? '') || names.has(bracket[2] ?? '')))
    );
  });
}

/** A run that wrote at least this many records has the planner's statistics of `records` refreshed first. */
const ANALYZE_AFTER_RECORDS = 50_000;

/**
 * After a large load the planner still believes `records` holds what it held before (autovacuum analyses it
 * later, in its own time): it then reads the run's records through a bitmap of lossy pages instead of one
 * parallel scan. Measured on a first load of 1,000,000 penalties: the metrics' pass 2.2 s before ANALYZE and
 * 1.0 s after, for an ANALYZE of 0.8 s — and the overdue list's pass gains as much again.
 */
async function refreshStatistics(
  db: Warehouse,
  catalog: Catalog,
  runId: number,
  threshold: number,
): Promise<void> {
  const [written] = await db.query<{ n: string | null }>(
    'SELECT sum(inserted + updated) AS n FROM source_runs WHERE run_id = $1',
    [runId],
  );
  if (Number(written?.n ?? 0) < threshold) return;
  // the typed tables the run wrote (`records` is a view over them all)
  for (const id of catalog.resources.keys()) {
    const table = recordTable(catalog, id);
    const [wrote] = await db.query<{ any: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM ${table} WHERE run_id = $1) AS any`,
      [runId],
    );
    if (wrote?.any) await db.query(`ANALYZE ${table}`);
  }
}

/**
 * Computes and stores the metrics of run `runId` (replacing any computed before: a re-computation reads the
 * warehouse as it is now). Returns how many metric lines and overdue records were kept.
 */
export async function computeQualityMetrics(
  db: Warehouse,
  catalog: Catalog,
  runId: number,
  options: ComputeOptions = {},
): Promise<ComputeResult> {
  const started = Date.now();
  const run = await readRun(db, catalog, runId);
  const calendar = calendarOf(options);
  await prepareReferenceTables(db, catalog, runId, calendar, options);
  const tally = new Tally(departmentResolver(catalog));
  const records = await countRecords(db, catalog, run, tally);
  await countOlderVersionGaps(db, catalog, runId, records.oldVersionResources, tally);
  await countQuarantine(db, catalog, runId, tally);
  await countWarnings(db, runId, tally);
  await countAcrossSources(db, runId, tally);
  const lines = metricLines(catalog, tally);
  const cap = options.overdueCap ?? OVERDUE_CAP;
  const ms = () => Date.now() - started;
  const overdue = await storeMetrics(db, {
    runId,
    run,
    calendar,
    lines,
    cap,
    given: [...records.departmentsGiven.values()],
    resolve: tally.resolve,
    cutoffs: overdueCutoffs(records.overdueByDays, cap),
    ms,
  });
  return { runId, rows: lines.length, overdue, ms: ms() };
}

interface RunRow {
  id: number;
  kind: string;
  started_at: Date | string;
  /** For a backfill run: the last day (YYYY-MM-DD) its records may be delivered on; null for the others. */
  history_deadline: string | null;
}

/**
 * The run the metrics are of: its kind and start are kept with them, and for a backfill run the history
 * deadline — the catalog's `history.start`, else the day its backfill began (China date), plus
 * `history.collectMonths`. An unknown run is a usage error.
 */
async function readRun(db: Warehouse, catalog: Catalog, runId: number): Promise<RunRow> {
  const history = catalog.history ?? DEFAULT_HISTORY;
  const [run] = await db.query<Omit<RunRow, 'id'>>(
    `SELECT r.kind, r.started_at,
            CASE WHEN r.kind = 'backfill' THEN to_char(
              coalesce($2::date, (coalesce(b.started, r.started_at) AT TIME ZONE 'Asia/Shanghai')::date)
                + make_interval(months => $3::int), 'YYYY-MM-DD') END AS history_deadline
     FROM runs r
     LEFT JOIN LATERAL (
       SELECT min(f.created_at) AS started
       FROM backfill_attempts a
       JOIN backfill_partitions p ON p.id = a.partition_id
       JOIN backfills f ON f.id = p.backfill_id
       WHERE a.run_id = r.id
     ) b ON true
     WHERE r.id = $1`,
    [runId, history.start ?? null, history.collectMonths],
  );
  if (!run) throw new GuijiError('GUIJI_ERR_USAGE', `there is no run ${runId}`);
  return { id: runId, ...run };
}

/** The working-day calendar the deadlines are counted with: the one given, else the catalog folder's. */
function calendarOf(options: ComputeOptions): Calendar {
  if (options.calendar) return options.calendar;
  if (options.catalogDir) return qualityCalendar(options.catalogDir);
  throw new GuijiError('GUIJI_ERR_USAGE', 'computeQualityMetrics needs a calendar or a catalogDir');
}

/**
 * What the passes join with, brought up to date first: the working days up to the end of next year, the
 * catalog's deadlines, and the planner's statistics of `records` after a large run.
 */
async function prepareReferenceTables(
  db: Warehouse,
  catalog: Catalog,
  runId: number,
  calendar: Calendar,
  options: ComputeOptions,
): Promise<void> {
  await syncWorkdays(db, calendar, options.today ?? chinaToday());
  await db.transaction((tx) => syncDeadlines(tx, catalog));
  await refreshStatistics(db, catalog, runId, options.analyzeAfter ?? ANALYZE_AFTER_RECORDS);
}

const num = (v: unknown): number => Number(v ?? 0);

/**
 * The counts of each resource × department, the department resolved from what a row carries (its source
 * unit's credit code, then its name: departments.ts) to the catalog's code, so that every pass adds to the same
 * line; an unresolved department keeps the name it gave.
 */
class Tally {
  readonly groups = new Map<string, Counts>();

  constructor(readonly resolve: DepartmentResolver) {}

  /** The counts of `resource` and of the department named `name` with credit code `uscc`. */
  of(resource: string, name: string | null, uscc: string | null): Counts {
    const key = `${resource}\u0000${this.resolve(name, uscc)}`;
    let c = this.groups.get(key);
    if (!c) {
      c = emptyCounts();
      this.groups.set(key, c);
    }
    return c;
  }
}

/** A department as a record gives it: its name as written and its credit code ('' for none). */
interface DepartmentGiven {
  name: string;
  uscc: string;
}

/** What the pass over the run's records leaves for the later steps besides its counts. */
interface RecordPass {
  /** The departments the records give, as written, by {@link givenKey} (the overdue list resolves them). */
  departmentsGiven: Map<string, DepartmentGiven>;
  /** Resources with records of an older field set: only those are read again for missing fields. */
  oldVersionResources: Set<string>;
  /** Per resource and department as written (resource, then {@link givenKey}): overdue records by working days. */
  overdueByDays: Map<string, Map<number, number>>;
}

/**
 * Pass 1, the run's records in one grouped query: volume, matching, consistency flags and timeliness — working
 * days from produced to delivered against the collection and publication deadlines, and how overdue the late
 * records are (for the overdue list's cap); for a backfill run, delivery against the history deadline instead.
 */
async function countRecords(db: Warehouse, catalog: Catalog, run: RunRow, tally: Tally): Promise<RecordPass> {
  const runId = run.id;
  const currentVersions = [...catalog.resources.values()];
  const recordGroups = await db.query<Record<string, string | null>>(
    `SELECT r.resource, r.department, r.department_uscc, t.workdays,
            count(*) FILTER (WHERE t.overdue) AS overdue,
            count(*) AS loaded,
            count(*) FILTER (WHERE r.first_run_id = $1) AS inserted,
            count(*) FILTER (WHERE r.match_method = 'uscc') AS m_uscc,
            count(*) FILTER (WHERE r.match_method = 'reg_no') AS m_reg_no,
            count(*) FILTER (WHERE r.match_method = 'org_code') AS m_org_code,
            count(*) FILTER (WHERE r.match_method = 'name') AS m_name,
            count(*) FILTER (WHERE r.match_method = 'manual') AS m_manual,
            count(*) FILTER (WHERE r.match_method IS NULL) AS unmatched,
            count(*) FILTER (WHERE 'name_mismatch' = ANY (r.match_flags)) AS name_mismatch,
            count(*) FILTER (WHERE 'out_of_region' = ANY (r.match_flags)) AS out_of_region,
            count(*) FILTER (WHERE r.schema_version <> v.version) AS old_version,
            count(*) FILTER (WHERE h.month AND pw.day IS NOT NULL AND rw.day IS NOT NULL) AS measured,
            count(*) FILTER (WHERE h.month AND rw.workday_no - pw.workday_no > d.collect_workdays) AS collect_late,
            count(*) FILTER (WHERE h.month AND r.disclosure = 'public' AND d.publish_workdays IS NOT NULL
                               AND pw.day IS NOT NULL AND rw.day IS NOT NULL) AS publish_measured,
            count(*) FILTER (WHERE h.month AND r.disclosure = 'public'
                               AND rw.workday_no - pw.workday_no > d.publish_workdays) AS publish_late,
            count(*) FILTER (WHERE h.history) AS history_new,
            count(*) FILTER (WHERE h.history AND r.produced_date IS NOT NULL) AS history_measured,
            count(*) FILTER (WHERE h.history AND r.produced_date IS NOT NULL
                               AND ${deliveredDaySql('r')} > $4::date) AS history_late
     FROM common_records r
     LEFT JOIN unnest($2::text[], $3::text[]) AS v(resource, version) ON v.resource = r.resource
     LEFT JOIN quality_deadlines d ON d.resource = r.resource
     LEFT JOIN workdays pw ON pw.day = r.produced_date
     LEFT JOIN workdays rw ON rw.day = ${deliveredDaySql('r')}
     -- a record first written by this run is measured: against the deadlines of its resource (the month's
     -- figures), or against the history deadline when the run is a history backfill ($4 set)
     CROSS JOIN LATERAL (
       SELECT r.first_run_id = $1 AND $4::date IS NULL AS month, r.first_run_id = $1 AND $4::date IS NOT NULL AS history
     ) h
     CROSS JOIN LATERAL (
       SELECT CASE WHEN h.month THEN rw.workday_no - pw.workday_no END AS workdays,
              h.month AND (rw.workday_no - pw.workday_no > d.collect_workdays
                OR (r.disclosure = 'public' AND rw.workday_no - pw.workday_no > d.publish_workdays)) AS overdue
     ) t
     WHERE r.run_id = $1
     -- by working days taken too (summed below): how many records are overdue by how much tells the overdue
     -- list where its cap falls, without sorting every late record
     GROUP BY r.resource, r.department, r.department_uscc, t.workdays`,
    [
      runId,
      currentVersions.map((r) => r.id),
      currentVersions.map((r) => r.current.version),
      run.history_deadline,
    ],
  );
  const pass: RecordPass = {
    departmentsGiven: new Map(),
    oldVersionResources: new Set(),
    overdueByDays: new Map(),
  };
  for (const g of recordGroups) addRecordGroup(pass, tally, g);
  return pass;
}

/** The key of a department as given: its name and credit code as written. */
function givenKey(name: string | null, uscc: string | null): string {
  return `${name ?? ''}\u0001${uscc ?? ''}`;
}

/** One group of the run's records (resource, department as written, working days taken) into the counts. */
function addRecordGroup(pass: RecordPass, tally: Tally, g: Record<string, string | null>): void {
  const resource = g.resource as string;
  const overdue = num(g.overdue);
  const given = givenKey(g.department ?? null, g.department_uscc ?? null);
  if (overdue > 0 && g.workdays !== null) {
    const key = `${resource}\u0000${given}`;
    const days = pass.overdueByDays.get(key) ?? new Map<number, number>();
    days.set(num(g.workdays), (days.get(num(g.workdays)) ?? 0) + overdue);
    pass.overdueByDays.set(key, days);
  }
  pass.departmentsGiven.set(given, { name: g.department ?? '', uscc: g.department_uscc ?? '' });
  const c = tally.of(resource, g.department ?? null, g.department_uscc ?? null);
  const loaded = num(g.loaded);
  const inserted = num(g.inserted);
  c.loaded += loaded;
  c.inserted += inserted;
  c.updated += loaded - inserted;
  for (const m of MATCH_METHODS) c.matching[m] = (c.matching[m] ?? 0) + num(g[`m_${m}`]);
  c.unmatched += num(g.unmatched);
  c.nameMismatch += num(g.name_mismatch);
  c.outOfRegion += num(g.out_of_region);
  c.newRecords += inserted;
  c.measured += num(g.measured);
  c.collectLate += num(g.collect_late);
  c.publishMeasured += num(g.publish_measured);
  c.publishLate += num(g.publish_late);
  c.historyNew += num(g.history_new);
  c.historyMeasured += num(g.history_measured);
  c.historyLate += num(g.history_late);
  if (num(g.old_version) > 0) pass.oldVersionResources.add(resource);
}

/**
 * Pass 1b: records of an older field set may lack fields the current one requires; they count as missing
 * (only the resources that have such records are read again).
 */
async function countOlderVersionGaps(
  db: Warehouse,
  catalog: Catalog,
  runId: number,
  oldVersionResources: Set<string>,
  tally: Tally,
): Promise<void> {
  for (const resourceId of oldVersionResources) {
    const resource = catalog.resources.get(resourceId);
    if (!resource) continue;
    const required = resource.current.fields.filter((f) => f.required).map((f) => f.code);
    const rows = await db.query<{
      department: string | null;
      department_uscc: string | null;
      field: string;
      missing: string;
    }>(
      `SELECT r.department, r.department_uscc, f.field, count(*) AS missing
       FROM records r CROSS JOIN unnest($3::text[]) AS f(field)
       WHERE r.run_id = $1 AND r.resource = $2 AND r.schema_version <> $4
         AND coalesce(r.data ->> f.field, '') = ''
       GROUP BY r.department, r.department_uscc, f.field`,
      [runId, resourceId, required, resource.current.version],
    );
    for (const row of rows) {
      const c = tally.of(resourceId, row.department, row.department_uscc);
      c.missing.set(row.field, (c.missing.get(row.field) ?? 0) + num(row.missing));
    }
  }
}

/**
 * Pass 2, the run's quarantine: rejected and duplicate rows, their issues by type and field, and missing
 * cells for completeness. A rejected row has no department columns of its own: its department's name and
 * credit code are read from the raw row, under the titles the file used for the resource's department fields.
 */
async function countQuarantine(db: Warehouse, catalog: Catalog, runId: number, tally: Tally): Promise<void> {
  const keyRows = await db.query<{ resource: string | null; k: string }>(
    `SELECT DISTINCT q.resource, k FROM quarantine q, jsonb_object_keys(q.raw) AS k WHERE q.run_id = $1`,
    [runId],
  );
  const departmentKeysByResource = quarantineFieldKeys(catalog, keyRows, (r) => r.departmentField);
  const codeKeysByResource = quarantineFieldKeys(catalog, keyRows, (r) => r.departmentCodeField);
  const quarantineRows = await db.query<{
    resource: string;
    department: string;
    department_uscc: string;
    duplicate: boolean;
    type: string | null;
    field: string | null;
    rows: string;
    issues: string;
  }>(
    `WITH q AS MATERIALIZED (
       SELECT coalesce(q.resource, '') AS resource,
              coalesce((SELECT nullif(trim(q.raw ->> k), '')
                        FROM jsonb_array_elements_text(coalesce($2::jsonb -> q.resource, '[]'::jsonb)) AS k
                        WHERE q.raw ? k LIMIT 1), '') AS department,
              coalesce((SELECT nullif(trim(q.raw ->> k), '')
                        FROM jsonb_array_elements_text(coalesce($3::jsonb -> q.resource, '[]'::jsonb)) AS k
                        WHERE q.raw ? k LIMIT 1), '') AS department_uscc,
              NOT jsonb_path_exists(q.issues, '$[*] ? (@.type != "duplicate-row")') AS duplicate,
              q.issues
       FROM quarantine q WHERE q.run_id = $1
     )
     SELECT resource, department, department_uscc, duplicate, NULL AS type, NULL AS field, count(*) AS rows,
            0 AS issues
     FROM q GROUP BY resource, department, department_uscc, duplicate
     UNION ALL
     SELECT resource, department, department_uscc, duplicate, i ->> 'type', coalesce(i ->> 'field', ''), 0,
            count(*)
     FROM q, jsonb_array_elements(q.issues) AS i
     GROUP BY resource, department, department_uscc, duplicate, i ->> 'type', coalesce(i ->> 'field', '')`,
    [runId, JSON.stringify(departmentKeysByResource), JSON.stringify(codeKeysByResource)],
  );
  for (const row of quarantineRows) {
    const c = tally.of(row.resource, row.department, row.department_uscc);
    if (row.type === null) {
      if (row.duplicate) c.duplicates += num(row.rows);
      else c.quarantined += num(row.rows);
      continue;
    }
    const key = `${row.type}\u0000${row.field ?? ''}`;
    c.issues.set(key, (c.issues.get(key) ?? 0) + num(row.issues));
    if (row.type === 'missing-cell' && row.field && !row.duplicate) {
      c.missing.set(row.field, (c.missing.get(row.field) ?? 0) + num(row.issues));
    }
  }
}

/**
 * Pass 2b, the warnings of the run's records (findings of severity warn: the row loaded, flagged): per field,
 * the records flagged on it (completeness `warned`); a warned missing cell also counts as missing, as a
 * quarantined one does.
 */
async function countWarnings(db: Warehouse, runId: number, tally: Tally): Promise<void> {
  const rows = await db.query<{
    resource: string;
    department: string | null;
    department_uscc: string | null;
    field: string;
    warned: string;
    missing: string;
  }>(
    `SELECT r.resource, r.department, r.department_uscc, coalesce(w ->> 'field', '') AS field,
            count(DISTINCT r.record_id) AS warned,
            count(DISTINCT r.record_id) FILTER (WHERE w ->> 'type' = 'missing-cell') AS missing
     FROM common_records r, jsonb_array_elements(r.warnings) AS w
     WHERE r.run_id = $1 AND r.warnings IS NOT NULL
     GROUP BY r.resource, r.department, r.department_uscc, coalesce(w ->> 'field', '')`,
    [runId],
  );
  for (const row of rows) {
    const c = tally.of(row.resource, row.department, row.department_uscc);
    c.warned.set(row.field, (c.warned.get(row.field) ?? 0) + num(row.warned));
    if (num(row.missing) > 0) c.missing.set(row.field, (c.missing.get(row.field) ?? 0) + num(row.missing));
  }
}

/** Per resource, the raw-row keys of its quarantined rows that hold one of its fields (`field` of the resource). */
function quarantineFieldKeys(
  catalog: Catalog,
  keyRows: { resource: string | null; k: string }[],
  field: (resource: Resource) => string | undefined,
): Record<string, string[]> {
  const keysByResource: Record<string, string[]> = {};
  for (const row of keyRows) {
    if (row.resource === null) continue;
    const list = keysByResource[row.resource] ?? [];
    list.push(row.k);
    keysByResource[row.resource] = list;
  }
  const fieldKeysByResource: Record<string, string[]> = {};
  for (const [id, keys] of Object.entries(keysByResource)) {
    const resource = catalog.resources.get(id);
    fieldKeysByResource[id] = fieldKeys(resource, resource ? field(resource) : undefined, keys);
  }
  return fieldKeysByResource;
}

/** Pass 3: records the run replaced whose previous version came from another source (uniqueness). */
async function countAcrossSources(db: Warehouse, runId: number, tally: Tally): Promise<void> {
  const crossRows = await db.query<{
    resource: string;
    department: string | null;
    department_uscc: string | null;
    n: string;
  }>(
    `SELECT r.resource, r.department, r.department_uscc, count(DISTINCT h.natural_key) AS n
     FROM record_history h JOIN common_records r ON r.record_id = h.record_id
     WHERE h.superseded_by_run = $1 AND (h.provenance ->> 'source') IS DISTINCT FROM r.source
     GROUP BY r.resource, r.department, r.department_uscc`,
    [runId],
  );
  for (const row of crossRows)
    tally.of(row.resource, row.department, row.department_uscc).acrossSources += num(row.n);
}

/**
 * The lines of `quality_metrics`, each resource × department's counts under every dimension; completeness
 * lists every field the current version requires, missing or not, and any other field found missing.
 */
function metricLines(catalog: Catalog, tally: Tally): MetricRow[] {
  const lines: MetricRow[] = [];
  for (const [key, c] of tally.groups) {
    const [resource = '', department = ''] = key.split('\u0000');
    c.read = c.loaded + c.quarantined + c.duplicates;
    const add = (dimension: Dimension, measure: string, value: number, base: number, field = '') =>
      lines.push({ resource, department, dimension, measure, field, value, base });
    add('volume', 'read', c.read, c.read);
    add('volume', 'loaded', c.loaded, c.read);
    add('volume', 'inserted', c.inserted, c.read);
    add('volume', 'updated', c.updated, c.read);
    add('volume', 'quarantined', c.quarantined, c.read);
    add('volume', 'duplicates', c.duplicates, c.read);
    const rows = c.loaded + c.quarantined;
    const required = catalog.resources.get(resource)?.current.fields.filter((f) => f.required) ?? [];
    const fields = new Set([...required.map((f) => f.code), ...c.missing.keys()]);
    if (rows > 0) for (const f of fields) add('completeness', 'missing', c.missing.get(f) ?? 0, rows, f);
    for (const [f, n] of c.warned) add('completeness', 'warned', n, rows, f);
    for (const [k, n] of c.issues) {
      const [type = '', field = ''] = k.split('\u0000');
      add('validity', type, n, c.read, field);
    }
    add('uniqueness', 'duplicate_in_run', c.duplicates, c.read);
    add('uniqueness', 'across_sources', c.acrossSources, c.loaded);
    add('consistency', 'name_mismatch', c.nameMismatch, c.loaded);
    add('consistency', 'out_of_region', c.outOfRegion, c.loaded);
    add('consistency', 'conflicting_versions', c.updated, c.loaded);
    add('timeliness', 'collect_on_time', c.measured - c.collectLate, c.measured);
    add('timeliness', 'collect_late', c.collectLate, c.measured);
    const monthNew = c.newRecords - c.historyNew;
    add('timeliness', 'collect_unmeasured', monthNew - c.measured, monthNew);
    add('timeliness', 'publish_on_time', c.publishMeasured - c.publishLate, c.publishMeasured);
    add('timeliness', 'publish_late', c.publishLate, c.publishMeasured);
    if (c.historyNew > 0) {
      add('timeliness', 'history_measured', c.historyMeasured, c.historyNew);
      add('timeliness', 'history_on_time', c.historyMeasured - c.historyLate, c.historyMeasured);
      add('timeliness', 'history_late', c.historyLate, c.historyMeasured);
    }
    for (const m of MATCH_METHODS) add('matching', m, c.matching[m] ?? 0, c.loaded);
    add('matching', 'unmatched', c.unmatched, c.loaded);
  }
  return lines;
}

interface OverdueCutoff {
  resource: string;
  /** The department as the records give it: name and credit code as written ('' for none). */
  department: string;
  uscc: string;
  days: number;
}

/**
 * Per resource and department as written, the fewest working days an overdue record needs to be among the
 * `cap` most overdue (a superset of those of its department as resolved): only those are sorted.
 */
function overdueCutoffs(overdueByDays: Map<string, Map<number, number>>, cap: number): OverdueCutoff[] {
  const cutoffs: OverdueCutoff[] = [];
  for (const [key, days] of overdueByDays) {
    const [resource = '', given = ''] = key.split('\u0000');
    const [department = '', uscc = ''] = given.split('\u0001');
    let kept = 0;
    let cutoff = 0;
    for (const d of [...days.keys()].sort((a, b) => b - a)) {
      cutoff = d;
      kept += days.get(d) ?? 0;
      if (kept >= cap) break;
    }
    cutoffs.push({ resource, department, uscc, days: cutoff });
  }
  return cutoffs;
}

interface StoreInput {
  runId: number;
  run: RunRow;
  calendar: Calendar;
  lines: MetricRow[];
  cap: number;
  /** The departments the run's records give (name and code as written), resolved in the overdue list. */
  given: DepartmentGiven[];
  resolve: DepartmentResolver;
  cutoffs: OverdueCutoff[];
  ms: () => number;
}

/**
 * Stores the run's metrics in one transaction, replacing those computed before: its `quality_runs` line, the
 * metric lines and, per resource and department, its most overdue records. Returns how many of those it kept.
 */
async function storeMetrics(db: Warehouse, input: StoreInput): Promise<number> {
  const { runId, run, calendar, lines, cap, given, resolve, cutoffs, ms } = input;
  return db.transaction(async (tx) => {
    // the overdue lists sort the run's late records: in memory rather than on disk
    await tx.query(`SET LOCAL work_mem = '64MB'`);
    // the arrays' few rows are estimated at 100: a nested loop over millions of records would follow
    await tx.query('SET LOCAL enable_nestloop = off');
    await tx.query('DELETE FROM quality_runs WHERE run_id = $1', [runId]);
    await tx.query(
      `INSERT INTO quality_runs (run_id, kind, run_started_at, calendar, ms, history_deadline)
       VALUES ($1, $2, $3, $4, 0, $5)`,
      [runId, run.kind, run.started_at, calendar.sources.join('; '), run.history_deadline],
    );
    for (let i = 0; i < lines.length; i += 5000) {
      await tx.query(
        `INSERT INTO quality_metrics (run_id, resource, department, dimension, measure, field, value, base)
         SELECT $1, x.resource, x.department, x.dimension, x.measure, x.field, x.value, x.base
         FROM jsonb_to_recordset($2::jsonb) AS x(resource text, department text, dimension text, measure text,
                                                 field text, value bigint, base bigint)`,
        [runId, JSON.stringify(lines.slice(i, i + 5000))],
      );
    }
    const inserted = await tx.query(
      `INSERT INTO quality_overdue (run_id, resource, department, natural_key, uscc, subject_name, produced_date,
                                   received_date, workdays, collect_late, publish_late, record_id)
       SELECT $1, resource, department, natural_key, uscc, subject_name, produced_date, received_date, workdays,
              collect_late, publish_late, record_id
       FROM (
         SELECT t.*, row_number() OVER (PARTITION BY t.resource, t.department
                                        ORDER BY t.workdays DESC, t.natural_key, t.record_id) AS n
         FROM (
           -- the key and name as the public view shows them: the list goes into reports (issue 14)
           SELECT r.resource, coalesce(m.code, r.department, '') AS department, r.natural_key_public AS natural_key,
                  r.uscc_public AS uscc, r.subject_name_public AS subject_name, r.record_id, r.produced_date,
                  rw.day AS received_date, rw.workday_no - pw.workday_no AS workdays,
                  rw.workday_no - pw.workday_no > d.collect_workdays AS collect_late,
                  coalesce(r.disclosure = 'public' AND rw.workday_no - pw.workday_no > d.publish_workdays, false)
                    AS publish_late
           FROM common_records r
           JOIN quality_deadlines d ON d.resource = r.resource
           JOIN workdays pw ON pw.day = r.produced_date
           JOIN workdays rw ON rw.day = ${deliveredDaySql('r')}
           LEFT JOIN unnest($3::text[], $4::text[], $5::text[]) AS m(text, uscc, code)
             ON m.text = coalesce(r.department, '') AND m.uscc = coalesce(r.department_uscc, '')
           JOIN unnest($6::text[], $7::text[], $8::text[], $9::integer[]) AS c(resource, department, uscc, days)
             ON c.resource = r.resource AND c.department = coalesce(r.department, '')
               AND c.uscc = coalesce(r.department_uscc, '')
           WHERE r.run_id = $1 AND r.first_run_id = $1 AND rw.workday_no - pw.workday_no >= c.days
             AND (rw.workday_no - pw.workday_no > d.collect_workdays
                  OR (r.disclosure = 'public' AND rw.workday_no - pw.workday_no > d.publish_workdays))
         ) t
       ) ranked
       WHERE n <= $2`,
      [
        runId,
        cap,
        given.map((g) => g.name),
        given.map((g) => g.uscc),
        given.map((g) => resolve(g.name, g.uscc)),
        cutoffs.map((c) => c.resource),
        cutoffs.map((c) => c.department),
        cutoffs.map((c) => c.uscc),
        cutoffs.map((c) => c.days),
      ],
    );
    await tx.query('UPDATE quality_runs SET ms = $2 WHERE run_id = $1', [runId, ms()]);
    return inserted.rowCount;
  });
}
