/**
 * The reader thread (see read-worker.ts): reads one file with `readTablesAt`, answering the main thread's
 * requests one at a time, in the order they came. It reads a table's rows only to answer a request for them.
 */
import { parentPort } from 'node:worker_threads';
import type { CellValue } from '../../lib/types.js';
import type { SheetRow } from './csv-reader.js';
import { type DropTable, readTablesAt } from './read-tables.js';
import { type ReadJob, type ReadReply, type ReadRequest, serializeError } from './read-worker.js';

const port = parentPort;
if (!port) throw new Error('read-worker-thread.ts runs as a worker thread (read-worker.ts starts it)');
/**
 * A chunk ends at this many cells: its flat array of cells then stays out of V8's large-object space, which is
 * old generation — there it kept its cells alive past two scavenges, and the thread's heap grew with promoted
 * garbage (to ~120 MB on a 1M-row CSV with 2,000-row chunks, against ~45 MB).
 */
const MAX_CHUNK_CELLS = 12_000;

let job: ReadJob | null = null;
let tables: AsyncGenerator<DropTable> | null = null;
let current: { id: number; table: DropTable; rows: AsyncIterator<SheetRow> | null; done: boolean } | null =
  null;
let tableCount = 0;

function post(reply: ReadReply): void {
  if (reply.type === 'rows')
    port?.postMessage(reply, [reply.rowNumbers.buffer as ArrayBuffer, reply.counts.buffer as ArrayBuffer]);
  else port?.postMessage(reply);
}

async function closeCurrent(): Promise<void> {
  const rows = current?.rows;
  current = null;
  if (rows?.return) {
    try {
      await rows.return();
    } catch {
      // a table left unread: what its reader says on closing is of no use to anyone
    }
  }
}

async function nextTable(): Promise<void> {
  await closeCurrent();
  try {
    if (!job) throw new Error('no file is open on the reader thread');
    tables ??= readTablesAt(job.path, job.name, job.format, job.xlsx);
    const next = await tables.next();
    if (next.done) {
      post({ type: 'end' });
      return;
    }
    current = { id: ++tableCount, table: next.value, rows: null, done: false };
    post({ type: 'table', table: current.id, sheet: next.value.sheet });
  } catch (error) {
    post({ type: 'error', error: serializeError(error) });
  }
}

async function nextRows(table: number, max: number): Promise<void> {
  const rowNumbers: number[] = [];
  const counts: number[] = [];
  const cells: CellValue[] = [];
  const reply = (done: boolean, error?: unknown) =>
    post({
      type: 'rows',
      table,
      rowNumbers: Int32Array.from(rowNumbers),
      counts: Int32Array.from(counts),
      cells,
      done,
      ...(error === undefined ? {} : { error: serializeError(error) }),
    });
  const c = current;
  if (!c || c.id !== table || c.done) {
    reply(true); // a read-ahead request for a table that has ended or was left
    return;
  }
  try {
    c.rows ??= c.table.rows[Symbol.asyncIterator]();
    while (counts.length < max && cells.length < MAX_CHUNK_CELLS) {
      const next = await c.rows.next();
      if (next.done) {
        c.done = true;
        break;
      }
      const row = next.value;
      rowNumbers.push(row.rowNumber);
      counts.push(row.cells.length);
      for (const cell of row.cells) cells.push(cell);
    }
  } catch (error) {
    c.done = true;
    reply(true, error);
    return;
  }
  reply(c.done);
}

/** Lets go of the file: what is open of it is closed (a descriptor opened here is not closed with the thread). */
async function closeJob(): Promise<void> {
  await closeCurrent();
  const open = tables;
  tables = null;
  job = null;
  try {
    await open?.return(undefined);
  } catch {
    // closing a file that failed: its failure was reported already
  }
}

let queue: Promise<void> = Promise.resolve();
port.on('message', (request: ReadRequest) => {
  queue = queue.then(async () => {
    switch (request.type) {
      case 'open':
        await closeJob();
        job = request.job;
        post({ type: 'opened' });
        return;
      case 'table':
        return nextTable();
      case 'rows':
        return nextRows(request.table, request.max);
      case 'close':
        await closeJob();
        post({ type: 'closed' });
        return;
    }
  });
});
