import { type Command, Option } from 'commander';
import { printRun } from '../output.js';
import { runPipeline, SOURCES } from '../run.js';
import {
  checkRunSettings,
  commandCatalog,
  commandContext,
  exitCodeForRun,
  stopSignal,
  withWarehouse,
  writeJson,
} from './context.js';

/** `guiji run`: one run of the pipeline over the sources; SIGTERM stops it between batches (exit 0). */
export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run the pipeline over the sources (default: every source)')
    .addOption(new Option('--source <source...>', 'only these sources').choices([...SOURCES]))
    .option('--drop-dir <dir>', 'the spreadsheet drop folder (GUIJI_DROP_DIR)')
    .option('--json', 'print the run as JSON')
    .action(async (opts: { source?: string[]; dropDir?: string; json?: boolean }) => {
      const ctx = commandContext(opts.dropDir ? { dropDir: opts.dropDir } : {});
      const catalog = commandCatalog(ctx);
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
}
