import type { Command } from 'commander';
import { loadCatalog } from '../../catalog/load.js';
import type { Config } from '../../lib/config.js';
import type { Warehouse } from '../../lib/db.js';
import type { Logger } from '../../lib/logger.js';
import { writeNightlyReport } from '../schedule/report-hook.js';
import { runScheduler } from '../schedule/scheduler.js';

export interface ScheduleCommandDeps {
  context(): { config: Readonly<Config>; logger: Logger };
  /** Opens the warehouse for the life of the service (the embedded one is served to the other commands). */
  withWarehouse<T>(
    ctx: { config: Readonly<Config>; logger: Logger },
    fn: (db: Warehouse) => Promise<T>,
    options: { serve: boolean },
  ): Promise<T>;
  /** Aborted by SIGTERM or SIGINT. */
  stopSignal(logger: Logger): AbortSignal;
}

/** `guiji schedule`: the nightly runs as a long-lived service (systemd unit in the README). */
export function registerScheduleCommand(program: Command, deps: ScheduleCommandDeps): void {
  program
    .command('schedule')
    .description(
      'run the nightly job on its cron schedule (Asia/Shanghai time) until SIGTERM; catches up a missed night on start',
    )
    .action(async () => {
      const ctx = deps.context();
      const catalog = loadCatalog(ctx.config.catalogDir, ctx.config.schemasDir);
      const signal = deps.stopSignal(ctx.logger);
      await deps.withWarehouse(
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
