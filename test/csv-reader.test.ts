import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { afterAll, describe, expect, it } from 'vitest';
import {
  MAX_CELL_CHARS,
  MAX_ROW_SIZE,
  readCsv,
  type SheetRow,
  sniffCsv,
} from '../connectors/spreadsheet/csv-reader.js';
import { FileError } from '../lib/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'guiji-csv-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let files = 0;
function write(content: string | Buffer, name = `f${++files}.csv`): string {
  const path = join(tmp, name);
  writeFileSync(path, content);
  return path;
}

async function readAll(path: string): Promise<[number, SheetRow['cells']][]> {
  const rows: [number, SheetRow['cells']][] = [];
  for await (const row of readCsv(path)) rows.push([row.rowNumber, row.cells]);
  return rows;
}

/** What the reader threw, and the rows it yielded before. */
async function failure(path: string): Promise<{ error: FileError; rows: number[] }> {
  const rows: number[] = [];
  try {
    for await (const row of readCsv(path)) rows.push(row.rowNumber);
  } catch (error) {
    expect(error).toBeInstanceOf(FileError);
    return { error: error as FileError, rows };
  }
  throw new Error('the reader read the whole file without an error');
}

/** The clerk's message is Chinese: no library message, code or English sentence slips through. */
function expectForTheClerk(error: FileError): void {
  expect(error.code).toBe('GUIJI_ERR_FILE');
  // the names a clerk knows from Excel's "save as" dialog are all the Latin letters allowed
  expect(error.messageZh.replace(/Excel|xlsx|xls|CSV|UTF|GB18030|GBK|MB/g, '')).not.toMatch(/[A-Za-z_]{2,}/);
  expect(error.messageZh).not.toContain(tmp);
}

const utf16be = (text: string) => Buffer.from(text, 'utf16le').swap16();

// a line break in a quoted cell stays in the cell (row 3), so the blank row is row 4 though it is line 5
const SAMPLE =
  'a,b,c\r\n' +
  '1,"two, with comma",3\r\n' +
  '"multi\r\nline","say ""hi""",\r\n' +
  '\r\n' +
  '界首市,"",末尾\n' +
  'x,y"z,w\n' +
  'last,row,no newline';

const EXPECTED = [
  [1, ['a', 'b', 'c']],
  [2, ['1', 'two, with comma', '3']],
  [3, ['multi\r\nline', 'say "hi"', '']],
  [5, ['界首市', '', '末尾']],
  [6, ['x', 'y"z', 'w']],
  [7, ['last', 'row', 'no newline']],
];

describe('readCsv', () => {
  it('numbers rows as a spreadsheet shows them: quoted line breaks stay in their cell, blank rows count', async () => {
    expect(await readAll(write(SAMPLE))).toEqual(EXPECTED);
  });

  it.each([
    ['UTF-8', Buffer.from(SAMPLE, 'utf8')],
    ['UTF-8 with BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(SAMPLE, 'utf8')])],
    ['GB18030', iconv.encode(SAMPLE, 'gb18030')],
    ['GBK', iconv.encode(SAMPLE, 'gbk')],
    ['UTF-16 LE with BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(SAMPLE, 'utf16le')])],
    ['UTF-16 BE with BOM', Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be(SAMPLE)])],
  ])('reads %s alike', async (_name, bytes) => {
    expect(await readAll(write(bytes))).toEqual(EXPECTED);
  });

  it('sniffs each encoding', async () => {
    const sniff = async (bytes: Buffer) => (await sniffCsv(write(bytes))).encoding;
    expect(await sniff(Buffer.from(SAMPLE))).toBe('utf8');
    expect(await sniff(iconv.encode(SAMPLE, 'gb18030'))).toBe('gb18030');
    expect(await sniff(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(SAMPLE, 'utf16le')]))).toBe(
      'utf16le',
    );
    expect(await sniff(Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be(SAMPLE)]))).toBe('utf16be');
  });

  it('reads Excel\'s "Unicode text": UTF-16 LE, tab-separated', async () => {
    const text = '名称\t代码\r\n"甲\t公司"\t1\r\n乙公司\t2\r\n';
    const path = write(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]), 'u.txt');
    expect(await sniffCsv(path)).toEqual({ encoding: 'utf16le', delimiter: '\t' });
    expect(await readAll(path)).toEqual([
      [1, ['名称', '代码']],
      [2, ['甲\t公司', '1']],
      [3, ['乙公司', '2']],
    ]);
  });

  it.each([
    [',', 'a,b,c\n1,2,3\n'],
    ['\t', 'a\tb\tc\n1\t2,5\t3\n'],
    [';', 'a;b;c\n1,5;2,5;3,5\n'],
  ])('sniffs the separator %j', async (delimiter, text) => {
    const path = write(text);
    expect((await sniffCsv(path)).delimiter).toBe(delimiter);
    expect((await readAll(path))[0]).toEqual([1, ['a', 'b', 'c']]);
  });

  it('keeps the title rows above the header, and finds the separator past them', async () => {
    const path = write('2024年行政处罚信息\n填报单位：界首市市场监督管理局\n名称\t代码\n甲公司\t1\n');
    expect((await sniffCsv(path)).delimiter).toBe('\t');
    expect(await readAll(path)).toEqual([
      [1, ['2024年行政处罚信息']],
      [2, ['填报单位：界首市市场监督管理局']],
      [3, ['名称', '代码']],
      [4, ['甲公司', '1']],
    ]);
  });

  it.each([
    ['CRLF', '\r\n'],
    ['LF', '\n'],
    ['CR', '\r'],
  ])('splits rows on %s', async (_name, eol) => {
    expect(await readAll(write(['a,b', '1,"x', 'y"', '', '3,4'].join(eol)))).toEqual([
      [1, ['a', 'b']],
      [2, ['1', `x${eol}y`]],
      [4, ['3', '4']],
    ]);
  });

  it('splits rows on any line end within one file', async () => {
    expect(await readAll(write('a,b\r\n1,2\n3,4\r5,6\r\n'))).toEqual([
      [1, ['a', 'b']],
      [2, ['1', '2']],
      [3, ['3', '4']],
      [4, ['5', '6']],
    ]);
  });

  it('reads a quote inside an unquoted cell as text, as Excel does', async () => {
    expect(await readAll(write('名称,备注\n某"某"公司,长 3"\n'))).toEqual([
      [1, ['名称', '备注']],
      [2, ['某"某"公司', '长 3"']],
    ]);
  });

  it('keeps a quoted cell whose closing quote is followed by text as it stands', async () => {
    expect(await readAll(write('a,b\n"q"r,x\n'))).toEqual([
      [1, ['a', 'b']],
      [2, ['"q"r', 'x']],
    ]);
  });

  it('passes a NUL in a cell through as text (the drop source reports it for the row)', async () => {
    expect(await readAll(write('名称,代码\n甲\u0000公司,1\n'))).toEqual([
      [1, ['名称', '代码']],
      [2, ['甲\u0000公司', '1']],
    ]);
  });

  it('checks UTF-8 whole across the 1 MiB chunks it reads', async () => {
    const { text, straddling } = straddle('中文');
    const read = await readAll(write(text));
    expect(read.at(-2)).toEqual([straddling, [expect.stringMatching(/^y*中文$/)]]);
    expect(read.at(-1)![1]).toEqual(['end']);
  });
});

/** A file whose `chars` begin one byte before the end of the reader's first 1 MiB chunk; and their row. */
function straddle(chars: string): { text: Buffer; straddling: number } {
  const boundary = 1 << 20;
  const line = `${'x'.repeat(98)}\n`;
  const lines = Math.floor((boundary - 200) / line.length);
  const head = `a\n${line.repeat(lines)}`;
  const pad = boundary - 1 - Buffer.byteLength(head);
  const text = Buffer.from(`${head}${'y'.repeat(pad)}${chars}\nend\n`);
  expect(text.indexOf(Buffer.from(chars))).toBe(boundary - 1);
  return { text, straddling: lines + 2 };
}

describe('readCsv refuses a file it cannot read as it was meant', () => {
  it('names row 4 for a stray quote before a name in row 4 of 50,000 rows, within 1 MiB', async () => {
    const lines = ['行政相对人名称,统一社会信用代码,行政处罚决定书文号'];
    for (let row = 2; row <= 50_000; row++) {
      const quote = row === 4 ? '"' : '';
      lines.push(
        `${quote}界首市某某商贸有限公司${row},91341282MA2N${String(row).padStart(6, '0')},界市监罚〔2025〕${row}号`,
      );
    }
    const path = write(`${lines.join('\r\n')}\r\n`);
    const { error, rows } = await failure(path);
    expect(rows).toEqual([1, 2, 3]);
    expect(error.messageZh).toMatch(/^第 4 行的引号没有闭合/);
    expect(error.messageZh).toMatch(/请检查该行/);
    expect(error.message).toMatch(/row 4 never closes/);
    expect(error.message).toMatch(new RegExp(`over ${MAX_ROW_SIZE} bytes`));
    expect(error.context).toEqual({ file: path.split('/').at(-1), row: 4 });
    expectForTheClerk(error);
  });

  it('names the row of a quote that is still open at the end of a small file', async () => {
    const { error, rows } = await failure(write('名称,代码\n甲公司,1\n乙公司,"2\n丙公司,3\n'));
    expect(rows).toEqual([1, 2]);
    expect(error.messageZh).toMatch(/^第 3 行的引号没有闭合/);
    expect(error.context.row).toBe(3);
    expect(error.message).toMatch(/end of the file/);
    expectForTheClerk(error);
  });

  it('names the row where the quote opened when a later quote closes it mid-cell, rows swallowed', async () => {
    const { error, rows } = await failure(
      write('名称,代码,备注\n甲公司,1,\n"乙公司,2,\n丙公司,3,\n丁公司,4,"有引号"的备注\n戊公司,5,\n'),
    );
    expect(rows).toEqual([1, 2]);
    expect(error.messageZh).toMatch(/^第 3 行第 1 列的引号没有正确闭合/);
    expect(error.context).toEqual({ file: expect.any(String), row: 3 });
    expectForTheClerk(error);
  });

  it('refuses a cell over 32,767 characters, quoted or not', async () => {
    const long = '长'.repeat(40_000);
    for (const cell of [`"${long}"`, long]) {
      const { error, rows } = await failure(write(`名称,违法事实\n甲公司,短\n乙公司,${cell}\n丙公司,短\n`));
      expect(rows).toEqual([1, 2]);
      expect(error.messageZh).toMatch(/^第 3 行第 2 列的内容有 40000 个字符，超过 Excel 单元格上限/);
      expect(error.context.row).toBe(3);
      expectForTheClerk(error);
    }
  });

  it('reads a cell of exactly 32,767 characters', async () => {
    const read = await readAll(write(`a,b\n1,"${'长'.repeat(MAX_CELL_CHARS)}"\n`));
    expect((read[1]![1][1] as string).length).toBe(MAX_CELL_CHARS);
  });

  it('refuses a row of over 1 MiB without a line end', async () => {
    const { error } = await failure(write(`a,b\n${'abcdefghi,'.repeat(120_000)}\n`));
    expect(error.messageZh).toMatch(/^第 2 行超过 1 MB 仍没有换行/);
    expectForTheClerk(error);
  });

  it('refuses a line of nothing but separators after 1 MiB, before its cells fill the memory', async () => {
    const { error } = await failure(write(`a,b\n1,2\n${','.repeat(3_000_000)}\n4,5\n`));
    expect(error.messageZh).toMatch(/^第 3 行有 \d+ 列，超过 Excel 的上限（16384 列）/);
    expect(error.context.row).toBe(3);
    expectForTheClerk(error);
  });

  it('refuses a line of 1.5 MB in 100 cells, which csv-parse counts as half a million characters', async () => {
    const { error } = await failure(write(`a,b\n${`${'长'.repeat(5000)},`.repeat(100)}\n3,4\n`));
    expect(error.messageZh).toMatch(/^第 2 行超过 1 MB 仍没有换行/);
    expect(error.context.row).toBe(2);
  });

  it('names the row of stray bytes in a UTF-8 file, past the sniffed sample', async () => {
    const good = `名称,代码\n${'界首市某某有限公司,1\n'.repeat(5000)}`;
    const bytes = Buffer.concat([Buffer.from(good), Buffer.from([0xe7, 0x95]), Buffer.from(',2\n丙,3\n')]);
    expect(bytes.length).toBeGreaterThan(65536);
    const { error, rows } = await failure(write(bytes));
    expect(rows.at(-1)).toBe(5001);
    expect(error.messageZh).toMatch(/^第 5002 行含有按 UTF-8 编码无法识别的字节/);
    expect(error.context.row).toBe(5002);
    expectForTheClerk(error);
  });

  it('takes a UTF-8 file with a stray byte in the sample as damaged UTF-8, not as GB18030', async () => {
    const bytes = Buffer.concat([
      Buffer.from('名称,代码\n甲公司,1\n乙'),
      Buffer.from([0xff]),
      Buffer.from('公司,2\n'),
    ]);
    const path = write(bytes);
    expect((await sniffCsv(path)).encoding).toBe('utf8');
    const { error } = await failure(path);
    expect(error.messageZh).toMatch(/^第 3 行含有按 UTF-8 编码无法识别的字节/);
  });

  it('names the row of a GB18030 character cut short, mid-file and at the end', async () => {
    const gb = (t: string) => iconv.encode(t, 'gb18030');
    const mid = Buffer.concat([gb('名称,代码\n甲公司,1\n乙公'), Buffer.from([0xcb]), gb(',2\n丙公司,3\n')]);
    let { error } = await failure(write(mid));
    expect(error.messageZh).toMatch(/^第 3 行含有按 GB18030（GBK） 编码无法识别的字节/);
    const end = Buffer.concat([gb('名称,代码\n甲公司,1\n乙公司,2'), Buffer.from([0xcb])]);
    ({ error } = await failure(write(end)));
    expect(error.messageZh).toMatch(/^第 3 行含有按 GB18030（GBK） 编码无法识别的字节/);
    expectForTheClerk(error);
  });

  it('names the row of a UTF-8 file cut inside a character', async () => {
    const whole = Buffer.from('名称,代码\n甲公司,1\n乙公司');
    const { error } = await failure(write(whole.subarray(0, whole.length - 1)));
    expect(error.messageZh).toMatch(/^第 3 行含有按 UTF-8 编码无法识别的字节/);
  });

  it('refuses what is not a text file, in Chinese', async () => {
    const cases: [Buffer, RegExp][] = [
      [Buffer.alloc(0), /文件是空的/],
      [
        Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0, 0, 0]),
        /旧版 Excel 工作簿（\.xls）/,
      ],
      [Buffer.from([0x00, 0x01, 0x02, 0xff, 0xfe, 0x00, 0x13, 0x37, 0, 0, 9]), /不是文本/],
    ];
    for (const [bytes, zh] of cases) {
      const error = await sniffCsv(write(bytes)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FileError);
      expect((error as FileError).messageZh).toMatch(zh);
      expectForTheClerk(error as FileError);
    }
  });
});

describe('readCsv on damaged copies of a good file', () => {
  it('yields rows or throws a FileError, never anything else: truncations, byte flips, stray quotes', async () => {
    let seed = 15;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const text =
      '名称,代码,备注\r\n甲公司,"9134,1","多行\r\n备注 ""引"""\r\n乙"公司,2,\r\n\r\n丙公司,3,"x"\r\n'.repeat(
        40,
      );
    const sources = [
      Buffer.from(text),
      iconv.encode(text, 'gb18030'),
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]),
    ];
    const outcomes = new Set<string>();
    for (let i = 0; i < 150; i++) {
      let bytes = Buffer.from(sources[i % 3]!);
      const at = Math.floor(random() * bytes.length);
      if (i % 5 < 2) bytes = bytes.subarray(0, at);
      else if (i % 5 < 4)
        for (let k = 0; k < 3; k++) bytes[Math.floor(random() * bytes.length)] = random() * 256;
      else bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from('"'), bytes.subarray(at)]);
      const path = write(bytes);
      try {
        for await (const row of readCsv(path)) expect(row.rowNumber).toBeGreaterThan(0);
        outcomes.add('read');
      } catch (error) {
        expect(error).toBeInstanceOf(FileError);
        expectForTheClerk(error as FileError);
        const zh = (error as FileError).messageZh;
        outcomes.add(
          /引号没有闭合/.test(zh)
            ? 'unclosed'
            : /引号没有正确闭合/.test(zh)
              ? 'merged'
              : zh.replace(/^第 \d+ 行/, '').replace(/（文件.*$/, ''),
        );
      }
    }
    // each kind of refusal came up, so the loop did exercise them
    const undecodable = ['GB18030（GBK）', 'UTF-16', 'UTF-8'].map((e) => `含有按 ${e} 编码无法识别的字节`);
    expect([...outcomes].sort()).toEqual(['merged', 'read', 'unclosed', ...undecodable].sort());
  });
});
