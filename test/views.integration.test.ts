import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog, FieldDef, Resource } from '../catalog/load.js';
import type { Warehouse } from '../lib/db.js';
import {
  createRandom,
  ENTERPRISE_HEADER,
  enterpriseRow,
  generateEnterprises,
  generatePenalties,
  PENALTY_HEADER,
  writeDelimited,
} from '../pipelines/demo/generate.js';
import { syncTypedTables } from '../pipelines/warehouse/typed-schema.js';
import { syncViews, viewSql } from '../pipelines/warehouse/views.js';
import { makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

/** A copy of the catalog with one resource's current field set changed (nothing on disk is touched). */
function withFields(catalog: Catalog, id: string, change: (fields: FieldDef[]) => FieldDef[]): Catalog {
  const resource = catalog.resources.get(id)!;
  const current = { ...resource.current, fields: change([...resource.current.fields]) };
  const changed: Resource = { ...resource, current, versions: [...resource.versions.slice(0, -1), current] };
  return { ...catalog, resources: new Map([...catalog.resources, [id, changed]]) };
}

const EXTRA_FIELD: FieldDef = {
  code: 'CF_ZXJE',
  title: '已执行罚款金额（万元）',
  kind: 'amount',
  required: false,
  aliases: [],
  sensitive: false,
  multi: false,
  severity: 'warn',
};

function maskId(id: string): string {
  return id.slice(0, 6) + '*'.repeat(id.length - 10) + id.slice(-4);
}

describe(`analyst views generated from the catalog (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  let first: { created: string[]; dropped: string[] };

  const columns = (view: string) =>
    db.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns
       WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
      [db.schema, view],
    );

  beforeAll(async () => {
    // the demo's penalties are decided 2023–2025 and published 3 years: all public on this day
    env = await makeEnv('views', { GUIJI_TODAY: '2025-12-31' });
    db = await env.open();
    // the first sync, on a warehouse without views (opening it prepared them, as every run does: they are
    // dropped here so that the first sync has them all to create)
    for (const { name } of await db.query<{ name: string }>('SELECT name FROM catalog_views'))
      await db.query(`DROP VIEW IF EXISTS "${name}" CASCADE`);
    await db.query('DELETE FROM catalog_views');
    first = await syncViews(db, env.catalog);
    const random = createRandom(11);
    const enterprises = generateEnterprises(random, 12);
    const plan = generatePenalties(random, enterprises, 30, { faultShare: 0, unknownShare: 0 });
    const incoming = join(env.config.dropDir, 'incoming');
    mkdirSync(incoming, { recursive: true });
    await writeDelimited(
      join(incoming, '企业登记.csv'),
      ENTERPRISE_HEADER,
      enterprises.map((e) => enterpriseRow(random, e)),
    );
    // the demo's penalties plus the legal representative's ID, a sensitive field
    await writeDelimited(
      join(incoming, '行政处罚.csv'),
      [...PENALTY_HEADER, '法定代表人证件类型', '法定代表人证件号码'],
      plan.rows.map((row, i) => [...row, '身份证', `34010419${80 + (i % 20)}0101${String(1231 + i)}`]),
    );
    const { summary } = await env.run(db);
    expect(summary.status).toBe('succeeded');
    expect(summary.sources[0]!.quarantined).toBe(0);
  });

  afterAll(async () => {
    await db?.close();
    await env?.cleanup();
  });

  it('creates an analyst view per resource and a public view only for public resources', async () => {
    // the run found the views in step with the catalog: nothing to create again
    expect(await syncViews(db, env.catalog)).toEqual({ created: [], dropped: [] });
    const resources = [...env.catalog.resources.values()];
    expect(first.dropped).toEqual([]);
    expect(first.created).toContain('v_xzcf');
    expect(first.created).toContain('v_xzcf_public');
    const shared = resources.filter((r) => r.disclosure === 'shared');
    expect(shared.length).toBeGreaterThan(0);
    for (const r of shared) {
      expect(first.created).toContain(`v_${r.id}`);
      expect(first.created).not.toContain(`v_${r.id}_public`);
    }
    const publicCount = resources.length - shared.length;
    expect(first.created.filter((v) => v.startsWith('v_'))).toHaveLength(resources.length + publicCount);
    // and the views over every resource
    expect(first.created.filter((v) => !v.startsWith('v_'))).toEqual([
      'common_records',
      'records',
      'quality_timeliness',
      'quality_overdue_all',
    ]);
    const views = await db.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.views WHERE table_schema = $1 ORDER BY table_name`,
      [db.schema],
    );
    // the catalog's views, beside the quality views of migration 005
    expect(views.map((v) => v.table_name).filter((v) => v.startsWith('v_'))).toEqual(
      first.created.filter((v) => v.startsWith('v_')).sort(),
    );
  });

  it('types the columns by the field kind and names them as the catalog does', async () => {
    const cols = await columns('v_xzcf');
    const type = Object.fromEntries(cols.map((c) => [c.column_name, c.data_type]));
    expect(cols.slice(0, 13).map((c) => c.column_name)).toEqual([
      'natural_key',
      'uscc',
      'subject_name',
      'department',
      'produced_date',
      'received_at',
      'changed_at',
      'version',
      'match_method',
      'disclosure',
      'run_id',
      'record_id',
      'warnings',
    ]);
    expect(cols.slice(13).map((c) => c.column_name)).toEqual(
      env.catalog.resources.get('xzcf')!.current.fields.map((f) => f.code.toLowerCase()),
    );
    expect(type.cf_jdrq).toBe('date');
    expect(type.cf_yxq).toBe('date');
    expect(type.cf_nr_fk).toBe('numeric');
    expect(type.cf_wsh).toBe('text');
    expect(type.cf_frdb).toBe('text');
    expect(type.produced_date).toBe('date');
    expect(type.received_at).toBe('timestamp with time zone');
    expect(type.version).toBe('integer');
    expect(type.warnings).toBe('jsonb');
    // the public view has the same columns and types, then the period the record is public for
    expect(await columns('v_xzcf_public')).toEqual([
      ...cols,
      { column_name: 'public_from', data_type: 'date' },
      { column_name: 'public_until', data_type: 'date' },
    ]);
  });

  it('shows the values of the records, typed', async () => {
    const rows = await db.query<{
      data: Record<string, string>;
      uscc: string;
      wsh: string | null;
      jdrq: string | null;
      fk: string | null;
      frdb: string | null;
      zjhm: string | null;
      v_uscc: string;
    }>(
      `SELECT r.data, r.uscc, v.uscc AS v_uscc, v.cf_wsh AS wsh, v.cf_jdrq::text AS jdrq, v.cf_nr_fk::text AS fk,
              v.cf_frdb AS frdb, v.cf_fr_zjhm AS zjhm
       FROM records r JOIN v_xzcf v ON v.natural_key = r.natural_key
       WHERE r.resource = 'xzcf' ORDER BY r.natural_key`,
    );
    const [count] = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM records WHERE resource = 'xzcf'`,
    );
    expect(rows).toHaveLength(30);
    expect(Number(count!.n)).toBe(30);
    const [other] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM v_enterprise`);
    expect(Number(other!.n)).toBe(12);
    let fines = 0;
    for (const row of rows) {
      expect(row.v_uscc).toBe(row.uscc);
      expect(row.wsh).toBe(row.data.CF_WSH);
      expect(row.jdrq).toBe(row.data.CF_JDRQ);
      expect(row.frdb).toBe(row.data.CF_FRDB);
      expect(row.zjhm).toBe(row.data.CF_FR_ZJHM);
      expect(row.zjhm).toMatch(/^\d{18}$/);
      if (row.data.CF_NR_FK) {
        fines++;
        expect(Number(row.fk)).toBe(Number(row.data.CF_NR_FK));
      } else expect(row.fk).toBeNull();
    }
    expect(fines).toBeGreaterThan(0);
    // arithmetic works on the typed columns
    const [sum] = await db.query<{ total: string }>(`SELECT sum(cf_nr_fk)::text AS total FROM v_xzcf`);
    const expected = rows.reduce((s, r) => s + Number(r.data.CF_NR_FK ?? 0), 0);
    expect(Number(sum!.total)).toBeCloseTo(expected, 6);
  });

  it('masks the sensitive fields in the public view; shows the legal representative of a legal person', async () => {
    const rows = await db.query<{ data: Record<string, string>; frdb: string; zjhm: string; wsh: string }>(
      `SELECT r.data, p.cf_frdb AS frdb, p.cf_fr_zjhm AS zjhm, p.cf_wsh AS wsh
       FROM records r JOIN v_xzcf_public p ON p.natural_key = r.natural_key WHERE r.resource = 'xzcf'`,
    );
    expect(rows).toHaveLength(30);
    for (const row of rows) {
      expect(row.zjhm).toBe(maskId(row.data.CF_FR_ZJHM!));
      expect(row.zjhm).toMatch(/^340104\*{8}\d{4}$/);
      // the demo's penalties are legal persons': their legal representative is public (issue 14)
      expect(row.frdb).toBe(row.data.CF_FRDB);
      // not sensitive: as loaded
      expect(row.wsh).toBe(row.data.CF_WSH);
    }
  });

  it('masks the sensitive fields of shared resources in their analyst view; identifiers checked, titles quoted', () => {
    const nsxx = viewSql(env.catalog.resources.get('nsxx')!, env.catalog);
    expect(nsxx.map((v) => v.name)).toEqual(['v_nsxx']);
    expect(nsxx[0]!.sql).toContain(`NULL::numeric AS "ns_yjje"`);
    const xzcf = viewSql(env.catalog.resources.get('xzcf')!, env.catalog);
    expect(xzcf[0]!.sql).toContain(`r."cf_fr_zjhm" AS "cf_fr_zjhm"`);
    expect(xzcf[1]!.sql).not.toContain(`r."cf_fr_zjhm" AS "cf_fr_zjhm"`);
    // identifiers come only from the catalog and are checked
    const bad = withFields(env.catalog, 'xzcf', (fields) => [
      ...fields,
      { ...EXTRA_FIELD, code: 'x"; DROP TABLE records; --' },
    ]);
    expect(() => viewSql(bad.resources.get('xzcf')!, bad)).toThrow(/not a safe SQL identifier/);
    const clash = withFields(env.catalog, 'xzcf', (fields) => [...fields, { ...EXTRA_FIELD, code: 'UsCC' }]);
    expect(() => viewSql(clash.resources.get('xzcf')!, clash)).toThrow(/twice/);
    // titles are literals with quotes doubled
    const quoted = withFields(env.catalog, 'xzcf', (fields) => [
      ...fields,
      { ...EXTRA_FIELD, title: "it's" },
    ]);
    expect(viewSql(quoted.resources.get('xzcf')!, quoted)[0]!.comments.join('\n')).toContain(`IS 'it''s'`);
  });

  it('comments every column with its Chinese title', async () => {
    const comments = await db.query<{ attname: string; comment: string | null }>(
      `SELECT a.attname, col_description(a.attrelid, a.attnum) AS comment FROM pg_attribute a
       WHERE a.attrelid = 'v_xzcf_public'::regclass AND a.attnum > 0 ORDER BY a.attnum`,
    );
    const byName = Object.fromEntries(comments.map((c) => [c.attname, c.comment]));
    expect(byName.cf_wsh).toBe('行政处罚决定书文号');
    expect(byName.cf_jdrq).toBe('处罚决定日期');
    expect(byName.cf_nr_fk).toBe('罚款金额（万元）');
    expect(byName.cf_fr_zjhm).toBe('法定代表人证件号码（已脱敏）');
    expect(byName.uscc).toMatch(/统一社会信用代码/);
    expect(comments.every((c) => c.comment)).toBe(true);
    const [analyst] = await db.query<{ comment: string }>(
      `SELECT col_description('v_xzcf'::regclass, a.attnum) AS comment FROM pg_attribute a
       WHERE a.attrelid = 'v_xzcf'::regclass AND a.attname = 'cf_fr_zjhm'`,
    );
    expect(analyst!.comment).toBe('法定代表人证件号码');
    const [view] = await db.query<{ comment: string }>(
      `SELECT obj_description('v_xzcf'::regclass, 'pg_class') AS comment`,
    );
    expect(view!.comment).toMatch(/^行政处罚信息/);
  });

  it('does nothing when the catalog has not changed', async () => {
    expect(await syncViews(db, env.catalog)).toEqual({ created: [], dropped: [] });
  });

  it('recreates a view whose resource changed, keeping the views built on it when it can', async () => {
    await db.query(`CREATE VIEW analyst_fines AS SELECT natural_key, cf_nr_fk FROM v_xzcf`);

    // a field added at the end: replaced in place, the analyst's view survives
    const added = withFields(env.catalog, 'xzcf', (fields) => [...fields, EXTRA_FIELD]);
    // the typed table gains the field's column first (as `guiji migrate` and every run do)
    expect(await syncTypedTables(db, added)).toEqual({ created: [], added: ['r_xzcf.cf_zxje'] });
    expect(await syncViews(db, added)).toEqual({
      created: ['v_xzcf', 'v_xzcf_public', 'records'],
      dropped: [],
    });
    const cols = await columns('v_xzcf');
    expect(cols.at(-1)).toEqual({ column_name: 'cf_zxje', data_type: 'numeric' });
    const [row] = await db.query<{ n: string; filled: string }>(
      `SELECT count(*) AS n, count(cf_zxje) AS filled FROM v_xzcf_public`,
    );
    expect(Number(row!.n)).toBe(30);
    expect(Number(row!.filled)).toBe(0);
    expect(await db.query(`SELECT count(*) AS n FROM analyst_fines`)).toHaveLength(1);
    expect(await syncViews(db, added)).toEqual({ created: [], dropped: [] });

    // a field removed: the view must be dropped and created again, which a dependent view prevents
    const removed = withFields(env.catalog, 'xzcf', (fields) => fields.filter((f) => f.code !== 'BZ'));
    await expect(syncViews(db, removed)).rejects.toThrow(/cannot regenerate the view v_xzcf/);
    expect((await columns('v_xzcf')).at(-1)!.column_name).toBe('cf_zxje');
    await db.query(`DROP VIEW analyst_fines`);
    expect(await syncViews(db, removed)).toEqual({
      created: ['v_xzcf', 'v_xzcf_public', 'records'],
      dropped: [],
    });
    const names = (await columns('v_xzcf')).map((c) => c.column_name);
    expect(names).not.toContain('bz');
    expect(names).not.toContain('cf_zxje');
    expect(names).toContain('cf_wsh');

    // back to the catalog on disk (the column of the field that left stays in the table, unseen)
    expect(await syncViews(db, env.catalog)).toEqual({
      created: ['v_xzcf', 'v_xzcf_public', 'records'],
      dropped: [],
    });
    expect((await columns('v_xzcf')).at(-1)!.column_name).toBe('bz');
  });

  it('drops the views of a resource that left the catalog, and recreates a view dropped by hand', async () => {
    const resources = new Map(env.catalog.resources);
    resources.delete('ry');
    expect(await syncViews(db, { ...env.catalog, resources })).toEqual({
      created: ['common_records', 'records'],
      dropped: ['v_ry', 'v_ry_public'],
    });
    expect(await columns('v_ry')).toEqual([]);
    expect(await syncViews(db, env.catalog)).toEqual({
      created: ['v_ry', 'v_ry_public', 'common_records', 'records'],
      dropped: [],
    });

    await db.query(`DROP VIEW v_xzcf_public`);
    expect(await syncViews(db, env.catalog)).toEqual({ created: ['v_xzcf_public'], dropped: [] });
  });
});
