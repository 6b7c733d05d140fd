/**
 * `index.html` of the report folder: every report written there, newest first, with its run or period, the
 * run's kind and status, and links to its HTML, XLSX and JSON files. Regenerated whenever a report is written.
 * What the page says of each report is kept in `index.json` next to it; the files themselves are found by
 * listing the folder, so a report written before the index existed, or a file deleted since, shows as it is.
 */
import { readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { shanghaiIso, shanghaiText } from '../../lib/time.js';
import type { QualityReport } from './data.js';
import { escapeHtml as e } from './html.js';
import { labelsFor, percent } from './labels.js';
import { periodLabel } from './scope.js';

export const INDEX_HTML = 'index.html';
export const INDEX_JSON = 'index.json';

/**
 * What the index keeps of one report (a base name: `quality-run-12`, `quality-since-2026-11-01-run-12`,
 * `quality-month-2026-11`, `quality-range-2026-11-01-to-2026-11-15`).
 */
export interface IndexEntry {
  base: string;
  runId: number;
  runs: number[];
  since: string | null;
  /** Absent in entries written before months and ranges existed. */
  until?: string | null;
  month?: string | null;
  from: string | null;
  to: string | null;
  kind: string | null;
  status: string | null;
  generatedAt: string;
  complianceRate: number | null;
  lateRate: number | null;
}

interface ReportFile {
  name: string;
  format: string;
  lang: string;
}

const FILE_NAME =
  /^(quality-(?:(?:since-(\d{4}-\d{2}-\d{2})-)?run-(\d+)|month-(\d{4}-\d{2})|range-(\d{4}-\d{2}-\d{2})-to-(\d{4}-\d{2}-\d{2})))(?:\.([a-z]{2}))?\.(html|xlsx|json)$/;

/** The entry a report makes in the index. */
export function indexEntry(report: QualityReport, base: string): IndexEntry {
  return {
    base,
    runId: report.scope.runId,
    runs: report.scope.runs,
    since: report.scope.period.since,
    until: report.scope.period.until,
    month: report.scope.period.month,
    from: report.scope.from,
    to: report.scope.to,
    kind: report.scope.kind,
    status: report.scope.status,
    generatedAt: report.generatedAt,
    complianceRate: report.rates.complianceRate,
    lateRate: report.rates.lateRate,
  };
}

function readEntries(outDir: string): IndexEntry[] {
  try {
    const parsed = JSON.parse(readFileSync(join(outDir, INDEX_JSON), 'utf8')) as { reports?: IndexEntry[] };
    return Array.isArray(parsed.reports) ? parsed.reports : [];
  } catch {
    return []; // none yet, or unreadable: the folder listing still finds every report
  }
}

function writeAtomically(file: string, text: string): void {
  const partial = `${file}.${process.pid}.partial`;
  writeFileSync(partial, text);
  renameSync(partial, file);
}

/** Records `entry` (replacing an older entry of the same base) and rewrites index.json and index.html. */
export function updateIndex(outDir: string, entry: IndexEntry): string {
  const files = new Map<string, ReportFile[]>();
  const byBase = new Map<string, IndexEntry>();
  for (const old of readEntries(outDir)) byBase.set(old.base, old);
  byBase.set(entry.base, entry);
  for (const name of readdirSync(outDir).sort()) {
    const m = FILE_NAME.exec(name);
    if (!m) continue;
    const [, base = '', since, run = '0', month, rangeFrom, rangeTo, lang, format = ''] = m;
    files.set(base, [...(files.get(base) ?? []), { name, format, lang: lang ?? '' }]);
    if (!byBase.has(base)) {
      // a report written before the index: what its name and the file's time tell
      byBase.set(base, {
        base,
        runId: Number(run),
        runs: [Number(run)],
        since: since ?? rangeFrom ?? null,
        until: rangeTo ?? null,
        month: month ?? null,
        from: null,
        to: null,
        kind: null,
        status: null,
        generatedAt: shanghaiIso(statSync(join(outDir, name)).mtime),
        complianceRate: null,
        lateRate: null,
      });
    }
  }
  const entries = [...byBase.values()]
    .filter((x) => files.has(x.base))
    .sort((a, b) => Date.parse(b.generatedAt) - Date.parse(a.generatedAt) || b.runId - a.runId);
  writeAtomically(join(outDir, INDEX_JSON), `${JSON.stringify({ reports: entries }, null, 2)}\n`);
  const page = join(outDir, INDEX_HTML);
  writeAtomically(page, renderIndex(entries, files));
  return page;
}

const FORMAT_ORDER = ['html', 'xlsx', 'json'];

/** The index page: one table row a report, newest first (Chinese, as the reports are by default). */
export function renderIndex(entries: IndexEntry[], files: Map<string, ReportFile[]>): string {
  const t = labelsFor('zh');
  const rows = entries.map((x) => {
    const scope = x.month
      ? periodLabel({ month: x.month, since: null, until: null }, x, 'zh')
      : x.since !== null && x.until
        ? periodLabel({ month: null, since: x.since, until: x.until }, x, 'zh')
        : x.since !== null
          ? `${t.runs} #${x.runs[0] ?? x.runId}–#${x.runId}（${x.since} 起）`
          : `${t.run} #${x.runId}`;
    const period = x.from && x.to ? `${shanghaiText(x.from)} – ${shanghaiText(x.to)}` : '—';
    const links = [...(files.get(x.base) ?? [])]
      .sort(
        (a, b) =>
          a.lang.localeCompare(b.lang) || FORMAT_ORDER.indexOf(a.format) - FORMAT_ORDER.indexOf(b.format),
      )
      .map(
        (f) =>
          `<a href="${e(encodeURIComponent(basename(f.name)))}">${e(f.format.toUpperCase())}${f.lang ? ` (${e(f.lang)})` : ''}</a>`,
      )
      .join(' · ');
    return `<tr data-report="${e(x.base)}"><td class="n">${e(shanghaiText(x.generatedAt))}</td><td>${e(scope)}</td><td>${e(period)}</td><td>${e(x.kind === null ? '—' : (t.kinds[x.kind] ?? x.kind))}</td><td>${e(x.status === null ? '—' : (t.statuses[x.status] ?? x.status))}</td><td class="n">${e(percent(x.complianceRate))}</td><td class="n">${e(percent(x.lateRate))}</td><td>${links}</td></tr>`;
  });
  return `<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${e(t.title)} · ${e(t.reports)}</title>
<style>
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }
h1 { font-size: 22px; } .meta { color: #555; font-size: 13px; }
.tw { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top; word-break: keep-all; }
th { background: #eef3fb; } td.n { white-space: nowrap; font-variant-numeric: tabular-nums; }
</style>
</head>
<body>
<h1>${e(t.title)} · ${e(t.reports)}</h1>
<p class="meta">${e(t.reportsNote)} ${e(t.timeZoneNote)}</p>
<div class="tw"><table><thead><tr><th>${e(t.generatedAt)}</th><th>${e(t.scope)}</th><th>${e(t.period)}</th><th>${e(t.kind)}</th><th>${e(t.status)}</th><th>${e(t.complianceRate)}</th><th>${e(t.lateRate)}</th><th>${e(t.files)}</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table></div>
</body>
</html>
`;
}
