import type { Knex } from 'knex';

/**
 * records.raw_digest: the digest of the row as it was read (its cells, the file's column mapping, the catalog
 * and validator versions). A row read again with the same digest is the same record: the drop source counts
 * it unchanged without normalising and validating it again, which is what makes a re-run fast.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE records ADD COLUMN raw_digest text');
}

export async function down(): Promise<void> {
  throw new Error('guiji migrations are forward-only');
}
