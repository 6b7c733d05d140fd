import { type Command, Option } from 'commander';
import type { Warehouse } from '../../lib/db.js';
import { GuijiError } from '../../lib/errors.js';
import { BACKFILL_SOURCES, type BackfillOutcome, runBackfill } from '../backfill/backfill.js';
import { runClaimers, servableSources } from '../backfill/claimer.js';
import { createProgress } from '../backfill/progress.js';
import {
  type BackfillPlan,
  backfillPlan,
  formatBackfills,
  formatPartitions,
  formatPlan,
  listBackfills,
  listPartitions,
  requireBackfill,
} from '../backfill/report.js';
import { markFinished } from '../backfill/store.js';
import { GRANULARITIES, type Granularity } from '../backfill/windows.js';
import { migrate } from '../warehouse/migrate.js';
import { prepareWarehouse } from '../warehouse/prepare.js';
import {
  type CommandContext,
  commandCatalog,
  commandContext,
  dateFlag,
  idFlag,
  integerFlag,
  stopOnSignals,
  withWarehouse,
  writeJson,
} from './context.js';

/** Where the history of the city's programme starts (the publicity regulation's first day). */
export const HISTORY_START = '2014-10-01';

function setup(): CommandContext {
  return commandContext();
}

function positiveInteger(value: string, flag: string): number {
  return integerFlag(value, flag, 1, 64);
}

function exitCodeOf(outcome: BackfillOutcome): number {
  if (outcome.dryRun || outcome.stopped) return 0;
  if (outcome.partitions.failed === 0) return 0;
  return outcome.partitions.done > 0 ? 4 : 1;
}

function printOutcome(outcome: BackfillOutcome): void {
  const p = outcome.partitions;
  if (outcome.dryRun) {
    console.log(
      `dry run: backfill ${outcome.backfillId ?? '(new)'} of ${outcome.source}: ${outcome.toDo?.length ?? 0} of ${p.total} partitions to load`,
    );
    for (const t of outcome.toDo?.slice(0, 20) ?? []) console.log(`  ${t.state.padEnd(8)} ${t.key}`);
    if ((outcome.toDo?.length ?? 0) > 20) console.log(`  … and ${(outcome.toDo?.length ?? 0) - 20} more`);
    return;
  }
  console.log(
    `backfill ${outcome.backfillId} of ${outcome.source}${outcome.stopped ? ' (stopped; run the same command to resume)' : ''}: ` +
      `${p.done}/${p.total} partitions done, ${p.pending} pending, ${p.running} running, ${p.failed} failed; ` +
      `${outcome.rows.toLocaleString('en-US')} rows`,
  );
  for (const f of outcome.failures)
    console.log(`  failed #${f.partitionId} ${f.key} after ${f.attempts} attempts: ${f.error}`);
  if (outcome.failures.length) console.log('  `guiji backfill … --retry-failed` tries them again');
}

/** The `backfills` field of `guiji status --json`: every backfill, and the plan of the history. */
export async function statusBackfills(db: Warehouse): Promise<BackfillPlan> {
  return backfillPlan(db, null);
}

/** `backfill status --json`: commander gives `--json` to `backfill` itself, which has one too. */
function withParentJson<T extends { json?: boolean }>(own: T, parent: Command): T {
  return { ...own, json: own.json || (parent.opts() as { json?: boolean }).json === true };
}

export function registerBackfillCommands(program: Command): void {
  const backfill = program
    .command('backfill')
    .description(
      'load history in partitions stored in the warehouse (stream × window, or file); the same command resumes',
    )
    .addOption(new Option('--source <source>', 'the source to backfill').choices([...BACKFILL_SOURCES]))
    .option('--from <date>', 'first day (YYYY-MM-DD), platform sources')
    .option('--to <date>', 'last day, included (YYYY-MM-DD), platform sources')
    .addOption(
      new Option('--by <period>', 'partition windows by').choices([...GRANULARITIES]).default('month'),
    )
    .option('--dir <folder>', 'the folder of historical spreadsheets (--source drops): each file a partition')
    .option('--concurrency <n>', 'partitions loaded at once by this process', '1')
    .option('--dry-run', 'print the partitions still to load; change nothing')
    .option('--retry-failed', 'try the failed partitions again')
    .option('--enqueue', 'store the partitions and leave them to `guiji worker` processes')
    .option('--json', 'print the outcome as JSON')
    .action(
      async (opts: {
        source?: string;
        from?: string;
        to?: string;
        by: Granularity;
        dir?: string;
        concurrency: string;
        dryRun?: boolean;
        retryFailed?: boolean;
        enqueue?: boolean;
        json?: boolean;
      }) => {
        if (!opts.source) throw new GuijiError('GUIJI_ERR_USAGE', 'backfill: --source is required');
        const source = opts.source;
        const concurrency = positiveInteger(opts.concurrency, '--concurrency');
        const ctx = setup();
        const { config, logger } = ctx;
        const catalog = commandCatalog(ctx);
        const stop = stopOnSignals(logger);
        try {
          const outcome = await withWarehouse(
            ctx,
            (db) =>
              runBackfill({
                config,
                db,
                catalog,
                logger,
                request: {
                  source,
                  concurrency,
                  by: opts.by,
                  ...(opts.from ? { from: opts.from } : {}),
                  ...(opts.to ? { to: opts.to } : {}),
                  ...(opts.dir ? { dir: opts.dir } : {}),
                  dryRun: opts.dryRun ?? false,
                  retryFailed: opts.retryFailed ?? false,
                  enqueueOnly: opts.enqueue ?? false,
                },
                progress: createProgress(logger),
                signal: stop.signal,
              }),
            { serve: !opts.dryRun && !opts.enqueue },
          );
          if (opts.json) writeJson(outcome);
          else printOutcome(outcome);
          process.exitCode = exitCodeOf(outcome);
        } finally {
          stop.dispose();
        }
      },
    );

  backfill
    .command('status')
    .description('backfills and their partitions by state (pending, running, done, failed)')
    .argument('[id]', 'one backfill: every partition, with errors and lease owners')
    .option('--json', 'print as JSON')
    .action(async (id: string | undefined, own: { json?: boolean }) => {
      const opts = withParentJson(own, backfill);
      const backfillId = id === undefined ? undefined : idFlag(id, 'ID');
      await withWarehouse(setup(), async (db) => {
        await migrate(db.knex, db.schema);
        const list = await listBackfills(db, backfillId);
        if (backfillId === undefined) {
          if (opts.json) writeJson({ backfills: list });
          else console.log(formatBackfills(list));
          return;
        }
        const one = requireBackfill(list, backfillId);
        const partitions = await listPartitions(db, backfillId);
        if (opts.json) writeJson({ backfill: one, partitions });
        else console.log(formatPartitions(one, partitions));
      });
    });

  backfill
    .command('plan')
    .description('per source: partitions still to do, rows loaded, time left to the three-month deadline')
    .option('--since <date>', 'the start of the history (YYYY-MM-DD)', HISTORY_START)
    .option('--json', 'print as JSON')
    .action(async (own: { since: string; json?: boolean }) => {
      const opts = withParentJson(own, backfill);
      const since = dateFlag(opts.since, '--since');
      const plan = await withWarehouse(setup(), async (db) => {
        await migrate(db.knex, db.schema);
        return backfillPlan(db, since);
      });
      if (opts.json) writeJson(plan);
      else console.log(formatPlan(plan));
    });

  program
    .command('worker')
    .description(
      'claim and load backfill partitions from the warehouse (leases; any number of workers on any machines)',
    )
    .option('--concurrency <n>', 'partitions loaded at once by this process', '1')
    .addOption(new Option('--source <source...>', 'only these sources').choices([...BACKFILL_SOURCES]))
    .option('--exit-when-idle', 'exit once no partition is pending or running (default: keep polling)')
    .option('--json', 'print what this worker did as JSON when it exits')
    .action(
      async (opts: { concurrency: string; source?: string[]; exitWhenIdle?: boolean; json?: boolean }) => {
        const concurrency = positiveInteger(opts.concurrency, '--concurrency');
        const ctx = setup();
        const { config, logger } = ctx;
        const catalog = commandCatalog(ctx);
        const servable = servableSources(config);
        const sources = opts.source ?? servable;
        const unconfigured = sources.filter((s) => !servable.includes(s));
        if (unconfigured.length) {
          throw new GuijiError(
            'GUIJI_ERR_CONFIG',
            `worker: ${unconfigured.join(', ')} not configured here (set GUIJI_CREDIT_URL / GUIJI_SHARING_URL)`,
          );
        }
        const stop = stopOnSignals(logger);
        try {
          const result = await withWarehouse(
            ctx,
            async (db) => {
              await prepareWarehouse(db, catalog);
              logger.info({ sources, concurrency }, 'worker started');
              const done = await runClaimers({
                config,
                db,
                catalog,
                logger,
                backfillIds: null,
                sources,
                concurrency,
                exitWhenIdle: opts.exitWhenIdle ?? false,
                signal: stop.signal,
                pollMs: 2000,
              });
              // the backfills this worker saw to their end (nothing pending or running) are finished
              const open = await db.query<{ id: string }>(
                'SELECT id FROM backfills WHERE finished_at IS NULL',
              );
              await markFinished(
                db,
                open.map((b) => Number(b.id)),
              );
              return done;
            },
            { serve: true },
          );
          logger.info(result, 'worker stopped');
          if (opts.json) writeJson(result);
          process.exitCode = result.failed > 0 ? 4 : 0;
        } finally {
          stop.dispose();
        }
      },
    );
}
