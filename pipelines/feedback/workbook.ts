import { basename, dirname, extname, join } from 'node:path';
import type { Warehouse } from '../../lib/db.js';
import type { Issue } from '../../lib/types.js';
import { cellText } from '../xlsx-cells.js';

interface QuarantineRow {
  sheet: string | null;
  row_number: number | null;
  raw: Record<string, unknown>;
  issues: Issue[];
}

const PAGE = 2000;

/** A page of a file's rejected rows after ($2 sheet, $3 row), in file order (index quarantine_by_file). */
export const FEEDBACK_PAGE = `SELECT sheet, row_number, raw, issues FROM quarantine
  WHERE sha256 = $1 AND (coalesce(sheet, ''), coalesce(row_number, 0)) > ($2::text, $3::integer)
  ORDER BY coalesce(sheet, ''), coalesce(row_number, 0) LIMIT $4`;

/**
 * The pages walk the index in its order. The file's rows were inserted moments ago, so the planner's
 * statistics do not know them: it guessed a few hundred rows and fetched and sorted all of them for every
 * page (measured: 190 ms a page of 97,000 rejected rows, against 3.5 ms along the index).
 */
export const FEEDBACK_PLANNER = ['SET LOCAL enable_bitmapscan = off', 'SET LOCAL enable_sort = off'];

/** A page of a file's loaded records with warnings after ($4 sheet, $5 row), in file order. */
const WARNED_PAGE = `SELECT r.sheet, r.row_number, r.subject_name, r.warnings FROM common_records r
  WHERE r.run_id = $1 AND r.warnings IS NOT NULL
    AND r.origin_id = (SELECT o.id FROM origins o WHERE o.source = $2 AND o.key = $3)
    AND (coalesce(r.sheet, ''), coalesce(r.row_number, 0)) > ($4::text, $5::integer)
  ORDER BY coalesce(r.sheet, ''), coalesce(r.row_number, 0) LIMIT $6`;

interface WarnedRow {
  sheet: string | null;
  row_number: number | null;
  subject_name: string | null;
  warnings: Issue[];
}

/** Which of the file's loaded rows to list as 提示: those the run `runId` wrote from it (source `source`). */
export interface WarnedRows {
  runId: number;
  source: string;
}

type Sheet = ReturnType<InstanceType<typeof import('exceljs').stream.xlsx.WorkbookWriter>['addWorksheet']>;

/**
 * The workbook handed back to a department: every rejected row of one file (退回数据) with its row number,
 * every reason in Chinese and the row as it was sent, so the clerk can correct and resend it; and, when
 * `warned` is given, every row that loaded with warnings (提示: loaded, to be corrected in the next delivery).
 * Written beside the archived file (`.退回说明.xlsx`, or `.提示说明.xlsx` when no row was rejected), streamed
 * page by page so that a file with tens of thousands of such rows stays within memory.
 */
export async function writeFeedbackWorkbook(
  db: Warehouse,
  sha256: string,
  archivedPath: string,
  headers: readonly string[],
  warned?: WarnedRows,
): Promise<string> {
  // the file's own column order first, then any key the rows have beyond it (cells without a title)
  const keys = await db.query<{ key: string; sheets: string }>(
    `SELECT DISTINCT key, (SELECT count(DISTINCT coalesce(sheet, '')) FROM quarantine WHERE sha256 = $1) AS sheets
     FROM quarantine, jsonb_object_keys(raw) AS key WHERE sha256 = $1 ORDER BY key`,
    [sha256],
  );
  const present = new Set(keys.map((k) => k.key));
  const columns = [...new Set(headers)].filter((h) => present.has(h));
  for (const { key } of keys) if (!columns.includes(key)) columns.push(key);
  const withSheet = Number(keys[0]?.sheets ?? 0) > 1;
  const anyRejected = keys.length > 0;

  const { default: ExcelJS } = await import('exceljs');
  const ext = extname(archivedPath);
  const kind = anyRejected || !warned ? '退回说明' : '提示说明';
  const path = join(dirname(archivedPath), `${basename(archivedPath, ext)}.${kind}.xlsx`);
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({
    filename: path,
    useStyles: true,
    useSharedStrings: false,
  });
  workbook.creator = 'guiji';
  const rejected =
    anyRejected || !warned
      ? await writeRejectedSheet(
          db,
          workbook.addWorksheet('退回数据', FROZEN_HEAD),
          sha256,
          columns,
          withSheet,
        )
      : 0;
  const warnedRows = warned
    ? await writeWarnedSheet(db, workbook.addWorksheet('提示', FROZEN_HEAD), sha256, warned)
    : 0;

  const guide = workbook.addWorksheet('说明');
  guide.columns = [{ width: 100 }];
  for (const line of [
    '本表列出未能入库的数据行及原因，请按“问题说明”逐行更正后重新报送。',
    '“原行号”为原文件中的行号（含表头所在行）。',
    '代码类字段（统一社会信用代码等）所在列须设置为“文本”格式，否则表格软件会把代码改成数字。',
    `退回行数：${rejected}`,
    ...(warned
      ? [
          '“提示”表列出已经入库、但有值未通过校验或缺少的数据行：这些值未入库，请在下次报送时一并更正。',
          `提示行数：${warnedRows}`,
        ]
      : []),
  ]) {
    guide.addRow([line]).commit();
  }
  guide.commit();
  await workbook.commit();
  return path;
}

const FROZEN_HEAD = { views: [{ state: 'frozen' as const, ySplit: 1 }] };

const WRAPPED = { alignment: { wrapText: true, vertical: 'top' as const } };

function styleHead(sheet: Sheet, argb: string): void {
  const head = sheet.getRow(1);
  head.font = { bold: true, color: { argb: 'FFFFFFFF' } };
  head.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb } };
  head.commit();
}

/** Issues as the clerk reads them: numbered, one a line. */
function reasonsOf(issues: readonly Issue[]): string {
  return cellText(issues.map((issue, i) => `${i + 1}. ${issue.messageZh}`).join('\n'));
}

/** The 退回数据 sheet: every rejected row of the file, as sent, with its reasons; returns how many. */
async function writeRejectedSheet(
  db: Warehouse,
  sheet: Sheet,
  sha256: string,
  columns: readonly string[],
  withSheet: boolean,
): Promise<number> {
  sheet.columns = [
    ...(withSheet ? [{ header: '工作表', width: 14 }] : []),
    { header: '原行号', width: 8 },
    { header: '问题说明', width: 60, style: WRAPPED },
    ...columns.map((c) => ({ header: cellText(c), width: Math.min(40, Math.max(10, c.length * 2)) })),
  ];
  styleHead(sheet, 'FFC0504D');
  // one transaction, so that the planner settings hold for every page
  const total = await db.transaction(async (tx) => {
    for (const setting of FEEDBACK_PLANNER) await tx.query(setting);
    let written = 0;
    let after: [string, number] = ['', -1];
    for (;;) {
      const { rows } = await tx.query<QuarantineRow>(FEEDBACK_PAGE, [sha256, after[0], after[1], PAGE]);
      for (const row of rows) {
        // the clerk's own text goes back as it was sent, except what would run as a formula or break the file
        const values = columns.map((c) => (row.raw[c] === undefined ? '' : cellText(String(row.raw[c]))));
        sheet
          .addRow([
            ...(withSheet ? [cellText(row.sheet ?? '')] : []),
            row.row_number ?? '',
            reasonsOf(row.issues),
            ...values,
          ])
          .commit();
      }
      written += rows.length;
      await zipCaughtUp(sheet);
      if (rows.length < PAGE) return written;
      const last = rows[rows.length - 1] as QuarantineRow;
      after = [last.sheet ?? '', last.row_number ?? 0];
    }
  });
  sheet.commit();
  return total;
}

/**
 * The 提示 sheet: every row of the file that loaded with warnings (the records the run wrote from it), with
 * the subject and every warning; returns how many. Rows found unchanged (the same row loaded before) were
 * listed with the file that brought them.
 */
async function writeWarnedSheet(
  db: Warehouse,
  sheet: Sheet,
  sha256: string,
  warned: WarnedRows,
): Promise<number> {
  sheet.columns = [
    { header: '工作表', width: 14 },
    { header: '原行号', width: 8 },
    { header: '主体名称', width: 30 },
    { header: '提示说明', width: 80, style: WRAPPED },
  ];
  styleHead(sheet, 'FFF79646');
  let written = 0;
  let after: [string, number] = ['', -1];
  for (;;) {
    const rows = await db.query<WarnedRow>(WARNED_PAGE, [
      warned.runId,
      warned.source,
      sha256,
      after[0],
      after[1],
      PAGE,
    ]);
    for (const row of rows)
      sheet
        .addRow([
          cellText(row.sheet ?? ''),
          row.row_number ?? '',
          cellText(row.subject_name ?? ''),
          reasonsOf(row.warnings),
        ])
        .commit();
    written += rows.length;
    await zipCaughtUp(sheet);
    if (rows.length < PAGE) break;
    const last = rows[rows.length - 1] as WarnedRow;
    after = [last.sheet ?? '', last.row_number ?? 0];
  }
  sheet.commit();
  return written;
}

/** How much of a sheet's XML may wait to be compressed before the next page is written. */
const ZIP_BACKLOG_BYTES = 4 << 20;

const ZIP_EVENTS = ['drain', 'error', 'close'];

/** The zip's input, as exceljs pipes a sheet into it (a readable-stream PassThrough, not Node's own). */
interface ZipInput {
  _writableState?: {
    length: number;
    needDrain: boolean;
    errored?: unknown;
    errorEmitted?: boolean;
    destroyed?: boolean;
  };
  once(event: string, listener: () => void): unknown;
  removeListener(event: string, listener: () => void): unknown;
}

/**
 * Resolves once no more than `limit` bytes of the sheet's XML wait to be compressed. exceljs's sheet stream
 * ignores backpressure: rows written faster than the zip deflates them pile up in memory (measured: 100,000
 * rejected rows took the process from 280 to 365 MB). Above the limit it waits for the zip's input to drain
 * (the event a writer that honoured backpressure would wait for), or to fail or close: the commit then
 * reports the failure.
 */
export async function zipCaughtUp(sheet: unknown, limit = ZIP_BACKLOG_BYTES): Promise<void> {
  const input = (sheet as { stream?: { pipes?: ZipInput[] } }).stream?.pipes?.[0];
  const state = input?._writableState;
  if (!input || !state) return;
  // needDrain: a write found the buffer full, so 'drain' comes when it empties (below the stream's own mark
  // there is nothing worth waiting for); after an error or a close no drain is coming
  const failed = () => Boolean(state.errored || state.errorEmitted || state.destroyed);
  let last = 'drain';
  while (last === 'drain' && state.length > limit && state.needDrain && !failed()) {
    last = await new Promise<string>((resolve) => {
      const listeners = new Map<string, () => void>();
      for (const event of ZIP_EVENTS) {
        listeners.set(event, () => {
          for (const [e, l] of listeners) input.removeListener(e, l);
          resolve(event);
        });
      }
      for (const [e, l] of listeners) input.once(e, l);
    });
  }
}
