import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { type CsvFormat, readCsv, type SheetRow, sniffCsv } from './csv-reader.js';
import { openXlsx, type XlsxOpenOptions } from './xlsx-reader.js';

export type { SheetRow };

/** A file waiting in the drop folder's incoming/. */
export interface DropFile {
  path: string;
  name: string;
  size: number;
  sha256: string;
  format: 'csv' | 'xlsx';
}

/** One table of a file: a CSV has one, a workbook one per sheet. */
export interface DropTable {
  sheet: string | null;
  rows: AsyncIterable<SheetRow>;
}

export const DROP_SUBDIRS = ['incoming', 'archive', 'rejected'] as const;

export function ensureDropDirs(dropDir: string): void {
  for (const sub of DROP_SUBDIRS) mkdirSync(join(dropDir, sub), { recursive: true });
}

const SUPPORTED = new Set(['.csv', '.txt', '.tsv', '.xlsx', '.xlsm']);

/** The files in incoming/ (sorted by name), each with its SHA-256; dot-files and partial uploads are left alone. */
export async function listIncoming(dropDir: string): Promise<DropFile[]> {
  ensureDropDirs(dropDir);
  const incoming = join(dropDir, 'incoming');
  const files: DropFile[] = [];
  for (const name of readdirSync(incoming).sort()) {
    if (name.startsWith('.') || name.startsWith('~$') || name.endsWith('.part') || name.endsWith('.tmp'))
      continue;
    const path = join(incoming, name);
    const stat = statSync(path);
    if (!stat.isFile()) continue;
    files.push({
      path,
      name,
      size: stat.size,
      sha256: await sha256File(path),
      format: await sniffFormat(path),
    });
  }
  return files;
}

export function isSupported(file: DropFile): boolean {
  return SUPPORTED.has(extname(file.name).toLowerCase());
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A zip (a workbook, whatever its name says) is read as xlsx; anything else as CSV. */
async function sniffFormat(path: string): Promise<'csv' | 'xlsx'> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(4);
    const { bytesRead } = await handle.read(buffer, 0, 4, 0);
    return bytesRead === 4 && buffer.readUInt32LE(0) === 0x04034b50 ? 'xlsx' : 'csv';
  } finally {
    await handle.close();
  }
}

/**
 * The tables of a file. Throws (with a message for the clerk) when the file cannot be read at all; a workbook
 * over a cap of `xlsx.limits` (the `GUIJI_XLSX_*` settings: `xlsxLimitsOf(config)`) is such a file.
 */
export async function* readTables(file: DropFile, xlsx: XlsxOpenOptions = {}): AsyncGenerator<DropTable> {
  if (file.format === 'csv') {
    const format: CsvFormat = await sniffCsv(file.path);
    yield { sheet: null, rows: readCsv(file.path, format) };
    return;
  }
  const workbook = await openXlsx(file.path, xlsx);
  try {
    // hidden sheets hold templates' code lists and scratch work, not records
    for (const sheet of workbook.sheets.filter((s) => s.state === 'visible')) {
      yield { sheet: sheet.name, rows: workbook.rows(sheet.name) };
    }
  } finally {
    await workbook.close();
  }
}

/** Moves a processed file out of incoming/ (into archive/ or rejected/), never overwriting an earlier one. */
export function moveDropFile(dropDir: string, file: DropFile, to: 'archive' | 'rejected'): string {
  const dir = join(dropDir, to);
  mkdirSync(dir, { recursive: true });
  let target = join(dir, file.name);
  if (existsSync(target)) {
    const ext = extname(file.name);
    target = join(dir, `${basename(file.name, ext)}.${file.sha256.slice(0, 8)}${ext}`);
  }
  renameSync(file.path, target);
  return target;
}
