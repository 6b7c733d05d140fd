import type { Command } from 'commander';
import { demoConfig, runDemo } from '../demo/demo.js';
import { commandCatalog, commandContext, exitCodeForRun, integerFlag, withWarehouse } from './context.js';

/**
 * `guiji demo`: sample spreadsheets written into the drop folder, then a run over them. The embedded warehouse
 * unless `--use-configured-database` (made-up records never land in a configured warehouse by accident).
 */
export function registerDemoCommand(program: Command): void {
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
        const catalog = commandCatalog(ctx);
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
}
