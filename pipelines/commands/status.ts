import type { Command } from 'commander';
import { UsageError } from '../../lib/errors.js';
import { shanghaiText } from '../../lib/time.js';
import { formatPlan } from '../backfill/report.js';
import { printRuns } from '../output.js';
import { type BackfillRunCounts, backfillRunCounts, type RunKindFilter, recentRuns } from '../run.js';
import { statusBackfills } from './backfill.js';
import { commandContext, limitFlag, withWarehouse, writeJson } from './context.js';

/** The kinds of run guiji records, and `all`. */
export const RUN_KINDS = ['run', 'nightly', 'backfill', 'demo'] as const;

export function kindFlag(value: string | undefined): RunKindFilter {
  if (value === undefined) return 'default';
  if (value === 'all' || (RUN_KINDS as readonly string[]).includes(value)) return value;
  throw new UsageError('--kind', `expected one of ${[...RUN_KINDS, 'all'].join(', ')}, got "${value}"`);
}

/** The line that stands for the backfill partitions left out of the default list. */
export function backfillLine(counts: BackfillRunCounts): string {
  if (counts.runs === 0) return 'backfill partitions: none';
  return (
    `backfill partitions: ${counts.runs} runs (${counts.running} running, ${counts.failed} failed), ` +
    `the latest started ${shanghaiText(counts.lastStartedAt as string)} (Asia/Shanghai); ` +
    'listed by `guiji status --kind backfill`'
  );
}

/** `guiji status`: the recent runs with their ledger, and the backfills with the plan of the history. */
export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description(
      'recent runs with their kind and ledger, newest first (backfill partitions summed up in one line)',
    )
    .option('--limit <n>', 'how many runs', '10')
    .option(
      '--kind <kind>',
      `only runs of this kind: ${RUN_KINDS.join(', ')}, or all (default: all but backfill)`,
    )
    .option('--json', 'print { runs: [...], backfillRuns, backfills } as JSON')
    .action(async (opts: { limit: string; kind?: string; json?: boolean }) => {
      const limit = limitFlag(opts.limit);
      const kind = kindFlag(opts.kind);
      const ctx = commandContext();
      const { runs, backfillRuns, backfills } = await withWarehouse(ctx, async (db) => ({
        runs: await recentRuns(db, limit, kind),
        backfillRuns: await backfillRunCounts(db),
        backfills: await statusBackfills(db),
      }));
      if (opts.json) writeJson({ kind, runs, backfillRuns, backfills });
      else {
        printRuns(runs);
        if (kind === 'default') console.log(`\n${backfillLine(backfillRuns)}`);
        console.log(`\n${formatPlan(backfills)}`);
      }
    });
}
