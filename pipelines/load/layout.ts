import { columnOf, sqlTypeOf, tableOf } from '../../catalog/columns.js';
import type { Catalog, FieldDef, Resource } from '../../catalog/load.js';
import { GuijiError } from '../../lib/errors.js';
import type { ValidRecord } from '../validate/row-validator.js';
import { copyJson, copyValue } from './copy-text.js';

/**
 * Where a valid record lies in its source, beyond the file or stream its batch names: the sheet and row of a
 * spreadsheet, or a platform's own record id and the time it was received or updated there (SJC, China time).
 */
export interface RecordPlace {
  sheet?: string | null;
  row?: number | null;
  recordId?: string | null;
  /** `YYYY-MM-DD HH:MM:SS[.fff]`, China time; anything else is not kept as a time. */
  deliveredAt?: string | null;
}

/** The record columns a record's COPY line carries, in order, before its field columns. */
export const LINE_RECORD_COLUMNS = [
  'natural_key',
  'uscc',
  'schema_version',
  'catalog_version',
  'content_hash',
  'department',
  'produced_date',
  'disclosure',
  'source',
  'sheet',
  'row_number',
  'origin_record',
  'delivered_at',
  'upgraded_from',
  'original',
  'raw_digest',
  'warnings',
] as const;

/** The columns the loader appends to a line when it writes it: where from, how matched, by which run. */
export const TAIL_COLUMNS = [
  'origin_id',
  'matched_uscc',
  'match_method',
  'match_score',
  'match_flags',
  'first_run_id',
  'run_id',
] as const;

/** A time as platforms give it, China time: kept as an instant with its offset. */
const LOCAL_TIME = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?$/;

/**
 * How the records of one resource are written to its typed table `r_<resource>`: the table (quoted), the line
 * columns (record columns, then one column per field of the current version) and how a record becomes a COPY
 * line. Built once per resource and catalog.
 */
export class TableLayout {
  /** The table's name, quoted; from the catalog's resource id only. */
  readonly table: string;
  /** The same, unquoted (for COPY, which quotes it itself). */
  readonly tableName: string;
  readonly fields: readonly FieldDef[];
  /** Record columns then field columns, unquoted: the order of a line's values. */
  readonly lineColumns: readonly string[];
  /** The line's columns then the tail's: what a COPY into the table names. */
  readonly copyColumns: readonly string[];
  /** Per field: 0 text (escaped), 1 date or amount (written as is), 2 datetime (China time, offset added). */
  private readonly kinds: Uint8Array;
  private readonly prefix: string;

  constructor(
    readonly resource: Resource,
    catalogVersion: string,
    source: string,
  ) {
    this.tableName = tableOf(resource.id);
    this.table = `"${this.tableName}"`;
    this.fields = resource.current.fields;
    this.lineColumns = [...LINE_RECORD_COLUMNS, ...this.fields.map((f) => columnOf(f.code))];
    this.copyColumns = [...this.lineColumns, ...TAIL_COLUMNS];
    this.kinds = Uint8Array.from(this.fields, (f) => {
      const type = sqlTypeOf(f.kind);
      return type === 'text' ? 0 : type === 'timestamptz' ? 2 : 1;
    });
    this.prefix = `${copyValue(catalogVersion)}`;
    this.disclosure = copyValue(resource.disclosure);
    this.source = copyValue(source);
  }

  private readonly disclosure: string;
  private readonly source: string;

  /** The record's COPY line up to (not including) the tail: tab-separated, escaped, no newline. */
  line(record: ValidRecord, place: RecordPlace, rawDigest: string | null): string {
    const delivered =
      place.deliveredAt && LOCAL_TIME.test(place.deliveredAt) ? `${place.deliveredAt}+08` : '\\N';
    let line =
      `${copyValue(record.naturalKey)}\t${record.uscc ?? ''}\t${copyValue(record.schemaVersion)}\t` +
      `${this.prefix}\t${record.contentHash}\t${copyValue(record.department)}\t${record.producedDate ?? '\\N'}\t` +
      `${this.disclosure}\t${this.source}\t${copyValue(place.sheet)}\t${place.row ?? '\\N'}\t` +
      `${copyValue(place.recordId)}\t${delivered}\t${copyValue(record.upgradedFrom)}\t` +
      `${record.original ? copyJson(JSON.stringify(record.original)) : '\\N'}\t${rawDigest ?? '\\N'}\t` +
      `${record.warnings ? copyJson(JSON.stringify(record.warnings)) : '\\N'}`;
    const { data } = record;
    const fields = this.fields;
    const kinds = this.kinds;
    for (let i = 0; i < fields.length; i++) {
      const value = data[(fields[i] as FieldDef).code];
      if (value === undefined) line += '\t\\N';
      else if (kinds[i] === 0) line += `\t${copyValue(value)}`;
      else if (kinds[i] === 1) line += `\t${value}`;
      else line += `\t${value}+08`;
    }
    return line;
  }
}

/** The layouts of a catalog's resources for one source, made when first asked for. */
export class Layouts {
  private readonly made = new Map<string, TableLayout>();

  constructor(
    readonly catalog: Catalog,
    readonly source: string,
  ) {}

  of(resourceId: string): TableLayout {
    let layout = this.made.get(resourceId);
    if (!layout) {
      const resource = this.catalog.resources.get(resourceId);
      if (!resource)
        throw new GuijiError('GUIJI_ERR_CATALOG', `no catalog resource ${JSON.stringify(resourceId)}`);
      layout = new TableLayout(resource, this.catalog.version, this.source);
      this.made.set(resourceId, layout);
    }
    return layout;
  }
}
