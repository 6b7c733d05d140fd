/**
 * Writes the small xlsx fixtures of test/xlsx-reader.test.ts into test/fixtures/xlsx/:
 *
 * - exceljs.xlsx          exceljs' workbook writer: shared strings (rich text included), a title row above the
 *                         header, a date cell, a date typed as text, numbers, a formula, an error, a boolean,
 *                         custom date formats on a second sheet, a hidden third sheet.
 * - exceljs-stream.xlsx   exceljs' streaming writer without shared strings: strings as `t="str"`, rich text as
 *                         inline strings (`t="inlineStr"`).
 * - libreoffice.xlsx      LibreOffice Calc (soffice --convert-to xlsx) from a flat ODS written here: several
 *                         sheets, dates, Chinese text, rich text, empty cells in the middle of rows.
 * - libreoffice-csv.xlsx  LibreOffice Calc from a UTF-8 CSV, as a department would do it: all-digit credit codes
 *                         become numbers, `…E5384` becomes 1.797…E+308, ISO dates become dates.
 *
 * Usage: node bin/run-ts.js scripts/make-xlsx-fixtures.ts [outDir]
 * The LibreOffice fixtures are skipped (with a warning) when `soffice` is not installed.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ExcelJS from 'exceljs';

const outDir = resolve(process.argv[2] ?? 'test/fixtures/xlsx');
mkdirSync(outDir, { recursive: true });

async function writeExceljsWorkbook(path: string): Promise<void> {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'guiji fixtures';
  wb.created = new Date(Date.UTC(2024, 0, 1));
  wb.modified = wb.created;

  const ws = wb.addWorksheet('行政许可');
  ws.mergeCells('A1:I1');
  ws.getCell('A1').value = '2024年第一季度行政许可信息（报送单位：市市场监督管理局）';
  ws.getRow(2).values = [
    '统一社会信用代码',
    '企业名称',
    '许可决定日期',
    '登记日期（文本）',
    '许可金额',
    '备注',
    '金额×2',
    '是否公示',
    '核验结果',
  ];
  ws.getRow(3).values = [
    '91110000100003962T',
    '北京某某科技有限公司',
    new Date(Date.UTC(2024, 2, 15)),
    '2024/3/16',
    12345.67,
    { richText: [{ text: '重点', font: { bold: true, color: { argb: 'FFFF0000' } } }, { text: '监管对象' }] },
    { formula: 'E3*2', result: 24691.34 },
    true,
    { error: '#N/A' },
  ];
  // empty cells in the middle (C3… left empty here), special characters, a line break, leading spaces
  ws.getCell('A4').value = '91440300MA5FXXXX0X';
  ws.getCell('B4').value = '深圳<某>&"某"贸易有限公司';
  ws.getCell('E4').value = -0.5;
  ws.getCell('F4').value = '第一行\r\n第二行';
  ws.getCell('I4').value = '  前导空格';
  ws.getCell('C3').numFmt = 'yyyy-mm-dd';
  // a styled but empty cell, then a row with only a number at a far column
  ws.getCell('D5').numFmt = 'yyyy-mm-dd';
  ws.getCell('L6').value = 42;

  const ws2 = wb.addWorksheet('日期格式');
  ws2.getRow(1).values = ['格式', '值'];
  const dates: [string, string, Date | number][] = [
    ['yyyy"年"m"月"d"日"', 'yyyy"年"m"月"d"日"', new Date(Date.UTC(2023, 11, 31))],
    ['[$-F800]dddd', '[$-F800]dddd\\,\\ mmmm\\ dd\\,\\ yyyy', new Date(Date.UTC(2020, 1, 29))],
    ['yyyy/m/d;@', 'yyyy/m/d;@', new Date(Date.UTC(2014, 9, 1))],
    ['datetime', 'yyyy-mm-dd hh:mm:ss', new Date(Date.UTC(2024, 5, 30, 13, 45, 30))],
    ['#,##0.00 "元"', '#,##0.00 "元"', 1234.5],
    ['0.00%', '0.00%', 0.125],
  ];
  for (const [label, fmt, value] of dates) {
    const row = ws2.addRow([label, value]);
    row.getCell(2).numFmt = fmt;
  }

  const ws3 = wb.addWorksheet('隐藏', { state: 'hidden' });
  ws3.getCell('A1').value = '隐藏表';
  await wb.xlsx.writeFile(path);
}

async function writeExceljsStream(path: string): Promise<void> {
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({
    filename: path,
    useSharedStrings: false,
    useStyles: true,
  });
  const ws = wb.addWorksheet('Sheet1');
  ws.addRow(['编号', '名称', '说明']).commit();
  ws.addRow([
    1,
    '内联字符串',
    { richText: [{ text: '富文本', font: { italic: true } }, { text: '内联' }] },
  ]).commit();
  ws.addRow([2, 'A&B <C>', null]).commit();
  ws.commit();
  await wb.commit();
}

/** A flat ODS (one XML file) with several sheets, converted by LibreOffice. */
function flatOds(): string {
  const s = (text: string) =>
    `<table:table-cell office:value-type="string"><text:p>${text}</text:p></table:table-cell>`;
  const f = (value: number | string) =>
    `<table:table-cell office:value-type="float" office:value="${value}"><text:p>${value}</text:p></table:table-cell>`;
  const d = (iso: string) =>
    `<table:table-cell table:style-name="ceDate" office:value-type="date" office:date-value="${iso}"><text:p>${iso}</text:p></table:table-cell>`;
  const dt = (iso: string) =>
    `<table:table-cell table:style-name="ceDateTime" office:value-type="date" office:date-value="${iso}"><text:p>${iso}</text:p></table:table-cell>`;
  const empty = (n = 1) =>
    n === 1 ? '<table:table-cell/>' : `<table:table-cell table:number-columns-repeated="${n}"/>`;
  const row = (...cells: string[]) => `<table:table-row>${cells.join('')}</table:table-row>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:number="urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0"
 xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"
 office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.spreadsheet">
 <office:automatic-styles>
  <number:date-style style:name="NDate"><number:year number:style="long"/><number:text>-</number:text><number:month number:style="long"/><number:text>-</number:text><number:day number:style="long"/></number:date-style>
  <number:date-style style:name="NDateTime"><number:year number:style="long"/><number:text>/</number:text><number:month/><number:text>/</number:text><number:day/><number:text> </number:text><number:hours number:style="long"/><number:text>:</number:text><number:minutes number:style="long"/></number:date-style>
  <style:style style:name="ceDate" style:family="table-cell" style:parent-style-name="Default" style:data-style-name="NDate"/>
  <style:style style:name="ceDateTime" style:family="table-cell" style:parent-style-name="Default" style:data-style-name="NDateTime"/>
  <style:style style:name="T1" style:family="text"><style:text-properties fo:font-weight="bold" fo:color="#ff0000"/></style:style>
 </office:automatic-styles>
 <office:body><office:spreadsheet>
  <table:table table:name="许可信息">
   ${row(s('2024年行政许可信息汇总表'))}
   ${row(s('统一社会信用代码'), s('企业名称'), s('许可日期'), s('金额'), s('备注'))}
   ${row(f('911589460454873025'), s('广州市某某餐饮管理有限公司'), d('2024-03-15'), f(5000), s('<text:span text:style-name="T1">重点</text:span>监管'))}
   ${row(s('91110000100003962T'), empty(2), f(12345.67), s('第一行</text:p><text:p>第二行'))}
   ${row(empty(5))}
   ${row(s('91440300MA5FXXXX0X'), s('A&amp;B &lt;公司&gt;'), d('2023-12-31'), empty(), s('末列'))}
  </table:table>
  <table:table table:name="处罚信息">
   ${row(s('决定书文号'), s('处罚决定日期'), s('罚款金额（万元）'))}
   ${row(s('穗市监罚〔2024〕1号'), dt('2024-06-30T13:45:00'), f(0.5))}
   ${row(s('穗市监罚〔2024〕2号'), d('1900-01-01'), f(-12.25))}
  </table:table>
  <table:table table:name="Sheet3">
   ${row(empty())}
  </table:table>
 </office:spreadsheet></office:body>
</office:document>
`;
}

const CSV = `统一社会信用代码,企业名称,成立日期,注册资本（万元）,备注
911589460454873025,某某建设工程有限公司,2014-10-01,500,
9124072911152E5384,某某物流有限公司,2019-05-20,,科学计数法被误读
91110000100003962T,"某某""引号""有限公司",2020-02-29,1000.5,"含,逗号"
`;

function soffice(input: string, outDirTmp: string, extra: string[] = []): void {
  execFileSync('soffice', ['--headless', ...extra, '--convert-to', 'xlsx', '--outdir', outDirTmp, input], {
    stdio: 'pipe',
    timeout: 120_000,
  });
}

function hasSoffice(): boolean {
  try {
    execFileSync('soffice', ['--version'], { stdio: 'pipe', timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

await writeExceljsWorkbook(join(outDir, 'exceljs.xlsx'));
await writeExceljsStream(join(outDir, 'exceljs-stream.xlsx'));
const written = ['exceljs.xlsx', 'exceljs-stream.xlsx'];

if (hasSoffice()) {
  const tmp = mkdtempSync(join(tmpdir(), 'guiji-xlsx-fixtures-'));
  try {
    writeFileSync(join(tmp, 'libreoffice.fods'), flatOds());
    soffice(join(tmp, 'libreoffice.fods'), tmp);
    copyFileSync(join(tmp, 'libreoffice.xlsx'), join(outDir, 'libreoffice.xlsx'));
    writeFileSync(join(tmp, 'libreoffice-csv.csv'), CSV);
    // CSV filter: comma, double quote, UTF-8 (76), from line 1, standard columns, zh-CN (2052) detection
    soffice(join(tmp, 'libreoffice-csv.csv'), tmp, ['--infilter=CSV:44,34,76,1,,2052']);
    copyFileSync(join(tmp, 'libreoffice-csv.xlsx'), join(outDir, 'libreoffice-csv.xlsx'));
    written.push('libreoffice.xlsx', 'libreoffice-csv.xlsx');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
} else {
  console.warn('soffice not found: the LibreOffice fixtures were not regenerated');
}

for (const name of written) console.log(`${join(outDir, name)}  ${statSync(join(outDir, name)).size} bytes`);
