/**
 * Warehouse v2's typed table for the bench's "PostgreSQL alone" scenarios (scripts/bench.ts, 5a/5b) while the
 * loader does not write it yet: built from the records the first run stored in the v1 `records` table.
 */
import { tmpdir } from 'node:os';
import type { FieldDef } from '../catalog/load.js';
import { loadCatalog } from '../catalog/load.js';
import { loadConfig } from '../lib/config.js';
import { openWarehouse } from '../lib/db.js';
import { fromJsonSql, syncTypedTables, typedTable } from '../pipelines/warehouse/typed-schema.js';
import { USCC_PLACEHOLDER } from '../schemas/identifiers.js';

/** The resource of the bench file, and so the typed table the PostgreSQL-alone scenarios copy. */
export const TYPED_RESOURCE = 'xzcf';

function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Creates the typed tables the warehouse lacks (syncTypedTables, as `guiji migrate` will) and fills `r_xzcf`
 * from the first run's records in `records`, as the upgrade of a v1 warehouse converts them (CONTRACT-v2): each
 * field into its typed column, the record's own credit code apart from the one matching filed it under (v1
 * stored the latter in `uscc`), provenance into columns and one origin per file, in the file's row order, as
 * the loader would have inserted them. The tables it creates are added to `created` at once (to drop after,
 * even when the filling fails).
 */
export async function buildTypedTable(url: string, schema: string, created: string[]): Promise<void> {
  const config = loadConfig({ env: {} });
  const catalog = loadCatalog(config.catalogDir, config.schemasDir);
  const resource = catalog.resources.get(TYPED_RESOURCE);
  if (!resource) throw new Error(`the catalog has no resource ${TYPED_RESOURCE}`);
  const db = await openWarehouse({ home: tmpdir(), databaseUrl: url, schema });
  try {
    created.push(...(await syncTypedTables(db, catalog)).created);
    const def = typedTable(resource);
    const target: [string, string][] = [
      ['first_run_id', 'r.first_run_id'],
      ['run_id', 'r.run_id'],
      ['origin_id', 'o.id'],
      ['received_at', 'r.received_at'],
      ['changed_at', 'r.changed_at'],
      ['version', 'r.version'],
      ['row_number', `(r.provenance->>'row')::int`],
      ['produced_date', 'r.produced_date'],
      ['match_score', 'r.match_score'],
      // the record's own code: its credit-code field unless the standard's placeholder ($3), else ''
      ['uscc', `coalesce(nullif(r.data->>$4, $3), '')`],
      ['natural_key', 'r.natural_key'],
      ['matched_uscc', 'CASE WHEN r.match_method IS NOT NULL THEN r.uscc END'],
      ['match_method', 'r.match_method'],
      ['match_flags', 'r.match_flags'],
      ['department', 'r.department'],
      ['disclosure', 'r.disclosure'],
      ['content_hash', 'r.content_hash'],
      ['raw_digest', 'r.raw_digest'],
      ['source', 'r.source'],
      ['sheet', `r.provenance->>'sheet'`],
      ['origin_record', `r.provenance->>'recordId'`],
      ['schema_version', 'r.schema_version'],
      ['catalog_version', '$2'],
      ['upgraded_from', `r.provenance->>'upgradedFrom'`],
      ['original', `r.provenance->'original'`],
      ...def.columns
        .filter((c) => c.field)
        .map((c) => [c.name, fromJsonSql(c.field as FieldDef, 'r.data')] as [string, string]),
    ];
    const table = `${ident(schema)}.${ident(def.name)}`;
    const records = `${ident(schema)}.records`;
    await db.query(
      `INSERT INTO ${table} (${target.map(([c]) => ident(c)).join(', ')})
       SELECT ${target.map(([, e]) => e).join(', ')}
         FROM ${records} r
         JOIN (SELECT sha, row_number() OVER (ORDER BY sha) AS id
                 FROM (SELECT DISTINCT provenance->>'sha256' AS sha FROM ${records} WHERE resource = $1) f) o
           ON o.sha IS NOT DISTINCT FROM r.provenance->>'sha256'
        WHERE r.resource = $1
        ORDER BY (r.provenance->>'row')::int`,
      [resource.id, catalog.version, USCC_PLACEHOLDER, resource.subject.uscc],
    );
  } finally {
    await db.close();
  }
}
