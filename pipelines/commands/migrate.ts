import type { Command } from 'commander';
import { loadPublicationRules } from '../../catalog/publication.js';
import { shanghaiDate } from '../../lib/time.js';
import { refreshPublication } from '../publication/state.js';
import { prepareWarehouse } from '../warehouse/prepare.js';
import { commandCatalog, commandContext, withWarehouse } from './context.js';

/**
 * `guiji migrate`: the pending migrations, the typed tables the catalog calls for, a v1 warehouse's records
 * moved into them, and the analysts' views regenerated.
 */
export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description("apply pending warehouse migrations and regenerate the analysts' views (run does both too)")
    .action(async () => {
      const ctx = commandContext();
      const catalog = commandCatalog(ctx);
      const { applied, tables, upgraded, views, published } = await withWarehouse(ctx, async (db) => {
        const prepared = await prepareWarehouse(db, catalog);
        // the public views show what `publication` says is public: filled at once for a warehouse that had none
        const published = prepared.applied.includes('011_publication')
          ? await refreshPublication(db, catalog, loadPublicationRules(ctx.config.catalogDir, catalog), {
              today: ctx.config.today ?? shanghaiDate(),
            })
          : null;
        return { ...prepared, published };
      });
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'the warehouse is up to date');
      if (tables.created.length) console.log(`tables created: ${tables.created.join(', ')}`);
      if (tables.added.length) console.log(`columns added: ${tables.added.join(', ')}`);
      for (const u of upgraded.resources)
        console.log(`moved into r_${u.resource}: ${u.records} records, ${u.history} history rows`);
      for (const l of upgraded.leftBehind)
        console.log(`left in records_v1 (not in the catalog): ${l.resource}, ${l.records} records`);
      if (views.created.length) console.log(`views created: ${views.created.join(', ')}`);
      if (views.dropped.length) console.log(`views dropped: ${views.dropped.join(', ')}`);
      if (published)
        console.log(
          `publication states computed: ${published.computed} records, ${published.states.public} public today`,
        );
    });
}
