import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Argument, Command, Option } from 'commander';
import { loadCatalog } from '../catalog/load.js';
import { loadConfig, SETTINGS } from '../lib/config.js';
import { exitCodeOf, toGuijiError, type WarehouseTarget } from '../lib/errors.js';
import { formatPlan } from '../pipelines/backfill/report.js';
import { registerBackfillCommands, statusBackfills } from '../pipelines/commands/backfill.js';
import { registerCalendarCommands } from '../pipelines/commands/calendar.js';
import { registerCatalogCommands } from '../pipelines/commands/catalog.js';
import {
  checkRunSettings,
  commandContext,
  exitCodeForRun,
  idFlag,
  integerFlag,
  limitFlag,
  stopSignal,
  warehouseTarget,
  withWarehouse,
  writeJson,
} from '../pipelines/commands/context.js';
import { registerDoctorCommand } from '../pipelines/commands/doctor.js';
import { registerReportCommand } from '../pipelines/commands/report.js';
import { registerReviewCommands } from '../pipelines/commands/review.js';
import { registerScheduleCommand } from '../pipelines/commands/schedule.js';
import { registerTemplateCommands } from '../pipelines/commands/template.js';
import { demoConfig, runDemo } from '../pipelines/demo/demo.js';
import { printRun, printRuns } from '../pipelines/output.js';
import { listQuarantine, printQuarantine } from '../pipelines/quarantine.js';
import { recentRuns, runPipeline, SOURCES } from '../pipelines/run.js';
import { PLATFORMS, type SimulateFlags, simulate } from '../pipelines/simulate/serve.js';
import { migrate } from '../pipelines/warehouse/migrate.js';
import { prepareWarehouse } from '../pipelines/warehouse/prepare.js';
import { checkId, type IdKind } from '../schemas/identifiers.js';

const settingsHelp = `\nSettings (environment; flags win over environment, environment over guiji.config.json):\n${SETTINGS.map(
  (s) => `  ${s.env.join(' | ').padEnd(34)} ${s.help}`,
).join(
  '\n',
)}\n\nExit codes: 0 done, 1 failed, 2 bad usage or configuration, 3 another run holds the lock, 4 partly done.\n`;

const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as {
  version: string;
};

const program = new Command();
program
  .name('guiji')
  .description(
    '归集 — collects enterprise information from departments and platforms into one regulatory warehouse',
  )
  .version(version, '-V, --version', 'print the version of guiji')
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
    const ctx = commandContext(opts.dropDir ? { dropDir: opts.dropDir } : {});
    const catalog = loadCatalog(ctx.config.catalogDir, ctx.config.schemasDir);
    checkRunSettings(ctx.config, catalog, ctx.logger, opts.source);
    const signal = stopSignal(ctx.logger);
    // a run holds the embedded warehouse for a while: it serves it, so that status and the others work meanwhile
    const result = await withWarehouse(
      ctx,
      (db) =>
        runPipeline({
          config: ctx.config,
          db,
          catalog,
          logger: ctx.logger,
          signal,
          ...(opts.source ? { sources: opts.source } : {}),
        }),
      { serve: true },
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
    const limit = limitFlag(opts.limit);
    const ctx = commandContext();
    const { runs, backfills } = await withWarehouse(ctx, async (db) => ({
      runs: await recentRuns(db, limit),
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
    const ctx = commandContext();
    const catalog = loadCatalog(ctx.config.catalogDir, ctx.config.schemasDir);
    const { applied, tables, upgraded, views } = await withWarehouse(ctx, (db) =>
      prepareWarehouse(db, catalog),
    );
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'the warehouse is up to date');
    if (tables.created.length) console.log(`tables created: ${tables.created.join(', ')}`);
    if (tables.added.length) console.log(`columns added: ${tables.added.join(', ')}`);
    for (const u of upgraded.resources)
      console.log(`moved into r_${u.resource}: ${u.records} records, ${u.history} history rows`);
    for (const l of upgraded.leftBehind)
      console.log(`left in records_v1 (not in the catalog): ${l.resource}, ${l.records} records`);
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
    const limit = limitFlag(opts.limit);
    const runId = opts.run === undefined ? undefined : idFlag(opts.run, '--run');
    const ctx = commandContext();
    const rows = await withWarehouse(ctx, async (db) => {
      await migrate(db.knex, db.schema);
      return listQuarantine(db, {
        limit,
        ...(runId !== undefined ? { runId } : {}),
        ...(opts.file !== undefined ? { file: opts.file } : {}),
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
  .option(
    '--use-configured-database',
    'load the made-up records into the configured GUIJI_DATABASE_URL (default: ignore it, use the embedded warehouse)',
  )
  .option('--json', 'print the run as JSON')
  .action(
    async (opts: { seed: string; records: string; useConfiguredDatabase?: boolean; json?: boolean }) => {
      const seed = integerFlag(opts.seed, '--seed', 0);
      const records = integerFlag(opts.records, '--records', 1, 1_000_000);
      const base = commandContext();
      const ctx = { ...base, config: demoConfig(base.config, opts.useConfiguredDatabase ?? false) };
      const catalog = loadCatalog(ctx.config.catalogDir, ctx.config.schemasDir);
      const result = await withWarehouse(
        ctx,
        (db) =>
          runDemo({
            config: ctx.config,
            db,
            catalog,
            logger: ctx.logger,
            seed,
            records,
            json: opts.json ?? false,
            guardExisting: !opts.useConfiguredDatabase,
            ...(ctx.config !== base.config
              ? { hintEnv: `GUIJI_DATABASE_URL= DATABASE_URL= GUIJI_HOME=${ctx.config.home} ` }
              : {}),
          }),
        { serve: true },
      );
      process.exitCode = exitCodeForRun(result.summary);
    },
  );

registerCalendarCommands(program, () => loadConfig().catalogDir);
const catalogLocation = () => {
  const { catalogDir, schemasDir } = loadConfig();
  return { catalogDir, schemasDir };
};
registerCatalogCommands(program, catalogLocation);
registerTemplateCommands(program, catalogLocation);
registerReviewCommands(program, {
  withWarehouse: (fn) => {
    const ctx = commandContext();
    const catalog = loadCatalog(ctx.config.catalogDir, ctx.config.schemasDir);
    return withWarehouse(ctx, (db) => fn(db, catalog));
  },
});
registerReportCommand(program, {
  withWarehouse: (fn) => {
    const ctx = commandContext();
    const catalog = loadCatalog(ctx.config.catalogDir, ctx.config.schemasDir);
    return withWarehouse(ctx, (db) => fn(db, catalog, ctx.config));
  },
});
registerBackfillCommands(program);
registerScheduleCommand(program);
registerDoctorCommand(program);

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

/** The warehouse a message may name, when the settings can be read at all. */
function targetForMessages(): WarehouseTarget {
  try {
    return warehouseTarget(loadConfig());
  } catch {
    return { where: 'the warehouse', setting: 'GUIJI_DATABASE_URL' };
  }
}

/** Whether the stack and causes of a failure may be printed (GUIJI_LOG_LEVEL=debug or trace). */
function debugWanted(): boolean {
  try {
    return ['debug', 'trace'].includes(loadConfig().logLevel);
  } catch {
    return false;
  }
}

/** An error's stack and every cause's, for GUIJI_LOG_LEVEL=debug. */
function stackOf(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 6; depth++) {
    lines.push(
      depth === 0 ? '' : 'caused by:',
      current instanceof Error ? (current.stack ?? current.message) : String(current),
    );
    current = (current as { cause?: unknown }).cause;
  }
  return lines.filter(Boolean).join('\n');
}

/** With `--json`, a failure is JSON on stdout too, so that a script reading stdout always gets JSON. */
const wantsJson = process.argv.slice(2).includes('--json');

try {
  await program.parseAsync(process.argv);
} catch (thrown) {
  const code = (thrown as { code?: string }).code;
  if (typeof code === 'string' && code.startsWith('commander.')) {
    // commander has printed help, the version or the usage error already
    const fine = ['commander.helpDisplayed', 'commander.version'].includes(code);
    if (!fine && wantsJson)
      writeJson({
        error: { code: 'GUIJI_ERR_USAGE', message: (thrown as Error).message.replace(/^error: /, '') },
      });
    process.exitCode = fine ? 0 : 2;
  } else {
    // only the message reaches the user: no stack, no driver's text, no password (the stack at debug level)
    const error = toGuijiError(thrown, targetForMessages());
    process.stderr.write(`guiji: ${error.message}\n`);
    if (debugWanted()) process.stderr.write(`${error.code}\n${stackOf(thrown)}\n`);
    if (wantsJson) writeJson({ error: { code: error.code, message: error.message } });
    process.exitCode = exitCodeOf(error);
  }
}
