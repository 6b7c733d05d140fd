/**
 * The reader thread (connectors/spreadsheet/read-worker.ts) reads exactly what the main thread reads: the same
 * tables, rows and errors (the same classes, Chinese messages and context) over the hostile drop and the
 * workbook fixtures; it lets go of a file the consumer stops reading, runs at most a few chunks ahead of the
 * consumer, and stops on an abort.
 */
import { mkdtempSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type DropFile, listIncoming, readTables } from '../connectors/spreadsheet/drop-folder.js';
import {
  liveReaderThreads,
  type ReadReply,
  readWorkerUnavailable,
  reviveError,
  serializeError,
  stopReaderThread,
} from '../connectors/spreadsheet/read-worker.js';
import { loadConfig } from '../lib/config.js';
import { ConfigError, FileError, GuijiError } from '../lib/errors.js';
import { writeHostileDrop } from './helpers/hostile-files.js';

const tmp = mkdtempSync(join(tmpdir(), 'guiji-read-worker-'));
afterAll(async () => {
  await stopReaderThread();
  rmSync(tmp, { recursive: true, force: true });
});

const WORKER = { worker: true, workerMinBytes: 0 } as const;
const INLINE = { worker: false } as const;

interface Reading {
  tables: { sheet: string | null; rows: [number, unknown[]][] }[];
  error: Record<string, unknown> | null;
}

/** Everything a reading gives, and how it ends: the error as a clerk and an engineer would see it. */
async function readAll(file: DropFile, options: Parameters<typeof readTables>[1]): Promise<Reading> {
  const reading: Reading = { tables: [], error: null };
  try {
    for await (const table of readTables(file, options)) {
      const rows: [number, unknown[]][] = [];
      reading.tables.push({ sheet: table.sheet, rows });
      for await (const row of table.rows) rows.push([row.rowNumber, row.cells]);
    }
  } catch (error) {
    const e = error as Error & { code?: unknown; messageZh?: unknown; context?: unknown; errno?: unknown };
    const cause = e.cause as (Error & { code?: unknown }) | undefined;
    reading.error = {
      class: error instanceof FileError ? 'FileError' : error instanceof GuijiError ? 'GuijiError' : 'Error',
      name: e.name,
      message: e.message.replace(/\/proc\/self\/fd\/\d+/g, '<fd>'),
      code: e.code,
      messageZh: e.messageZh,
      context: e.context,
      errno: e.errno,
      cause: cause && { name: cause.name, message: cause.message, code: cause.code },
    };
  }
  return reading;
}

function dropFile(path: string, format: 'csv' | 'xlsx' = path.endsWith('.xlsx') ? 'xlsx' : 'csv'): DropFile {
  const { dev, ino, size } = statSync(path);
  return { path, name: path.split('/').pop() as string, size, sha256: '', format, dev, ino };
}

/** The descriptors of this process open on `path` (the main thread's and the reader thread's alike). */
function openOn(path: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === resolve(path)) n++;
    } catch {
      // closed while listed
    }
  }
  return n;
}

function bigCsv(name: string, rows: number): string {
  const path = join(tmp, name);
  const lines = ['行政相对人名称,统一社会信用代码,处罚决定日期,金额'];
  for (let i = 1; i <= rows; i++)
    lines.push(`"企业,${i}",91341282MA2${String(i).padStart(7, '0')},2024-01-02,${i}.5`);
  writeFileSync(path, `${lines.join('\r\n')}\r\n`);
  return path;
}

describe('the reader thread', () => {
  it('reads every file of the hostile drop as the main thread does: tables, rows and errors', async () => {
    const drop = join(tmp, 'drop');
    await writeHostileDrop(drop, join(tmp, 'outside'), 20240601);
    const { files } = await listIncoming(drop);
    expect(files.length).toBeGreaterThan(150);
    let failed = 0;
    let rows = 0;
    for (const file of files) {
      const inline = await readAll(file, INLINE);
      const threaded = await readAll(file, WORKER);
      expect({ file: file.name, ...threaded }).toEqual({ file: file.name, ...inline });
      if (inline.error) failed++;
      for (const t of inline.tables) rows += t.rows.length;
    }
    // the drop holds both kinds, and the thread really read them (it did not fall back to this thread)
    expect(failed).toBeGreaterThan(50);
    expect(rows).toBeGreaterThan(1000);
    expect(readWorkerUnavailable()).toBeNull();
    expect(liveReaderThreads()).toBe(1);
  });

  it('reads the workbook fixtures alike, dates and numbers included, under a tiny chunk size too', async () => {
    const dir = resolve(import.meta.dirname, 'fixtures', 'xlsx');
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.xlsx'))) {
      const file = dropFile(join(dir, name));
      for (const chunkSize of [undefined, 256]) {
        const options = chunkSize === undefined ? {} : { chunkSize };
        const inline = await readAll(file, { ...INLINE, ...options });
        expect(inline.tables.length).toBeGreaterThan(0);
        expect(await readAll(file, { ...WORKER, ...options, chunkRows: 7 })).toEqual(inline);
      }
    }
  });

  it('lets go of a file read only in part (a peek at its first rows), and reads the next one', async () => {
    const path = bigCsv('peek.csv', 20_000);
    const file = dropFile(path);
    const head: number[] = [];
    for await (const table of readTables(file, WORKER)) {
      for await (const row of table.rows) {
        head.push(row.rowNumber);
        if (head.length === 12) break;
      }
      break;
    }
    expect(head).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    // neither the main thread's descriptor nor the reader thread's is left open
    expect(openOn(path)).toBe(0);
    const all = await readAll(file, WORKER);
    expect(all.error).toBeNull();
    expect(all.tables[0]?.rows).toHaveLength(20_001);
    expect(openOn(path)).toBe(0);
    await stopReaderThread();
    expect(liveReaderThreads()).toBe(0);
  });

  it('runs at most `inFlight` chunks ahead of a slow consumer', async () => {
    const file = dropFile(bigCsv('slow.csv', 30_000));
    const chunkRows = 100;
    const inFlight = 2;
    let consumed = 0;
    let received = 0;
    let ahead = 0;
    const onReply = (reply: ReadReply) => {
      if (reply.type !== 'rows') return;
      received += reply.counts.length;
      ahead = Math.max(ahead, received - consumed);
    };
    for await (const table of readTables(file, { ...WORKER, chunkRows, inFlight, onReply })) {
      for await (const _ of table.rows) {
        consumed++;
        // a slow consumer: the reader thread has all the time it wants to run ahead, if it could
        if (consumed % 50 === 0) await new Promise((r) => setImmediate(r));
      }
    }
    expect(consumed).toBe(30_001);
    expect(received).toBe(30_001);
    // the chunk being consumed and the ones asked for ahead of it; never the file
    expect(ahead).toBeLessThanOrEqual((inFlight + 1) * chunkRows);
    expect(ahead).toBeGreaterThan(chunkRows);
  });

  it('stops on an abort: the next row rejects with the reason, and the file is let go', async () => {
    const path = bigCsv('abort.csv', 20_000);
    const controller = new AbortController();
    let seen = 0;
    const reading = (async () => {
      for await (const table of readTables(dropFile(path), { ...WORKER, signal: controller.signal })) {
        for await (const _ of table.rows) {
          if (++seen === 100) controller.abort(new Error('stop: SIGTERM'));
        }
      }
    })();
    await expect(reading).rejects.toThrow('stop: SIGTERM');
    // the rows already received may still be handed out; no more are asked for
    expect(seen).toBeLessThan(20_000);
    expect(openOn(path)).toBe(0);
  });

  it('rebuilds errors as their classes, with the Chinese message, context, errno and cause', () => {
    const cause = Object.assign(new Error('Quote Not Closed'), { code: 'CSV_QUOTE_NOT_CLOSED', records: 4 });
    const error = new FileError('the quote never closes', '第 5 行的引号没有闭合', {
      cause,
      context: { file: 'a.csv', row: 5 },
    });
    const back = reviveError(structuredClone(serializeError(error)));
    expect(back).toBeInstanceOf(FileError);
    expect(back).toMatchObject({
      message: error.message,
      messageZh: error.messageZh,
      context: error.context,
    });
    expect(back.cause).toMatchObject({
      message: 'Quote Not Closed',
      code: 'CSV_QUOTE_NOT_CLOSED',
      records: 4,
    });
    const errno = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES', errno: -13 });
    expect(reviveError(structuredClone(serializeError(errno)))).toMatchObject({ code: 'EACCES', errno: -13 });
  });
});

describe('GUIJI_READ_WORKER', () => {
  it('turns the reader thread off with 0 and refuses anything but 0 or 1', () => {
    expect(loadConfig({ env: {}, cwd: tmp }).readWorker).toBe(1);
    expect(loadConfig({ env: { GUIJI_READ_WORKER: '0' }, cwd: tmp }).readWorker).toBe(0);
    expect(() => loadConfig({ env: { GUIJI_READ_WORKER: '2' }, cwd: tmp })).toThrow(ConfigError);
  });
});
