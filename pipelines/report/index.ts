import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Catalog } from '../../catalog/load.js';
import type { Warehouse } from '../../lib/db.js';
import { GuijiError } from '../../lib/errors.js';
import { gatherReport, type QualityReport } from './data.js';
import { renderHtml } from './html.js';
import type { Lang } from './labels.js';
import { indexEntry, updateIndex } from './listing.js';
import { reportBaseName } from './scope.js';
import { writeXlsx } from './xlsx.js';

export type { QualityReport } from './data.js';
export { REPORT_VERSION } from './data.js';

export const REPORT_FORMATS = ['html', 'xlsx', 'json'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface ReportOptions {
  /** Where the files go (the CLI's default: config.reportDir = GUIJI_REPORT_DIR). */
  outDir: string;
  /** 'latest' (default) or a run id. */
  run?: number | 'latest';
  /** Every run started on or after this China date (YYYY-MM-DD), up to the run (or up to `until`). */
  since?: string;
  /** With `since`: every run started up to the end of this China date (YYYY-MM-DD). */
  until?: string;
  /** Every nightly and manual run started in this Asia/Shanghai month (YYYY-MM). */
  month?: string;
  /** The report's clock (default: now). */
  now?: Date;
  /** Default: all three. */
  formats?: readonly ReportFormat[];
  /** Language of the HTML and XLSX reports (JSON keys are the contract, always English). Default zh. */
  lang?: Lang;
  /** The catalog folder (its working-day override), used when a run's metrics must be computed first. */
  catalogDir?: string;
}

export interface WrittenReports {
  report: QualityReport;
  /** The files written, by format. */
  files: Partial<Record<ReportFormat, string>>;
  /** The folder's index.html, listing every report written there (rewritten with each report). */
  index: string;
  ms: number;
}

/**
 * Writes the quality report of a run (or of the runs of a month, a range of days, or since a day) in the formats asked: HTML, XLSX and the
 * JSON contract, into `outDir`. Each file is written under a temporary name and renamed, so a reader never sees
 * half a report; the folder's index.html is then rewritten to list it. The nightly scheduler calls this after
 * each run.
 */
export async function writeReports(
  db: Warehouse,
  catalog: Catalog,
  options: ReportOptions,
): Promise<WrittenReports> {
  const started = Date.now();
  const formats = options.formats ?? REPORT_FORMATS;
  for (const f of formats) {
    if (!(REPORT_FORMATS as readonly string[]).includes(f)) {
      throw new GuijiError(
        'GUIJI_ERR_USAGE',
        `unknown report format "${f}" (known: ${REPORT_FORMATS.join(', ')})`,
      );
    }
  }
  const lang = options.lang ?? 'zh';
  const report = await gatherReport(db, catalog, {
    ...(options.run !== undefined ? { run: options.run } : {}),
    ...(options.since !== undefined ? { since: options.since } : {}),
    ...(options.until !== undefined ? { until: options.until } : {}),
    ...(options.month !== undefined ? { month: options.month } : {}),
    ...(options.now !== undefined ? { now: options.now } : {}),
    ...(options.catalogDir !== undefined ? { catalogDir: options.catalogDir } : {}),
    overdueCap: 1000,
    sampleCap: 200,
  });
  const outDir = resolve(options.outDir);
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (error) {
    throw new GuijiError('GUIJI_ERR_FILE', `cannot create the report folder ${outDir}`, {
      cause: error,
      context: { file: outDir },
    });
  }
  const base = join(outDir, reportBaseName(report.scope.period, report.scope.runId));
  const suffix = lang === 'zh' ? '' : `.${lang}`;
  const files: Partial<Record<ReportFormat, string>> = {};
  for (const format of formats) {
    const file = format === 'json' ? `${base}.json` : `${base}${suffix}.${format}`;
    const partial = `${file}.partial`;
    if (format === 'json') writeFileSync(partial, `${JSON.stringify(report, null, 2)}\n`);
    else if (format === 'html') writeFileSync(partial, renderHtml(report, lang));
    else await writeXlsx(report, partial, lang);
    renameSync(partial, file);
    files[format] = file;
  }
  const index = updateIndex(outDir, indexEntry(report, basename(base)));
  return { report, files, index, ms: Date.now() - started };
}
