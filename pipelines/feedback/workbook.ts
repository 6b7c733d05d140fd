import { basename, dirname, extname, join } from 'node:path';
import ExcelJS from 'exceljs';
import type { Warehouse } from '../../lib/db.js';
import type { Issue } from '../../lib/types.js';

interface QuarantineRow {
  sheet: string | null;
  row_number: number | null;
  raw: Record<string, unknown>;
  issues: Issue[];
}

/**
 * The workbook handed back to a department: every rejected row of one file with its row number, every reason
 * in Chinese and the row as it was sent, so the clerk can correct and resend it. Written beside the archived file.
 */
export async function writeFeedbackWorkbook(
  db: Warehouse,
  sha256: string,
  archivedPath: string,
): Promise<string> {
  const rows = await db.query<QuarantineRow>(
    `SELECT sheet, row_number, raw, issues FROM quarantine WHERE sha256 = $1 ORDER BY sheet NULLS FIRST, row_number`,
    [sha256],
  );
  const columns: string[] = [];
  const known = new Set<string>();
  for (const row of rows) {
    for (const key of Object.keys(row.raw)) {
      if (!known.has(key)) {
        known.add(key);
        columns.push(key);
      }
    }
  }
  const workbook = new ExcelJS.Workbook();
  workbook.creator = 'guiji';
  const sheet = workbook.addWorksheet('退回数据');
  const withSheet = rows.some((r) => r.sheet);
  const header = [...(withSheet ? ['工作表'] : []), '原行号', '问题说明', ...columns];
  sheet.addRow(header);
  for (const row of rows) {
    const reasons = row.issues.map((issue, i) => `${i + 1}. ${issue.messageZh}`).join('\n');
    // exceljs writes strings as shared strings, never as formulas: the clerk's own text goes back untouched
    const values = columns.map((c) => (row.raw[c] === undefined ? '' : String(row.raw[c])));
    sheet.addRow([...(withSheet ? [row.sheet ?? ''] : []), row.row_number ?? '', reasons, ...values]);
  }
  const head = sheet.getRow(1);
  head.font = { bold: true, color: { argb: 'FFFFFFFF' } };
  head.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFC0504D' } };
  sheet.views = [{ state: 'frozen', ySplit: 1 }];
  const reasonColumn = sheet.getColumn(withSheet ? 3 : 2);
  reasonColumn.width = 60;
  reasonColumn.alignment = { wrapText: true, vertical: 'top' };
  const guide = workbook.addWorksheet('说明');
  guide.addRows([
    ['本表列出未能入库的数据行及原因，请按“问题说明”逐行更正后重新报送。'],
    ['“原行号”为原文件中的行号（含表头所在行）。'],
    ['代码类字段（统一社会信用代码等）所在列须设置为“文本”格式，否则表格软件会把代码改成数字。'],
    [`退回行数：${rows.length}`],
  ]);
  guide.getColumn(1).width = 100;
  const ext = extname(archivedPath);
  const path = join(dirname(archivedPath), `${basename(archivedPath, ext)}.退回说明.xlsx`);
  await workbook.xlsx.writeFile(path);
  return path;
}
