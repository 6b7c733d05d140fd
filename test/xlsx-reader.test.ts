import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  excelSerialToDate,
  isDateFormatCode,
  openXlsx,
  type XlsxOpenOptions,
  type XlsxRow,
} from '../connectors/spreadsheet/xlsx-reader.js';
import { FileError } from '../lib/errors.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'xlsx');
const fixture = (name: string) => join(FIXTURES, name);
const tmp = mkdtempSync(join(tmpdir(), 'guiji-xlsx-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const utc = (y: number, m: number, d: number, h = 0, mi = 0, s = 0) =>
  new Date(Date.UTC(y, m - 1, d, h, mi, s));

async function readSheet(path: string, sheet: string, options?: XlsxOpenOptions): Promise<XlsxRow[]> {
  const wb = await openXlsx(path, options);
  try {
    const rows: XlsxRow[] = [];
    for await (const row of wb.rows(sheet)) rows.push(row);
    return rows;
  } finally {
    await wb.close();
  }
}

async function readAll(path: string, options?: XlsxOpenOptions): Promise<Record<string, XlsxRow[]>> {
  const wb = await openXlsx(path, options);
  try {
    const out: Record<string, XlsxRow[]> = {};
    for (const sheet of wb.sheets) {
      const rows: XlsxRow[] = [];
      for await (const row of wb.rows(sheet.name)) rows.push(row);
      out[sheet.name] = rows;
    }
    return out;
  } finally {
    await wb.close();
  }
}

/** A minimal zip writer (deflated or stored entries) for hand-made workbooks. */
function makeZip(files: [name: string, content: string | Buffer, stored?: boolean][]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, content, stored] of files) {
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
    const packed = stored ? data : deflateRawSync(data);
    const nameBuf = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(stored ? 0 : 8, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(stored ? 0 : 8, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBuf, packed);
    centrals.push(central, nameBuf);
    offset += local.length + nameBuf.length + packed.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

const NS = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
const ROOT_RELS = `<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="${REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>`;

function workbookFiles(sheetXml: string, sharedStrings?: string): [string, string][] {
  const files: [string, string][] = [
    ['_rels/.rels', ROOT_RELS],
    [
      'xl/workbook.xml',
      `<workbook xmlns="${NS}" xmlns:r="${REL}"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>`,
    ],
    [
      'xl/_rels/workbook.xml.rels',
      `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="${REL}/worksheet" Target="worksheets/sheet1.xml"/>
<Relationship Id="rId2" Type="${REL}/sharedStrings" Target="sharedStrings.xml"/></Relationships>`,
    ],
    ['xl/worksheets/sheet1.xml', sheetXml],
  ];
  if (sharedStrings !== undefined) files.push(['xl/sharedStrings.xml', sharedStrings]);
  return files;
}

/** Edge cases: `x:` prefixes, 1904 dates, rows and cells without `r`, phonetic runs, escapes, CDATA… */
const EDGE_SHEET = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<x:worksheet xmlns:x="${NS}"><x:dimension ref="A1:G8"/><x:sheetData>
<x:row r="2" spans="2:3"><x:c r="B2" t="s"><x:v>0</x:v></x:c><x:c t="s"><x:v>1</x:v></x:c></x:row>
<x:row><x:c t="inlineStr"><x:is><x:t xml:space="preserve"> 内联 </x:t><x:rPh sb="0" eb="1"><x:t>ネイ</x:t></x:rPh></x:is></x:c><x:c s="1"><x:v>0</x:v></x:c><x:c s="2"><x:v>1.5</x:v></x:c><x:c s="3"><x:v>1.5E-3</x:v></x:c><x:c t="inlineStr"><x:is><x:r><x:rPr><x:b/><x:rFont val="宋体"/></x:rPr><x:t>粗</x:t></x:r><x:r><x:rPr/><x:t>体</x:t></x:r></x:is></x:c></x:row>
<x:row r="5" spans="1:3"/>
<!-- a comment with a fake <x:row r="99"><x:c><x:v>1</x:v></x:c></x:row> -->
<x:row><x:c r="A6" t="b"><x:v>0</x:v></x:c><x:c r="C6" t="e"><x:v>#DIV/0!</x:v></x:c><x:c r="D6" t="d"><x:v>2024-02-29T08:30:00</x:v></x:c><x:c r="E6" t="str"><x:f>A1&amp;"&gt;"</x:f><x:v>a&lt;b&gt;</x:v></x:c><x:c r="F6" s="1"/><x:c r="G6" t="s"><x:v>2</x:v></x:c></x:row>
<x:row r="7" customHeight="1" ht='20'><x:c r="A7" t="s"><x:v>3</x:v></x:c><x:c r="B7" s="3"><x:f>1/0</x:f></x:c></x:row>
<x:row r="8"><x:c r="A8" t="s"><x:v>4</x:v></x:c><x:c r="B8" t="s"><x:v>5</x:v></x:c><x:c r="C8" t="s"><x:v>6</x:v></x:c></x:row>
<x:row r="9"><x:c r="A9" t="s"><x:v>4</x:v></x:c><x:c r="B9" t="str"><x:v></x:v></x:c></x:row>
</x:sheetData><x:pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></x:worksheet>`;

const EDGE_STRINGS = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="${NS}" count="7" uniqueCount="7">
<si><t>甲</t></si>
<si><r><rPr/><t>富</t></r><r><rPr><b/><rFont val="宋体"/></rPr><t xml:space="preserve"> 文本</t></r><rPh sb="0" eb="1"><t>フ</t></rPh><phoneticPr fontId="1"/></si>
<si><t>line1_x000D_&#10;line2 _x005F_x000D_ &#x4E2D;&#20013;&amp;&apos;&quot;</t></si>
<si><t><![CDATA[<raw> & ]]>tail</t></si>
<si/>
<si><t/></si>
<si><t>emoji 😀 𠀀 end</t></si>
</sst>`;

const EDGE_STYLES = `<?xml version="1.0" encoding="UTF-8"?>
<styleSheet xmlns="${NS}"><numFmts count="3"><numFmt numFmtId="200" formatCode="[h]:mm:ss"/><numFmt numFmtId="201" formatCode="0.00E+00"/><numFmt numFmtId="202" formatCode="[Red]&quot;d&quot;0.00"/></numFmts>
<cellStyleXfs count="1"><xf numFmtId="14"/></cellStyleXfs>
<cellXfs count="5"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/><xf numFmtId="200"><alignment wrapText="1"/></xf><xf numFmtId="201"/><xf numFmtId="202"/></cellXfs></styleSheet>`;

function edgeWorkbook(): Buffer {
  return makeZip([
    ['[Content_Types].xml', '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'],
    ['_rels/.rels', ROOT_RELS],
    [
      'xl/workbook.xml',
      `<?xml version="1.0"?><x:workbook xmlns:x="${NS}" xmlns:rel="${REL}"><x:workbookPr date1904="1"/><x:sheets>` +
        `<x:sheet name="Data" sheetId="1" rel:id="rId1"/><x:sheet name="图表" sheetId="3" rel:id="rId3"/>` +
        `<x:sheet name="A&amp;B" sheetId="2" state="veryHidden" rel:id="rId2"/></x:sheets></x:workbook>`,
    ],
    [
      'xl/_rels/workbook.xml.rels',
      `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="${REL}/worksheet" Target="/xl/worksheets/data.xml"/>
<Relationship Id="rId2" Type="${REL}/worksheet" Target="worksheets/../worksheets/second.xml"/>
<Relationship Id="rId3" Type="${REL}/chartsheet" Target="chartsheets/sheet1.xml"/>
<Relationship Id="rId4" Type="${REL}/sharedStrings" Target="sharedStrings.xml"/>
<Relationship Id="rId5" Type="${REL}/styles" Target="styles.xml"/>
<Relationship Id="rId6" Type="${REL}/hyperlink" Target="https://example.org/" TargetMode="External"/></Relationships>`,
    ],
    ['xl/worksheets/data.xml', EDGE_SHEET],
    [
      'xl/worksheets/second.xml',
      `<worksheet xmlns="${NS}"><sheetData><row r="1"><c><v>1</v></c><c><v>2</v></c><c r="E1"><v>5</v></c><c><v>6</v></c></row></sheetData></worksheet>`,
      true,
    ],
    ['xl/chartsheets/sheet1.xml', `<chartsheet xmlns="${NS}"/>`],
    ['xl/styles.xml', EDGE_STYLES],
    ['xl/sharedStrings.xml', EDGE_STRINGS],
  ]);
}

describe('openXlsx on a workbook written by exceljs', () => {
  it('lists the sheets in tab order, hidden ones marked', async () => {
    const wb = await openXlsx(fixture('exceljs.xlsx'));
    expect(wb.sheets).toEqual([
      { name: '行政许可', index: 0, state: 'visible' },
      { name: '日期格式', index: 1, state: 'visible' },
      { name: '隐藏', index: 2, state: 'hidden' },
    ]);
    await wb.close();
  });

  it('reads the title row, the header and typed cells with their row numbers', async () => {
    const rows = await readSheet(fixture('exceljs.xlsx'), '行政许可');
    expect(rows).toEqual([
      { rowNumber: 1, cells: ['2024年第一季度行政许可信息（报送单位：市市场监督管理局）'] },
      {
        rowNumber: 2,
        cells: [
          '统一社会信用代码',
          '企业名称',
          '许可决定日期',
          '登记日期（文本）',
          '许可金额',
          '备注',
          '金额×2',
          '是否公示',
          '核验结果',
        ],
      },
      {
        rowNumber: 3,
        cells: [
          '91110000100003962T',
          '北京某某科技有限公司',
          utc(2024, 3, 15), // a real date cell
          '2024/3/16', // a date typed as text stays text
          12345.67,
          '重点监管对象', // rich text runs joined
          24691.34, // the formula's cached result
          true,
          '#N/A',
        ],
      },
      {
        rowNumber: 4,
        cells: [
          '91440300MA5FXXXX0X',
          '深圳<某>&"某"贸易有限公司',
          null,
          null,
          -0.5,
          '第一行\n第二行',
          null,
          null,
          '  前导空格',
        ],
      },
      // row 5 holds only a styled empty cell: not yielded
      { rowNumber: 6, cells: [null, null, null, null, null, null, null, null, null, null, null, 42] },
    ]);
  });

  it('turns numbers with date formats into UTC dates, and leaves other formats as numbers', async () => {
    const rows = await readSheet(fixture('exceljs.xlsx'), '日期格式');
    expect(rows.map((r) => r.cells[1])).toEqual([
      '值',
      utc(2023, 12, 31), // yyyy"年"m"月"d"日"
      utc(2020, 2, 29), // [$-F800]dddd\,\ mmmm\ dd\,\ yyyy
      utc(2014, 10, 1), // yyyy/m/d;@
      utc(2024, 6, 30, 13, 45, 30), // yyyy-mm-dd hh:mm:ss
      1234.5, // #,##0.00 "元"
      0.125, // 0.00%
    ]);
  });

  it('reads inline strings and formula strings (streaming writer, no shared strings)', async () => {
    const rows = await readSheet(fixture('exceljs-stream.xlsx'), 'Sheet1');
    expect(rows).toEqual([
      { rowNumber: 1, cells: ['编号', '名称', '说明'] },
      { rowNumber: 2, cells: [1, '内联字符串', '富文本内联'] },
      { rowNumber: 3, cells: [2, 'A&B <C>'] },
    ]);
  });
});

describe('openXlsx on workbooks written by LibreOffice', () => {
  it('reads every sheet of a converted ODS: codes stored as numbers, dates, rich text, gaps', async () => {
    const wb = await openXlsx(fixture('libreoffice.xlsx'));
    expect(wb.sheets.map((s) => s.name)).toEqual(['许可信息', '处罚信息', 'Sheet3']);
    await wb.close();
    const all = await readAll(fixture('libreoffice.xlsx'));
    expect(all['许可信息']).toEqual([
      { rowNumber: 1, cells: ['2024年行政许可信息汇总表'] },
      { rowNumber: 2, cells: ['统一社会信用代码', '企业名称', '许可日期', '金额', '备注'] },
      // LibreOffice keeps 15 digits of the 18-digit code: 9.11589460454873E+017
      {
        rowNumber: 3,
        cells: [911589460454873000, '广州市某某餐饮管理有限公司', utc(2024, 3, 15), 5000, '重点监管'],
      },
      { rowNumber: 4, cells: ['91110000100003962T', null, null, 12345.67, '第一行\n第二行'] },
      // row 5 was empty
      { rowNumber: 6, cells: ['91440300MA5FXXXX0X', 'A&B <公司>', utc(2023, 12, 31), null, '末列'] },
    ]);
    expect(all['处罚信息']).toEqual([
      { rowNumber: 1, cells: ['决定书文号', '处罚决定日期', '罚款金额（万元）'] },
      { rowNumber: 2, cells: ['穗市监罚〔2024〕1号', utc(2024, 6, 30, 13, 45), 0.5] },
      // LibreOffice writes 1900-01-01 as serial 2 (it has no phantom 1900-02-29); Excel reads it as 1900-01-02
      { rowNumber: 3, cells: ['穗市监罚〔2024〕2号', utc(1900, 1, 2), -12.25] },
    ]);
    expect(all['Sheet3']).toEqual([]);
  });

  it('reads a CSV converted by LibreOffice as a department would send it', async () => {
    const rows = await readSheet(fixture('libreoffice-csv.xlsx'), 'libreoffice-csv');
    expect(rows).toEqual([
      { rowNumber: 1, cells: ['统一社会信用代码', '企业名称', '成立日期', '注册资本（万元）', '备注'] },
      { rowNumber: 2, cells: [911589460454873000, '某某建设工程有限公司', utc(2014, 10, 1), 500] },
      // "9124072911152E5384" was read as a number and overflowed
      {
        rowNumber: 3,
        cells: [1.7976931348623157e308, '某某物流有限公司', utc(2019, 5, 20), null, '科学计数法被误读'],
      },
      {
        rowNumber: 4,
        cells: ['91110000100003962T', '某某"引号"有限公司', utc(2020, 2, 29), 1000.5, '含,逗号'],
      },
    ]);
  });

  it('stores sharedStrings.xml after the sheets (the case this reader exists for)', () => {
    const buf = readFileSync(fixture('libreoffice.xlsx'));
    expect(buf.indexOf('xl/sharedStrings.xml')).toBeGreaterThan(buf.indexOf('xl/worksheets/sheet1.xml'));
  });
});

describe('openXlsx on hand-made workbooks', () => {
  const edgePath = join(tmp, 'edge.xlsx');
  writeFileSync(edgePath, edgeWorkbook());

  const EXPECTED_DATA: XlsxRow[] = [
    { rowNumber: 2, cells: [null, '甲', '富 文本'] },
    {
      rowNumber: 3,
      cells: [
        ' 内联 ', // phonetic run left out, spaces kept
        utc(1904, 1, 1), // serial 0 in the 1904 system
        utc(1904, 1, 2, 12), // [h]:mm:ss is a date/time format
        0.0015, // 0.00E+00 is not
        '粗体', // prefixed rich-text runs
      ],
    },
    // row 5 is self-closing, the commented-out row 99 does not exist
    {
      rowNumber: 6,
      cells: [
        false,
        null,
        '#DIV/0!',
        utc(2024, 2, 29, 8, 30),
        'a<b>',
        null,
        'line1\r\nline2 _x000D_ 中中&\'"',
      ],
    },
    { rowNumber: 7, cells: ['<raw> & tail'] }, // B7: a formula without a cached value
    { rowNumber: 8, cells: [null, null, 'emoji 😀 𠀀 end'] }, // <si/> and <t/> are empty strings: null
    // row 9: only empty strings: not yielded
  ];

  it('follows relationships (absolute, relative, ../), skips chart sheets, decodes names', async () => {
    const wb = await openXlsx(edgePath);
    expect(wb.sheets).toEqual([
      { name: 'Data', index: 0, state: 'visible' },
      { name: 'A&B', index: 1, state: 'veryHidden' },
    ]);
    await wb.close();
  });

  it('reads prefixed XML, 1904 dates, cells and rows without r, phonetic runs, escapes, CDATA', async () => {
    expect(await readSheet(edgePath, 'Data')).toEqual(EXPECTED_DATA);
    expect(await readSheet(edgePath, 'A&B')).toEqual([{ rowNumber: 1, cells: [1, 2, null, null, 5, 6] }]);
  });

  it('gives the same rows whatever the chunk boundaries (mid-tag, mid-entity, mid-character)', async () => {
    for (const chunkSize of [64, 65, 97, 128, 1000]) {
      expect(await readSheet(edgePath, 'Data', { chunkSize })).toEqual(EXPECTED_DATA);
    }
    for (const name of ['exceljs.xlsx', 'exceljs-stream.xlsx', 'libreoffice.xlsx', 'libreoffice-csv.xlsx']) {
      const whole = await readAll(fixture(name));
      expect(await readAll(fixture(name), { chunkSize: 64 })).toEqual(whole);
      expect(await readAll(fixture(name), { chunkSize: 77 })).toEqual(whole);
    }
  });

  it('reads a workbook without shared strings or styles, and stops early when asked', async () => {
    const rows = Array.from(
      { length: 500 },
      (_, i) =>
        `<row r="${i + 1}"><c r="A${i + 1}"><v>${i}</v></c><c r="B${i + 1}" t="inlineStr"><is><t>行${i}</t></is></c></row>`,
    ).join('');
    const path = join(tmp, 'plain.xlsx');
    writeFileSync(
      path,
      makeZip(workbookFiles(`<worksheet xmlns="${NS}"><sheetData>${rows}</sheetData></worksheet>`)),
    );
    const wb = await openXlsx(path, { chunkSize: 256 });
    const seen: XlsxRow[] = [];
    for await (const row of wb.rows('S')) {
      seen.push(row);
      if (seen.length === 3) break;
    }
    expect(seen).toEqual([
      { rowNumber: 1, cells: [0, '行0'] },
      { rowNumber: 2, cells: [1, '行1'] },
      { rowNumber: 3, cells: [2, '行2'] },
    ]);
    // read again from the start, and two sheets' worth at once
    const [a, b] = await Promise.all([collect(wb.rows('S')), collect(wb.rows('s'))]);
    expect(a).toHaveLength(500);
    expect(b).toEqual(a);
    expect(a[499]).toEqual({ rowNumber: 500, cells: [499, '行499'] });
    expect(() => wb.rows('Nope')).toThrow(/no worksheet named "Nope" \(it has: S\)/);
    await wb.close();
    await wb.close();
  });
});

async function collect(it: AsyncIterable<XlsxRow>): Promise<XlsxRow[]> {
  const out: XlsxRow[] = [];
  for await (const row of it) out.push(row);
  return out;
}

describe('openXlsx on files that are not workbooks', () => {
  async function openError(path: string): Promise<FileError> {
    try {
      const wb = await openXlsx(path);
      await wb.close();
    } catch (err) {
      expect(err).toBeInstanceOf(FileError);
      return err as FileError;
    }
    throw new Error(`${path} opened`);
  }

  it('rejects a truncated workbook (the first half of a real one)', async () => {
    const real = readFileSync(fixture('libreoffice.xlsx'));
    const path = join(tmp, 'half.xlsx');
    writeFileSync(path, real.subarray(0, Math.floor(real.length / 2)));
    const err = await openError(path);
    expect(err.message).toMatch(/^not a valid \.xlsx \(zip\) file: half\.xlsx is truncated or damaged/);
    expect(err.messageZh).toMatch(/^工作簿文件不完整或已损坏/);
  });

  it('rejects junk named .xlsx', async () => {
    const path = join(tmp, 'junk.xlsx');
    writeFileSync(path, '统一社会信用代码,企业名称\n91110000100003962T,某某公司\n');
    const err = await openError(path);
    expect(err.message).toMatch(
      /^not a valid \.xlsx \(zip\) file: junk\.xlsx does not start with a zip signature/,
    );
    expect(err.messageZh).toMatch(/^文件不是 \.xlsx 工作簿/);
  });

  it('rejects an empty file', async () => {
    const path = join(tmp, 'empty.xlsx');
    writeFileSync(path, '');
    const err = await openError(path);
    expect(err.message).toBe('not a valid .xlsx (zip) file: empty.xlsx is empty (0 bytes)');
    expect(err.messageZh).toMatch(/^文件是空的/);
  });

  it('recognises a legacy .xls (OLE2) renamed to .xlsx', async () => {
    const path = join(tmp, 'old.xlsx');
    writeFileSync(path, Buffer.concat([Buffer.from('d0cf11e0a1b11ae1', 'hex'), Buffer.alloc(504)]));
    const err = await openError(path);
    expect(err.message).toMatch(/legacy \.xls workbook or a password-protected \.xlsx/);
    expect(err.messageZh).toMatch(/旧版 \.xls 格式或设置了密码/);
  });

  it('rejects a zip without xl/workbook.xml, naming what it is', async () => {
    const path = join(tmp, 'ods.xlsx');
    writeFileSync(
      path,
      makeZip([
        ['mimetype', 'application/vnd.oasis.opendocument.spreadsheet', true],
        ['content.xml', '<x/>'],
      ]),
    );
    const err = await openError(path);
    expect(err.message).toMatch(/^not a valid \.xlsx file: ods\.xlsx is an OpenDocument spreadsheet/);
    expect(err.messageZh).toMatch(/^文件是 OpenDocument（\.ods）表格，不是 \.xlsx 工作簿/);
    const other = join(tmp, 'other.xlsx');
    writeFileSync(other, makeZip([['readme.txt', 'hello']]));
    expect((await openError(other)).message).toMatch(/a zip file without xl\/workbook\.xml/);
  });

  it('lets a missing file fail as the system error it is', async () => {
    await expect(openXlsx(join(tmp, 'absent.xlsx'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('reports damaged sheet data while reading rows', async () => {
    // the deflated sheet cut in half: the zip directory is intact, the data is not
    const sheet = `<worksheet xmlns="${NS}"><sheetData>${'<row><c><v>1</v></c></row>'.repeat(2000)}</sheetData></worksheet>`;
    const good = makeZip(workbookFiles(sheet));
    const packed = deflateRawSync(Buffer.from(sheet));
    const start = good.indexOf(packed);
    expect(start).toBeGreaterThan(0);
    const damaged = Buffer.from(good);
    damaged.fill(0xff, start + 100, start + 140);
    const path = join(tmp, 'damaged.xlsx');
    writeFileSync(path, damaged);
    const wb = await openXlsx(path);
    await expect(collect(wb.rows('S'))).rejects.toBeInstanceOf(FileError);
    await wb.close();

    // a sheet whose XML stops before </sheetData>
    const cut = join(tmp, 'cut.xlsx');
    writeFileSync(
      cut,
      makeZip(
        workbookFiles(`<worksheet xmlns="${NS}"><sheetData><row r="1"><c><v>1</v></c></row><row r="2"><c>`),
      ),
    );
    const wb2 = await openXlsx(cut);
    await expect(collect(wb2.rows('S'))).rejects.toMatchObject({
      message: expect.stringMatching(/ends before its <\/sheetData> \(after row 1\): damaged workbook/),
      messageZh: '工作表“S”的数据在第 1 行之后中断（文件不完整或已损坏），请重新导出后提交',
    });
    await wb2.close();

    // a shared string index beyond the table
    const bad = join(tmp, 'bad-index.xlsx');
    writeFileSync(
      bad,
      makeZip(
        workbookFiles(
          `<worksheet xmlns="${NS}"><sheetData><row r="1"><c t="s"><v>5</v></c></row></sheetData></worksheet>`,
          `<sst xmlns="${NS}"><si><t>a</t></si></sst>`,
        ),
      ),
    );
    const wb3 = await openXlsx(bad);
    await expect(collect(wb3.rows('S'))).rejects.toMatchObject({
      message: expect.stringMatching(/row 1: refers to shared string 5, but the workbook has 1/),
      messageZh: expect.stringMatching(/^工作表“S”第 1 行引用了不存在的共享文字（第 5 项，工作簿只有 1 项）/),
    });
    await wb3.close();
  });
});

describe('date formats and serials', () => {
  it('recognises date formats outside quotes, escapes and brackets', () => {
    for (const code of [
      'yyyy/m/d;@',
      '[$-F800]dddd\\,\\ mmmm\\ dd\\,\\ yyyy',
      'yyyy"年"m"月"d"日"',
      'YYYY-MM-DD',
      '[DBNum1][$-804]yyyy"年"m"月"d"日"',
      'h:mm AM/PM',
      '[h]:mm:ss',
      '[mm]:ss',
    ]) {
      expect(isDateFormatCode(code), code).toBe(true);
    }
    for (const code of [
      'General',
      '0.00',
      '#,##0.00 "元"',
      '0.00E+00',
      '[Red]0.00',
      '"d"0',
      '0\\d',
      '@',
      '#,##0_);(#,##0)',
    ]) {
      expect(isDateFormatCode(code), code).toBe(false);
    }
  });

  it('converts serials with the 1900 leap-year bug and the 1904 system', () => {
    expect(excelSerialToDate(1, false)).toEqual(utc(1900, 1, 1));
    expect(excelSerialToDate(59, false)).toEqual(utc(1900, 2, 28));
    expect(excelSerialToDate(61, false)).toEqual(utc(1900, 3, 1));
    expect(excelSerialToDate(41913, false)).toEqual(utc(2014, 10, 1));
    expect(excelSerialToDate(45473.5729166667, false)).toEqual(utc(2024, 6, 30, 13, 45));
    expect(excelSerialToDate(0, true)).toEqual(utc(1904, 1, 1));
    expect(excelSerialToDate(40451, true)).toEqual(utc(2014, 10, 1));
    expect(excelSerialToDate(-1, false)).toBeNull();
    expect(excelSerialToDate(3e6, false)).toBeNull();
  });
});
