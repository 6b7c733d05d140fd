import type { Command } from 'commander';
import { writeNightlyReport } from '../schedule/report-hook.js';
import { runScheduler } from '../schedule/scheduler.js';
import { checkRunSettings, commandCatalog, commandContext, stopSignal, withWarehouse } from './context.js';

/** `guiji schedule`: the nightly runs as a long-lived service (systemd unit in the README). */
export function registerScheduleCommand(program: Command): void {
  program
    .command('schedule')
    .description(
      'run the nightly job on its cron schedule (Asia/Shanghai time) until SIGTERM; catches up a missed night on start',
    )
    .action(async () => {
      const ctx = commandContext();
      const catalog = commandCatalog(ctx);
      // a platform configured without its key, or with a dataset the catalog lacks, stops the service at start
      // (exit 2) instead of failing that source every night
      checkRunSettings(ctx.config, catalog, ctx.logger, undefined);
      const signal = stopSignal(ctx.logger);
      // the embedded warehouse is held for the life of the service and served to the other commands
      await withWarehouse(
        ctx,
        (db) =>
          runScheduler({
            config: ctx.config,
            db,
            catalog,
            logger: ctx.logger,
            signal,
            afterNightly: writeNightlyReport,
          }),
        { serve: true },
      );
    });
}
