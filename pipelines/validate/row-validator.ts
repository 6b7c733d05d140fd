import { hash } from 'node:crypto';
import type {
  Catalog,
  FieldDef,
  Resource,
  ResourceVersion,
  Severity,
  UpgradeSource,
} from '../../catalog/load.js';
import { formatChinaTime } from '../../connectors/http/china-time.js';
import { GuijiError } from '../../lib/errors.js';
import type { CellValue, Issue, Result } from '../../lib/types.js';
import type { Ajv, ErrorObject } from '../../schemas/ajv.js';
import { checkId, type IdKind, USCC_PLACEHOLDER } from '../../schemas/identifiers.js';
import {
  normalizeAmount,
  normalizeCode,
  normalizeCodeList,
  normalizeDate,
  normalizeDateTime,
  normalizeDocNumber,
  normalizeText,
} from '../normalize/values.js';
import { departmentCreditCode } from '../quality/departments.js';

/** A row that passed every check, as the warehouse stores it. */
export interface ValidRecord {
  resource: string;
  schemaVersion: string;
  naturalKey: string;
  /** Field code → normalised value, keys in code order; empty fields are absent. */
  data: Record<string, string>;
  /** For a record of an older field set: the record as it came, and the version it came in. */
  original?: Record<string, string>;
  upgradedFrom?: string;
  /** `data` as JSON, computed once: hashed here, copied into the warehouse by the loader. */
  json: string;
  /**
   * Findings of `warn` severity: the row loads, flagged with them (a value that failed its own field's check is
   * not in `data`; the finding keeps it as sent). Absent when there are none.
   */
  warnings?: Issue[];
  contentHash: string;
  uscc: string | null;
  subjectName: string | null;
  department: string | null;
  producedDate: string | null;
}

export type RowValidator = (cells: readonly CellValue[]) => Result<ValidRecord>;

/** Characters that JSON must escape; values without them are quoted as they are. */
const NEEDS_JSON_ESCAPE = /["\\\u0000-\u001f\u2028\u2029]/;

/** A string as JSON: quoted as it is unless it holds a character JSON escapes. */
export function jsonString(text: string): string {
  return NEEDS_JSON_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

const FORMAT_KIND: Record<string, IdKind> = {
  uscc: 'uscc',
  'uscc-or-placeholder': 'uscc',
  'org-code': 'org',
  regno: 'regno',
  idcard: 'idcard',
};

/**
 * Compiles the checks of one resource version for a file whose columns hold `columns`: normalise each cell by
 * its field's kind, validate the record with the version's JSON Schema, apply the catalog's rules, and build the
 * natural key. Every issue of the row is collected, not just the first.
 */
export function compileRowValidator(
  ajv: Ajv,
  catalog: Catalog,
  resource: Resource,
  version: ResourceVersion,
  columns: readonly (FieldDef | null)[],
  options: { today?: string } = {},
): RowValidator {
  const validate = ajv.getSchema(String(version.schema.$id)) ?? ajv.compile(version.schema);
  const fieldsByCode = new Map(version.fields.map((f) => [f.code, f]));
  const normalizers = columns.map((field) => (field ? normalizerFor(catalog, field) : null));
  // Columns visited in field-code order, so that the same record read from files with other column orders
  // serialises (and hashes) identically.
  const order = columns
    .map((field, i) => ({ field, i }))
    .filter((c) => c.field !== null)
    .sort((a, b) => ((a.field as FieldDef).code < (b.field as FieldDef).code ? -1 : 1))
    .map((c) => c.i);
  const { subject } = resource;

  const jsonKeys = columns.map((field) => (field ? `${JSON.stringify(field.code)}:` : ''));
  const noIssues: Issue[] = [];

  const upgrade = version === resource.current ? undefined : version.upgrade;
  if (version !== resource.current && !upgrade) {
    throw new GuijiError(
      'GUIJI_ERR_CATALOG',
      `${resource.id} version ${version.version} has no upgrade to ${resource.current.version} in the catalog`,
    );
  }
  const currentFields = new Map(resource.current.fields.map((f) => [f.code, f]));
  const titleOf = (code: string) => currentFields.get(code)?.title ?? fieldsByCode.get(code)?.title ?? code;
  const orderChecks = resource.checks?.order ?? [];
  const notFuture = resource.checks?.notFuture ?? [];
  const today = options.today ?? formatChinaTime(Date.now()).slice(0, 10);
  const severityOf = (code: string | null): Severity =>
    code === null ? 'reject' : (fieldsByCode.get(code)?.severity ?? 'reject');
  const checkSeverity = resource.checks?.severity ?? {};

  return (cells) => {
    let data: Record<string, string> = {};
    let issues = noIssues;
    let failed: Set<string> | null = null;
    // warn-level findings, and the fields whose value one of them kept out of `data`
    const found = new Findings();
    // the record's JSON is written as the fields are visited, in code order: no second pass to serialise it
    let json = '{';
    for (const i of order) {
      const field = columns[i] as FieldDef;
      const normalize = normalizers[i] as Normalizer;
      const raw = cells[i] ?? null;
      if (raw === null || raw === '') continue;
      const result = normalize(raw);
      if (result.ok) {
        const value = result.value;
        if (value !== null) {
          data[field.code] = value;
          if (json.length > 1) json += ',';
          json += jsonKeys[i] + jsonString(value);
        }
      } else if (field.severity === 'warn') {
        // a warning is read without the row beside it (the 提示 sheet, the record's warnings): it names its field
        const messageZh = `“${field.title}”：${result.issue.messageZh}`;
        found.drop(field.code, { ...result.issue, field: field.code, messageZh });
      } else {
        if (issues === noIssues) issues = [];
        failed ??= new Set<string>();
        failed.add(field.code);
        issues.push({ ...result.issue, field: field.code });
      }
    }
    json += '}';

    if (!validate(data)) {
      for (const error of validate.errors ?? []) {
        const issue = issueFromAjv(error, data, fieldsByCode);
        if (!issue || (issue.field && (failed?.has(issue.field) || found.dropped(issue.field)))) continue;
        if (severityOf(issue.field) === 'warn') {
          found.drop(issue.field as string, issue);
          continue;
        }
        if (issues === noIssues) issues = [];
        failed ??= new Set<string>();
        if (issue.field) failed.add(issue.field);
        issues.push(issue);
      }
      // a value a warning kept out is not stored: the record's JSON is written again without it
      if (found.removeFrom(data)) json = JSON.stringify(data);
    }

    // the catalog's conditional rules speak of the current version's fields: an older field set had none of them
    for (const rule of upgrade ? [] : resource.rules) {
      const value = data[rule.when.field];
      if (value === undefined || data[rule.require] !== undefined || failed?.has(rule.require)) continue;
      const kinds = value.split(';');
      const hit = rule.when.includes
        ? kinds.includes(rule.when.includes)
        : (rule.when.includesAny ?? []).some((k) => kinds.includes(k));
      if (!hit) continue;
      const required = fieldsByCode.get(rule.require);
      const title = required?.title ?? rule.require;
      if (issues === noIssues && rule.severity !== 'warn') issues = [];
      (rule.severity === 'warn' ? found.list : issues).push({
        type: 'rule-error',
        field: rule.require,
        value: null,
        message: `${rule.require} is required when ${rule.when.field} is "${value}"`,
        messageZh: `${fieldsByCode.get(rule.when.field)?.title ?? rule.when.field}为“${value}”时，“${title}”必填`,
      });
    }

    const uscc = data[subject.uscc] ?? null;
    if (
      uscc &&
      uscc === USCC_PLACEHOLDER &&
      subject.regNo &&
      !data[subject.regNo] &&
      !failed?.has(subject.regNo)
    ) {
      if (issues === noIssues) issues = [];
      issues.push({
        type: 'rule-error',
        field: subject.regNo,
        value: null,
        message: `the placeholder credit code ${uscc} needs a registration number in ${subject.regNo}`,
        messageZh: `统一社会信用代码为占位码 ${uscc} 时，须填写工商注册号`,
      });
    }

    if (issues.length) return { ok: false, issues: found.besides(issues) };

    // a record of an older field set is stored in the current one; what it was stays in its provenance
    let original: Record<string, string> | undefined;
    if (upgrade) {
      original = data;
      data = upgradeRecord(data, upgrade.fields, (name) => departmentCreditCode(catalog, name));
      json = JSON.stringify(data);
    }

    for (const [before, after] of orderChecks) {
      const a = data[before];
      const b = data[after];
      if (a === undefined || b === undefined || a <= b) continue;
      if (issues === noIssues && checkSeverity.order !== 'warn') issues = [];
      (checkSeverity.order === 'warn' ? found.list : issues).push({
        type: 'rule-error',
        field: after,
        value: b,
        message: `${after} (${b}) is before ${before} (${a})`,
        messageZh: `“${titleOf(after)}”（${b}）早于“${titleOf(before)}”（${a}）`,
      });
    }
    for (const field of notFuture) {
      const value = data[field];
      if (value === undefined || value.slice(0, 10) <= today) continue;
      if (issues === noIssues && checkSeverity.notFuture !== 'warn') issues = [];
      (checkSeverity.notFuture === 'warn' ? found.list : issues).push({
        type: 'rule-error',
        field,
        value,
        message: `${field} (${value}) is in the future`,
        messageZh: `“${titleOf(field)}”（${value}）晚于今天（${today}），日期不能在未来`,
      });
    }
    if (issues.length) return { ok: false, issues: found.besides(issues) };

    const keyParts = resource.naturalKey.map((part) =>
      part === '$subject' ? subjectKey(data, resource) : data[part],
    );
    const naturalKey = keyParts.map((p) => p ?? '').join('|');
    const department = resource.departmentField ? (data[resource.departmentField] ?? null) : null;
    return {
      ok: true,
      value: {
        resource: resource.id,
        schemaVersion: upgrade ? upgrade.to : version.version,
        ...(original ? { original, upgradedFrom: version.version } : {}),
        naturalKey,
        data,
        json,
        ...(found.list.length ? { warnings: found.list } : {}),
        contentHash: contentHash(json, found.list),
        uscc: uscc && uscc !== USCC_PLACEHOLDER ? uscc : null,
        subjectName: data[subject.name] ?? null,
        department,
        producedDate: data[resource.producedDate] ?? null,
      },
    };
  };
}

/**
 * A record's content hash: its fields, and its warnings when it has any, so that a resend whose warnings differ
 * (a bad value corrected to another bad value) is a new version that carries the new warnings. A record
 * without warnings hashes as it did before severities existed.
 */
function contentHash(json: string, warnings: readonly Issue[]): string {
  return hash('md5', warnings.length ? `${json}\u0000${JSON.stringify(warnings)}` : json, 'base64url');
}

/** The warn-level findings of one row, and which fields' values they keep out of the record. */
class Findings {
  readonly list: Issue[] = [];
  private fields: Set<string> | null = null;

  /** A finding on a field whose value is not stored (it failed the field's own check, or is missing). */
  drop(field: string, issue: Issue): void {
    this.list.push(issue);
    this.fields ??= new Set();
    this.fields.add(field);
  }

  dropped(field: string): boolean {
    return this.fields?.has(field) ?? false;
  }

  /** Removes the dropped fields' values from `data`; true when one was there. */
  removeFrom(data: Record<string, string>): boolean {
    let removed = false;
    for (const field of this.fields ?? []) {
      if (data[field] === undefined) continue;
      delete data[field];
      removed = true;
    }
    return removed;
  }

  /** A rejected row's issues, with its warnings after them: the clerk mends everything in one go. */
  besides(issues: Issue[]): Issue[] {
    return this.list.length ? [...issues, ...this.list] : issues;
  }
}

/**
 * Maps a record of an older field set to the current one: each current field takes the value of the old field
 * the catalog names, of several old fields joined with ';' (2016's CF_CFLB1 + CF_CFLB2 → CF_CFLB), an old
 * value translated (`{ from, values }`; a value the map does not list is left out), or the credit code of the
 * department an old field names (`{ creditCodeOf }`, through `creditCodeOf`; left out when it names none).
 * Keys in code order, like every stored record.
 */
export function upgradeRecord(
  data: Readonly<Record<string, string>>,
  fields: Readonly<Record<string, UpgradeSource>>,
  creditCodeOf: (name: string) => string | undefined = () => undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const code of Object.keys(fields).sort()) {
    const from = fields[code] as UpgradeSource;
    if (typeof from === 'object' && !Array.isArray(from)) {
      const old = data['from' in from ? from.from : from.creditCodeOf];
      const value =
        old === undefined
          ? undefined
          : 'from' in from
            ? Object.hasOwn(from.values, old)
              ? from.values[old]
              : undefined
            : creditCodeOf(old);
      if (value) out[code] = value;
      continue;
    }
    const values = (Array.isArray(from) ? from : [from]).map((f) => data[f]).filter((v): v is string => !!v);
    if (values.length) out[code] = [...new Set(values.flatMap((v) => v.split(';')))].join(';');
  }
  return out;
}

/** Who a record is about, for its natural key: the credit code, else the registration number, ID number or name. */
function subjectKey(data: Record<string, string>, resource: Resource): string {
  const { subject } = resource;
  const uscc = data[subject.uscc];
  if (uscc && uscc !== USCC_PLACEHOLDER) return uscc;
  for (const field of [subject.regNo, subject.orgCode, subject.idNumber, subject.name]) {
    const value = field ? data[field] : undefined;
    if (value) return value;
  }
  return '';
}

type Normalizer = (
  v: CellValue,
) => { ok: true; value: string | null } | { ok: false; issue: Omit<Issue, 'field'> };

function normalizerFor(catalog: Catalog, field: FieldDef): Normalizer {
  switch (field.kind) {
    case 'code':
      return normalizeCode;
    case 'docno':
      return normalizeDocNumber;
    case 'date':
      return normalizeDate;
    case 'datetime':
      return normalizeDateTime;
    case 'amount':
      return normalizeAmount;
    case 'enum': {
      const list = field.codeList ? catalog.codeLists[field.codeList] : undefined;
      if (!list) return normalizeText;
      const options = { multi: field.multi };
      return (v) => normalizeCodeList(v, list, options);
    }
    default:
      return normalizeText;
  }
}

function issueFromAjv(
  error: ErrorObject,
  data: Record<string, string>,
  fields: Map<string, FieldDef>,
): Issue | null {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required') {
    const code = String(params.missingProperty);
    const title = fields.get(code)?.title ?? code;
    return {
      type: 'missing-cell',
      field: code,
      value: null,
      message: `required field ${code} (${title}) is empty`,
      messageZh: `必填项“${title}”（${code}）为空`,
    };
  }
  if (error.keyword === 'if' || error.keyword === 'allOf') return null;
  const code = error.instancePath.replace(/^\//, '');
  const title = fields.get(code)?.title ?? code;
  const value = data[code] ?? null;
  switch (error.keyword) {
    case 'maxLength':
      return {
        type: 'constraint-error',
        field: code,
        value,
        message: `${code} is longer than ${params.limit} characters`,
        messageZh: `“${title}”超过 ${params.limit} 个字符`,
      };
    case 'format': {
      const kind = FORMAT_KIND[String(params.format)];
      if (kind && value !== null) {
        const check = checkId(value, kind, { allowPlaceholder: params.format === 'uscc-or-placeholder' });
        return {
          type: 'format-error',
          field: code,
          value,
          message: `${code} "${value}" is not a valid ${kind}: ${check.reason ?? 'invalid'}`,
          messageZh: `“${title}”的值“${value}”无效：${check.reasonZh ?? '格式不正确'}`,
        };
      }
      return {
        type: 'format-error',
        field: code,
        value,
        message: `${code} "${value}" does not match format ${params.format}`,
        messageZh: `“${title}”的值“${value}”格式不正确`,
      };
    }
    default:
      return {
        type: 'constraint-error',
        field: code || null,
        value,
        message: `${code || 'row'} ${error.message ?? 'is invalid'}`,
        messageZh: `“${title || '本行'}”不符合要求（${error.message ?? ''}）`,
      };
  }
}

/**
 * Bump when normalisation or validation changes what a raw row becomes, or when the raw digest is computed
 * another way (2: MD5 gave way to raw-digest.ts): every stored raw digest then differs and the next run
 * validates every row once more.
 */
const VALIDATOR_EPOCH = 2;

/**
 * What, besides its cells, decides the record a raw row becomes: the resource version's schema, rules,
 * checks and code lists, the natural key, the file's column mapping, and the validator's epoch. Part of every
 * raw digest, so a change to any of them makes each row validate afresh.
 */
export function rowFingerprint(
  catalog: Catalog,
  resource: Resource,
  version: ResourceVersion,
  columns: readonly (FieldDef | null)[],
): string {
  return hash(
    'md5',
    JSON.stringify([
      VALIDATOR_EPOCH,
      resource.id,
      version.version,
      version.schema,
      resource.rules,
      resource.checks ?? null,
      resource.naturalKey,
      catalog.codeLists,
      columns.map((c) => c?.code ?? null),
    ]),
    'base64url',
  );
}

/**
 * The natural key a row will have if it is valid, from its key and subject fields alone (a fraction of the
 * work of validating it), or null when one of those fields does not normalise or the row is of an older field
 * set. Used to ask the warehouse whether the row is already stored before validating it.
 */
export function compileKeyProbe(
  catalog: Catalog,
  resource: Resource,
  version: ResourceVersion,
  columns: readonly (FieldDef | null)[],
): (cells: readonly CellValue[]) => ProbeKey | null {
  if (version !== resource.current) return () => null;
  const { subject } = resource;
  const keyFields = new Set<string>(resource.naturalKey.filter((p) => p !== '$subject'));
  for (const f of [subject.uscc, subject.regNo, subject.orgCode, subject.idNumber, subject.name]) {
    if (f) keyFields.add(f);
  }
  const wanted = columns
    .map((field, i) => ({ field, i }))
    .filter((c): c is { field: FieldDef; i: number } => c.field !== null && keyFields.has(c.field.code))
    .map(({ field, i }) => ({ code: field.code, i, normalize: normalizerFor(catalog, field) }));
  return (cells) => {
    const data: Record<string, string> = {};
    for (const { code, i, normalize } of wanted) {
      const raw = cells[i] ?? null;
      if (raw === null || raw === '') continue;
      const result = normalize(raw);
      if (!result.ok) return null;
      if (result.value !== null) data[code] = result.value;
    }
    const code = data[subject.uscc];
    return {
      key: resource.naturalKey
        .map((part) => (part === '$subject' ? subjectKey(data, resource) : data[part]) ?? '')
        .join('|'),
      uscc: code && code !== USCC_PLACEHOLDER ? code : '',
    };
  };
}

/** A row's natural key and the credit code it carries ('' for none): its record's primary key, if valid. */
export interface ProbeKey {
  key: string;
  uscc: string;
}
