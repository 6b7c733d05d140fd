import type { Knex } from 'knex';

/**
 * The console's search by part of a name (`guiji serve`, issue 13): a trigram index on the normalised names, so
 * that `name_norm LIKE '%…%'` of three characters or more reads the index instead of every name (measured on
 * 500,000 enterprises: ~150–350 ms a search by scanning). pg_trgm is a trusted extension (PostgreSQL 13+, any
 * database owner may create it) installed once per database, in `public` so that every guiji schema of the
 * database can use it. Where it cannot be created (PGlite bundles no contrib extension; a server without it or
 * a role without the right) the search scans, as before: the same answers, slower.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('SAVEPOINT name_search');
  try {
    await knex.raw('CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public');
    await knex.raw('RELEASE SAVEPOINT name_search');
  } catch {
    // no pg_trgm here: the search scans the names
    await knex.raw('ROLLBACK TO SAVEPOINT name_search');
    return;
  }
  await knex.raw(
    'CREATE INDEX enterprise_names_trgm ON enterprise_names USING gin (name_norm public.gin_trgm_ops)',
  );
}

export async function down(): Promise<void> {
  throw new Error('guiji migrations are forward-only');
}
