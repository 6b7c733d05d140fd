import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FieldDef, Resource, ResourceVersion } from '../catalog/load.js';
import type { Warehouse } from '../lib/db.js';
import { GuijiError } from '../lib/errors.js';
import {
  createRandom,
  generateEnterprises,
  generatePenalties,
  PENALTY_HEADER,
} from '../pipelines/demo/generate.js';
import { buildHeaderIndex, matchHeader } from '../pipelines/normalize/headers.js';
import { compileRowValidator, type ValidRecord } from '../pipelines/validate/row-validator.js';
import {
  fromJsonSql,
  planTypedTables,
  recordJsonSql,
  syncTypedTables,
  typedTable,
} from '../pipelines/warehouse/typed-schema.js';
import { createAjv } from '../schemas/ajv.js';
import { EXTRA_FIELD, withFields, withNewVersion } from './helpers/catalog-copy.js';
import { makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

describe(`typed tables in the warehouse (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;

  const columns = (table: string) =>
    db.query<{ column_name: string; data_type: string; is_nullable: string; collation_name: string | null }>(
      `SELECT column_name, data_type, is_nullable, collation_name FROM information_schema.columns
       WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
      [db.schema, table],
    );

  /** A penalty as the loader will write it (the record columns it must fill, a few fields). */
  const insertPenalty = (uscc: string, key: string, wsh: string) =>
    db.query<{ record_id: string }>(
      `INSERT INTO r_xzcf (first_run_id, run_id, uscc, natural_key, disclosure, content_hash, source,
                           schema_version, catalog_version, cf_wsh, cf_jdrq, cf_nr_fk, cf_xdr_mc)
       VALUES (1, 1, $1, $2, 'public', 'hash', 'drops', '2019', 'test', $3, '2024-03-05', 1.5, '某某有限公司')
       RETURNING record_id`,
      [uscc, key, wsh],
    );

  beforeAll(async () => {
    env = await makeEnv('typed');
    // the migrations only: the tests create the typed tables themselves
    db = await env.open({ prepare: false });
  });

  afterAll(async () => {
    await db?.close();
    await env?.cleanup();
  });

  it('creates every resource table in the warehouse schema, with its key and indexes; once', async () => {
    const result = await syncTypedTables(db, env.catalog);
    expect(result.created.sort()).toEqual([...env.catalog.resources.keys()].map((id) => `r_${id}`).sort());
    expect(result.added).toEqual([]);

    const tables = await db.query<{ table_name: string }>(
      `SELECT table_name::text FROM information_schema.tables
       WHERE table_schema = $1 AND table_name LIKE 'r\\_%' AND table_type = 'BASE TABLE' ORDER BY 1`,
      [db.schema],
    );
    expect(tables.map((t) => t.table_name)).toEqual(result.created.sort());

    const xzcf = await columns('r_xzcf');
    const byName = new Map(xzcf.map((c) => [c.column_name, c]));
    expect(byName.get('cf_jdrq')?.data_type).toBe('date');
    expect(byName.get('cf_nr_fk')?.data_type).toBe('numeric');
    expect(byName.get('cf_wsh')?.data_type).toBe('text');
    expect(byName.get('uscc')).toMatchObject({ data_type: 'text', is_nullable: 'NO', collation_name: 'C' });
    expect(byName.get('natural_key')).toMatchObject({ is_nullable: 'NO', collation_name: 'C' });
    for (const f of env.catalog.resources.get('xzcf')!.current.fields)
      expect(byName.has(f.code.toLowerCase()), f.code).toBe(true);

    const key = await db.query<{ column: string }>(
      `SELECT a.attname::text AS column
       FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
       JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position) ON true
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
       WHERE n.nspname = $1 AND t.relname = 'r_xzcf' AND i.indisprimary ORDER BY k.position`,
      [db.schema],
    );
    expect(key.map((k) => k.column)).toEqual(['uscc', 'natural_key']);
    const indexes = await db.query<{ indexname: string }>(
      `SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 AND tablename = 'r_xzcf' ORDER BY 1`,
      [db.schema],
    );
    expect(indexes.map((i) => i.indexname)).toEqual([
      'r_xzcf_matched',
      'r_xzcf_pkey',
      'r_xzcf_record_id',
      'r_xzcf_run_id',
      'r_xzcf_warned',
    ]);
    const [comment] = await db.query<{ comment: string }>(
      `SELECT col_description(to_regclass($1)::oid, attnum) AS comment FROM pg_attribute
       WHERE attrelid = to_regclass($1) AND attname = 'cf_wsh'`,
      [`"${db.schema}".r_xzcf`],
    );
    expect(comment?.comment).toBe('行政处罚决定书文号');

    // a second sync, and the plan against what information_schema says, find nothing to do
    expect(await syncTypedTables(db, env.catalog)).toEqual({ created: [], added: [] });
    const existing = await db.query<{ table_name: string; column_name: string; data_type: string }>(
      `SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
       WHERE table_schema = $1 AND table_name LIKE 'r\\_%'`,
      [db.schema],
    );
    expect(planTypedTables(env.catalog, existing).statements).toEqual([]);
  });

  it('gives record ids from one sequence across tables, and refuses a NULL credit code', async () => {
    const [a] = await insertPenalty(
      '91341200MA2N0000XA',
      '91341200MA2N0000XA|皖罚〔2024〕1号',
      '皖罚〔2024〕1号',
    );
    const [b] = await insertPenalty('', '某某|皖罚〔2024〕2号', '皖罚〔2024〕2号');
    const [c] = await db.query<{ record_id: string }>(
      `INSERT INTO r_xzxk (first_run_id, run_id, uscc, natural_key, disclosure, content_hash, source,
                           schema_version, catalog_version)
       VALUES (1, 1, '', 'k', 'public', 'h', 'drops', '2019', 'test') RETURNING record_id`,
    );
    const ids = [a, b, c].map((r) => BigInt(r!.record_id));
    expect(new Set(ids).size).toBe(3);
    await expect(insertPenalty(null as unknown as string, 'k2', 'w')).rejects.toMatchObject({
      code: '23502',
    });
    // the key is (uscc, natural_key): the same key again is refused
    await expect(
      insertPenalty('91341200MA2N0000XA', '91341200MA2N0000XA|皖罚〔2024〕1号', 'x'),
    ).rejects.toMatchObject({ code: '23505' });
  });

  it('serves "everything of one enterprise" from the key and the partial index of records filed elsewhere', async () => {
    const plan = await db.transaction(async (tx) => {
      // the tables are tiny: ask which indexes the query can use, not which the planner prefers here
      await tx.query('SET LOCAL enable_seqscan = off');
      const { rows } = await tx.query<Record<string, string>>(
        `EXPLAIN (COSTS OFF) SELECT record_id FROM r_xzcf
         WHERE uscc = '91341200MA2N0000XA' OR (matched_uscc = '91341200MA2N0000XA' AND matched_uscc <> uscc)`,
      );
      return rows.map((r) => Object.values(r)[0]).join('\n');
    });
    expect(plan).toMatch(/Index Scan on r_xzcf_pkey/);
    expect(plan).toMatch(/Index Scan on r_xzcf_matched/);
    expect(plan).not.toMatch(/Seq Scan/);
  });

  it('adds the column of a new field; the rows already there keep their data', async () => {
    const before = await db.query(
      `SELECT record_id, uscc, natural_key, cf_wsh, cf_jdrq::text, cf_nr_fk::text FROM r_xzcf ORDER BY record_id`,
    );
    expect(before).toHaveLength(2);
    const evolved = withNewVersion(env.catalog, 'xzcf', '2027', (fields) => [...fields, EXTRA_FIELD]);

    expect(await syncTypedTables(db, evolved)).toEqual({ created: [], added: ['r_xzcf.cf_zxje'] });

    const added = (await columns('r_xzcf')).find((c) => c.column_name === 'cf_zxje');
    expect(added).toMatchObject({ data_type: 'numeric', is_nullable: 'YES' });
    expect(
      await db.query(
        `SELECT record_id, uscc, natural_key, cf_wsh, cf_jdrq::text, cf_nr_fk::text FROM r_xzcf ORDER BY record_id`,
      ),
    ).toEqual(before);
    expect(await db.query(`SELECT count(*)::int AS n FROM r_xzcf WHERE cf_zxje IS NULL`)).toEqual([{ n: 2 }]);
    await db.query(`UPDATE r_xzcf SET cf_zxje = 0.5 WHERE uscc = ''`);
    expect(await syncTypedTables(db, evolved)).toEqual({ created: [], added: [] });
  });

  it('keeps the column and data of a field that left the catalog', async () => {
    const shrunk = withNewVersion(env.catalog, 'xzcf', '2028', (fields) =>
      fields.filter((f) => f.code !== 'CF_WSH'),
    );
    expect(await syncTypedTables(db, shrunk)).toEqual({ created: [], added: [] });
    expect(await db.query(`SELECT cf_wsh FROM r_xzcf ORDER BY record_id`)).toEqual([
      { cf_wsh: '皖罚〔2024〕1号' },
      { cf_wsh: '皖罚〔2024〕2号' },
    ]);
  });

  it('refuses a type change, naming resource and field, and applies nothing of that catalog', async () => {
    // sg's SG_FSRQ turned text in its only version (no older version says otherwise: only the warehouse
    // knows), while xzxk gains a field: the refusal must leave xzxk untouched too
    const changed = withNewVersion(
      withFields(env.catalog, 'sg', (fields) =>
        fields.map((f) => (f.code === 'SG_FSRQ' ? { ...f, kind: 'text' } : f)),
      ),
      'xzxk',
      '2027',
      (fields) => [...fields, { ...EXTRA_FIELD, code: 'XK_NEW', title: '新字段' }],
    );
    const refused = await syncTypedTables(db, changed).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(GuijiError);
    expect((refused as GuijiError).code).toBe('GUIJI_ERR_CATALOG');
    expect((refused as GuijiError).message).toMatch(
      /sg: field SG_FSRQ is text \(text\) in version 1 of the catalog, but the warehouse column r_sg\.sg_fsrq is date/,
    );
    expect((await columns('r_sg')).find((c) => c.column_name === 'sg_fsrq')?.data_type).toBe('date');
    expect((await columns('r_xzxk')).some((c) => c.column_name === 'xk_new')).toBe(false);
  });

  /** Stores records the way the upgrade of an existing warehouse will: typed columns selected from JSONB. */
  const storeFromJson = async (
    resource: Resource,
    records: { key: string; data: Record<string, string> }[],
  ) => {
    const def = typedTable(resource);
    const fields = def.columns.filter((c) => c.field);
    await db.query(
      `INSERT INTO ${def.name} (first_run_id, run_id, uscc, natural_key, disclosure, content_hash, source,
                                schema_version, catalog_version, ${fields.map((c) => c.name).join(', ')})
       SELECT 1, 1, '', x.r->>'key', 'public', '-', 'migrated', '1', 'test',
              ${fields.map((c) => fromJsonSql(c.field as FieldDef, "(x.r->'data')")).join(', ')}
       FROM jsonb_array_elements($1::jsonb) AS x(r)`,
      [JSON.stringify(records)],
    );
    return def;
  };

  /** The JSON text the validator hashes: fields in code order. */
  const asValidatorJson = (data: Record<string, string>) =>
    JSON.stringify(Object.fromEntries(Object.entries(data).sort(([a], [b]) => (a < b ? -1 : 1))));

  it('keeps every validated penalty exactly: JSONB → typed columns → the same JSON and content hash', async () => {
    const catalog = env.catalog;
    const random = createRandom(7);
    const plan = generatePenalties(random, generateEnterprises(random, 40), 300, { faultShare: 0 });
    const match = matchHeader(buildHeaderIndex(catalog), PENALTY_HEADER)!;
    const validate = compileRowValidator(createAjv(), catalog, match.resource, match.version, match.columns);
    const records = new Map<string, ValidRecord>();
    for (const row of plan.rows) {
      const result = validate(row);
      if (result.ok) records.set(result.value.naturalKey, result.value);
    }
    expect(records.size).toBeGreaterThan(250);
    // the sample has what must survive: amounts with decimals, dates, optional fields left empty
    const all = [...records.values()];
    expect(all.some((r) => r.data.CF_NR_FK?.includes('.'))).toBe(true);
    expect(all.some((r) => r.data.CF_NR_FK === undefined)).toBe(true);

    const def = await storeFromJson(
      catalog.resources.get('xzcf')!,
      all.map((r) => ({ key: r.naturalKey, data: r.data })),
    );
    const rebuilt = await db.query<{ natural_key: string; data: Record<string, string> }>(
      `SELECT r.natural_key, ${recordJsonSql(def, 'r')} AS data FROM r_xzcf r WHERE r.source = 'migrated'`,
    );
    expect(rebuilt).toHaveLength(records.size);
    for (const row of rebuilt) {
      const record = records.get(row.natural_key)!;
      expect(row.data, row.natural_key).toEqual(record.data);
      expect(asValidatorJson(row.data)).toBe(record.json);
    }
  });

  it('round-trips every kind whatever the session time zone and DateStyle', async () => {
    const kinds: [string, FieldDef['kind']][] = [
      ['T_TEXT', 'text'],
      ['T_CODE', 'code'],
      ['T_DATE', 'date'],
      ['T_AMOUNT', 'amount'],
      ['T_TIME', 'datetime'],
    ];
    const fields: FieldDef[] = kinds.map(([code, kind]) => ({
      code,
      title: code,
      kind,
      required: false,
      aliases: [],
      sensitive: false,
      multi: false,
      severity: 'warn' as const,
    }));
    const base = env.catalog.resources.get('xzcf')!;
    const version: ResourceVersion = { ...base.current, version: '1', fields };
    const resource: Resource = { ...base, id: 'kinds', name: '类型', versions: [version], current: version };
    const catalog = { ...env.catalog, resources: new Map([['kinds', resource]]) };
    expect(await syncTypedTables(db, catalog)).toEqual({ created: ['r_kinds'], added: [] });
    const samples = [
      { T_TEXT: '含\t制表符、"引号"、\\反斜杠\n和换行', T_CODE: '91341200MA2N0000XA', T_DATE: '2024-02-29' },
      { T_AMOUNT: '1234.5', T_TIME: '2016-05-01 10:00:00', T_DATE: '0999-01-01' },
      { T_AMOUNT: '0', T_TIME: '2019-12-31 23:59:59' },
      { T_AMOUNT: '0.05', T_TIME: '2014-10-01 00:00:00' },
      {},
    ].map((data, i) => ({ key: `k${i}`, data: data as Record<string, string> }));
    const def = await storeFromJson(resource, samples);
    const rows = await db.transaction(async (tx) => {
      await tx.query(`SET LOCAL TimeZone = 'America/New_York'`);
      await tx.query(`SET LOCAL DateStyle = 'SQL, DMY'`);
      return (
        await tx.query<{ natural_key: string; data: Record<string, string>; instant: string | null }>(
          `SELECT r.natural_key, ${recordJsonSql(def, 'r')} AS data,
                  to_char(r.t_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS instant
           FROM r_kinds r ORDER BY r.natural_key`,
        )
      ).rows;
    });
    expect(rows.map((r) => r.data)).toEqual(samples.map((s) => s.data));
    // a China time is stored as the instant it names: 10:00 in Shanghai is 02:00 UTC
    expect(rows[1]?.instant).toBe('2016-05-01 02:00');
  });
});

describe(`typed tables created by two processes starting together (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let dbs: Warehouse[] = [];

  beforeAll(async () => {
    env = await makeEnv('typed_race');
    // PGlite has one writer: there the two syncs share one handle and still both plan on an empty warehouse
    const first = await env.open({ prepare: false });
    dbs = WAREHOUSE_KIND === 'postgres' ? [first, await env.open({ prepare: false })] : [first, first];
  });

  afterAll(async () => {
    for (const db of new Set(dbs)) await db.close();
    await env?.cleanup();
  });

  it('creates each table once: the second waits for the first and finds nothing left to do', async () => {
    const results = await Promise.all(dbs.map((db) => syncTypedTables(db, env.catalog)));
    const created = results.flatMap((r) => r.created).sort();
    expect(created).toEqual([...env.catalog.resources.keys()].map((id) => `r_${id}`).sort());
    expect(results.some((r) => r.created.length === 0)).toBe(true);
  });
});
