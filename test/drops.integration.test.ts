import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Warehouse } from '../lib/db.js';
import {
  createRandom,
  type DemoEnterprise,
  ENTERPRISE_HEADER,
  enterpriseRow,
  FAULTS,
  generateEnterprises,
  generatePenalties,
  PENALTY_HEADER,
  type PenaltyPlan,
  writeDelimited,
} from '../pipelines/demo/generate.js';
import { listQuarantine } from '../pipelines/quarantine.js';
import { expectLedgerBalanced, makeEnv, snapshot, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

describe(`spreadsheet drops into the warehouse (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  let enterprises: DemoEnterprise[];
  let plan: PenaltyPlan;
  const incoming = () => join(env.config.dropDir, 'incoming');

  beforeEach(async () => {
    env = await makeEnv('drops');
    db = await env.open();
    const random = createRandom(7);
    enterprises = generateEnterprises(random, 60);
    plan = generatePenalties(random, enterprises.slice(0, 50), 400, { faultShare: 0.15, unknownShare: 0.05 });
    mkdirSync(incoming(), { recursive: true });
    await writeDelimited(
      join(incoming(), '企业登记.csv'),
      ENTERPRISE_HEADER,
      enterprises.map((e) => enterpriseRow(random, e)),
      {
        encoding: 'utf8-bom',
      },
    );
  });

  afterEach(async () => {
    await expectLedgerBalanced(db);
    await db.close();
    await env.cleanup();
  });

  const faulty = () => FAULTS.filter((f) => f !== 'duplicate').reduce((n, f) => n + plan.faults[f], 0);

  it('loads valid rows, quarantines every faulty row with its reasons, flags unmatched subjects', async () => {
    await writeDelimited(join(incoming(), '行政处罚.csv'), PENALTY_HEADER, plan.rows, {
      encoding: 'gb18030',
    });
    const { summary, files } = await env.run(db);
    expect(summary.status).toBe('succeeded');
    const drops = summary.sources[0]!;
    expect(faulty()).toBeGreaterThan(20);
    expect(plan.faults.duplicate).toBeGreaterThan(0);
    expect(drops.read).toBe(enterprises.length + plan.rows.length);
    expect(drops.quarantined).toBe(faulty());
    expect(drops.duplicates).toBe(plan.faults.duplicate);
    expect(drops.inserted).toBe(enterprises.length + plan.rows.length - faulty() - plan.faults.duplicate);
    expect(drops.unmatched).toBe(plan.unknownSubjects);
    expect(files.map((f) => f.status)).toEqual(['loaded', 'loaded']);

    // every planted fault is named by its issue type
    const rows = await listQuarantine(db, { limit: 10_000 });
    const types = new Set(rows.flatMap((r) => r.issues.map((i) => i.type)));
    for (const t of [
      'missing-cell',
      'format-error',
      'type-error',
      'rule-error',
      'code-stored-as-number',
      'constraint-error',
      'duplicate-row',
    ]) {
      expect(types, t).toContain(t);
    }
    const sample = rows.find((r) => r.issues.some((i) => i.type === 'code-stored-as-number'))!;
    expect(sample.file).toBe('行政处罚.csv');
    expect(sample.row).toBeGreaterThan(1);
    expect(sample.issues[0]!.messageZh).toMatch(/文本/);
    expect(Object.keys(sample.raw)).toContain('行政处罚决定书文号');

    // the records carry typed columns and provenance
    const [one] = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM records WHERE resource = 'xzcf' AND produced_date IS NOT NULL AND department IS NOT NULL
         AND provenance->>'file' = '行政处罚.csv' AND (provenance->>'row')::int > 1`,
    );
    expect(Number(one!.n)).toBe(drops.inserted - enterprises.length);

    // the file went to archive/ with a feedback workbook listing each rejected row
    const archive = readdirSync(join(env.config.dropDir, 'archive'));
    expect(archive).toContain('行政处罚.csv');
    expect(archive).toContain('行政处罚.退回说明.xlsx');
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(join(env.config.dropDir, 'archive', '行政处罚.退回说明.xlsx'));
    const sheet = book.getWorksheet('退回数据')!;
    expect(sheet.rowCount - 1).toBe(faulty() + plan.faults.duplicate);
    expect(String(sheet.getRow(1).getCell(2).value)).toBe('问题说明');
    // the file's columns in the file's order, the rejected rows in the file's order
    expect(String(sheet.getRow(1).getCell(3).value)).toBe(PENALTY_HEADER[0]);
    const rowNumbers: number[] = [];
    sheet.eachRow((row, n) => {
      if (n > 1) rowNumbers.push(Number(row.getCell(1).value));
    });
    expect(rowNumbers).toEqual([...rowNumbers].sort((a, b) => a - b));
    expect(rowNumbers[0]).toBeGreaterThan(1);
    expect(readdirSync(incoming())).toEqual([]);
  });

  it('reads the same rows identically from UTF-8, UTF-8 with BOM, GB18030, UTF-16LE tab-separated and xlsx', async () => {
    await writeDelimited(join(incoming(), 'a.csv'), PENALTY_HEADER, plan.rows, { encoding: 'utf8' });
    const first = (await env.run(db)).summary.sources[0]!;
    const loaded = first.inserted - enterprises.length;
    expect(loaded).toBeGreaterThan(300);

    const variants: [string, () => Promise<void>][] = [
      [
        'b.csv',
        () => writeDelimited(join(incoming(), 'b.csv'), PENALTY_HEADER, plan.rows, { encoding: 'utf8-bom' }),
      ],
      [
        'c.csv',
        () => writeDelimited(join(incoming(), 'c.csv'), PENALTY_HEADER, plan.rows, { encoding: 'gb18030' }),
      ],
      [
        'd.txt',
        () =>
          writeDelimited(join(incoming(), 'd.txt'), PENALTY_HEADER, plan.rows, {
            encoding: 'utf16le',
            delimiter: '\t',
          }),
      ],
      ['e.xlsx', () => writeWorkbook(join(incoming(), 'e.xlsx'), plan.rows)],
    ];
    for (const [name, write] of variants) {
      await write();
      const { summary } = await env.run(db);
      const s = summary.sources[0]!;
      // the same content hash for every valid row: decoded, parsed and normalised to the same values
      expect({ name, unchanged: s.unchanged, inserted: s.inserted, updated: s.updated }).toEqual({
        name,
        unchanged: loaded,
        inserted: 0,
        updated: 0,
      });
      expect(s.quarantined).toBe(faulty());
    }
  });

  it('never loads the same file twice, and moves it out of incoming/', async () => {
    const path = join(incoming(), 'x.csv');
    await writeDelimited(path, PENALTY_HEADER, plan.rows);
    const copy = readFileSync(path);
    await env.run(db);
    writeFileSync(path, copy);
    const { summary, files } = await env.run(db);
    expect(summary.sources[0]!.read).toBe(0);
    expect(files).toEqual([expect.objectContaining({ file: 'x.csv', status: 'skipped' })]);
    expect(existsSync(path)).toBe(false);
    const [count] = await db.query<{ n: string }>('SELECT count(*) AS n FROM drop_files');
    expect(Number(count!.n)).toBe(2);
  });

  it('keeps the previous version of a changed record in history', async () => {
    const clean = generatePenalties(createRandom(3), enterprises, 30, { faultShare: 0, unknownShare: 0 });
    await writeDelimited(join(incoming(), 'v1.csv'), PENALTY_HEADER, clean.rows);
    await env.run(db);
    const changed = clean.rows.map((r) => [...r]);
    changed[4]![6] = '更正后的违法事实';
    await writeDelimited(join(incoming(), 'v2.csv'), PENALTY_HEADER, changed);
    const s = (await env.run(db)).summary.sources[0]!;
    expect([s.inserted, s.updated, s.unchanged]).toEqual([0, 1, 29]);
    const history = await db.query<{ version: number; data: Record<string, string> }>(
      `SELECT version, data FROM record_history WHERE resource = 'xzcf'`,
    );
    expect(history).toHaveLength(1);
    expect(history[0]!.version).toBe(1);
    expect(history[0]!.data.CF_SY).toBe(clean.rows[4]![6]);
    const [current] = await db.query<{ version: number; sy: string }>(
      `SELECT version, data->>'CF_SY' AS sy FROM records WHERE data->>'CF_SY' = '更正后的违法事实'`,
    );
    expect(current).toEqual({ version: 2, sy: '更正后的违法事实' });
  });

  it('rejects unreadable files with a clear reason and still loads the others', async () => {
    const good = generatePenalties(createRandom(5), enterprises, 10, { faultShare: 0, unknownShare: 0 });
    await writeDelimited(join(incoming(), 'good.csv'), PENALTY_HEADER, good.rows);
    writeFileSync(join(incoming(), 'empty.csv'), '');
    writeFileSync(
      join(incoming(), 'junk.csv'),
      Buffer.from([0x00, 0x01, 0x02, 0xff, 0xfe, 0x00, 0x13, 0x37, 0, 0, 9]),
    );
    await writeDelimited(join(incoming(), 'header-only.csv'), PENALTY_HEADER, []);
    await writeDelimited(join(incoming(), 'other.csv'), ['姓名', '年龄'], [['张三', '30']]);
    await writeWorkbook(join(env.dir, 'whole.xlsx'), good.rows);
    const whole = readFileSync(join(env.dir, 'whole.xlsx'));
    writeFileSync(join(incoming(), 'truncated.xlsx'), whole.subarray(0, whole.length >> 1));

    const { summary, files } = await env.run(db);
    expect(summary.status).toBe('succeeded');
    const byName = Object.fromEntries(files.map((f) => [f.file, f]));
    expect(byName['good.csv']!.status).toBe('loaded');
    expect(byName['good.csv']!.read).toBe(10);
    expect(byName['empty.csv']!.message).toMatch(/empty/);
    expect(byName['junk.csv']!.message).toMatch(/binary/);
    expect(byName['header-only.csv']!.message).toMatch(/no data rows/);
    expect(byName['other.csv']!.message).toMatch(/no header row matches/);
    expect(byName['truncated.xlsx']!.message).toMatch(/truncated|damaged/);
    expect(byName['truncated.xlsx']!.message).not.toContain(env.dir);
    expect(byName['header-only.csv']!.messageZh).toMatch(/没有数据行/);
    expect(byName['other.csv']!.messageZh).toMatch(/未识别出表头/);
    for (const bad of ['empty.csv', 'junk.csv', 'header-only.csv', 'other.csv', 'truncated.xlsx']) {
      expect(byName[bad]!.status, bad).toBe('rejected');
      expect(existsSync(join(env.config.dropDir, 'rejected', bad)), bad).toBe(true);
      // the department reads Chinese only: no English, no library's words, no server path
      const reason = readFileSync(join(env.config.dropDir, 'rejected', `${bad}.错误说明.txt`), 'utf8');
      expect(reason.trim(), bad).toBe(byName[bad]!.messageZh);
      // file types and the programs a clerk is told to use are the only Latin letters allowed
      const words = reason.replace(/\b(csv|txt|tsv|xlsx|xlsm|xls|Excel|WPS|UTF|GB\d*|MB|KB)\b/gi, '');
      expect(words, bad).not.toMatch(/[A-Za-z]{2,}/);
      expect(reason, bad).not.toContain(env.dir);
    }
  });

  it('upgrades a 2016-standard penalty to the 2019 field set, keeping the original in provenance', async () => {
    const e = enterprises[0]!;
    const header = [
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
    ];
    const row = (wsh: string, date: string) => [
      wsh,
      '销售不合格产品',
      '罚款',
      '警告',
      '抽检不合格',
      '《产品质量法》第四十九条',
      e.name,
      e.uscc,
      e.legalRep,
      '罚款人民币5000元',
      date,
      '界首市工商行政管理局',
      '0',
      '2017-03-02 10:00:00',
    ];
    await writeDelimited(join(incoming(), 'cf2016.csv'), header, [
      row('界工商罚字〔2017〕12号', '2017-03-01'),
      row('界工商罚字〔2017〕13号', '2030-05-01'),
    ]);
    const s = (await env.run(db)).summary.sources[0]!;
    expect([s.inserted - enterprises.length, s.quarantined]).toEqual([1, 1]);
    const [record] = await db.query<{
      schema_version: string;
      data: Record<string, string>;
      provenance: Record<string, unknown>;
    }>(`SELECT schema_version, data, provenance FROM records WHERE resource = 'xzcf'`);
    expect(record!.schema_version).toBe('2019');
    expect(record!.data).toMatchObject({
      CF_WSH: '界工商罚字〔2017〕12号',
      CF_CFLB: '罚款;警告',
      CF_WFXW: '销售不合格产品',
      CF_NR: '罚款人民币5000元',
      CF_CFJG: '界首市工商行政管理局',
      CF_XDR_SHXYM: e.uscc,
      CF_JDRQ: '2017-03-01',
    });
    expect(record!.provenance.upgradedFrom).toBe('2016');
    expect(record!.provenance.original).toMatchObject({
      CF_CFLB1: '罚款',
      CF_CFLB2: '警告',
      CF_XZJG: '界首市工商行政管理局',
    });
    const rejected = await listQuarantine(db, { limit: 10 });
    expect(rejected[0]!.issues).toEqual([expect.objectContaining({ type: 'rule-error', field: 'CF_JDRQ' })]);
    expect(rejected[0]!.issues[0]!.messageZh).toMatch(/未来/);
  });

  it('rejects a penalty whose validity ends before its decision', async () => {
    const clean = generatePenalties(createRandom(8), enterprises, 3, { faultShare: 0, unknownShare: 0 });
    const bad = clean.rows.map((r) => [...r]);
    bad[1]![14] = '2001-01-01';
    await writeDelimited(join(incoming(), 'order.csv'), PENALTY_HEADER, bad);
    const s = (await env.run(db)).summary.sources[0]!;
    expect(s.quarantined).toBe(1);
    const [rejected] = await listQuarantine(db, { limit: 10 });
    expect(rejected!.row).toBe(3);
    expect(rejected!.issues).toEqual([
      expect.objectContaining({ type: 'rule-error', field: 'CF_YXQ', value: '2001-01-01' }),
    ]);
  });

  it('survives a re-run of the same input as the same warehouse', async () => {
    await writeDelimited(join(incoming(), 'p.csv'), PENALTY_HEADER, plan.rows);
    await env.run(db);
    const before = await snapshot(db);
    await writeDelimited(join(incoming(), 'p-again.csv'), PENALTY_HEADER, plan.rows);
    const s = (await env.run(db)).summary.sources[0]!;
    expect(s.inserted + s.updated).toBe(0);
    const after = await snapshot(db);
    expect(after.records).toEqual(
      (before.records as { provenance: unknown }[]).map((r) => ({ ...r, provenance: r.provenance })),
    );
    expect(after.history).toEqual(before.history);
  });
});

async function writeWorkbook(path: string, rows: string[][]): Promise<void> {
  const workbook = new ExcelJS.Workbook();
  const sheet = workbook.addWorksheet('处罚');
  sheet.addRow(['行政处罚信息报送表（2025年）']);
  sheet.addRow(PENALTY_HEADER);
  const dateColumns = new Set([13, 14, 15]);
  for (const row of rows) {
    sheet.addRow(
      row.map((v, i) => {
        if (dateColumns.has(i) && /^\d{4}-\d{2}-\d{2}$/.test(v) && Number(v.slice(-2)) <= 28) {
          return new Date(`${v}T00:00:00Z`);
        }
        if (i === 10 && v !== '' && /^\d+(\.\d+)?$/.test(v)) return Number(v);
        return v;
      }),
    );
  }
  await workbook.xlsx.writeFile(path);
}
