import type { Knex } from 'knex';
import * as foundation from '../../migrations/001_foundation.js';
import * as matchingColumns from '../../migrations/002_matching_columns.js';
import * as backfill from '../../migrations/003_backfill.js';
import * as schedule from '../../migrations/004_schedule.js';
import * as quality from '../../migrations/005_quality.js';
import * as matching from '../../migrations/006_matching.js';
import * as rawDigest from '../../migrations/007_raw_digest.js';
import * as quarantineByFile from '../../migrations/008_quarantine_by_file.js';
import * as typedWarehouse from '../../migrations/009_typed_warehouse.js';
import * as deliveryClock from '../../migrations/010_delivery_clock.js';
import * as publication from '../../migrations/011_publication.js';
import * as dropFileDepartment from '../../migrations/012_drop_file_department.js';
import * as nameSearch from '../../migrations/013_name_search.js';
import * as publicOutput from '../../migrations/014_public_output.js';

/**
 * Migrations run through knex's API with an in-code source (the knex CLI cannot load TypeScript migrations in
 * an ESM project). Forward-only: append to this list, never edit a landed migration.
 */
const MIGRATIONS: ReadonlyArray<readonly [string, { up(knex: Knex): Promise<void> }]> = [
  ['001_foundation', foundation],
  ['002_matching_columns', matchingColumns],
  ['003_backfill', backfill],
  ['004_schedule', schedule],
  ['005_quality', quality],
  ['006_matching', matching],
  ['007_raw_digest', rawDigest],
  ['008_quarantine_by_file', quarantineByFile],
  ['009_typed_warehouse', typedWarehouse],
  ['010_delivery_clock', deliveryClock],
  ['011_publication', publication],
  ['012_drop_file_department', dropFileDepartment],
  ['013_name_search', nameSearch],
  ['014_public_output', publicOutput],
];

const source: Knex.MigrationSource<string> = {
  // in name order whatever the order of the list above
  getMigrations: async () => MIGRATIONS.map(([name]) => name).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const found = MIGRATIONS.find(([n]) => n === name);
    if (!found) throw new Error(`unknown migration ${name}`);
    return { up: found[1].up, down: async () => {} };
  },
};

/** The migrations up to and including `last` (a warehouse as an older guiji left it, for tests of upgrades). */
function sourceUpTo(last: string): Knex.MigrationSource<string> {
  if (!MIGRATIONS.some(([name]) => name === last)) throw new Error(`unknown migration ${last}`);
  return {
    ...source,
    getMigrations: async () => (await source.getMigrations([])).filter((name) => name <= last),
  };
}

/**
 * Applies pending migrations; returns the names applied. `to` stops after that migration (the warehouse an
 * older guiji left, for tests of upgrades); a warehouse already past it is refused by knex.
 */
export async function migrate(knex: Knex, schema: string, options: { to?: string } = {}): Promise<string[]> {
  const migrationSource = options.to === undefined ? source : sourceUpTo(options.to);
  const [, applied] = (await knex.migrate.latest({ migrationSource, schemaName: schema })) as [
    number,
    string[],
  ];
  return applied;
}

/** The migrations not yet applied to the warehouse (`guiji doctor`); applies nothing. */
export async function pendingMigrations(knex: Knex, schema: string): Promise<string[]> {
  const [, pending] = (await knex.migrate.list({ migrationSource: source, schemaName: schema })) as [
    unknown[],
    string[],
  ];
  return pending.map((p) => (typeof p === 'string' ? p : String((p as { file?: string }).file ?? p)));
}
