import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GuijiError } from '../lib/errors.js';

/**
 * What a finding does to its row: `reject` quarantines it (keys, identifiers, what the national platform needs
 * to publish); `warn` loads it, flagged with the finding (the value that failed its own check is not stored).
 */
export type Severity = 'reject' | 'warn';

export const SEVERITIES: readonly Severity[] = ['reject', 'warn'];

/** How a field's raw values are normalised before validation. */
export type FieldKind = 'text' | 'code' | 'docno' | 'date' | 'datetime' | 'amount' | 'enum';

export interface CodeListEntry {
  code: string;
  label: string;
  aliases?: string[];
}

export interface FieldDef {
  code: string;
  title: string;
  kind: FieldKind;
  required: boolean;
  maxLength?: number;
  format?: string;
  aliases: string[];
  sensitive: boolean;
  /**
   * A legal representative's name (法定代表人): public when the subject is a legal person or an individual
   * business, as the national sites publish it; masked like a name when the subject is a natural person.
   */
  legalRepresentative?: boolean;
  codeList?: string;
  multi: boolean;
  /** What a finding on this field does to its row (`x-guiji.severity`; `reject` when the schema says none). */
  severity: Severity;
}

export interface ResourceVersion {
  version: string;
  /** First day this field set was in force (YYYY-MM-DD). */
  from: string;
  to?: string;
  schemaFile: string;
  schema: Record<string, unknown>;
  fields: FieldDef[];
  /** How a record of this (older) version becomes one of version `to`: current field ← old field(s). */
  upgrade?: Upgrade;
}

/**
 * Where a current field's value comes from in a record of an older field set: an old field; several, joined
 * with ';'; an old field whose values are translated (2016's 当前状态 正常/撤销 → 2019's 1/2; a value not listed
 * is not carried over, the original keeps it); or the credit code of the catalog department an old field names
 * exactly (by name or alias: 2016 has the authority's name, never its code).
 */
export type UpgradeSource =
  | string
  | string[]
  | { from: string; values: Record<string, string> }
  | { creditCodeOf: string };

export interface Upgrade {
  to: string;
  fields: Record<string, UpgradeSource>;
}

export interface Rule {
  when: { field: string; includes?: string; includesAny?: string[] };
  require: string;
  /** What breaking the rule does to the row (`reject` when the catalog says none). */
  severity?: Severity;
}

export interface SubjectFields {
  uscc: string;
  name: string;
  regNo?: string;
  orgCode?: string;
  idNumber?: string;
  /** The subject's category (行政相对人类别): tells a natural person from a legal person. */
  category?: string;
  /** The category's value for a natural person, as stored (the code list's label, `自然人`). */
  naturalPerson?: string;
}

export interface Resource {
  id: string;
  name: string;
  category: string;
  categoryName: string;
  legalBasis: string;
  disclosure: 'public' | 'shared';
  departments: string[];
  paths: string[];
  naturalKey: string[];
  subject: SubjectFields;
  producedDate: string;
  /** The field naming the providing department as the department wrote it (kept as given in `department`). */
  departmentField?: string;
  /** The field holding the providing department's credit code: resolves the department before its name does. */
  departmentCodeField?: string;
  deadlines: { collectWorkdays: number; publishWorkdays?: number };
  versions: ResourceVersion[];
  rules: Rule[];
  /** Date checks on the current version's fields: pairs that must not be in reverse order, dates not in the future. */
  checks?: {
    order?: [string, string][];
    notFuture?: string[];
    /** What a failed check of each kind does to the row (`reject` when the catalog says none). */
    severity?: { order?: Severity; notFuture?: Severity };
  };
  /** For the enterprise register: which fields fill the `enterprises` table that matching reads. */
  register?: {
    name: string;
    regNo?: string;
    legalRep?: string;
    regDate?: string;
    status?: string;
    address?: string;
  };
  /** The version new records are validated against and stored in. */
  current: ResourceVersion;
}

export interface Department {
  /** guiji's id of the department (`scjgj`). */
  code: string;
  /** Its exact full name (`界首市市场监督管理局`). */
  name: string;
  /** Its unified social credit code(s): a record's source-unit code resolves to the department first. */
  uscc?: string[];
  /** Other exact names it writes (compared after `normalizeName`, never as a substring). */
  aliases?: string[];
  /** The resources it must deliver (the resources' own `departments` lists agree). */
  resources?: string[];
}

/**
 * The history deadline (the seed plan's "within 3 months"): records of a history backfill are measured against it,
 * not against a resource's collection deadline, and kept apart from the month's late-report rate.
 */
export interface HistoryDeadline {
  /** Months after `start` within which the history must be collected. */
  collectMonths: number;
  /** The day the programme came into force (YYYY-MM-DD); null or absent: the day each backfill began. */
  start?: string | null;
  /** Where the rule comes from (shown with the figures). */
  source: string;
}

/** Without a `history` in catalog.json: the seed plan's three months, from each backfill's start. */
export const DEFAULT_HISTORY: HistoryDeadline = {
  collectMonths: 3,
  start: null,
  source: '界政办〔2020〕5号《界首市涉企信息归集应用实施方案》四：应在本实施办法实施之日起3个月内归集完成',
};

/** The department score's weights (catalog.json `quality.scoreWeights`): shares of 1, validated by `catalog validate`. */
export interface ScoreWeights {
  validity: number;
  timeliness: number;
  completeness: number;
}

/** The weights of a catalog that names none (the SQL function `quality_score` has the same). */
export const DEFAULT_SCORE_WEIGHTS: Readonly<ScoreWeights> = Object.freeze({
  validity: 0.4,
  timeliness: 0.4,
  completeness: 0.2,
});

export interface Catalog {
  version: string;
  title: string;
  /** How the reports weigh a department's quality (optional: DEFAULT_SCORE_WEIGHTS). */
  quality?: { scoreWeights?: ScoreWeights };
  region: { division: string; name: string; cityPrefix: string };
  /** The history deadline (see HistoryDeadline); DEFAULT_HISTORY when the catalog has none. */
  history?: HistoryDeadline;
  departments: Department[];
  codeLists: Record<string, CodeListEntry[]>;
  resources: Map<string, Resource>;
}

interface SchemaProperty {
  title?: string;
  maxLength?: number;
  format?: string;
  'x-guiji'?: {
    kind?: FieldKind;
    aliases?: string[];
    sensitive?: boolean;
    legalRepresentative?: boolean;
    codeList?: string;
    multi?: boolean;
    severity?: Severity;
  };
}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new GuijiError('GUIJI_ERR_CATALOG', `${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** Reads the catalog folder and the schemas it points at. Deeper consistency checks live in `catalog validate`. */
export function loadCatalog(catalogDir: string, schemasDir: string): Catalog {
  const root = readJson(join(catalogDir, 'catalog.json')) as unknown as Omit<Catalog, 'resources'>;
  const resources = new Map<string, Resource>();
  const files = readdirSync(join(catalogDir, 'resources'))
    .filter((f) => f.endsWith('.json'))
    .sort();
  for (const file of files) {
    const path = join(catalogDir, 'resources', file);
    const raw = readJson(path) as unknown as Omit<Resource, 'current' | 'versions' | 'rules'> & {
      versions: {
        version: string;
        from: string;
        to?: string;
        schema: string;
        upgrade?: Upgrade;
      }[];
      rules?: Rule[];
    };
    if (!raw.versions?.length)
      throw new GuijiError('GUIJI_ERR_CATALOG', `${path}: a resource needs at least one version`);
    const versions = raw.versions.map((v): ResourceVersion => {
      const schemaFile = join(schemasDir, v.schema);
      const schema = readJson(schemaFile);
      return {
        version: v.version,
        from: v.from,
        ...(v.to ? { to: v.to } : {}),
        ...(v.upgrade ? { upgrade: v.upgrade } : {}),
        schemaFile,
        schema,
        fields: fieldsOf(schema),
      };
    });
    const current = versions[versions.length - 1] as ResourceVersion;
    resources.set(raw.id, { ...raw, versions, rules: raw.rules ?? [], current });
  }
  return { ...root, resources };
}

function fieldsOf(schema: Record<string, unknown>): FieldDef[] {
  const properties = (schema.properties ?? {}) as Record<string, SchemaProperty>;
  const required = new Set((schema.required ?? []) as string[]);
  return Object.entries(properties).map(([code, p]) => {
    const x = p['x-guiji'] ?? {};
    const field: FieldDef = {
      code,
      title: p.title ?? code,
      kind: x.kind ?? 'text',
      required: required.has(code),
      aliases: x.aliases ?? [],
      sensitive: x.sensitive ?? false,
      multi: x.multi ?? false,
      severity: x.severity ?? 'reject',
    };
    if (p.maxLength !== undefined) field.maxLength = p.maxLength;
    if (p.format !== undefined) field.format = p.format;
    if (x.codeList !== undefined) field.codeList = x.codeList;
    if (x.legalRepresentative) field.legalRepresentative = true;
    return field;
  });
}

/** The department score's weights: the catalog's, else the defaults. */
export function scoreWeightsOf(catalog: Pick<Catalog, 'quality'>): ScoreWeights {
  return catalog.quality?.scoreWeights ?? DEFAULT_SCORE_WEIGHTS;
}

export function departmentName(catalog: Catalog, code: string): string {
  return catalog.departments.find((d) => d.code === code)?.name ?? code;
}
