/**
 * A streaming reader for .xlsx workbooks, fast and memory-flat on files written by Excel and by LibreOffice.
 *
 * Front-to-back readers (exceljs) must buffer a whole sheet when `sharedStrings.xml` is stored after it, as
 * Excel and LibreOffice do (1.6 GB for 200k rows). This reader opens the zip by its central directory (yauzl),
 * loads the shared strings into an array first, then inflates the sheet part and scans its bytes with a small
 * hand-written XML scanner, yielding each row as soon as its `</row>` has been read.
 *
 * Memory: only the shared strings (each one a fresh string, never a slice of a chunk), the styles and one
 * chunk (+ the unfinished row) of the sheet are held. Strings are decoded from the bytes with
 * `Buffer#toString`, so no string keeps a decompressed chunk alive.
 *
 * Hostile workbooks: every zip entry is inflated under a size cap and a compression-ratio cap that count the
 * bytes actually inflated (a zip header's sizes are only believed when they say "too big"), and the parts held
 * in memory — shared strings, styles, one row, one cell — have their own caps (`XlsxLimits`). Whatever is over
 * a cap, damaged or not a workbook is a `FileError` with the clerk's reason in Chinese; it never crashes the
 * process (a 480 KB file whose shared strings inflate to 200 MB once ran it out of heap, night after night).
 */
import { open as openFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { getHeapStatistics } from 'node:v8';
import { crc32, createInflateRaw, type ZlibOptions } from 'node:zlib';
import type { Entry, ZipFile } from 'yauzl';
import yauzl from 'yauzl';
import type { Config } from '../../lib/config.js';
import { FileError } from '../../lib/errors.js';
import type { CellValue } from '../../lib/types.js';

export interface XlsxSheetInfo {
  /** The sheet's name as shown on its tab. */
  name: string;
  /** 0-based position among the workbook's worksheets, in tab order (chart sheets are not listed). */
  index: number;
  /** `hidden` and `veryHidden` sheets are listed too; a connector decides whether to read them. */
  state: 'visible' | 'hidden' | 'veryHidden';
}

export interface XlsxRow {
  /** Excel's 1-based row number (the `r` attribute; the previous row's + 1 when a writer omits it). */
  rowNumber: number;
  /** Values by column (A = 0); gaps are null, trailing nulls trimmed. Empty strings are returned as null. */
  cells: CellValue[];
}

export interface XlsxWorkbook {
  sheets: XlsxSheetInfo[];
  /** Rows of one worksheet, in file order; rows without any value are skipped. */
  rows(sheetName: string): AsyncIterable<XlsxRow>;
  close(): Promise<void>;
}

/**
 * What a workbook may hold before it is rejected (the `GUIJI_XLSX_*` settings of lib/config.ts; the defaults
 * are the same numbers). The defaults let a 1,000,000-row × 20-column workbook of LibreOffice's shape through
 * every cap with about twice the room (measured: sheet 0.99 GB, sharedStrings.xml 1.11 GB with rich-text runs,
 * 8.4M strings of 152M characters, ratios 6–9). The memory its shared strings need is checked against the
 * heap separately: such a workbook needs a heap of ~1.4 GB (`--max-old-space-size`), not the default 300 MB.
 */
export interface XlsxLimits {
  /** Inflated bytes of any one zip entry (the 1M-row sheet: 0.99 GB; its shared strings: 1.11 GB). */
  maxEntryBytes: number;
  /** Inflated ÷ compressed bytes of an entry (real parts: 4–15; a zip bomb: ~1,000). Checked past 1 MiB. */
  maxRatio: number;
  /** Strings in sharedStrings.xml (LibreOffice: 1.76M for 200k rows × 20 columns, so ~8.8M for 1M rows). */
  maxSharedStrings: number;
  /** Characters of all shared strings together (200k rows × 20 columns: 30M). */
  maxSharedChars: number;
  /** Inflated bytes of styles.xml, and of the other parts read whole (workbook.xml, relationships). */
  maxStylesBytes: number;
  /** Cell formats (`<xf>` of `<cellXfs>`) and custom number formats in styles.xml (Excel allows ~64,000). */
  maxCellFormats: number;
  /** Characters of one cell (Excel's limit: 32,767). */
  maxCellChars: number;
  /** Worksheets in the workbook. */
  maxSheets: number;
  /** Row numbers beyond this are rejected (Excel's grid: 1,048,576). */
  maxRows: number;
  /** Columns beyond this are rejected (Excel's grid: 16,384, XFD). */
  maxColumns: number;
}

export const DEFAULT_XLSX_LIMITS: Readonly<XlsxLimits> = Object.freeze({
  maxEntryBytes: 2 * 1024 ** 3,
  maxRatio: 100,
  maxSharedStrings: 16_000_000,
  maxSharedChars: 400_000_000,
  maxStylesBytes: 32 * 1024 ** 2,
  maxCellFormats: 65_536,
  maxCellChars: 32_767,
  maxSheets: 1_000,
  maxRows: 1_048_576,
  maxColumns: 16_384,
});

/** The caps of the `GUIJI_XLSX_*` settings. */
export function xlsxLimitsOf(config: Readonly<Config>): XlsxLimits {
  return {
    maxEntryBytes: config.xlsxMaxEntryBytes,
    maxRatio: config.xlsxMaxRatio,
    maxSharedStrings: config.xlsxMaxSharedStrings,
    maxSharedChars: config.xlsxMaxSharedChars,
    maxStylesBytes: config.xlsxMaxStylesBytes,
    maxCellFormats: config.xlsxMaxCellFormats,
    maxCellChars: config.xlsxMaxCellChars,
    maxSheets: config.xlsxMaxSheets,
    maxRows: config.xlsxMaxRows,
    maxColumns: config.xlsxMaxColumns,
  };
}

export interface XlsxOpenOptions {
  /** The file's name as its department knows it (errors name it); default the path's last part. */
  name?: string;
  /** Size of the inflated chunks scanned at a time (bytes, ≥ 64). Default 256 KiB; tests use tiny ones. */
  chunkSize?: number;
  /** Caps (each one defaults to `DEFAULT_XLSX_LIMITS`). */
  limits?: Partial<XlsxLimits>;
  /**
   * Heap bytes the shared strings may take (estimated while they load). Default: 60% of V8's heap limit
   * (`--max-old-space-size` plus the young generation) less the heap in use when they start loading.
   */
  sharedStringsHeapBytes?: number;
}

// ───────────────────────────────────────────── errors ─────────────────────────────────────────────

const ZH_DAMAGED = '工作簿文件已损坏，无法读取，请用 Excel 或 WPS 打开确认后重新保存为 .xlsx 文件再提交';
const ZH_SPLIT = '请删除多余内容或将数据拆分为多个较小的工作簿后重新提交';

/** Thrown by the text decoders on XML that no writer produces; the caller adds where it was. */
class BadXml extends Error {}

function damaged(message: string, file: string, cause?: unknown): FileError {
  return new FileError(`${message}: damaged workbook`, ZH_DAMAGED, { cause, context: { file } });
}

/** Any error of a part's reading as a FileError (a FileError passes through; the rest is damage). */
function asFileError(err: unknown, file: string, where: string): FileError {
  if (err instanceof FileError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  if (err instanceof BadXml) {
    return new FileError(
      `${where} of ${file}: ${detail}`,
      '工作簿文件内容不符合格式（含有无效的字符或转义符号），请用 Excel 或 WPS 打开确认后重新保存为 .xlsx 文件再提交',
      { cause: err, context: { file } },
    );
  }
  return damaged(`cannot read ${where} of ${file} (${detail})`, file, err);
}

const fmt = (n: number) => n.toLocaleString('en-US');
const mb = (n: number) => `${Math.ceil(n / 1024 ** 2).toLocaleString('en-US')} MB`;

/** The column letters of a 0-based index (0 → A, 27 → AB). */
function columnName(col: number): string {
  let s = '';
  for (let n = col + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

// ───────────────────────────────────────────── zip access ─────────────────────────────────────────────

/** Inflated chunk size: stream overhead per chunk dominates below ~128 KiB (measured: 16 KiB chunks double it). */
const DEFAULT_CHUNK = 256 * 1024;
/** How many inflated chunks may wait while the previous one is scanned (inflate runs on the thread pool). */
const READ_AHEAD_CHUNKS = 4;
/** The ratio cap applies past this many inflated bytes: tiny parts can be all padding. */
const RATIO_GRACE = 1024 ** 2;
/** A workbook has a few dozen entries plus a few per sheet; the directory of millions would fill the heap. */
const MAX_ZIP_ENTRIES = 20_000;

/** An open workbook's zip, with what every part's reading needs. */
interface Zip {
  zip: ZipFile;
  /** The file's name, without its folder (messages never show a server path). */
  file: string;
  limits: XlsxLimits;
  chunkSize: number;
}

function openZip(path: string): Promise<ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true, autoClose: false }, (err, zip) => {
      if (err || !zip) reject(err ?? new Error('yauzl returned no zip file'));
      else resolve(zip);
    });
  });
}

function readEntries(zip: ZipFile): Promise<Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: Entry[] = [];
    zip.on('entry', (entry: Entry) => {
      entries.push(entry);
      zip.readEntry();
    });
    zip.once('end', () => resolve(entries));
    zip.once('error', reject);
    zip.readEntry();
  });
}

const OLE_MAGIC = Buffer.from('d0cf11e0a1b11ae1', 'hex');

/** Explains why yauzl could not open the file, from its first bytes. */
async function zipOpenError(path: string, file: string, cause: unknown): Promise<FileError> {
  const detail = cause instanceof Error ? cause.message : String(cause);
  const prefix = `not a valid .xlsx (zip) file: ${file}`;
  const context = { file };
  let head = Buffer.alloc(0);
  let size = -1;
  let ole: 'encrypted' | 'xls' | 'unknown' = 'unknown';
  try {
    size = (await stat(path)).size;
    const fh = await openFile(path, 'r');
    try {
      const { buffer, bytesRead } = await fh.read(Buffer.alloc(512), 0, 512, 0);
      head = buffer.subarray(0, bytesRead);
      if (head.length === 512 && head.subarray(0, 8).equals(OLE_MAGIC)) ole = await oleKind(fh, head);
    } finally {
      await fh.close();
    }
  } catch {
    // keep the generic message
  }
  if (size === 0) {
    return new FileError(`${prefix} is empty (0 bytes)`, '文件是空的（0 字节），请重新导出后提交', {
      cause,
      context,
    });
  }
  if (head.length >= 8 && head.subarray(0, 8).equals(OLE_MAGIC)) {
    if (ole === 'encrypted') {
      return new FileError(
        `${prefix} is a password-protected (encrypted) workbook`,
        '工作簿设置了打开密码（已加密），无法读取，请取消密码后重新保存为 .xlsx 文件再提交',
        { cause, context },
      );
    }
    if (ole === 'xls') {
      return new FileError(
        `${prefix} is a legacy Excel 97-2003 (.xls) workbook; save it as .xlsx`,
        '文件是旧版 Excel 97-2003（.xls）格式，请在 Excel 或 WPS 中“另存为” .xlsx 格式后提交',
        { cause, context },
      );
    }
    return new FileError(
      `${prefix} is an OLE2 compound file: a legacy .xls workbook or a password-protected .xlsx; ` +
        'save it as an .xlsx workbook without a password',
      '文件是旧版 .xls 格式或设置了密码的工作簿，请取消密码并“另存为” .xlsx 格式后提交',
      { cause, context },
    );
  }
  if (head.length >= 2 && head[0] === 0x50 && head[1] === 0x4b) {
    return new FileError(
      `${prefix} is truncated or damaged (${detail})`,
      '工作簿文件不完整或已损坏（可能上传或复制时中断），请重新导出后提交',
      { cause, context },
    );
  }
  return new FileError(
    `${prefix} does not start with a zip signature (${detail})`,
    '文件不是 .xlsx 工作簿（内容不是 Excel 格式），请用 Excel 或 WPS 另存为 .xlsx 文件后提交',
    { cause, context },
  );
}

/**
 * What an OLE2 compound file holds, from the names in its first directory sector: Office stores an encrypted
 * .xlsx as `EncryptionInfo` + `EncryptedPackage` streams, an .xls as a `Workbook` (or `Book`) stream.
 */
async function oleKind(
  fh: Awaited<ReturnType<typeof openFile>>,
  header: Buffer,
): Promise<'encrypted' | 'xls' | 'unknown'> {
  const shift = header.readUInt16LE(0x1e);
  if (shift !== 9 && shift !== 12) return 'unknown';
  const sector = 1 << shift;
  const first = header.readUInt32LE(0x30);
  if (first >= 0xfffffffa) return 'unknown';
  const { buffer, bytesRead } = await fh.read(Buffer.alloc(sector), 0, sector, (first + 1) * sector);
  const names = new Set<string>();
  for (let off = 0; off + 128 <= bytesRead; off += 128) {
    const len = buffer.readUInt16LE(off + 0x40);
    if (len >= 2 && len <= 64) names.add(buffer.toString('utf16le', off, off + len - 2));
  }
  if (names.has('EncryptedPackage') || names.has('EncryptionInfo')) return 'encrypted';
  if (names.has('Workbook') || names.has('Book')) return 'xls';
  return 'unknown';
}

/** An entry's uncompressed bytes as a stream of chunks (inflated here, so that the chunk size is ours). */
function openEntryStream(z: Zip, entry: Entry): Promise<{ stream: Readable; compressed: { bytes: number } }> {
  return new Promise((resolve, reject) => {
    if (entry.isEncrypted()) {
      reject(
        new FileError(
          `${entry.fileName} of ${z.file} is encrypted`,
          '工作簿设置了密码（已加密），无法读取，请取消密码后重新保存为 .xlsx 文件再提交',
          { context: { file: z.file } },
        ),
      );
      return;
    }
    if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
      reject(
        new FileError(
          `${entry.fileName} of ${z.file} uses an unsupported zip compression method (${entry.compressionMethod})`,
          '工作簿使用了不支持的压缩方式（不是 Excel 或 WPS 保存的标准 .xlsx），请用 Excel 或 WPS 打开后重新保存为 .xlsx 文件再提交',
          { context: { file: z.file } },
        ),
      );
      return;
    }
    z.zip.openReadStream(entry, { decodeFileData: false }, (err, raw) => {
      if (err || !raw) {
        reject(err ?? new Error('yauzl returned no stream'));
        return;
      }
      const compressed = { bytes: 0 };
      if (entry.compressionMethod === 0) {
        // stored: what is read is what is inflated, the ratio is 1
        compressed.bytes = Number.POSITIVE_INFINITY;
        resolve({ stream: raw, compressed });
        return;
      }
      raw.on('data', (chunk: Buffer) => {
        compressed.bytes += chunk.length;
      });
      const inflate = createInflateRaw({
        chunkSize: z.chunkSize,
        readableHighWaterMark: z.chunkSize * READ_AHEAD_CHUNKS,
      } as ZlibOptions);
      // errors of either stream destroy both; the consumer sees them on `inflate`
      pipeline(raw, inflate, () => {});
      resolve({ stream: inflate, compressed });
    });
  });
}

function overCap(z: Zip, entry: Entry, bytes: number, cap: number, declared: boolean): FileError {
  const setting =
    cap === z.limits.maxEntryBytes ? 'GUIJI_XLSX_MAX_ENTRY_BYTES' : 'GUIJI_XLSX_MAX_STYLES_BYTES';
  return new FileError(
    `${entry.fileName} of ${z.file} ${declared ? 'declares' : 'inflates to more than'} ${fmt(bytes)} bytes ` +
      `(cap ${fmt(cap)}, ${setting})`,
    `工作簿解压后异常庞大（其中一个部件超过 ${mb(cap)}），不是正常的 Excel 文件，${ZH_SPLIT}`,
    { context: { file: z.file } },
  );
}

function overRatio(z: Zip, entry: Entry, inflated: number, compressed: number): FileError {
  const ratio = Math.floor(inflated / Math.max(1, compressed));
  return new FileError(
    `${entry.fileName} of ${z.file} inflates ${fmt(ratio)} times its compressed size ` +
      `(cap ${z.limits.maxRatio}, GUIJI_XLSX_MAX_RATIO): a zip bomb or an abnormal workbook`,
    `工作簿解压后异常庞大（压缩比超过 ${z.limits.maxRatio} 倍），不是正常的 Excel 文件，${ZH_SPLIT}`,
    { context: { file: z.file } },
  );
}

/**
 * Iterates an entry's chunks under the caps: at most `maxBytes` inflated and `maxRatio` times the compressed
 * bytes read so far, counting what is actually inflated. A header that declares too much is believed; one
 * that declares less than the data holds is caught by the count. The inflate stream is destroyed at once.
 */
async function* entryChunks(z: Zip, entry: Entry, maxBytes: number): AsyncGenerator<Buffer, void, undefined> {
  const declared = entry.uncompressedSize;
  const maxRatio = z.limits.maxRatio;
  if (declared > maxBytes) throw overCap(z, entry, declared, maxBytes, true);
  if (declared > RATIO_GRACE && declared > maxRatio * entry.compressedSize) {
    throw overRatio(z, entry, declared, entry.compressedSize);
  }
  let opened: Awaited<ReturnType<typeof openEntryStream>>;
  try {
    opened = await openEntryStream(z, entry);
  } catch (err) {
    throw asFileError(err, z.file, entry.fileName);
  }
  const { stream, compressed } = opened;
  let total = 0;
  // a flipped bit can inflate cleanly to the declared size with other rows in it: only the checksum tells
  let crc = 0;
  try {
    for await (const chunk of stream) {
      const buf = chunk as Buffer;
      total += buf.length;
      crc = crc32(buf, crc);
      if (total > declared) {
        throw damaged(
          `${entry.fileName} of ${z.file} inflates to more than the ${fmt(declared)} bytes its zip header declares`,
          z.file,
        );
      }
      if (total > maxBytes) throw overCap(z, entry, total, maxBytes, false);
      if (total > RATIO_GRACE && total > maxRatio * compressed.bytes) {
        throw overRatio(z, entry, total, compressed.bytes);
      }
      yield buf;
    }
  } catch (err) {
    throw asFileError(err, z.file, entry.fileName);
  } finally {
    stream.destroy();
  }
  if (total !== declared) {
    throw damaged(
      `${entry.fileName} of ${z.file} inflates to ${fmt(total)} bytes, its zip header declares ${fmt(declared)}`,
      z.file,
    );
  }
  if (crc !== entry.crc32) {
    throw damaged(`${entry.fileName} of ${z.file} does not match its CRC-32`, z.file);
  }
}

/** A small part read whole (relationships, workbook.xml, styles.xml), under the styles cap. */
async function readEntryText(z: Zip, entry: Entry): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of entryChunks(z, entry, z.limits.maxStylesBytes)) parts.push(chunk);
  let text = Buffer.concat(parts).toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return text;
}

// ─────────────────────────────────── small parts: regex-level parsing ───────────────────────────────────

// The look-behind keeps a long run of name characters from being rescanned from each of its positions.
const ATTR_RE = /(?<![\w.:-])([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

function parseAttrs(s: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of s.matchAll(ATTR_RE)) {
    const raw = m[2] ?? m[3] ?? '';
    out.set(m[1]!, raw.includes('&') ? decodeEntities(raw) : raw);
  }
  return out;
}

/**
 * A start tag and its attribute text. `<` cannot occur inside a tag, so a scan that fails stops at the next
 * `<`: linear time on any input (a tag that never closes once made these patterns quadratic).
 */
const TAG_BODY = `((?:[^<>"']|"[^"<]*"|'[^'<]*')*)`;
function tagRe(local: string): RegExp {
  return new RegExp(`<(?:[A-Za-z_][\\w.-]*:)?${local}(?=[\\s/>])${TAG_BODY}>`, 'g');
}

/** The attribute strings of every `<local …>` start tag (any namespace prefix), quote-aware. */
function startTags(xml: string, local: string): Map<string, string>[] {
  return [...xml.matchAll(tagRe(local))].map((m) => parseAttrs(m[1] ?? ''));
}

/** The text between `<local …>` and `</local>` (first occurrence), or null. */
function section(xml: string, local: string): string | null {
  const open = new RegExp(`<(?:[A-Za-z_][\\w.-]*:)?${local}(?=[\\s/>])${TAG_BODY}>`).exec(xml);
  if (!open) return null;
  if (open[0].endsWith('/>')) return '';
  const start = open.index + open[0].length;
  const close = new RegExp(`</(?:[A-Za-z_][\\w.-]*:)?${local}\\s*>`).exec(xml.slice(start));
  return close ? xml.slice(start, start + close.index) : xml.slice(start);
}

/** The value of an attribute whatever its prefix (`r:id`, `ns1:id`), for the relationship id of a sheet. */
function prefixedAttr(attrs: Map<string, string>, local: string): string | undefined {
  for (const [k, v] of attrs) if (k.endsWith(`:${local}`)) return v;
  return undefined;
}

interface Relationship {
  type: string;
  target: string;
}

function parseRels(xml: string, basePart: string, file: string): Map<string, Relationship> {
  const out = new Map<string, Relationship>();
  let n = 0;
  for (const m of xml.matchAll(tagRe('Relationship'))) {
    if (++n > MAX_ZIP_ENTRIES)
      throw damaged(`${basePart || 'the package'} has over ${fmt(n)} relationships`, file);
    const a = parseAttrs(m[1] ?? '');
    const id = a.get('Id');
    const target = a.get('Target');
    if (!id || !target || a.get('TargetMode') === 'External') continue;
    out.set(id, { type: a.get('Type') ?? '', target: resolvePart(basePart, target) });
  }
  return out;
}

function relsPathOf(part: string): string {
  const slash = part.lastIndexOf('/');
  return `${part.slice(0, slash + 1)}_rels/${part.slice(slash + 1)}.rels`;
}

/** A relationship target resolved against the part that holds the relationship. */
function resolvePart(basePart: string, target: string): string {
  const t = target.replace(/\\/g, '/');
  const joined = t.startsWith('/') ? t.slice(1) : basePart.slice(0, basePart.lastIndexOf('/') + 1) + t;
  const out: string[] = [];
  for (const seg of joined.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return out.join('/');
}

// ─────────────────────────────────────────── text decoding ───────────────────────────────────────────

const ENTITY_RE = /&(#[xX][0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot|apos);/g;
/** An `&` that starts no entity XML knows: Excel refuses such a file, and so do we. */
const BAD_AMP_RE = /&(?!(?:#[xX][0-9a-fA-F]{1,8}|#[0-9]{1,10}|lt|gt|amp|quot|apos);)/;
const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(s: string): string {
  const bad = BAD_AMP_RE.exec(s);
  if (bad) throw new BadXml(`invalid entity "${s.slice(bad.index, bad.index + 12)}"`);
  return s.replace(ENTITY_RE, (whole, name: string) => {
    if (name.charCodeAt(0) !== 35) return NAMED[name] ?? whole;
    const cp =
      name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
    // lone surrogates are let through: some writers encode a pair as two references
    if (!(cp > 0 && cp <= 0x10ffff)) throw new BadXml(`invalid character reference "${whole}"`);
    return String.fromCodePoint(cp);
  });
}

/** OOXML's `_xHHHH_` escapes (`_x000D_` is a carriage return; `_x005F_` escapes a literal underscore). */
const XESC_RE = /_x([0-9A-Fa-f]{4})_/g;
function decodeXEscapes(s: string): string {
  return s.replace(XESC_RE, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

// flags gathered while scanning character data
const F_LT = 1;
const F_AMP = 2;
const F_US = 4;
const F_CR = 8;
const F_HI = 16;
const F_MARKUP = 32; // a CDATA section or comment inside the text
const TEXT_CLASS = new Uint8Array(256);
TEXT_CLASS[60] = F_LT;
TEXT_CLASS[38] = F_AMP;
TEXT_CLASS[95] = F_US;
TEXT_CLASS[13] = F_CR;
for (let i = 128; i < 256; i++) TEXT_CLASS[i] = F_HI;

/** Character data (raw bytes of one element's content) to a fresh string. */
function decodeText(b: Buffer, s: number, e: number, flags: number): string {
  if (s >= e) return '';
  let str = (flags & F_HI) !== 0 ? b.toString('utf8', s, e) : b.toString('latin1', s, e);
  if ((flags & (F_AMP | F_US | F_CR | F_MARKUP)) === 0) return str;
  if ((flags & F_MARKUP) !== 0) str = decodeMarkup(str);
  else {
    if ((flags & F_CR) !== 0) str = str.replace(/\r\n?/g, '\n');
    if ((flags & F_AMP) !== 0) str = decodeEntities(str);
  }
  if ((flags & F_US) !== 0 && str.includes('_x')) str = decodeXEscapes(str);
  return str;
}

/** Content with CDATA sections or comments: CDATA is literal, comments vanish, the rest is decoded. */
function decodeMarkup(raw: string): string {
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const lt = raw.indexOf('<', i);
    const plain = lt < 0 ? raw.slice(i) : raw.slice(i, lt);
    out += decodeEntities(plain.replace(/\r\n?/g, '\n'));
    if (lt < 0) break;
    if (raw.startsWith('<![CDATA[', lt)) {
      const end = raw.indexOf(']]>', lt + 9);
      out += raw.slice(lt + 9, end < 0 ? raw.length : end).replace(/\r\n?/g, '\n');
      i = end < 0 ? raw.length : end + 3;
    } else {
      const end = raw.indexOf('-->', lt + 4);
      i = end < 0 ? raw.length : end + 3;
    }
  }
  return out;
}

// ─────────────────────────────────────────── the byte scanner ───────────────────────────────────────────

const TOK_MORE = 0; // the tag is not complete in this buffer: wait for more bytes
const TOK_OPEN = 1;
const TOK_CLOSE = 2;
const TOK_SELF = 3;

/** Index after a `<!…>` / `<?…?>` construct starting at `p`, or -1 when it is not complete yet. */
function skipSpecial(b: Buffer, p: number, end: number): number {
  if (b[p + 1] === 63) {
    const q = b.indexOf('?>', p + 2);
    return q < 0 ? -1 : q + 2;
  }
  if (p + 3 >= end) return -1;
  if (b[p + 2] === 45 && b[p + 3] === 45) {
    const q = b.indexOf('-->', p + 4);
    return q < 0 ? -1 : q + 3;
  }
  if (b[p + 2] === 91) {
    if (p + 9 > end) return -1;
    const q = b.indexOf(']]>', p + 9);
    return q < 0 ? -1 : q + 3;
  }
  const q = b.indexOf(62, p + 2);
  return q < 0 ? -1 : q + 1;
}

/**
 * A pull scanner over one buffer of XML bytes. `next()` reads the next tag and exposes its local name
 * (prefix dropped) and the values of the one-letter attributes `r`, `s` and `t`; `text()` reads the
 * character data up to the next tag. Both return "more" without moving when the buffer ends first.
 */
class ByteScanner {
  b: Buffer = Buffer.alloc(0);
  end = 0;
  pos = 0;
  /** local name of the last tag: [ns, ne) */
  ns = 0;
  ne = 0;
  rS = -1;
  rE = -1;
  sS = -1;
  sE = -1;
  tS = -1;
  tE = -1;
  textS = 0;
  textE = 0;
  textFlags = 0;

  reset(b: Buffer): void {
    this.b = b;
    this.end = b.length;
    this.pos = 0;
  }

  next(): number {
    const b = this.b;
    const end = this.end;
    let p = this.pos;
    for (;;) {
      while (p < end && b[p] !== 60) p++;
      if (p + 1 >= end) return TOK_MORE;
      let c = b[p + 1]!;
      if (c === 33 || c === 63) {
        const q = skipSpecial(b, p, end);
        if (q < 0) return TOK_MORE;
        p = q;
        continue;
      }
      p++;
      let kind = TOK_OPEN;
      if (c === 47) {
        kind = TOK_CLOSE;
        p++;
      }
      let ls = p;
      while (p < end) {
        c = b[p]!;
        if (c === 58) ls = p + 1;
        else if (c <= 32 || c === 62 || c === 47) break;
        p++;
      }
      if (p >= end) return TOK_MORE;
      this.ns = ls;
      this.ne = p;
      this.rS = -1;
      this.sS = -1;
      this.tS = -1;
      for (;;) {
        while (p < end && b[p]! <= 32) p++;
        if (p >= end) return TOK_MORE;
        c = b[p]!;
        if (c === 62) {
          this.pos = p + 1;
          return kind;
        }
        if (c === 47) {
          if (p + 1 >= end) return TOK_MORE;
          this.pos = p + 2;
          return kind === TOK_CLOSE ? TOK_CLOSE : TOK_SELF;
        }
        const an = p;
        while (p < end) {
          c = b[p]!;
          if (c <= 32 || c === 61 || c === 62 || c === 47) break;
          p++;
        }
        const ae = p;
        while (p < end && b[p]! <= 32) p++;
        if (p >= end) return TOK_MORE;
        if (b[p] !== 61) {
          if (p === an) p++; // a stray character: step over it
          continue; // an attribute without a value (not XML, tolerated)
        }
        p++;
        while (p < end && b[p]! <= 32) p++;
        if (p >= end) return TOK_MORE;
        const q = b[p]!;
        let vs: number;
        let ve: number;
        if (q === 34 || q === 39) {
          vs = ++p;
          while (p < end && b[p] !== q) p++;
          if (p >= end) return TOK_MORE;
          ve = p++;
        } else {
          vs = p;
          while (p < end) {
            c = b[p]!;
            if (c <= 32 || c === 62) break;
            p++;
          }
          if (p >= end) return TOK_MORE;
          ve = p;
        }
        if (ae - an === 1) {
          const n = b[an];
          if (n === 114) {
            this.rS = vs;
            this.rE = ve;
          } else if (n === 115) {
            this.sS = vs;
            this.sE = ve;
          } else if (n === 116) {
            this.tS = vs;
            this.tE = ve;
          }
        }
      }
    }
  }

  /** Character data from `pos` up to the next tag (CDATA sections and comments included); false: more. */
  text(): boolean {
    const b = this.b;
    const end = this.end;
    const start = this.pos;
    let p = start;
    let flags = 0;
    for (;;) {
      while (p < end) {
        const f = TEXT_CLASS[b[p]!]!;
        if (f === F_LT) break;
        flags |= f;
        p++;
      }
      if (p + 1 >= end) return false;
      if (b[p + 1] === 33) {
        const q = skipSpecial(b, p, end);
        if (q < 0) return false;
        flags |= F_MARKUP;
        p = q;
        continue;
      }
      this.textS = start;
      this.textE = p;
      this.textFlags = flags;
      this.pos = p;
      return true;
    }
  }

  /** After an open tag: skips to its matching close tag. False: more. */
  skipElement(): boolean {
    let depth = 1;
    for (;;) {
      const tok = this.next();
      if (tok === TOK_MORE) return false;
      if (tok === TOK_OPEN) depth++;
      else if (tok === TOK_CLOSE && --depth === 0) return true;
    }
  }

  is1(c: number): boolean {
    return this.ne - this.ns === 1 && this.b[this.ns] === c;
  }

  is2(c0: number, c1: number): boolean {
    return this.ne - this.ns === 2 && this.b[this.ns] === c0 && this.b[this.ns + 1] === c1;
  }

  is3(c0: number, c1: number, c2: number): boolean {
    const b = this.b;
    const s = this.ns;
    return this.ne - s === 3 && b[s] === c0 && b[s + 1] === c1 && b[s + 2] === c2;
  }

  isName(name: Uint8Array): boolean {
    if (this.ne - this.ns !== name.length) return false;
    for (let i = 0; i < name.length; i++) if (this.b[this.ns + i] !== name[i]) return false;
    return true;
  }
}

/**
 * Joins the unscanned tail of one chunk (an element cut by the chunk boundary) with the next chunk, in one
 * reused buffer: no allocation per chunk, and no slice of an old chunk kept alive.
 */
class ChunkJoiner {
  private work: Buffer = Buffer.alloc(0);
  /** Bytes carried over from the last chunk: the unfinished element (its size is capped by the readers). */
  carried = 0;
  private current: Buffer = Buffer.alloc(0);

  join(chunk: Buffer): Buffer {
    if (this.carried === 0) {
      this.current = chunk;
      return chunk;
    }
    const need = this.carried + chunk.length;
    if (this.work.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.work.length * 2));
      this.work.copy(grown, 0, 0, this.carried);
      this.work = grown;
    }
    chunk.copy(this.work, this.carried);
    this.current = this.work.subarray(0, need);
    return this.current;
  }

  /** Keeps the bytes from `from` to the end of the buffer last joined, for the next chunk. */
  keep(from: number): void {
    const b = this.current;
    const len = b.length - from;
    if (len <= 0) {
      this.carried = 0;
      return;
    }
    if (this.work.length < len) this.work = Buffer.allocUnsafe(Math.max(len, this.work.length * 2, 65536));
    b.copy(this.work, 0, from, b.length); // may overlap: Buffer#copy moves
    this.carried = len;
  }

  tail(): Buffer {
    return this.work.subarray(0, this.carried);
  }
}

const NAME_SHEETDATA = Buffer.from('sheetData');

/**
 * After an open tag: moves past its end tag `</name>` (any prefix), `name` being three letters, without
 * tokenizing what is in between. Only for elements that cannot contain themselves (`<rPr>`, `<rPh>`).
 * False: more bytes are needed.
 */
function skipToEnd(sc: ByteScanner, c0: number, c1: number, c2: number): boolean {
  const b = sc.b;
  const end = sc.end;
  let p = sc.pos;
  for (;;) {
    while (p < end && b[p] !== 60) p++;
    if (p + 1 >= end) return false;
    if (b[p + 1] === 47) {
      let k = p + 2;
      let ls = k;
      while (k < end && b[k] !== 62 && b[k]! > 32) {
        if (b[k] === 58) ls = k + 1;
        k++;
      }
      if (k >= end) return false;
      if (k - ls === 3 && b[ls] === c0 && b[ls + 1] === c1 && b[ls + 2] === c2) {
        while (k < end && b[k] !== 62) k++;
        if (k >= end) return false;
        sc.pos = k + 1;
        return true;
      }
    }
    p++;
  }
}

/**
 * Reads a rich or plain string (`<si>` of the shared strings, `<is>` of an inline string) after its open
 * tag: the `<t>` runs joined, phonetic runs (`<rPh>`) left out. Returns null when the buffer ends first.
 */
class RichTextReader {
  /** Whether the last string read had non-ASCII bytes (V8 then most likely stores it two bytes a character). */
  wide = false;
  private starts: number[] = [];
  private ends: number[] = [];
  private flags: number[] = [];
  private scratch = Buffer.alloc(4096);

  read(sc: ByteScanner, c0: number, c1: number): string | null {
    let n = 0;
    let all = 0;
    for (;;) {
      const tok = sc.next();
      if (tok === TOK_MORE) return null;
      if (tok === TOK_OPEN) {
        if (sc.is1(116)) {
          if (!sc.text()) return null;
          this.starts[n] = sc.textS;
          this.ends[n] = sc.textE;
          this.flags[n] = sc.textFlags;
          all |= sc.textFlags;
          n++;
          if (sc.next() === TOK_MORE) return null; // </t>
          // fast path: the container closes right after this run (`</si>`, `</is>`, unprefixed)
          const p = sc.pos;
          const b = sc.b;
          if (b[p] === 60 && b[p + 1] === 47 && b[p + 2] === c0 && b[p + 3] === c1 && b[p + 4] === 62) {
            sc.pos = p + 5;
            break;
          }
        } else if (sc.is3(114, 80, 114) || sc.is3(114, 80, 104)) {
          // <rPr> (run formatting) and <rPh> (phonetic run): jump to their end tag
          if (!skipToEnd(sc, 114, 80, sc.b[sc.ns + 2]!)) return null;
        }
      } else if (tok === TOK_CLOSE && sc.is2(c0, c1)) break;
    }
    const b = sc.b;
    this.wide = (all & F_HI) !== 0;
    if (n === 0) return '';
    if (n === 1) return decodeText(b, this.starts[0]!, this.ends[0]!, all);
    if ((all & (F_US | F_MARKUP | F_CR)) === 0) {
      // join the runs' raw bytes, then decode once: one flat string
      let len = 0;
      for (let i = 0; i < n; i++) len += this.ends[i]! - this.starts[i]!;
      if (this.scratch.length < len) this.scratch = Buffer.alloc(Math.max(len, this.scratch.length * 2));
      let off = 0;
      for (let i = 0; i < n; i++) off += b.copy(this.scratch, off, this.starts[i]!, this.ends[i]!);
      return decodeText(this.scratch, 0, len, all);
    }
    let out = '';
    for (let i = 0; i < n; i++) out += decodeText(b, this.starts[i]!, this.ends[i]!, this.flags[i]!);
    return out;
  }
}

// ─────────────────────────────────────────── numbers and dates ───────────────────────────────────────────

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16];

/** A decimal from bytes; the exact fast path when it has ≤ 15 digits and no exponent, else Number(). */
function parseNumber(b: Buffer, s: number, e: number): number {
  let p = s;
  let neg = false;
  if (b[p] === 45) {
    neg = true;
    p++;
  }
  let m = 0;
  let digits = 0;
  let frac = 0;
  let dot = false;
  for (; p < e; p++) {
    const c = b[p]!;
    if (c >= 48 && c <= 57) {
      m = m * 10 + (c - 48);
      digits++;
      if (dot) frac++;
    } else if (c === 46 && !dot) dot = true;
    else return Number(b.toString('latin1', s, e));
  }
  if (digits === 0 || digits > 15) return Number(b.toString('latin1', s, e));
  const v = frac === 0 ? m : m / POW10[frac]!;
  return neg ? -v : v;
}

/** A non-negative decimal integer from bytes, or -1. */
function parseUint(b: Buffer, s: number, e: number): number {
  if (s >= e) return -1;
  let v = 0;
  for (let p = s; p < e; p++) {
    const c = b[p]!;
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}

/** The 0-based column of a cell reference (`AB12` → 27), or -1. */
function parseColumn(b: Buffer, s: number, e: number): number {
  let col = 0;
  let p = s;
  for (; p < e; p++) {
    let c = b[p]!;
    if (c >= 97 && c <= 122) c -= 32;
    if (c < 65 || c > 90) break;
    col = col * 26 + (c - 64);
  }
  return p === s ? -1 : col - 1;
}

const MS_PER_DAY = 86_400_000;
const EPOCH_1900 = Date.UTC(1899, 11, 30);
const EPOCH_1904 = Date.UTC(1904, 0, 1);
const MAX_SERIAL = 2_958_466; // 9999-12-31 + 1 in the 1900 system

/**
 * An Excel serial date as a UTC Date. In the 1900 system Excel counts a 29 February 1900 that never was:
 * serials 1–60 are shifted by one day (serial 60, the phantom day, becomes 1 March 1900). Serials outside
 * 0 … 9999-12-31 are not dates (Excel shows ####): null.
 */
export function excelSerialToDate(serial: number, date1904: boolean): Date | null {
  if (!(serial >= 0) || serial > MAX_SERIAL) return null;
  const base = date1904 ? EPOCH_1904 : serial < 61 ? EPOCH_1900 + MS_PER_DAY : EPOCH_1900;
  return new Date(base + Math.round(serial * MS_PER_DAY));
}

const BUILTIN_DATE_FORMATS = new Set<number>();
for (const [lo, hi] of [
  [14, 22],
  [27, 36],
  [45, 47],
  [50, 58],
] as const) {
  for (let i = lo; i <= hi; i++) BUILTIN_DATE_FORMATS.add(i);
}

/**
 * Whether a number format code shows a date or time: y, m, d, h or s outside quoted text, escapes and
 * brackets (`[h]`, `[mm]`, `[ss]` elapsed-time brackets count; `[Red]`, `[$-F800]`, `[DBNum1]` do not).
 */
export function isDateFormatCode(code: string): boolean {
  let s = '';
  for (let i = 0; i < code.length; i++) {
    const c = code[i]!;
    if (c === '"') {
      const j = code.indexOf('"', i + 1);
      i = j < 0 ? code.length : j;
    } else if (c === '\\' || c === '_' || c === '*') {
      i++;
    } else if (c === '[') {
      const j = code.indexOf(']', i + 1);
      const inner = code.slice(i + 1, j < 0 ? code.length : j);
      if (/^(?:h+|m+|s+)$/i.test(inner)) s += 'h';
      i = j < 0 ? code.length : j;
    } else s += c;
  }
  return /[ymdhs]/i.test(s);
}

function parseStyles(xml: string, z: Zip): boolean[] {
  const max = z.limits.maxCellFormats;
  const tooMany = (what: string) =>
    new FileError(
      `styles.xml of ${z.file} holds more than ${fmt(max)} ${what} (GUIJI_XLSX_MAX_CELL_FORMATS)`,
      `工作簿中的单元格格式数量异常（超过 ${fmt(max)} 种），请将数据复制到新建的工作簿（只粘贴数值）后重新提交`,
      { context: { file: z.file } },
    );
  const custom = new Map<number, string>();
  for (const m of xml.matchAll(tagRe('numFmt'))) {
    if (custom.size >= max) throw tooMany('number formats');
    const a = parseAttrs(m[1] ?? '');
    const id = Number(a.get('numFmtId'));
    if (Number.isInteger(id)) custom.set(id, a.get('formatCode') ?? '');
  }
  const xfs = section(xml, 'cellXfs') ?? '';
  const out: boolean[] = [];
  for (const m of xfs.matchAll(tagRe('xf'))) {
    if (out.length >= max) throw tooMany('cell formats');
    const a = parseAttrs(m[1] ?? '');
    const id = Number(a.get('numFmtId') ?? 0);
    const code = custom.get(id);
    out.push(code !== undefined ? isDateFormatCode(code) : BUILTIN_DATE_FORMATS.has(id));
  }
  return out;
}

// ─────────────────────────────────────────── the workbook ───────────────────────────────────────────

const T_N = 0;
const T_S = 1;
const T_B = 2;
const T_E = 3;
const T_STR = 4;
const T_INLINE = 5;
const T_D = 6;

function cellType(b: Buffer, s: number, e: number): number {
  if (s < 0) return T_N;
  const len = e - s;
  const c = b[s];
  if (len === 1) {
    if (c === 115) return T_S;
    if (c === 98) return T_B;
    if (c === 101) return T_E;
    if (c === 100) return T_D;
    return T_N;
  }
  if (len === 3 && c === 115) return T_STR;
  if (len === 9 && c === 105) return T_INLINE;
  return T_N;
}

/** A `t="d"` value (ISO 8601); without a zone it is read as UTC, like the serial dates. */
function parseIsoDate(s: string): Date | string {
  const local = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$/.test(s);
  const d = new Date(local ? (s.length === 10 ? s : `${s}Z`) : s);
  return Number.isNaN(d.getTime()) ? s : d;
}

/**
 * Bytes of one unfinished element the scanner may carry into the next chunk: a row of the sheet, or one
 * shared string. A row of 20 cells of 32,767 Chinese characters is 2 MB; this bounds memory and the rescans
 * of a row that never ends.
 */
function elementCap(limits: XlsxLimits): number {
  return Math.max(16 * 1024 ** 2, limits.maxCellChars * 64);
}

/**
 * Passes the chunks on, except while the scanner carries a large unfinished element: then it waits until
 * as many new bytes as are carried have arrived. Rescanning a growing element at every chunk was quadratic
 * (a 40 MB cell took 25 s to reject); doubling keeps the work linear. Ordinary rows never wait.
 */
async function* batched(chunks: AsyncIterable<Buffer>, joiner: ChunkJoiner): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    if (size === 0 && chunk.length >= joiner.carried) {
      yield chunk;
      continue;
    }
    pending.push(chunk);
    size += chunk.length;
    if (size >= joiner.carried) {
      const joined = Buffer.concat(pending, size);
      pending = [];
      size = 0;
      yield joined;
    }
  }
  if (size > 0) yield Buffer.concat(pending, size);
}

/**
 * Estimated heap bytes of `count` shared strings whose characters take `bytes` (one byte each in an ASCII
 * string, two in one with Chinese): V8's 16-byte header and padding, and the array's 8-byte slot with its
 * growth (the old and the new backing store live together while it grows). Measured: 200,000 rows × 20
 * columns, 1.69M strings, take 92 MB; this says 113 MB.
 */
function sharedStringsHeap(count: number, bytes: number): number {
  return count * 40 + bytes;
}

function defaultHeapBudget(): number {
  const heap = getHeapStatistics();
  return Math.max(0, heap.heap_size_limit * 0.6 - heap.used_heap_size);
}

/** A problem at one row of a sheet (the row told to the clerk). */
function sheetError(z: Zip, sheet: string, row: number, message: string, zh: string): FileError {
  return new FileError(
    `sheet "${sheet}" of ${z.file}, row ${row}: ${message}`,
    `工作表“${sheet}”第 ${row} 行${zh}`,
    {
      context: { file: z.file, sheet, row },
    },
  );
}

function cellTooLong(z: Zip, sheet: string, row: number, col: number, length: number): FileError {
  const cell = `${columnName(col)}${row}`;
  return new FileError(
    `sheet "${sheet}" of ${z.file}: cell ${cell} holds ${fmt(length)} characters, ` +
      `over ${fmt(z.limits.maxCellChars)} (GUIJI_XLSX_MAX_CELL_CHARS)`,
    `工作表“${sheet}”第 ${row} 行 ${columnName(col)} 列的单元格有 ${fmt(length)} 个字符，` +
      `超过 Excel 单元格的上限 ${fmt(z.limits.maxCellChars)} 个字符，请删减该单元格的内容后重新提交`,
    { context: { file: z.file, sheet, row } },
  );
}

interface SheetPart {
  info: XlsxSheetInfo;
  part: string;
}

class Workbook implements XlsxWorkbook {
  readonly sheets: XlsxSheetInfo[];
  private closed = false;
  private strings: Promise<string[]> | null = null;

  constructor(
    private readonly z: Zip,
    private readonly entries: Map<string, Entry>,
    private readonly parts: SheetPart[],
    private readonly sharedStringsPart: string | null,
    private readonly dateStyles: boolean[],
    private readonly date1904: boolean,
    private readonly heapBudget: number | undefined,
  ) {
    this.sheets = parts.map((p) => p.info);
  }

  rows(sheetName: string): AsyncIterable<XlsxRow> {
    const sheet =
      this.parts.find((p) => p.info.name === sheetName) ??
      this.parts.find((p) => p.info.name.toLowerCase() === sheetName.toLowerCase());
    if (!sheet) {
      const names = this.parts.map((p) => p.info.name).join(', ');
      throw new Error(`${this.z.file} has no worksheet named "${sheetName}" (it has: ${names})`);
    }
    return { [Symbol.asyncIterator]: () => this.readSheet(sheet) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.z.zip.close();
  }

  private sharedStrings(): Promise<string[]> {
    if (!this.strings) {
      const part = this.sharedStringsPart;
      const entry = part ? findEntry(this.entries, part) : undefined;
      this.strings = entry
        ? loadSharedStrings(this.z, entry, this.heapBudget ?? defaultHeapBudget())
        : Promise.resolve([]);
      // a failed load is reported to every reader, but must not be an unhandled rejection meanwhile
      this.strings.catch(() => {});
    }
    return this.strings;
  }

  private async *readSheet(sheet: SheetPart): AsyncGenerator<XlsxRow, void, undefined> {
    const z = this.z;
    const name = sheet.info.name;
    if (this.closed) throw new Error(`${z.file} is closed`);
    const entry = findEntry(this.entries, sheet.part);
    if (!entry) {
      throw new FileError(
        `worksheet "${name}" (${sheet.part}) is missing from ${z.file}`,
        `工作簿中缺少工作表“${name}”的数据，文件不完整或已损坏，请用 Excel 或 WPS 打开确认后重新保存再提交`,
        { context: { file: z.file, sheet: name } },
      );
    }
    const sst = await this.sharedStrings();
    const dateStyles = this.dateStyles;
    const date1904 = this.date1904;
    const { maxCellChars, maxRows } = z.limits;
    const maxColumn = z.limits.maxColumns - 1;
    const carryCap = elementCap(z.limits);
    const where = `sheet "${name}" (${sheet.part}) of ${z.file}`;
    const sc = new ByteScanner();
    const rich = new RichTextReader();
    let state = 0; // 0 before <sheetData>, 1 inside, 2 after
    let lastRow = 0;
    let rowNumber = 0;
    const joiner = new ChunkJoiner();
    try {
      for await (const chunk of batched(entryChunks(z, entry, z.limits.maxEntryBytes), joiner)) {
        // after </sheetData> the rest is read but not scanned: only a part read to its end has its CRC checked
        if (state === 2) continue;
        const b = joiner.join(chunk);
        sc.reset(b);
        let safe = 0;
        while (state !== 2) {
          const tok = sc.next();
          if (tok === TOK_MORE) break;
          if (state === 0) {
            if (tok !== TOK_CLOSE && sc.isName(NAME_SHEETDATA)) state = tok === TOK_SELF ? 2 : 1;
            safe = sc.pos;
            continue;
          }
          if (tok === TOK_OPEN && sc.is3(114, 111, 119)) {
            // <row>: read it whole, or rewind to its start and wait for more bytes
            rowNumber = sc.rS >= 0 ? parseUint(b, sc.rS, sc.rE) : lastRow + 1;
            if (rowNumber < 1) {
              rowNumber = lastRow + 1; // the clerk is told where, not the number that is not one
              throw sheetError(z, name, rowNumber, 'bad row number', '的行号无效，文件已损坏');
            }
            if (rowNumber > maxRows) {
              throw sheetError(
                z,
                name,
                rowNumber,
                `row number over ${fmt(maxRows)} (GUIJI_XLSX_MAX_ROWS)`,
                `超出了工作表的最大行数 ${fmt(maxRows)}，${ZH_SPLIT}`,
              );
            }
            const cells: CellValue[] = [];
            let col = -1;
            let done = false;
            for (;;) {
              let t = sc.next();
              if (t === TOK_MORE) break;
              if (t === TOK_CLOSE) {
                if (sc.is3(114, 111, 119)) {
                  done = true;
                  break;
                }
                continue;
              }
              if (!sc.is1(99)) {
                if (t === TOK_OPEN && !sc.skipElement()) break; // <extLst> and the like
                continue;
              }
              // <c r s t>
              if (sc.rS >= 0) {
                col = parseColumn(b, sc.rS, sc.rE);
                if (col < 0)
                  throw sheetError(z, name, rowNumber, 'bad cell reference', '的单元格位置无效，文件已损坏');
              } else col++;
              if (col > maxColumn) {
                throw sheetError(
                  z,
                  name,
                  rowNumber,
                  `cell beyond column ${columnName(maxColumn)} (GUIJI_XLSX_MAX_COLUMNS)`,
                  `有数据超出了最大列 ${columnName(maxColumn)}（第 ${fmt(maxColumn + 1)} 列），${ZH_SPLIT}`,
                );
              }
              if (t === TOK_SELF) continue;
              const style = sc.sS >= 0 ? parseUint(b, sc.sS, sc.sE) : 0;
              const type = cellType(b, sc.tS, sc.tE);
              let vS = -1;
              let vE = -1;
              let vFlags = 0;
              let inline: string | null = null;
              let complete = false;
              // fast path for the usual unprefixed `<v>…</v></c>`; anything else takes the general loop
              let p = sc.pos;
              if (b[p] === 60 && b[p + 1] === 118 && b[p + 2] === 62) {
                sc.pos = p + 3;
                if (!sc.text()) break;
                vS = sc.textS;
                vE = sc.textE;
                vFlags = sc.textFlags;
                p = sc.pos;
                if (
                  b[p + 1] === 47 &&
                  b[p + 2] === 118 &&
                  b[p + 3] === 62 &&
                  b[p + 4] === 60 &&
                  b[p + 5] === 47 &&
                  b[p + 6] === 99 &&
                  b[p + 7] === 62
                ) {
                  sc.pos = p + 8;
                  complete = true;
                }
              }
              while (!complete) {
                t = sc.next();
                if (t === TOK_MORE) break;
                if (t === TOK_CLOSE) {
                  if (sc.is1(99)) {
                    complete = true;
                    break;
                  }
                  continue;
                }
                if (t !== TOK_OPEN) continue;
                if (sc.is1(118)) {
                  // <v>
                  if (!sc.text()) break;
                  vS = sc.textS;
                  vE = sc.textE;
                  vFlags = sc.textFlags;
                  if (sc.next() === TOK_MORE) break;
                } else if (sc.is2(105, 115)) {
                  // <is>
                  inline = rich.read(sc, 105, 115);
                  if (inline === null) break;
                } else if (!sc.skipElement()) break; // <f>, <extLst>
              }
              if (!complete) break;
              let value: CellValue = null;
              switch (type) {
                case T_N:
                  if (vS >= 0 && vE > vS) {
                    const n = parseNumber(b, vS, vE);
                    if (Number.isNaN(n)) value = decodeText(b, vS, vE, vFlags);
                    else if (dateStyles[style] === true) value = excelSerialToDate(n, date1904) ?? n;
                    else value = n;
                  }
                  break;
                case T_S:
                  if (vS >= 0) {
                    const i = parseUint(b, vS, vE);
                    const s = sst[i];
                    if (s === undefined) {
                      const ref = decodeText(b, vS, vE, vFlags).slice(0, 20);
                      throw sheetError(
                        z,
                        name,
                        rowNumber,
                        `refers to shared string ${ref}, but the workbook has ${sst.length}`,
                        // a damaged index can be any bytes: the clerk reads it only when it is a number
                        `引用了不存在的共享文字（${/^\d{1,12}$/.test(ref) ? `第 ${ref} 项，` : ''}工作簿只有 ${fmt(sst.length)} 项），文件已损坏，` +
                          '请用 Excel 或 WPS 打开确认后重新保存再提交',
                      );
                    }
                    if (s.length > maxCellChars) throw cellTooLong(z, name, rowNumber, col, s.length);
                    value = s === '' ? null : s;
                  }
                  break;
                case T_INLINE:
                  value = inline ?? (vS >= 0 ? decodeText(b, vS, vE, vFlags) : null);
                  if (value === '') value = null;
                  break;
                case T_STR:
                case T_E:
                  value = vS >= 0 && vE > vS ? decodeText(b, vS, vE, vFlags) : null;
                  break;
                case T_B:
                  if (vS >= 0 && vE > vS) value = b[vS] === 49 || b[vS] === 116 || b[vS] === 84;
                  break;
                case T_D:
                  if (vS >= 0 && vE > vS) value = parseIsoDate(decodeText(b, vS, vE, vFlags).trim());
                  break;
              }
              if (value !== null) {
                if (type !== T_S && typeof value === 'string' && value.length > maxCellChars) {
                  throw cellTooLong(z, name, rowNumber, col, value.length);
                }
                while (cells.length < col) cells.push(null);
                cells[col] = value;
              }
            }
            if (!done) break;
            safe = sc.pos;
            lastRow = rowNumber;
            if (cells.length > 0) yield { rowNumber, cells };
          } else if (tok === TOK_SELF && sc.is3(114, 111, 119)) {
            lastRow = sc.rS >= 0 ? parseUint(b, sc.rS, sc.rE) : lastRow + 1;
            safe = sc.pos;
          } else if (tok === TOK_CLOSE && sc.isName(NAME_SHEETDATA)) {
            state = 2;
            safe = sc.pos;
          } else {
            if (tok === TOK_OPEN && !sc.skipElement()) break;
            safe = sc.pos;
          }
        }
        if (state === 2) continue;
        joiner.keep(safe);
        if (joiner.carried > carryCap) {
          if (rowNumber <= lastRow) rowNumber = lastRow + 1;
          throw sheetError(
            z,
            name,
            rowNumber,
            `one row (or an element after row ${lastRow}) holds more than ${mb(carryCap)} of XML: ` +
              `a cell over ${fmt(maxCellChars)} characters (GUIJI_XLSX_MAX_CELL_CHARS)?`,
            `的数据异常庞大（超过 ${mb(carryCap)}），可能有单元格超过 Excel 的上限 ${fmt(maxCellChars)} 个字符，` +
              '请删减该行的内容后重新提交',
          );
        }
      }
    } catch (err) {
      if (err instanceof BadXml) {
        throw new FileError(
          `${where}, row ${rowNumber}: ${err.message}`,
          `工作表“${name}”第 ${rowNumber} 行含有无效的字符或转义符号，文件内容不符合 Excel 格式，` +
            '请用 Excel 或 WPS 打开确认后重新保存再提交',
          { cause: err, context: { file: z.file, sheet: name, row: rowNumber } },
        );
      }
      throw asFileError(err, z.file, where);
    }
    if (state !== 2) {
      throw new FileError(
        `${where} ends before its </sheetData> (after row ${lastRow}): damaged workbook`,
        `工作表“${name}”的数据在第 ${lastRow} 行之后中断（文件不完整或已损坏），请重新导出后提交`,
        { context: { file: z.file, sheet: name, row: lastRow } },
      );
    }
  }
}

async function loadSharedStrings(z: Zip, entry: Entry, heapBudget: number): Promise<string[]> {
  const { maxSharedStrings, maxSharedChars } = z.limits;
  const carryCap = elementCap(z.limits);
  const out: string[] = [];
  let chars = 0;
  let bytes = 0;
  const sc = new ByteScanner();
  const rich = new RichTextReader();
  const joiner = new ChunkJoiner();
  const over = (message: string, zh: string) =>
    new FileError(`sharedStrings.xml of ${z.file}: ${message}`, `${zh}，${ZH_SPLIT}`, {
      context: { file: z.file },
    });
  try {
    for await (const chunk of batched(entryChunks(z, entry, z.limits.maxEntryBytes), joiner)) {
      const b = joiner.join(chunk);
      sc.reset(b);
      let safe = 0;
      for (;;) {
        const tok = sc.next();
        if (tok === TOK_MORE) break;
        if (sc.is2(115, 105)) {
          if (tok === TOK_OPEN) {
            const s = rich.read(sc, 115, 105);
            if (s === null) break;
            out.push(s);
            chars += s.length;
            bytes += rich.wide ? s.length * 2 : s.length;
          } else if (tok === TOK_SELF) out.push('');
        }
        safe = sc.pos;
      }
      // checked once a chunk: the overshoot is one chunk's worth, the cost nothing per string
      if (out.length > maxSharedStrings) {
        throw over(
          `more than ${fmt(maxSharedStrings)} strings (GUIJI_XLSX_MAX_SHARED_STRINGS)`,
          `工作簿中不重复的文字超过 ${fmt(maxSharedStrings)} 项，数量异常`,
        );
      }
      if (chars > maxSharedChars) {
        throw over(
          `more than ${fmt(maxSharedChars)} characters (GUIJI_XLSX_MAX_SHARED_CHARS)`,
          `工作簿中的文字总量超过 ${fmt(maxSharedChars)} 个字符，数量异常`,
        );
      }
      const heap = sharedStringsHeap(out.length, bytes);
      if (heap > heapBudget) {
        throw over(
          `its ${fmt(out.length)}+ strings need more than ${mb(heap)} of memory, over the ${mb(heapBudget)} ` +
            'this process can give them (raise node --max-old-space-size, or split the workbook)',
          `工作簿中的文字内容过多（读取需要超过 ${mb(heap)} 内存），超出了本程序可用的内存`,
        );
      }
      joiner.keep(safe);
      if (joiner.carried > carryCap) {
        throw over(
          `string ${fmt(out.length + 1)} is over ${mb(carryCap)} of XML (GUIJI_XLSX_MAX_CELL_CHARS: ${fmt(z.limits.maxCellChars)})`,
          `工作簿中有单元格的文字异常庞大（超过 ${mb(carryCap)}），远超 Excel 单元格的上限 ${fmt(z.limits.maxCellChars)} 个字符`,
        );
      }
    }
  } catch (err) {
    throw asFileError(err, z.file, entry.fileName);
  }
  if (joiner.tail().toString('latin1').trim() !== '') {
    throw damaged(`${entry.fileName} of ${z.file} ends in the middle of a string`, z.file);
  }
  return out;
}

function findEntry(entries: Map<string, Entry>, part: string): Entry | undefined {
  const exact = entries.get(part);
  if (exact) return exact;
  const lower = part.toLowerCase();
  let decoded = lower;
  try {
    decoded = decodeURIComponent(lower);
  } catch {
    // not percent-encoded after all: keep it
  }
  for (const [name, entry] of entries) {
    const n = name.toLowerCase();
    if (n === lower || n === decoded) return entry;
  }
  return undefined;
}

/**
 * Opens an .xlsx workbook by its zip central directory and reads its sheet list. Rows are read on demand
 * by `rows(sheetName)`; the shared strings are loaded once, before the first row of the first sheet read.
 * A file that is not a readable workbook, or is over a cap of `options.limits`, is a `FileError`; so is
 * any error while reading its rows. A missing or unreadable file fails as the system error it is.
 */
export async function openXlsx(path: string, options: XlsxOpenOptions = {}): Promise<XlsxWorkbook> {
  const chunkSize = Math.max(64, Math.floor(options.chunkSize ?? DEFAULT_CHUNK));
  const limits: XlsxLimits = { ...DEFAULT_XLSX_LIMITS };
  for (const [key, value] of Object.entries(options.limits ?? {})) {
    if (value !== undefined) limits[key as keyof XlsxLimits] = value;
  }
  const file = options.name ?? basename(path);
  let zip: ZipFile;
  try {
    zip = await openZip(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException | null)?.code !== undefined) throw err; // ENOENT, EACCES…: not a format issue
    throw await zipOpenError(path, file, err);
  }
  const z: Zip = { zip, file, limits, chunkSize };
  try {
    if (zip.entryCount > MAX_ZIP_ENTRIES) {
      throw new FileError(
        `${file} holds ${fmt(zip.entryCount)} zip entries (a workbook has dozens): not a workbook`,
        `文件中包含的部件数量异常（${fmt(zip.entryCount)} 个），不是正常的 Excel 工作簿，${ZH_SPLIT}`,
        { context: { file } },
      );
    }
    let list: Entry[];
    try {
      list = await readEntries(zip);
    } catch (err) {
      throw new FileError(
        `not a valid .xlsx (zip) file: ${file} has a damaged zip directory (${(err as Error).message})`,
        '工作簿文件不完整或已损坏（可能上传或复制时中断），请重新导出后提交',
        { cause: err, context: { file } },
      );
    }
    // later reader errors (closing the file) must not become unhandled 'error' events
    zip.on('error', () => {});
    const entries = new Map<string, Entry>();
    const seen = new Set<string>();
    for (const e of list) {
      if (e.fileName.endsWith('/')) continue;
      // part names are case-insensitive: two entries of one name make the package ambiguous
      const key = e.fileName.toLowerCase();
      if (seen.has(key)) {
        throw damaged(`${file} holds two zip entries named ${e.fileName}`, file);
      }
      seen.add(key);
      entries.set(e.fileName, e);
    }

    let workbookPart = 'xl/workbook.xml';
    const rootRels = findEntry(entries, '_rels/.rels');
    if (rootRels) {
      for (const rel of parseRels(await readEntryText(z, rootRels), '', file).values()) {
        if (rel.type.endsWith('/officeDocument')) workbookPart = rel.target;
      }
    }
    const workbookEntry = findEntry(entries, workbookPart) ?? findEntry(entries, 'xl/workbook.xml');
    if (!workbookEntry) {
      const [what, zh] = entries.has('content.xml')
        ? ['an OpenDocument spreadsheet (.ods), not an .xlsx workbook', '文件是 OpenDocument（.ods）表格']
        : entries.has('word/document.xml')
          ? ['a Word document, not an .xlsx workbook', '文件是 Word 文档']
          : [`a zip file without ${workbookPart}`, '文件是压缩包，但其中没有 Excel 工作簿'];
      throw new FileError(
        `not a valid .xlsx file: ${file} is ${what}`,
        `${zh}，不是 .xlsx 工作簿，请用 Excel 或 WPS 另存为 .xlsx 文件后提交`,
        { context: { file } },
      );
    }
    workbookPart = workbookEntry.fileName;
    const workbookXml = await readEntryText(z, workbookEntry);
    const relsEntry = findEntry(entries, relsPathOf(workbookPart));
    const rels = relsEntry
      ? parseRels(await readEntryText(z, relsEntry), workbookPart, file)
      : new Map<string, Relationship>();

    const pr = startTags(workbookXml, 'workbookPr')[0];
    const d1904 = pr?.get('date1904')?.toLowerCase();
    const date1904 = d1904 === '1' || d1904 === 'true';

    const parts: SheetPart[] = [];
    let sheetTags = 0;
    for (const m of (section(workbookXml, 'sheets') ?? workbookXml).matchAll(tagRe('sheet'))) {
      if (++sheetTags > limits.maxSheets) {
        throw new FileError(
          `${file} has more than ${fmt(limits.maxSheets)} sheets (GUIJI_XLSX_MAX_SHEETS)`,
          `工作簿中的工作表超过 ${fmt(limits.maxSheets)} 个，数量异常，${ZH_SPLIT}`,
          { context: { file } },
        );
      }
      const a = parseAttrs(m[1] ?? '');
      const name = a.get('name') ?? '';
      const rid = prefixedAttr(a, 'id') ?? a.get('id');
      const rel = rid !== undefined ? rels.get(rid) : undefined;
      let part: string;
      if (rel) {
        if (!rel.type.endsWith('/worksheet')) continue; // chart sheets, dialog sheets, macro sheets
        part = rel.target;
      } else {
        // no relationships part: the conventional name
        part = `xl/worksheets/sheet${a.get('sheetId') ?? parts.length + 1}.xml`;
      }
      const st = a.get('state');
      const state = st === 'hidden' || st === 'veryHidden' ? st : 'visible';
      parts.push({ info: { name, index: parts.length, state }, part });
    }

    let sharedStringsPart: string | null = null;
    let stylesPart: string | null = null;
    for (const rel of rels.values()) {
      if (rel.type.endsWith('/sharedStrings')) sharedStringsPart = rel.target;
      else if (rel.type.endsWith('/styles')) stylesPart = rel.target;
    }
    if (sharedStringsPart === null && findEntry(entries, 'xl/sharedStrings.xml')) {
      sharedStringsPart = 'xl/sharedStrings.xml';
    }
    if (stylesPart === null) stylesPart = 'xl/styles.xml';
    const stylesEntry = findEntry(entries, stylesPart);
    const dateStyles = stylesEntry ? parseStyles(await readEntryText(z, stylesEntry), z) : [];

    return new Workbook(
      z,
      entries,
      parts,
      sharedStringsPart,
      dateStyles,
      date1904,
      options.sharedStringsHeapBytes,
    );
  } catch (err) {
    zip.close();
    throw asFileError(err, file, 'the workbook');
  }
}
