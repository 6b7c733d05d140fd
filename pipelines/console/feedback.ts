/** A drop file's feedback workbook (退回说明), made on request from the warehouse for the run page's link. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Warehouse } from '../../lib/db.js';
import { writeFeedbackWorkbook } from '../feedback/workbook.js';

/**
 * The workbook of the rejected rows of the file `sha256` that run `runId` read, as bytes with the name the
 * department knows it by; null when that run read no such file or none of its rows was rejected. Made in a
 * private temporary folder, read, and removed: the console never serves a path from the drop folder.
 */
export async function feedbackWorkbook(
  db: Warehouse,
  runId: number,
  sha256: string,
): Promise<{ name: string; bytes: Buffer } | null> {
  const [file] = await db.query<{ name: string }>(
    'SELECT name FROM drop_files WHERE run_id = $1 AND sha256 = $2 AND rows_quarantined > 0',
    [runId, sha256],
  );
  if (!file) return null;
  const base = file.name.split(/[\\/]/).at(-1) ?? 'file';
  const dir = mkdtempSync(join(tmpdir(), 'guiji-feedback-'));
  try {
    const path = await writeFeedbackWorkbook(db, sha256, join(dir, base), []);
    return { name: path.slice(dir.length + 1), bytes: readFileSync(path) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
