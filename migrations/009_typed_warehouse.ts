import type { Knex } from 'knex';

/**
 * Warehouse v2 (issue 16, docs/warehouse-v2.md): the records move to one typed table per resource
 * (`r_<resource>`, generated from the catalog by pipelines/warehouse/typed-schema.ts after the migrations).
 * This migration makes room: the JSONB store is renamed `records_v1` (its rows untouched: `guiji migrate` moves
 * them into the typed tables, pipelines/warehouse/upgrade-v1.ts), the views over it are dropped (the catalog
 * step recreates them over the new `records` view), and the tables the typed records point at are created.
 */
const STATEMENTS = [
  `DROP VIEW IF EXISTS quality_overdue_all`,
  `DROP VIEW IF EXISTS quality_timeliness`,
  `ALTER TABLE records RENAME TO records_v1`,
  `ALTER INDEX records_pkey RENAME TO records_v1_pkey`,
  `ALTER INDEX records_uscc RENAME TO records_v1_uscc`,
  `ALTER INDEX records_run RENAME TO records_v1_run`,
  `CREATE SEQUENCE IF NOT EXISTS guiji_record_id AS bigint CACHE 100`,
  // where a record came from: a drop file (by its SHA-256) or a platform's stream; records keep its id
  `CREATE TABLE origins (
    id bigserial PRIMARY KEY,
    source text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('file', 'stream')),
    key text COLLATE "C" NOT NULL,
    name text NOT NULL,
    first_run_id bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, key)
  )`,
  `ALTER TABLE record_history ADD COLUMN record_id bigint`,
  `CREATE INDEX record_history_record_id ON record_history (record_id)`,
  // the v1 → v2 move, one row per resource moved (so that a second `guiji migrate` moves nothing again)
  `CREATE TABLE warehouse_upgrades (
    resource text PRIMARY KEY,
    records bigint NOT NULL,
    history bigint NOT NULL,
    upgraded_at timestamptz NOT NULL DEFAULT now()
  )`,
];

export async function up(knex: Knex): Promise<void> {
  // one statement a call: PGlite runs knex's queries as prepared statements, which take one command each
  for (const statement of STATEMENTS) await knex.raw(statement);
}
