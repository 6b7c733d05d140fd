import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Catalog, departmentName, type FieldDef, loadCatalog, type Resource } from '../catalog/load.js';
import type { Warehouse } from '../lib/db.js';
import { GuijiError } from '../lib/errors.js';
import { runTemplateCommand } from '../pipelines/commands/template.js';
import {
  CODE_LIST_SHEET,
  HEADER_ROW,
  INSTRUCTIONS_SHEET,
  sheetNameOf,
  writeTemplate,
} from '../pipelines/template/workbook.js';
import { makeIdCard, makeOrgCode, makeRegNo, makeUscc } from '../schemas/identifiers.js';
import { expectLedgerBalanced, makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

const ROOT = join(import.meta.dirname, '..');
const catalog: Catalog = loadCatalog(join(ROOT, 'catalog'), join(ROOT, 'schemas'));

/** What a clerk types in one cell of row `row` (0-based) of a resource's template. */
function valueFor(catalog: Catalog, resource: Resource, field: FieldDef, row: number, seed: number): unknown {
  const n = seed * 10 + row + 1;
  const digits = String(n).padStart(4, '0');
  const cut = (s: string) => (field.maxLength !== undefined ? s.slice(0, field.maxLength) : s);
  if (field.code === resource.departmentField) return departmentName(catalog, resource.departments[0] ?? '');
  switch (field.kind) {
    case 'date':
    case 'datetime': {
      const index = resource.current.fields.filter((f) => f.kind === 'date').indexOf(field);
      const date = new Date(Date.UTC(2022, 0, 3 + index * 40 + row));
      // a real date cell, or text as pasted from another system
      return row === 1 ? date.toISOString().slice(0, 10) : date;
    }
    case 'amount':
      return 12.5 + row;
    case 'enum': {
      const labels = (catalog.codeLists[field.codeList ?? ''] ?? []).map((e) => e.label);
      if (field.multi && row === 1) return labels.slice(0, 2).join('；');
      return labels[row % labels.length];
    }
    case 'docno':
      return cut(`界市监字〔2024〕${n}号`);
    case 'code':
      switch (field.format) {
        case 'uscc':
          return makeUscc(`11341282MB${digits}00`.padEnd(17, '0').slice(0, 17));
        case 'uscc-or-placeholder':
          return makeUscc(`91341282MA2${digits}`.padEnd(17, '0'));
        case 'org-code':
          return makeOrgCode(`MA${digits}00`);
        case 'regno':
          return makeRegNo(`3412820000${digits}`);
        case 'idcard':
          return makeIdCard(`34128219800101${digits.slice(-3)}`);
        default:
          return field.sensitive
            ? makeIdCard(`34128219800101${digits.slice(-3)}`).slice(0, field.maxLength ?? 18)
            : cut(`A${digits}`);
      }
    default: {
      const pattern = (resource.current.schema.properties as Record<string, { pattern?: string }>)[field.code]
        ?.pattern;
      if (pattern === '^\\d+$') return row + 1; // a clerk types a number
      return cut(`${field.title}${n}`);
    }
  }
}

const ROWS = 3;

describe(`templates round trip through the pipeline (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  let scratch: string;

  // one warehouse for the whole suite: each resource's file is its own run, checked by its own ledger
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'guiji-template-'));
    env = await makeEnv('template');
    db = await env.open();
    mkdirSync(join(env.config.dropDir, 'incoming'), { recursive: true });
  });

  afterEach(async () => {
    await expectLedgerBalanced(db);
  });

  afterAll(async () => {
    await db.close();
    await env.cleanup();
    rmSync(scratch, { recursive: true, force: true });
  });

  const ids = [...catalog.resources.keys()].sort();

  it.each(ids)('%s: a template filled as a clerk would loads every row', async (id) => {
    const resource = catalog.resources.get(id)!;
    const template = join(scratch, `${id}.xlsx`);
    await writeTemplate(env.catalog, id, template);

    // the clerk opens the template, types three rows under the header and saves it into the drop folder
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(template);
    const sheet = book.getWorksheet(sheetNameOf(resource))!;
    const header = sheet.getRow(HEADER_ROW);
    const fields = resource.current.fields;
    const seed = ids.indexOf(id);
    for (let r = 0; r < ROWS; r++) {
      const row = sheet.getRow(HEADER_ROW + 1 + r);
      fields.forEach((field, i) => {
        expect(String(header.getCell(i + 1).value).replace(/^\*/, '')).toBe(field.title);
        row.getCell(i + 1).value = valueFor(env.catalog, resource, field, r, seed) as ExcelJS.CellValue;
      });
      row.commit();
    }
    await book.xlsx.writeFile(join(env.config.dropDir, 'incoming', `${id}-填报.xlsx`));

    const { summary, files } = await env.run(db);
    const drops = summary.sources[0]!;
    const problems = await db.query<{ row_number: number; issues: unknown }>(
      'SELECT row_number, issues FROM quarantine WHERE resource = $1 ORDER BY row_number',
      [id],
    );
    expect(problems).toEqual([]);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({ status: 'loaded', resources: [id], read: ROWS, quarantined: 0 });
    expect(drops.read).toBe(ROWS);
    expect(drops.quarantined).toBe(0);
    expect(drops.duplicates).toBe(0);
    // stored under the current version (an older field set must not claim the current template)
    const stored = await db.query<{ schema_version: string; n: string }>(
      'SELECT schema_version, count(*) AS n FROM records WHERE resource = $1 GROUP BY schema_version',
      [id],
    );
    expect(stored.map((s) => [s.schema_version, Number(s.n)])).toEqual([[resource.current.version, ROWS]]);
  });
});

describe('template workbook structure', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'guiji-template-shape-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('xzcf: title row, starred headers with notes, drop-downs, text and date columns, instructions', async () => {
    const file = join(dir, 'xzcf.xlsx');
    await writeTemplate(catalog, 'xzcf', file);
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(file);
    const resource = catalog.resources.get('xzcf')!;
    const fields = resource.current.fields;
    const sheet = book.worksheets[0]!;
    expect(sheet.name).toBe('行政处罚信息');
    expect(String(sheet.getCell(1, 1).value)).toMatch(/^界首市 行政处罚信息 报送模板（.*2019.*）$/);
    expect(sheet.views[0]).toMatchObject({ state: 'frozen', ySplit: HEADER_ROW });

    const colOf = (code: string) => fields.findIndex((f) => f.code === code) + 1;
    const header = sheet.getRow(HEADER_ROW);
    expect(header.getCell(colOf('CF_XDR_MC')).value).toBe('*行政相对人名称');
    expect(header.getCell(colOf('CF_XDR_SHXYM')).value).toBe('统一社会信用代码');
    fields.forEach((_, i) => {
      const note = header.getCell(i + 1).note;
      const text = typeof note === 'string' ? note : (note?.texts ?? []).map((t) => t.text).join('');
      expect(text).toContain(fields[i]!.code);
      expect(text).toMatch(fields[i]!.required ? /必填/ : /选填/);
    });
    const noteOf = (code: string) => {
      const note = header.getCell(colOf(code)).note;
      return typeof note === 'string' ? note : (note?.texts ?? []).map((t) => t.text).join('');
    };
    expect(noteOf('CF_JDRQ')).toContain('YYYY-MM-DD');
    expect(noteOf('CF_NR_FK')).toContain('万元');
    expect(noteOf('CF_NR_FK')).toMatch(/处罚类别含“罚款”时必填/);
    expect(noteOf('CF_CFLB')).toContain('；');
    expect(noteOf('CF_XDR_LB')).toContain('自然人');

    // a drop-down on the enum column reading the hidden code-list sheet, none on the multi-valued one
    const lb = sheet.getCell(HEADER_ROW + 1, colOf('CF_XDR_LB')).dataValidation;
    expect(lb).toMatchObject({ type: 'list' });
    const formula = String(lb.formulae[0]);
    expect(formula).toContain(CODE_LIST_SHEET);
    const lists = book.getWorksheet(CODE_LIST_SHEET)!;
    expect(lists.state).toBe('hidden');
    const range = /\$([A-Z]+)\$(\d+):\$[A-Z]+\$(\d+)/.exec(formula)!;
    const labels: string[] = [];
    for (let r = Number(range[2]); r <= Number(range[3]); r++)
      labels.push(String(lists.getCell(`${range[1]}${r}`).value));
    expect(labels).toEqual(codeListLabels('xdrlb'));
    expect(sheet.getCell(HEADER_ROW + 500, colOf('CF_XDR_LB')).dataValidation?.type).toBe('list');
    expect(sheet.getCell(HEADER_ROW + 1, colOf('CF_CFLB')).dataValidation?.type).not.toBe('list');
    expect(sheet.getCell(HEADER_ROW + 1, colOf('CF_JDRQ')).dataValidation).toMatchObject({ type: 'date' });

    // codes stay text, dates are dates
    expect(sheet.getColumn(colOf('CF_XDR_SHXYM')).numFmt).toBe('@');
    expect(sheet.getColumn(colOf('CF_WSH')).numFmt).toBe('@');
    expect(sheet.getCell(HEADER_ROW + 1, colOf('CF_CFJGDM')).numFmt).toBe('@');
    expect(sheet.getColumn(colOf('CF_JDRQ')).numFmt).toBe('yyyy-mm-dd');
    expect(sheet.getColumn(colOf('CF_XDR_MC')).width).toBeGreaterThan(10);

    const instructions = book.getWorksheet(INSTRUCTIONS_SHEET)!;
    const text: string[] = [];
    instructions.eachRow((row) => {
      row.eachCell((cell) => {
        text.push(String(cell.value));
      });
    });
    const all = text.join('\n');
    expect(all).toContain('产生之日起7个工作日内报送');
    expect(all).toContain('20个工作日内公示');
    expect(all).toContain(resource.legalBasis);
    expect(all).toContain('市市场监督管理局');
    expect(all).toContain('退回说明');
    expect(all).toMatch(/自然键/);
    expect(all).toContain('“行政处罚决定书文号”');
  });

  it('the command writes one template, every template, and refuses an unknown resource', async () => {
    const [one] = await runTemplateCommand(catalog, 'ry', {}, dir);
    expect(one).toBe(join(dir, 'ry-模板.xlsx'));
    const out = join(dir, 'sub', 'x.xlsx');
    expect(await runTemplateCommand(catalog, 'ry', { out }, dir)).toEqual([out]);
    const all = await runTemplateCommand(catalog, undefined, { all: true, outDir: join(dir, 'all') }, dir);
    expect(all).toHaveLength(catalog.resources.size);
    const err = await runTemplateCommand(catalog, 'nope', {}, dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GuijiError);
    expect((err as GuijiError).code).toBe('GUIJI_ERR_USAGE');
    expect((err as GuijiError).message).toContain('xzcf');
  });

  it('--department: the template carries its department, named by the drops convention', async () => {
    const [one] = await runTemplateCommand(catalog, 'xzcf', { department: '市场监管局' }, dir);
    expect(one).toBe(join(dir, '界首市市场监督管理局_xzcf_模板.xlsx'));
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(one as string);
    const title = String(workbook.worksheets[0]?.getCell(1, 1).value);
    expect(title).toMatch(/报送模板.*报送单位：界首市市场监督管理局$/);
    let unit: unknown;
    workbook.getWorksheet(INSTRUCTIONS_SHEET)?.eachRow((row) => {
      if (row.getCell(1).value === '报送单位') unit = row.getCell(2).value;
    });
    expect(unit).toBe('界首市市场监督管理局');
    const own = await runTemplateCommand(
      catalog,
      undefined,
      { all: true, department: 'spj', outDir: join(dir, 'spj') },
      dir,
    );
    expect(own.map((f) => f.slice(f.lastIndexOf('/') + 1))).toEqual([
      '界首市行政审批局_xjcl_模板.xlsx',
      '界首市行政审批局_xzxk_模板.xlsx',
    ]);
    const err = await runTemplateCommand(catalog, 'xzcf', { department: '阜阳市市场监督管理局' }, dir).catch(
      (e: unknown) => e,
    );
    expect((err as GuijiError).code).toBe('GUIJI_ERR_USAGE');
  });
});

function codeListLabels(list: string): string[] {
  return (catalog.codeLists[list] ?? []).map((e) => e.label);
}
