import { COLUMN_NAME, MAX_IDENTIFIER, type RecordColumnName } from '../../catalog/columns.js';
import type { Catalog, FieldDef, Resource } from '../../catalog/load.js';
import type { SqlTx, Warehouse } from '../../lib/db.js';
import { GuijiError, messageOf, sqlState } from '../../lib/errors.js';
import { USCC_PLACEHOLDER } from '../../schemas/identifiers.js';
import { fromJsonSql, syncTypedTables, type TableDef, typedTable } from './typed-schema.js';

/**
 * The move of an existing warehouse from the JSONB store (`records`, renamed `records_v1` by migration 009) to
 * the typed tables `r_<resource>` (issue 16, docs/warehouse-v2.md "How existing warehouses migrate").
 *
 * - One transaction per resource, under one advisory lock: a process killed half-way leaves whole resources
 *   moved and the others untouched in records_v1; a second process waits, then finds the resource done.
 * - Each moved resource is written to `warehouse_upgrades` in its transaction: a later call skips it, so the
 *   upgrade can run at every `guiji migrate` and does nothing once done.
 * - records_v1 keeps every row (it stays, read-only, for one release). A resource the catalog no longer has, or
 *   whose stored records hold a field its current version has no column for, is not moved at all and is
 *   reported in `leftBehind`: moving it would lose data.
 * - The origins (table `origins`) of a resource's records are inserted first, from their v1 provenance: a file
 *   per distinct SHA-256, named by its path in the drop folder; a platform stream per distinct dataset name.
 *
 * Identifiers come only from the catalog (through typedTable, which checks them) and are quoted; values of the
 * warehouse never reach the SQL text, and the few constants (the placeholder code, the catalog's version) go as
 * parameters.
 */

export interface UpgradedResource {
  resource: string;
  /** Records moved into r_<resource>. */
  records: number;
  /** Rows of record_history that now carry their record's id. */
  history: number;
}

export interface LeftBehind {
  resource: string;
  /** Its rows in records_v1, all of them still there. */
  records: number;
  /**
   * Why: `not-in-catalog` (the resource left the catalog), `fields-not-in-catalog` (some stored records hold a
   * field that the resource's current version has no column for).
   */
  reason: 'not-in-catalog' | 'fields-not-in-catalog';
}

export interface UpgradeResult {
  /** The resources this call moved (none on a second call). */
  resources: UpgradedResource[];
  leftBehind: LeftBehind[];
}

/** The lock every process upgrading the same warehouse takes before moving a resource. */
const LOCK = 'upgrade-v1';

/** The zone of the platforms' update times (SJC), as the typed tables store every China time. */
const CHINA_ZONE = 'Asia/Shanghai';

/** A platform's update time as it sends it (`2024-05-01 10:00:00`): only such a text is cast. */
const SJC_SHAPE = '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$';

function ident(name: string): string {
  if (!COLUMN_NAME.test(name) || Buffer.byteLength(name) > MAX_IDENTIFIER)
    throw new GuijiError('GUIJI_ERR_CATALOG', `not a safe SQL identifier: ${JSON.stringify(name)}`);
  return `"${name}"`;
}

function schemaIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name) || name.length > MAX_IDENTIFIER)
    throw new GuijiError('GUIJI_ERR_DB', `not a safe schema name: ${JSON.stringify(name)}`);
  return `"${name}"`;
}

/** The origin key of a v1 record: the file's SHA-256 for a drop, the dataset name for a platform record. */
const ORIGIN_KEY = `coalesce(o.provenance->>'sha256', o.provenance->>'file')`;

/**
 * The statement that moves one resource's rows. Parameters: $1 the resource id, $2 the catalog's version, $3 the
 * placeholder credit code, $4 the resource's disclosure (for a v1 row without one).
 */
export function moveSql(resource: Resource, def: TableDef): string {
  const usccField = resource.current.fields.find((f) => f.code === resource.subject.uscc);
  if (!usccField)
    throw new GuijiError(
      'GUIJI_ERR_CATALOG',
      `${resource.id}: the subject's credit-code field ${resource.subject.uscc} is not a field of version ${resource.current.version}`,
    );
  // the credit code the record carries: its own, never the match's; '' for none or the placeholder
  const ownUscc = `coalesce(nullif(${fromJsonSql(usccField, 'o.data')}, $3), '')`;
  const sjc = `(o.provenance->>'sjc')`;
  const record: Record<Exclude<RecordColumnName, 'record_id'>, string> = {
    first_run_id: 'o.first_run_id',
    run_id: 'o.run_id',
    origin_id: 'g.id',
    received_at: 'o.received_at',
    changed_at: 'o.changed_at',
    delivered_at: `CASE WHEN ${sjc} ~ '${SJC_SHAPE}' THEN ${sjc}::timestamp AT TIME ZONE '${CHINA_ZONE}' END`,
    version: 'o.version',
    row_number: `(o.provenance->>'row')::integer`,
    produced_date: 'o.produced_date',
    match_score: 'o.match_score',
    uscc: ownUscc,
    natural_key: 'o.natural_key',
    // v1 overwrote uscc with the enterprise a match filed the record under
    matched_uscc: 'CASE WHEN o.match_method IS NOT NULL THEN o.uscc END',
    match_method: 'o.match_method',
    match_flags: 'o.match_flags',
    department: 'o.department',
    disclosure: 'coalesce(o.disclosure, $4)',
    content_hash: 'o.content_hash',
    raw_digest: 'o.raw_digest',
    source: 'o.source',
    sheet: `o.provenance->>'sheet'`,
    origin_record: `o.provenance->>'recordId'`,
    schema_version: 'o.schema_version',
    catalog_version: '$2',
    upgraded_from: `o.provenance->>'upgradedFrom'`,
    original: `o.provenance->'original'`,
    // v1 had no severities: every stored record passed every check
    warnings: 'NULL::jsonb',
  };
  const columns: string[] = [];
  const values: string[] = [];
  for (const column of def.columns) {
    if (column.name === 'record_id') continue; // the sequence, in key order
    const value = column.field
      ? fromJsonSql(column.field as FieldDef, 'o.data')
      : record[column.name as keyof typeof record];
    if (value === undefined)
      throw new GuijiError(
        'GUIJI_ERR_INTERNAL',
        `${def.name}: the record column ${column.name} has no value in the upgrade from records_v1`,
      );
    columns.push(ident(column.name));
    values.push(value);
  }
  return `INSERT INTO ${ident(def.name)} (${columns.join(', ')})
    SELECT ${values.join(',\n           ')}
    FROM records_v1 o
    LEFT JOIN origins g ON g.source = o.source AND g.key = ${ORIGIN_KEY}
    WHERE o.resource = $1
    ORDER BY ${ownUscc} COLLATE "C", o.natural_key COLLATE "C"`;
}

/**
 * One pass over a resource's rows of records_v1 that tells whether moving it would lose data — a record stored
 * in another field set than the current one (an older catalog) holding a field the current one has no column
 * for — and, when it would not, inserts the origins of its records: a file origin per distinct SHA-256, a stream
 * origin per distinct platform dataset, first_run_id the first run that wrote one of its records (lowered when
 * another resource's records of the same file came earlier). Parameters: $1 the resource id, $2 the current
 * version, $3 its field codes. Returns the number of records that would lose a field.
 */
const ORIGINS_SQL = `WITH scan AS MATERIALIZED (
    SELECT o.source, o.provenance ? 'sha256' AS file, ${ORIGIN_KEY} AS key, o.provenance->>'file' AS name,
           o.first_run_id,
           CASE WHEN o.schema_version <> $2
                THEN EXISTS (SELECT 1 FROM jsonb_object_keys(o.data) k WHERE k <> ALL ($3::text[]))
                ELSE false END AS lossy
    FROM records_v1 o WHERE o.resource = $1
  ), lossy AS (
    SELECT count(*) FILTER (WHERE lossy) AS n FROM scan
  ), added AS (
    INSERT INTO origins (source, kind, key, name, first_run_id)
    SELECT source, CASE WHEN file THEN 'file' ELSE 'stream' END, key, coalesce(min(name), key), min(first_run_id)
    FROM scan
    WHERE key IS NOT NULL AND (SELECT n FROM lossy) = 0
    GROUP BY source, file, key
    ON CONFLICT (source, key) DO UPDATE SET first_run_id = EXCLUDED.first_run_id
    WHERE EXCLUDED.first_run_id < origins.first_run_id
  )
  SELECT n FROM lossy`;

/** The resources records_v1 holds, read off its key's index one resource at a time (no pass over the rows). */
const RESOURCES_SQL = `WITH RECURSIVE r(resource) AS (
    (SELECT resource FROM records_v1 ORDER BY resource LIMIT 1)
    UNION ALL
    SELECT (SELECT v.resource FROM records_v1 v WHERE v.resource > r.resource ORDER BY v.resource LIMIT 1)
    FROM r WHERE r.resource IS NOT NULL
  )
  SELECT resource FROM r WHERE resource IS NOT NULL`;

async function inSchema(tx: SqlTx, schema: string): Promise<void> {
  await tx.query(`SET LOCAL search_path TO ${schemaIdent(schema)}`);
}

/** How many rows of `resource` records_v1 holds. */
async function countV1(db: Warehouse, resource: string): Promise<number> {
  const [row] = await db.query<{ n: string }>('SELECT count(*) AS n FROM records_v1 WHERE resource = $1', [
    resource,
  ]);
  return Number(row?.n ?? 0);
}

type Moved = UpgradedResource | LeftBehind | null;

/**
 * Moves one resource in one transaction; null when another process (or an earlier call) has moved it already.
 * A resource some of whose records hold a field without a column is left behind, unmoved.
 */
async function moveResource(
  tx: SqlTx,
  schema: string,
  catalog: Catalog,
  resource: Resource,
  bulk: boolean,
): Promise<Moved> {
  await inSchema(tx, schema);
  await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`guiji:${schema}:${LOCK}`]);
  const done = await tx.query('SELECT 1 FROM warehouse_upgrades WHERE resource = $1', [resource.id]);
  if (done.rows.length) return null;

  // records stored in another field set than the current one may hold a field without a column: never lost
  const lossy = await tx.query<{ n: string }>(ORIGINS_SQL, [
    resource.id,
    resource.current.version,
    resource.current.fields.map((f) => f.code),
  ]);
  if (Number(lossy.rows[0]?.n ?? 0) > 0) {
    const all = await tx.query<{ n: string }>('SELECT count(*) AS n FROM records_v1 WHERE resource = $1', [
      resource.id,
    ]);
    return { resource: resource.id, records: Number(all.rows[0]?.n ?? 0), reason: 'fields-not-in-catalog' };
  }

  const def = typedTable(resource);
  const table = ident(def.name);
  // the sort of a whole resource's rows: in memory rather than in temporary files where the server allows it
  await tx.query(`SET LOCAL work_mem = '256MB'`);
  // an empty table is filled first and indexed after (docs/warehouse-v2.md, "bulk path"): faster, smaller
  // indexes; the transaction makes the drop invisible to everyone else, and a failure undoes it
  const empty = bulk && (await tx.query(`SELECT 1 FROM ${table} LIMIT 1`)).rows.length === 0;
  if (empty) for (const index of def.indexes) await tx.query(`DROP INDEX IF EXISTS ${ident(index.name)}`);

  let records: number;
  try {
    records = (
      await tx.query(moveSql(resource, def), [
        resource.id,
        catalog.version,
        USCC_PLACEHOLDER,
        resource.disclosure,
      ])
    ).rowCount;
  } catch (error) {
    if (sqlState(error) !== '23505') throw error;
    throw new GuijiError(
      'GUIJI_ERR_DB',
      `${def.name} already holds a record with the key of one in records_v1: records were loaded into it before the upgrade moved ${resource.id}; nothing of ${resource.id} was moved`,
      { cause: error, context: { sqlState: '23505' } },
    );
  }
  if (empty) for (const index of def.indexes) await tx.query(index.sql);

  const history = (
    await tx.query(
      `UPDATE record_history h SET record_id = r.record_id
       FROM ${table} r
       WHERE h.resource = $1 AND h.natural_key = r.natural_key AND h.record_id IS NULL`,
      [resource.id],
    )
  ).rowCount;
  await tx.query('INSERT INTO warehouse_upgrades (resource, records, history) VALUES ($1, $2, $3)', [
    resource.id,
    records,
    history,
  ]);
  // the planner's statistics of the new table at once, not when autovacuum comes by
  await tx.query(`ANALYZE ${table}`);
  return { resource: resource.id, records, history };
}

/**
 * Moves every resource of records_v1 that the catalog has into its typed table, each in a transaction of its
 * own; see the module's comment. Returns the resources moved by this call and those left in records_v1. Quick
 * when there is nothing to do (it runs before every command that writes): three small queries — is there a
 * records_v1, which resources it holds (off its key's index), which are done.
 */
export async function upgradeFromV1(
  db: Warehouse,
  catalog: Catalog,
  options: { bulk?: boolean } = {},
): Promise<UpgradeResult> {
  const result: UpgradeResult = { resources: [], leftBehind: [] };
  const present = await db.query(
    `SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = $1 AND tablename = 'records_v1'`,
    [db.schema],
  );
  if (present.length === 0) return result;

  const stored = (await db.query<{ resource: string }>(RESOURCES_SQL)).map((r) => r.resource).sort();
  const upgraded = new Set(
    (await db.query<{ resource: string }>('SELECT resource FROM warehouse_upgrades')).map((r) => r.resource),
  );
  const pending = stored.filter((id) => !upgraded.has(id) && catalog.resources.has(id));
  for (const id of stored)
    if (!catalog.resources.has(id))
      result.leftBehind.push({ resource: id, records: await countV1(db, id), reason: 'not-in-catalog' });
  if (pending.length === 0) return result;

  await syncTypedTables(db, catalog);
  for (const id of pending) {
    const resource = catalog.resources.get(id) as Resource;
    let moved: Moved;
    try {
      moved = await db.transaction((tx) =>
        moveResource(tx, db.schema, catalog, resource, options.bulk ?? true),
      );
    } catch (error) {
      if (error instanceof GuijiError) throw error;
      const state = sqlState(error);
      throw new GuijiError(
        'GUIJI_ERR_DB',
        `moving ${id} from records_v1 to its typed table failed, nothing of it was moved (the resources before it were; the next upgrade takes up the rest): ${messageOf(error)}`,
        { cause: error, context: state ? { sqlState: state } : {} },
      );
    }
    if (moved === null) continue;
    if ('reason' in moved) result.leftBehind.push(moved);
    else result.resources.push(moved);
  }
  return result;
}
