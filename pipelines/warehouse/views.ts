import { createHash } from 'node:crypto';
import type { Catalog, FieldDef, Resource } from '../../catalog/load.js';
import type { SqlTx, Warehouse } from '../../lib/db.js';
import { GuijiError } from '../../lib/errors.js';

/**
 * The analyst views: one typed view per resource over `records`, generated from the catalog (a versioned
 * contract, DESIGN.md). Each view has the record's typed columns, then one column per field of the resource's
 * current version, named as the catalog names it (the field code in lower case, e.g. `cf_wsh`), typed by the
 * field's kind (date → date, datetime → timestamp, amount → numeric, anything else → text) and commented with
 * the field's Chinese title.
 *
 * Who sees what (issue 3, "sensitive fields"):
 * - `v_<resource>`: the view for analysts in the departments. For a **public** (公示) resource it shows every
 *   field as loaded: the data is published anyway and analysts need the identifiers to work. For a **shared**
 *   (departments only) resource the fields marked `sensitive` in the catalog are masked, here as everywhere.
 * - `v_<resource>_public`: the view for public-facing use, only for public resources; every `sensitive` field
 *   masked, and only rows whose disclosure is `public`. A shared resource gets **no** public view: it must not
 *   be published.
 * - The `records` table itself stays unmasked, for privileged use (ops, corrections, audits).
 *
 * Masking by kind: identifiers (`code`, `docno`) keep their first 6 and last 4 characters (`340104********1234`;
 * shorter values are all stars); text and enums (personal names) keep their first character and a star (`张*`);
 * dates, datetimes and amounts cannot be masked partially and are NULL (the column keeps its type).
 *
 * Identifiers in the SQL come only from the catalog (resource ids and field codes), are checked against
 * {@link IDENTIFIER} and always quoted; titles are SQL string literals with quotes doubled. Nothing of the
 * loaded data ever reaches the DDL.
 *
 * `syncViews` keeps the bookkeeping table `catalog_views` (one row per view this module made, with the hash of
 * its definition): a run with an unchanged catalog only reads that table. A view whose definition changed is
 * replaced in place when PostgreSQL allows it (`CREATE OR REPLACE VIEW`: columns only added at the end), else
 * dropped and created again; views of resources no longer in the catalog are dropped.
 */

export const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]*$/;

/** Bumped when the generator's output changes for the same catalog, so that every view is regenerated. */
const GENERATOR_VERSION = '1';

const BOOKKEEPING = 'catalog_views';

/** The record's typed columns every view starts with, and their Chinese comments. */
const RECORD_COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ['natural_key', '自然键（资源内唯一）'],
  ['uscc', '统一社会信用代码（归集主体）'],
  ['subject_name', '主体名称'],
  ['department', '数据来源部门'],
  ['produced_date', '信息产生日期'],
  ['received_at', '归集时间'],
  ['changed_at', '最近变更时间'],
  ['version', '记录版本号'],
  ['match_method', '主体匹配方式'],
  ['disclosure', '公开属性（public 公示 / shared 共享）'],
  ['run_id', '最近写入的运行编号'],
];

export interface ViewDefinition {
  name: string;
  /** One statement: `CREATE OR REPLACE VIEW "name" AS SELECT ...`. */
  sql: string;
  /** One `COMMENT ON ...` statement each. */
  comments: string[];
}

export interface SyncResult {
  /** Views created or regenerated (their definition changed or they were missing), in catalog order. */
  created: string[];
  /** Views dropped for good: their resource left the catalog, or it became shared (no public view). */
  dropped: string[];
}

function ident(name: string): string {
  if (!IDENTIFIER.test(name) || name.length > 63)
    throw new GuijiError(
      'GUIJI_ERR_CATALOG',
      `not a safe SQL identifier in the catalog: ${JSON.stringify(name)}`,
    );
  return `"${name}"`;
}

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function typedValue(field: FieldDef): { expr: string; type: string } {
  const raw = `(data->>${literal(field.code)})`;
  switch (field.kind) {
    case 'date':
      return { expr: `${raw}::date`, type: 'date' };
    case 'datetime':
      return { expr: `${raw}::timestamp`, type: 'timestamp' };
    case 'amount':
      return { expr: `${raw}::numeric`, type: 'numeric' };
    default:
      return { expr: raw, type: 'text' };
  }
}

function maskedValue(field: FieldDef): string {
  const { expr, type } = typedValue(field);
  if (type !== 'text') return `NULL::${type}`;
  if (field.kind === 'code' || field.kind === 'docno')
    return (
      `CASE WHEN length(${expr}) > 10 THEN left(${expr}, 6) || repeat('*', length(${expr}) - 10) || right(${expr}, 4)` +
      ` ELSE repeat('*', length(${expr})) END`
    );
  return `CASE WHEN ${expr} = '' THEN ${expr} ELSE left(${expr}, 1) || '*' END`;
}

function definition(
  resource: Resource,
  name: string,
  mask: boolean,
  publicOnly: boolean,
  title: string,
): ViewDefinition {
  const view = ident(name);
  const taken = new Set(RECORD_COLUMNS.map(([c]) => c));
  const select = RECORD_COLUMNS.map(([c]) => `  ${ident(c)}`);
  const comments = [
    `COMMENT ON VIEW ${view} IS ${literal(title)}`,
    ...RECORD_COLUMNS.map(([c, zh]) => `COMMENT ON COLUMN ${view}.${ident(c)} IS ${literal(zh)}`),
  ];
  for (const field of resource.current.fields) {
    const column = field.code.toLowerCase();
    ident(field.code);
    const quoted = ident(column);
    if (taken.has(column))
      throw new GuijiError(
        'GUIJI_ERR_CATALOG',
        `${resource.id}: field ${field.code} gives the view column "${column}" twice (or clashes with a record column)`,
      );
    taken.add(column);
    const expr = mask && field.sensitive ? maskedValue(field) : typedValue(field).expr;
    select.push(`  ${expr} AS ${quoted}`);
    const note = mask && field.sensitive ? '（已脱敏）' : '';
    comments.push(`COMMENT ON COLUMN ${view}.${quoted} IS ${literal(`${field.title}${note}`)}`);
  }
  const where = [`resource = ${literal(resource.id)}`, ...(publicOnly ? [`disclosure = 'public'`] : [])];
  const sql = `CREATE OR REPLACE VIEW ${view} AS\nSELECT\n${select.join(',\n')}\nFROM records\nWHERE ${where.join(' AND ')}`;
  return { name, sql, comments };
}

/**
 * The views of one resource, as SQL (pure: no database). `v_<resource>` always; `v_<resource>_public` for
 * public resources only. The catalog argument is the catalog the resource belongs to (kept for the contract:
 * the views are generated from the whole catalog).
 */
export function viewSql(resource: Resource, _catalog: Catalog): ViewDefinition[] {
  ident(resource.id);
  const base = `v_${resource.id}`;
  const shared = resource.disclosure !== 'public';
  const label = `${resource.name}（${resource.id}，字段集 ${resource.current.version}）`;
  const views = [
    definition(
      resource,
      base,
      shared,
      false,
      shared
        ? `${label}：分析视图，仅限部门共享，敏感字段已脱敏`
        : `${label}：分析视图（未脱敏，敏感字段公开使用请用 ${base}_public）`,
    ),
  ];
  if (!shared)
    views.push(definition(resource, `${base}_public`, true, true, `${label}：公示视图，敏感字段已脱敏`));
  return views;
}

function hashOf(view: ViewDefinition): string {
  return createHash('sha256')
    .update(GENERATOR_VERSION)
    .update('\0')
    .update(view.sql)
    .update('\0')
    .update(view.comments.join('\0'))
    .digest('hex');
}

interface Planned extends ViewDefinition {
  resource: string;
  hash: string;
}

interface Plan {
  create: Planned[];
  drop: string[];
}

interface Existing {
  name: string;
  definition_hash: string;
  present: boolean;
}

function plan(wanted: Planned[], existing: Existing[]): Plan {
  const have = new Map(existing.map((e) => [e.name, e]));
  const names = new Set(wanted.map((w) => w.name));
  return {
    create: wanted.filter((w) => {
      const e = have.get(w.name);
      return !e?.present || e.definition_hash !== w.hash;
    }),
    drop: existing.filter((e) => !names.has(e.name)).map((e) => e.name),
  };
}

const EXISTING_SQL = `SELECT b.name, b.definition_hash, (to_regclass(quote_ident(b.name)) IS NOT NULL) AS present
  FROM ${BOOKKEEPING} b ORDER BY b.name`;

/**
 * Creates, regenerates and drops the analyst views so that they match the catalog; see the module comment.
 * Cheap when nothing changed: one read of `catalog_views`, no DDL, no lock.
 */
export async function syncViews(db: Warehouse, catalog: Catalog): Promise<SyncResult> {
  const wanted: Planned[] = [];
  for (const resource of catalog.resources.values())
    for (const view of viewSql(resource, catalog))
      wanted.push({ ...view, resource: resource.id, hash: hashOf(view) });

  // fast path: the bookkeeping table exists and every view is as the catalog says
  const [table] = await db.query<{ present: boolean }>(
    `SELECT to_regclass(${literal(BOOKKEEPING)}) IS NOT NULL AS present`,
  );
  if (table?.present) {
    const first = plan(wanted, await db.query<Existing>(EXISTING_SQL));
    if (first.create.length === 0 && first.drop.length === 0) return { created: [], dropped: [] };
  }

  return db.transaction(async (tx) => {
    // one writer of the views at a time (several workers may start together on one PostgreSQL)
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`guiji:${db.schema}:views`]);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS ${BOOKKEEPING} (
        name text PRIMARY KEY,
        resource text NOT NULL,
        definition_hash text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`,
    );
    const todo = await plan(wanted, (await tx.query<Existing>(EXISTING_SQL)).rows);
    for (const name of todo.drop) {
      await tx.query(`DROP VIEW IF EXISTS ${ident(name)}`);
      await tx.query(`DELETE FROM ${BOOKKEEPING} WHERE name = $1`, [name]);
    }
    for (const view of todo.create) {
      await replaceView(tx, view);
      for (const comment of view.comments) await tx.query(comment);
      await tx.query(
        `INSERT INTO ${BOOKKEEPING} (name, resource, definition_hash) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET resource = EXCLUDED.resource,
           definition_hash = EXCLUDED.definition_hash, updated_at = now()`,
        [view.name, view.resource, view.hash],
      );
    }
    return { created: todo.create.map((v) => v.name), dropped: todo.drop };
  });
}

/**
 * `CREATE OR REPLACE VIEW` keeps the views analysts built on top of ours, but PostgreSQL accepts it only when
 * the old columns keep their names, types and order; otherwise the view is dropped and created again (which
 * fails, with the reason, when another view depends on it: guiji never drops other people's objects).
 */
async function replaceView(tx: SqlTx, view: Planned): Promise<void> {
  await tx.query('SAVEPOINT guiji_view');
  try {
    await tx.query(view.sql);
    await tx.query('RELEASE SAVEPOINT guiji_view');
    return;
  } catch {
    await tx.query('ROLLBACK TO SAVEPOINT guiji_view');
  }
  try {
    await tx.query(`DROP VIEW IF EXISTS ${ident(view.name)}`);
    await tx.query(view.sql);
  } catch (error) {
    throw new GuijiError(
      'GUIJI_ERR_DB',
      `cannot regenerate the view ${view.name} for the changed catalog: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
