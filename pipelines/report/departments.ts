/**
 * The department × resource matrix of a quality report, its silent departments and the files rejected whole
 * per department (issue 12, items 2 and 3).
 *
 * - Each cell sums the scope's `quality_metrics` lines of one department and one resource with the same
 *   functions as the resource table and the cards (figures.ts): one definition of 归集, 清洗入库, 数据合规率
 *   and 迟报率.
 * - The silent-department check covers the resources in the report's scope: those the scope's runs read a row
 *   of or rejected a file of. A department the catalog expects a resource of (its `resources` list) that
 *   delivered nothing of it in the scope — no row and no file rejected whole — is silent on it: the cell is
 *   there with zeros and the resource is in `silentResources`. A resource nobody delivered in the scope is
 *   not checked (a run that only read the platform's penalties does not find the register's department silent).
 * - Files rejected whole count under the department their template or their name tells (drop_files.department,
 *   see sources/drop-origin.ts), and under the resource too when that can be told.
 */
import type { Catalog } from '../../catalog/load.js';
import { departmentName } from '../../catalog/load.js';
import type { Warehouse } from '../../lib/db.js';
import { addCounts, complianceRate, emptyCounts, type LineCounts, lateRate } from './figures.js';
import { labelsFor, silentScopeNote } from './labels.js';

/** One metric summed over the scope's runs. */
export interface MetricSum {
  resource: string;
  department: string;
  dimension: string;
  measure: string;
  field: string;
  value: string;
  base: string;
}

export interface DepartmentLine {
  /** The catalog's department code; for a department the catalog does not know, the name it gave ('' none). */
  department: string;
  name: string;
  /**
   * Whether the records were resolved to a catalog department (by the source unit's credit code, else by an
   * exact name or alias); false: an unresolved department, reported under the name it gave.
   */
  resolved: boolean;
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
  /**
   * The department × resource matrix: one line per resource it delivered in the scope, and one (all zero) per
   * resource the catalog expects of it in the scope that it did not deliver.
   */
  resources: DepartmentResourceLine[];
  /** The resources in the scope the catalog expects of it that it delivered nothing of (no row, no file). */
  silentResources: string[];
  /** Its files rejected whole (drop_files 'rejected'), told by the template or by the file's name. */
  rejectedFiles: number;
}

/** A resource's name in the catalog; a quarantined row of no known resource is '(未识别)'. */
export function resourceName(catalog: Catalog, resource: string): string {
  return catalog.resources.get(resource)?.name ?? (resource === '' ? '(未识别)' : resource);
}

/** One cell of the matrix: a department's figures for one resource in the scope. */
export interface DepartmentResourceLine {
  resource: string;
  name: string;
  read: number;
  loaded: number;
  quarantined: number;
  duplicates: number;
  measured: number;
  onTime: number;
  late: number;
  complianceRate: number | null;
  lateRate: number | null;
  /** Its files of this resource rejected whole. */
  rejectedFiles: number;
  /** Expected by the catalog, and nothing delivered in the scope (no row, no file rejected whole). */
  silent: boolean;
}

/** Files rejected whole in the scope, per department told (null: not told) and resource told ('' not told). */
export interface RejectedFileCount {
  department: string | null;
  resource: string;
  files: number;
}

/** A department line before the matrix joins it: its scorecard figures. */
export type DepartmentScore = Omit<DepartmentLine, 'resources' | 'silentResources' | 'rejectedFiles'>;

/** Per department, per resource: the figures of the scope's metric lines. */
export type Matrix = Map<string, Map<string, LineCounts>>;

/** The scope's metric lines summed per department × resource. */
export function departmentMatrix(metrics: readonly MetricSum[]): Matrix {
  const matrix: Matrix = new Map();
  for (const m of metrics) {
    if (m.dimension !== 'volume' && m.dimension !== 'timeliness') continue;
    const row = matrix.get(m.department) ?? new Map<string, LineCounts>();
    matrix.set(m.department, row);
    const cell = row.get(m.resource) ?? emptyCounts();
    row.set(m.resource, cell);
    addCounts(cell, m.dimension, m.measure, Number(m.value), Number(m.base));
  }
  return matrix;
}

/** The scope's files rejected whole, by the department and resource told. */
export async function readRejectedFiles(db: Warehouse, runs: number[]): Promise<RejectedFileCount[]> {
  const rows = await db.query<{ department: string | null; resource: string; files: string }>(
    `SELECT department, coalesce(resources[1], '') AS resource, count(*) AS files
     FROM drop_files
     WHERE status = 'rejected' AND run_id = ANY($1::bigint[])
     GROUP BY department, coalesce(resources[1], '')`,
    [runs],
  );
  return rows.map((r) => ({ department: r.department, resource: r.resource, files: Number(r.files) }));
}

/** The resources of the silent-department check: read a row of, or rejected a file of, in the scope. */
export function scopeResources(
  catalog: Catalog,
  matrix: Matrix,
  rejected: readonly RejectedFileCount[],
): string[] {
  const found = new Set<string>();
  for (const row of matrix.values()) for (const [resource, f] of row) if (f.read > 0) found.add(resource);
  for (const r of rejected) found.add(r.resource);
  return [...found].filter((r) => catalog.resources.has(r)).sort();
}

/** Which resources the silent-department check covered, with the note that says how they were chosen. */
export interface DepartmentScope {
  resources: { resource: string; name: string }[];
  /** Files rejected whole in the scope whose department neither their template nor their name tells. */
  untoldRejectedFiles: number;
  /** In Chinese (the JSON's note; the HTML and XLSX say it in their language). */
  note: string;
}

/** The Chinese note that says which resources the silent-department check covered, and why. */
function scopeNote(resources: DepartmentScope['resources']): string {
  return silentScopeNote(labelsFor('zh'), scopeNames(resources));
}

/** The scope's resources by name, for the notes: 行政处罚信息（xzcf）、… */
export function scopeNames(resources: DepartmentScope['resources']): string {
  return resources.map((r) => `${r.name}（${r.resource}）`).join('、');
}

/** The names of the resources a department is silent on, joined for a cell. */
export function silentNames(d: DepartmentLine): string {
  return d.resources
    .filter((c) => c.silent)
    .map((c) => c.name)
    .join('、');
}

/**
 * The department lines with their matrix, silent resources and rejected files; the catalog departments that
 * are silent or only had files rejected are added (score none, after the scored ones) and every line ranked.
 */
export function attachMatrix(
  catalog: Catalog,
  scores: readonly DepartmentScore[],
  matrix: Matrix,
  rejected: readonly RejectedFileCount[],
): { departments: DepartmentLine[]; scope: DepartmentScope } {
  const inScope = scopeResources(catalog, matrix, rejected);
  const scored = new Set(scores.map((s) => s.department));
  const others = catalog.departments
    .map((d) => d.code)
    .concat(rejected.flatMap((r) => (r.department === null ? [] : [r.department])))
    .filter((code, i, all) => !scored.has(code) && all.indexOf(code) === i)
    .sort();
  const lines = [...scores, ...others.map((code) => unscoredLine(catalog, code))]
    .map((s) => withMatrix(catalog, s, matrix, rejected, inScope))
    .filter((d) => scored.has(d.department) || d.rejectedFiles > 0 || d.silentResources.length > 0);
  lines.forEach((d, i) => {
    d.rank = i + 1;
  });
  const resources = inScope.map((resource) => ({ resource, name: resourceName(catalog, resource) }));
  const untoldRejectedFiles = rejected.filter((r) => r.department === null).reduce((n, r) => n + r.files, 0);
  return { departments: lines, scope: { resources, untoldRejectedFiles, note: scopeNote(resources) } };
}

/** A department with no metric line in the scope: nothing read, no score. */
function unscoredLine(catalog: Catalog, code: string): DepartmentScore {
  return {
    department: code,
    name: departmentName(catalog, code),
    resolved: true,
    read: 0,
    quarantined: 0,
    duplicates: 0,
    late: 0,
    measured: 0,
    validity: null,
    timeliness: null,
    completeness: null,
    score: null,
    rank: 0,
    watch: false,
  };
}

/** One department's line with its cells: what it delivered, then what it was expected to and did not. */
function withMatrix(
  catalog: Catalog,
  score: DepartmentScore,
  matrix: Matrix,
  rejected: readonly RejectedFileCount[],
  inScope: readonly string[],
): DepartmentLine {
  const own = rejected.filter((r) => r.department === score.department);
  const expected = new Set(
    (catalog.departments.find((d) => d.code === score.department)?.resources ?? []).filter((r) =>
      inScope.includes(r),
    ),
  );
  const delivered = matrix.get(score.department) ?? new Map<string, LineCounts>();
  const resources = [...new Set([...delivered.keys(), ...expected])].sort().map((resource) => {
    const files = own.filter((r) => r.resource === resource).reduce((n, r) => n + r.files, 0);
    return cell(catalog, resource, delivered.get(resource) ?? emptyCounts(), files, expected.has(resource));
  });
  return {
    ...score,
    resources,
    silentResources: resources.filter((c) => c.silent).map((c) => c.resource),
    rejectedFiles: own.reduce((n, r) => n + r.files, 0),
  };
}

function cell(
  catalog: Catalog,
  resource: string,
  f: LineCounts,
  rejectedFiles: number,
  expected: boolean,
): DepartmentResourceLine {
  return {
    resource,
    name: resourceName(catalog, resource),
    read: f.read,
    loaded: f.loaded,
    quarantined: f.quarantined,
    duplicates: f.duplicates,
    measured: f.measured,
    onTime: f.onTime,
    late: f.late,
    complianceRate: complianceRate(f),
    lateRate: lateRate(f),
    rejectedFiles,
    silent: expected && f.read === 0 && rejectedFiles === 0,
  };
}

/** The departments in the matrix's order: those over 50% late named first (STANDARDS.md §7), then by rank. */
export function matrixOrder(departments: readonly DepartmentLine[]): DepartmentLine[] {
  return [...departments].sort((a, b) => Number(b.watch) - Number(a.watch) || a.rank - b.rank);
}
