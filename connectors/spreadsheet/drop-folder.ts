import { createHash } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  writeFileSync,
} from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { ConfigError, GuijiError, messageOf } from '../../lib/errors.js';
import type { SheetRow } from './csv-reader.js';
import { type DropTable, readTablesAt } from './read-tables.js';
import { type ReadWorkerOptions, readTablesInWorker } from './read-worker.js';
import type { XlsxOpenOptions } from './xlsx-reader.js';

export type { DropTable, SheetRow };

/** A file waiting in the drop folder's incoming/. */
export interface DropFile {
  path: string;
  name: string;
  size: number;
  sha256: string;
  format: 'csv' | 'xlsx';
  /** The file as listed: a file put in its place since is not read in its stead. */
  dev: number;
  ino: number;
}

/** An entry of incoming/ that is never opened: moved to rejected/ with its reason, or left where it is. */
export interface SetAside {
  name: string;
  kind: 'symlink' | 'fifo' | 'socket' | 'device' | 'directory' | 'hidden';
  /** For the engineer. */
  reason: string;
  /** For the department. */
  reasonZh: string;
  /** Where it was moved (relative to the drop folder), or null when it was left in incoming/. */
  movedTo: string | null;
}

export const DROP_SUBDIRS = ['incoming', 'archive', 'rejected'] as const;

/** Makes the drop folder and its sub-folders (the demo's own folder). */
export function ensureDropDirs(dropDir: string): void {
  for (const sub of DROP_SUBDIRS) mkdirSync(join(dropDir, sub), { recursive: true });
}

/**
 * The drop folder must exist and be readable and writable: a missing one is an unmounted share or a typo,
 * and a night that "succeeds" on an empty folder it made itself hides that. Its sub-folders are made when
 * missing.
 */
export function checkDropFolder(dropDir: string): void {
  let stat: Stats;
  try {
    stat = statSync(dropDir);
  } catch (error) {
    throw new ConfigError(
      'GUIJI_DROP_DIR',
      `the drop folder ${dropDir} ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist (an unmounted share, or a typo?)' : `cannot be read (${messageOf(error)})`}; create it or point GUIJI_DROP_DIR at it`,
      error,
    );
  }
  if (!stat.isDirectory()) throw new ConfigError('GUIJI_DROP_DIR', `${dropDir} is not a folder`);
  try {
    accessSync(dropDir, constants.R_OK | constants.W_OK | constants.X_OK);
    readdirSync(dropDir);
  } catch (error) {
    throw new ConfigError(
      'GUIJI_DROP_DIR',
      `the drop folder ${dropDir} cannot be read and written by this user (${messageOf(error)})`,
      error,
    );
  }
}

/**
 * Checks the drop folder and makes sure files can be moved out of incoming/: archive/ and rejected/ are
 * folders this process can write (a file is created in each and removed). Throws before anything is loaded,
 * so that every file stays in incoming/.
 */
export function prepareDropFolder(dropDir: string): void {
  checkDropFolder(dropDir);
  for (const sub of DROP_SUBDIRS) {
    const dir = join(dropDir, sub);
    try {
      if (!existsSync(dir)) mkdirSync(dir);
      if (!statSync(dir).isDirectory()) throw new Error('not a folder');
      if (sub === 'incoming') {
        readdirSync(dir);
        continue;
      }
      // access() says yes to root whatever the folder is; only a write tells
      const probe = join(dir, `.guiji-write-probe-${process.pid}`);
      closeSync(openSync(probe, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600));
      rmSync(probe, { force: true });
    } catch (error) {
      throw new GuijiError(
        'GUIJI_ERR_LOAD',
        `the drop folder's ${sub}/ (${dir}) cannot be ${sub === 'incoming' ? 'read' : 'written'}: ${messageOf(error)}; no file was loaded, every file stays in incoming/`,
        { cause: error, context: { setting: 'GUIJI_DROP_DIR' } },
      );
    }
  }
}

const SUPPORTED = new Set(['.csv', '.txt', '.tsv', '.xlsx', '.xlsm']);

/**
 * The regular files in incoming/ (sorted by name), each with its SHA-256, and the entries that are never
 * opened: symbolic links (they lead out of the folder: /etc/passwd, /proc/self/environ), FIFOs, sockets and
 * devices are moved to rejected/ with the reason; folders, hidden files and partial uploads (`.x`, `~$x`,
 * `x.part`, `x.tmp`: an upload under way, an office lock file) are left where they are.
 */
export async function listIncoming(dropDir: string): Promise<{ files: DropFile[]; setAside: SetAside[] }> {
  const incoming = join(dropDir, 'incoming');
  const files: DropFile[] = [];
  const setAside: SetAside[] = [];
  for (const name of readdirSync(incoming).sort()) {
    const path = join(incoming, name);
    if (name.startsWith('.') || name.startsWith('~$') || name.endsWith('.part') || name.endsWith('.tmp')) {
      setAside.push({
        name,
        kind: 'hidden',
        reason: 'a hidden file or an upload under way: not read',
        reasonZh: '隐藏文件或尚未上传完成的文件，未读取',
        movedTo: null,
      });
      continue;
    }
    let stat: Stats;
    try {
      stat = lstatSync(path);
    } catch {
      continue; // gone since the listing
    }
    if (stat.isFile()) {
      const listed = await hashRegular(path, stat);
      if (listed) files.push({ path, name, ...listed });
      continue;
    }
    const kind = stat.isSymbolicLink()
      ? 'symlink'
      : stat.isFIFO()
        ? 'fifo'
        : stat.isSocket()
          ? 'socket'
          : stat.isDirectory()
            ? 'directory'
            : 'device';
    const what = KINDS[kind];
    if (kind === 'directory') {
      setAside.push({
        name,
        kind,
        reason: 'a folder: files in sub-folders of incoming/ are not read',
        reasonZh: '这是一个文件夹，文件夹中的文件不会被读取，请将文件直接放入 incoming',
        movedTo: null,
      });
      continue;
    }
    const reasonZh = `“${name}”不是普通文件（${what.zh}），未读取。请提交文件本身，而不是链接或特殊文件。`;
    const moved = moveAside(dropDir, path, name, reasonZh);
    setAside.push({
      name,
      kind,
      reason: `not a regular file (${what.en}): never opened, moved to rejected/`,
      reasonZh,
      movedTo: moved,
    });
  }
  return { files, setAside };
}

const KINDS = {
  symlink: { en: 'a symbolic link', zh: '符号链接' },
  fifo: { en: 'a FIFO', zh: '命名管道' },
  socket: { en: 'a socket', zh: '套接字' },
  device: { en: 'a device', zh: '设备文件' },
  directory: { en: 'a folder', zh: '文件夹' },
  hidden: { en: 'a hidden file', zh: '隐藏文件' },
} as const;

/** Moves an entry that is not read to rejected/, itself and not what it points to, with the reason beside it. */
function moveAside(dropDir: string, path: string, name: string, reasonZh: string): string {
  const tag = createHash('sha256').update(name).digest('hex').slice(0, 8);
  const target = moveNoReplace(path, join(dropDir, 'rejected'), name, tag);
  writeBeside(`${target}.错误说明.txt`, `${reasonZh}\n`);
  return join('rejected', target.slice(join(dropDir, 'rejected').length + 1));
}

/**
 * A zip (a workbook, whatever its name says) is read as xlsx, and so is a file named as a workbook or holding
 * an OLE compound file (an encrypted .xlsx, a renamed .xls): the workbook reader tells the department what it
 * is. Anything else is read as CSV.
 */
function formatOf(path: string, magic: number): 'csv' | 'xlsx' {
  if (magic === 0x04034b50 || magic === 0xe011cfd0) return 'xlsx';
  return WORKBOOK_EXTENSIONS.has(extname(path).toLowerCase()) ? 'xlsx' : 'csv';
}

const WORKBOOK_EXTENSIONS = new Set(['.xlsx', '.xlsm']);

/** Opens a listed file without following a link, and hashes it when it is (still) a regular file. */
async function hashRegular(path: string, listed: Stats): Promise<Omit<DropFile, 'path' | 'name'> | null> {
  let handle: FileHandle;
  try {
    handle = await openRegular(path, listed);
  } catch {
    return null; // replaced or gone since the listing: the next run sees what is there
  }
  try {
    const hash = createHash('sha256');
    for await (const chunk of handle.createReadStream({ highWaterMark: 1 << 20, autoClose: false, start: 0 }))
      hash.update(chunk as Buffer);
    const head = Buffer.alloc(4);
    const { bytesRead } = await handle.read(head, 0, 4, 0);
    return {
      size: listed.size,
      sha256: hash.digest('hex'),
      format: formatOf(path, bytesRead === 4 ? head.readUInt32LE(0) : 0),
      dev: listed.dev,
      ino: listed.ino,
    };
  } finally {
    await handle.close();
  }
}

/**
 * Opens `path` for reading only when it is the regular file that was listed: never through a symbolic link
 * (O_NOFOLLOW), never blocking on a FIFO put in its place (O_NONBLOCK), and never another file renamed there.
 */
async function openRegular(path: string, listed: { dev: number; ino: number }): Promise<FileHandle> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.dev !== listed.dev || stat.ino !== listed.ino) {
      throw Object.assign(new Error(`${path} changed since it was listed`), { code: 'ECHANGED' });
    }
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

export function isSupported(file: DropFile): boolean {
  return SUPPORTED.has(extname(file.name).toLowerCase());
}

/** Where the readers find an open file: the descriptor itself where the system names it (Linux). */
const FD_PATHS = existsSync('/proc/self/fd');

/**
 * Files smaller than this are read on the main thread: a 1 MB CSV (~2,400 rows) costs the main thread ~35 ms
 * to read, no more than handing it over does. The reader thread, once started for a larger file (0.3–0.9 s of
 * CPU on its own core: tsx compiles the readers again there), serves the next files of the process.
 */
export const READ_WORKER_MIN_BYTES = 1024 * 1024;

export interface ReadTablesOptions extends XlsxOpenOptions, Omit<ReadWorkerOptions, 'signal'> {
  /**
   * Read a file of `READ_WORKER_MIN_BYTES` or more on a reader thread (read-worker.ts), so that this thread
   * only validates and loads: the `GUIJI_READ_WORKER` setting (default true).
   */
  worker?: boolean;
  /** The smallest file read on a reader thread (default `READ_WORKER_MIN_BYTES`; tests: 0). */
  workerMinBytes?: number;
  /** Stops a reader thread: its next row rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * The tables of a file, read from the very file that was listed and hashed (opened without following a link,
 * and read through that descriptor where the system allows). Throws when the file cannot be read at all; a
 * workbook over a cap of `options.limits` (the `GUIJI_XLSX_*` settings: `xlsxLimitsOf(config)`) is such a file.
 * A large file is read on a reader thread (`options.worker`), with the same tables, rows and errors.
 */
export async function* readTables(
  file: DropFile,
  options: ReadTablesOptions = {},
): AsyncGenerator<DropTable> {
  const {
    worker = true,
    workerMinBytes = READ_WORKER_MIN_BYTES,
    chunkRows,
    inFlight,
    onReply,
    signal,
    ...xlsx
  } = options;
  const handle = await openRegular(file.path, file);
  try {
    const path = FD_PATHS ? `/proc/self/fd/${handle.fd}` : file.path;
    if (worker && file.size >= workerMinBytes) {
      yield* readTablesInWorker(
        { path, name: file.name, format: file.format, xlsx },
        {
          ...(chunkRows === undefined ? {} : { chunkRows }),
          ...(inFlight === undefined ? {} : { inFlight }),
          ...(onReply === undefined ? {} : { onReply }),
          ...(signal === undefined ? {} : { signal }),
        },
      );
    } else {
      yield* readTablesAt(path, file.name, file.format, xlsx);
    }
  } finally {
    await handle.close();
  }
}

/** Where a name longer than this is shortened: room for what guiji writes beside a file (`.退回说明.xlsx`…). */
const NAME_MAX_BYTES = 255;
const APPENDED_ROOM = 48;

/**
 * A file name that fits the file system with guiji's suffixes appended (`.错误说明.txt`, `.退回说明.xlsx`, a
 * `.1a2b3c4d-2` for uniqueness): cut by UTF-8 bytes at a character boundary, keeping the extension and adding
 * `~tag` (a short hash) so that two long names cut alike stay apart.
 */
export function fitName(name: string, tag: string): string {
  const room = NAME_MAX_BYTES - APPENDED_ROOM;
  if (Buffer.byteLength(name) <= room) return name;
  let ext = extname(name);
  if (Buffer.byteLength(ext) > 16) ext = '';
  const budget = room - Buffer.byteLength(ext) - tag.length - 1;
  let base = '';
  let used = 0;
  for (const ch of name.slice(0, name.length - ext.length)) {
    const bytes = Buffer.byteLength(ch);
    if (used + bytes > budget) break;
    used += bytes;
    base += ch;
  }
  return `${base}~${tag}${ext}`;
}

/** Moves `path` into `dir` under its (fitted) name, or a free variant of it: never over an earlier file. */
function moveNoReplace(path: string, dir: string, name: string, tag: string): string {
  const fitted = fitName(name, tag);
  const ext = extname(fitted);
  const base = fitted.slice(0, fitted.length - ext.length);
  for (let n = 0; ; n++) {
    const target = join(dir, n === 0 ? fitted : `${base}.${tag}${n === 1 ? '' : `-${n}`}${ext}`);
    if (exists(target)) continue;
    renameSync(path, target);
    return target;
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Moves a processed file out of incoming/ (into archive/ or rejected/), never overwriting an earlier one. */
export function moveDropFile(dropDir: string, file: DropFile, to: 'archive' | 'rejected'): string {
  return moveNoReplace(file.path, join(dropDir, to), file.name, file.sha256.slice(0, 8));
}

/**
 * Writes a file guiji puts beside a moved one, never through a link planted under its name (O_EXCL creates
 * it anew; a leftover of that name is removed first, the link itself and not its target).
 */
export function writeBeside(path: string, content: string): void {
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, content, { flag: 'wx', mode: 0o644 });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
      rmSync(path, { force: true });
    }
  }
}
