/**
 * The words guiji uses, and the types behind them.
 *
 * - source: where records come from: `drops` (departments' spreadsheets), `credit-platform`, `sharing-platform`.
 * - connector: the code that reads one source and yields raw rows with their provenance; never touches the warehouse.
 * - resource: one kind of enterprise information in the catalog (`xzxk` licences, `xzcf` penalties, `enterprise`…).
 * - version: one field set of a resource (`2016`, `2019`), each with a JSON Schema and a period in force.
 * - record: one validated row of a resource, filed under its natural key.
 * - natural key: the fields that identify a record of a resource (a penalty: authority code + document number + subject).
 * - run: one execution of the pipeline over one or more sources; its ledger counts every row read.
 * - batch: the rows loaded in one transaction (COPY into staging, one merge, ledger and cursor together).
 * - partition: a slice of a backfill (a day, a week, a file) loaded as a unit.
 * - cursor: how far a source has been read (a file's SHA-256, a platform's update time).
 * - quarantine: rejected rows, kept with every reason and where they came from.
 * - match: filing a record under a known enterprise of the register (by credit code, legacy ids or name).
 */

/** A cell as a connector hands it over: CSV gives strings; spreadsheets also numbers, booleans and dates. */
export type CellValue = string | number | boolean | Date | null;

/** What went wrong with one value of one row (zod's issues, frictionless' error types). */
export type IssueType =
  | 'missing-cell' // a required field is empty
  | 'type-error' // a value is not of its field's type (a date, an amount)
  | 'format-error' // an identifier fails its check character or shape
  | 'constraint-error' // too long, not in the code list, out of range
  | 'rule-error' // a rule across fields (a fine amount when the kinds include 罚款…)
  | 'code-stored-as-number' // a spreadsheet turned a code into a number: the column must be formatted as text
  | 'duplicate-row' // the natural key was already seen in this run
  | 'blank-row'
  | 'extra-cell'
  | 'unknown-resource';

export interface Issue {
  type: IssueType;
  /** The catalog field code (`CF_WSH`), or null for a row-level issue. */
  field: string | null;
  /** The offending value as received, when there is one. */
  value?: string | null;
  /** A short English explanation for logs and JSON. */
  message: string;
  /** The same for the department clerk, in Chinese. */
  messageZh: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; issues: Issue[] };

/** Where a raw row came from. */
export interface Provenance {
  source: string;
  /** File path relative to the drop folder, or a platform dataset. */
  file?: string;
  sha256?: string;
  sheet?: string;
  /** 1-based row number as the department sees it in its spreadsheet (header row included). */
  row?: number;
  /** A platform's own record id. */
  recordId?: string;
}
