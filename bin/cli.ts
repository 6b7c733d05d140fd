import { Argument, Command, Option } from 'commander';
import { loadCatalog } from '../catalog/load.js';
import { type Config, loadConfig, SETTINGS } from '../lib/config.js';
import { openWarehouse, type Warehouse } from '../lib/db.js';
import { exitCodeOf, GuijiError, messageOf } from '../lib/errors.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { formatPlan } from '../pipelines/backfill/report.js';
import { registerBackfillCommands, statusBackfills } from '../pipelines/commands/backfill.js';
import { registerCalendarCommands } from '../pipelines/commands/calendar.js';
import { registerCatalogCommands } from '../pipelines/commands/catalog.js';
import { registerReportCommand } from '../pipelines/commands/report.js';
import { registerReviewCommands } from '../pipelines/commands/review.js';
import { registerScheduleCommand } from '../pipelines/commands/schedule.js';
import { registerTemplateCommands } from '../pipelines/commands/template.js';
import { runDemo } from '../pipelines/demo/demo.js';
import { printRun, printRuns } from '../pipelines/output.js';
import { listQuarantine, printQuarantine } from '../pipelines/quarantine.js';
import { type RunSummary, recentRuns, runPipeline, SOURCES } from '../pipelines/run.js';
import { PLATFORMS, type SimulateFlags, simulate } from '../pipelines/simulate/serve.js';
import { migrate } from '../pipelines/warehouse/migrate.js';
import { syncViews } from '../pipelines/warehouse/views.js';
import { checkId, type IdKind } from '../schemas/identifiers.js';

const settingsHelp = `\nSettings (environment; flags win over environment, environment over guiji.config.json):\n${SETTINGS.map(
  (s) => `  ${s.env.join(' | ').padEnd(34)} ${s.help}`,
).join(
  '\n',
)}\n\nExit codes: 0 done, 1 failed, 2 bad usage or configuration, 3 another run holds the lock, 4 partly done.\n`;

interface Context {
  config: Readonly<Config>;
  logger: Logger;
}

function context(overrides: Partial<Config> = {}): Context {
  const config = loadConfig({ overrides });
  const logger = createLogger(config.logLevel, process.stderr);
  return { config, logger };
}

async function withWarehouse<T>(
  ctx: Context,
  fn: (db: Warehouse) => Promise<T>,
  options: { serve?: boolean } = {},
): Promise<T> {
  const db = await openWarehouse({
    home: ctx.config.home,
    databaseUrl: ctx.config.databaseUrl,
    schema: ctx.config.dbSchema,
    ...(options.serve ? { serve: true } : {}),
  });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/**
 * SIGTERM and SIGINT stop `run` and `schedule` between batches: the batch in flight commits, the run is
 * recorded as interrupted, the locks are released and the command exits 0. A second signal stops at once.
 */
function stopSignal(logger: Logger): AbortSignal {
  const controller = new AbortController();
  for (const name of ['SIGTERM', 'SIGINT'] as const) {
    process.on(name, () => {
      if (controller.signal.aborted) {
        logger.warn({ signal: name }, 'second signal: stopping now, without waiting for the batch in flight');
        process.exit(130);
      }
      logger.warn(
        { signal: name },
        'stopping: the batch in flight commits, then the run is recorded as interrupted',
      );
      controller.abort();
    });
  }
  return controller.signal;
}

function exitCodeForRun(summary: RunSummary): number {
  return summary.status === 'succeeded' ? 0 : summary.status === 'partial' ? 4 : 1;
}

function writeJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

const program = new Command();
program
  .name('guiji')
  .description(
    '归集 — collects enterprise information from departments and platforms into one regulatory warehouse',
  )
  .addHelpText('after', settingsHelp)
  .showHelpAfterError()
  .exitOverride();

program
  .command('run')
  .description('run the pipeline over the sources (default: every source)')
  .addOption(new Option('--source <source...>', 'only these sources').choices([...SOURCES]))
  .option('--drop-dir <dir>', 'the spreadsheet drop folder (GUIJI_DROP_DIR)')
  .option('--json', 'print the run as JSON')
  .action(async (opts: { source?: string[]; dropDir?: string; json?: boolean }) => {
    const ctx = context(opts.dropDir ? { dropDir: opts.dropDir } : {});
    const catalog = loadCatalog(ctx.config.catalogDir, ctx.config.schemasDir);
    const signal = stopSignal(ctx.logger);
    const result = await withWarehouse(ctx, (db) =>
      runPipeline({
        config: ctx.config,
        db,
        catalog,
        logger: ctx.logger,
        signal,
        ...(opts.source ? { sources: opts.source } : {}),
      }),
    );
    if (opts.json) writeJson(result.summary);
    else printRun(result.summary, result.files);
    // stopped on request: what committed stays, the next run goes on from there
    process.exitCode = signal.aborted ? 0 : exitCodeForRun(result.summary);
  });

program
  .command('status')
  .description('recent runs with their ledger, newest first')
  .option('--limit <n>', 'how many runs', '10')
  .option('--json', 'print { runs: [...], backfills } as JSON')
  .action(async (opts: { limit: string; json?: boolean }) => {
    const ctx = context();
    const { runs, backfills } = await withWarehouse(ctx, async (db) => ({
      runs: await recentRuns(db, Number(opts.limit) || 10),
      backfills: await statusBackfills(db),
    }));
    if (opts.json) writeJson({ runs, backfills });
    else {
      printRuns(runs);
      console.log(`\n${formatPlan(backfills)}`);
    }
  });

program
  .command('migrate')
  .description("apply pending warehouse migrations and regenerate the analysts' views (run does both too)")
  .action(async () => {
    const ctx = context();
    const catalog = loadCatalog(ctx.config.catalogDir, ctx.config.schemasDir);
    const { applied, views } = await withWarehouse(ctx, async (db) => ({
      applied: await migrate(db.knex, db.schema),
      views: await syncViews(db, catalog),
    }));
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'the warehouse is up to date');
    if (views.created.length) console.log(`views created: ${views.created.join(', ')}`);
    if (views.dropped.length) console.log(`views dropped: ${views.dropped.join(', ')}`);
  });

const quarantine = program.command('quarantine').description('rejected rows, kept with every reason');
quarantine
  .command('list')
  .description('list rejected rows with their reasons and where they came from')
  .option('--run <id>', 'only rows rejected by this run')
  .option('--file <name>', 'only rows of this file')
  .option('--limit <n>', 'at most this many rows', '100')
  .option('--json', 'print one JSON object per row (the quarantine record contract)')
  .action(async (opts: { run?: string; file?: string; limit: string; json?: boolean }) => {
    const ctx = context();
    const rows = await withWarehouse(ctx, async (db) => {
      await migrate(db.knex, db.schema);
      return listQuarantine(db, {
        limit: Number(opts.limit) || 100,
        ...(opts.run ? { runId: Number(opts.run) } : {}),
        ...(opts.file ? { file: opts.file } : {}),
      });
    });
    if (opts.json) for (const row of rows) writeJson(row);
    else printQuarantine(rows);
  });

const id = program.command('id').description('identifier tools');
id.command('check')
  .description('check unified social credit codes, organisation codes, registration numbers or resident IDs')
  .addOption(
    new Option('--kind <kind>', 'the kind of identifier (default: guessed)').choices([
      'uscc',
      'org',
      'regno',
      'idcard',
    ]),
  )
  .option('--json', 'one JSON line per code: { input, kind, valid, reason }')
  .argument('[codes...]', 'codes to check (default: one a line on stdin)')
  .action(async (codes: string[], opts: { kind?: IdKind; json?: boolean }) => {
    const inputs = codes.length ? codes : (await readStdin()).split(/\r?\n/).filter((l) => l.trim() !== '');
    let invalid = 0;
    for (const input of inputs) {
      const check = checkId(input, opts.kind);
      if (!check.valid) invalid++;
      if (opts.json)
        writeJson({
          input,
          kind: check.kind,
          valid: check.valid,
          reason: check.reason,
          reasonZh: check.reasonZh,
        });
      else
        console.log(
          `${check.valid ? 'valid  ' : 'INVALID'}  ${check.kind.padEnd(6)}  ${input}${check.valid ? '' : `  — ${check.reason} (${check.reasonZh})`}`,
        );
    }
    process.exitCode = invalid ? 1 : 0;
  });

program
  .command('demo')
  .description(
    'write realistic sample spreadsheets into the drop folder, run the pipeline, and show what happened',
  )
  .option('--seed <n>', 'random seed (the same seed writes the same files)', '20200101')
  .option('--records <n>', 'penalty records to generate', '600')
  .option('--json', 'print the run as JSON')
  .action(async (opts: { seed: string; records: string; json?: boolean }) => {
    const ctx = context();
    const catalog = loadCatalog(ctx.config.catalogDir, ctx.config.schemasDir);
    const result = await withWarehouse(ctx, (db) =>
      runDemo({
        config: ctx.config,
        db,
        catalog,
        logger: ctx.logger,
        seed: Number(opts.seed),
        records: Number(opts.records),
        json: opts.json ?? false,
      }),
    );
    process.exitCode = exitCodeForRun(result.summary);
  });

registerCalendarCommands(program, () => loadConfig().catalogDir);
const catalogLocation = () => {
  const { catalogDir, schemasDir } = loadConfig();
  return { catalogDir, schemasDir };
};
registerCatalogCommands(program, catalogLocation);
registerTemplateCommands(program, catalogLocation);
registerReviewCommands(program, { withWarehouse: (fn) => withWarehouse(context(), fn) });
registerReportCommand(program, {
  withWarehouse: (fn) => {
    const ctx = context();
    const catalog = loadCatalog(ctx.config.catalogDir, ctx.config.schemasDir);
    return withWarehouse(ctx, (db) => fn(db, catalog, ctx.config));
  },
});
registerBackfillCommands(program);
registerScheduleCommand(program, { context: () => context(), withWarehouse, stopSignal });

program
  .command('simulate')
  .description(
    'serve a faithful local simulator of a platform on 127.0.0.1 (for tests, the demo and the benchmark)',
  )
  .addArgument(new Argument('<platform>', 'which platform').choices(PLATFORMS))
  .option('--port <port>', 'port (0 = any free one)', '0')
  .option('--records <n>', 'records to serve', '1000')
  .option('--seed <n>', 'random seed', '1')
  .option(
    '--faults <spec>',
    'faults to inject, e.g. "5xx=0.1,timeout=0.05,quota=0.05,expire=0.02,drift=0.01"',
  )
  .option('--clamp-page-size <n>', 'serve at most n rows a page whatever is asked (a platform that caps it)')
  // --page-size-declared first: defined before its --no- form, the default stays unset (each platform's own)
  .option(
    '--page-size-declared',
    'say the page size in the answers (the sharing platform does not by default)',
  )
  .option('--no-page-size-declared', 'leave the page size out of the answers')
  .option(
    '--short-page <page:rows[:times]>',
    'cut page `page` of every window to `rows` rows, `times` times (or "always")',
  )
  .action(async (platform: string, opts: SimulateFlags) => {
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    process.once('SIGTERM', () => controller.abort());
    await simulate(platform, opts, controller.signal);
  });

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const code = (error as { code?: string }).code;
  if (typeof code === 'string' && code.startsWith('commander.')) {
    // commander has printed help or the usage error already
    process.exitCode = code === 'commander.helpDisplayed' || code === 'commander.version' ? 0 : 2;
  } else {
    const context = error instanceof GuijiError ? error.context : {};
    process.stderr.write(`guiji: ${messageOf(error)}\n`);
    if (!(error instanceof GuijiError) && process.env.GUIJI_LOG_LEVEL === 'debug') console.error(error);
    void context;
    process.exitCode = exitCodeOf(error);
  }
}
