import type { Catalog } from '../../catalog/load.js';
import type { Warehouse } from '../../lib/db.js';
import { migrate } from './migrate.js';
import { syncTypedTables, type TypedSyncResult } from './typed-schema.js';
import { type UpgradeResult, upgradeFromV1 } from './upgrade-v1.js';
import { type SyncResult, syncViews } from './views.js';

/** What `prepareWarehouse` did: nothing at all on a warehouse already up to date. */
export interface PrepareResult {
  /** Knex migrations applied. */
  applied: string[];
  /** Typed tables created and columns added for the catalog. */
  tables: TypedSyncResult;
  /** Records of a v1 warehouse moved into the typed tables. */
  upgraded: UpgradeResult;
  /** Views created, regenerated or dropped. */
  views: SyncResult;
}

/**
 * Brings the warehouse up to this build and the catalog: the migrations, the typed table of every resource
 * (new tables, new columns; never a drop), the move of a v1 warehouse's records into them, and the views.
 * `guiji migrate` runs it, and so does every command that writes (`run`, `backfill`, `worker`, `schedule`),
 * so that a warehouse loaded only by backfill workers has its tables and views too. Cheap when nothing
 * changed: a few reads of the catalog tables, no DDL, no lock.
 */
export async function prepareWarehouse(db: Warehouse, catalog: Catalog): Promise<PrepareResult> {
  const applied = await migrate(db.knex, db.schema);
  const tables = await syncTypedTables(db, catalog);
  const upgraded = await upgradeFromV1(db, catalog);
  const views = await syncViews(db, catalog);
  return { applied, tables, upgraded, views };
}
