/**
 * Hostile and malformed workbooks: every one is rejected with a FileError whose messageZh tells the clerk
 * what is wrong, within the process's memory (the bombs also in a child process whose heap is capped at
 * 300 MB, as `npm start` runs guiji), and a good workbook still reads exactly.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { constants, crc32, createDeflateRaw, deflateRawSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { readTables } from '../connectors/spreadsheet/drop-folder.js';
import {
  DEFAULT_XLSX_LIMITS,
  openXlsx,
  type XlsxOpenOptions,
  type XlsxRow,
  xlsxLimitsOf,
} from '../connectors/spreadsheet/xlsx-reader.js';
import { loadConfig } from '../lib/config.js';
import { ConfigError, FileError } from '../lib/errors.js';

const ROOT = resolve(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'guiji-xlsx-caps-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// ─────────────────────────────────────────── a zip writer with knobs ───────────────────────────────────────────

interface ZipItem {
  name: string;
  /** The uncompressed bytes (deflated here unless `packed` is given). */
  data?: Buffer | string;
  /** Already-compressed bytes, with their true uncompressed size in `size`. */
  packed?: Buffer;
  size?: number;
  /** The uncompressed size written in the headers (default: the true one): a lying header. */
  declared?: number;
  method?: number;
}

/** A zip: deflated entries by default, any header field a test wants to lie in, zip64 on request. */
function zipOf(items: ZipItem[], { zip64 = false }: { zip64?: boolean } = {}): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const item of items) {
    const data = item.data === undefined ? undefined : Buffer.from(item.data);
    const method = item.method ?? 8;
    const packed = item.packed ?? (method === 0 ? data! : deflateRawSync(data!));
    const size = item.size ?? data!.length;
    const declared = item.declared ?? size;
    const crc = data ? crc32(data) : 0;
    const name = Buffer.from(item.name, 'utf8');
    const extra = zip64 ? Buffer.alloc(28) : Buffer.alloc(0);
    if (zip64) {
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(declared), 4);
      extra.writeBigUInt64LE(BigInt(packed.length), 12);
      extra.writeBigUInt64LE(BigInt(offset), 20);
    }
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(zip64 ? 45 : 20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(zip64 ? 0xffffffff : packed.length, 18);
    local.writeUInt32LE(zip64 ? 0xffffffff : declared, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(zip64 ? 45 : 20, 4);
    central.writeUInt16LE(zip64 ? 45 : 20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(zip64 ? 0xffffffff : packed.length, 20);
    central.writeUInt32LE(zip64 ? 0xffffffff : declared, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(extra.length, 30);
    central.writeUInt32LE(zip64 ? 0xffffffff : offset, 42);
    locals.push(local, name, packed);
    centrals.push(central, name, extra);
    offset += local.length + name.length + packed.length;
  }
  const cd = Buffer.concat(centrals);
  const tail: Buffer[] = [];
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  if (zip64) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeUInt16LE(45, 12);
    rec.writeUInt16LE(45, 14);
    rec.writeBigUInt64LE(BigInt(items.length), 24);
    rec.writeBigUInt64LE(BigInt(items.length), 32);
    rec.writeBigUInt64LE(BigInt(cd.length), 40);
    rec.writeBigUInt64LE(BigInt(offset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(offset + cd.length), 8);
    locator.writeUInt32LE(1, 16);
    tail.push(rec, locator);
    end.writeUInt16LE(0xffff, 8);
    end.writeUInt16LE(0xffff, 10);
    end.writeUInt32LE(0xffffffff, 12);
    end.writeUInt32LE(0xffffffff, 16);
  } else {
    end.writeUInt16LE(items.length, 8);
    end.writeUInt16LE(items.length, 10);
    end.writeUInt32LE(cd.length, 12);
    end.writeUInt32LE(offset, 16);
  }
  return Buffer.concat([...locals, cd, ...tail, end]);
}

/** Deflates `repeat` copies of `unit` between `head` and `tail` without holding them: 200 MB in ~200 KB. */
async function deflateRepeated(head: string, unit: string, repeat: number, tail: string) {
  const deflate = createDeflateRaw({ level: constants.Z_BEST_COMPRESSION });
  const out: Buffer[] = [];
  deflate.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((ok) => deflate.on('end', ok));
  const block = Buffer.from(unit.repeat(Math.max(1, Math.floor((1 << 20) / unit.length))));
  const perBlock = block.length / Buffer.byteLength(unit);
  let left = repeat;
  deflate.write(head);
  while (left >= perBlock) {
    if (!deflate.write(block)) await new Promise((ok) => deflate.once('drain', ok));
    left -= perBlock;
  }
  deflate.end(Buffer.concat([Buffer.from(unit.repeat(left)), Buffer.from(tail)]));
  await done;
  const size = Buffer.byteLength(head) + Buffer.byteLength(unit) * repeat + Buffer.byteLength(tail);
  return { packed: Buffer.concat(out), size };
}

const NS = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
const ROOT_RELS = `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>`;
const WB_RELS = `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${REL}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="${REL}/sharedStrings" Target="sharedStrings.xml"/><Relationship Id="rId3" Type="${REL}/styles" Target="styles.xml"/></Relationships>`;
const sheetsXml = (names: string[]) =>
  `<workbook xmlns="${NS}" xmlns:r="${REL}"><sheets>${names
    .map((n, i) => `<sheet name="${n}" sheetId="${i + 1}" r:id="rId${i === 0 ? 1 : 100 + i}"/>`)
    .join('')}</sheets></workbook>`;
const rowsXml = (rows: string) => `<worksheet xmlns="${NS}"><sheetData>${rows}</sheetData></worksheet>`;
const STYLES = `<styleSheet xmlns="${NS}"><cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14"/></cellXfs></styleSheet>`;

/** A one-sheet workbook ("名单"); any part replaced or dropped by `parts` (undefined drops it). */
type Part = Omit<ZipItem, 'name'> | string | undefined;

function workbook(parts: Record<string, Part> = {}, zip64 = false): Buffer {
  const base: Record<string, Part> = {
    '_rels/.rels': ROOT_RELS,
    'xl/workbook.xml': sheetsXml(['名单']),
    'xl/_rels/workbook.xml.rels': WB_RELS,
    'xl/styles.xml': STYLES,
    'xl/sharedStrings.xml': `<sst xmlns="${NS}"><si><t>统一社会信用代码</t></si><si><t>企业名称</t></si><si><t>某某有限公司</t></si></sst>`,
    'xl/worksheets/sheet1.xml': rowsXml(
      '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>' +
        '<row r="2"><c r="A2" t="inlineStr"><is><t>91110000100003962T</t></is></c><c r="B2" t="s"><v>2</v></c><c r="C2" s="1"><v>45366</v></c></row>',
    ),
  };
  const items: ZipItem[] = [];
  for (const [name, v] of Object.entries({ ...base, ...parts })) {
    if (v === undefined) continue;
    items.push(typeof v === 'string' ? { name, data: v } : { ...v, name });
  }
  return zipOf(items, { zip64 });
}

let n = 0;
function save(buf: Buffer, name = `w${++n}.xlsx`): string {
  const path = join(tmp, name);
  writeFileSync(path, buf);
  return path;
}

async function readAll(path: string, options?: XlsxOpenOptions): Promise<XlsxRow[]> {
  const wb = await openXlsx(path, options);
  try {
    const out: XlsxRow[] = [];
    for (const sheet of wb.sheets) for await (const row of wb.rows(sheet.name)) out.push(row);
    return out;
  } finally {
    await wb.close();
  }
}

/** The FileError that reading the whole workbook ends with. */
async function rejection(path: string, options?: XlsxOpenOptions): Promise<FileError> {
  try {
    await readAll(path, options);
  } catch (err) {
    expect(err).toBeInstanceOf(FileError);
    return err as FileError;
  }
  throw new Error(`${path} was read without an error`);
}

const GOOD_ROWS: XlsxRow[] = [
  { rowNumber: 1, cells: ['统一社会信用代码', '企业名称'] },
  { rowNumber: 2, cells: ['91110000100003962T', '某某有限公司', new Date(Date.UTC(2024, 2, 15))] },
];

// ─────────────────────────────────────────── settings ───────────────────────────────────────────

describe('the caps are settings', () => {
  it('defaults in lib/config.ts equal the reader’s, and GUIJI_XLSX_* override them', () => {
    expect(xlsxLimitsOf(loadConfig({ env: {}, cwd: tmp }))).toEqual(DEFAULT_XLSX_LIMITS);
    const config = loadConfig({
      env: { GUIJI_XLSX_MAX_RATIO: '50', GUIJI_XLSX_MAX_CELL_CHARS: '1000', GUIJI_XLSX_MAX_SHEETS: '3' },
      cwd: tmp,
    });
    expect(xlsxLimitsOf(config)).toMatchObject({ maxRatio: 50, maxCellChars: 1000, maxSheets: 3 });
    expect(() => loadConfig({ env: { GUIJI_XLSX_MAX_RATIO: '1' }, cwd: tmp })).toThrow(
      /GUIJI_XLSX_MAX_RATIO: must be >= 2/,
    );
    expect(() => loadConfig({ env: { GUIJI_XLSX_MAX_ENTRY_BYTES: 'lots' }, cwd: tmp })).toThrow(ConfigError);
  });

  it('reach the reader through the drop folder', async () => {
    const path = save(workbook(), 'drop.xlsx');
    const { dev, ino } = statSync(path);
    const file = { path, name: 'drop.xlsx', size: 0, sha256: '', format: 'xlsx' as const, dev, ino };
    const limits = xlsxLimitsOf(loadConfig({ env: { GUIJI_XLSX_MAX_ROWS: '1' }, cwd: tmp }));
    const read = async (options: XlsxOpenOptions) => {
      for await (const table of readTables(file, options))
        for await (const _ of table.rows) {
          // read them all
        }
    };
    await expect(read({ limits })).rejects.toMatchObject({
      messageZh: expect.stringMatching(/^工作表“名单”第 2 行超出了工作表的最大行数 1，/),
    });
    await expect(read({})).resolves.toBeUndefined();
  });

  it('a good workbook reads exactly, under its defaults and under caps it just fits', async () => {
    const path = save(workbook());
    expect(await readAll(path)).toEqual(GOOD_ROWS);
    const tight = {
      maxSharedStrings: 3,
      maxSharedChars: 18,
      maxCellChars: 18,
      maxSheets: 1,
      maxRows: 2,
      maxColumns: 3,
      maxCellFormats: 2,
    };
    expect(await readAll(path, { limits: tight, sharedStringsHeapBytes: 3 * 40 + 18 * 2 })).toEqual(
      GOOD_ROWS,
    );
    const fixtures = join(import.meta.dirname, 'fixtures', 'xlsx');
    for (const name of ['exceljs.xlsx', 'libreoffice.xlsx', 'libreoffice-csv.xlsx']) {
      const wb = await openXlsx(join(fixtures, name));
      expect(wb.sheets.length).toBeGreaterThan(0);
      await wb.close();
      expect((await readAll(join(fixtures, name))).length).toBeGreaterThan(1);
    }
  });
});

// ─────────────────────────────────────────── zip bombs ───────────────────────────────────────────

describe('zip entries are inflated under caps', () => {
  it('rejects the 200 MB shared strings of a few hundred KB (honest header: before inflating)', async () => {
    const bomb = await deflateRepeated(`<sst xmlns="${NS}">`, '<si><t>ab</t></si>', 11_700_000, '</sst>');
    expect(bomb.size).toBeGreaterThan(200 * 1000 ** 2);
    expect(bomb.packed.length).toBeLessThan(1024 ** 2);
    const path = save(
      workbook({ 'xl/sharedStrings.xml': { packed: bomb.packed, size: bomb.size } }),
      'bomb.xlsx',
    );
    const err = await rejection(path);
    expect(err.message).toMatch(
      /xl\/sharedStrings\.xml of bomb\.xlsx inflates \d[\d,]* times .*GUIJI_XLSX_MAX_RATIO/,
    );
    expect(err.messageZh).toMatch(/^工作簿解压后异常庞大（压缩比超过 100 倍），不是正常的 Excel 文件/);
    expect(err.context.file).toBe('bomb.xlsx');
    expect(err.message).not.toContain(tmp);
  });

  it('counts the bytes inflated: a header that declares less than the data holds does not get past', async () => {
    const bomb = await deflateRepeated(`<sst xmlns="${NS}">`, '<si><t>ab</t></si>', 11_700_000, '</sst>');
    for (const declared of [bomb.packed.length * 2, 1024 ** 2]) {
      const path = save(
        workbook({ 'xl/sharedStrings.xml': { packed: bomb.packed, size: bomb.size, declared } }),
      );
      const err = await rejection(path);
      expect(err.message).toMatch(/inflates to more than the [\d,]+ bytes its zip header declares/);
      expect(err.messageZh).toMatch(/^工作簿文件已损坏/);
    }
  });

  it('stops at the ratio cap on the bytes actually inflated, and at the size cap', async () => {
    const bomb = await deflateRepeated(
      `<worksheet xmlns="${NS}"><sheetData>`,
      '<row/>',
      5_000_000,
      '</sheetData></worksheet>',
    );
    // a header that declares a huge size is believed
    let err = await rejection(
      save(
        workbook({
          'xl/worksheets/sheet1.xml': { packed: bomb.packed, size: bomb.size, declared: 2 ** 32 - 1 },
        }),
      ),
    );
    expect(err.message).toMatch(
      /declares 4,294,967,295 bytes \(cap 2,147,483,648, GUIJI_XLSX_MAX_ENTRY_BYTES\)/,
    );
    expect(err.messageZh).toMatch(/^工作簿解压后异常庞大（其中一个部件超过 2,048 MB）/);
    // padding after the deflate stream makes the declared ratio look ordinary (~29): the count catches it
    const padded = Buffer.concat([bomb.packed, Buffer.alloc(1024 ** 2)]);
    expect(bomb.size / padded.length).toBeLessThan(100);
    err = await rejection(
      save(workbook({ 'xl/worksheets/sheet1.xml': { packed: padded, size: bomb.size } })),
    );
    expect(err.message).toMatch(
      /xl\/worksheets\/sheet1\.xml of .* inflates \d[\d,]* times its compressed size \(cap 100/,
    );
    expect(err.messageZh).toMatch(/^工作簿解压后异常庞大（压缩比超过 100 倍）/);
    // the size cap
    err = await rejection(
      save(workbook({ 'xl/worksheets/sheet1.xml': { packed: bomb.packed, size: bomb.size } })),
      {
        limits: { maxEntryBytes: 8 * 1024 ** 2, maxRatio: 10 ** 6 },
      },
    );
    expect(err.message).toMatch(/declares 30,000,\d+ bytes \(cap 8,388,608, GUIJI_XLSX_MAX_ENTRY_BYTES\)/);
    expect(err.messageZh).toMatch(/其中一个部件超过 8 MB/);
  });

  it('rejects a bloated styles.xml, and one with too many cell formats', async () => {
    const bloated = await deflateRepeated(
      `<styleSheet xmlns="${NS}"><cellXfs>`,
      '<xf numFmtId="0"/>',
      2_500_000,
      '</cellXfs></styleSheet>',
    );
    const path = save(workbook({ 'xl/styles.xml': { packed: bloated.packed, size: bloated.size } }));
    let err = await rejection(path);
    expect(err.messageZh).toMatch(/^工作簿解压后异常庞大/);
    err = await rejection(path, { limits: { maxRatio: 10 ** 6 } });
    expect(err.message).toMatch(
      /xl\/styles\.xml of .* declares 45,[\d,]+ bytes \(cap 33,554,432, GUIJI_XLSX_MAX_STYLES_BYTES\)/,
    );
    expect(err.messageZh).toMatch(/其中一个部件超过 32 MB/);
    const many = `<styleSheet xmlns="${NS}"><cellXfs>${'<xf numFmtId="0"/>'.repeat(70_000)}</cellXfs></styleSheet>`;
    err = await rejection(save(workbook({ 'xl/styles.xml': many })), { limits: { maxRatio: 10 ** 6 } });
    expect(err.message).toMatch(/holds more than 65,536 cell formats \(GUIJI_XLSX_MAX_CELL_FORMATS\)/);
    expect(err.messageZh).toMatch(/^工作簿中的单元格格式数量异常（超过 65,536 种）/);
  });
});

// ─────────────────────────────────────────── strings and cells ───────────────────────────────────────────

describe('shared strings, cells, sheets and the grid have limits', () => {
  const strings = (list: string[]) =>
    `<sst xmlns="${NS}">${list.map((s) => `<si><t>${s}</t></si>`).join('')}</sst>`;

  it('caps the number, the characters and the memory of the shared strings', async () => {
    const path = save(workbook({ 'xl/sharedStrings.xml': strings(['a', 'bb', 'ccc', 'dddd']) }));
    let err = await rejection(path, { limits: { maxSharedStrings: 3 } });
    expect(err.message).toMatch(/more than 3 strings \(GUIJI_XLSX_MAX_SHARED_STRINGS\)/);
    expect(err.messageZh).toMatch(
      /^工作簿中不重复的文字超过 3 项，数量异常，请删除多余内容或将数据拆分为多个较小的工作簿/,
    );
    err = await rejection(path, { limits: { maxSharedChars: 9 } });
    expect(err.message).toMatch(/more than 9 characters \(GUIJI_XLSX_MAX_SHARED_CHARS\)/);
    expect(err.messageZh).toMatch(/^工作簿中的文字总量超过 9 个字符/);
    err = await rejection(path, { sharedStringsHeapBytes: 100 });
    expect(err.message).toMatch(/need more than 1 MB of memory, over the 1 MB this process can give them/);
    expect(err.messageZh).toMatch(
      /^工作簿中的文字内容过多（读取需要超过 1 MB 内存），超出了本程序可用的内存/,
    );
  });

  it('names the sheet, row and column of a cell over 32,767 characters', async () => {
    const long = '长'.repeat(32_768);
    // a shared string: rejected where a row refers to it
    let err = await rejection(
      save(
        workbook({
          'xl/sharedStrings.xml': strings(['统一社会信用代码', long]),
          'xl/worksheets/sheet1.xml': rowsXml(
            '<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="3"><c r="B3" t="s"><v>1</v></c></row>',
          ),
        }),
      ),
    );
    expect(err.message).toMatch(
      /sheet "名单" of .*: cell B3 holds 32,768 characters, over 32,767 \(GUIJI_XLSX_MAX_CELL_CHARS\)/,
    );
    expect(err.messageZh).toBe(
      '工作表“名单”第 3 行 B 列的单元格有 32,768 个字符，超过 Excel 单元格的上限 32,767 个字符，请删减该单元格的内容后重新提交',
    );
    expect(err.context).toMatchObject({ sheet: '名单', row: 3 });
    // an inline string and a formula's text
    for (const cell of [
      `<c r="AB7" t="inlineStr"><is><t>${long}</t></is></c>`,
      `<c r="AB7" t="str"><f>x</f><v>${long}</v></c>`,
    ]) {
      err = await rejection(
        save(workbook({ 'xl/worksheets/sheet1.xml': rowsXml(`<row r="7">${cell}</row>`) })),
      );
      expect(err.messageZh).toMatch(/^工作表“名单”第 7 行 AB 列的单元格有 32,768 个字符/);
    }
    // exactly at the limit is fine
    const ok = save(
      workbook({
        'xl/worksheets/sheet1.xml': rowsXml(
          `<row r="1"><c t="inlineStr"><is><t>${long.slice(1)}</t></is></c></row>`,
        ),
      }),
    );
    expect((await readAll(ok))[0]?.cells[0]).toHaveLength(32_767);
  });

  it('rejects a 40 MB cell without holding more than its row', async () => {
    const sheet = await deflateRepeated(
      `<worksheet xmlns="${NS}"><sheetData><row r="1"><c r="A1"><v>1</v></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>`,
      '单元格内容',
      2_800_000,
      '</t></is></c></row></sheetData></worksheet>',
    );
    const path = save(workbook({ 'xl/worksheets/sheet1.xml': { packed: sheet.packed, size: sheet.size } }));
    const err = await rejection(path, { limits: { maxRatio: 10 ** 6 } });
    expect(err.message).toMatch(/row 2: one row \(or an element after row 1\) holds more than 16 MB of XML/);
    expect(err.messageZh).toMatch(
      /^工作表“名单”第 2 行的数据异常庞大（超过 16 MB），可能有单元格超过 Excel 的上限 32,767 个字符/,
    );
    // and as one shared string
    const sst = await deflateRepeated(
      `<sst xmlns="${NS}"><si><t>a</t></si><si><t>`,
      '单元格内容',
      2_800_000,
      '</t></si></sst>',
    );
    const err2 = await rejection(
      save(workbook({ 'xl/sharedStrings.xml': { packed: sst.packed, size: sst.size } })),
      {
        limits: { maxRatio: 10 ** 6 },
      },
    );
    expect(err2.message).toMatch(/sharedStrings\.xml of .*: string 2 is over 16 MB of XML/);
    expect(err2.messageZh).toMatch(
      /^工作簿中有单元格的文字异常庞大（超过 16 MB），远超 Excel 单元格的上限 32,767 个字符/,
    );
  });

  it('caps the sheets, the rows and the columns', async () => {
    const three = workbook({
      'xl/workbook.xml': sheetsXml(['一', '二', '三']),
    });
    let err = await rejection(save(three), { limits: { maxSheets: 2 } });
    expect(err.message).toMatch(/more than 2 sheets \(GUIJI_XLSX_MAX_SHEETS\)/);
    expect(err.messageZh).toMatch(/^工作簿中的工作表超过 2 个，数量异常/);
    err = await rejection(
      save(workbook({ 'xl/worksheets/sheet1.xml': rowsXml('<row r="1048577"><c><v>1</v></c></row>') })),
    );
    expect(err.message).toMatch(/row 1048577: row number over 1,048,576 \(GUIJI_XLSX_MAX_ROWS\)/);
    expect(err.messageZh).toMatch(/^工作表“名单”第 1048577 行超出了工作表的最大行数 1,048,576/);
    err = await rejection(
      save(workbook({ 'xl/worksheets/sheet1.xml': rowsXml('<row r="4"><c r="XFE4"><v>1</v></c></row>') })),
    );
    expect(err.messageZh).toMatch(/^工作表“名单”第 4 行有数据超出了最大列 XFD（第 16,384 列）/);
    err = await rejection(save(workbook()), { limits: { maxColumns: 2 } });
    expect(err.messageZh).toMatch(/^工作表“名单”第 2 行有数据超出了最大列 B（第 2 列）/);
  });
});

// ─────────────────────────────────────────── malformed workbooks ───────────────────────────────────────────

/** A minimal OLE2 compound file whose first directory sector names these streams. */
function compoundFile(streams: string[]): Buffer {
  const header = Buffer.alloc(512);
  Buffer.from('d0cf11e0a1b11ae1', 'hex').copy(header, 0);
  header.writeUInt16LE(0x3e, 0x18);
  header.writeUInt16LE(3, 0x1a);
  header.writeUInt16LE(0xfffe, 0x1c);
  header.writeUInt16LE(9, 0x1e);
  header.writeUInt16LE(6, 0x20);
  header.writeUInt32LE(0, 0x30);
  const dir = Buffer.alloc(512);
  ['Root Entry', ...streams].slice(0, 4).forEach((name, i) => {
    dir.write(name, i * 128, 'utf16le');
    dir.writeUInt16LE((name.length + 1) * 2, i * 128 + 0x40);
    dir[i * 128 + 0x42] = i === 0 ? 5 : 2;
  });
  return Buffer.concat([header, dir, Buffer.alloc(1024)]);
}

describe('malformed workbooks are rejected with a reason, never a crash or a hang', () => {
  const cases: [what: string, file: () => Buffer, zh: RegExp, en: RegExp][] = [
    [
      'a truncated zip',
      () => workbook().subarray(0, 300),
      /^工作簿文件不完整或已损坏（可能上传或复制时中断）/,
      /is truncated or damaged/,
    ],
    [
      'a zip without workbook.xml',
      () => workbook({ 'xl/workbook.xml': undefined, '_rels/.rels': undefined }),
      /^文件是压缩包，但其中没有 Excel 工作簿，不是 \.xlsx 工作簿/,
      /a zip file without xl\/workbook\.xml/,
    ],
    [
      'a missing sheet part',
      () => workbook({ 'xl/worksheets/sheet1.xml': undefined }),
      /^工作簿中缺少工作表“名单”的数据，文件不完整或已损坏/,
      /worksheet "名单" \(xl\/worksheets\/sheet1\.xml\) is missing/,
    ],
    [
      'sheet XML cut mid-tag',
      () =>
        workbook({
          'xl/worksheets/sheet1.xml': `<worksheet xmlns="${NS}"><sheetData><row r="1"><c r="A1"><v>1</v></c></row><row r="2"><c r="A2" t="s`,
        }),
      /^工作表“名单”的数据在第 1 行之后中断（文件不完整或已损坏）/,
      /ends before its <\/sheetData> \(after row 1\)/,
    ],
    [
      'a shared string index out of range',
      () =>
        workbook({ 'xl/worksheets/sheet1.xml': rowsXml('<row r="1"><c r="A1" t="s"><v>99</v></c></row>') }),
      /^工作表“名单”第 1 行引用了不存在的共享文字（第 99 项，工作簿只有 3 项），文件已损坏/,
      /row 1: refers to shared string 99, but the workbook has 3/,
    ],
    [
      'a row number that is not one',
      () =>
        workbook({
          'xl/worksheets/sheet1.xml': rowsXml(
            '<row r="1"><c r="A1"><v>1</v></c></row><row r="-3"><c><v>2</v></c></row>',
          ),
        }),
      /^工作表“名单”第 2 行的行号无效，文件已损坏$/,
      /row 2: bad row number/,
    ],
    [
      'an undefined entity in a cell',
      () =>
        workbook({
          'xl/worksheets/sheet1.xml': rowsXml(
            '<row r="5"><c r="A5" t="inlineStr"><is><t>A &nbsp; B</t></is></c></row>',
          ),
        }),
      /^工作表“名单”第 5 行含有无效的字符或转义符号/,
      /row 5: invalid entity "&nbsp; B"/,
    ],
    [
      'a character reference to NUL',
      () =>
        workbook({
          'xl/worksheets/sheet1.xml': rowsXml('<row r="6"><c r="A6" t="str"><v>a&#0;b</v></c></row>'),
        }),
      /^工作表“名单”第 6 行含有无效的字符或转义符号/,
      /invalid character reference "&#0;"/,
    ],
    [
      'an invalid entity in a shared string',
      () => workbook({ 'xl/sharedStrings.xml': `<sst xmlns="${NS}"><si><t>a & b</t></si></sst>` }),
      /^工作簿文件内容不符合格式（含有无效的字符或转义符号）/,
      /invalid entity "& b"/,
    ],
    [
      'an invalid entity in a sheet name',
      () => workbook({ 'xl/workbook.xml': sheetsXml(['A&#xFFFFFFFF;']) }),
      /^工作簿文件内容不符合格式/,
      /invalid (character reference|entity)/,
    ],
    [
      'an encrypted (OLE) .xlsx',
      () => compoundFile(['EncryptionInfo', 'EncryptedPackage', '\u0006DataSpaces']),
      /^工作簿设置了打开密码（已加密），无法读取，请取消密码后重新保存为 \.xlsx 文件再提交$/,
      /is a password-protected \(encrypted\) workbook/,
    ],
    [
      'an .xls renamed .xlsx',
      () => compoundFile(['Workbook', '\u0005SummaryInformation']),
      /^文件是旧版 Excel 97-2003（\.xls）格式，请在 Excel 或 WPS 中“另存为” \.xlsx 格式后提交$/,
      /is a legacy Excel 97-2003 \(\.xls\) workbook/,
    ],
    [
      'an entry compressed with an unsupported method (LZMA)',
      () => workbook({ 'xl/workbook.xml': { packed: Buffer.from('not lzma'), size: 100, method: 14 } }),
      /^工作簿使用了不支持的压缩方式/,
      /unsupported zip compression method \(14\)/,
    ],
    [
      'duplicated entry names',
      () =>
        zipOf([
          { name: 'xl/worksheets/sheet1.xml', data: rowsXml('') },
          ...['_rels/.rels', 'xl/workbook.xml', 'xl/_rels/workbook.xml.rels'].map((name) => ({
            name,
            data: {
              '_rels/.rels': ROOT_RELS,
              'xl/workbook.xml': sheetsXml(['名单']),
              'xl/_rels/workbook.xml.rels': WB_RELS,
            }[name]!,
          })),
          { name: 'xl/Worksheets/Sheet1.xml', data: rowsXml('<row r="1"><c><v>666</v></c></row>') },
        ]),
      /^工作簿文件已损坏/,
      /holds two zip entries named xl\/Worksheets\/Sheet1\.xml/,
    ],
    [
      'a zip64 entry that declares more than it holds',
      () => workbook({ 'xl/worksheets/sheet1.xml': { data: rowsXml(''), declared: 3 * 1024 ** 3 } }, true),
      /^工作簿解压后异常庞大/,
      /declares 3,221,225,472 bytes/,
    ],
    [
      'a damaged deflate stream',
      () =>
        workbook({
          'xl/workbook.xml': { packed: Buffer.from('\xff\xff\xff\xff garbage'), size: 100 },
        }),
      /^工作簿文件已损坏/,
      /cannot read xl\/workbook\.xml/,
    ],
    [
      'twenty thousand and one zip entries',
      () => zipOf(Array.from({ length: 20_001 }, (_, i) => ({ name: `x/${i}`, data: '', method: 0 }))),
      /^文件中包含的部件数量异常（20,001 个）/,
      /holds 20,001 zip entries/,
    ],
  ];

  for (const [what, file, zh, en] of cases) {
    it(`rejects ${what}`, async () => {
      const err = await rejection(save(file()));
      expect(err.code).toBe('GUIJI_ERR_FILE');
      expect(err.messageZh).toMatch(zh);
      expect(err.message).toMatch(en);
      // the clerk reads Chinese only, and no one reads a server path
      expect(err.messageZh).not.toMatch(/[A-Za-z]{6,}|\/tmp|\\/);
      expect(err.message).not.toContain(tmp);
    });
  }

  it('reads a valid zip64 workbook', async () => {
    expect(await readAll(save(workbook({}, true)))).toEqual(GOOD_ROWS);
  });

  it('stays linear on a styles.xml of tags that never close', async () => {
    const open = `<styleSheet xmlns="${NS}"><numFmts>${'<numFmt numFmtId="1" formatCode="'.repeat(200_000)}`;
    const path = save(workbook({ 'xl/styles.xml': open }));
    const lifted = { limits: { maxRatio: 10 ** 6 } };
    // no cell format survives: the date is read as its serial number
    expect(await readAll(path, lifted)).toEqual([
      GOOD_ROWS[0],
      { rowNumber: 2, cells: ['91110000100003962T', '某某有限公司', 45366] },
    ]);
    const attrs = `<styleSheet xmlns="${NS}"><cellXfs><xf ${'a'.repeat(3_000_000)}/></cellXfs></styleSheet>`;
    expect(await readAll(save(workbook({ 'xl/styles.xml': attrs })), lifted)).toHaveLength(2);
  });
});

// ─────────────────────────────────────────── in a capped child process ───────────────────────────────────────────

describe('in a process whose heap is capped at 300 MB (as npm start runs guiji)', () => {
  const script = join(tmp, 'open-child.mts');
  writeFileSync(
    script,
    `import { openXlsx } from ${JSON.stringify(join(ROOT, 'connectors/spreadsheet/xlsx-reader.ts'))};
const [file, limits] = process.argv.slice(2);
let result;
try {
  const wb = await openXlsx(file, { limits: JSON.parse(limits) });
  let rows = 0;
  for (const s of wb.sheets) for await (const _ of wb.rows(s.name)) rows++;
  await wb.close();
  result = { rows };
} catch (err) {
  result = { name: err.name, code: err.code, message: err.message, messageZh: err.messageZh };
}
console.log(JSON.stringify({ ...result, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
`,
  );
  function child(file: string, limits: object) {
    const res = spawnSync(
      process.execPath,
      ['--max-old-space-size=300', '--import', 'tsx', script, file, JSON.stringify(limits)],
      { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 },
    );
    expect(res.status, res.stderr.slice(-2000)).toBe(0);
    return JSON.parse(res.stdout.trim().split('\n').pop()!) as {
      name?: string;
      code?: string;
      messageZh?: string;
      message?: string;
      maxRssMb: number;
    };
  }

  it('rejects the shared-strings bomb, even with the count caps lifted, and stays under 400 MB', async () => {
    const bomb = await deflateRepeated(`<sst xmlns="${NS}">`, '<si><t>ab</t></si>', 11_700_000, '</sst>');
    const path = save(
      workbook({ 'xl/sharedStrings.xml': { packed: bomb.packed, size: bomb.size } }),
      'child-bomb.xlsx',
    );
    const byRatio = child(path, {});
    expect(byRatio).toMatchObject({ name: 'FileError', code: 'GUIJI_ERR_FILE' });
    expect(byRatio.messageZh).toMatch(/压缩比超过 100 倍/);
    expect(byRatio.maxRssMb).toBeLessThan(400);
    // every count cap lifted: the memory the strings would need is what stops them
    const lifted = { maxRatio: 10 ** 6, maxSharedStrings: 10 ** 9, maxSharedChars: 10 ** 10 };
    const byHeap = child(path, lifted);
    expect(byHeap).toMatchObject({ name: 'FileError', code: 'GUIJI_ERR_FILE' });
    expect(byHeap.messageZh).toMatch(
      /^工作簿中的文字内容过多（读取需要超过 \d+ MB 内存），超出了本程序可用的内存/,
    );
    expect(byHeap.maxRssMb).toBeLessThan(400);
  });

  it('rejects a 200 MB cell and stays under 400 MB', async () => {
    const sheet = await deflateRepeated(
      `<worksheet xmlns="${NS}"><sheetData><row r="1"><c t="inlineStr"><is><t>`,
      '单元格内容很长',
      10_000_000,
      '</t></is></c></row></sheetData></worksheet>',
    );
    expect(sheet.size).toBeGreaterThan(200 * 1024 ** 2);
    const path = save(workbook({ 'xl/worksheets/sheet1.xml': { packed: sheet.packed, size: sheet.size } }));
    const r = child(path, { maxRatio: 10 ** 6 });
    expect(r).toMatchObject({ name: 'FileError', code: 'GUIJI_ERR_FILE' });
    expect(r.messageZh).toMatch(/^工作表“名单”第 1 行的数据异常庞大（超过 16 MB）/);
    expect(r.maxRssMb).toBeLessThan(400);
  });

  it('still reads a good workbook', () => {
    const r = child(save(workbook()), {});
    expect(r).toMatchObject({ rows: 2 });
  });
});

// the file written by LibreOffice in test/fixtures must keep reading the same under explicit default caps
describe('explicit defaults change nothing', () => {
  it('reads the LibreOffice fixture identically', async () => {
    const path = join(import.meta.dirname, 'fixtures', 'xlsx', 'libreoffice.xlsx');
    expect(await readAll(path, { limits: { ...DEFAULT_XLSX_LIMITS } })).toEqual(await readAll(path));
    expect(readFileSync(path).length).toBeGreaterThan(0);
  });
});
