import type { Command } from 'commander';
import type { Warehouse } from '../../lib/db.js';
import { UsageError } from '../../lib/errors.js';
import { type PublicationContext, publicationContext } from '../publication/record.js';
import {
  formatPublication,
  setSeverity,
  setWithdrawal,
  showPublication,
  stateText,
} from '../publication/show.js';
import { refreshPublication } from '../publication/state.js';
import { prepareWarehouse } from '../warehouse/prepare.js';
import { commandCatalog, commandContext, dateFlag, idFlag, withWarehouse, writeJson } from './context.js';

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/**
 * Runs `fn` with the prepared warehouse, the catalog's publication rules and the day: `--today`, else
 * GUIJI_TODAY, else today in Asia/Shanghai.
 */
export function withPublication<T>(
  today: string | undefined,
  fn: (ctx: PublicationContext) => Promise<T>,
): Promise<T> {
  const day = today === undefined ? undefined : dateFlag(today, '--today');
  const command = commandContext();
  const catalog = commandCatalog(command);
  return withWarehouse(command, async (db: Warehouse) => {
    await prepareWarehouse(db, catalog);
    return fn(publicationContext(db, catalog, command.config, day));
  });
}

/** `--record ID`: a record id as the views' `record_id` column shows it. */
export function recordFlag(value: string): number {
  return idFlag(value, '--record');
}

const TODAY_HELP = 'the day to decide for, YYYY-MM-DD (default GUIJI_TODAY, else today in Asia/Shanghai)';

/** Adds `publication refresh | show | withdraw | restore | severity`. */
export function registerPublicationCommands(program: Command): Command {
  const publication = program
    .command('publication')
    .description('what is public (公示) today, from when, until when, and why');

  publication
    .command('refresh')
    .description(
      'compute the publication state of the records whose period began or ended (nightly; every run does it too)',
    )
    .option('--today <date>', TODAY_HELP)
    .option('--all', 'every record again, not only those that may have changed')
    .option('--json', 'print { today, computed, changed, states: { pending, public, suspended, withdrawn } }')
    .action(async (opts: { today?: string; all?: boolean; json?: boolean }) => {
      const result = await withPublication(opts.today, async (ctx) => ({
        today: ctx.today,
        ...(await refreshPublication(ctx.db, ctx.catalog, ctx.rules, {
          today: ctx.today,
          all: opts.all ?? false,
        })),
      }));
      if (opts.json) writeJson(result);
      else
        print(
          `${result.today}：计算 ${result.computed} 条，状态变化 ${result.changed} 条；` +
            Object.entries(result.states)
              .map(([s, n]) => `${stateText(s)} ${n}`)
              .join('，'),
        );
    });

  publication
    .command('show')
    .description('whether a record is public today, since when, until when, and why')
    .requiredOption('--record <id>', 'the record id (the record_id column of the views)')
    .option('--today <date>', TODAY_HELP)
    .option('--json', 'print the explanation as JSON (times with +08:00)')
    .action(async (opts: { record: string; today?: string; json?: boolean }) => {
      const record = recordFlag(opts.record);
      const report = await withPublication(opts.today, (ctx) => showPublication(ctx, record));
      if (opts.json) writeJson(report);
      else print(formatPublication(report));
    });

  for (const [name, withdraw, help] of [
    ['withdraw', true, 'take a record down whatever its period says (recorded in the audit log)'],
    ['restore', false, 'undo a manual withdrawal: the record follows its period again'],
  ] as const)
    publication
      .command(name)
      .description(help)
      .requiredOption('--record <id>', 'the record id')
      .requiredOption('--reason <text>', 'why (kept in the audit log)')
      .option('--by <name>', 'who decides (default: the operating-system user)')
      .option('--today <date>', TODAY_HELP)
      .option('--json', 'print the record as `publication show --json` does')
      .action(
        async (opts: { record: string; reason: string; by?: string; today?: string; json?: boolean }) => {
          const record = recordFlag(opts.record);
          const report = await withPublication(opts.today, (ctx) =>
            setWithdrawal(ctx, {
              record,
              reason: opts.reason,
              withdraw,
              ...(opts.by ? { by: opts.by } : {}),
            }),
          );
          if (opts.json) writeJson(report);
          else print(formatPublication(report));
        },
      );

  publication
    .command('severity')
    .description(
      "decide a penalty's severity (serious 严重 / general 一般), or give it back to the catalog's rules (auto)",
    )
    .argument('<severity>', 'serious, general or auto')
    .requiredOption('--record <id>', 'the record id')
    .requiredOption('--reason <text>', 'on what grounds (kept in the audit log)')
    .option('--by <name>', 'who decides (default: the operating-system user)')
    .option('--today <date>', TODAY_HELP)
    .option('--json', 'print the record as `publication show --json` does')
    .action(
      async (
        severity: string,
        opts: { record: string; reason: string; by?: string; today?: string; json?: boolean },
      ) => {
        if (!['serious', 'general', 'auto'].includes(severity))
          throw new UsageError(
            '<severity>',
            `应为 serious（严重）、general（一般）或 auto，而不是 "${severity}"`,
          );
        const record = recordFlag(opts.record);
        const report = await withPublication(opts.today, (ctx) =>
          setSeverity(ctx, {
            record,
            severity: severity as 'serious' | 'general' | 'auto',
            reason: opts.reason,
            ...(opts.by ? { by: opts.by } : {}),
          }),
        );
        if (opts.json) writeJson(report);
        else print(formatPublication(report));
      },
    );
  return publication;
}
