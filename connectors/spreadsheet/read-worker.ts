/**
 * Reading a drop file on a second thread. Decoding and csv-parse (or a workbook's inflate and XML scan) cost
 * ~13–14 µs a row on the thread that also validates and loads; on the machine's second core they cost the main
 * thread only what receiving the rows costs (~1.1 µs a row for the bench's 1M-row CSV; the process as a whole
 * spends ~1.8 µs a row more: scripts/bench-read-worker.ts).
 *
 * The protocol is pull-only, so the reader never runs ahead of the loader by more than a few chunks: the main
 * thread asks for the next table (`table`) or for the next chunk of the current table's rows (`rows`), and the
 * reader thread answers each request once, in order. At most `inFlight` chunk requests are outstanding, and the
 * reader reads a table's rows only to answer one. A chunk travels as one flat array of cells beside typed arrays
 * of row numbers and cell counts: structured-cloning that costs the receiver less than an array of arrays
 * (1.4–1.5 µs a row against 1.65–2.3 for 21 cells; an ArrayBuffer of UTF-8 decoded cell by cell: 2.9; one
 * joined string sliced: 1.7, but a slice keeps its whole chunk alive as long as a key or a cell is kept).
 *
 * Errors cross as data and are built again on this side as the classes they were (a `FileError` with its
 * Chinese message, context and cause), so that a file fails with the same words whichever thread read it.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { type ErrorCode, FileError, GuijiError } from '../../lib/errors.js';
import type { CellValue } from '../../lib/types.js';
import type { SheetRow } from './csv-reader.js';
import { type DropTable, readTablesAt } from './read-tables.js';
import type { XlsxOpenOptions } from './xlsx-reader.js';

/** What the reader thread reads: `path` may be a descriptor's path (/proc/self/fd/N), valid in every thread. */
export interface ReadJob {
  path: string;
  name: string;
  format: 'csv' | 'xlsx';
  xlsx: XlsxOpenOptions;
}

export type ReadRequest =
  /** Read this file from now on (answered by `opened`: a failure to open comes with the first table). */
  | { type: 'open'; job: ReadJob }
  | { type: 'table' }
  | { type: 'rows'; table: number; max: number }
  /** Close what is open of the file: answered by `closed`. */
  | { type: 'close' };

export type ReadReply =
  | { type: 'opened' }
  | { type: 'closed' }
  | { type: 'table'; table: number; sheet: string | null }
  | { type: 'end' }
  | { type: 'error'; error: SerializedError }
  | {
      type: 'rows';
      table: number;
      /** Per row: its number and how many of `cells` are its. */
      rowNumbers: Int32Array;
      counts: Int32Array;
      cells: CellValue[];
      /** The table has no more rows (or `error` ended it). */
      done: boolean;
      /** Thrown after the rows of this chunk, as the reader threw it after them. */
      error?: SerializedError;
    };

/** An error as data: what is needed to build it again on the other side. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  messageZh?: string;
  code?: unknown;
  context?: unknown;
  cause?: SerializedError | { value: unknown };
  /** Other own properties of primitive value (errno, syscall, csv-parse's `records`…). */
  props?: Record<string, string | number | boolean | null>;
}

export interface ReadWorkerOptions {
  /** Rows a chunk holds at most (default 2,000). */
  chunkRows?: number;
  /** Chunk requests outstanding at most: how far the reader may run ahead of the consumer (default 2). */
  inFlight?: number;
  /** Stops the reader: the next row (or table) rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Sees every reply as it arrives (tests: how far the reader ran ahead). */
  onReply?: (reply: ReadReply) => void;
}

const CHUNK_ROWS = 2000;
/** The first chunk of a table is small: the header search reads 12 rows, and a peek at a file stops there. */
const FIRST_CHUNK_ROWS = 64;
const IN_FLIGHT = 2;

// ─────────────────────────────────────────── errors as data ───────────────────────────────────────────

const PRIMITIVE = new Set(['string', 'number', 'boolean']);

export function serializeError(error: unknown, depth = 0): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const out: SerializedError = { name: error.name, message: error.message };
  if (error.stack !== undefined) out.stack = error.stack;
  const own = error as unknown as Record<string, unknown>;
  if (error instanceof FileError) out.messageZh = error.messageZh;
  if (error instanceof GuijiError) out.context = structuredClone(error.context);
  const props: Record<string, string | number | boolean | null> = {};
  for (const key of Object.keys(own)) {
    if (key === 'messageZh' || key === 'context' || key === 'cause') continue;
    const value = own[key];
    if (key === 'code') out.code = value;
    else if (value === null || PRIMITIVE.has(typeof value))
      props[key] = value as string | number | boolean | null;
  }
  if (Object.keys(props).length > 0) out.props = props;
  if ('cause' in error && error.cause !== undefined) {
    out.cause =
      error.cause instanceof Error && depth < 8
        ? serializeError(error.cause, depth + 1)
        : { value: PRIMITIVE.has(typeof error.cause) ? error.cause : String(error.cause) };
  }
  return out;
}

export function reviveError(data: SerializedError): Error {
  const cause =
    data.cause === undefined ? undefined : 'value' in data.cause ? data.cause.value : reviveError(data.cause);
  const options = {
    ...(cause === undefined ? {} : { cause }),
    ...(data.context === undefined ? {} : { context: data.context as GuijiError['context'] }),
  };
  let error: Error;
  if (data.messageZh !== undefined) error = new FileError(data.message, data.messageZh, options);
  else if (typeof data.code === 'string' && data.code.startsWith('GUIJI_ERR_'))
    error = new GuijiError(data.code as ErrorCode, data.message, options);
  else {
    error = new Error(data.message, cause === undefined ? undefined : { cause });
    if (data.code !== undefined) (error as Error & { code?: unknown }).code = data.code;
  }
  error.name = data.name;
  for (const [key, value] of Object.entries(data.props ?? {})) {
    if (key !== 'name' && key !== 'message' && key !== 'stack')
      (error as unknown as Record<string, unknown>)[key] = value;
  }
  if (data.stack !== undefined) error.stack = data.stack;
  return error;
}

// ─────────────────────────────────────────── the main side ───────────────────────────────────────────

const ENTRY = new URL('./read-worker-entry.mjs', import.meta.url);

let live = 0;
/** Reader threads started and not yet exited. */
export function liveReaderThreads(): number {
  return live;
}

/** Why the reader thread could not start, once it could not: files are then read on the main thread. */
let unavailable: unknown = null;
export function readWorkerUnavailable(): unknown {
  return unavailable;
}

/**
 * The reader thread did not answer: it failed to start or died (out of memory, a bug). A fault of guiji's, not
 * of the file it read: the drop source does not blame the file for it.
 */
class ThreadFailure extends GuijiError {
  constructor(
    message: string,
    readonly started: boolean,
    cause?: unknown,
  ) {
    super('GUIJI_ERR_INTERNAL', message, cause === undefined ? {} : { cause });
    this.name = 'ThreadFailure';
  }
}

interface Waiter {
  job: Job;
  resolve: (reply: ReadReply) => void;
  reject: (error: unknown) => void;
  settled: boolean;
}

/** One file's reading on the reader thread: failing it rejects its requests only. */
interface Job {
  failure: unknown;
}

/**
 * The reader thread, started for the first large file and kept for the next ones: starting one costs ~0.3–0.9 s
 * of CPU (tsx compiles the readers again on that thread). Idle, it does not keep the process alive.
 */
class ReaderThread {
  private readonly worker: Worker;
  /** One per request sent, in order: the thread answers each once, in order (a rejected one still waits its answer). */
  private readonly waiting: Waiter[] = [];
  private answered = false;
  gone: unknown = null;
  /** The file being read: the thread reads one at a time. */
  busy = false;
  private readonly exited: Promise<void>;
  onReply: ((reply: ReadReply) => void) | undefined;

  constructor() {
    this.worker = new Worker(ENTRY);
    live++;
    // only a request waiting for its answer keeps the process alive: an idle or abandoned reader does not
    this.worker.unref();
    this.worker.on('message', (reply: ReadReply) => {
      this.answered = true;
      const waiter = this.waiting.shift();
      if (this.waiting.length === 0) this.worker.unref();
      if (!waiter || waiter.settled) return;
      waiter.settled = true;
      this.onReply?.(reply);
      waiter.resolve(reply);
    });
    this.worker.on('error', (error) => {
      this.die(new ThreadFailure(`the reader thread failed: ${error.message}`, this.answered, error));
    });
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        live--;
        this.die(new ThreadFailure(`the reader thread exited (code ${code})`, this.answered));
        resolve();
      });
    });
  }

  private die(error: ThreadFailure): void {
    if (this.gone === null) this.gone = error;
    if (shared === this) shared = null;
    for (const waiter of this.waiting.splice(0)) {
      if (waiter.settled) continue;
      waiter.settled = true;
      waiter.reject(this.gone);
    }
  }

  request(job: Job, request: ReadRequest): Promise<ReadReply> {
    const failure = this.gone ?? job.failure;
    if (failure !== null) return Promise.reject(failure);
    const reply = new Promise<ReadReply>((resolve, reject) => {
      this.waiting.push({ job, resolve, reject, settled: false });
    });
    // a read-ahead request may never be awaited (the consumer stopped): its rejection is not unhandled
    reply.catch(() => {});
    this.worker.ref();
    this.worker.postMessage(request);
    return reply;
  }

  /** Rejects what `job` waits for, and its later requests, with `error`. */
  fail(job: Job, error: unknown): void {
    if (job.failure === null) job.failure = error;
    for (const waiter of this.waiting) {
      if (waiter.settled || waiter.job !== job) continue;
      waiter.settled = true;
      waiter.reject(job.failure);
    }
  }

  /**
   * Ends `job`: the thread closes what it has open for it (a descriptor opened on a thread is not closed with
   * it) once it has answered the requests before this one.
   */
  async finish(job: Job, reason: unknown): Promise<void> {
    this.fail(job, reason);
    try {
      await this.request({ failure: null }, { type: 'close' });
    } catch {
      // the thread died: it has nothing open any more
    }
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
    await this.exited;
  }
}

let shared: ReaderThread | null = null;

/** Ends the reader thread (tests; the process does not wait for an idle one). */
export async function stopReaderThread(): Promise<void> {
  const thread = shared;
  shared = null;
  await thread?.terminate();
}

/**
 * The tables of a file read by the reader thread, as `readTablesAt` gives them on this thread: the same tables,
 * rows and errors. The thread lets go of the file when the tables are read, when the consumer stops early
 * (`return`), when the file fails, or when `signal` aborts. A thread that cannot start (a missing entry file, a
 * loader that fails) leaves the reading to this thread, for this file and the next ones; a second file read
 * while the thread reads one is read on this thread.
 */
export async function* readTablesInWorker(
  source: ReadJob,
  options: ReadWorkerOptions = {},
): AsyncGenerator<DropTable> {
  if (unavailable !== null || shared?.busy || !existsSync(ENTRY)) {
    yield* readTablesAt(source.path, source.name, source.format, source.xlsx);
    return;
  }
  const { signal } = options;
  signal?.throwIfAborted();
  shared ??= new ReaderThread();
  const thread = shared;
  thread.busy = true;
  thread.onReply = options.onReply;
  const job: Job = { failure: null };
  const abort = () => {
    thread.fail(job, signal?.reason);
  };
  signal?.addEventListener('abort', abort, { once: true });
  try {
    for (let tables = 0; ; tables++) {
      let reply: ReadReply;
      try {
        if (tables === 0) void thread.request(job, { type: 'open', job: source });
        reply = await thread.request(job, { type: 'table' });
      } catch (error) {
        if (tables === 0 && error instanceof ThreadFailure && !error.started) {
          // the thread never answered: read here, and do not try again in this process
          unavailable = error;
          await thread.terminate();
          yield* readTablesAt(source.path, source.name, source.format, source.xlsx);
          return;
        }
        throw error;
      }
      if (reply.type === 'end') return;
      if (reply.type === 'error') throw reviveError(reply.error);
      if (reply.type !== 'table') throw new Error(`the reader thread answered ${reply.type} to table`);
      yield { sheet: reply.sheet, rows: rowsOf(thread, job, reply.table, options) };
    }
  } finally {
    signal?.removeEventListener('abort', abort);
    await thread.finish(job, new Error('the file was closed'));
    thread.onReply = undefined;
    thread.busy = false;
  }
}

function rowsOf(
  thread: ReaderThread,
  job: Job,
  table: number,
  options: ReadWorkerOptions,
): AsyncIterable<SheetRow> {
  const chunkRows = Math.max(1, options.chunkRows ?? CHUNK_ROWS);
  const inFlight = Math.max(1, options.inFlight ?? IN_FLIGHT);
  let started = false;
  return {
    async *[Symbol.asyncIterator]() {
      if (started) throw new Error('the rows of a table are read once');
      started = true;
      const pending = [thread.request(job, { type: 'rows', table, max: FIRST_CHUNK_ROWS })];
      let done = false;
      while (pending.length > 0) {
        const reply = await (pending.shift() as Promise<ReadReply>);
        if (reply.type === 'error') throw reviveError(reply.error);
        if (reply.type !== 'rows' || reply.table !== table)
          throw new Error(`the reader thread answered ${reply.type} to rows`);
        if (reply.done) done = true;
        // read ahead while these rows are used
        while (!done && pending.length < inFlight)
          pending.push(thread.request(job, { type: 'rows', table, max: chunkRows }));
        const { rowNumbers, counts, cells } = reply;
        for (let r = 0, k = 0; r < counts.length; r++) {
          const n = counts[r] as number;
          yield { rowNumber: rowNumbers[r] as number, cells: cells.slice(k, k + n) };
          k += n;
        }
        if (reply.error) throw reviveError(reply.error);
      }
    },
  };
}
