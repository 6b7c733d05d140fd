import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { normalizeName } from '../pipelines/match/name.js';
import { createAjv } from '../schemas/ajv.js';
import { checkUscc } from '../schemas/identifiers.js';
import { type ColumnVersion, checkColumns } from './columns.js';
import { headerKey } from './header-key.js';
import {
  type Catalog,
  departmentName,
  type FieldKind,
  loadCatalog,
  type Resource,
  SEVERITIES,
  type Severity,
} from './load.js';
import { loadPublicationRules, PUBLICATION_FILE } from './publication.js';

/** One thing wrong with the catalog: the file, where in it (a JSONPath such as `$.versions[1].from`), and what. */
export interface CatalogProblem {
  file: string;
  path: string;
  message: string;
}

export interface CatalogValidation {
  ok: boolean;
  problems: CatalogProblem[];
}

export const FIELD_KINDS: readonly FieldKind[] = [
  'text',
  'code',
  'docno',
  'date',
  'datetime',
  'amount',
  'enum',
];
export const DISCLOSURES = ['public', 'shared'] as const;
/** The exchange paths of the seed: city credit platform, data-sharing platform, spreadsheet drop, provincial channel. */
export const EXCHANGE_PATHS = ['credit-platform', 'sharing-platform', 'drops', 'provincial'] as const;
const SUBJECT_KEYS = ['uscc', 'name', 'regNo', 'orgCode', 'idNumber', 'category'] as const;
const REGISTER_KEYS = ['name', 'regNo', 'legalRep', 'regDate', 'status', 'address'] as const;
const USCC_FORMATS = ['uscc', 'uscc-or-placeholder'];
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string' && v.trim().length > 0;
const isStringArray = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((s) => typeof s === 'string');

/** `$.a.b[2]`, quoting keys that are not plain identifiers (`$.properties.CF_WSH["x-guiji"].aliases[0]`). */
function jsonPath(...parts: (string | number)[]): string {
  let path = '$';
  for (const part of parts) {
    if (typeof part === 'number') path += `[${part}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(part)) path += `.${part}`;
    else path += `[${JSON.stringify(part)}]`;
  }
  return path;
}

function isRealDate(s: string): boolean {
  if (!ISO_DATE.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

class Problems {
  readonly list: CatalogProblem[] = [];
  constructor(readonly file: string) {}
  add(path: string, message: string): void {
    this.list.push({ file: this.file, path, message });
  }
}

function readJsonFile(file: string, all: CatalogProblem[]): Json | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    all.push({ file, path: '$', message: `cannot read the file: ${(error as Error).message}` });
    return null;
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (!isObject(value)) {
      all.push({ file, path: '$', message: 'the file must hold a JSON object' });
      return null;
    }
    return value;
  } catch (error) {
    all.push({ file, path: '$', message: `not valid JSON: ${(error as Error).message}` });
    return null;
  }
}

interface RootInfo {
  departments: Set<string>;
  codeLists: Map<string, Set<string>>;
  /** Per department code: its place in the list and the resources it says it must deliver. */
  deliveries: Map<string, { index: number; resources: string[] }>;
}

function emptyRootInfo(): RootInfo {
  return { departments: new Set(), codeLists: new Map(), deliveries: new Map() };
}

/** A department's credit codes: at least one, each valid (GB 32100 check character), none shared. */
function checkDepartmentCodes(d: Json, i: number, codes: Map<string, string>, problems: Problems): void {
  if (!isStringArray(d.uscc) || d.uscc.length === 0) {
    problems.add(
      jsonPath('departments', i, 'uscc'),
      '"uscc" must list the department\'s unified social credit code(s)',
    );
    return;
  }
  d.uscc.forEach((code, j) => {
    const check = checkUscc(code);
    if (!check.valid) {
      problems.add(jsonPath('departments', i, 'uscc', j), `credit code "${code}": ${check.reason}`);
      return;
    }
    const owner = codes.get(check.normalized);
    if (owner !== undefined)
      problems.add(
        jsonPath('departments', i, 'uscc', j),
        `credit code ${check.normalized} of "${String(d.code)}" is also a code of "${owner}"`,
      );
    else codes.set(check.normalized, String(d.code));
  });
}

const SCORE_PARTS = ['validity', 'timeliness', 'completeness'] as const;

/**
 * `quality.scoreWeights`, the department score's weights: validity, timeliness and completeness, each a share
 * from 0 to 1, adding up to 1 (no other key: a misspelt part would be silently left out).
 */
function checkScoreWeights(root: Json, problems: Problems): void {
  if (root.quality === undefined) return;
  const at = jsonPath('quality', 'scoreWeights');
  const weights = isObject(root.quality) ? root.quality.scoreWeights : undefined;
  if (!isObject(weights)) {
    problems.add(
      at,
      '"quality.scoreWeights" must be { validity, timeliness, completeness }, shares adding up to 1',
    );
    return;
  }
  for (const key of Object.keys(weights))
    if (!(SCORE_PARTS as readonly string[]).includes(key))
      problems.add(
        jsonPath('quality', 'scoreWeights', key),
        `"${key}" is not a part of the score (${SCORE_PARTS.join(', ')})`,
      );
  let sum = 0;
  for (const key of SCORE_PARTS) {
    const w = weights[key];
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0 || w > 1)
      problems.add(jsonPath('quality', 'scoreWeights', key), `"${key}" must be a share from 0 to 1`);
    else sum += w;
  }
  if (Math.abs(sum - 1) > 1e-9) problems.add(at, `the weights add up to ${sum}, not 1`);
}

function checkRoot(root: Json, problems: Problems): RootInfo {
  const info = emptyRootInfo();
  for (const key of ['version', 'title'] as const)
    if (!isString(root[key])) problems.add(jsonPath(key), `"${key}" must be a non-empty string`);

  if (!Array.isArray(root.departments)) {
    problems.add(
      jsonPath('departments'),
      '"departments" must be a list of { code, name, uscc, aliases?, resources }',
    );
  } else {
    const names = new Map<string, string>();
    const codes = new Map<string, string>();
    root.departments.forEach((d: unknown, i) => {
      if (!isObject(d) || !isString(d.code) || !isString(d.name)) {
        problems.add(jsonPath('departments', i), 'a department needs a "code" and a "name"');
        return;
      }
      if (!/^[a-z][a-z0-9_-]*$/.test(d.code))
        problems.add(
          jsonPath('departments', i, 'code'),
          `department code "${d.code}" must be lower-case letters and digits`,
        );
      if (info.departments.has(d.code))
        problems.add(jsonPath('departments', i, 'code'), `department code "${d.code}" is listed twice`);
      info.departments.add(d.code);
      // names and aliases as resolution compares them (normalizeName, exact): one department each
      for (const [j, name] of [d.name, ...(isStringArray(d.aliases) ? d.aliases : [])].entries()) {
        const at =
          j === 0 ? jsonPath('departments', i, 'name') : jsonPath('departments', i, 'aliases', j - 1);
        const key = normalizeName(name);
        if (key === null) {
          problems.add(at, `department name ${JSON.stringify(name)} of "${d.code}" is empty`);
          continue;
        }
        const owner = names.get(key);
        if (owner !== undefined && owner !== d.code)
          problems.add(at, `department name "${name}" of "${d.code}" is also a name of "${owner}"`);
        names.set(key, d.code);
      }
      if (d.aliases !== undefined && !isStringArray(d.aliases))
        problems.add(jsonPath('departments', i, 'aliases'), '"aliases" must be a list of strings');
      checkDepartmentCodes(d, i, codes, problems);
      if (!isStringArray(d.resources))
        problems.add(
          jsonPath('departments', i, 'resources'),
          '"resources" must list the resources the department must deliver ([] for none)',
        );
      else info.deliveries.set(d.code, { index: i, resources: d.resources });
    });
  }

  checkHistory(root.history, problems);
  checkScoreWeights(root, problems);
  if (!isObject(root.codeLists)) {
    problems.add(jsonPath('codeLists'), '"codeLists" must be an object of named lists');
    return info;
  }
  for (const [name, list] of Object.entries(root.codeLists)) {
    const labels = new Set<string>();
    info.codeLists.set(name, labels);
    if (!Array.isArray(list) || list.length === 0) {
      problems.add(jsonPath('codeLists', name), `code list "${name}" must be a non-empty list`);
      continue;
    }
    const codes = new Map<string, number>();
    const labelIndex = new Map<string, number>();
    // every way of writing a value, folded, → the entry it means: one spelling must not mean two entries
    const spellings = new Map<string, number>();
    const entries: { i: number; label: string; aliases: string[] }[] = [];
    list.forEach((entry: unknown, i) => {
      if (!isObject(entry) || !isString(entry.code) || !isString(entry.label)) {
        problems.add(jsonPath('codeLists', name, i), 'an entry needs a "code" and a "label"');
        return;
      }
      const code = entry.code;
      const label = entry.label;
      const firstCode = codes.get(code);
      if (firstCode !== undefined)
        problems.add(
          jsonPath('codeLists', name, i, 'code'),
          `code "${code}" of code list "${name}" is also the code of entry ${firstCode}`,
        );
      else codes.set(code, i);
      const firstLabel = labelIndex.get(label);
      if (firstLabel !== undefined)
        problems.add(
          jsonPath('codeLists', name, i, 'label'),
          `label "${label}" of code list "${name}" is also the label of entry ${firstLabel}`,
        );
      else labelIndex.set(label, i);
      labels.add(label);
      for (const spelling of [code, label]) {
        const key = headerKey(spelling);
        if (!spellings.has(key)) spellings.set(key, i);
      }
      if (entry.aliases !== undefined && !isStringArray(entry.aliases))
        problems.add(jsonPath('codeLists', name, i, 'aliases'), '"aliases" must be a list of strings');
      else entries.push({ i, label, aliases: (entry.aliases as string[] | undefined) ?? [] });
    });
    // aliases after every code and label is known, so an alias naming a later entry is caught too
    for (const { i, label, aliases } of entries)
      aliases.forEach((alias, j) => {
        const key = headerKey(alias);
        const other = spellings.get(key);
        if (other !== undefined && other !== i)
          problems.add(
            jsonPath('codeLists', name, i, 'aliases', j),
            `alias "${alias}" of "${label}" in code list "${name}" already means entry ${other}`,
          );
        else spellings.set(key, i);
      });
  }
  return info;
}

/** The history deadline, when given: whole months, a real start date or null, and where the rule comes from. */
function checkHistory(history: unknown, problems: Problems): void {
  if (history === undefined) return;
  if (!isObject(history)) {
    problems.add(jsonPath('history'), '"history" must be { collectMonths, start, source }');
    return;
  }
  const months = history.collectMonths;
  if (typeof months !== 'number' || !Number.isInteger(months) || months < 1)
    problems.add(
      jsonPath('history', 'collectMonths'),
      '"collectMonths" must be a whole number of months, 1 or more',
    );
  const start = history.start;
  if (start !== undefined && start !== null && !(typeof start === 'string' && isRealDate(start)))
    problems.add(
      jsonPath('history', 'start'),
      '"start" must be a date YYYY-MM-DD, or null (each backfill\'s start)',
    );
  if (!isString(history.source))
    problems.add(jsonPath('history', 'source'), '"source" must say where the deadline comes from');
}

interface FieldInfo {
  kind: string;
  format?: string;
  required: boolean;
  codeList?: string;
  severity?: Severity;
}

const isSeverity = (v: unknown): v is Severity => (SEVERITIES as readonly unknown[]).includes(v);

/** The problem of a severity that is missing or unknown, or null when it is `reject` or `warn`. */
function severityProblem(value: unknown, what: string): string | null {
  if (isSeverity(value)) return null;
  return value === undefined
    ? `${what} needs a "severity": reject (the row is quarantined) or warn (loaded, flagged)`
    : `${what} has severity ${JSON.stringify(value)}; it must be one of ${SEVERITIES.join(', ')}`;
}

/** Checks one schema file; returns its fields, or null when it cannot be read. */
function checkSchema(
  schemaFile: string,
  expectedId: string,
  root: RootInfo,
  ajv: ReturnType<typeof createAjv>,
  all: CatalogProblem[],
): Map<string, FieldInfo> | null {
  const schema = readJsonFile(schemaFile, all);
  if (!schema) return null;
  const problems = new Problems(schemaFile);
  if (schema.$id !== expectedId)
    problems.add(
      jsonPath('$id'),
      `"$id" is ${JSON.stringify(schema.$id)}; it must be "${expectedId}" (guiji:<resource>/<version>)`,
    );
  try {
    ajv.compile(schema);
  } catch (error) {
    problems.add('$', `the schema does not compile: ${(error as Error).message}`);
  }

  const fields = new Map<string, FieldInfo>();
  const properties = schema.properties;
  if (!isObject(properties) || Object.keys(properties).length === 0) {
    problems.add(jsonPath('properties'), 'a schema needs "properties", one per field');
    all.push(...problems.list);
    return fields;
  }
  const required = new Set(isStringArray(schema.required) ? schema.required : []);
  if (schema.required !== undefined && !isStringArray(schema.required))
    problems.add(jsonPath('required'), '"required" must be a list of field codes');
  for (const [i, code] of [...required].entries())
    if (!(code in properties))
      problems.add(jsonPath('required', i), `required field "${code}" is not among the properties`);

  // every name a column may carry → the field (and where) that first claimed it
  const names = new Map<string, { code: string; name: string }>();
  for (const [code, p] of Object.entries(properties)) {
    if (!isObject(p)) {
      problems.add(jsonPath('properties', code), 'a field must be an object');
      continue;
    }
    const x = p['x-guiji'];
    const at = (...rest: (string | number)[]) => jsonPath('properties', code, ...rest);
    if (!isString(p.title)) problems.add(at('title'), `field ${code} needs a Chinese "title"`);
    if (!isObject(x)) {
      problems.add(at('x-guiji'), `field ${code} needs "x-guiji" with its kind`);
      continue;
    }
    const kind = typeof x.kind === 'string' ? x.kind : '';
    if (!(FIELD_KINDS as readonly string[]).includes(kind))
      problems.add(
        at('x-guiji', 'kind'),
        `field ${code} has kind ${JSON.stringify(x.kind)}; known kinds: ${FIELD_KINDS.join(', ')}`,
      );
    const info: FieldInfo = { kind, required: required.has(code) };
    const severity = severityProblem(x.severity, `field ${code}`);
    if (severity) problems.add(at('x-guiji', 'severity'), severity);
    else info.severity = x.severity as Severity;
    if (typeof p.format === 'string') info.format = p.format;
    if (x.codeList !== undefined) {
      if (typeof x.codeList !== 'string' || !root.codeLists.has(x.codeList))
        problems.add(
          at('x-guiji', 'codeList'),
          `field ${code} names code list ${JSON.stringify(x.codeList)}, which catalog.json does not define`,
        );
      else info.codeList = x.codeList;
    } else if (kind === 'enum') {
      problems.add(at('x-guiji'), `field ${code} is an enum but names no "codeList"`);
    }
    if (x.multi !== undefined && (typeof x.multi !== 'boolean' || kind !== 'enum'))
      problems.add(at('x-guiji', 'multi'), `"multi" must be true or false, and only on an enum field`);
    if (x.sensitive !== undefined && typeof x.sensitive !== 'boolean')
      problems.add(at('x-guiji', 'sensitive'), '"sensitive" must be true or false');
    if (
      x.legalRepresentative !== undefined &&
      (typeof x.legalRepresentative !== 'boolean' || kind !== 'text')
    )
      problems.add(
        at('x-guiji', 'legalRepresentative'),
        '"legalRepresentative" must be true or false, and only on a text field',
      );
    if (x.aliases !== undefined && !isStringArray(x.aliases))
      problems.add(at('x-guiji', 'aliases'), '"aliases" must be a list of strings');
    fields.set(code, info);

    const spelled: [string, string][] = [
      [code, at()],
      ...(isString(p.title) ? [[p.title, at('title')] as [string, string]] : []),
      ...(isStringArray(x.aliases)
        ? x.aliases.map((a, j): [string, string] => [a, at('x-guiji', 'aliases', j)])
        : []),
    ];
    for (const [name, where] of spelled) {
      const key = headerKey(name);
      if (!key) {
        problems.add(where, `field ${code} has an empty name`);
        continue;
      }
      const owner = names.get(key);
      if (owner)
        problems.add(
          where,
          owner.code === code
            ? `"${name}" is listed twice for field ${code} (same as "${owner.name}" once folded)`
            : `"${name}" of field ${code} is already a name of field ${owner.code} ("${owner.name}"): a column with this title would be ambiguous`,
        );
      else names.set(key, { code, name });
    }
  }
  all.push(...problems.list);
  return fields;
}

function checkResource(
  file: string,
  raw: Json,
  schemasDir: string,
  root: RootInfo,
  ajv: ReturnType<typeof createAjv>,
  all: CatalogProblem[],
): void {
  const problems = new Problems(file);
  const id = basename(file, '.json');
  if (raw.id !== id)
    problems.add(jsonPath('id'), `"id" is ${JSON.stringify(raw.id)} but the file is named ${id}.json`);
  for (const key of ['name', 'category', 'categoryName', 'legalBasis'] as const)
    if (!isString(raw[key])) problems.add(jsonPath(key), `"${key}" must be a non-empty string`);
  if (!(DISCLOSURES as readonly unknown[]).includes(raw.disclosure))
    problems.add(
      jsonPath('disclosure'),
      `"disclosure" is ${JSON.stringify(raw.disclosure)}; it must be one of ${DISCLOSURES.join(', ')}`,
    );
  if (!isStringArray(raw.departments) || raw.departments.length === 0)
    problems.add(jsonPath('departments'), '"departments" must list the codes of the providing departments');
  else
    raw.departments.forEach((d, i) => {
      if (!root.departments.has(d))
        problems.add(jsonPath('departments', i), `department "${d}" is not in catalog.json's departments`);
    });
  if (!isStringArray(raw.paths) || raw.paths.length === 0)
    problems.add(jsonPath('paths'), `"paths" must list exchange paths (${EXCHANGE_PATHS.join(', ')})`);
  else
    raw.paths.forEach((p, i) => {
      if (!(EXCHANGE_PATHS as readonly string[]).includes(p))
        problems.add(
          jsonPath('paths', i),
          `unknown exchange path "${p}"; known: ${EXCHANGE_PATHS.join(', ')}`,
        );
    });
  const deadlines = raw.deadlines;
  if (
    !isObject(deadlines) ||
    !Number.isInteger(deadlines.collectWorkdays) ||
    Number(deadlines.collectWorkdays) <= 0
  )
    problems.add(
      jsonPath('deadlines', 'collectWorkdays'),
      '"collectWorkdays" must be a positive whole number',
    );
  else if (raw.disclosure === 'public') {
    if (!Number.isInteger(deadlines.publishWorkdays) || Number(deadlines.publishWorkdays) <= 0)
      problems.add(
        jsonPath('deadlines', 'publishWorkdays'),
        'a public resource needs "publishWorkdays" (published within N working days)',
      );
  } else if (raw.disclosure === 'shared' && deadlines.publishWorkdays !== undefined)
    problems.add(
      jsonPath('deadlines', 'publishWorkdays'),
      'a shared resource is not published: drop "publishWorkdays"',
    );

  // versions: ordered by `from`, `to` after `from`, no overlap
  let current: Map<string, FieldInfo> | null = null;
  const older: { index: number; fields: Map<string, FieldInfo>; upgrade: unknown }[] = [];
  // every version's fields, for the warehouse columns they make (catalog/columns.ts)
  const columnVersions: (ColumnVersion & { index: number; schemaFile: string })[] = [];
  if (!Array.isArray(raw.versions) || raw.versions.length === 0) {
    problems.add(jsonPath('versions'), 'a resource needs at least one version');
  } else {
    const seen = new Set<string>();
    let previous: { from: string; to?: string; index: number } | null = null;
    const last = raw.versions.length - 1;
    for (const [i, v] of (raw.versions as unknown[]).entries()) {
      if (!isObject(v)) {
        problems.add(jsonPath('versions', i), 'a version must be { version, from, to?, schema }');
        continue;
      }
      const version = typeof v.version === 'string' ? v.version : '';
      if (!version) problems.add(jsonPath('versions', i, 'version'), 'a version needs a "version" name');
      else if (seen.has(version))
        problems.add(jsonPath('versions', i, 'version'), `version "${version}" is listed twice`);
      seen.add(version);
      const from = typeof v.from === 'string' && isRealDate(v.from) ? v.from : null;
      if (!from)
        problems.add(
          jsonPath('versions', i, 'from'),
          `"from" is ${JSON.stringify(v.from)}; write a date YYYY-MM-DD`,
        );
      let to: string | undefined;
      if (v.to !== undefined) {
        if (typeof v.to !== 'string' || !isRealDate(v.to))
          problems.add(
            jsonPath('versions', i, 'to'),
            `"to" is ${JSON.stringify(v.to)}; write a date YYYY-MM-DD`,
          );
        else if (from && v.to < from)
          problems.add(jsonPath('versions', i, 'to'), `"to" ${v.to} is before "from" ${from}`);
        else to = v.to;
      }
      if (from && previous) {
        if (from <= previous.from)
          problems.add(
            jsonPath('versions', i, 'from'),
            `versions must be ordered by "from": ${from} is not after ${previous.from} (versions[${previous.index}])`,
          );
        else if (previous.to && from <= previous.to)
          problems.add(
            jsonPath('versions', i, 'from'),
            `version "${version}" starts ${from}, while versions[${previous.index}] is still in force until ${previous.to}`,
          );
      }
      if (from) previous = { from, index: i, ...(to ? { to } : {}) };
      if (typeof v.schema !== 'string' || !v.schema) {
        problems.add(jsonPath('versions', i, 'schema'), 'a version needs the path of its schema');
        continue;
      }
      const schemaFile = join(schemasDir, v.schema);
      if (!existsSync(schemaFile)) {
        problems.add(jsonPath('versions', i, 'schema'), `schema file ${schemaFile} does not exist`);
        continue;
      }
      const fields = checkSchema(schemaFile, `guiji:${id}/${version}`, root, ajv, all);
      if (fields)
        columnVersions.push({
          index: i,
          schemaFile,
          version,
          // a field of an unknown kind is reported already; its column type would be a guess
          fields: [...fields]
            .filter(([, f]) => (FIELD_KINDS as readonly string[]).includes(f.kind))
            .map(([code, f]) => ({ code, kind: f.kind })),
        });
      if (i === last) current = fields;
      else if (fields) older.push({ index: i, fields, upgrade: v.upgrade });
      else if (v.upgrade === undefined) {
        problems.add(
          jsonPath('versions', i),
          `version "${version}" is not the current one and has no "upgrade"`,
        );
      }
    }
  }

  if (current) checkFieldReferences(raw, current, root, problems);
  for (const p of checkColumns(id, columnVersions)) {
    const at = p.versionIndex === null ? undefined : columnVersions[p.versionIndex];
    if (at && p.field !== null)
      all.push({ file: at.schemaFile, path: jsonPath('properties', p.field), message: p.message });
    else problems.add(at ? jsonPath('versions', at.index) : jsonPath('id'), p.message);
  }
  // an older version's records become current ones through its upgrade mapping: current field ← old field(s)
  const lastVersion = Array.isArray(raw.versions) ? (raw.versions.at(-1) as Json | undefined) : undefined;
  for (const { index, fields, upgrade } of older) {
    if (!isObject(upgrade) || !isObject(upgrade.fields)) {
      problems.add(
        jsonPath('versions', index, 'upgrade'),
        'an older version needs "upgrade": { to, fields: { current: old | [old…] } }',
      );
      continue;
    }
    if (lastVersion && upgrade.to !== lastVersion.version) {
      problems.add(
        jsonPath('versions', index, 'upgrade', 'to'),
        `upgrade goes to ${JSON.stringify(upgrade.to)}, not to the current version ${JSON.stringify(lastVersion.version)}`,
      );
    }
    for (const [target, source] of Object.entries(upgrade.fields)) {
      if (current && !current.has(target)) {
        problems.add(
          jsonPath('versions', index, 'upgrade', 'fields', target),
          `${JSON.stringify(target)} is not a field of the current version`,
        );
      }
      const at = jsonPath('versions', index, 'upgrade', 'fields', target);
      let olds: unknown[];
      if (isObject(source) && 'creditCodeOf' in source) olds = [source.creditCodeOf];
      else if (isObject(source) && 'from' in source) {
        olds = [source.from];
        if (
          !isObject(source.values) ||
          !Object.values(source.values).every((v) => typeof v === 'string' && v.length > 0)
        )
          problems.add(at, '"values" must map old values to current ones: { "正常": "1", … }');
      } else if (isObject(source)) {
        problems.add(
          at,
          'an upgrade source is a field, a list of fields, { from, values } or { creditCodeOf }',
        );
        continue;
      } else olds = Array.isArray(source) ? source : [source];
      for (const old of olds) {
        if (typeof old !== 'string' || !fields.has(old)) {
          problems.add(at, `${JSON.stringify(old)} is not a field of this version`);
        }
      }
    }
  }
  all.push(...problems.list);
}

/**
 * `subject.category` and `subject.naturalPerson` go together: the category field is an enum whose code list has
 * the natural person's value as a label (the views mask a natural person's name by it).
 */
function checkNaturalPerson(
  subject: Json,
  fields: Map<string, FieldInfo>,
  root: RootInfo,
  problems: Problems,
): void {
  const { category, naturalPerson } = subject;
  if (category === undefined && naturalPerson === undefined) return;
  if (!isString(category) || !isString(naturalPerson)) {
    problems.add(
      jsonPath('subject', category === undefined ? 'category' : 'naturalPerson'),
      '"subject.category" (a field) and "subject.naturalPerson" (its value for a natural person) go together',
    );
    return;
  }
  const list = fields.get(category)?.codeList;
  if (list !== undefined && !root.codeLists.get(list)?.has(naturalPerson))
    problems.add(
      jsonPath('subject', 'naturalPerson'),
      `"${naturalPerson}" is not a label of code list "${list}" (the values of ${category})`,
    );
  else if (list === undefined && fields.has(category))
    problems.add(jsonPath('subject', 'category'), `subject category ${category} must be an enum field`);
}

/** naturalKey, subject, producedDate, departmentField, rules and register name fields of the current version. */
function checkFieldReferences(
  raw: Json,
  fields: Map<string, FieldInfo>,
  root: RootInfo,
  problems: Problems,
): void {
  const missing = (code: unknown) => typeof code !== 'string' || !fields.has(code);
  const nf = (code: unknown) => `field ${JSON.stringify(code)} is not in the current version's schema`;

  if (!isStringArray(raw.naturalKey) || raw.naturalKey.length === 0)
    problems.add(jsonPath('naturalKey'), '"naturalKey" must list the fields that identify a record');
  else
    raw.naturalKey.forEach((code, i) => {
      if (code === '$subject') return;
      if (missing(code)) problems.add(jsonPath('naturalKey', i), `natural key ${nf(code)}`);
      else if (!fields.get(code)?.required)
        problems.add(
          jsonPath('naturalKey', i),
          `natural key field ${code} must be required, or records without it would share a key`,
        );
    });

  checkKeySeverities(raw, fields, problems);

  const subject = raw.subject;
  if (!isObject(subject)) problems.add(jsonPath('subject'), '"subject" must name at least { uscc, name }');
  else {
    for (const key of ['uscc', 'name'] as const)
      if (subject[key] === undefined) problems.add(jsonPath('subject', key), `"subject.${key}" is required`);
    for (const [key, code] of Object.entries(subject)) {
      if (key === 'naturalPerson') continue;
      if (!(SUBJECT_KEYS as readonly string[]).includes(key))
        problems.add(
          jsonPath('subject', key),
          `unknown subject role "${key}"; known: ${SUBJECT_KEYS.join(', ')}`,
        );
      else if (missing(code)) problems.add(jsonPath('subject', key), `subject ${key} ${nf(code)}`);
    }
    const uscc = typeof subject.uscc === 'string' ? fields.get(subject.uscc) : undefined;
    if (uscc && !USCC_FORMATS.includes(uscc.format ?? ''))
      problems.add(
        jsonPath('subject', 'uscc'),
        `credit-code field ${String(subject.uscc)} must have format ${USCC_FORMATS.join(' or ')}`,
      );
    checkNaturalPerson(subject, fields, root, problems);
  }

  if (missing(raw.producedDate))
    problems.add(jsonPath('producedDate'), `produced date ${nf(raw.producedDate)}`);
  else {
    const kind = fields.get(raw.producedDate as string)?.kind;
    if (kind !== 'date' && kind !== 'datetime')
      problems.add(
        jsonPath('producedDate'),
        `produced date ${String(raw.producedDate)} is a ${kind} field, not a date`,
      );
  }
  if (raw.departmentField !== undefined && missing(raw.departmentField))
    problems.add(jsonPath('departmentField'), `department field ${nf(raw.departmentField)}`);
  if (raw.departmentCodeField !== undefined) {
    if (missing(raw.departmentCodeField))
      problems.add(jsonPath('departmentCodeField'), `department code field ${nf(raw.departmentCodeField)}`);
    else if (!USCC_FORMATS.includes(fields.get(raw.departmentCodeField as string)?.format ?? ''))
      problems.add(
        jsonPath('departmentCodeField'),
        `department code field ${String(raw.departmentCodeField)} must have format ${USCC_FORMATS.join(' or ')}`,
      );
  }

  if (raw.checks !== undefined) {
    const checks = raw.checks as { order?: unknown; notFuture?: unknown };
    const isDate = (code: unknown) => {
      const kind = typeof code === 'string' ? fields.get(code)?.kind : undefined;
      return kind === 'date' || kind === 'datetime';
    };
    const order = Array.isArray(checks.order) ? checks.order : [];
    order.forEach((pair: unknown, i) => {
      if (!isStringArray(pair) || pair.length !== 2) {
        problems.add(
          jsonPath('checks', 'order', i),
          'an order check is a pair of date fields [before, after]',
        );
        return;
      }
      pair.forEach((code, j) => {
        if (!isDate(code))
          problems.add(
            jsonPath('checks', 'order', i, j),
            `${JSON.stringify(code)} is not a date field of the current version`,
          );
      });
    });
    const notFuture = Array.isArray(checks.notFuture) ? checks.notFuture : [];
    notFuture.forEach((code: unknown, i) => {
      if (!isDate(code))
        problems.add(
          jsonPath('checks', 'notFuture', i),
          `${JSON.stringify(code)} is not a date field of the current version`,
        );
    });
    checkCheckSeverities(raw.checks as Json, { order, notFuture }, problems);
  }

  if (raw.rules !== undefined) {
    if (!Array.isArray(raw.rules)) problems.add(jsonPath('rules'), '"rules" must be a list');
    else
      raw.rules.forEach((rule: unknown, i) => {
        if (!isObject(rule) || !isObject(rule.when)) {
          problems.add(
            jsonPath('rules', i),
            'a rule is { when: { field, includes | includesAny }, require }',
          );
          return;
        }
        const field = rule.when.field;
        const severity = severityProblem(rule.severity, `rule ${i}`);
        if (severity) problems.add(jsonPath('rules', i, 'severity'), severity);
        if (missing(field)) problems.add(jsonPath('rules', i, 'when', 'field'), `rule ${nf(field)}`);
        if (missing(rule.require)) problems.add(jsonPath('rules', i, 'require'), `rule ${nf(rule.require)}`);
        const values =
          typeof rule.when.includes === 'string'
            ? [rule.when.includes]
            : isStringArray(rule.when.includesAny)
              ? rule.when.includesAny
              : null;
        if (!values || (rule.when.includes !== undefined && rule.when.includesAny !== undefined)) {
          problems.add(
            jsonPath('rules', i, 'when'),
            'a rule needs exactly one of "includes" or "includesAny"',
          );
          return;
        }
        const list = typeof field === 'string' ? fields.get(field)?.codeList : undefined;
        const labels = list ? root.codeLists.get(list) : undefined;
        if (labels)
          for (const value of values)
            if (!labels.has(value))
              problems.add(
                jsonPath('rules', i, 'when'),
                `rule value "${value}" is not a label of code list "${list}", so it can never match`,
              );
      });
  }

  if (raw.register !== undefined) {
    if (!isObject(raw.register))
      problems.add(jsonPath('register'), '"register" must map register columns to fields');
    else
      for (const [key, code] of Object.entries(raw.register)) {
        if (!(REGISTER_KEYS as readonly string[]).includes(key))
          problems.add(jsonPath('register', key), `unknown register column "${key}"`);
        else if (missing(code)) problems.add(jsonPath('register', key), `register ${key} ${nf(code)}`);
      }
  }
}

/**
 * The fields that file a record — its natural key, the subject's credit code and name, and every subject field
 * when the key takes the subject (`$subject`) — are `reject`: a warning keeps a bad value out of the record, and
 * a record without its key would be filed under another one.
 */
function checkKeySeverities(raw: Json, fields: Map<string, FieldInfo>, problems: Problems): void {
  const key = isStringArray(raw.naturalKey) ? raw.naturalKey : [];
  const subject = isObject(raw.subject) ? raw.subject : {};
  const filing = new Map<string, string>();
  key.forEach((code, i) => {
    // an optional key field is reported as such already
    if (code !== '$subject' && fields.get(code)?.required) filing.set(code, jsonPath('naturalKey', i));
  });
  for (const [role, code] of Object.entries(subject)) {
    if (typeof code !== 'string') continue;
    if (role === 'uscc' || role === 'name' || key.includes('$subject'))
      if (!filing.has(code)) filing.set(code, jsonPath('subject', role));
  }
  for (const [code, where] of filing)
    if (fields.get(code)?.severity === 'warn')
      problems.add(
        where,
        `field ${code} files the record (natural key or subject) and must be severity reject, not warn`,
      );
}

/** Each kind of date check the resource uses names its severity in `checks.severity`. */
function checkCheckSeverities(checks: Json, used: Record<string, unknown[]>, problems: Problems): void {
  const severity = checks.severity;
  if (severity !== undefined && !isObject(severity)) {
    problems.add(jsonPath('checks', 'severity'), '"severity" must be { order?, notFuture }: reject or warn');
    return;
  }
  for (const [kind, list] of Object.entries(used)) {
    if (list.length === 0) continue;
    const problem = severityProblem(severity?.[kind], `the ${kind} checks`);
    if (problem) problems.add(jsonPath('checks', 'severity', kind), problem);
  }
  for (const kind of Object.keys(severity ?? {}))
    if (!(kind in used)) problems.add(jsonPath('checks', 'severity', kind), `unknown check kind "${kind}"`);
}

/**
 * Checks the whole catalog without trusting it: catalog.json (departments, code lists), every resource file and
 * every schema it points at. Never throws for a broken catalog; every problem names its file and JSON path.
 */
export function validateCatalog(catalogDir: string, schemasDir: string): CatalogValidation {
  const problems: CatalogProblem[] = [];
  const rootFile = join(catalogDir, 'catalog.json');
  const root = readJsonFile(rootFile, problems);
  const rootProblems = new Problems(rootFile);
  const info = root ? checkRoot(root, rootProblems) : emptyRootInfo();

  const resourcesDir = join(catalogDir, 'resources');
  let files: string[] = [];
  try {
    files = readdirSync(resourcesDir)
      .filter((f) => f.endsWith('.json'))
      .sort();
  } catch (error) {
    problems.push({
      file: resourcesDir,
      path: '$',
      message: `cannot list resources: ${(error as Error).message}`,
    });
  }
  if (files.length === 0 && existsSync(resourcesDir))
    problems.push({ file: resourcesDir, path: '$', message: 'the catalog has no resources' });
  const ajv = createAjv();
  const providers = new Map<string, string[]>();
  for (const f of files) {
    const file = join(resourcesDir, f);
    const raw = readJsonFile(file, problems);
    if (raw) checkResource(file, raw, schemasDir, info, ajv, problems);
    if (raw && isStringArray(raw.departments)) providers.set(basename(f, '.json'), raw.departments);
  }
  checkDeliveries(info, providers, rootProblems);
  problems.unshift(...rootProblems.list);
  if (problems.length === 0) problems.push(...publicationFileProblems(catalogDir, schemasDir));
  return { ok: problems.length === 0, problems };
}

/** The publication rules (`publication.json`) against the catalog, once the catalog itself is sound. */
function publicationFileProblems(catalogDir: string, schemasDir: string): CatalogProblem[] {
  const file = join(catalogDir, PUBLICATION_FILE);
  try {
    loadPublicationRules(catalogDir, loadCatalog(catalogDir, schemasDir));
    return [];
  } catch (error) {
    return [{ file, path: '$', message: (error as Error).message.replace(`${file}：`, '') }];
  }
}

/**
 * Each department's `resources` name resources of the catalog, and agree with the resources' own `departments`
 * lists: a department must deliver a resource exactly when the resource lists it.
 */
function checkDeliveries(info: RootInfo, providers: Map<string, string[]>, problems: Problems): void {
  for (const [code, { index, resources }] of info.deliveries) {
    resources.forEach((id, j) => {
      const listed = providers.get(id);
      if (listed === undefined)
        problems.add(
          jsonPath('departments', index, 'resources', j),
          `resource "${id}" of "${code}" is not in the catalog`,
        );
      else if (!listed.includes(code))
        problems.add(
          jsonPath('departments', index, 'resources', j),
          `"${code}" delivers "${id}" but resources/${id}.json does not list it in "departments"`,
        );
    });
  }
  for (const [id, departments] of providers)
    for (const code of departments) {
      const delivery = info.deliveries.get(code);
      if (delivery && !delivery.resources.includes(id))
        problems.add(
          jsonPath('departments', delivery.index, 'resources'),
          `resources/${id}.json lists "${code}" but "${code}" does not list "${id}" in "resources"`,
        );
    }
}

export interface ResourceSummary {
  id: string;
  name: string;
  category: string;
  categoryName: string;
  disclosure: 'public' | 'shared';
  version: string;
  fields: number;
}

/** One line per resource for `catalog list`, in id order. */
export function listResources(catalog: Catalog): ResourceSummary[] {
  return [...catalog.resources.values()]
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((r) => ({
      id: r.id,
      name: r.name,
      category: r.category,
      categoryName: r.categoryName,
      disclosure: r.disclosure,
      version: r.current.version,
      fields: r.current.fields.length,
    }));
}

export interface FieldDescription {
  code: string;
  title: string;
  kind: FieldKind;
  required: boolean;
  sensitive: boolean;
  severity: Severity;
  aliases: string[];
  format?: string;
  maxLength?: number;
  codeList?: string;
  codes?: string[];
  multi?: boolean;
}

export interface ResourceDescription {
  id: string;
  name: string;
  category: string;
  categoryName: string;
  legalBasis: string;
  disclosure: 'public' | 'shared';
  departments: { code: string; name: string }[];
  paths: string[];
  naturalKey: string[];
  subject: Resource['subject'];
  producedDate: string;
  departmentField: string | null;
  deadlines: Resource['deadlines'];
  versions: { version: string; from: string; to: string | null; schema: string; current: boolean }[];
  rules: Resource['rules'];
  fields: FieldDescription[];
}

/** Everything `catalog show <id>` prints, or null for an unknown resource. */
export function describeResource(catalog: Catalog, id: string): ResourceDescription | null {
  const r = catalog.resources.get(id);
  if (!r) return null;
  return {
    id: r.id,
    name: r.name,
    category: r.category,
    categoryName: r.categoryName,
    legalBasis: r.legalBasis,
    disclosure: r.disclosure,
    departments: r.departments.map((code) => ({ code, name: departmentName(catalog, code) })),
    paths: r.paths,
    naturalKey: r.naturalKey,
    subject: r.subject,
    producedDate: r.producedDate,
    departmentField: r.departmentField ?? null,
    deadlines: r.deadlines,
    versions: r.versions.map((v) => ({
      version: v.version,
      from: v.from,
      to: v.to ?? null,
      schema: basename(join(v.schemaFile, '..')) + '/' + basename(v.schemaFile),
      current: v === r.current,
    })),
    rules: r.rules,
    fields: r.current.fields.map((f) => {
      const d: FieldDescription = {
        code: f.code,
        title: f.title,
        kind: f.kind,
        required: f.required,
        sensitive: f.sensitive,
        severity: f.severity,
        aliases: f.aliases,
      };
      if (f.format !== undefined) d.format = f.format;
      if (f.maxLength !== undefined) d.maxLength = f.maxLength;
      if (f.codeList !== undefined) {
        d.codeList = f.codeList;
        d.codes = (catalog.codeLists[f.codeList] ?? []).map((e) => e.label);
      }
      if (f.multi) d.multi = true;
      return d;
    }),
  };
}

/** `describeResource` as text for a terminal. */
export function formatResource(d: ResourceDescription): string {
  const lines = [
    `${d.id}  ${d.name}`,
    `  category     ${d.category} ${d.categoryName}`,
    `  legal basis  ${d.legalBasis}`,
    `  disclosure   ${d.disclosure === 'public' ? 'public (公示)' : 'shared (departments only, 共享)'}`,
    `  departments  ${d.departments.map((x) => `${x.name} (${x.code})`).join(', ')}`,
    `  paths        ${d.paths.join(', ')}`,
    `  key          ${d.naturalKey.join(' + ')}`,
    `  subject      ${Object.entries(d.subject)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}`,
    `  produced     ${d.producedDate}${d.departmentField ? `   department field ${d.departmentField}` : ''}`,
    `  deadlines    collected within ${d.deadlines.collectWorkdays} working days${
      d.deadlines.publishWorkdays !== undefined
        ? `, published within ${d.deadlines.publishWorkdays} working days`
        : ', not published'
    }`,
    `  versions     ${d.versions
      .map((v) => `${v.version} (${v.from} – ${v.to ?? ''})${v.current ? ' current' : ''}`)
      .join('; ')}`,
  ];
  for (const rule of d.rules) {
    const values = rule.when.includes ?? rule.when.includesAny?.join(' | ') ?? '';
    lines.push(
      `  rule         ${rule.require} required when ${rule.when.field} includes ${values} (${rule.severity ?? 'reject'})`,
    );
  }
  lines.push(
    '',
    '  fields (* required, ! sensitive, ~ warn: a defect loads the row flagged, never rejects it):',
  );
  const width = Math.max(...d.fields.map((f) => f.code.length));
  for (const f of d.fields) {
    const mark = `${f.required ? '*' : ' '}${f.sensitive ? '!' : ' '}${f.severity === 'warn' ? '~' : ' '}`;
    const kind = f.codeList
      ? `${f.kind}:${f.codeList}${f.multi ? '[;]' : ''}`
      : f.format
        ? `${f.kind}:${f.format}`
        : f.kind;
    const aliases = f.aliases.length ? `  aka ${f.aliases.join(' / ')}` : '';
    lines.push(`  ${mark} ${f.code.padEnd(width)}  ${f.title}  [${kind}]${aliases}`);
  }
  return lines.join('\n');
}
