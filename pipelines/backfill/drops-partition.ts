import { copyFileSync, linkSync, mkdirSync, readdirSync, realpathSync, rmSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import type { Catalog } from '../../catalog/load.js';
import type { XlsxLimits } from '../../connectors/spreadsheet/xlsx-reader.js';
import type { Warehouse } from '../../lib/db.js';
import type { Logger } from '../../lib/logger.js';
import type { Ajv } from '../../schemas/ajv.js';
import { type FileOutcome, runDrops } from '../sources/drops.js';

const SUPPORTED = /\.(csv|txt|tsv|xlsx|xlsm)$/i;
/** What the drop source writes beside a file (feedback); never a partition of its own. */
const GENERATED = /\.(退回说明\.xlsx|错误说明\.txt)$/;

/** The spreadsheets of a historical folder, recursively, by relative path (dot-files and partial uploads left out). */
export function listSpreadsheets(dir: string): { key: string; path: string }[] {
  const out: { key: string; path: string }[] = [];
  const walk = (folder: string) => {
    for (const name of readdirSync(folder).sort()) {
      if (name.startsWith('.') || name.startsWith('~$')) continue;
      const path = join(folder, name);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path);
      else if (stat.isFile() && SUPPORTED.test(name) && !GENERATED.test(name))
        out.push({ key: relative(dir, path), path });
    }
  };
  walk(dir);
  return out;
}

export interface FileLoadContext {
  db: Warehouse;
  ajv: Ajv;
  catalog: Catalog;
  logger: Logger;
  runId: number;
  batchSize: number;
  /** A private folder for this attempt (removed afterwards). */
  workDir: string;
  /** Where the feedback for departments (rejected rows, unreadable files) is kept. */
  feedbackDir: string;
  /** The workbook caps (`GUIJI_XLSX_*`). */
  xlsxLimits?: XlsxLimits;
  /** Large files read on a second thread (`GUIJI_READ_WORKER`). */
  readWorker?: boolean;
  /** GUIJI_BULK_BYTES: see DropsContext. */
  bulkBytes?: number;
}

/**
 * Loads one historical spreadsheet through the drop source, in place: the file is linked (or copied) into a
 * drop folder of this attempt, so the historical folder is never moved nor written to, and everything the drop
 * source guarantees holds — each batch whole, the file recorded by its SHA-256 with its last batch, so a file
 * loaded once is skipped by any later attempt. Feedback workbooks land in `feedbackDir`.
 */
export async function loadSpreadsheet(ctx: FileLoadContext, path: string): Promise<FileOutcome> {
  rmSync(ctx.workDir, { recursive: true, force: true });
  const incoming = join(ctx.workDir, 'incoming');
  mkdirSync(incoming, { recursive: true });
  const link = join(incoming, basename(path));
  try {
    // the file itself: a hard link to a symbolic link would be a link in incoming/, which is never read
    linkSync(realpathSync(path), link);
  } catch {
    // another file system (or no hard links): a copy does as well
    copyFileSync(path, link);
  }
  try {
    const [outcome] = await runDrops({
      db: ctx.db,
      ajv: ctx.ajv,
      catalog: ctx.catalog,
      logger: ctx.logger,
      runId: ctx.runId,
      dropDir: ctx.workDir,
      batchSize: ctx.batchSize,
      ...(ctx.xlsxLimits ? { xlsxLimits: ctx.xlsxLimits } : {}),
      ...(ctx.readWorker === undefined ? {} : { readWorker: ctx.readWorker }),
      ...(ctx.bulkBytes !== undefined ? { bulkBytes: ctx.bulkBytes } : {}),
    });
    keepFeedback(ctx.workDir, ctx.feedbackDir);
    if (!outcome) throw new Error(`${path}: the drop source did not read the file`);
    return outcome;
  } finally {
    rmSync(ctx.workDir, { recursive: true, force: true });
  }
}

function keepFeedback(workDir: string, feedbackDir: string): void {
  for (const sub of ['archive', 'rejected']) {
    const folder = join(workDir, sub);
    let names: string[];
    try {
      names = readdirSync(folder);
    } catch {
      continue; // the drop source made no such folder
    }
    for (const name of names.filter((n) => GENERATED.test(n))) {
      mkdirSync(feedbackDir, { recursive: true });
      copyFileSync(join(folder, name), join(feedbackDir, name));
    }
  }
}
