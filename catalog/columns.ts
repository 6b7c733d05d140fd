import type { FieldKind } from './load.js';

/**
 * How the catalog's fields become warehouse columns (issue 16, "the catalog drives the schema"): the rules both
 * `catalog validate` and the typed-table generator (pipelines/warehouse/typed-schema.ts) apply, here so that the
 * catalog can be checked without the warehouse code.
 *
 * - A resource's records live in the table `r_<resource>`; a field in the column named by its code in lower
 *   case (`CF_WSH` → `cf_wsh`), as the analyst views `v_<resource>` already name it.
 * - A column's type follows the field's kind: date → `date`, amount → `numeric`, datetime → `timestamptz`,
 *   anything else → `text`. Types are frozen: the same column never changes type from one version of a
 *   resource to the next (a changed meaning takes a new field code).
 * - A field never takes the name of a record column (the columns every record has, below).
 */

/** Names the SQL the generator writes may use: lower-case letters, digits, underscores, a letter first. */
export const COLUMN_NAME = /^[a-z][a-z0-9_]*$/;

/** PostgreSQL cuts identifiers at 63 bytes: two long names would silently become one. */
export const MAX_IDENTIFIER = 63;

/** The prefix of the typed tables: `r_xzcf` beside the view `v_xzcf`. */
export const TABLE_PREFIX = 'r_';

/** The longest suffix the generator appends to a table name (its index names, e.g. `r_xzcf_record_id`). */
export const LONGEST_TABLE_SUFFIX = '_record_id';

/**
 * The record columns of every typed table, then the record columns the analyst views add (`subject_name`):
 * no field may be named like one of them.
 */
export const RECORD_COLUMN_NAMES = [
  'record_id',
  'first_run_id',
  'run_id',
  'origin_id',
  'received_at',
  'changed_at',
  'delivered_at',
  'version',
  'row_number',
  'produced_date',
  'match_score',
  'uscc',
  'natural_key',
  'matched_uscc',
  'match_method',
  'match_flags',
  'department',
  'disclosure',
  'content_hash',
  'raw_digest',
  'source',
  'sheet',
  'origin_record',
  'schema_version',
  'catalog_version',
  'upgraded_from',
  'original',
  'warnings',
] as const;

export type RecordColumnName = (typeof RECORD_COLUMN_NAMES)[number];

const RESERVED: ReadonlySet<string> = new Set<string>([...RECORD_COLUMN_NAMES, 'subject_name']);

/** The SQL types a field column can have, as `CREATE TABLE` writes them. */
export type FieldSqlType = 'text' | 'date' | 'numeric' | 'timestamptz';

export function sqlTypeOf(kind: FieldKind | string): FieldSqlType {
  switch (kind) {
    case 'date':
      return 'date';
    case 'amount':
      return 'numeric';
    case 'datetime':
      return 'timestamptz';
    default:
      return 'text';
  }
}

export function columnOf(code: string): string {
  return code.toLowerCase();
}

export function tableOf(resource: string): string {
  return `${TABLE_PREFIX}${resource}`;
}

/** One version of a resource as the column rules see it. */
export interface ColumnVersion {
  version: string;
  fields: ReadonlyArray<{ code: string; kind: string }>;
}

/** A broken column rule: the version (index into the versions given) and field it concerns, and what. */
export interface ColumnProblem {
  versionIndex: number | null;
  field: string | null;
  message: string;
}

/**
 * Checks that a resource's versions give valid typed columns: a legal table name, legal and distinct column
 * names, no field named like a record column, and the same type for a column in every version that has it.
 * Every version is checked, not only the current one: an older version was current once, and a warehouse
 * loaded then has its columns.
 */
export function checkColumns(resource: string, versions: readonly ColumnVersion[]): ColumnProblem[] {
  const problems: ColumnProblem[] = [];
  const table = tableOf(resource);
  if (!COLUMN_NAME.test(resource) || table.length + LONGEST_TABLE_SUFFIX.length > MAX_IDENTIFIER)
    problems.push({
      versionIndex: null,
      field: null,
      message: `resource id "${resource}" cannot name its warehouse table: it must be lower-case letters, digits and underscores, a letter first, at most ${MAX_IDENTIFIER - TABLE_PREFIX.length - LONGEST_TABLE_SUFFIX.length} characters`,
    });
  // column → its type and the first version and field that gave it
  const seen = new Map<string, { type: FieldSqlType; kind: string; version: string; code: string }>();
  versions.forEach(({ version, fields }, versionIndex) => {
    const inVersion = new Map<string, string>();
    for (const { code, kind } of fields) {
      const column = columnOf(code);
      const at = { versionIndex, field: code };
      if (!COLUMN_NAME.test(column) || Buffer.byteLength(column) > MAX_IDENTIFIER) {
        problems.push({
          ...at,
          message: `field code "${code}" cannot name a warehouse column: it must be letters, digits and underscores, a letter first, at most ${MAX_IDENTIFIER} characters`,
        });
        continue;
      }
      if (RESERVED.has(column)) {
        problems.push({
          ...at,
          message: `field ${code} would take the column "${column}" of ${table}, which every record has already (${resource}, version ${version}): give the field another code`,
        });
        continue;
      }
      const twin = inVersion.get(column);
      if (twin !== undefined) {
        problems.push({
          ...at,
          message: `fields ${twin} and ${code} of ${resource} version ${version} both become the column "${column}" of ${table}`,
        });
        continue;
      }
      inVersion.set(column, code);
      const type = sqlTypeOf(kind);
      const first = seen.get(column);
      if (first === undefined) seen.set(column, { type, kind, version, code });
      else if (first.type !== type)
        problems.push({
          ...at,
          message: `${resource}: field ${code} is ${type} (${kind}) in version ${version} but ${first.type} (${first.kind}) in version ${first.version}: a warehouse column never changes type; give the changed field a new code`,
        });
    }
  });
  return problems;
}
