import type { Command } from 'commander';
import { formatPlan } from '../backfill/report.js';
import { printRuns } from '../output.js';
import { recentRuns } from '../run.js';
import { statusBackfills } from './backfill.js';
import { commandContext, limitFlag, withWarehouse, writeJson } from './context.js';

/** `guiji status`: the recent runs with their ledger, and the backfills with the plan of the history. */
export function registerStatusCommand(program: Command): void {
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
}
