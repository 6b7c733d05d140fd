import { relative } from 'node:path';
import type { Catalog } from '../../catalog/load.js';
import {
  type DropFile,
  type DropTable,
  isSupported,
  listIncoming,
  moveDropFile,
  prepareDropFolder,
  readTables,
  type SheetRow,
  writeBeside,
} from '../../connectors/spreadsheet/drop-folder.js';
import type { XlsxLimits } from '../../connectors/spreadsheet/xlsx-reader.js';
import type { SqlTx, Warehouse } from '../../lib/db.js';
import { FileError, GuijiError, messageOf, sqlState } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { CellValue, Issue, Provenance } from '../../lib/types.js';
import type { Ajv } from '../../schemas/ajv.js';
import { writeFeedbackWorkbook } from '../feedback/workbook.js';
import { Batch, type Origin, type RejectedRow, TransactionBatches } from '../load/loader.js';
import { recordTable } from '../match/match-batch.js';
import { buildHeaderIndex, findHeaderRow, type HeaderIndexEntry } from '../normalize/headers.js';
import { rawDigest } from '../validate/raw-digest.js';
import {
  compileKeyProbe,
  compileRowValidator,
  type ProbeKey,
  rowFingerprint,
} from '../validate/row-validator.js';
import { SeenKeys } from '../validate/seen-keys.js';
import { rejectedFileOrigin } from './drop-origin.js';

export const DROPS_SOURCE = 'drops';

/** How many leading rows may hold titles above the header row. */
const HEADER_SEARCH_ROWS = 12;

export interface DropsContext {
  db: Warehouse;
  ajv: Ajv;
  catalog: Catalog;
  logger: Logger;
  runId: number;
  dropDir: string;
  batchSize: number;
  /** Stops the source between batches (SIGTERM): the file in flight rolls back and stays in incoming/. */
  signal?: AbortSignal;
  /** The reader of a file's tables (readTables; a test puts one here that fails half-way). */
  tables?: (file: DropFile) => AsyncIterable<DropTable>;
  /** The workbook caps (`xlsxLimitsOf(config)`, the `GUIJI_XLSX_*` settings); the reader's defaults otherwise. */
  xlsxLimits?: XlsxLimits;
  /** Large files are read on a second thread (`GUIJI_READ_WORKER`, default true). */
  readWorker?: boolean;
  /** Files of at least this many bytes may take the loader's bulk path (default BULK_BYTES; tests set 0). */
  bulkBytes?: number;
  /** The clock a file's first sighting in incoming/ is taken from (tests; default Date.now). */
  now?: () => number;
}

/**
 * A file this large (about 20,000 penalty rows) loading into an empty table takes the bulk path: its indexes
 * built once at the end rather than kept up row by row. Smaller files gain nothing worth locking the table.
 */
export const BULK_BYTES = 4 << 20;

function tablesOf(ctx: DropsContext, file: DropFile): AsyncIterable<DropTable> {
  if (ctx.tables) return ctx.tables(file);
  // not ctx.signal: a stop is taken between batches, and a reader that threw it would blame the file
  return readTables(file, {
    ...(ctx.xlsxLimits ? { limits: ctx.xlsxLimits } : {}),
    worker: ctx.readWorker ?? true,
  });
}

export interface FileOutcome {
  file: string;
  /**
   * loaded: every row is in the warehouse or in quarantine; rejected: the file (or an entry that is not a
   * file) is in rejected/ with the reason for the department; skipped: not read (same content already
   * processed, a hidden file or an upload under way); failed: a fault of this side (database, disk, a bug) —
   * nothing of the file was loaded, and it stays in incoming/ for the next run or waits in rejected/ for an
   * engineer.
   */
  status: 'loaded' | 'rejected' | 'skipped' | 'failed';
  resources: string[];
  read: number;
  quarantined: number;
  /** Rows loaded with warnings (findings of severity warn), listed as 提示 in the feedback workbook. */
  warned?: number;
  /** Rows found unchanged by their raw digest, without being validated again. */
  unchangedRaw?: number;
  /** For the engineer (English). */
  message?: string;
  /** What the department is told (Chinese), when the file was rejected. */
  messageZh?: string;
  feedback?: string;
}

/**
 * Thrown by runDrops after every file had its turn, when something was not done as it should: a file failed
 * for a reason of this side, an entry of incoming/ was not a regular file, a loaded file could not be moved.
 * `files` holds every file's outcome, as runDrops returns them otherwise.
 */
export class DropsIncomplete extends GuijiError {
  constructor(
    readonly problems: string[],
    readonly files: FileOutcome[],
  ) {
    super('GUIJI_ERR_LOAD', `${problems.length} problem(s) in the drop folder: ${problems.join('; ')}`);
    this.name = 'DropsIncomplete';
  }
}

/** What the department reads when guiji, not the file, is at fault (the engineer's log has the detail). */
const SYSTEM_FAULT_ZH =
  '系统处理该文件时出错，文件已留存待技术人员处理，无需重新提交；如有疑问请联系数据归集管理部门。';

/** What the department reads when the reader gave up on the file's bytes without a reason of its own. */
const UNREADABLE_ZH = '文件无法读取：文件可能已损坏、被截断或不是表格文件，请确认文件完整并重新导出后提交。';

/**
 * The spreadsheet-drop source: every file in incoming/ is read, each sheet recognised by its header, every
 * row validated, and the file loaded in ONE transaction — its batches, quarantined rows, ledger counts and its
 * SHA-256 (so the same file is never loaded twice) commit together or not at all. A loaded file moves to
 * archive/ (with a feedback workbook beside it when rows were rejected); a file whose bytes cannot be loaded
 * to rejected/ with the reason in Chinese; a file that failed for a reason of this side (the database, the
 * disk, a stop) stays in incoming/ for the next run. A bad file never stops the others.
 */
export async function runDrops(ctx: DropsContext): Promise<FileOutcome[]> {
  prepareDropFolder(ctx.dropDir);
  const index = buildHeaderIndex(ctx.catalog);
  const { files, setAside } = await listIncoming(ctx.dropDir);
  const outcomes: FileOutcome[] = [];
  const problems: string[] = [];
  for (const entry of setAside) {
    outcomes.push({
      file: entry.name,
      status: entry.movedTo ? 'rejected' : 'skipped',
      resources: [],
      read: 0,
      quarantined: 0,
      message: entry.reason,
      messageZh: entry.reasonZh,
    });
    if (entry.kind === 'hidden') {
      ctx.logger.info({ file: entry.name }, entry.reason);
      continue;
    }
    ctx.logger.warn({ file: entry.name, kind: entry.kind, movedTo: entry.movedTo }, entry.reason);
    problems.push(`${entry.name}: ${entry.reason}`);
  }
  const arrivals = await recordArrivals(ctx, files);
  const ordered = await orderForMatching(ctx, files, index);
  for (const file of ordered) {
    ctx.signal?.throwIfAborted();
    const log = ctx.logger.child({ file: file.name });
    const known = await ctx.db.query<{ status: string }>('SELECT status FROM drop_files WHERE sha256 = $1', [
      file.sha256,
    ]);
    if (known[0]) {
      const to = known[0].status === 'rejected' ? 'rejected' : 'archive';
      log.info({ sha256: file.sha256 }, 'file already processed (same SHA-256): not loaded again');
      outcomes.push({
        file: file.name,
        status: 'skipped',
        resources: [],
        read: 0,
        quarantined: 0,
        message: 'same content already processed',
      });
      moveAfter(file, to, log, problems, ctx.dropDir);
      continue;
    }
    let outcome: FileOutcome;
    let headerTitles: string[];
    try {
      ({ outcome, headerTitles } = await loadFile(ctx, index, file, log, arrivals.get(file.sha256) ?? null));
    } catch (error) {
      // stopped: the file rolled back and stays in incoming/; the next run reads it from the start
      if (ctx.signal?.aborted && error === ctx.signal.reason) throw error;
      outcomes.push(await fileFailed(ctx, file, log, error, problems));
      continue;
    }
    outcomes.push(outcome);
    // committed: whatever happens now, the file is loaded (the next run moves it on if this move fails)
    const archived = moveAfter(file, 'archive', log, problems, ctx.dropDir);
    if (archived && (outcome.quarantined > 0 || outcome.warned)) {
      try {
        const warned = outcome.warned ? { runId: ctx.runId, source: DROPS_SOURCE } : undefined;
        const feedback = await writeFeedbackWorkbook(ctx.db, file.sha256, archived, headerTitles, warned);
        outcome.feedback = relative(ctx.dropDir, feedback);
      } catch (error) {
        log.error({ err: messageOf(error) }, 'the feedback workbook could not be written');
        problems.push(
          `${file.name}: loaded, but its feedback workbook could not be written (${messageOf(error)})`,
        );
      }
    }
  }
  if (problems.length) throw new DropsIncomplete(problems, outcomes);
  return outcomes;
}

/**
 * When guiji first saw each listed file in incoming/ (`drop_arrivals`, by SHA-256), as China time: the delivery
 * time of the file's records. Written in a statement of its own before any file is loaded, so the time survives
 * whatever becomes of the load — a rollback, a crash, SIGKILL, a fault of guiji's that sends the file to
 * rejected/ until an engineer puts it back: the same bytes keep the time they first arrived.
 */
async function recordArrivals(ctx: DropsContext, files: readonly DropFile[]): Promise<Map<string, string>> {
  const seen = new Map<string, string>();
  if (!files.length) return seen;
  const shas = files.map((f) => f.sha256);
  await ctx.db.query(
    `INSERT INTO drop_arrivals (sha256, name, first_seen_at, first_run_id)
     SELECT DISTINCT ON (sha256) sha256, name, $3::timestamptz, $4 FROM unnest($1::text[], $2::text[]) AS f(sha256, name)
     ON CONFLICT (sha256) DO NOTHING`,
    [shas, files.map((f) => f.name), new Date((ctx.now ?? Date.now)()).toISOString(), ctx.runId],
  );
  const rows = await ctx.db.query<{ sha256: string; seen: string }>(
    `SELECT sha256, to_char(first_seen_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS.MS') AS seen
     FROM drop_arrivals WHERE sha256 = ANY($1::text[])`,
    [shas],
  );
  for (const row of rows) seen.set(row.sha256, row.seen);
  return seen;
}

/** Moves a file out of incoming/; a failure is the engineer's problem, never the file's. */
function moveAfter(
  file: DropFile,
  to: 'archive' | 'rejected',
  log: Logger,
  problems: string[],
  dropDir: string,
): string | null {
  try {
    return moveDropFile(dropDir, file, to);
  } catch (error) {
    log.error({ err: messageOf(error), to }, `the file could not be moved to ${to}/; it stays in incoming/`);
    problems.push(`${file.name}: processed, but could not be moved to ${to}/ (${messageOf(error)})`);
    return null;
  }
}

/**
 * A file whose transaction rolled back. Its bytes at fault (a FileError): rejected/ with the reason, recorded
 * by its SHA-256. A passing fault (database connection, disk full, the file changed under us): it stays in
 * incoming/ for the next run. Anything else is a fault of guiji's: rejected/ with a generic reason for the
 * department, not recorded (once fixed, the engineer puts it back in incoming/), the detail in the log.
 */
async function fileFailed(
  ctx: DropsContext,
  file: DropFile,
  log: Logger,
  error: unknown,
  problems: string[],
): Promise<FileOutcome> {
  const base = { file: file.name, resources: [], read: 0, quarantined: 0 };
  const detail = messageOf(error).replaceAll(file.path, file.name);
  if (!(error instanceof FileError) && isPassing(error)) {
    log.error({ err: detail, code: codeOf(error) }, 'file not loaded (rolled back); it stays in incoming/');
    problems.push(`${file.name}: not loaded, stays in incoming/ (${detail})`);
    return { ...base, status: 'failed', message: detail };
  }
  const ours = !(error instanceof FileError);
  const messageZh = ours ? SYSTEM_FAULT_ZH : error.messageZh;
  if (ours) {
    log.error({ err: detail, stack: (error as Error)?.stack }, 'file not loaded: unexpected error');
    problems.push(`${file.name}: not loaded, unexpected error (${detail}); moved to rejected/`);
  } else log.warn({ err: detail }, 'file rejected');
  // an unsupported file is not opened again: its name alone may tell whose it was
  const origin = ours
    ? {}
    : await rejectedFileOrigin(ctx.catalog, file.name, isSupported(file) ? () => tablesOf(ctx, file) : null);
  // recorded before it moves: if the warehouse cannot take that, the file stays in incoming/
  await ctx.db.transaction(async (tx) => {
    if (!ours) {
      await markFile(tx, ctx.runId, file, 'rejected', origin.resource ? [origin.resource] : [], 0, 0, {
        error: `${detail} / ${messageZh}`,
        department: origin.department ?? null,
      });
    }
    await tx.query(
      'UPDATE source_runs SET files_rejected = files_rejected + 1 WHERE run_id = $1 AND source = $2',
      [ctx.runId, DROPS_SOURCE],
    );
  });
  const moved = moveAfter(file, 'rejected', log, problems, ctx.dropDir);
  if (moved) {
    try {
      writeBeside(`${moved}.错误说明.txt`, `${messageZh}\n`);
    } catch (reasonError) {
      log.error({ err: messageOf(reasonError) }, 'the reason file could not be written');
      problems.push(`${file.name}: rejected, but its reason file could not be written`);
    }
  }
  return { ...base, status: ours ? 'failed' : 'rejected', message: detail, messageZh };
}

/**
 * A fault that may pass by the next run: the operating system's (disk full, I/O, a file changed or gone), or
 * the warehouse's — a lost connection (the driver's errors carry no SQLSTATE), exhausted resources, an
 * operator's stop, a conflict with another writer. A SQLSTATE of a data error is not: the same file would
 * meet it again.
 */
function isPassing(error: unknown): boolean {
  if (error instanceof GuijiError && error.code === 'GUIJI_ERR_DB') {
    const state = sqlState(error.cause);
    return state === undefined || /^(08|40|53|57|58)/.test(state) || state === '55P03' || state === '23505';
  }
  const code = codeOf(error);
  return code !== undefined && /^E[A-Z0-9]+$/.test(code);
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The enterprise register goes first, so that records dropped beside it match the enterprises it adds. */
async function orderForMatching(
  ctx: DropsContext,
  files: DropFile[],
  index: HeaderIndexEntry[],
): Promise<DropFile[]> {
  // a lone file has no order to find, and peeking costs a workbook its shared strings a second time
  if (files.filter(isSupported).length < 2) return files;
  const registers = new Set<DropFile>();
  for (const file of files) {
    if (!isSupported(file)) continue;
    try {
      for await (const table of tablesOf(ctx, file)) {
        const head = await firstRows(table.rows, HEADER_SEARCH_ROWS);
        if (
          findHeaderRow(
            index,
            head.map((r) => r.cells),
          )?.match.resource.id === 'enterprise'
        )
          registers.add(file);
        break;
      }
    } catch {
      // unreadable files are reported when they are loaded
    }
  }
  return [...files.filter((f) => registers.has(f)), ...files.filter((f) => !registers.has(f))];
}

async function firstRows(rows: AsyncIterable<SheetRow>, n: number): Promise<SheetRow[]> {
  const out: SheetRow[] = [];
  if (n <= 0) return out;
  for await (const row of rows) {
    out.push(row);
    if (out.length >= n) break;
  }
  return out;
}

/**
 * What the reader threw: a FileError as it is, a fault of the system (an errno: disk, I/O) as it is, anything
 * else — the reader gave up on the bytes without a reason of its own — as a FileError whose English keeps the
 * detail for the engineer and whose Chinese says only that the file cannot be read.
 */
function readFailure(error: unknown, file: DropFile): unknown {
  // a FileError, or a fault of guiji's own (the reader thread died: GUIJI_ERR_INTERNAL), as it is
  if (error instanceof GuijiError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return error;
  const detail = messageOf(error)
    .replaceAll(file.path, file.name)
    .replace(/\/proc\/self\/fd\/\d+/g, file.name);
  return new FileError(`cannot read the file: ${detail}`, UNREADABLE_ZH, {
    cause: error,
    context: { file: file.name },
  });
}

/** The next of a reader's iterations; what it throws is the file's fault or the system's, never the warehouse's. */
async function nextOf<T>(iterator: AsyncIterator<T>, file: DropFile): Promise<IteratorResult<T>> {
  try {
    return await iterator.next();
  } catch (error) {
    throw readFailure(error, file);
  }
}

/** The file's sheets recognised, its rows counted, and the names of the sheets without a header. */
interface FileTotals {
  resources: Set<string>;
  read: number;
  quarantined: number;
  duplicates: number;
  warned: number;
  unchangedRaw: number;
  tables: number;
  unmatchedSheets: string[];
  headerTitles: string[];
}

/**
 * Loads one file in one transaction. Its batches are statement groups of that transaction; the file's
 * drop_files row and its ledger counts commit with them. Throws — and nothing of the file stays — when the
 * file cannot be loaded (a FileError for the department), or the warehouse or the system failed.
 */
async function loadFile(
  ctx: DropsContext,
  index: HeaderIndexEntry[],
  file: DropFile,
  log: Logger,
  /** When the file was first seen in incoming/ (China time): its records' delivery time. */
  deliveredAt: string | null,
): Promise<{ outcome: FileOutcome; headerTitles: string[] }> {
  if (!isSupported(file)) {
    throw new FileError(
      `unsupported file type "${file.name}": send .csv, .txt (tab-separated) or .xlsx`,
      `不支持的文件类型“${file.name}”：请提交 .csv、.txt（制表符分隔）或 .xlsx 文件`,
      { context: { file: file.name } },
    );
  }
  const totals: FileTotals = {
    resources: new Set(),
    read: 0,
    quarantined: 0,
    duplicates: 0,
    warned: 0,
    unchangedRaw: 0,
    tables: 0,
    unmatchedSheets: [],
    headerTitles: [],
  };
  let bodyFailure: unknown = null;
  try {
    await ctx.db.transaction(async (tx) => {
      // a large file may take the bulk path (an empty table loaded before its secondary indexes are built)
      const batches = new TransactionBatches(tx, ctx.runId, {
        bulk: file.size >= (ctx.bulkBytes ?? BULK_BYTES),
      });
      try {
        await loadFileIn(ctx, index, { file, deliveredAt }, log, batches, totals);
        await batches.finish();
      } catch (error) {
        bodyFailure = error;
        throw error;
      } finally {
        // every statement of the file has ended before the transaction does
        await batches.close();
      }
    });
  } catch (error) {
    if (error === bodyFailure) throw error;
    // BEGIN or COMMIT failed: the warehouse's fault, not the file's
    throw error instanceof GuijiError
      ? error
      : new GuijiError('GUIJI_ERR_DB', `the warehouse could not commit the file: ${messageOf(error)}`, {
          cause: error,
        });
  }
  const resourceList = [...totals.resources];
  const rejected = totals.quarantined + totals.duplicates;
  log.info(
    { resources: resourceList, read: totals.read, quarantined: rejected, unchangedRaw: totals.unchangedRaw },
    'file committed',
  );
  if (totals.unmatchedSheets.length)
    log.info({ sheets: totals.unmatchedSheets }, 'sheets without a recognised header were skipped');
  return {
    outcome: {
      file: file.name,
      status: 'loaded',
      resources: resourceList,
      read: totals.read,
      quarantined: rejected,
      ...(totals.warned ? { warned: totals.warned } : {}),
      unchangedRaw: totals.unchangedRaw,
    },
    headerTitles: totals.headerTitles,
  };
}

async function loadFileIn(
  ctx: DropsContext,
  index: HeaderIndexEntry[],
  { file, deliveredAt }: { file: DropFile; deliveredAt: string | null },
  log: Logger,
  batches: TransactionBatches,
  totals: FileTotals,
): Promise<void> {
  // A repeated natural key within one file is a duplicate row (the first one stands). Across files a later
  // row is a correction: it updates the record. Either way the outcome does not depend on where batches split.
  const seen = new SeenKeys();
  const sheetRefs = new Set<string>();
  const origin: Origin = { kind: 'file', key: file.sha256, name: file.name };
  let pending = new Batch(DROPS_SOURCE, ctx.catalog, origin);
  const flush = async (finalize?: (tx: SqlTx) => Promise<void>) => {
    const batch = pending;
    pending = new Batch(DROPS_SOURCE, ctx.catalog, origin);
    if (finalize) batch.finalize = finalize;
    totals.warned += batch.warned;
    await batches.submit(batch, (counts) => {
      totals.read += counts.read;
      totals.quarantined += counts.quarantined;
      totals.duplicates += counts.duplicates;
      log.debug({ ...counts, fileRead: totals.read }, 'batch written');
    });
    // between batches: a stop rolls the file back, and it stays in incoming/
    if (!finalize) ctx.signal?.throwIfAborted();
  };

  const tables = tablesOf(ctx, file)[Symbol.asyncIterator]();
  try {
    for (let next = await nextOf(tables, file); !next.done; next = await nextOf(tables, file)) {
      const table = next.value;
      totals.tables++;
      // the sheet in row references; a name seen before in this file (a malformed workbook) is told apart
      let sheetRef = table.sheet ?? '';
      if (sheetRefs.has(sheetRef)) sheetRef = `${sheetRef}#${totals.tables}`;
      sheetRefs.add(sheetRef);
      const loaded = await loadTable(
        ctx,
        index,
        file,
        table,
        { sheetRef, tableNumber: totals.tables, seen, batches, deliveredAt },
        () => pending,
        flush,
      );
      if (loaded) {
        totals.resources.add(loaded.resource);
        totals.unchangedRaw += loaded.unchangedRaw;
        totals.headerTitles.push(...loaded.headers);
      } else totals.unmatchedSheets.push(table.sheet ?? file.name);
    }
  } catch (error) {
    // the reader's file and workbook are closed however the file ends
    await tables.return?.().catch(() => {
      // the failure that stopped the file is the one worth reporting
    });
    throw error;
  } finally {
    await batches.settle();
  }
  if (totals.tables === 0 || totals.resources.size === 0) {
    const what =
      totals.tables === 0 ? 'the file holds no sheet' : 'no header row matches a resource of the catalog';
    throw new FileError(
      `${what}: the first ${HEADER_SEARCH_ROWS} rows must hold the column titles of a catalog resource (行政许可, 行政处罚, 企业登记…)`,
      totals.tables === 0
        ? '文件中没有工作表或数据'
        : `未识别出表头：前 ${HEADER_SEARCH_ROWS} 行中应有资源目录规定的列名（如“行政相对人名称”“统一社会信用代码”等），请使用标准模板`,
      { context: { file: file.name } },
    );
  }
  if (totals.read + pending.size === 0) {
    throw new FileError('the file has a header row but no data rows', '文件只有表头，没有数据行', {
      context: { file: file.name },
    });
  }
  const resourceList = [...totals.resources];
  const rowsRead = totals.read + pending.size;
  const rowsRejected =
    totals.quarantined + totals.duplicates + pending.quarantined.length + pending.duplicates.length;
  await flush(async (tx) => {
    await markFile(tx, ctx.runId, file, 'loaded', resourceList, rowsRead, rowsRejected);
    await tx.query('UPDATE source_runs SET files_done = files_done + 1 WHERE run_id = $1 AND source = $2', [
      ctx.runId,
      DROPS_SOURCE,
    ]);
  });
  await batches.settle();
}

/** Loads one table; returns its resource and column titles, or null when its header matches no resource. */
async function loadTable(
  ctx: DropsContext,
  index: HeaderIndexEntry[],
  file: DropFile,
  table: DropTable,
  within: {
    sheetRef: string;
    tableNumber: number;
    seen: SeenKeys;
    batches: TransactionBatches;
    deliveredAt: string | null;
  },
  batch: () => Batch,
  flush: () => Promise<void>,
): Promise<{ resource: string; headers: string[]; unchangedRaw: number } | null> {
  const iterator = table.rows[Symbol.asyncIterator]();
  const head: SheetRow[] = [];
  while (head.length < HEADER_SEARCH_ROWS) {
    const next = await nextOf(iterator, file);
    if (next.done) break;
    head.push(next.value);
  }
  const found = findHeaderRow(
    index,
    head.map((r) => r.cells),
  );
  if (!found) {
    await iterator.return?.();
    return null;
  }
  const { match } = found;
  const headerRow = head[found.rowIndex] as SheetRow;
  // a title is a key of the quarantined row's JSON, where PostgreSQL takes no NUL
  const headers = headerRow.cells.map((c) => (c === null ? '' : storable(String(c).trim())));
  const validate = compileRowValidator(ctx.ajv, ctx.catalog, match.resource, match.version, match.columns);
  const probeKey = compileKeyProbe(ctx.catalog, match.resource, match.version, match.columns);
  const fingerprint = rowFingerprint(ctx.catalog, match.resource, match.version, match.columns);
  const probe = new UnchangedProbe();
  const resourceId = match.resource.id;
  const base: Provenance = { source: DROPS_SOURCE, file: file.name, sha256: file.sha256 };
  if (table.sheet !== null) base.sheet = table.sheet;
  const { sheetRef, tableNumber, seen } = within;
  const refPrefix = `${DROPS_SOURCE}:${file.sha256}:${sheetRef}:`;
  // A row's reference is its row number, unique as the reader counts — unless it counts a number twice (a
  // workbook whose rows repeat or go back in their `r`): the second of a number is told apart by its turn.
  let lastRow = 0;
  let repeats: Map<number, number> | null = null;
  const refOf = (rowNumber: number, turn: number): string =>
    turn === 0 ? refPrefix + rowNumber : `${refPrefix}${rowNumber}~${turn}`;
  const turnOf = (rowNumber: number): number => {
    if (rowNumber > lastRow) {
      lastRow = rowNumber;
      return 0;
    }
    repeats ??= new Map();
    const turn = (repeats.get(rowNumber) ?? 0) + 1;
    repeats.set(rowNumber, turn);
    return turn;
  };

  const duplicateOf = (row: SheetRow, turn: number, naturalKey: string): RejectedRow | null => {
    const first = seen.firstSeen(`${resourceId}\u0000${naturalKey}`, tableNumber * 2 ** 32 + row.rowNumber);
    if (first === -1) return null;
    const provenance: Provenance = { ...base, row: row.rowNumber };
    const rowRef = refOf(row.rowNumber, turn);
    return duplicateRow(rowRef, resourceId, provenance, headers, row.cells, first % 2 ** 32, naturalKey);
  };

  /** A row whose stored record came from the very same raw row: unchanged, no need to validate it again. */
  const handleUnchanged = (row: SheetRow, naturalKey: string, unmatched: boolean) => {
    const duplicate = duplicateOf(row, turnOf(row.rowNumber), naturalKey);
    if (duplicate) batch().duplicates.push(duplicate);
    else {
      batch().addUnchanged(unmatched);
      probe.unchanged++;
    }
  };

  const handle = (row: SheetRow, digest: string) => {
    const turn = turnOf(row.rowNumber);
    const current = batch();
    // PostgreSQL's text and jsonb take no NUL (nor a lone UTF-16 surrogate): such a row is the department's
    // to mend, not the warehouse's to refuse — and not ours to alter silently
    const unstorable = unstorableCells(row.cells, headers, match.columns);
    const result = unstorable ? null : validate(row.cells);
    // a value beyond the titled columns has no field to go to: loading the row would lose it without a word
    const extra = row.cells.length > headers.length ? extraCellIssues(row.cells, headers) : NO_ISSUES;
    if (unstorable || !result?.ok || extra.length) {
      const provenance: Provenance = { ...base, row: row.rowNumber };
      const issues = extra.concat(unstorable ?? (result?.ok === false ? result.issues : []));
      current.quarantined.push({
        rowRef: refOf(row.rowNumber, turn),
        resource: resourceId,
        provenance,
        raw: rawRow(headers, row.cells),
        issues,
      });
    } else {
      const duplicate = duplicateOf(row, turn, result.value.naturalKey);
      if (duplicate) current.duplicates.push(duplicate);
      else {
        current.addRecord(
          result.value,
          { sheet: table.sheet, row: row.rowNumber, deliveredAt: within.deliveredAt },
          digest,
        );
      }
    }
  };

  /**
   * Rows go through in chunks: the warehouse is asked once a chunk which of its rows' keys it holds with the
   * same raw digest (when asking has been paying off); those rows are unchanged and skip validation. The
   * question for a chunk is asked while the chunk before it is validated, so neither side waits for the other.
   */
  const prepare = (rows: SheetRow[]): ProbedChunk => {
    const digests = rows.map((row) => rawDigest(fingerprint, row.cells));
    const keys = rows.map((row) => probeKey(row.cells));
    const stored = storedDigests(within.batches, recordTable(ctx.catalog, resourceId), keys);
    // observed by handleChunk; a chunk never handled (the file failed before it) must not fail the process
    stored.catch(() => {});
    return { rows, digests, keys, stored };
  };
  const handleChunk = async ({ rows, digests, keys, stored }: ProbedChunk) => {
    const found = await stored;
    let hits = 0;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as SheetRow;
      const key = keys?.[i];
      const known = key != null ? found?.get(key.key) : undefined;
      if (key != null && known && known.digest === digests[i]) {
        hits++;
        handleUnchanged(row, key.key, known.unmatched);
      } else handle(row, digests[i] as string);
      if (batch().size >= ctx.batchSize) await flush();
    }
    if (keys) probe.paid(hits, rows.length);
  };

  // Rows the warehouse is asked about wait in a chunk; while asking does not pay (a first load), rows go
  // through one by one as they are read — a row kept waiting outlives V8's young generation and costs the
  // garbage collector ten times as much.
  let chunk: SheetRow[] = [];
  let ahead: ProbedChunk | null = null;
  let asking = probe.wanted();
  let unasked = 0;
  const rotate = async () => {
    const next = prepare(chunk);
    chunk = [];
    if (ahead) await handleChunk(ahead);
    ahead = next;
    asking = probe.wanted();
  };
  const takeUnasked = async (row: SheetRow) => {
    if (ahead) {
      const before = ahead;
      ahead = null;
      await handleChunk(before);
    }
    handle(row, rawDigest(fingerprint, row.cells));
    if (batch().size >= ctx.batchSize) await flush();
  };
  /** Takes a row; a promise only when the row waits for something (a chunk is full, a batch is due). */
  const take = (row: SheetRow): Promise<void> | null => {
    if (isBlank(row.cells)) return null;
    if (!asking && unasked >= PROBE_ROWS) {
      unasked = 0;
      asking = probe.wanted();
    }
    if (asking) {
      chunk.push(row);
      return chunk.length >= PROBE_ROWS ? rotate() : null;
    }
    unasked++;
    if (ahead || batch().size + 1 >= ctx.batchSize) return takeUnasked(row);
    handle(row, rawDigest(fingerprint, row.cells));
    return null;
  };
  let sinceYield = 0;
  try {
    for (const row of head.slice(found.rowIndex + 1)) await take(row);
    for (let next = await nextOf(iterator, file); !next.done; next = await nextOf(iterator, file)) {
      const waiting = take(next.value);
      if (waiting) await waiting;
      // Buffered rows resolve as microtasks, which starve I/O: let the event loop feed the batch in flight to
      // PostgreSQL every few hundred rows, or the database waits for the parser instead of working beside it.
      if (++sinceYield === 256) {
        sinceYield = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  } catch (error) {
    await iterator.return?.().catch(() => {
      // the failure that stopped the table is the one worth reporting
    });
    throw error;
  }
  if (chunk.length) await rotate();
  if (ahead) await handleChunk(ahead);
  return { resource: resourceId, headers, unchangedRaw: probe.unchanged };
}

/** A chunk of rows with their raw digests, probe keys and the warehouse's answer on its way. */
interface ProbedChunk {
  rows: SheetRow[];
  digests: string[];
  keys: (ProbeKey | null)[] | null;
  stored: Promise<Map<string, { digest: string | null; unmatched: boolean }> | null>;
}

/** Rows a chunk: the unit of one "which of these are stored?" question to the warehouse. */
const PROBE_ROWS = 2000;

/**
 * Whether asking the warehouse about a chunk is worth its round trip: after a chunk in which fewer than one
 * row in ten was found unchanged (a new file, a first load), the next chunks go unasked, twice as many each
 * time it does not pay, so a first load asks a dozen times in a million rows.
 */
class UnchangedProbe {
  /** Rows counted unchanged by their digest. */
  unchanged = 0;
  private skip = 0;
  private backoff = 1;

  wanted(): boolean {
    if (this.skip === 0) return true;
    this.skip--;
    return false;
  }

  paid(hits: number, rows: number): void {
    if (hits * 10 >= rows) {
      this.backoff = 1;
      return;
    }
    this.skip = this.backoff;
    this.backoff = Math.min(this.backoff * 2, 64);
  }
}

/** Natural key → raw digest and match state of the stored records of `table` among `keys`. */
async function storedDigests(
  db: Pick<TransactionBatches, 'query'>,
  table: string,
  keys: readonly (ProbeKey | null)[],
): Promise<Map<string, { digest: string | null; unmatched: boolean }>> {
  const wanted = new Map<string, string>();
  for (const k of keys) if (k !== null) wanted.set(k.key, k.uscc);
  const found = new Map<string, { digest: string | null; unmatched: boolean }>();
  if (!wanted.size) return found;
  const rows = await db.query<{ natural_key: string; raw_digest: string | null; unmatched: boolean }>(
    // one primary-key probe a key: with `= ANY(…)` and the statistics of a table that just grew, the planner
    // scanned every record of the resource (165 ms for 2,000 keys of 100,000, against 11 ms)
    `SELECT k.natural_key, r.raw_digest, r.match_method IS NULL AS unmatched
     FROM unnest($1::text[], $2::text[]) AS k(uscc, natural_key)
     CROSS JOIN LATERAL (SELECT raw_digest, match_method FROM ${table}
                         WHERE uscc = k.uscc AND natural_key = k.natural_key) r`,
    [[...wanted.values()], [...wanted.keys()]],
  );
  for (const row of rows) found.set(row.natural_key, { digest: row.raw_digest, unmatched: row.unmatched });
  return found;
}

function isBlank(cells: readonly CellValue[]): boolean {
  for (const c of cells)
    if (c !== null && c !== '' && !(typeof c === 'string' && c.trim() === '')) return false;
  return true;
}

const NO_ISSUES: Issue[] = [];

/** Cells beyond the header's columns would be lost silently: they are an issue of their own. */
function extraCellIssues(cells: readonly CellValue[], headers: readonly string[]): Issue[] {
  const issues: Issue[] = [];
  for (let i = headers.length; i < cells.length; i++) {
    const v = cells[i];
    if (v === null || v === '' || v === undefined) continue;
    issues.push({
      type: 'extra-cell',
      field: null,
      value: String(v),
      message: `column ${i + 1} has a value but no title`,
      messageZh: `第 ${i + 1} 列有值但没有列名`,
    });
  }
  return issues;
}

function rawRow(headers: readonly string[], cells: readonly CellValue[]): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  const width = Math.max(headers.length, cells.length);
  for (let i = 0; i < width; i++) {
    const v = cells[i] ?? null;
    if (v === null || v === '') continue;
    const title = headers[i] || `第${i + 1}列`;
    raw[title in raw ? `${title}#${i + 1}` : title] =
      v instanceof Date ? v.toISOString() : typeof v === 'string' ? storable(v) : v;
  }
  return raw;
}

/** A character PostgreSQL's text and jsonb refuse: NUL, or half of a UTF-16 surrogate pair. */
function refused(text: string): boolean {
  return text.includes('\u0000') || !(text as unknown as WellFormed).isWellFormed();
}

/** String.prototype.isWellFormed and toWellFormed (Node 20; TypeScript's lib of ES2024). */
interface WellFormed {
  isWellFormed(): boolean;
  toWellFormed(): string;
}

/** The text as the warehouse can keep it: each refused character as U+FFFD, visibly. */
function storable(text: string): string {
  return refused(text) ? (text.replaceAll('\u0000', '\uFFFD') as unknown as WellFormed).toWellFormed() : text;
}

/** An issue for each cell the warehouse cannot store as it is, or null (the common case, checked cheaply). */
function unstorableCells(
  cells: readonly CellValue[],
  headers: readonly string[],
  columns: readonly ({ code: string } | null)[],
): Issue[] | null {
  let issues: Issue[] | null = null;
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i];
    if (typeof c !== 'string' || !refused(c)) continue;
    const title = headers[i] || `第 ${i + 1} 列`;
    const nul = c.includes('\u0000');
    issues ??= [];
    issues.push({
      type: 'type-error',
      field: columns[i]?.code ?? null,
      value: storable(c),
      message: `column "${title}" holds ${nul ? 'a NUL character (U+0000)' : 'a broken character (a lone UTF-16 surrogate)'}, which the warehouse cannot store`,
      messageZh: `“${title}”列含有${nul ? '不可见的空字符（NUL）' : '无法识别的残缺字符'}，无法入库；请删除该字符（常见于从其他系统复制或导出的数据）后重新提交`,
    });
  }
  return issues;
}

function duplicateRow(
  rowRef: string,
  resource: string,
  provenance: Provenance,
  headers: readonly string[],
  cells: readonly CellValue[],
  firstRow: number,
  naturalKey: string,
): RejectedRow {
  return {
    rowRef,
    resource,
    provenance,
    raw: rawRow(headers, cells),
    issues: [
      {
        type: 'duplicate-row',
        field: null,
        value: naturalKey,
        message: `the same record (natural key ${naturalKey}) was already read in this file at row ${firstRow}`,
        messageZh: `与本文件第 ${firstRow} 行的记录重复，同一决定文书号和相对人只应报送一行`,
      },
    ],
  };
}

async function markFile(
  tx: SqlTx,
  runId: number,
  file: DropFile,
  status: 'loaded' | 'rejected',
  resources: string[],
  rowsRead: number,
  rowsQuarantined: number,
  rejected: { error: string; department: string | null } | null = null,
): Promise<void> {
  await tx.query(
    `INSERT INTO drop_files (sha256, name, size, status, resources, rows_read, rows_quarantined, error, run_id,
                             department)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (sha256) DO NOTHING`,
    [
      file.sha256,
      file.name,
      file.size,
      status,
      resources,
      rowsRead,
      rowsQuarantined,
      rejected?.error ?? null,
      runId,
      rejected?.department ?? null,
    ],
  );
}
