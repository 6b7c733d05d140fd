import { type Command, Option } from 'commander';
import { GuijiError } from '../../lib/errors.js';
import { REPORT_FORMATS, type ReportFormat, type WrittenReports, writeReports } from '../report/index.js';
import { periodLabel, periodOf } from '../report/scope.js';
import { prepareWarehouse } from '../warehouse/prepare.js';
import { commandCatalog, commandContext, idFlag, withWarehouse, writeJson } from './context.js';

interface ReportCommandOptions {
  run: string;
  since?: string;
  until?: string;
  month?: string;
  format: string;
  lang: 'zh' | 'en';
  out?: string;
  json?: boolean;
}

export function parseFormats(text: string): ReportFormat[] {
  const formats = text
    .split(',')
    .map((f) => f.trim().toLowerCase())
    .filter(Boolean);
  if (!formats.length)
    throw new GuijiError('GUIJI_ERR_USAGE', '--format: name at least one of html, xlsx, json');
  for (const f of formats) {
    if (!(REPORT_FORMATS as readonly string[]).includes(f)) {
      throw new GuijiError(
        'GUIJI_ERR_USAGE',
        `--format: unknown format "${f}" (known: ${REPORT_FORMATS.join(', ')})`,
      );
    }
  }
  return [...new Set(formats)] as ReportFormat[];
}

function parseRun(text: string): number | 'latest' {
  if (text === 'latest') return 'latest';
  if (!/^\d+$/.test(text))
    throw new GuijiError('GUIJI_ERR_USAGE', `--run: expected "latest" or a run id, got "${text}"`);
  return idFlag(text, '--run');
}

/** The period options given (exactOptionalPropertyTypes: absent ones left out). */
function definedPeriod(opts: ReportCommandOptions): { since?: string; until?: string; month?: string } {
  return {
    ...(opts.since !== undefined ? { since: opts.since } : {}),
    ...(opts.until !== undefined ? { until: opts.until } : {}),
    ...(opts.month !== undefined ? { month: opts.month } : {}),
  };
}

/** `guiji report`: the quality report of a run, a month, or a range of days as HTML, XLSX and JSON. */
export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description(
      'write the quality report of a run, a month or a range of days: HTML (charts, scorecard, overdue lists), XLSX and JSON',
    )
    .option('--run <id>', 'the run: latest or a run id', 'latest')
    .option(
      '--month <month>',
      'add up every nightly and manual run started in this Asia/Shanghai month (YYYY-MM); backfills apart',
    )
    .option(
      '--since <date>',
      'add up every nightly and manual run started on or after this date (YYYY-MM-DD), up to the run or --until',
    )
    .option('--until <date>', 'with --since: up to the end of this date (YYYY-MM-DD)')
    .option('--format <list>', 'comma-separated: html,xlsx,json', 'html,xlsx,json')
    .addOption(
      new Option('--lang <lang>', 'language of the HTML and XLSX reports')
        .choices(['zh', 'en'])
        .default('zh'),
    )
    .option('--out <dir>', 'output folder (default GUIJI_REPORT_DIR)')
    .option('--json', 'print { files, index, report } as JSON')
    .action(async (opts: ReportCommandOptions) => {
      const formats = parseFormats(opts.format);
      const run = parseRun(opts.run);
      // the options checked against each other before the warehouse is opened (exit 2)
      periodOf({ run, ...definedPeriod(opts) });
      const ctx = commandContext();
      const { config } = ctx;
      const catalog = commandCatalog(ctx);
      const written: WrittenReports = await withWarehouse(ctx, async (db) => {
        await prepareWarehouse(db, catalog);
        return writeReports(db, catalog, {
          outDir: opts.out ?? config.reportDir,
          run,
          formats,
          lang: opts.lang,
          catalogDir: config.catalogDir,
          ...definedPeriod(opts),
        });
      });
      if (opts.json) {
        writeJson({ files: written.files, index: written.index, ms: written.ms, report: written.report });
        return;
      }
      const r = written.report;
      const f = r.figures;
      process.stdout.write(
        `quality report of ${periodLabel(r.scope.period, r.scope, 'en')} (${r.scope.runs.length} run${r.scope.runs.length === 1 ? '' : 's'}): ` +
          `collected ${f.read}, loaded ${f.loaded}, quarantined ${f.quarantined}, duplicates ${f.duplicates}, ` +
          `late ${f.late} of ${f.measured}` +
          (r.backfill.runs > 0
            ? `; backfill partitions apart: ${r.backfill.runs}, ${r.backfill.read} rows read`
            : '') +
          '\n',
      );
      for (const [format, file] of Object.entries(written.files))
        process.stdout.write(`  ${format.padEnd(5)} ${file}\n`);
      process.stdout.write(`  index ${written.index}\n`);
    });
}
