import type { Command } from 'commander';
import { listQuarantine, printQuarantine } from '../quarantine.js';
import { migrate } from '../warehouse/migrate.js';
import { commandContext, idFlag, limitFlag, withWarehouse, writeJson } from './context.js';

/** Adds `quarantine list`: the rejected rows, each with every reason and where it came from. */
export function registerQuarantineCommands(program: Command): Command {
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
  return quarantine;
}
