import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Catalog, loadCatalog, type Resource } from '../catalog/load.js';
import { GuijiError } from '../lib/errors.js';
import { INSTRUCTIONS_SHEET, writeTemplate } from '../pipelines/template/workbook.js';
import { CELL_MAX_CHARS, truncationMarker } from '../pipelines/xlsx-cells.js';
import { expectSafeWorkbook, HOSTILE } from './helpers/workbook-cells.js';

const ROOT = join(import.meta.dirname, '..');
const catalog: Catalog = loadCatalog(join(ROOT, 'catalog'), join(ROOT, 'schemas'));

/** The catalog with one resource changed: whoever edits the catalog writes what the templates show. */
function withResource(base: Catalog, id: string, change: (r: Resource) => Resource): Catalog {
  const resource = base.resources.get(id) as Resource;
  return { ...base, resources: new Map([...base.resources, [id, change(resource)]]) };
}

describe('the template workbook', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'guiji-template-cells-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes formula-like, overlong and unreadable catalog text as safe, readable cells', async () => {
    const optional = (r: Resource) => r.current.fields.filter((f) => !f.required && !f.codeList);
    const [first, second] = optional(catalog.resources.get('xzcf') as Resource);
    expect(first && second).toBeTruthy();
    const hostile = withResource(
      { ...catalog, region: { ...catalog.region, name: HOSTILE.at }, title: HOSTILE.controls },
      'xzcf',
      (r) => ({
        ...r,
        legalBasis: HOSTILE.long,
        categoryName: HOSTILE.nul,
        current: {
          ...r.current,
          fields: r.current.fields.map((f) =>
            f.code === first?.code
              ? { ...f, title: HOSTILE.dde }
              : f.code === second?.code
                ? { ...f, title: HOSTILE.fullWidth }
                : f,
          ),
        },
      }),
    );
    const file = join(dir, 'hostile.xlsx');
    await writeTemplate(hostile, 'xzcf', file);
    const sheets = await expectSafeWorkbook(file);
    const texts = [...sheets.values()].flat();
    expect(texts.some((t) => t.startsWith(`'${HOSTILE.at} `))).toBe(true); // the title row
    expect(texts).toContain(`'${HOSTILE.dde}`); // a column title, and the instructions' field list
    expect(texts).toContain(`'${HOSTILE.fullWidth}`);
    const instructions = sheets.get(INSTRUCTIONS_SHEET) ?? [];
    expect(instructions).toContain('违法\uFFFD事实');
    expect(instructions.some((t) => t.includes('处罚\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD依据\uFFFD\uFFFD'))).toBe(
      true,
    );
    const basis = instructions.find((t) => t.endsWith(truncationMarker(HOSTILE.long.length)));
    expect(basis?.length).toBeLessThanOrEqual(CELL_MAX_CHARS);
    expect(basis?.startsWith('界界界')).toBe(true);
  });

  it('refuses a code list label a drop-down could not offer as it is, naming the list', async () => {
    const list = (catalog.resources.get('xzcf') as Resource).current.fields.find(
      (f) => f.codeList && !f.multi,
    )?.codeList as string;
    const entries = catalog.codeLists[list] ?? [];
    const hostile: Catalog = {
      ...catalog,
      codeLists: {
        ...catalog.codeLists,
        [list]: [{ ...entries[0], label: HOSTILE.minus } as (typeof entries)[0], ...entries.slice(1)],
      },
    };
    const error = await writeTemplate(hostile, 'xzcf', join(dir, 'list.xlsx')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GuijiError);
    expect((error as GuijiError).code).toBe('GUIJI_ERR_CATALOG');
    expect((error as GuijiError).message).toContain(`code list "${list}"`);
    expect((error as GuijiError).message).toContain(HOSTILE.minus);
  });
});
