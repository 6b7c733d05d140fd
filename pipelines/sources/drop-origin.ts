/**
 * Where a file rejected whole came from, when it can be told: the department (and resource) its template
 * names, else those its name tells by the drops' convention (README "Drops"). The report counts rejected
 * files per department with it.
 */
import type { Catalog } from '../../catalog/load.js';
import type { DropTable } from '../../connectors/spreadsheet/read-tables.js';
import type { CellValue } from '../../lib/types.js';
import { departmentNamed, type FileOrigin, originOfFileName } from '../quality/departments.js';
import { sheetNameOf, templateDepartmentText } from '../template/workbook.js';

/** How far down a sheet its template's title is looked for (the title is row 1; a clerk may add rows above). */
const TITLE_SEARCH_ROWS = 5;

/**
 * The origin of a rejected file: what its content tells (a template's `报送单位：…` in a sheet's first rows,
 * the resource by its sheet's name), completed by what its name tells. A file that cannot be read again
 * tells what its name tells; `tables` null: the file is not opened again (a type the reader does not take).
 */
export async function rejectedFileOrigin(
  catalog: Catalog,
  fileName: string,
  tables: (() => AsyncIterable<DropTable>) | null,
): Promise<FileOrigin> {
  const byName = originOfFileName(catalog, fileName);
  let byContent: FileOrigin = {};
  try {
    if (tables) byContent = await originOfContent(catalog, tables());
  } catch {
    // the file was rejected for its bytes: reading it again may fail the same way, and its name still tells
  }
  const department = byContent.department ?? byName.department;
  const resource = byContent.resource ?? byName.resource;
  return { ...(department ? { department } : {}), ...(resource ? { resource } : {}) };
}

/**
 * The department a template's title names and the resource its sheet is named after: from the first table
 * only (a template's records sheet comes first; the reader is not asked to skip half a sheet).
 */
async function originOfContent(catalog: Catalog, tables: AsyncIterable<DropTable>): Promise<FileOrigin> {
  for await (const table of tables) {
    const resource = [...catalog.resources.values()].find((r) => table.sheet === sheetNameOf(r))?.id;
    const department = await departmentInTitle(catalog, table.rows);
    return { ...(department ? { department } : {}), ...(resource ? { resource } : {}) };
  }
  return {};
}

/** The catalog department a `报送单位：` cell of the first rows names exactly. */
async function departmentInTitle(catalog: Catalog, rows: AsyncIterable<{ cells: CellValue[] }>) {
  let n = 0;
  for await (const row of rows) {
    for (const cell of row.cells) {
      const text = typeof cell === 'string' ? templateDepartmentText(cell) : undefined;
      const department = text === undefined ? undefined : departmentNamed(catalog, text);
      if (department) return department;
    }
    if (++n >= TITLE_SEARCH_ROWS) break;
  }
  return undefined;
}
