/**
 * The HTML report: one self-contained file (inline CSS, charts as inline SVG rendered on the server, no script,
 * no external resource), Chinese by default. Every text from the warehouse is escaped.
 */

import { shanghaiText } from '../../lib/time.js';
import { matchingChart, periodTrendChart, resourcesChart, scorecardChart, trendsChart } from './charts.js';
import type { QualityReport, TrendPeriod } from './data.js';
import { matrixOrder, scopeNames, silentNames } from './departments.js';
import { definitionText, lateRate } from './figures.js';
import {
  departmentLabel,
  fill,
  type Labels,
  type Lang,
  labelsFor,
  percent,
  silentScopeNote,
} from './labels.js';
import { periodLabel } from './scope.js';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

/** HTML-escaped text: the only way values reach the page. */
const e = escapeHtml;

/** How many overdue records and rejected rows the HTML lists (the XLSX and JSON carry more). */
export const HTML_OVERDUE_ROWS = 50;
export const HTML_SAMPLE_ROWS = 30;

/** A date or a time: kept on one line. */
const DATE = /^\d{4}-\d{2}-\d{2}( \d{2}:\d{2})?$/;

function table(headers: string[], rows: (string | number)[][], numeric: boolean[] = []): string {
  const head = headers.map((h) => `<th>${e(h)}</th>`).join('');
  const body = rows
    .map(
      (r) =>
        `<tr>${r.map((c, i) => `<td${numeric[i] ? ' class="n"' : DATE.test(String(c)) ? ' class="d"' : ''}>${e(c)}</td>`).join('')}</tr>`,
    )
    .join('\n');
  // the wrapper scrolls a table wider than the page rather than squeezing its columns to a character each
  return `<div class="tw"><table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

const n = (v: number) => v.toLocaleString('en-US');

function figure(label: string, value: string, id: string): string {
  return `<div class="fig" data-figure="${e(id)}"><div class="v">${e(value)}</div><div class="l">${e(label)}</div></div>`;
}

/** The report as one HTML page: its sections in reading order, from the headline figures to the samples. */
export function renderHtml(report: QualityReport, lang: Lang = 'zh'): string {
  const t: Labels = labelsFor(lang);
  const names = namesFor(report, t);
  const sections = [
    headlineSection(report, t),
    watchSection(report, t),
    scorecardSection(report, t),
    silentSection(report, t),
    matrixSection(report, t),
    trendsSection(report, t),
    periodTrendsSection(report, t),
    resourcesSection(report, t),
    completenessSection(report, t, names),
    validitySection(report, t, names),
    uniquenessSection(report, t, names),
    matchingSection(report, t, names),
    overdueSection(report, t, names),
    samplesSection(report, t, names, lang),
    objectionsOverdueSection(report, names, lang),
    definitionsSection(report, t, lang),
  ];
  return page(report, t, lang, sections);
}

/** How the tables name what the report holds by id or code. */
interface Names {
  resource(id: string): string;
  /** A department's name, '—' for rows that named none. */
  department(code: string): string;
  issue(type: string): string;
}

/** Names from the report itself: a resource or department it does not list shows its id or code. */
function namesFor(report: QualityReport, t: Labels): Names {
  return {
    resource: (id) => report.resources.find((r) => r.resource === id)?.name ?? id,
    department: (code) => {
      const d = report.departments.find((x) => x.department === code);
      return d ? departmentLabel(d, t) : code === '' ? '—' : code;
    },
    issue: (type) => t.issueTypes[type] ?? type,
  };
}

/**
 * The scope's headline figures (./figures.ts, as every table has them): collected, loaded, rejected, the three
 * headline rates; the ledger's rows read reconciled with 归集; the backfill partitions of the period apart.
 */
function headlineSection(report: QualityReport, t: Labels): string {
  const f = report.figures;
  const r = report.reconciliation;
  return `<section id="headline"><h2>${e(t.headline)}</h2><div class="figs">
${figure(t.read, n(f.read), 'read')}
${figure(t.loaded, n(f.loaded), 'loaded')}
${figure(t.quarantined, n(f.quarantined), 'quarantined')}
${figure(t.duplicates, n(f.duplicates), 'duplicates')}
${figure(t.complianceRate, percent(f.complianceRate), 'complianceRate')}
${figure(t.lateRate, percent(f.lateRate), 'lateRate')}
${figure(t.matchRate, percent(f.matchRate), 'matchRate')}
${figure(t.notInCollected, n(report.totals.unchanged), 'unchanged')}
</div>
<p class="meta" id="reconciliation">${e(
    fill(t.reconciliation, {
      ledgerRead: r.ledgerRead,
      collected: r.collected,
      unchanged: r.unchanged,
      rewritten: r.rewrittenInRun,
    }),
  )}</p>
${backfillBlock(report, t)}</section>`;
}

/** The backfill partitions that ran in the period: counted apart, never in the figures. */
function backfillBlock(report: QualityReport, t: Labels): string {
  const b = report.backfill;
  const text = b.runs > 0 ? fill(t.backfillNote, { ...b }) : t.noBackfill;
  return `<div id="backfill"><h3>${e(t.backfill)}</h3><p>${e(text)}</p></div>`;
}

/** The departments to be watched (late-report rate above half), or a line saying there are none. */
function watchSection(report: QualityReport, t: Labels): string {
  const watch = report.departments.filter((d) => d.watch);
  return `<section id="watch"><h2>${e(t.watch)}</h2>${
    watch.length
      ? table(
          [t.department, t.late, t.measured, t.lateRate],
          watch.map((d) => [departmentLabel(d, t), d.late, d.measured, percent(lateRate(d))]),
          [false, true, true, true],
        )
      : `<p>${e(t.noWatch)}</p>`
  }</section>`;
}

/** The departments ranked by score, as a chart and a table. */
function scorecardSection(report: QualityReport, t: Labels): string {
  return `<section id="scorecard"><h2>${e(t.scorecard)}</h2>
<div class="chart">${scorecardChart(report, t)}</div>
${table(
  [
    t.rank,
    t.department,
    t.score,
    t.validity,
    t.timeliness,
    t.completeness,
    t.read,
    t.quarantined,
    t.duplicates,
    t.late,
    t.rejectedFiles,
  ],
  report.departments.map((d) => [
    d.rank,
    departmentLabel(d, t),
    d.score === null ? '—' : d.score.toFixed(1),
    percent(d.validity),
    percent(d.timeliness),
    percent(d.completeness),
    d.read,
    d.quarantined,
    d.duplicates,
    d.late,
    d.rejectedFiles,
  ]),
  [true, false, true, true, true, true, true, true, true, true, true],
)}</section>`;
}

/**
 * The departments that delivered nothing of a resource the catalog expects of them, with the resources (and
 * the files of theirs rejected whole), under the note that says which resources were checked.
 */
function silentSection(report: QualityReport, t: Labels): string {
  const silent = report.departments.filter((d) => d.silentResources.length > 0);
  const note = silentScopeNote(t, scopeNames(report.departmentScope.resources));
  const untold = report.departmentScope.untoldRejectedFiles;
  const untoldNote = untold > 0 ? `<p class="note">${e(t.untoldRejectedFiles)}: ${e(untold)}</p>` : '';
  return `<section id="silent"><h2>${e(t.silentDepartments)}</h2><p class="note">${e(note)}</p>${untoldNote}${
    silent.length
      ? table(
          [t.department, t.silentResources, t.read, t.rejectedFiles],
          silent.map((d) => [departmentLabel(d, t), silentNames(d), d.read, d.rejectedFiles]),
          [false, false, true, true],
        )
      : `<p>${e(t.noSilent)}</p>`
  }</section>`;
}

/**
 * The department × resource matrix as a long table (a department's resources one under the other: a wide
 * grid of 21 resources would not fit), the departments over 50% late first; silent cells say so.
 */
function matrixSection(report: QualityReport, t: Labels): string {
  const rows = matrixOrder(report.departments).flatMap((d) =>
    d.resources.map((c) => [
      departmentLabel(d, t),
      c.name,
      c.read,
      c.loaded,
      c.quarantined,
      c.duplicates,
      c.measured,
      c.onTime,
      c.late,
      percent(c.complianceRate),
      percent(c.lateRate),
      c.rejectedFiles,
      c.silent ? t.silent : '',
    ]),
  );
  return `<section id="matrix"><h2>${e(t.matrix)}</h2>${table(
    [
      t.department,
      t.resource,
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
    rows,
    [false, false, true, true, true, true, true, true, true, true, true, true, false],
  )}</section>`;
}

/** The last runs' counts and rates, as a chart and a table. */
function trendsSection(report: QualityReport, t: Labels): string {
  return `<section id="trends"><h2>${e(t.trends)}</h2><div class="chart">${trendsChart(report, t)}</div>
${table(
  [t.run, t.started, t.read, t.quarantined, t.duplicates, t.late, t.complianceRate, t.lateRate, t.matchRate],
  report.trends.map((p) => [
    p.runId,
    shanghaiText(p.startedAt),
    p.read,
    p.quarantined,
    p.duplicates,
    p.late,
    percent(p.complianceRate),
    percent(p.lateRate),
    percent(p.matchRate),
  ]),
  [true, false, true, true, true, true, true, true, true],
)}</section>`;
}

/** The figures per China day and per month, as a chart and a table each, backfill partitions apart. */
function periodTrendsSection(report: QualityReport, t: Labels): string {
  const part = (id: string, title: string, first: string, points: TrendPeriod[]) =>
    `<div id="${id}"><h3>${e(title)}</h3><div class="chart">${periodTrendChart(points, title, t)}</div>
${table(
  [
    first,
    t.runCount,
    t.read,
    t.loaded,
    t.quarantined,
    t.duplicates,
    t.late,
    t.complianceRate,
    t.lateRate,
    t.backfillRuns,
    t.backfillRead,
  ],
  points.map((p) => [
    p.period,
    p.runs,
    p.read,
    p.loaded,
    p.quarantined,
    p.duplicates,
    p.late,
    percent(p.complianceRate),
    percent(p.lateRate),
    p.backfill.runs,
    p.backfill.read,
  ]),
  [false, true, true, true, true, true, true, true, true, true, true],
)}</div>`;
  return `<section id="period-trends"><h2>${e(t.trendsByDay)} · ${e(t.trendsByMonth)}</h2>
${part('trends-by-day', t.trendsByDay, t.day, report.trendsByDay)}
${part('trends-by-month', t.trendsByMonth, t.month, report.trendsByMonth)}</section>`;
}

/** What each figure means and how it is computed: the report's notes, the same words as the README's. */
function definitionsSection(report: QualityReport, t: Labels, lang: Lang): string {
  return `<section id="definitions"><h2>${e(t.definitions)}</h2>${table(
    [t.figure, t.definition],
    report.definitions.map((d) => {
      const { name, text } = definitionText(d, lang);
      return [name, text];
    }),
  )}</section>`;
}

/** Each resource's counts and rates, as a chart and a table. */
function resourcesSection(report: QualityReport, t: Labels): string {
  return `<section id="resources"><h2>${e(t.resources)}</h2><div class="chart">${resourcesChart(report, t)}</div>
${table(
  [
    t.resource,
    t.read,
    t.loaded,
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
  report.resources.map((r) => [
    `${r.name} (${r.resource})`,
    r.read,
    r.loaded,
    r.quarantined,
    r.duplicates,
    r.matched,
    r.unmatched,
    r.onTime,
    r.late,
    r.publishLate,
    percent(r.complianceRate),
    percent(r.lateRate),
  ]),
  [false, true, true, true, true, true, true, true, true, true, true, true],
)}</section>`;
}

/** Per resource and field: rows missing it, of the rows that should have it, and the fill rate. */
function completenessSection(report: QualityReport, t: Labels, names: Names): string {
  return `<section id="completeness"><h2>${e(t.completeness)}</h2>${table(
    [t.resource, t.field, t.fieldTitle, t.missing, t.rows, t.fillRate],
    report.completeness.map((c) => [
      names.resource(c.resource),
      c.field,
      c.title,
      c.missing,
      c.rows,
      percent(c.fillRate),
    ]),
    [false, false, false, true, true, true],
  )}</section>`;
}

/** Quarantine issues by resource, type (in the page's language) and field. */
function validitySection(report: QualityReport, t: Labels, names: Names): string {
  return `<section id="validity"><h2>${e(t.issues)}</h2>${table(
    [t.resource, t.issueType, t.field, t.count],
    report.issues.map((i) => [names.resource(i.resource), names.issue(i.type), i.field, i.count]),
    [false, false, false, true],
  )}</section>`;
}

/** Uniqueness and consistency side by side, one line per resource. */
function uniquenessSection(report: QualityReport, t: Labels, names: Names): string {
  return `<section id="uniqueness"><h2>${e(t.uniqueness)} · ${e(t.consistency)}</h2>${table(
    [t.resource, t.duplicatesInRun, t.acrossSources, t.nameMismatch, t.outOfRegion, t.conflictingVersions],
    report.uniqueness.map((u) => {
      const c = report.consistency.find((x) => x.resource === u.resource);
      return [
        names.resource(u.resource),
        u.duplicatesInRun,
        u.acrossSources,
        c?.nameMismatch ?? 0,
        c?.outOfRegion ?? 0,
        c?.conflictingVersions ?? 0,
      ];
    }),
    [false, true, true, true, true, true],
  )}</section>`;
}

/** Records by match method, the methods that matched none left out of the table. */
function matchingSection(report: QualityReport, t: Labels, names: Names): string {
  return `<section id="matching"><h2>${e(t.matching)}</h2><div class="chart">${matchingChart(report, t)}</div>${table(
    [t.resource, t.method, t.count, t.share],
    report.matching
      .filter((m) => m.count > 0)
      .map((m) => [names.resource(m.resource), t.methods[m.method] ?? m.method, m.count, percent(m.share)]),
    [false, false, true, true],
  )}</section>`;
}

/** The most overdue records, HTML_OVERDUE_ROWS of them, with how many there are in all. */
function overdueSection(report: QualityReport, t: Labels, names: Names): string {
  const overdue = report.overdue.rows.slice(0, HTML_OVERDUE_ROWS);
  return `<section id="overdue"><h2>${e(t.overdue)}</h2><p>${e(
    fill(t.overdueNote, { total: report.overdue.total, shown: overdue.length }),
  )}</p>${table(
    [
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
    overdue.map((o) => [
      names.resource(o.resource),
      names.department(o.department),
      o.naturalKey,
      o.uscc ?? '',
      o.subjectName ?? '',
      o.producedDate,
      o.receivedDate,
      o.workdays,
      o.collectLate ? t.late : t.onTime,
      o.publishLate ? t.late : t.onTime,
    ]),
    [false, false, false, false, false, false, false, true, false, false],
  )}</section>`;
}

/** Rejected rows, HTML_SAMPLE_ROWS of them, each with where it came from and its reasons in the page's language. */
function samplesSection(report: QualityReport, t: Labels, names: Names, lang: Lang): string {
  const samples = report.quarantineSamples.rows.slice(0, HTML_SAMPLE_ROWS);
  return `<section id="samples"><h2>${e(t.samples)}</h2><p>${e(
    fill(t.samplesNote, { total: report.quarantineSamples.total, shown: samples.length }),
  )}</p>${table(
    [t.resource, t.file, t.sheet, t.row, t.naturalKey, t.reasons],
    samples.map((s) => [
      s.resource ? names.resource(s.resource) : '—',
      s.file ?? s.source,
      s.sheet ?? '',
      s.row ?? '',
      s.recordId ?? s.rowRef,
      s.issues
        .map(
          (i) =>
            `${names.issue(i.type)}${i.field ? ` ${i.field}` : ''}: ${lang === 'zh' ? i.messageZh : i.message}`,
        )
        .join('；'),
    ]),
    [false, false, false, true, false, false],
  )}</section>`;
}

/** The page around the sections: title, scope line and the inline style (no script, nothing external). */
function page(report: QualityReport, t: Labels, lang: Lang, sections: string[]): string {
  const period = periodLabel(report.scope.period, report.scope, lang);
  const scope = `${period} · ${t.runs} ${report.scope.runs.length > 1 ? `#${report.scope.runs[0]}–#${report.scope.runId} (${report.scope.runs.length})` : `#${report.scope.runId}`} · ${t.from} ${shanghaiText(report.scope.from)} ${t.to} ${shanghaiText(report.scope.to)}`;
  return `<!DOCTYPE html>
<html lang="${lang === 'zh' ? 'zh-CN' : 'en'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${e(t.title)} · ${e(period)}</title>
<style>
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }
h1 { font-size: 22px; } h3 { font-size: 15px; } h2 { font-size: 17px; border-bottom: 2px solid #3b7dd8; padding-bottom: 4px; margin-top: 32px; }
.meta { color: #555; font-size: 13px; }
.figs { display: flex; flex-wrap: wrap; gap: 12px; }
.fig { border: 1px solid #ddd; border-radius: 6px; padding: 10px 14px; min-width: 120px; }
.fig .v { font-size: 20px; font-weight: bold; } .fig .l { font-size: 12px; color: #555; }
/* tables fit: Chinese words are not split a character a line (keep-all), numbers never wrap, and a table wider
   than the page scrolls inside its wrapper instead of squeezing its columns */
.tw { overflow-x: auto; margin: 8px 0; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top; word-break: keep-all; min-width: 3em; }
th { background: #eef3fb; } td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; min-width: 0; }
td.d { white-space: nowrap; }
.chart svg { max-width: 100%; height: auto; }
@media print { section { page-break-inside: avoid; } }
</style>
</head>
<body>
<h1>${e(t.title)} · ${e(period)}</h1>
<p class="meta">${e(t.scope)}: ${e(scope)} · ${e(t.generated)}: ${e(shanghaiText(report.generatedAt))} · ${e(t.timeZoneNote)}</p>
${sections.join('\n')}
</body>
</html>
`;
}

/** Open objections past their deadline (issue 14); nothing when there are none. */
function objectionsOverdueSection(report: QualityReport, names: Names, lang: Lang): string {
  const rows = report.objectionsOverdue ?? [];
  if (rows.length === 0) return '';
  const zh = lang === 'zh';
  const title = zh ? '逾期未办结的异议' : 'Objections past their deadline';
  const headers = zh
    ? ['异议编号', '记录编号', '资源', '受理日期', '办理期限', '异议理由']
    : ['Objection', 'Record', 'Resource', 'Received', 'Deadline', 'Reason'];
  return `<section id="objections"><h2>${e(title)}</h2>${table(
    headers,
    rows.map((o) => [o.id, o.record, names.resource(o.resource), o.received, o.deadline, o.reason]),
    [true, true],
  )}</section>`;
}
