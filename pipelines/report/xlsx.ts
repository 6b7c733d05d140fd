/**
 * The XLSX report (exceljs streaming writer): a sheet per dimension plus summary, scorecard, overdue list,
 * quarantine samples and trends; bold filled header rows, frozen under the header. Every cell goes through
 * the cell rules every workbook guiji writes follows (../xlsx-cells.ts): a subject's name or a quarantined
 * row's reasons are the departments' text, never a formula, never past Excel's limit.
 */
import ExcelJS from 'exceljs';
import { shanghaiText } from '../../lib/time.js';
import { cellText, cellValue } from '../xlsx-cells.js';
import type { QualityReport, TrendPeriod } from './data.js';
import { matrixOrder, scopeNames, silentNames } from './departments.js';
import { definitionText } from './figures.js';
import { departmentLabel, fill, type Labels, type Lang, labelsFor, silentScopeNote } from './labels.js';
import { periodLabel } from './scope.js';

type CellInput = string | number | null;

interface SheetSpec {
  name: string;
  headers: string[];
  widths?: number[];
  rows: CellInput[][];
  /** Columns holding shares 0–1, shown as percentages (the cell keeps the number). */
  percentColumns?: number[];
  /** Columns holding scores, shown with one decimal. */
  decimalColumns?: number[];
  /** Single cells holding shares 0–1, as [row, column] of `rows` (0-based). */
  percentCells?: [number, number][];
}

/** The number format of shares: the cell holds 0.9571…, Excel shows 95.7%. */
export const PERCENT_FORMAT = '0.0%';

function addSheet(workbook: ExcelJS.stream.xlsx.WorkbookWriter, spec: SheetSpec): void {
  const sheet = workbook.addWorksheet(spec.name, { views: [{ state: 'frozen', ySplit: 1 }] });
  sheet.columns = spec.headers.map((h, i) => ({
    header: cellText(h),
    width: spec.widths?.[i] ?? Math.max(10, Math.min(40, h.length * 2 + 4)),
  }));
  const header = sheet.getRow(1);
  header.font = { bold: true, color: { argb: 'FFFFFFFF' } };
  header.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FF3B7DD8' } };
  header.alignment = { vertical: 'middle' };
  header.commit();
  spec.rows.forEach((r, i) => {
    const row = sheet.addRow(r.map(cellValue));
    for (const c of spec.percentColumns ?? []) row.getCell(c + 1).numFmt = PERCENT_FORMAT;
    for (const c of spec.decimalColumns ?? []) row.getCell(c + 1).numFmt = '0.0';
    for (const [ri, c] of spec.percentCells ?? []) if (ri === i) row.getCell(c + 1).numFmt = PERCENT_FORMAT;
    row.commit();
  });
  sheet.commit();
}

/** Writes the report's workbook to `file`: one sheet per part of the report, in reading order. */
export async function writeXlsx(report: QualityReport, file: string, lang: Lang = 'zh'): Promise<void> {
  const t: Labels = labelsFor(lang);
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({
    filename: file,
    useStyles: true,
    useSharedStrings: true,
  });
  workbook.creator = 'guiji';
  const names = namesFor(report, t);
  const sheets = [
    summarySheet(report, t, lang),
    scorecardSheet(report, t),
    matrixSheet(report, t),
    resourcesSheet(report, t),
    completenessSheet(report, t, names),
    validitySheet(report, t, names),
    uniquenessSheet(report, t, names),
    consistencySheet(report, t, names),
    timelinessSheet(report, t),
    matchingSheet(report, t, names),
    overdueSheet(report, t, names),
    samplesSheet(report, t, names, lang),
    trendsSheet(report, t),
    periodTrendsSheet(t.trendsByDay, t.day, report.trendsByDay, t),
    periodTrendsSheet(t.monthSheet, t.month, report.trendsByMonth, t),
    definitionsSheet(report, t, lang),
  ];
  for (const sheet of sheets) addSheet(workbook, sheet);
  await workbook.commit();
}

/** How the sheets name what the report holds by id or code. */
interface Names {
  resource(id: string): string;
  department(code: string): string;
  issue(type: string): string;
}

/** Names from the report itself: a resource or department it does not list shows its id or code. */
function namesFor(report: QualityReport, t: Labels): Names {
  return {
    resource: (id) => report.resources.find((r) => r.resource === id)?.name ?? id,
    department: (code) => {
      const d = report.departments.find((x) => x.department === code);
      return d ? departmentLabel(d, t) : code;
    },
    issue: (type) => t.issueTypes[type] ?? type,
  };
}

/** The scope, its totals and its headline rates, one item a row; times in Asia/Shanghai, rates as percentages. */
function summarySheet(report: QualityReport, t: Labels, lang: Lang): SheetSpec {
  const f = report.figures;
  const r = report.reconciliation;
  const b = report.backfill;
  const rows: CellInput[][] = [
    [t.period, periodLabel(report.scope.period, report.scope, lang)],
    [t.run, report.scope.runId],
    [t.kind, t.kinds[report.scope.kind] ?? report.scope.kind],
    [t.status, t.statuses[report.scope.status] ?? report.scope.status],
    [t.runs, report.scope.runs.join(', ')],
    [t.from, shanghaiText(report.scope.from, { seconds: true })],
    [t.to, shanghaiText(report.scope.to, { seconds: true })],
    [t.generated, shanghaiText(report.generatedAt, { seconds: true })],
    [t.timeZoneNote, ''],
    [t.read, f.read],
    [t.loaded, f.loaded],
    [t.inserted, report.totals.inserted],
    [t.updated, report.totals.updated],
    [t.quarantined, f.quarantined],
    [t.duplicates, f.duplicates],
    [t.unmatched, f.unmatched],
    [t.notInCollected, report.totals.unchanged],
    [
      t.definitions,
      fill(t.reconciliation, {
        ledgerRead: r.ledgerRead,
        collected: r.collected,
        unchanged: r.unchanged,
        rewritten: r.rewrittenInRun,
      }),
    ],
    [t.backfill, b.runs > 0 ? fill(t.backfillNote, { ...b }) : t.noBackfill],
  ];
  const firstRate = rows.length;
  rows.push([t.complianceRate, f.complianceRate], [t.lateRate, f.lateRate], [t.matchRate, f.matchRate]);
  rows.push([t.silentScope, silentScopeNote(t, scopeNames(report.departmentScope.resources))]);
  rows.push([t.untoldRejectedFiles, report.departmentScope.untoldRejectedFiles]);
  return {
    name: t.summary,
    headers: [t.item, t.value],
    widths: [30, 60],
    rows,
    percentCells: [0, 1, 2].map((k) => [firstRate + k, 1]),
  };
}

/** The departments ranked by score, with the parts of the score and whether they are watched. */
function scorecardSheet(report: QualityReport, t: Labels): SheetSpec {
  return {
    name: t.scorecard,
    headers: [
      t.rank,
      t.department,
      t.departmentCode,
      t.score,
      t.validity,
      t.timeliness,
      t.completeness,
      t.read,
      t.quarantined,
      t.duplicates,
      t.late,
      t.measured,
      t.watch,
      t.rejectedFiles,
      t.silentResources,
    ],
    widths: [8, 34, 12, 10, 12, 12, 12, 10, 12, 10, 10, 12, 20, 14, 40],
    percentColumns: [4, 5, 6],
    decimalColumns: [3],
    rows: report.departments.map((d) => [
      d.rank,
      departmentLabel(d, t),
      d.department,
      d.score,
      d.validity,
      d.timeliness,
      d.completeness,
      d.read,
      d.quarantined,
      d.duplicates,
      d.late,
      d.measured,
      d.watch ? t.yes : t.no,
      d.rejectedFiles,
      silentNames(d),
    ]),
  };
}

/**
 * The department × resource matrix, one row per cell (the departments over 50% late first), rates as
 * percentages; a silent cell says so.
 */
function matrixSheet(report: QualityReport, t: Labels): SheetSpec {
  return {
    name: t.matrixSheet,
    headers: [
      t.department,
      t.departmentCode,
      t.resource,
      t.resourceId,
      t.read,
      t.loaded,
      t.quarantined,
      t.duplicates,
      t.measured,
      t.onTime,
      t.late,
      t.complianceRate,
      t.lateRate,
      t.rejectedFiles,
      t.silent,
    ],
    widths: [34, 12, 26, 10, 10, 10, 14, 8, 14, 8, 8, 12, 10, 14, 8],
    percentColumns: [11, 12],
    rows: matrixOrder(report.departments).flatMap((d) =>
      d.resources.map((c) => [
        departmentLabel(d, t),
        d.department,
        c.name,
        c.resource,
        c.read,
        c.loaded,
        c.quarantined,
        c.duplicates,
        c.measured,
        c.onTime,
        c.late,
        c.complianceRate,
        c.lateRate,
        c.rejectedFiles,
        c.silent ? t.silent : '',
      ]),
    ),
  };
}

/** Each resource's counts and rates. */
function resourcesSheet(report: QualityReport, t: Labels): SheetSpec {
  return {
    name: t.resources,
    headers: [
      t.resource,
      t.resourceId,
      t.read,
      t.loaded,
      t.inserted,
      t.updated,
      t.quarantined,
      t.duplicates,
      t.matched,
      t.unmatched,
      t.onTime,
      t.late,
      t.publishLate,
      t.complianceRate,
      t.lateRate,
    ],
    widths: [26, 12],
    percentColumns: [13, 14],
    rows: report.resources.map((r) => [
      r.name,
      r.resource,
      r.read,
      r.loaded,
      r.inserted,
      r.updated,
      r.quarantined,
      r.duplicates,
      r.matched,
      r.unmatched,
      r.onTime,
      r.late,
      r.publishLate,
      r.complianceRate,
      r.lateRate,
    ]),
  };
}

/** Per resource and field: rows missing it, of the rows read. */
function completenessSheet(report: QualityReport, t: Labels, names: Names): SheetSpec {
  return {
    name: t.completeness,
    headers: [t.resource, t.field, t.fieldTitle, t.missing, t.rows, t.fillRate],
    widths: [26, 16, 30, 10, 10, 10],
    percentColumns: [5],
    rows: report.completeness.map((c) => [
      names.resource(c.resource),
      c.field,
      c.title,
      c.missing,
      c.rows,
      c.fillRate,
    ]),
  };
}

/** Quarantine issues by resource, type and field. */
function validitySheet(report: QualityReport, t: Labels, names: Names): SheetSpec {
  return {
    name: t.validity,
    headers: [t.resource, t.issueType, t.typeCode, t.field, t.count],
    widths: [26, 22, 22, 16, 10],
    rows: report.issues.map((i) => [
      names.resource(i.resource),
      names.issue(i.type),
      i.type,
      i.field,
      i.count,
    ]),
  };
}

/** Duplicates within the runs, and records replaced from another source. */
function uniquenessSheet(report: QualityReport, t: Labels, names: Names): SheetSpec {
  return {
    name: t.uniqueness,
    headers: [t.resource, t.duplicatesInRun, t.acrossSources],
    widths: [26, 16, 16],
    rows: report.uniqueness.map((u) => [names.resource(u.resource), u.duplicatesInRun, u.acrossSources]),
  };
}

/** Names that differ from the register, out-of-region codes, conflicting versions. */
function consistencySheet(report: QualityReport, t: Labels, names: Names): SheetSpec {
  return {
    name: t.consistency,
    headers: [t.resource, t.nameMismatch, t.outOfRegion, t.conflictingVersions],
    widths: [26, 18, 14, 18],
    rows: report.consistency.map((c) => [
      names.resource(c.resource),
      c.nameMismatch,
      c.outOfRegion,
      c.conflictingVersions,
    ]),
  };
}

/** Records measured against the collection and publication deadlines, and those late. */
function timelinessSheet(report: QualityReport, t: Labels): SheetSpec {
  return {
    name: t.timeliness,
    headers: [t.resource, t.measured, t.onTime, t.late, t.lateRate, t.publishMeasured, t.publishLate],
    widths: [26, 14, 10, 10, 10, 18, 12],
    percentColumns: [4],
    rows: report.resources.map((r) => [
      r.name,
      r.measured,
      r.onTime,
      r.late,
      r.lateRate,
      r.publishMeasured,
      r.publishLate,
    ]),
  };
}

/** Records by match method, unmatched included. */
function matchingSheet(report: QualityReport, t: Labels, names: Names): SheetSpec {
  return {
    name: t.matching,
    headers: [t.resource, t.method, t.methodCode, t.count, t.share],
    widths: [26, 20, 12, 10, 10],
    percentColumns: [4],
    rows: report.matching.map((m) => [
      names.resource(m.resource),
      t.methods[m.method] ?? m.method,
      m.method,
      m.count,
      m.share,
    ]),
  };
}

/** The records delivered late, most overdue first (as many as the report carries). */
function overdueSheet(report: QualityReport, t: Labels, names: Names): SheetSpec {
  return {
    name: t.overdueSheet,
    headers: [
      t.run,
      t.resource,
      t.department,
      t.naturalKey,
      t.uscc,
      t.subject,
      t.produced,
      t.received,
      t.workdays,
      t.rule7,
      t.rule20,
    ],
    widths: [8, 20, 28, 50, 22, 30, 12, 12, 8, 10, 10],
    rows: report.overdue.rows.map((o) => [
      o.runId,
      names.resource(o.resource),
      names.department(o.department),
      o.naturalKey,
      o.uscc,
      o.subjectName,
      o.producedDate,
      o.receivedDate,
      o.workdays,
      o.collectLate ? t.late : t.onTime,
      o.publishLate ? t.late : t.onTime,
    ]),
  };
}

/** Rejected rows with where they came from and their reasons in the workbook's language. */
function samplesSheet(report: QualityReport, t: Labels, names: Names, lang: Lang): SheetSpec {
  return {
    name: t.samplesSheet,
    headers: [t.run, t.resource, t.source, t.file, t.sheet, t.row, t.naturalKey, t.reasons],
    widths: [8, 20, 14, 30, 12, 8, 40, 80],
    rows: report.quarantineSamples.rows.map((s) => [
      s.runId,
      s.resource ? names.resource(s.resource) : '',
      s.source,
      s.file,
      s.sheet,
      s.row,
      s.recordId ?? s.rowRef,
      s.issues
        .map(
          (i) =>
            `${names.issue(i.type)}${i.field ? ` ${i.field}` : ''}: ${lang === 'zh' ? i.messageZh : i.message}`,
        )
        .join('；'),
    ]),
  };
}

/** The last runs' counts and rates, oldest first. */
function trendsSheet(report: QualityReport, t: Labels): SheetSpec {
  return {
    name: t.trendsSheet,
    headers: [
      t.run,
      t.kind,
      t.started,
      t.read,
      t.loaded,
      t.quarantined,
      t.duplicates,
      t.late,
      t.measured,
      t.unmatched,
      t.complianceRate,
      t.lateRate,
      t.matchRate,
    ],
    widths: [8, 10, 22],
    percentColumns: [10, 11, 12],
    rows: report.trends.map((p) => [
      p.runId,
      t.kinds[p.kind] ?? p.kind,
      shanghaiText(p.startedAt),
      p.read,
      p.loaded,
      p.quarantined,
      p.duplicates,
      p.late,
      p.measured,
      p.unmatched,
      p.complianceRate,
      p.lateRate,
      p.matchRate,
    ]),
  };
}

/** The figures per day or per month, backfill partitions in columns of their own. */
function periodTrendsSheet(name: string, first: string, points: TrendPeriod[], t: Labels): SheetSpec {
  return {
    name,
    headers: [
      first,
      t.runCount,
      t.read,
      t.loaded,
      t.quarantined,
      t.duplicates,
      t.measured,
      t.late,
      t.unmatched,
      t.complianceRate,
      t.lateRate,
      t.matchRate,
      t.backfillRuns,
      t.backfillRead,
      t.backfillLoaded,
    ],
    widths: [12, 10],
    percentColumns: [9, 10, 11],
    rows: points.map((p) => [
      p.period,
      p.runs,
      p.read,
      p.loaded,
      p.quarantined,
      p.duplicates,
      p.measured,
      p.late,
      p.unmatched,
      p.complianceRate,
      p.lateRate,
      p.matchRate,
      p.backfill.runs,
      p.backfill.read,
      p.backfill.loaded,
    ]),
  };
}

/** What each figure means and how it is computed (the report's notes). */
function definitionsSheet(report: QualityReport, t: Labels, lang: Lang): SheetSpec {
  return {
    name: t.definitionsSheet,
    headers: [t.figure, t.definition],
    widths: [16, 120],
    rows: report.definitions.map((d) => {
      const { name, text } = definitionText(d, lang);
      return [name, text];
    }),
  };
}
