import { createHash } from 'node:crypto';
import type { Catalog, FieldDef, Resource, ResourceVersion } from '../../catalog/load.js';
import type { SqlTx, Warehouse } from '../../lib/db.js';
import type { CellValue, Provenance } from '../../lib/types.js';
import {
  createRandom,
  type DemoEnterprise,
  ENTERPRISE_HEADER,
  enterpriseRow,
  generateEnterprises,
  generateLicences,
  generatePenalties,
  LICENCE_HEADER,
  PENALTY_HEADER,
  type Random,
} from '../../pipelines/demo/generate.js';
import { copyJson, copyValue } from '../../pipelines/load/copy-text.js';
import { buildHeaderIndex, matchHeader } from '../../pipelines/normalize/headers.js';
import { compileRowValidator, type ValidRecord } from '../../pipelines/validate/row-validator.js';
import { migrate } from '../../pipelines/warehouse/migrate.js';
import { syncTypedTables } from '../../pipelines/warehouse/typed-schema.js';
import { createAjv } from '../../schemas/ajv.js';
import { makeIdCard, makeRegNo, USCC_PLACEHOLDER } from '../../schemas/identifiers.js';

/**
 * A warehouse as guiji before issue 16 left it — records as JSONB in `records`, written the way
 * pipelines/load/loader.ts writes them — then brought to the state after migration 009 (records renamed
 * records_v1, origins, record_history.record_id, the record-id sequence, warehouse_upgrades; then the typed tables):
 * what the upgrade of an existing warehouse starts from.
 *
 * Every record is a row that the real validator accepted, with provenance as the sources write it: drops (file,
 * sha256, sheet, row, and upgradedFrom/original for a row of an older field set) and platforms (dataset,
 * recordId, sjc); matched by credit code, by name, by review, or not at all; some with versions in history.
 */

/** The last migration of a warehouse before issue 16. */
export const LAST_V1_MIGRATION = '008_quarantine_by_file';

/** A resource the catalog no longer has (its records must stay in records_v1). */
export const RETIRED_RESOURCE = 'zz_retired';

export interface V1Options {
  /** Penalties from drops (2019 standard); default 120. */
  penalties?: number;
  /** Licences from drops; default 40. */
  licences?: number;
  /** Enterprises of the register; default 30. */
  enterprises?: number;
  seed?: number;
}

export interface V1Fixture {
  /** Rows of records_v1 per resource (the retired one included). */
  records: Map<string, number>;
  /** Rows of record_history per resource. */
  history: Map<string, number>;
}

/** The old loader's COPY columns (pipelines/load/loader.ts RECORD_COLUMNS), then the columns a merge sets. */
const V1_COLUMNS = [
  'resource',
  'natural_key',
  'schema_version',
  'content_hash',
  'data',
  'uscc',
  'subject_name',
  'department',
  'produced_date',
  'disclosure',
  'source',
  'provenance',
  'raw_digest',
  'match_method',
  'match_score',
  'match_flags',
  'first_run_id',
  'run_id',
  'version',
  'received_at',
  'changed_at',
] as const;

interface V1Record {
  record: ValidRecord;
  /** The provenance JSON as the source writes it (key order included). */
  provenance: Record<string, unknown>;
  /** records.uscc: the own code, overwritten by a match beyond the code; null while unmatched without one. */
  uscc: string | null;
  matchMethod: string | null;
  matchScore: number | null;
  matchFlags: string[];
  firstRun: number;
  run: number;
  version: number;
  receivedAt: string;
  changedAt: string;
  rawDigest: string | null;
  /** Earlier versions, oldest first (record_history rows). */
  history: Array<{
    record: ValidRecord;
    provenance: Record<string, unknown>;
    run: number;
    changedAt: string;
    supersededBy: number;
  }>;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Validates rows under a header as a drop would; fails the test setup on any rejected row. */
function validator(catalog: Catalog, header: readonly string[]): (row: readonly CellValue[]) => ValidRecord {
  const match = matchHeader(buildHeaderIndex(catalog), header);
  if (!match) throw new Error(`no resource recognises the header ${header.join(',')}`);
  const validate = compileRowValidator(createAjv(), catalog, match.resource, match.version, match.columns, {
    today: '2026-12-01',
  });
  return (row) => {
    const result = validate(row);
    if (!result.ok) throw new Error(`fixture row rejected: ${JSON.stringify(result.issues)}`);
    return result.value;
  };
}

/** Validates field-code → value objects against a version, as a platform's rows are. */
function objectValidator(
  catalog: Catalog,
  resource: Resource,
  version: ResourceVersion = resource.current,
): (row: Record<string, string>) => ValidRecord {
  const fields: FieldDef[] = version.fields;
  const validate = compileRowValidator(createAjv(), catalog, resource, version, fields, {
    today: '2026-12-01',
  });
  return (row) => {
    const result = validate(fields.map((f) => row[f.code] ?? null));
    if (!result.ok) throw new Error(`fixture row rejected: ${JSON.stringify(result.issues)}`);
    return result.value;
  };
}

/** A day of 2025 as a timestamptz literal, China time, for received_at / changed_at. */
function instant(random: Random, month: number): string {
  const day = 1 + Math.floor(random() * 27);
  const hour = Math.floor(random() * 24);
  return `2025-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')} ${String(hour).padStart(2, '0')}:17:05.123456+08`;
}

function dropProvenance(
  file: string,
  sheet: string | null,
  row: number,
  record: ValidRecord,
): Record<string, unknown> {
  // key order as drops.ts writes it: {source, file, sha256, sheet?, row, upgradedFrom?, original?}
  const p: Record<string, unknown> = { source: 'drops', file, sha256: sha256(file) };
  if (sheet !== null) p.sheet = sheet;
  p.row = row;
  if (record.upgradedFrom) {
    p.upgradedFrom = record.upgradedFrom;
    p.original = record.original;
  }
  return p;
}

function platformProvenance(
  source: string,
  stream: string,
  id: string,
  sjc: string,
): Record<string, unknown> {
  return { source, file: stream, recordId: id, sjc } satisfies Provenance & { sjc: string };
}

/** The rows of the fixture, in memory. */
function fixtureRecords(catalog: Catalog, options: V1Options, runs: number[]): V1Record[] {
  const random = createRandom(options.seed ?? 16);
  const [r1, r2, r3] = runs as [number, number, number];
  const enterprises = generateEnterprises(random, options.enterprises ?? 30);
  const register = new Set(enterprises.map((e) => e.uscc));
  const out: V1Record[] = [];
  const base = (record: ValidRecord, provenance: Record<string, unknown>, month: number): V1Record => ({
    record,
    provenance,
    uscc: record.uscc,
    matchMethod: record.uscc !== null && register.has(record.uscc) ? 'uscc' : null,
    matchScore: record.uscc !== null && register.has(record.uscc) ? 1 : null,
    matchFlags: [],
    firstRun: r1,
    run: r1,
    version: 1,
    receivedAt: instant(random, month),
    changedAt: '',
    rawDigest:
      provenance.source === 'drops' ? sha256(`${record.naturalKey}${record.json}`).slice(0, 22) : null,
    history: [],
  });
  const push = (r: V1Record) => {
    if (!r.changedAt) r.changedAt = r.receivedAt;
    out.push(r);
    return r;
  };

  // the enterprise register, one workbook
  const asEnterprise = validator(catalog, ENTERPRISE_HEADER);
  enterprises.forEach((e, i) => {
    const record = asEnterprise(enterpriseRow(random, e));
    push(base(record, dropProvenance('register/登记信息.xlsx', '企业', i + 2, record), 1));
  });

  // penalties from two drops (a CSV without sheets, a workbook), about a tenth about unknown enterprises
  const asPenalty = validator(catalog, PENALTY_HEADER);
  const plan = generatePenalties(random, enterprises, options.penalties ?? 120, {
    faultShare: 0,
    unknownShare: 0.1,
  });
  const seen = new Set<string>();
  plan.rows.forEach((row, i) => {
    const record = asPenalty(row);
    if (seen.has(record.naturalKey)) return;
    seen.add(record.naturalKey);
    const csv = i % 2 === 0;
    const r = push(
      base(
        record,
        dropProvenance(
          csv ? 'scjgj/2025-03 处罚.csv' : '应急局/处罚 2025.xlsx',
          csv ? null : '行政处罚',
          i + 2,
          record,
        ),
        3,
      ),
    );
    // a name the register spells otherwise
    if (r.matchMethod === 'uscc' && i % 13 === 0) r.matchFlags = ['name_mismatch'];
  });

  const penalty = catalog.resources.get('xzcf') as Resource;
  const asPenaltyObject = objectValidator(catalog, penalty);
  const e0 = enterprises[0] as DemoEnterprise;
  const e1 = enterprises[1] as DemoEnterprise;
  const authority = {
    CF_CFJG: '界首市市场监督管理局',
    CF_CFJGDM: (plan.rows[0] as string[])[17] as string,
    CF_SJLY: '界首市市场监督管理局',
    CF_SJLYDM: (plan.rows[0] as string[])[17] as string,
  };
  const penaltyObject = (wsh: string, subject: Record<string, string>, extra: Record<string, string> = {}) =>
    asPenaltyObject({
      CF_XDR_LB: '法人及非法人组织',
      CF_FRDB: e0.legalRep,
      CF_WSH: wsh,
      CF_WFXW: '虚假宣传',
      CF_SY: '在网店页面发布虚假宣传内容',
      CF_YJ: '《中华人民共和国反不正当竞争法》第二十条',
      CF_CFLB: '罚款',
      CF_NR: '罚款人民币20000元',
      CF_NR_FK: '2',
      CF_JDRQ: '2025-04-03',
      CF_YXQ: '2026-04-03',
      ...authority,
      ...subject,
      ...extra,
    });

  // the placeholder credit code (a registration number instead): one unmatched, one matched by name, one
  // matched by a registration number the register knows
  const placeholder = (n: number, name: string) =>
    penaltyObject(`界市监罚〔2025〕9${n}号`, {
      CF_XDR_MC: name,
      CF_XDR_SHXYM: USCC_PLACEHOLDER,
      CF_XDR_GSZC: makeRegNo(`34128260000${String(100 + n)}`),
    });
  push(
    base(
      placeholder(1, '界首市某某无照经营部'),
      dropProvenance('scjgj/占位码.csv', null, 2, placeholder(1, '界首市某某无照经营部')),
      4,
    ),
  );
  const byName = push(
    base(placeholder(2, e0.name), dropProvenance('scjgj/占位码.csv', null, 3, placeholder(2, e0.name)), 4),
  );
  Object.assign(byName, { uscc: e0.uscc, matchMethod: 'name', matchScore: 0.93, matchFlags: [] });
  const byRegNo = push(
    base(placeholder(3, e1.name), dropProvenance('scjgj/占位码.csv', null, 4, placeholder(3, e1.name)), 4),
  );
  Object.assign(byRegNo, { uscc: e1.uscc, matchMethod: 'reg_no', matchScore: 1 });

  // a natural person: no credit code at all
  const person = penaltyObject('界市监罚〔2025〕99号', {
    CF_XDR_LB: '自然人',
    CF_XDR_MC: '张三',
    CF_XDR_ZJLX: '身份证',
    CF_XDR_ZJHM: makeIdCard('34128219800101123'),
  });
  push(base(person, dropProvenance('scjgj/占位码.csv', null, 5, person), 4));

  // a code unknown to the register, filed by a clerk's review under another enterprise
  const unknown = out.find((r) => r.record.resource === 'xzcf' && r.matchMethod === null && r.uscc !== null);
  if (!unknown) throw new Error('the fixture has no penalty of an unknown enterprise');
  Object.assign(unknown, {
    uscc: e1.uscc,
    matchMethod: 'manual',
    matchScore: 1,
    matchFlags: ['out_of_region'],
  });

  // a penalty delivered in the 2016 field set
  const as2016 = validator(catalog, [
    'CF_WSH',
    'CF_CFMC',
    'CF_CFLB1',
    'CF_CFLB2',
    'CF_SY',
    'CF_YJ',
    'CF_XDR_MC',
    'CF_XDR_SHXYM',
    'CF_FR',
    'CF_JG',
    'CF_JDRQ',
    'CF_XZJG',
    'CF_ZT',
    'SJC',
  ]);
  const oldRow = [
    '界工商罚字〔2017〕12号',
    '销售不合格产品',
    '罚款',
    '警告',
    '抽检不合格',
    '《产品质量法》第四十九条',
    e0.name,
    e0.uscc,
    e0.legalRep,
    '罚款人民币5000元',
    '2017-03-01',
    '界首市工商行政管理局',
    '0',
    '2017-03-02 10:00:00',
  ];
  const old = as2016(oldRow);
  if (old.upgradedFrom !== '2016') throw new Error('the 2016 row was not upgraded');
  push(base(old, dropProvenance('历史/2017 处罚.xls', 'Sheet1', 7, old), 2));

  // platform penalties (credit platform): record id and update time, no file, sheet or row
  for (let i = 0; i < 6; i++) {
    const e = enterprises[2 + i] as DemoEnterprise;
    const record = penaltyObject(
      `界税罚〔2025〕${300 + i}号`,
      { CF_XDR_MC: e.name, CF_XDR_SHXYM: e.uscc, CF_FRDB: e.legalRep },
      { CF_JDRQ: `2025-05-0${1 + i}` },
    );
    push(
      base(
        record,
        platformProvenance('credit-platform', 'xzcf', `CF${900000 + i}`, `2025-05-0${2 + i} 0${i}:30:00`),
        5,
      ),
    );
  }

  // licences: drops, and a few from the sharing platform
  const asLicence = validator(catalog, LICENCE_HEADER);
  generateLicences(random, enterprises, options.licences ?? 40).forEach((row, i) => {
    const record = asLicence(row);
    const provenance =
      i % 5 === 0
        ? platformProvenance(
            'sharing-platform',
            'xzxk',
            `XK-${i}`,
            `2025-06-${String(1 + (i % 27)).padStart(2, '0')} 23:59:59`,
          )
        : dropProvenance('spj/许可.xlsx', '许可', i + 3, record);
    push(base(record, provenance, 6));
  });

  // versions: a few records changed by later runs, their earlier versions in history
  const changed = (r: V1Record, versions: number, earlier?: (v: number) => ValidRecord) => {
    const resource = catalog.resources.get(r.record.resource) as Resource;
    const again = objectValidator(catalog, resource);
    const field =
      r.record.resource === 'enterprise' ? 'QY_ZS' : r.record.resource === 'xzcf' ? 'CF_SY' : 'XK_NR';
    const history: V1Record['history'] = [];
    for (let v = 1; v < versions; v++) {
      const record = earlier
        ? earlier(v)
        : again({ ...r.record.data, [field]: `${r.record.data[field] ?? ''}（第${v}版）` });
      if (record.naturalKey !== r.record.naturalKey) throw new Error('a changed field changed the key');
      history.push({
        record,
        provenance: { ...r.provenance, ...(typeof r.provenance.row === 'number' ? { row: v + 1 } : {}) },
        run: v === 1 ? r1 : r2,
        changedAt: `2025-0${v}-10 08:00:00+08`,
        supersededBy: v === 1 ? r2 : r3,
      });
    }
    Object.assign(r, {
      history,
      version: versions,
      firstRun: r1,
      run: versions === 2 ? r2 : r3,
      receivedAt: '2025-01-10 08:00:00+08',
      changedAt: `2025-0${versions}-10 08:00:00+08`,
    });
  };
  const of = (resource: string) => out.filter((r) => r.record.resource === resource);
  changed(of('xzcf')[0] as V1Record, 3);
  changed(of('xzcf')[5] as V1Record, 2);
  changed(of('xzcf').find((r) => r.provenance.source === 'credit-platform') as V1Record, 2);
  changed(of('xzxk')[1] as V1Record, 3);
  changed(of('enterprise')[2] as V1Record, 2);
  // the 2016 penalty's earlier version came in the 2016 field set too
  changed(of('xzcf').find((r) => r.provenance.upgradedFrom) as V1Record, 2, (v) =>
    as2016(oldRow.map((cell, i) => (i === 4 ? `${cell}（第${v}版）` : cell))),
  );

  // a resource the catalog has dropped since: penalties filed under an old name, with history
  for (const r of of('xzcf').slice(0, 3))
    out.push({
      ...r,
      record: { ...r.record, resource: RETIRED_RESOURCE },
      history: r.history.map((h) => ({ ...h, record: { ...h.record, resource: RETIRED_RESOURCE } })),
    });
  return out;
}

function copyLine(r: V1Record): string {
  const { record } = r;
  return [
    record.resource,
    copyValue(record.naturalKey),
    record.schemaVersion,
    record.contentHash,
    copyJson(record.json),
    copyValue(r.uscc),
    copyValue(record.subjectName),
    copyValue(record.department),
    copyValue(record.producedDate),
    'public',
    copyValue(r.provenance.source as string),
    copyJson(JSON.stringify(r.provenance)),
    copyValue(r.rawDigest),
    copyValue(r.matchMethod),
    copyValue(r.matchScore),
    `{${r.matchFlags.join(',')}}`,
    String(r.firstRun),
    String(r.run),
    String(r.version),
    r.receivedAt,
    r.changedAt,
  ].join('\t');
}

async function copyRecords(tx: SqlTx, records: readonly V1Record[]): Promise<void> {
  const CHUNK = 5000;
  for (let i = 0; i < records.length; i += CHUNK) {
    const text = `${records
      .slice(i, i + CHUNK)
      .map(copyLine)
      .join('\n')}\n`;
    await tx.copyText('records', V1_COLUMNS, [Buffer.from(text)]);
  }
}

async function insertHistory(tx: SqlTx, records: readonly V1Record[]): Promise<void> {
  const rows = records.flatMap((r) =>
    r.history.map((h, i) => ({
      resource: h.record.resource,
      natural_key: h.record.naturalKey,
      version: i + 1,
      schema_version: h.record.schemaVersion,
      content_hash: h.record.contentHash,
      data: h.record.data,
      provenance: h.provenance,
      run_id: h.run,
      changed_at: h.changedAt,
      superseded_by_run: h.supersededBy,
    })),
  );
  if (rows.length === 0) return;
  // as the old merge wrote them (pipelines/load/loader.ts mergeStaged)
  await tx.query(
    `INSERT INTO record_history (resource, natural_key, version, schema_version, content_hash, data, provenance,
                                 run_id, changed_at, superseded_by_run)
     SELECT x.resource, x.natural_key, x.version, x.schema_version, x.content_hash, x.data, x.provenance,
            x.run_id, x.changed_at, x.superseded_by_run
     FROM jsonb_to_recordset($1::jsonb) AS x(resource text, natural_key text, version integer,
       schema_version text, content_hash text, data jsonb, provenance jsonb, run_id bigint,
       changed_at timestamptz, superseded_by_run bigint)`,
    [JSON.stringify(rows)],
  );
}

/**
 * Builds the fixture in a warehouse that has no migrations yet: migrations up to 008, records and history
 * written as the old loader wrote them, then migration 009 and the typed tables. Returns what records_v1 and
 * record_history hold per resource.
 */
export async function buildV1Warehouse(
  db: Warehouse,
  catalog: Catalog,
  options: V1Options = {},
): Promise<V1Fixture> {
  await migrate(db.knex, db.schema, { to: LAST_V1_MIGRATION });
  await db.transaction(async (tx) => {
    await tx.query(`SET LOCAL search_path TO "${db.schema}"`);
    const runs = (
      await tx.query<{ id: string }>(
        `INSERT INTO runs (status, started_at, finished_at)
         SELECT 'succeeded', t, t + interval '1 minute'
         FROM unnest(ARRAY['2025-01-10 08:00+08', '2025-02-10 08:00+08', '2025-03-10 08:00+08']::timestamptz[]) t
         RETURNING id`,
      )
    ).rows.map((r) => Number(r.id));
    const records = fixtureRecords(catalog, options, runs);
    await copyRecords(tx, records);
    await insertHistory(tx, records);
  });
  // migration 009 (records renamed records_v1, origins, record_history.record_id…) and the typed tables: the
  // state the upgrade starts from
  await migrate(db.knex, db.schema);
  await syncTypedTables(db, catalog);
  const count = async (table: string) =>
    new Map(
      (
        await db.query<{ resource: string; n: string }>(
          `SELECT resource, count(*) AS n FROM ${table} GROUP BY resource`,
        )
      ).map((r) => [r.resource, Number(r.n)]),
    );
  return { records: await count('records_v1'), history: await count('record_history') };
}
