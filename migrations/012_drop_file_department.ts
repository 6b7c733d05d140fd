import type { Knex } from 'knex';

/**
 * The department a file rejected whole came from, when it can be told (its template names it, or its name
 * follows the drops convention): the catalog's department code, else NULL. The report counts rejected files
 * per department with it (issue 12); the resource, when told, goes into the row's existing `resources`.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE drop_files ADD COLUMN department text');
}

export async function down(): Promise<void> {
  throw new Error('guiji migrations are forward-only');
}
