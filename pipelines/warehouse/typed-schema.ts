import {
  COLUMN_NAME,
  checkColumns,
  columnOf,
  MAX_IDENTIFIER,
  type RecordColumnName,
  sqlTypeOf,
  tableOf,
} from '../../catalog/columns.js';
import type { Catalog, FieldDef, Resource } from '../../catalog/load.js';
import type { SqlTx, Warehouse } from '../../lib/db.js';
import { GuijiError } from '../../lib/errors.js';

/**
 * Warehouse v2 (issue 16): one typed table per resource, `r_<resource>`, generated from the catalog, and the
 * additive evolution that keeps it up to date. See docs/warehouse-v2.md for the shape and why.
 *
 * - One column per field of the resource's current version, named and typed as the analyst views name and type
 *   them (catalog/columns.ts), then the record columns every query needs (below).
 * - The primary key is (uscc, natural_key), both `text COLLATE "C"`: leading with the credit code, it also
 *   serves "everything of this enterprise", and it keeps the one distribution column a Citus cluster would
 *   need. A record without a credit code has the sentinel '' (empty), never NULL.
 * - `record_id`: a bigint from one sequence for the whole warehouse, given at the first insert and never
 *   changed: opaque, compact, nothing personal in it (a hash of the natural key would be: ID numbers are few
 *   enough to try them all).
 * - Evolution is additive only: a new field becomes a nullable column, a field that left the catalog keeps its
 *   column and its data, a column whose type the catalog would change is refused as a catalog error. Tables and
 *   columns are never dropped, rebuilt or altered in type: analysts build views on them.
 *
 * Identifiers come only from the catalog (resource ids, field codes), are checked against `^[a-z][a-z0-9_]*$`
 * and always quoted; Chinese titles become string literals with their quotes doubled. Nothing of the loaded data
 * ever reaches the DDL.
 */

/** The sequence every typed table takes its record ids from: one id names one record in the whole warehouse. */
export const RECORD_ID_SEQUENCE = 'guiji_record_id';

/** The value of `uscc` for a record that carries no credit code (natural persons, the standard's placeholder). */
export const NO_USCC = '';

export interface ColumnDef {
  name: string;
  /** As `CREATE TABLE` writes it: `text`, `bigint`, `text[]`… (a collation apart, in `collate`). */
  type: string;
  collate?: 'C';
  notNull: boolean;
  /** A SQL expression of this module (never of input). */
  default?: string;
  /** The Chinese comment analysts see in their tools. */
  comment: string;
  /** The catalog field the column holds, for a field column. */
  field?: FieldDef;
}

export interface IndexDef {
  name: string;
  /** The whole `CREATE INDEX` statement. */
  sql: string;
  /** A record column the generator added later: an existing table gets the index when it gets the column. */
  column?: string;
}

export interface TableDef {
  resource: string;
  name: string;
  columns: ColumnDef[];
  primaryKey: readonly string[];
  indexes: IndexDef[];
  comment: string;
}

const C: Pick<ColumnDef, 'collate'> = { collate: 'C' };

/**
 * The record columns, in table order: fixed-width columns first (no alignment padding between them), then the
 * variable ones. Typed by RecordColumnName so that this list and catalog/columns.ts's reserved names agree.
 */
const RECORD_COLUMNS: ReadonlyArray<Omit<ColumnDef, 'name' | 'field'> & { name: RecordColumnName }> = [
  {
    name: 'record_id',
    type: 'bigint',
    notNull: true,
    default: `nextval('${RECORD_ID_SEQUENCE}'::regclass)`,
    comment: '记录编号（稳定，不含个人信息，全库唯一）',
  },
  { name: 'first_run_id', type: 'bigint', notNull: true, comment: '首次写入的运行编号' },
  { name: 'run_id', type: 'bigint', notNull: true, comment: '最近写入的运行编号' },
  {
    name: 'origin_id',
    type: 'bigint',
    notNull: false,
    comment: '来源文件或平台时间窗的编号',
  },
  { name: 'received_at', type: 'timestamptz', notNull: true, default: 'now()', comment: '归集时间' },
  { name: 'changed_at', type: 'timestamptz', notNull: true, default: 'now()', comment: '最近变更时间' },
  { name: 'delivered_at', type: 'timestamptz', notNull: false, comment: '送达时间（平台接收或更新时间）' },
  { name: 'version', type: 'integer', notNull: true, default: '1', comment: '记录版本号' },
  { name: 'row_number', type: 'integer', notNull: false, comment: '来源表格中的行号（含表头行）' },
  { name: 'produced_date', type: 'date', notNull: false, comment: '信息产生日期' },
  { name: 'match_score', type: 'real', notNull: false, comment: '主体匹配的把握（1 为确定）' },
  {
    name: 'uscc',
    type: 'text',
    ...C,
    notNull: true,
    comment: '统一社会信用代码（记录所载；无代码时为空串）',
  },
  { name: 'natural_key', type: 'text', ...C, notNull: true, comment: '自然键（资源内唯一）' },
  {
    name: 'matched_uscc',
    type: 'text',
    ...C,
    notNull: false,
    comment: '归集主体的统一社会信用代码（匹配结果，未匹配时为空）',
  },
  { name: 'match_method', type: 'text', notNull: false, comment: '主体匹配方式' },
  {
    name: 'match_flags',
    type: 'text[]',
    notNull: true,
    default: `'{}'::text[]`,
    comment: '一致性标记（out_of_region 区外代码，name_mismatch 名称不符）',
  },
  { name: 'department', type: 'text', notNull: false, comment: '数据来源部门' },
  { name: 'disclosure', type: 'text', notNull: true, comment: '公开属性（public 公示 / shared 共享）' },
  { name: 'content_hash', type: 'text', ...C, notNull: true, comment: '内容摘要（判断记录是否变更）' },
  { name: 'raw_digest', type: 'text', ...C, notNull: false, comment: '原始行摘要（判断重读的行是否未变）' },
  { name: 'source', type: 'text', notNull: true, comment: '来源（drops 表格报送 / 平台）' },
  { name: 'sheet', type: 'text', notNull: false, comment: '来源工作表' },
  { name: 'origin_record', type: 'text', notNull: false, comment: '平台自身的记录编号' },
  { name: 'schema_version', type: 'text', notNull: true, comment: '字段集版本（各字段列所依）' },
  { name: 'catalog_version', type: 'text', notNull: true, comment: '写入时的目录版本' },
  { name: 'upgraded_from', type: 'text', notNull: false, comment: '按旧字段集报送时的旧版本' },
  {
    name: 'original',
    type: 'jsonb',
    notNull: false,
    comment: '按旧字段集报送时的原始记录（仅此类记录有值）',
  },
  {
    name: 'warnings',
    type: 'jsonb',
    notNull: false,
    comment: '提示：未阻止入库的问题（字段、原值、说明），无则为空；未通过校验的值不入字段列',
  },
];

/** How information_schema.columns spells each type the generator writes. */
const INFORMATION_SCHEMA_TYPE: Record<string, string> = {
  text: 'text',
  date: 'date',
  numeric: 'numeric',
  timestamptz: 'timestamp with time zone',
  bigint: 'bigint',
  integer: 'integer',
  real: 'real',
  jsonb: 'jsonb',
  'text[]': 'ARRAY',
};

function ident(name: string): string {
  if (!COLUMN_NAME.test(name) || Buffer.byteLength(name) > MAX_IDENTIFIER)
    throw new GuijiError(
      'GUIJI_ERR_CATALOG',
      `not a safe SQL identifier in the catalog: ${JSON.stringify(name)}`,
    );
  return `"${name}"`;
}

/** The warehouse's schema, as lib/config.ts allows it (an underscore may lead). */
function schemaIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name) || name.length > MAX_IDENTIFIER)
    throw new GuijiError('GUIJI_ERR_DB', `not a safe schema name: ${JSON.stringify(name)}`);
  return `"${name}"`;
}

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function catalogProblems(resource: Resource): string[] {
  return checkColumns(
    resource.id,
    resource.versions.map((v) => ({ version: v.version, fields: v.fields })),
  ).map((p) => p.message);
}

/**
 * The table of one resource (pure: no database). Throws GUIJI_ERR_CATALOG when the resource's fields cannot
 * make a valid table (see catalog/columns.ts; `catalog validate` reports the same).
 */
export function typedTable(resource: Resource): TableDef {
  const problems = catalogProblems(resource);
  if (problems.length) throw new GuijiError('GUIJI_ERR_CATALOG', problems.join('; '));
  const name = tableOf(resource.id);
  const columns: ColumnDef[] = RECORD_COLUMNS.map((c) => ({ ...c }));
  for (const field of resource.current.fields)
    columns.push({
      name: columnOf(field.code),
      type: sqlTypeOf(field.kind),
      notNull: false,
      comment: field.title,
      field,
    });
  const table = ident(name);
  return {
    resource: resource.id,
    name,
    columns,
    primaryKey: ['uscc', 'natural_key'],
    indexes: [
      // commands name a record by its id; ids grow, so new entries land on the index's right edge
      {
        name: `${name}_record_id`,
        sql: `CREATE INDEX ${ident(`${name}_record_id`)} ON ${table} ("record_id")`,
      },
      // the quality metrics read one run's records; run ids grow too
      { name: `${name}_run_id`, sql: `CREATE INDEX ${ident(`${name}_run_id`)} ON ${table} ("run_id")` },
      // records filed under an enterprise other than their own code (legacy ids, names, review): few, and
      // with the key's credit code they make "everything of this enterprise"
      {
        name: `${name}_matched`,
        sql: `CREATE INDEX ${ident(`${name}_matched`)} ON ${table} ("matched_uscc") WHERE "matched_uscc" <> "uscc"`,
      },
      // a run's records with warnings, for the quality metrics: few, and most runs have none
      {
        name: `${name}_warned`,
        sql: `CREATE INDEX ${ident(`${name}_warned`)} ON ${table} ("run_id") WHERE "warnings" IS NOT NULL`,
        column: 'warnings',
      },
    ],
    comment: `${resource.name}（${resource.id}，字段集 ${resource.current.version}）：归集记录`,
  };
}

function columnSql(c: ColumnDef): string {
  return (
    `${ident(c.name)} ${c.type}` +
    (c.collate ? ` COLLATE "${c.collate}"` : '') +
    (c.notNull ? ' NOT NULL' : '') +
    (c.default !== undefined ? ` DEFAULT ${c.default}` : '')
  );
}

function commentSql(table: string, c: ColumnDef): string {
  return `COMMENT ON COLUMN ${ident(table)}.${ident(c.name)} IS ${literal(c.comment)}`;
}

/** The statements that create a table, its key, indexes and comments, one statement each. */
export function createTableSql(def: TableDef): string[] {
  const body = [
    ...def.columns.map((c) => `  ${columnSql(c)}`),
    `  CONSTRAINT ${ident(`${def.name}_pkey`)} PRIMARY KEY (${def.primaryKey.map(ident).join(', ')})`,
  ];
  return [
    `CREATE TABLE ${ident(def.name)} (\n${body.join(',\n')}\n)`,
    ...def.indexes.map((i) => i.sql),
    `COMMENT ON TABLE ${ident(def.name)} IS ${literal(def.comment)}`,
    ...def.columns.map((c) => commentSql(def.name, c)),
  ];
}

/** The zone of the platforms' and departments' local times (China has one). */
const CHINA_ZONE = 'Asia/Shanghai';

/**
 * A field's typed value read from a record's JSONB (`data` is a SQL expression of the caller's code, e.g.
 * `r.data`): what the upgrade of an existing warehouse selects from `records`. A datetime is China time, made an
 * instant whatever the session's time zone.
 */
export function fromJsonSql(field: FieldDef, data: string): string {
  const text = `(${data}->>${literal(field.code)})`;
  switch (sqlTypeOf(field.kind)) {
    case 'date':
      return `${text}::date`;
    case 'numeric':
      return `${text}::numeric`;
    case 'timestamptz':
      return `(${text}::timestamp AT TIME ZONE ${literal(CHINA_ZONE)})`;
    default:
      return text;
  }
}

/** PostgreSQL's limit on a function's arguments is 100: jsonb_build_object takes 45 pairs at a time. */
const PAIRS_PER_CALL = 45;

/**
 * The record's fields rebuilt as JSONB from the typed columns of `alias` (a table alias of the caller's code):
 * field code → the normalised text the validator made, empty fields absent — `records.data`'s shape, for the
 * history of a superseded row and for checking the upgrade of an existing warehouse. Dates and datetimes go
 * through to_char, not `::text`, whose output follows the session's DateStyle; canonical amounts print back as
 * they were.
 */
export function recordJsonSql(def: TableDef, alias: string): string {
  const a = ident(alias);
  const pairs = def.columns
    .filter((c) => c.field)
    .map((c) => {
      const column = `${a}.${ident(c.name)}`;
      const value =
        c.type === 'date'
          ? `to_char(${column}, 'YYYY-MM-DD')`
          : c.type === 'timestamptz'
            ? `to_char(${column} AT TIME ZONE ${literal(CHINA_ZONE)}, 'YYYY-MM-DD HH24:MI:SS')`
            : c.type === 'numeric'
              ? `${column}::text`
              : column;
      return `${literal((c.field as FieldDef).code)}, ${value}`;
    });
  const calls: string[] = [];
  for (let i = 0; i < pairs.length; i += PAIRS_PER_CALL)
    calls.push(`jsonb_build_object(${pairs.slice(i, i + PAIRS_PER_CALL).join(', ')})`);
  return `jsonb_strip_nulls(${calls.length ? calls.join(' || ') : `'{}'::jsonb`})`;
}

/** One column of a warehouse table, as information_schema.columns has it. */
export interface ExistingColumn {
  table_name: string;
  column_name: string;
  data_type: string;
}

export interface TypedPlan {
  /** The DDL to run, in order, one statement each; empty when the warehouse is up to date. */
  statements: string[];
  /** Tables to create. */
  created: string[];
  /** Columns to add to existing tables, as `table.column`. */
  added: string[];
  /**
   * What the catalog asks for and the warehouse will not do (a column whose type would change, a field that
   * cannot name a column). When there are any, nothing of the plan may be applied.
   */
  problems: string[];
}

/**
 * What brings the warehouse's typed tables up to the catalog (pure: the caller reads the columns the tables have
 * today from information_schema): a missing table is created whole; a field without its column gets one,
 * nullable, with its comment; a column of a field that left the catalog stays; a column whose type differs from
 * the catalog's is reported, never altered.
 */
export function planTypedTables(catalog: Catalog, existing: readonly ExistingColumn[]): TypedPlan {
  const tables = new Map<string, Map<string, string>>();
  for (const c of existing) {
    let columns = tables.get(c.table_name);
    if (!columns) {
      columns = new Map();
      tables.set(c.table_name, columns);
    }
    columns.set(c.column_name, c.data_type);
  }
  const plan: TypedPlan = { statements: [], created: [], added: [], problems: [] };
  for (const resource of catalog.resources.values()) {
    const problems = catalogProblems(resource);
    if (problems.length) {
      plan.problems.push(...problems);
      continue;
    }
    const def = typedTable(resource);
    const have = tables.get(def.name);
    if (!have) {
      plan.created.push(def.name);
      plan.statements.push(...createTableSql(def));
      continue;
    }
    for (const column of def.columns) {
      const type = have.get(column.name);
      const wanted = INFORMATION_SCHEMA_TYPE[column.type];
      if (type === undefined) {
        if (column.notNull && column.default === undefined) {
          // a record column the generator gained later, which a table with rows cannot take as it is
          plan.problems.push(
            `${def.name} has no column "${column.name}", and a NOT NULL column without a default cannot be added to a table with rows: it needs a written migration`,
          );
          continue;
        }
        plan.added.push(`${def.name}.${column.name}`);
        plan.statements.push(
          `ALTER TABLE ${ident(def.name)} ADD COLUMN ${columnSql(column)}`,
          commentSql(def.name, column),
          ...def.indexes.filter((i) => i.column === column.name).map((i) => i.sql),
        );
      } else if (type !== wanted) {
        plan.problems.push(
          column.field
            ? `${resource.id}: field ${column.field.code} is ${column.type} (${column.field.kind}) in version ${resource.current.version} of the catalog, but the warehouse column ${def.name}.${column.name} is ${type} from an earlier version: a warehouse column never changes type; give the changed field a new code`
            : `${def.name}.${column.name} is ${type} in the warehouse, not ${column.type}: the record columns were changed outside guiji`,
        );
      }
    }
  }
  return plan;
}

export interface TypedSyncResult {
  created: string[];
  added: string[];
}

const COLUMNS_SQL = `SELECT table_name::text, column_name::text, data_type::text
  FROM information_schema.columns
  WHERE table_schema = $1 AND table_name = ANY($2::text[])
  ORDER BY table_name, ordinal_position`;

function refuse(problems: readonly string[]): GuijiError {
  return new GuijiError(
    'GUIJI_ERR_CATALOG',
    `the warehouse's typed tables cannot follow the catalog: ${problems.join('; ')}`,
  );
}

/**
 * Creates the typed tables the catalog has and the warehouse lacks, and adds the columns of new fields, in one
 * transaction in the warehouse's schema: all of it or none. Cheap when nothing changed (one read of
 * information_schema, no lock, no DDL). Throws GUIJI_ERR_CATALOG, changing nothing, when the catalog asks for
 * what the warehouse will not do (see {@link planTypedTables}).
 */
export async function syncTypedTables(db: Warehouse, catalog: Catalog): Promise<TypedSyncResult> {
  const names = [...catalog.resources.keys()].map(tableOf);
  const first = planTypedTables(catalog, await db.query<ExistingColumn>(COLUMNS_SQL, [db.schema, names]));
  if (first.problems.length) throw refuse(first.problems);
  if (first.statements.length === 0) return { created: [], added: [] };
  return db.transaction(async (tx: SqlTx) => {
    await tx.query(`SET LOCAL search_path TO ${schemaIdent(db.schema)}`);
    // one writer of the schema at a time (several workers may start together on one PostgreSQL)
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`guiji:${db.schema}:typed-tables`]);
    const plan = planTypedTables(
      catalog,
      (await tx.query<ExistingColumn>(COLUMNS_SQL, [db.schema, names])).rows,
    );
    if (plan.problems.length) throw refuse(plan.problems);
    if (plan.created.length)
      await tx.query(`CREATE SEQUENCE IF NOT EXISTS ${ident(RECORD_ID_SEQUENCE)} AS bigint CACHE 100`);
    for (const statement of plan.statements) await tx.query(statement);
    return { created: plan.created, added: plan.added };
  });
}
