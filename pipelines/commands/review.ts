import type { Command } from 'commander';
import type { Catalog } from '../../catalog/load.js';
import type { Warehouse } from '../../lib/db.js';
import { GuijiError } from '../../lib/errors.js';
import { acceptReview, type Decision, formatReviews, listReviews, rejectReview } from '../match/review.js';
import { prepareWarehouse } from '../warehouse/prepare.js';
import { commandCatalog, commandContext, limitFlag, withWarehouse } from './context.js';

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function reviewId(value: string): number {
  const id = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new GuijiError(
      'GUIJI_ERR_USAGE',
      `ID: '${value}' is not a review id (\`guiji review list\` shows them)`,
    );
  }
  return id;
}

function printDecision(decision: Decision, json: boolean | undefined): void {
  if (json) print(JSON.stringify(decision));
  else if (decision.status === 'accepted') {
    print(
      `review ${decision.id}: ${decision.resource} ${decision.naturalKey} filed under ${decision.uscc} ${decision.enterprise} (manual, score ${decision.score})`,
    );
  } else
    print(`review ${decision.id}: ${decision.resource} ${decision.naturalKey} left unmatched (rejected)`);
}

/** Adds `review list | accept | reject`: the records matching could not file with certainty. */
export function registerReviewCommands(program: Command): Command {
  const withMigrated = <T>(fn: (db: Warehouse, catalog: Catalog) => Promise<T>) => {
    const ctx = commandContext();
    const catalog = commandCatalog(ctx);
    return withWarehouse(ctx, async (db) => {
      await prepareWarehouse(db, catalog);
      return fn(db, catalog);
    });
  };
  const review = program
    .command('review')
    .description('records matched by name with no certainty (or by a legacy id several enterprises hold)');

  review
    .command('list')
    .description('records waiting for a person to choose their enterprise, with the candidates')
    .option('--limit <n>', 'at most this many records', '100')
    .option(
      '--json',
      'one JSON object per record: { id, resource, naturalKey, name, regNo, orgCode, candidates: [{ uscc, name, matchedName, score, why }], runId, queuedAt }',
    )
    .action(async (opts: { limit: string; json?: boolean }) => {
      const limit = limitFlag(opts.limit);
      const reviews = await withMigrated((db, catalog) => listReviews(db, catalog, { limit }));
      if (opts.json) for (const r of reviews) print(JSON.stringify(r));
      else print(formatReviews(reviews));
    });

  review
    .command('accept')
    .description("file the record under the chosen enterprise (match_method 'manual')")
    .argument('<id>', 'the review id')
    .option('--uscc <code>', 'the enterprise (default: the only candidate)')
    .option('--json', 'print { id, resource, naturalKey, status, uscc, enterprise, score }')
    .action(async (id: string, opts: { uscc?: string; json?: boolean }) => {
      const decision = await withMigrated((db, catalog) =>
        acceptReview(db, catalog, reviewId(id), opts.uscc),
      );
      printDecision(decision, opts.json);
    });

  review
    .command('reject')
    .description('leave the record unmatched; later runs do not queue it again while its name stays the same')
    .argument('<id>', 'the review id')
    .option('--json', 'print { id, resource, naturalKey, status, uscc, enterprise, score }')
    .action(async (id: string, opts: { json?: boolean }) => {
      const decision = await withMigrated((db, catalog) => rejectReview(db, catalog, reviewId(id)));
      printDecision(decision, opts.json);
    });
  return review;
}
