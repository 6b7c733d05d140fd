import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { pipeline, Transform, type TransformCallback } from 'node:stream';
import { TextDecoder } from 'node:util';
import { CsvError, type Parser, parse } from 'csv-parse';
import { FileError } from '../../lib/errors.js';
import type { CellValue } from '../../lib/types.js';

export type CsvEncoding = 'utf8' | 'utf16le' | 'utf16be' | 'gb18030';

export interface SheetRow {
  /**
   * 1-based row number in the file as a clerk sees it in a spreadsheet application (a CSV's line break inside
   * a quoted cell stays in the cell: it does not start a row).
   */
  rowNumber: number;
  cells: CellValue[];
}

export interface CsvFormat {
  encoding: CsvEncoding;
  delimiter: ',' | '\t' | ';';
}

/** Excel's limit on the characters of one cell: no spreadsheet the department exported holds a longer one. */
export const MAX_CELL_CHARS = 32_767;

/**
 * The most a row may hold: csv-parse's `max_record_size` (about bytes), and the bytes between two line ends.
 * No honest row of a catalog resource comes near it; a quote that opens and never closes swallows the rest of
 * the file into one cell, which csv-parse can only tell at the end of the file, or here, after 1 MiB —
 * whichever comes first.
 */
export const MAX_ROW_SIZE = 1 << 20;

const SAMPLE_BYTES = 65536;

/**
 * Sniffs a CSV's encoding and separator from its first 64 KB: a BOM decides (UTF-8, or UTF-16 as Excel's
 * "Unicode text" writes it); otherwise UTF-8 (allowing a few damaged bytes, which the reader then reports by
 * row) and anything else is taken as GB18030 (a superset of GBK and GB2312, what Chinese Excel writes by
 * default). A sample thick with NUL or other control characters is a binary file; a few are the rows' problem.
 */
export async function sniffCsv(path: string, name = basename(path)): Promise<CsvFormat> {
  const handle = await open(path, 'r');
  let head: Buffer;
  try {
    const buffer = Buffer.alloc(SAMPLE_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    head = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const context = { context: { file: name } };
  if (head.length === 0) throw new FileError('the file is empty', '文件是空的，没有任何内容', context);
  if (head.length >= 4 && head.readUInt32BE(0) === 0xd0cf11e0) {
    throw new FileError(
      'a legacy Excel workbook (.xls, OLE2), not a CSV file',
      '这是旧版 Excel 工作簿（.xls），不是 CSV 文件：请用 Excel 打开后另存为 .xlsx 或“CSV UTF-8（逗号分隔）”再提交',
      context,
    );
  }
  const truncated = head.length === SAMPLE_BYTES;
  let encoding: CsvEncoding;
  let text: string;
  if (head[0] === 0xff && head[1] === 0xfe) {
    encoding = 'utf16le';
    text = new TextDecoder('utf-16le').decode(head);
  } else if (head[0] === 0xfe && head[1] === 0xff) {
    encoding = 'utf16be';
    text = new TextDecoder('utf-16be').decode(head);
  } else {
    const body = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? head.subarray(3) : head;
    const complete = truncated ? body.subarray(0, completeUtf8Length(body)) : body;
    const utf8 = complete.toString('utf8');
    if (isUtf8(complete) || mostlyUtf8(utf8)) {
      encoding = 'utf8';
      text = utf8;
    } else {
      encoding = 'gb18030';
      text = new TextDecoder('gb18030').decode(body);
    }
  }
  // a NUL or control character in a cell is the row's problem (the drop source reports it); a sample full of
  // them is a binary file under a .csv name
  if (isBinary(text)) {
    throw new FileError(
      'binary content (NUL or control characters): this is not a text CSV file',
      '文件内容不是文本（含大量不可见的控制字符），不是 CSV 文件：请提交 .xlsx 或从 Excel 另存的 CSV 文件',
      context,
    );
  }
  return { encoding, delimiter: sniffDelimiter(text) };
}

/**
 * The separator of the first line that has one (the header, or a title row Excel padded with separators; a
 * title row above them may have none): the one it holds most often.
 */
function sniffDelimiter(text: string): CsvFormat['delimiter'] {
  for (const line of text.split(/\r\n|\n|\r/, 10)) {
    const comma = count(line, ',');
    const tab = count(line, '\t');
    const semicolon = count(line, ';');
    if (comma + tab + semicolon === 0) continue;
    if (tab > comma && tab >= semicolon) return '\t';
    return semicolon > comma ? ';' : ',';
  }
  return ',';
}

function count(text: string, ch: string): number {
  let n = 0;
  for (let i = text.indexOf(ch); i !== -1; i = text.indexOf(ch, i + 1)) n++;
  return n;
}

function isBinary(text: string): boolean {
  let controls = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) controls++;
  }
  const share = controls / Math.max(1, text.length);
  return share > 0.1 || (controls >= 8 && share > 0.01);
}

/**
 * UTF-8 with a little damage (a few stray bytes among many good multi-byte characters) rather than GB18030,
 * which decoded as UTF-8 is nearly all replacement characters.
 */
function mostlyUtf8(text: string): boolean {
  let damaged = 0;
  let wide = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0xfffd) damaged++;
    else if (c >= 0x80) wide++;
  }
  return damaged * 4 < wide;
}

/** The length of `bytes` without a UTF-8 character cut off at its end. */
function completeUtf8Length(bytes: Uint8Array): number {
  const end = bytes.length;
  for (let i = end - 1; i >= 0 && i >= end - 4; i--) {
    const b = bytes[i] as number;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: its lead is further back
    return i + utf8Size(b) > end ? i : end;
  }
  return end;
}

/** The bytes of the UTF-8 character that `lead` begins (1 for a byte that begins none: invalid either way). */
function utf8Size(lead: number): number {
  return lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
}

/** Set by the decoding stage when the bytes do not decode; rows are then checked for what replaced them. */
interface Damage {
  seen: boolean;
}

/**
 * The stage before csv-parse: hands it UTF-8 and watches the bytes on the way. csv-parse's `max_record_size`
 * counts a row's characters but not its separators, so a line of nothing but separators would grow one row's
 * array of empty cells without bound (30 MB of commas: 1.4 GB). After `MAX_ROW_SIZE` bytes without a line
 * end the feed is `cut`: csv-parse gets no more, and the reader refuses the file naming the row it ended in.
 */
abstract class Feed extends Transform {
  cut = false;
  private sinceLineEnd = 0;

  constructor(protected readonly damage: Damage) {
    super();
  }

  protected pass(bytes: Buffer, done: TransformCallback): void {
    if (this.cut) {
      done();
      return;
    }
    const first = firstLineEnd(bytes);
    this.sinceLineEnd += first === -1 ? bytes.length : first;
    if (this.sinceLineEnd > MAX_ROW_SIZE) {
      this.cut = true;
      // up to the line's end, so that the long line is the last row csv-parse gives
      this.push(first === -1 ? bytes : bytes.subarray(0, first));
      this.push(null);
      done();
      return;
    }
    if (first !== -1)
      this.sinceLineEnd = bytes.length - 1 - Math.max(bytes.lastIndexOf(10), bytes.lastIndexOf(13));
    done(null, bytes);
  }
}

function firstLineEnd(bytes: Buffer): number {
  const lf = bytes.indexOf(10);
  const cr = bytes.indexOf(13);
  return lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
}

/**
 * Passes UTF-8 bytes through unchanged (csv-parse splits bytes and decodes each cell) and notes whether they are
 * valid UTF-8; a character split between two chunks is checked whole.
 */
class Utf8Check extends Feed {
  private tail: Buffer | null = null;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (!this.damage.seen) this.check(chunk);
    this.pass(chunk, done);
  }

  private check(chunk: Buffer): void {
    let start = 0;
    if (this.tail) {
      const missing = utf8Size(this.tail[0] as number) - this.tail.length;
      if (chunk.length < missing) {
        this.tail = Buffer.concat([this.tail, chunk]);
        return;
      }
      if (!isUtf8(Buffer.concat([this.tail, chunk.subarray(0, missing)]))) this.damage.seen = true;
      this.tail = null;
      start = missing;
    }
    const end = Math.max(start, completeUtf8Length(chunk));
    if (!isUtf8(chunk.subarray(start, end))) this.damage.seen = true;
    if (end < chunk.length) this.tail = Buffer.from(chunk.subarray(end));
  }

  override _flush(done: TransformCallback): void {
    if (this.tail) this.damage.seen = true; // the file ends inside a character
    done();
  }
}

/**
 * Decodes GB18030 or UTF-16 into the UTF-8 csv-parse reads. Node's own decoders (ICU) decode GB18030 about
 * twice as fast as iconv-lite, identically; what they cannot decode becomes U+FFFD, which marks the damage.
 */
class Transcode extends Feed {
  private readonly decoder: TextDecoder;

  constructor(encoding: Exclude<CsvEncoding, 'utf8'>, damage: Damage) {
    super(damage);
    this.decoder = new TextDecoder(
      encoding === 'utf16le' ? 'utf-16le' : encoding === 'utf16be' ? 'utf-16be' : 'gb18030',
    );
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.pass(this.encode(this.decoder.decode(chunk, { stream: true })), done);
  }

  override _flush(done: TransformCallback): void {
    const rest = this.decoder.decode();
    if (rest) this.pass(this.encode(rest), done);
    else done();
  }

  private encode(text: string): Buffer {
    if (text.includes('\uFFFD')) this.damage.seen = true;
    return Buffer.from(text, 'utf8');
  }
}

const ENCODING_NAMES: Record<CsvEncoding, string> = {
  utf8: 'UTF-8',
  gb18030: 'GB18030（GBK）',
  utf16le: 'UTF-16',
  utf16be: 'UTF-16',
};

const QUOTE = 34;

/** Excel's limit on the columns of a sheet. */
const MAX_COLUMNS = 16_384;

/**
 * Streams a CSV file's rows (every value a string), whatever its encoding and separator, through csv-parse.
 *
 * Throws a `FileError` naming the row (as a spreadsheet numbers it) when the file cannot be read as it was
 * meant: a quote that never closes, a cell over Excel's 32,767 characters, a row over `MAX_ROW_SIZE` or over
 * Excel's 16,384 columns, bytes that are not text in the file's encoding. Errors of the system (an errno) are thrown as they are. `name` is
 * the file's name for the error's context (`path` may be a descriptor's path).
 *
 * Quotes as Excel reads them: a quote inside an unquoted cell (`ab"c`) is text; a quoted cell whose closing
 * quote is followed by more text (`"q"r`) keeps the text as it stands (`"q"r`) — but when such a cell spans
 * lines, a stray opening quote has swallowed the rows after it, and the file is refused naming the row.
 */
export async function* readCsv(
  path: string,
  format?: CsvFormat,
  name = basename(path),
): AsyncGenerator<SheetRow> {
  const { encoding, delimiter } = format ?? (await sniffCsv(path, name));
  const damage: Damage = { seen: false };
  const parser = parse({
    delimiter,
    // every line end a spreadsheet accepts, mixed in one file too (csv-parse would otherwise keep the first)
    record_delimiter: ['\r\n', '\n', '\r'],
    relax_quotes: true,
    // title rows above the header, blank rows and short rows are the drop source's to judge
    relax_column_count: true,
    skip_empty_lines: false,
    max_record_size: MAX_ROW_SIZE,
    bom: true,
  });
  const input = createReadStream(path, { highWaterMark: 1 << 20 });
  const feed = encoding === 'utf8' ? new Utf8Check(damage) : new Transcode(encoding, damage);
  // the error, if any, reaches the loop below through the parser
  pipeline(input, feed, parser, () => {});
  let row = 0;
  try {
    for await (const cells of parser as AsyncIterable<string[]>) {
      row++;
      if (cells.length === 1 && cells[0] === '') continue;
      if (cells.length > MAX_COLUMNS) throw tooManyColumns(name, row, cells.length);
      for (let i = 0; i < cells.length; i++) {
        const cell = cells[i] as string;
        if (cell.length > MAX_CELL_CHARS || cell.charCodeAt(0) === QUOTE) checkCell(cell, name, row, i);
      }
      if (damage.seen) checkDecoded(cells, name, row, encoding);
      yield { rowNumber: row, cells };
    }
    if (feed.cut) throw rowTooLong(name, row);
    if (damage.seen) throw undecodable(name, null, encoding);
  } catch (error) {
    throw error instanceof CsvError ? parseFailure(error, parser, name) : error;
  } finally {
    parser.destroy();
    input.destroy();
    // the descriptor closes after destroy(), on the stream's own time: a reader stopped early (a peek at the
    // first rows) has let go of the file only once the stream says it is closed
    if (!input.closed) await new Promise<void>((resolve) => input.once('close', () => resolve()));
  }
}

function checkCell(cell: string, file: string, row: number, index: number): void {
  const column = index + 1;
  if (cell.length > MAX_CELL_CHARS) {
    throw new FileError(
      `row ${row}, column ${column}: a cell of ${cell.length} characters, over Excel's limit of ${MAX_CELL_CHARS}`,
      `第 ${row} 行第 ${column} 列的内容有 ${cell.length} 个字符，超过 Excel 单元格上限（${MAX_CELL_CHARS} 个字符）。` +
        '如果该单元格以英文双引号（"）开头，多半是引号没有闭合，把后面的行并进了这个单元格；请检查该行，修改后重新提交整个文件',
      { context: { file, row } },
    );
  }
  // csv-parse relaxed a quoted cell whose closing quote was followed by text: it kept the opening quote.
  // A line break before that quote means the "cell" ran on over the next rows.
  const close = cell.indexOf('"', 1);
  if (close === -1) return;
  const cr = cell.indexOf('\r');
  const lf = cell.indexOf('\n');
  const lineBreak = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
  if (lineBreak !== -1 && lineBreak < close) {
    throw new FileError(
      `row ${row}, column ${column}: the quote that opens the cell does not close before the line ends, so the rows after it ran into this cell`,
      `第 ${row} 行第 ${column} 列的引号没有正确闭合：该单元格以英文双引号（"）开头，引号一直延续到后面的行，几行数据被并成了一个单元格。` +
        '请检查该行（常见的是名称等内容前多了一个 "），删除多余的引号或把单元格里的引号写成两个（""），修改后重新提交整个文件',
      { context: { file, row } },
    );
  }
}

function checkDecoded(cells: string[], file: string, row: number, encoding: CsvEncoding): void {
  for (const cell of cells) if (cell.includes('\uFFFD')) throw undecodable(file, row, encoding);
}

function undecodable(file: string, row: number | null, encoding: CsvEncoding): FileError {
  const where = row === null ? '文件中' : `第 ${row} 行`;
  return new FileError(
    `${row === null ? 'the file' : `row ${row}`} holds bytes that are not ${ENCODING_NAMES[encoding]} text (a truncated or damaged file, or mixed encodings)`,
    `${where}含有按 ${ENCODING_NAMES[encoding]} 编码无法识别的字节（文件可能不完整、已损坏，或混用了不同的编码）。` +
      '请用 Excel 打开原始数据，另存为 .xlsx 或“CSV UTF-8（逗号分隔）”后重新提交整个文件',
    { context: row === null ? { file } : { file, row } },
  );
}

/** csv-parse's error as the clerk can act on it; the row is where the record (and so its open quote) began. */
function parseFailure(error: CsvError, parser: Parser, file: string): FileError {
  const info = error as CsvError & { records?: unknown };
  const row = typeof info.records === 'number' ? info.records + 1 : undefined;
  const at = row === undefined ? '文件中' : `第 ${row} 行`;
  const options = { cause: error, context: row === undefined ? { file } : { file, row } };
  // csv-parse keeps its state on the parser; `quoting` tells an open quote from a row without line ends
  const quoting = (parser as Parser & { state?: { quoting?: unknown } }).state?.quoting === true;
  if (error.code === 'CSV_QUOTE_NOT_CLOSED' || (error.code === 'CSV_MAX_RECORD_SIZE' && quoting)) {
    const reach =
      error.code === 'CSV_QUOTE_NOT_CLOSED' ? 'to the end of the file' : `for over ${MAX_ROW_SIZE} bytes`;
    return new FileError(
      `the quote opened in ${row === undefined ? 'the file' : `row ${row}`} never closes (read ${reach})`,
      `${at}的引号没有闭合：该行某个单元格以英文双引号（"）开头，但后面再没有与之配对的引号，其后的所有内容都会被当成这一个单元格。` +
        '请检查该行（常见的是名称等内容前多了一个 "），删除多余的引号或把单元格里的引号写成两个（""），修改后重新提交整个文件',
      options,
    );
  }
  if (error.code === 'CSV_MAX_RECORD_SIZE') return rowTooLong(file, row, error);
  return new FileError(
    `cannot parse the CSV at ${row === undefined ? 'an unknown row' : `row ${row}`}: ${error.code}`,
    `${at}无法按 CSV 格式读取（引号或分隔符有误）。请检查该行，或用 Excel 另存为 .xlsx 或“CSV UTF-8（逗号分隔）”后重新提交`,
    options,
  );
}

function rowTooLong(file: string, row: number | undefined, cause?: unknown): FileError {
  return new FileError(
    `${row === undefined ? 'a row' : `row ${row}`} runs for over ${MAX_ROW_SIZE} bytes without a line end`,
    `${row === undefined ? '文件中有一行' : `第 ${row} 行`}超过 1 MB 仍没有换行，不像是 CSV 表格的一行（可能不是 CSV 文件，或文件的换行符已损坏）。` +
      '请用 Excel 另存为 .xlsx 或“CSV UTF-8（逗号分隔）”后重新提交',
    { ...(cause === undefined ? {} : { cause }), context: row === undefined ? { file } : { file, row } },
  );
}

function tooManyColumns(file: string, row: number, columns: number): FileError {
  return new FileError(
    `row ${row} has ${columns} cells, over Excel's limit of ${MAX_COLUMNS} columns`,
    `第 ${row} 行有 ${columns} 列，超过 Excel 的上限（${MAX_COLUMNS} 列），不像是 CSV 表格的一行（可能不是 CSV 文件，或分隔符有误）。` +
      '请用 Excel 另存为 .xlsx 或“CSV UTF-8（逗号分隔）”后重新提交',
    { context: { file, row } },
  );
}
