import { type CsvFormat, readCsv, type SheetRow, sniffCsv } from './csv-reader.js';
import { openXlsx, type XlsxOpenOptions } from './xlsx-reader.js';

/** One table of a file: a CSV has one, a workbook one per sheet. */
export interface DropTable {
  sheet: string | null;
  rows: AsyncIterable<SheetRow>;
}

/**
 * The tables of the file at `path` (its name `name` for errors), read on this thread: a CSV's one table, or
 * a workbook's visible sheets. The drop folder's `readTables` calls it, or has its reader thread call it.
 */
export async function* readTablesAt(
  path: string,
  name: string,
  format: 'csv' | 'xlsx',
  xlsx: XlsxOpenOptions = {},
): AsyncGenerator<DropTable> {
  if (format === 'csv') {
    const csvFormat: CsvFormat = await sniffCsv(path, name);
    yield { sheet: null, rows: readCsv(path, csvFormat, name) };
    return;
  }
  const workbook = await openXlsx(path, { ...xlsx, name });
  try {
    // hidden sheets hold templates' code lists and scratch work, not records
    for (const sheet of workbook.sheets.filter((s) => s.state === 'visible')) {
      yield { sheet: sheet.name, rows: workbook.rows(sheet.name) };
    }
  } finally {
    await workbook.close();
  }
}
