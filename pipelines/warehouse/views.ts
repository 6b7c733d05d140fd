import { createHash } from 'node:crypto';
import { columnOf, sqlTypeOf, tableOf } from '../../catalog/columns.js';
import type { Catalog, FieldDef, Resource } from '../../catalog/load.js';
import type { SqlTx, Warehouse } from '../../lib/db.js';
import { GuijiError } from '../../lib/errors.js';
import { deliveredDaySql } from '../quality/clock.js';
import { recordJsonSql, typedTable } from './typed-schema.js';

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
 *   masked, and only the records public today: disclosure `public` and publication state `public` (issue 14,
 *   {@link publicTodayJoin}), with the period (`public_from`, `public_until`) after the fields. A shared
 *   resource gets **no** public view: it must not be published.
 * - The `records` table itself stays unmasked, for privileged use (ops, corrections, audits).
 *
 * Masking by kind: identifiers (`code`, `docno`) keep their first 6 and last 4 characters (`340104********1234`;
 * shorter values are all stars: SQL function `guiji_mask_id`); text and enums (personal names) keep their first
 * character and two stars whatever their length (`张**`: `guiji_mask_name`); dates, datetimes and amounts
 * cannot be masked partially and are NULL (the column keeps its type).
 *
 * Natural persons (issue 14, STANDARDS.md §8): a masked view also masks, when the record's subject is a natural
 * person ({@link naturalPersonSql}), the subject's name (`subject_name` and its field, e.g. `cf_xdr_mc`) and a
 * legal representative's field (`legalRepresentative` in the catalog, e.g. `cf_frdb`), and always the ID number
 * or natural person's name inside `natural_key` ({@link publicKeySql}). The legal representative of a legal
 * person or individual business is shown, as the national sites show it. `records` and `common_records` carry
 * the same masked key, name and code as `natural_key_public`, `subject_name_public` and `uscc_public`, for the
 * quality lists and the publication feed.
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
const GENERATOR_VERSION = '3';

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

/**
 * What is public today (issue 14): the records whose publication state (`publication`, recomputed by every run
 * and by `guiji publication refresh`) is `public`. The public views join it; so may any export of what is public.
 */
export function publicTodayJoin(record: string, publication = 'p'): string {
  return `JOIN publication ${publication} ON ${publication}.record_id = ${record}.record_id AND ${publication}.state = 'public'`;
}

/** The public views' columns after the fields: the period the record is public for. */
const PUBLICATION_COLUMNS: ReadonlyArray<readonly [string, string, string]> = [
  ['public_from', 'p.public_from', '公示起始日'],
  ['public_until', 'p.public_until', '公示截止日（含当日；空为无截止日）'],
];

const WARNINGS_COMMENT =
  '提示：未阻止入库的问题（type 类型、field 字段、value 原值、messageZh 说明），无则为空';

/**
 * A record's warnings where fields are masked: without the values as sent, which may be a sensitive field's
 * (an ID number that failed its check).
 */
const MASKED_WARNINGS = `(SELECT jsonb_agg(w - 'value') FROM jsonb_array_elements(r.warnings) AS w)`;

/** Record columns the views gained later: they come after the fields (see {@link definition}). */
const ADDED_COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ['record_id', '记录编号（稳定，不含个人信息，全库唯一）'],
  ['warnings', WARNINGS_COMMENT],
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

/** The zone of the departments' and platforms' local times: datetimes are shown as China time. */
const CHINA_ZONE = 'Asia/Shanghai';

/** A field's value in the view, read from its typed column of `r_<resource>`; datetimes as China time. */
function typedValue(field: FieldDef): { expr: string; type: string } {
  const column = `r.${ident(columnOf(field.code))}`;
  switch (sqlTypeOf(field.kind)) {
    case 'date':
      return { expr: column, type: 'date' };
    case 'timestamptz':
      return { expr: `(${column} AT TIME ZONE ${literal(CHINA_ZONE)})`, type: 'timestamp' };
    case 'numeric':
      return { expr: column, type: 'numeric' };
    default:
      return { expr: column, type: 'text' };
  }
}

function maskedValue(field: FieldDef): string {
  const { expr, type } = typedValue(field);
  if (type !== 'text') return `NULL::${type}`;
  return field.kind === 'code' || field.kind === 'docno'
    ? `guiji_mask_id(${expr})`
    : `guiji_mask_name(${expr})`;
}

/** The credit code a record is filed under: matching's result, else its own code (NULL when it has none). */
const FILED_USCC = `coalesce(r.matched_uscc, nullif(r.uscc, ''))`;

/** The typed column of one of the resource's fields, or NULL when its current version has no such field. */
function fieldColumnSql(resource: Resource, code: string | undefined): string {
  const field = code ? resource.current.fields.find((f) => f.code === code) : undefined;
  return field ? `r.${ident(columnOf(field.code))}` : 'NULL::text';
}

/** The subject's name: the column of the resource's name field (the typed table does not store it twice). */
function subjectNameSql(resource: Resource): string {
  return fieldColumnSql(resource, resource.subject.name);
}

const blank = (expr: string) => `coalesce(${expr}, '') = ''`;

/**
 * Whether the record's subject has no identifier of an organisation: no credit code of its own (the typed
 * table's `uscc` is '' for none and for the standard's placeholder), no registration number, no organisation
 * code. Its natural key then names it by its ID number, else by its name (row-validator's subjectKey).
 */
function withoutOrganisationIdSql(resource: Resource): string {
  const { subject } = resource;
  const regNo = fieldColumnSql(resource, subject.regNo);
  const orgCode = fieldColumnSql(resource, subject.orgCode);
  return `r.uscc = '' AND ${blank(regNo)} AND ${blank(orgCode)}`;
}

/**
 * Whether the record's subject is a natural person (自然人), as SQL over `r_<resource> r`; `false` for a
 * resource whose subjects are always organisations. The subject's category says it when the catalog names
 * that field (`CF_XDR_LB`: 自然人 / 法人及非法人组织 / 个体工商户); without one (records of the 2016 field set,
 * a blank category) a subject with an ID number and no identifier of an organisation is a person, as matching
 * takes it. An individual business (个体工商户) is not a natural person: its name and operator are public.
 */
export function naturalPersonSql(resource: Resource): string {
  const { subject } = resource;
  const byIdentifiers = subject.idNumber
    ? `(${withoutOrganisationIdSql(resource)} AND NOT ${blank(fieldColumnSql(resource, subject.idNumber))})`
    : 'false';
  if (!subject.category || !subject.naturalPerson) return byIdentifiers;
  const category = fieldColumnSql(resource, subject.category);
  return `CASE WHEN ${category} = ${literal(subject.naturalPerson)} THEN true WHEN ${category} <> '' THEN false ELSE ${byIdentifiers} END`;
}

/** A name as the public sees it: masked (张**) when the record's subject is a natural person. */
function personalNameSql(resource: Resource, expr: string): string {
  return whenNaturalPerson(resource, expr, `guiji_mask_name(${expr})`);
}

/** `masked` when the record's subject is a natural person, else `expr`. */
function whenNaturalPerson(resource: Resource, expr: string, masked: string): string {
  const natural = naturalPersonSql(resource);
  return natural === 'false' ? expr : `CASE WHEN ${natural} THEN ${masked} ELSE ${expr} END`;
}

/** The credit code the record is filed under, as the public sees it: a natural person has none, so a code
 * given for one (an ID number in the credit-code column, which can pass its check) is masked. */
export function publicUsccSql(resource: Resource): string {
  return whenNaturalPerson(resource, FILED_USCC, `guiji_mask_id(${FILED_USCC})`);
}

/** The subject's name as the public sees it. */
export function publicNameSql(resource: Resource): string {
  return personalNameSql(resource, subjectNameSql(resource));
}

/**
 * The natural key as the public sees it. The key names who the record is about: a credit code, else a
 * registration number, organisation code, ID number or name. An ID number there keeps its first 6 and last 4
 * characters, a natural person's name its first character; a sensitive field of the key is masked as well.
 */
export function publicKeySql(resource: Resource): string {
  const { subject } = resource;
  let key = 'r.natural_key';
  const part = (value: string, masked: string) => `guiji_mask_key_part(${key}, ${value}, ${masked})`;
  if (resource.naturalKey.includes('$subject')) {
    const noOrganisationId = withoutOrganisationIdSql(resource);
    const idNumber = fieldColumnSql(resource, subject.idNumber);
    if (subject.idNumber)
      key = part(`CASE WHEN ${noOrganisationId} THEN ${idNumber} END`, `guiji_mask_id(${idNumber})`);
    const natural = naturalPersonSql(resource);
    const name = subjectNameSql(resource);
    if (natural !== 'false')
      key = part(`CASE WHEN ${natural} THEN nullif(r.uscc, '') END`, 'guiji_mask_id(r.uscc)');
    if (natural !== 'false')
      key = part(
        `CASE WHEN ${natural} AND ${noOrganisationId} AND ${blank(idNumber)} THEN ${name} END`,
        `guiji_mask_name(${name})`,
      );
  }
  for (const code of resource.naturalKey) {
    const field = resource.current.fields.find((f) => f.code === code);
    if (field?.sensitive && sqlTypeOf(field.kind) === 'text')
      key = part(typedValue(field).expr, maskedValue(field));
  }
  return key;
}

/**
 * A field's value in a masked view: sensitive fields masked; the subject's name and a legal representative's
 * masked when the subject is a natural person (the legal representative of a legal person is public).
 */
function maskedFieldSql(resource: Resource, field: FieldDef): { expr: string; note: string } {
  if (field.sensitive) return { expr: maskedValue(field), note: '（已脱敏）' };
  const plain = typedValue(field).expr;
  let expr = plain;
  if (field.code === resource.subject.name || field.legalRepresentative)
    expr = personalNameSql(resource, plain);
  else if (field.code === resource.subject.uscc)
    expr = whenNaturalPerson(resource, plain, `guiji_mask_id(${plain})`);
  else if (field.kind === 'text') expr = `guiji_mask_ids_in_text(${plain})`;
  return { expr, note: expr === plain || field.kind === 'text' ? '' : '（自然人已脱敏）' };
}

/**
 * Every field of the resource's current version as the public view shows it, read from `r_<resource> r`: the
 * field code and its masked SQL (the publication feed writes these under the field codes).
 */
export function publicFieldsSql(resource: Resource): { code: string; expr: string }[] {
  return resource.current.fields.map((field) => ({
    code: field.code,
    expr: maskedFieldSql(resource, field).expr,
  }));
}

/** How each record column of the views is read from `r_<resource> r`. */
function recordColumnSql(resource: Resource, column: string, mask: boolean): string {
  switch (column) {
    case 'uscc':
      return mask ? publicUsccSql(resource) : FILED_USCC;
    case 'subject_name':
      return mask ? publicNameSql(resource) : subjectNameSql(resource);
    case 'natural_key':
      return mask ? publicKeySql(resource) : 'r.natural_key';
    default:
      return `r.${ident(column)}`;
  }
}

function definition(
  resource: Resource,
  name: string,
  mask: boolean,
  publicOnly: boolean,
  title: string,
  existing: readonly string[] = [],
): ViewDefinition {
  const view = ident(name);
  // every column: [name, expression, comment], in the order of a view made today
  const wanted: Array<[string, string, string]> = [...RECORD_COLUMNS, ...ADDED_COLUMNS].map(([c, zh]) => {
    if (c === 'warnings' && mask) return [c, MASKED_WARNINGS, `${zh}（已去掉原值）`];
    const expr = recordColumnSql(resource, c, mask);
    return [c, expr, expr === recordColumnSql(resource, c, false) ? zh : `${zh}（自然人已脱敏）`];
  });
  const taken = new Set(wanted.map(([c]) => c));
  for (const field of resource.current.fields) {
    const column = field.code.toLowerCase();
    ident(field.code);
    ident(column);
    if (taken.has(column))
      throw new GuijiError(
        'GUIJI_ERR_CATALOG',
        `${resource.id}: field ${field.code} gives the view column "${column}" twice (or clashes with a record column)`,
      );
    taken.add(column);
    const { expr, note } = mask
      ? maskedFieldSql(resource, field)
      : { expr: typedValue(field).expr, note: '' };
    wanted.push([column, expr, `${field.title}${note}`]);
  }
  if (publicOnly) for (const [c, expr, zh] of PUBLICATION_COLUMNS) wanted.push([c, expr, zh]);
  // A view that exists keeps its columns where they are and gains the new ones at its end: what
  // CREATE OR REPLACE VIEW accepts, so that the views analysts built on it survive. A view that lost a column
  // is made anew in today's order (it is dropped and created again; see replaceView).
  const byName = new Map(wanted.map((w) => [w[0], w]));
  const keeps = existing.length > 0 && existing.every((c) => byName.has(c));
  const ordered = keeps
    ? [
        ...existing.map((c) => byName.get(c) as [string, string, string]),
        ...wanted.filter(([c]) => !existing.includes(c)),
      ]
    : wanted;
  const select = ordered.map(([c, expr]) => `  ${expr} AS ${ident(c)}`);
  const comments = [
    `COMMENT ON VIEW ${view} IS ${literal(title)}`,
    ...ordered.map(([c, , zh]) => `COMMENT ON COLUMN ${view}.${ident(c)} IS ${literal(zh)}`),
  ];
  const where = publicOnly ? ` ${publicTodayJoin('r')}\nWHERE r.disclosure = 'public'` : '';
  const sql = `CREATE OR REPLACE VIEW ${view} AS\nSELECT\n${select.join(',\n')}\nFROM ${ident(tableOf(resource.id))} r${where}`;
  return { name, sql, comments };
}

/**
 * The views of one resource, as SQL (pure: no database). `v_<resource>` always; `v_<resource>_public` for
 * public resources only. The catalog argument is the catalog the resource belongs to (kept for the contract:
 * the views are generated from the whole catalog).
 */
export function viewSql(
  resource: Resource,
  _catalog: Catalog,
  /** The columns of the views as they exist in the warehouse, by view name (none: made anew). */
  existing: ReadonlyMap<string, readonly string[]> = new Map(),
): ViewDefinition[] {
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
      existing.get(base),
    ),
  ];
  if (!shared)
    views.push(
      definition(
        resource,
        `${base}_public`,
        true,
        true,
        `${label}：公示视图，敏感字段已脱敏`,
        existing.get(`${base}_public`),
      ),
    );
  return views;
}

/** The record's provenance as v1 stored it (`records.provenance`), rebuilt from the typed columns and `origins o`. */
export function provenanceSql(alias: string, origin: string): string {
  const r = ident(alias);
  const o = ident(origin);
  return `jsonb_strip_nulls(jsonb_build_object('source', ${r}.source, 'file', ${o}.name,
    'sha256', CASE WHEN ${o}.kind = 'file' THEN ${o}.key END, 'sheet', ${r}.sheet, 'row', ${r}.row_number,
    'recordId', ${r}.origin_record,
    'sjc', to_char(${r}.delivered_at AT TIME ZONE ${literal(CHINA_ZONE)}, 'YYYY-MM-DD HH24:MI:SS'),
    'upgradedFrom', ${r}.upgraded_from, 'original', ${r}.original))`;
}

/** The columns of `records`, the view of every record of every resource (v1's table, then what v2 added). */
const COMMON_COLUMNS: ReadonlyArray<readonly [string, (resource: Resource) => string, string]> = [
  ['resource', (res) => `${literal(res.id)}::text`, '资源'],
  ['natural_key', () => 'r.natural_key', '自然键（资源内唯一）'],
  ['version', () => 'r.version', '记录版本号'],
  ['schema_version', () => 'r.schema_version', '字段集版本'],
  ['content_hash', () => 'r.content_hash', '内容摘要'],
  ['data', (res) => recordJsonSql(typedTable(res), 'r'), '字段（由各字段列重建，仅供兼容）'],
  ['uscc', () => FILED_USCC, '统一社会信用代码（归集主体）'],
  ['subject_name', (res) => subjectNameSql(res), '主体名称'],
  ['department', () => 'r.department', '数据来源部门'],
  ['produced_date', () => 'r.produced_date', '信息产生日期'],
  ['received_at', () => 'r.received_at', '归集时间'],
  ['changed_at', () => 'r.changed_at', '最近变更时间'],
  ['disclosure', () => 'r.disclosure', '公开属性（public 公示 / shared 共享）'],
  ['match_method', () => 'r.match_method', '主体匹配方式'],
  ['source', () => 'r.source', '来源'],
  ['provenance', () => provenanceSql('r', 'o'), '来源明细（由来源列重建，仅供兼容）'],
  ['first_run_id', () => 'r.first_run_id', '首次写入的运行编号'],
  ['run_id', () => 'r.run_id', '最近写入的运行编号'],
  ['match_score', () => 'r.match_score', '主体匹配的把握'],
  ['match_flags', () => 'r.match_flags', '一致性标记'],
  ['raw_digest', () => 'r.raw_digest', '原始行摘要'],
  ['record_id', () => 'r.record_id', '记录编号（稳定，不含个人信息，全库唯一）'],
  ['own_uscc', () => `nullif(r.uscc, '')`, '记录所载的统一社会信用代码'],
  ['matched_uscc', () => 'r.matched_uscc', '匹配结果的统一社会信用代码'],
  ['origin_id', () => 'r.origin_id', '来源文件或平台数据集的编号'],
  ['delivered_at', () => 'r.delivered_at', '送达时间'],
  ['row_number', () => 'r.row_number', '来源表格中的行号'],
  ['sheet', () => 'r.sheet', '来源工作表'],
  [
    'department_uscc',
    (res) => departmentUsccSql(res),
    '数据来源部门的统一社会信用代码（资源目录指定的字段）',
  ],
  ['warnings', () => 'r.warnings', WARNINGS_COMMENT],
  ['natural_key_public', publicKeySql, '自然键，如公示视图所示（自然人的证件号码、姓名已脱敏）'],
  ['subject_name_public', publicNameSql, '主体名称，如公示视图所示（自然人姓名已脱敏）'],
  ['uscc_public', publicUsccSql, '统一社会信用代码，如公示视图所示（自然人误填的证件号码已脱敏）'],
];

/** The typed column of the resource's `departmentCodeField` (the providing department's credit code), or NULL. */
function departmentUsccSql(resource: Resource): string {
  const field = resource.departmentCodeField;
  if (!field || !resource.current.fields.some((f) => f.code === field)) return 'NULL::text';
  return `r.${ident(columnOf(field))}::text`;
}

/**
 * The views over every resource: `records`, every record of every typed table with the columns v1's table had
 * (so that the metrics, reports and analysts' queries of v1 keep working) and the common ones v2 added; then the
 * timeliness views of the quality metrics over it. A query that selects only some columns computes only those
 * (PostgreSQL flattens the UNION ALL), and a filter on `resource` or `run_id` reaches each table's index.
 */
export function commonViewSql(catalog: Catalog): ViewDefinition[] {
  // the record columns without the two rebuilt as JSON: what the metrics and the quality views read. Planning a
  // query over all the resources' tables costs ~5 ms on the embedded warehouse this way, ~70–100 ms through
  // `records`, whose JSON columns the planner must expand for every table even when none is selected
  const light = COMMON_COLUMNS.filter(([c]) => c !== 'data' && c !== 'provenance');
  const common: ViewDefinition = {
    name: 'common_records',
    sql: `CREATE OR REPLACE VIEW common_records AS\n${[...catalog.resources.values()]
      .map(
        (res) =>
          `SELECT ${light.map(([c, sql]) => `${sql(res)} AS ${ident(c)}`).join(', ')}\n` +
          `FROM ${ident(tableOf(res.id))} r`,
      )
      .join('\nUNION ALL\n')}`,
    comments: [
      `COMMENT ON VIEW common_records IS ${literal('全部资源的归集记录的公共列（各资源表 r_<资源> 的合并视图，只读）')}`,
      ...light.map(([c, , zh]) => `COMMENT ON COLUMN common_records.${ident(c)} IS ${literal(zh)}`),
    ],
  };
  const members = [...catalog.resources.values()].map(
    (res) =>
      `SELECT ${COMMON_COLUMNS.map(([c, sql]) => `${sql(res)} AS ${ident(c)}`).join(', ')}\n` +
      `FROM ${ident(tableOf(res.id))} r LEFT JOIN origins o ON o.id = r.origin_id`,
  );
  const records: ViewDefinition = {
    name: 'records',
    sql: `CREATE OR REPLACE VIEW records AS\n${members.join('\nUNION ALL\n')}`,
    comments: [
      `COMMENT ON VIEW records IS ${literal('全部资源的归集记录（各资源表 r_<资源> 的合并视图，只读）')}`,
      ...COMMON_COLUMNS.map(([c, , zh]) => `COMMENT ON COLUMN records.${ident(c)} IS ${literal(zh)}`),
    ],
  };
  // Every record's timeliness, in working days from produced to delivered (pipelines/quality/clock.ts): the
  // China date the department delivered it (`received_date`), not the day guiji loaded it (`loaded_date`). The
  // records first written by a history backfill are measured against the history deadline of their run
  // (`history_late`), never against the collection and publication deadlines.
  const timeliness: ViewDefinition = {
    name: 'quality_timeliness',
    sql: `CREATE OR REPLACE VIEW quality_timeliness AS
   SELECT r.resource, r.natural_key, r.department, r.uscc, r.subject_name, r.disclosure, r.first_run_id,
          r.produced_date, rw.day AS received_date,
          rw.workday_no - pw.workday_no AS workdays, d.collect_workdays, d.publish_workdays,
          NOT h.history AND rw.workday_no - pw.workday_no > d.collect_workdays AS collect_late,
          coalesce(NOT h.history AND r.disclosure = 'public' AND rw.workday_no - pw.workday_no > d.publish_workdays,
                   false) AS publish_late,
          (r.received_at AT TIME ZONE 'Asia/Shanghai')::date AS loaded_date, h.history, q.history_deadline,
          coalesce(h.history AND rw.day > q.history_deadline, false) AS history_late
   FROM common_records r
   JOIN quality_deadlines d ON d.resource = r.resource
   JOIN workdays pw ON pw.day = r.produced_date
   JOIN workdays rw ON rw.day = ${deliveredDaySql('r')}
   LEFT JOIN runs fr ON fr.id = r.first_run_id
   LEFT JOIN quality_runs q ON q.run_id = r.first_run_id
   CROSS JOIN LATERAL (SELECT coalesce(fr.kind = 'backfill', false) AS history) h`,
    comments: [
      `COMMENT ON VIEW quality_timeliness IS ${literal('每条记录的时效：自信息产生日期至送达日期（平台接收或更新时间、文件首次出现在 incoming/ 的日期）的工作日数；历史补录记录按历史归集期限另计')}`,
    ],
  };
  const overdue: ViewDefinition = {
    name: 'quality_overdue_all',
    sql: `CREATE OR REPLACE VIEW quality_overdue_all AS
   SELECT * FROM quality_timeliness WHERE collect_late OR publish_late OR history_late`,
    comments: [],
  };
  return [common, records, timeliness, overdue];
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
  const existing = await viewColumns(db, catalog);
  for (const resource of catalog.resources.values())
    for (const view of viewSql(resource, catalog, existing))
      wanted.push({ ...view, resource: resource.id, hash: hashOf(view) });
  for (const view of commonViewSql(catalog)) wanted.push({ ...view, resource: '*', hash: hashOf(view) });

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

/** The columns of the analyst views the warehouse has, in order, by view name. */
async function viewColumns(db: Warehouse, catalog: Catalog): Promise<Map<string, string[]>> {
  const names = [...catalog.resources.keys()].flatMap((id) => [`v_${id}`, `v_${id}_public`]);
  const rows = await db.query<{ table_name: string; column_name: string }>(
    `SELECT table_name::text, column_name::text FROM information_schema.columns
     WHERE table_schema = $1 AND table_name = ANY($2::text[]) ORDER BY table_name, ordinal_position`,
    [db.schema, names],
  );
  const columns = new Map<string, string[]>();
  for (const r of rows) {
    const list = columns.get(r.table_name);
    if (list) list.push(r.column_name);
    else columns.set(r.table_name, [r.column_name]);
  }
  return columns;
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
