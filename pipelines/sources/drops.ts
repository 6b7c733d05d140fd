import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Catalog } from '../../catalog/load.js';
import {
  type DropFile,
  type DropTable,
  isSupported,
  listIncoming,
  moveDropFile,
  readTables,
  type SheetRow,
} from '../../connectors/spreadsheet/drop-folder.js';
import type { SqlTx, Warehouse } from '../../lib/db.js';
import { messageOf } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { CellValue, Issue, Provenance } from '../../lib/types.js';
import type { Ajv } from '../../schemas/ajv.js';
import { writeFeedbackWorkbook } from '../feedback/workbook.js';
import { Batch, BatchQueue, type RejectedRow } from '../load/loader.js';
import { buildHeaderIndex, findHeaderRow, type HeaderIndexEntry } from '../normalize/headers.js';
import { rawDigest } from '../validate/raw-digest.js';
import { compileKeyProbe, compileRowValidator, rowFingerprint } from '../validate/row-validator.js';
import { SeenKeys } from '../validate/seen-keys.js';

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
  /** Stops the source between batches (SIGTERM): it throws `signal.reason` once the batch in flight commits. */
  signal?: AbortSignal;
}

export interface FileOutcome {
  file: string;
  status: 'loaded' | 'rejected' | 'skipped';
  resources: string[];
  read: number;
  quarantined: number;
  /** Rows found unchanged by their raw digest, without being validated again. */
  unchangedRaw?: number;
  message?: string;
  feedback?: string;
}

/**
 * The spreadsheet-drop source: every file in incoming/ is read, each sheet recognised by its header, every
 * row validated, and the records loaded in batches. A file is done when its last batch commits together with
 * its SHA-256 (so the same file is never loaded twice, and a killed run re-reads it from the start); it then
 * moves to archive/ — with a feedback workbook beside it when rows were rejected — or, when it cannot be read
 * at all, to rejected/ with the reason. A bad file never stops the others.
 */
export async function runDrops(ctx: DropsContext): Promise<FileOutcome[]> {
  const index = buildHeaderIndex(ctx.catalog);
  const files = await listIncoming(ctx.dropDir);
  const outcomes: FileOutcome[] = [];
  const ordered = await orderForMatching(files, index);
  for (const file of ordered) {
    ctx.signal?.throwIfAborted();
    const log = ctx.logger.child({ file: file.name });
    const known = await ctx.db.query<{ status: string }>('SELECT status FROM drop_files WHERE sha256 = $1', [
      file.sha256,
    ]);
    if (known[0]) {
      const to = known[0].status === 'rejected' ? 'rejected' : 'archive';
      moveDropFile(ctx.dropDir, file, to);
      log.info({ sha256: file.sha256 }, 'file already processed (same SHA-256): not loaded again');
      outcomes.push({
        file: file.name,
        status: 'skipped',
        resources: [],
        read: 0,
        quarantined: 0,
        message: 'same content already processed',
      });
      continue;
    }
    try {
      const outcome = await loadFile(ctx, index, file, log);
      outcomes.push(outcome);
    } catch (error) {
      // stopped between two batches: the file is not done, the next run reads it again from the start
      if (ctx.signal?.aborted && error === ctx.signal.reason) throw error;
      const message = clerkMessage(error, file);
      log.warn({ err: messageOf(error) }, 'file rejected');
      await ctx.db.transaction(async (tx) => {
        await markFile(tx, ctx.runId, file, 'rejected', [], 0, 0, message);
        await tx.query(
          'UPDATE source_runs SET files_rejected = files_rejected + 1 WHERE run_id = $1 AND source = $2',
          [ctx.runId, DROPS_SOURCE],
        );
      });
      const moved = moveDropFile(ctx.dropDir, file, 'rejected');
      writeFileSync(`${moved}.错误说明.txt`, `${message}\n`);
      outcomes.push({ file: file.name, status: 'rejected', resources: [], read: 0, quarantined: 0, message });
    }
  }
  return outcomes;
}

/** The enterprise register goes first, so that records dropped beside it match the enterprises it adds. */
async function orderForMatching(files: DropFile[], index: HeaderIndexEntry[]): Promise<DropFile[]> {
  // a lone file has no order to find, and peeking costs a workbook its shared strings a second time
  if (files.filter(isSupported).length < 2) return files;
  const registers = new Set<DropFile>();
  for (const file of files) {
    if (!isSupported(file)) continue;
    try {
      for await (const table of readTables(file)) {
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

async function loadFile(
  ctx: DropsContext,
  index: HeaderIndexEntry[],
  file: DropFile,
  log: Logger,
): Promise<FileOutcome> {
  if (!isSupported(file)) {
    throw new DropFileProblem(
      `unsupported file type "${file.name}": send .csv, .txt (tab-separated) or .xlsx`,
      `不支持的文件类型“${file.name}”：请提交 .csv、.txt（制表符分隔）或 .xlsx 文件`,
    );
  }
  const resources = new Set<string>();
  const totals = { read: 0, quarantined: 0, duplicates: 0 };
  const unmatchedSheets: string[] = [];
  let unchangedRaw = 0;
  let tables = 0;
  // A repeated natural key within one file is a duplicate row (the first one stands). Across files a later
  // row is a correction: it updates the record. Either way the outcome does not depend on where runs split.
  const seen = new SeenKeys();
  const headerTitles: string[] = [];
  let pending = new Batch(DROPS_SOURCE, ctx.catalog.resources);
  const queue = new BatchQueue(ctx.db, ctx.runId, ctx.catalog.resources);
  const flush = async (finalize?: (tx: SqlTx) => Promise<void>) => {
    const batch = pending;
    pending = new Batch(DROPS_SOURCE, ctx.catalog.resources);
    if (finalize) batch.finalize = finalize;
    await queue.submit(batch, (counts) => {
      totals.read += counts.read;
      totals.quarantined += counts.quarantined;
      totals.duplicates += counts.duplicates;
      log.debug({ ...counts, fileRead: totals.read }, 'batch committed');
    });
    // between batches: the batch before has committed, this one commits before the error leaves loadFile
    if (!finalize) ctx.signal?.throwIfAborted();
  };

  try {
    for await (const table of readTables(file)) {
      tables++;
      const loaded = await loadTable(ctx, index, file, table, tables, seen, () => pending, flush);
      if (loaded) {
        resources.add(loaded.resource);
        unchangedRaw += loaded.unchangedRaw;
        headerTitles.push(...loaded.headers);
      } else unmatchedSheets.push(table.sheet ?? file.name);
    }
  } finally {
    await queue.settle();
  }
  if (tables === 0 || resources.size === 0) {
    const what = tables === 0 ? 'the file holds no sheet' : 'no header row matches a resource of the catalog';
    throw new DropFileProblem(
      `${what}: the first ${HEADER_SEARCH_ROWS} rows must hold the column titles of a catalog resource (行政许可, 行政处罚, 企业登记…)`,
      tables === 0
        ? '文件中没有工作表或数据'
        : `未识别出表头：前 ${HEADER_SEARCH_ROWS} 行中应有资源目录规定的列名（如“行政相对人名称”“统一社会信用代码”等），请使用标准模板`,
    );
  }
  const resourceList = [...resources];
  if (totals.read + pending.size === 0) {
    throw new DropFileProblem('the file has a header row but no data rows', '文件只有表头，没有数据行');
  }
  const last = pending.quarantined.length + pending.duplicates.length;
  const rowsRead = totals.read + pending.size;
  const rowsRejected = totals.quarantined + totals.duplicates + last;
  await flush(async (tx) => {
    await markFile(tx, ctx.runId, file, 'loaded', resourceList, rowsRead, rowsRejected);
    await tx.query('UPDATE source_runs SET files_done = files_done + 1 WHERE run_id = $1 AND source = $2', [
      ctx.runId,
      DROPS_SOURCE,
    ]);
  });
  await queue.settle();
  const archived = moveDropFile(ctx.dropDir, file, 'archive');
  let feedback: string | undefined;
  if (totals.quarantined + totals.duplicates > 0) {
    feedback = await writeFeedbackWorkbook(ctx.db, file.sha256, archived, headerTitles);
  }
  if (unmatchedSheets.length)
    log.info({ sheets: unmatchedSheets }, 'sheets without a recognised header were skipped');
  log.info(
    { resources: resourceList, read: totals.read, quarantined: totals.quarantined, unchangedRaw },
    'file loaded',
  );
  const outcome: FileOutcome = {
    file: file.name,
    status: 'loaded',
    resources: resourceList,
    read: totals.read,
    quarantined: totals.quarantined + totals.duplicates,
    unchangedRaw,
  };
  if (feedback) outcome.feedback = relative(ctx.dropDir, feedback);
  return outcome;
}

/** Loads one table; returns its resource and column titles, or null when its header matches no resource. */
async function loadTable(
  ctx: DropsContext,
  index: HeaderIndexEntry[],
  file: DropFile,
  table: DropTable,
  tableNumber: number,
  seen: SeenKeys,
  batch: () => Batch,
  flush: () => Promise<void>,
): Promise<{ resource: string; headers: string[]; unchangedRaw: number } | null> {
  const iterator = table.rows[Symbol.asyncIterator]();
  const head: SheetRow[] = [];
  while (head.length < HEADER_SEARCH_ROWS) {
    const next = await iterator.next();
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
  const headers = headerRow.cells.map((c) => (c === null ? '' : String(c).trim()));
  const validate = compileRowValidator(ctx.ajv, ctx.catalog, match.resource, match.version, match.columns);
  const probeKey = compileKeyProbe(ctx.catalog, match.resource, match.version, match.columns);
  const fingerprint = rowFingerprint(ctx.catalog, match.resource, match.version, match.columns);
  const probe = new UnchangedProbe();
  const resourceId = match.resource.id;
  const base: Provenance = { source: DROPS_SOURCE, file: file.name, sha256: file.sha256 };
  if (table.sheet !== null) base.sheet = table.sheet;
  // the provenance of a loaded record as JSON, built without an object a row: {...base, "row": n}
  const provenancePrefix = `${JSON.stringify(base).slice(0, -1)},"row":`;
  const refPrefix = `${DROPS_SOURCE}:${file.sha256}:${table.sheet ?? ''}:`;

  const duplicateOf = (row: SheetRow, naturalKey: string): RejectedRow | null => {
    const first = seen.firstSeen(`${resourceId}\u0000${naturalKey}`, tableNumber * 2 ** 32 + row.rowNumber);
    if (first === -1) return null;
    const provenance: Provenance = { ...base, row: row.rowNumber };
    const rowRef = refPrefix + row.rowNumber;
    return duplicateRow(rowRef, resourceId, provenance, headers, row.cells, first % 2 ** 32, naturalKey);
  };

  /** A row whose stored record came from the very same raw row: unchanged, no need to validate it again. */
  const handleUnchanged = (row: SheetRow, naturalKey: string, unmatched: boolean) => {
    const duplicate = duplicateOf(row, naturalKey);
    if (duplicate) batch().duplicates.push(duplicate);
    else {
      batch().addUnchanged(unmatched);
      probe.unchanged++;
    }
  };

  const handle = (row: SheetRow, digest: string) => {
    const result = validate(row.cells);
    const current = batch();
    if (!result.ok) {
      const provenance: Provenance = { ...base, row: row.rowNumber };
      const rowRef = refPrefix + row.rowNumber;
      const issues = extraCellIssues(row.cells, headers).concat(result.issues);
      current.quarantined.push({
        rowRef,
        resource: resourceId,
        provenance,
        raw: rawRow(headers, row.cells),
        issues,
      });
    } else {
      const duplicate = duplicateOf(row, result.value.naturalKey);
      if (duplicate) current.duplicates.push(duplicate);
      else {
        const { upgradedFrom, original } = result.value;
        current.addRecord(
          result.value,
          upgradedFrom
            ? `${provenancePrefix}${row.rowNumber},"upgradedFrom":${JSON.stringify(upgradedFrom)},"original":${JSON.stringify(original)}}`
            : `${provenancePrefix}${row.rowNumber}}`,
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
    const stored = storedDigests(ctx.db, resourceId, keys);
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
      const known = key != null ? found?.get(key) : undefined;
      if (key != null && known && known.digest === digests[i]) {
        hits++;
        handleUnchanged(row, key, known.unmatched);
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
  for (const row of head.slice(found.rowIndex + 1)) await take(row);
  let sinceYield = 0;
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
    const waiting = take(next.value);
    if (waiting) await waiting;
    // Buffered rows resolve as microtasks, which starve I/O: let the event loop feed the batch in flight to
    // PostgreSQL every few hundred rows, or the database waits for the parser instead of working beside it.
    if (++sinceYield === 256) {
      sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  if (chunk.length) await rotate();
  if (ahead) await handleChunk(ahead);
  return { resource: resourceId, headers, unchangedRaw: probe.unchanged };
}

/** A chunk of rows with their raw digests, probe keys and the warehouse's answer on its way. */
interface ProbedChunk {
  rows: SheetRow[];
  digests: string[];
  keys: (string | null)[] | null;
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

/** Key → raw digest and match state of the stored records of `resource` among `keys`. */
async function storedDigests(
  db: Warehouse,
  resource: string,
  keys: readonly (string | null)[],
): Promise<Map<string, { digest: string | null; unmatched: boolean }>> {
  const wanted = [...new Set(keys.filter((k): k is string => k !== null))];
  const found = new Map<string, { digest: string | null; unmatched: boolean }>();
  if (!wanted.length) return found;
  const rows = await db.query<{ natural_key: string; raw_digest: string | null; unmatched: boolean }>(
    // one primary-key probe a key: with `natural_key = ANY(…)` and the statistics of a table that just grew,
    // the planner scanned every record of the resource (165 ms for 2,000 keys of 100,000, against 11 ms)
    `SELECT k.natural_key, r.raw_digest, r.match_method IS NULL AS unmatched
     FROM unnest($2::text[]) AS k(natural_key)
     CROSS JOIN LATERAL (SELECT raw_digest, match_method FROM records
                         WHERE resource = $1 AND natural_key = k.natural_key) r`,
    [resource, wanted],
  );
  for (const row of rows) found.set(row.natural_key, { digest: row.raw_digest, unmatched: row.unmatched });
  return found;
}

function isBlank(cells: readonly CellValue[]): boolean {
  for (const c of cells)
    if (c !== null && c !== '' && !(typeof c === 'string' && c.trim() === '')) return false;
  return true;
}

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
    raw[title in raw ? `${title}#${i + 1}` : title] = v instanceof Date ? v.toISOString() : v;
  }
  return raw;
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
  error?: string,
): Promise<void> {
  await tx.query(
    `INSERT INTO drop_files (sha256, name, size, status, resources, rows_read, rows_quarantined, error, run_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (sha256) DO NOTHING`,
    [file.sha256, file.name, file.size, status, resources, rowsRead, rowsQuarantined, error ?? null, runId],
  );
}

/** A problem with a whole file, told to the clerk in Chinese and to the engineer in English. */
export class DropFileProblem extends Error {
  constructor(
    message: string,
    readonly messageZh: string,
  ) {
    super(message);
  }
}

function clerkMessage(error: unknown, file: DropFile): string {
  if (error instanceof DropFileProblem) return `${error.message} / ${error.messageZh}`;
  // the clerk knows the file by its name, and the server's folders are nobody's business
  const text = messageOf(error).replaceAll(file.path, file.name);
  return `cannot read the file: ${text} / 文件无法读取（${text}），请确认文件完整并重新导出后提交`;
}
