import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkColumns, RECORD_COLUMN_NAMES } from '../catalog/columns.js';
import { type Catalog, loadCatalog, type Resource } from '../catalog/load.js';
import { validateCatalog } from '../catalog/validate.js';
import { loadConfig } from '../lib/config.js';
import { GuijiError } from '../lib/errors.js';
import {
  createTableSql,
  type ExistingColumn,
  planTypedTables,
  type TableDef,
  typedTable,
} from '../pipelines/warehouse/typed-schema.js';
import { EXTRA_FIELD, withFields, withNewVersion } from './helpers/catalog-copy.js';

const config = loadConfig({ env: {} });
const catalog = loadCatalog(config.catalogDir, config.schemasDir);

/** information_schema.columns' spelling of the generator's types (what a warehouse would answer). */
const AS_INFORMATION_SCHEMA: Record<string, string> = {
  text: 'text',
  date: 'date',
  numeric: 'numeric',
  timestamptz: 'timestamp with time zone',
  bigint: 'bigint',
  integer: 'integer',
  real: 'real',
  jsonb: 'jsonb',
  'text[]': 'ARRAY',
};

/** The columns a warehouse whose typed tables were made from `from` has. */
function existingFrom(from: Catalog): ExistingColumn[] {
  return [...from.resources.values()].flatMap((r) => {
    const def = typedTable(r);
    return def.columns.map((c) => ({
      table_name: def.name,
      column_name: c.name,
      data_type: AS_INFORMATION_SCHEMA[c.type]!,
    }));
  });
}

const column = (def: TableDef, name: string) => def.columns.find((c) => c.name === name);

describe('typed tables generated from the catalog', () => {
  it('gives every resource its table r_<resource>, created by the plan of an empty warehouse', () => {
    const plan = planTypedTables(catalog, []);
    expect(plan.problems).toEqual([]);
    expect(plan.created.sort()).toEqual([...catalog.resources.keys()].map((id) => `r_${id}`).sort());
    expect(plan.created).toHaveLength(21);
    for (const name of plan.created)
      expect(plan.statements.filter((s) => s.startsWith(`CREATE TABLE "${name}" (`))).toHaveLength(1);
  });

  it("has xzcf's 2019 fields as columns of their kind's type, and no 2016-only field", () => {
    const def = typedTable(catalog.resources.get('xzcf')!);
    const fields = catalog.resources.get('xzcf')!.current.fields;
    expect(catalog.resources.get('xzcf')!.current.version).toBe('2019');
    expect(fields).toHaveLength(31);
    for (const f of fields) expect(column(def, f.code.toLowerCase())?.field?.code, f.code).toBe(f.code);
    expect(column(def, 'cf_jdrq')?.type).toBe('date');
    expect(column(def, 'cf_yxq')?.type).toBe('date');
    expect(column(def, 'cf_nr_fk')?.type).toBe('numeric');
    expect(column(def, 'cf_nr_wfff')?.type).toBe('numeric');
    expect(column(def, 'cf_wsh')?.type).toBe('text');
    expect(column(def, 'cf_cflb')?.type).toBe('text');
    expect(column(def, 'cf_xdr_shxym')?.type).toBe('text');
    expect(column(def, 'cf_wsh')?.comment).toBe('行政处罚决定书文号');
    // 2016's CF_CFLB1 reaches the table only through its upgrade into CF_CFLB
    expect(column(def, 'cf_cflb1')).toBeUndefined();
    // 当前状态 is no longer 2016-only: the 2019 set keeps it (1 有效, 2 无效) for the upgraded records
    expect(column(def, 'cf_zt')?.type).toBe('text');
    // field columns are nullable: a later version adds them to tables with rows
    expect(def.columns.filter((c) => c.field).every((c) => !c.notNull)).toBe(true);
    expect(def.columns.filter((c) => c.field)).toHaveLength(31);
  });

  it('names and types the field columns as the analyst views do (the same lower-case codes)', () => {
    for (const resource of catalog.resources.values()) {
      const def = typedTable(resource);
      expect(def.columns.filter((c) => c.field).map((c) => c.name)).toEqual(
        resource.current.fields.map((f) => f.code.toLowerCase()),
      );
    }
  });

  it('keys each table by (uscc, natural_key), credit code first, both COLLATE "C" NOT NULL', () => {
    for (const resource of catalog.resources.values()) {
      const def = typedTable(resource);
      expect(def.primaryKey).toEqual(['uscc', 'natural_key']);
      for (const name of ['uscc', 'natural_key', 'matched_uscc'])
        expect(column(def, name), `${resource.id}.${name}`).toMatchObject({ type: 'text', collate: 'C' });
      expect(column(def, 'uscc')?.notNull).toBe(true);
      const create = createTableSql(def)[0]!;
      expect(create).toContain(`CONSTRAINT "r_${resource.id}_pkey" PRIMARY KEY ("uscc", "natural_key")`);
      expect(create).toContain(`"uscc" text COLLATE "C" NOT NULL`);
    }
    const def = typedTable(catalog.resources.get('xzcf')!);
    expect(def.indexes.map((i) => i.name)).toEqual([
      'r_xzcf_record_id',
      'r_xzcf_run_id',
      'r_xzcf_matched',
      'r_xzcf_warned',
    ]);
    expect(column(def, 'record_id')).toMatchObject({ type: 'bigint', notNull: true });
    expect(column(def, 'record_id')?.default).toMatch(/^nextval\('guiji_record_id'::regclass\)$/);
  });

  it('has exactly the record columns catalog/columns.ts reserves, before the field columns', () => {
    const def = typedTable(catalog.resources.get('xzxk')!);
    expect(def.columns.filter((c) => !c.field).map((c) => c.name)).toEqual([...RECORD_COLUMN_NAMES]);
    expect(def.columns.findIndex((c) => c.field)).toBe(RECORD_COLUMN_NAMES.length);
  });

  it('plans nothing for a warehouse already made from the same catalog', () => {
    const plan = planTypedTables(catalog, existingFrom(catalog));
    expect(plan).toEqual({ statements: [], created: [], added: [], problems: [] });
  });
});

describe('additive evolution of the typed tables', () => {
  it('turns a version adding a field into exactly one nullable ADD COLUMN (and its comment)', () => {
    const evolved = withNewVersion(catalog, 'xzcf', '2027', (fields) => [...fields, EXTRA_FIELD]);
    const plan = planTypedTables(evolved, existingFrom(catalog));
    expect(plan.problems).toEqual([]);
    expect(plan.created).toEqual([]);
    expect(plan.added).toEqual(['r_xzcf.cf_zxje']);
    expect(plan.statements.filter((s) => /ADD COLUMN/.test(s))).toEqual([
      'ALTER TABLE "r_xzcf" ADD COLUMN "cf_zxje" numeric',
    ]);
    expect(plan.statements).toEqual([
      'ALTER TABLE "r_xzcf" ADD COLUMN "cf_zxje" numeric',
      `COMMENT ON COLUMN "r_xzcf"."cf_zxje" IS '已执行罚款金额（万元）'`,
    ]);
  });

  it('gives a table made before severities its warnings column and the index of its warned records', () => {
    const before = existingFrom(catalog).filter((c) => c.column_name !== 'warnings');
    const plan = planTypedTables(catalog, before);
    expect(plan.problems).toEqual([]);
    expect(plan.added).toContain('r_xzcf.warnings');
    const xzcf = plan.statements.filter((s) => s.includes('"r_xzcf"') && !s.startsWith('COMMENT'));
    expect(xzcf).toEqual([
      'ALTER TABLE "r_xzcf" ADD COLUMN "warnings" jsonb',
      'CREATE INDEX "r_xzcf_warned" ON "r_xzcf" ("run_id") WHERE "warnings" IS NOT NULL',
    ]);
  });

  it('keeps the column of a field that left the catalog: nothing to do', () => {
    const evolved = withNewVersion(catalog, 'xzcf', '2027', (fields) =>
      fields.filter((f) => f.code !== 'BZ' && f.code !== 'CF_GSJZQ'),
    );
    expect(planTypedTables(evolved, existingFrom(catalog))).toEqual({
      statements: [],
      created: [],
      added: [],
      problems: [],
    });
  });

  it('creates the table of a new resource and leaves the others alone', () => {
    const xzcf = catalog.resources.get('xzcf')!;
    const fresh: Resource = { ...xzcf, id: 'xzcf_new', name: '新资源' };
    const evolved = { ...catalog, resources: new Map([...catalog.resources, ['xzcf_new', fresh]]) };
    const plan = planTypedTables(evolved, existingFrom(catalog));
    expect(plan.created).toEqual(['r_xzcf_new']);
    expect(plan.added).toEqual([]);
    expect(plan.statements.every((s) => s.includes('"r_xzcf_new"'))).toBe(true);
  });

  it('refuses a type change between versions, naming the resource, the field and both versions', () => {
    const evolved = withNewVersion(catalog, 'xzcf', '2027', (fields) =>
      fields.map((f) => (f.code === 'CF_JDRQ' ? { ...f, kind: 'text' } : f)),
    );
    const plan = planTypedTables(evolved, existingFrom(catalog));
    expect(plan.statements).toEqual([]);
    expect(plan.problems).toHaveLength(1);
    expect(plan.problems[0]).toMatch(/^xzcf: field CF_JDRQ is text \(text\) in version 2027 but date/);
    expect(plan.problems[0]).toMatch(/in version 2016/);
    expect(() => typedTable(evolved.resources.get('xzcf')!)).toThrow(GuijiError);
  });

  it('refuses a type change against the warehouse when the older version left the catalog', () => {
    // the field set replaced in place: only the warehouse remembers that CF_NR_FK was numeric
    const evolved = withFields(catalog, 'xzcf', (fields) =>
      fields.map((f) => (f.code === 'CF_NR_FK' ? { ...f, kind: 'text' } : f)),
    );
    const plan = planTypedTables(evolved, existingFrom(catalog));
    expect(plan.statements).toEqual([]);
    expect(plan.problems).toEqual([
      expect.stringMatching(
        /^xzcf: field CF_NR_FK is text \(text\) in version 2019 of the catalog, but the warehouse column r_xzcf\.cf_nr_fk is numeric/,
      ),
    ]);
  });

  it('never puts a name the rules refuse into the DDL', () => {
    const evil = withNewVersion(catalog, 'xzcf', '2027', (fields) => [
      ...fields,
      { ...EXTRA_FIELD, code: 'X"; DROP TABLE runs; --' },
    ]);
    const plan = planTypedTables(evil, []);
    expect(plan.problems).toEqual([
      expect.stringMatching(/field code "X"; DROP TABLE runs; --" cannot name/),
    ]);
    expect(plan.statements.some((s) => s.includes('DROP'))).toBe(false);
    expect(plan.created).not.toContain('r_xzcf');
  });
});

describe('the column rules (catalog/columns.ts)', () => {
  const v = (version: string, fields: [string, string][]) => ({
    version,
    fields: fields.map(([code, kind]) => ({ code, kind })),
  });

  it('accepts every resource of the bundled catalog', () => {
    for (const r of catalog.resources.values()) expect(checkColumns(r.id, r.versions), r.id).toEqual([]);
  });

  it('finds two fields of one column, a field named like a record column, and illegal names', () => {
    const problems = checkColumns('xzcf', [
      v('1', [
        ['CF_WSH', 'docno'],
        ['cf_wsh', 'text'],
        ['USCC', 'code'],
        ['Record_Id', 'text'],
        ['SUBJECT_NAME', 'text'],
        ['1ABC', 'text'],
        ['字段', 'text'],
        [`A${'B'.repeat(63)}`, 'text'],
      ]),
    ]);
    expect(problems.map((p) => p.field)).toEqual([
      'cf_wsh',
      'USCC',
      'Record_Id',
      'SUBJECT_NAME',
      '1ABC',
      '字段',
      `A${'B'.repeat(63)}`,
    ]);
    expect(problems[0]!.message).toMatch(
      /CF_WSH and cf_wsh of xzcf version 1 both become the column "cf_wsh"/,
    );
    expect(problems[1]!.message).toMatch(/USCC would take the column "uscc" of r_xzcf/);
  });

  it('compares types, not kinds: code → docno keeps text; a date becoming a datetime is a change', () => {
    expect(checkColumns('xzcf', [v('1', [['A', 'code']]), v('2', [['A', 'docno']])])).toEqual([]);
    const [problem] = checkColumns('xzcf', [v('1', [['A', 'date']]), v('2', [['A', 'datetime']])]);
    expect(problem).toEqual({
      versionIndex: 1,
      field: 'A',
      message: expect.stringMatching(
        /^xzcf: field A is timestamptz \(datetime\) in version 2 but date \(date\) in version 1/,
      ),
    });
  });

  it('refuses a resource id that cannot name a table', () => {
    expect(checkColumns('Xzcf', [])).toHaveLength(1);
    expect(checkColumns('x'.repeat(52), [])).toHaveLength(1);
    expect(checkColumns('x'.repeat(51), [])).toEqual([]);
  });
});

describe('catalog validate checks the typed tables the schemas make', () => {
  const temps: string[] = [];
  afterAll(() => {
    for (const dir of temps) rmSync(dir, { recursive: true, force: true });
  });

  function copyWith(edit: (dirs: { catalogDir: string; schemasDir: string }) => void) {
    const root = mkdtempSync(join(tmpdir(), 'guiji-typed-'));
    temps.push(root);
    const dirs = { catalogDir: join(root, 'catalog'), schemasDir: join(root, 'schemas') };
    cpSync(config.catalogDir, dirs.catalogDir, { recursive: true });
    cpSync(config.schemasDir, dirs.schemasDir, { recursive: true });
    edit(dirs);
    return validateCatalog(dirs.catalogDir, dirs.schemasDir);
  }

  // biome-ignore lint/suspicious/noExplicitAny: the test edits arbitrary catalog JSON
  const edit = (file: string, change: (json: any) => void) => {
    const json = JSON.parse(readFileSync(file, 'utf8'));
    change(json);
    writeFileSync(file, JSON.stringify(json, null, 2));
  };

  it('reports a field whose type changes in a new version, at the new schema, naming both versions', () => {
    const result = copyWith(({ catalogDir, schemasDir }) => {
      const schema = JSON.parse(readFileSync(join(schemasDir, 'xzcf/2019.json'), 'utf8'));
      schema.$id = 'guiji:xzcf/2027';
      schema.properties.CF_NR_FK['x-guiji'].kind = 'text';
      writeFileSync(join(schemasDir, 'xzcf/2027.json'), JSON.stringify(schema, null, 2));
      edit(join(catalogDir, 'resources/xzcf.json'), (r) => {
        r.versions[0].upgrade.to = '2027';
        r.versions[1].to = '2026-12-31';
        r.versions[1].upgrade = {
          to: '2027',
          fields: Object.fromEntries(Object.keys(schema.properties).map((code) => [code, code])),
        };
        r.versions.push({ version: '2027', from: '2027-01-01', schema: 'xzcf/2027.json' });
      });
    });
    expect(result.problems).toEqual([
      {
        file: expect.stringMatching(/xzcf\/2027\.json$/),
        path: '$.properties.CF_NR_FK',
        message: expect.stringMatching(
          /^xzcf: field CF_NR_FK is text \(text\) in version 2027 but numeric \(amount\) in version 2019/,
        ),
      },
    ]);
  });

  it('reports a field named like a record column', () => {
    const result = copyWith(({ schemasDir }) =>
      edit(join(schemasDir, 'sg/1.json'), (s) => {
        s.properties.SOURCE = {
          type: 'string',
          title: '来源',
          'x-guiji': { kind: 'text', severity: 'warn' },
        };
      }),
    );
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([
      {
        file: expect.stringMatching(/sg\/1\.json$/),
        path: '$.properties.SOURCE',
        message: expect.stringMatching(/field SOURCE would take the column "source" of r_sg/),
      },
    ]);
  });
});
