/**
 * One scenario of `npm run bench`, in a process of its own so that its peak RSS is the pipeline's alone: runs
 * the real pipeline (`runPipeline`) once over a drop folder and prints one JSON line (`ChildResult`) on stdout.
 *
 *   GUIJI_BENCH_DATABASE_URL=postgres://… node bin/run-ts.js scripts/bench-child.ts --drop <dir> --schema <name>
 *
 * The warehouse handle is wrapped to time what the pipeline waits for PostgreSQL (per kind of statement), so
 * the bench can tell Node's work (parse, validate, build COPY text) from the database's. Nothing else differs
 * from `guiji run`.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadCatalog } from '../catalog/load.js';
import { loadConfig } from '../lib/config.js';
import { openWarehouse, type SqlTx, type Warehouse } from '../lib/db.js';
import { messageOf } from '../lib/errors.js';
import { createLogger } from '../lib/logger.js';
import { type RunSummary, runPipeline } from '../pipelines/run.js';
import type { FileOutcome } from '../pipelines/sources/drops.js';

export interface StatementTiming {
  calls: number;
  ms: number;
}

export interface ChildResult {
  seconds: number;
  maxRssKb: number;
  batchSize: number;
  summary: RunSummary;
  files: FileOutcome[];
  /** CPU time of this process during the run (all threads), in seconds. */
  cpu: { userS: number; systemS: number };
  /**
   * When the run started and ended on CLOCK_MONOTONIC, in µs (`process.hrtime`): the clock of V8's CPU profiles,
   * so that a profile can be cut to the run, without start-up (module loading) and shutdown.
   */
  window: { startUs: number; endUs: number };
  /**
   * CPU time of the main thread alone during the run (s), from /proc (null elsewhere): a CPU profile samples by
   * the clock, so on a busy machine it also counts the time its thread waited for a core; this tells how much.
   */
  mainThreadCpuS: number | null;
  /** How late the event loop ran timers (ms): a loop blocked by parsing also delays database replies. */
  eventLoopDelayMs: { mean: number; p99: number; max: number };
  /** Peaks of `process.memoryUsage()` sampled every 50 ms, in MB: what the RSS is made of. */
  memory: MemoryPeaks;
  /**
   * Time spent waiting for PostgreSQL: `busyMs` is wall-clock time with at least one transaction or statement
   * in flight (the pipeline may parse while a batch loads, so this is not a sum); `transactionMs` sums the load
   * transactions; `statements` sums each kind of statement.
   */
  db: {
    busyMs: number;
    transactions: number;
    transactionMs: number;
    statements: Record<string, StatementTiming>;
  };
}

export interface MemoryPeaks {
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  arrayBuffersMb: number;
}

/** Samples the heap and off-heap memory until stopped; returns the peaks seen. */
function sampleMemory(intervalMs = 50): () => MemoryPeaks {
  const peaks: MemoryPeaks = { heapUsedMb: 0, heapTotalMb: 0, externalMb: 0, arrayBuffersMb: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    peaks.heapUsedMb = Math.max(peaks.heapUsedMb, m.heapUsed / 1048576);
    peaks.heapTotalMb = Math.max(peaks.heapTotalMb, m.heapTotal / 1048576);
    peaks.externalMb = Math.max(peaks.externalMb, m.external / 1048576);
    peaks.arrayBuffersMb = Math.max(peaks.arrayBuffersMb, m.arrayBuffers / 1048576);
  };
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    sample();
    return peaks;
  };
}

/** CPU seconds (user + system) of this process's main thread so far, from /proc; null without /proc. */
function mainThreadCpuSeconds(): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // after the command name, which may hold spaces, in parentheses: state is field 3, utime 14, stime 15
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks / CLOCK_TICKS : null;
  } catch {
    return null;
  }
}

/** The kernel's USER_HZ, which /proc counts CPU time in: 100 on every Linux that Node supports. */
const CLOCK_TICKS = 100;

/** A short, stable name for a statement: its first words, without the run's values. */
function statementKind(sql: string): string {
  const text = sql.replace(/\s+/g, ' ').trim();
  if (text.startsWith('WITH up AS')) return 'merge into records';
  const words = text.split(' ');
  const verb = (words[0] ?? '').toUpperCase();
  if (verb === 'COPY') return `COPY ${words[1] ?? ''}`;
  if (verb === 'INSERT') return `INSERT INTO ${words[2] ?? ''}`;
  if (verb === 'UPDATE') return `UPDATE ${words[1] ?? ''}`;
  if (verb === 'CREATE') return 'CREATE TEMP TABLE';
  if (verb === 'SELECT' && text.includes('FROM guiji_staging')) return 'SELECT unmatched';
  if (verb === 'SELECT' && text.includes('FROM quarantine')) return 'SELECT quarantine (feedback)';
  return `${verb} ${words.slice(1, 4).join(' ')}`.trim();
}

function timedWarehouse(db: Warehouse, timings: ChildResult['db']): Warehouse {
  let inFlight = 0;
  let busySince = 0;
  const busy = async <T>(work: () => Promise<T>): Promise<T> => {
    if (inFlight++ === 0) busySince = performance.now();
    try {
      return await work();
    } finally {
      if (--inFlight === 0) timings.busyMs += performance.now() - busySince;
    }
  };
  const add = (kind: string, ms: number) => {
    const t = timings.statements[kind] ?? { calls: 0, ms: 0 };
    t.calls++;
    t.ms += ms;
    timings.statements[kind] = t;
  };
  const timed = async <T>(kind: string, work: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    try {
      return await work();
    } finally {
      add(kind, performance.now() - start);
    }
  };
  return {
    kind: db.kind,
    schema: db.schema,
    knex: db.knex,
    query: (sql, params) => busy(() => timed(statementKind(sql), () => db.query(sql, params))),
    tryRunLock: (name) => db.tryRunLock(name),
    close: () => db.close(),
    async transaction(fn) {
      const start = performance.now();
      try {
        return await busy(() =>
          db.transaction((tx) => {
            const inner: SqlTx = {
              query: (sql, params) => timed(statementKind(sql), () => tx.query(sql, params)),
              copyText: (table, columns, chunks) =>
                timed(`COPY ${table}`, () => tx.copyText(table, columns, chunks)),
            };
            return fn(inner);
          }),
        );
      } finally {
        timings.transactions++;
        timings.transactionMs += performance.now() - start;
      }
    },
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      drop: { type: 'string' },
      schema: { type: 'string' },
      home: { type: 'string' },
      // the embedded warehouse (PGlite under --home) instead of PostgreSQL; --serve: served, as `guiji run` has it
      embedded: { type: 'boolean' },
      serve: { type: 'boolean' },
    },
  });
  const databaseUrl = (values.embedded ? null : process.env.GUIJI_BENCH_DATABASE_URL) ?? null;
  if (!values.drop || !values.schema || (!databaseUrl && !values.embedded)) {
    process.stderr.write(
      'usage: GUIJI_BENCH_DATABASE_URL=postgres://… bench-child.ts --drop <dir> --schema <name> [--home <dir>]\n' +
        '       bench-child.ts --embedded [--serve] --drop <dir> --schema public --home <dir>\n',
    );
    return 2;
  }
  const config = loadConfig({
    overrides: {
      databaseUrl,
      dbSchema: values.schema,
      dropDir: values.drop,
      home: values.home ?? values.drop,
      logLevel: 'warn',
    },
  });
  const logger = createLogger('warn');
  const catalog = loadCatalog(config.catalogDir, config.schemasDir);
  const db = await openWarehouse({
    home: config.home,
    databaseUrl: config.databaseUrl,
    schema: config.dbSchema,
    ...(values.serve ? { serve: true } : {}),
  });
  const timings: ChildResult['db'] = { busyMs: 0, transactions: 0, transactionMs: 0, statements: {} };
  try {
    const stopSampling = sampleMemory();
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const cpuBefore = process.cpuUsage();
    const mainBefore = mainThreadCpuSeconds();
    const startUs = Number(process.hrtime.bigint() / 1000n);
    const start = performance.now();
    const { summary, files } = await runPipeline({
      config,
      db: timedWarehouse(db, timings),
      catalog,
      logger,
      kind: 'bench',
    });
    const seconds = (performance.now() - start) / 1000;
    const endUs = Number(process.hrtime.bigint() / 1000n);
    const cpu = process.cpuUsage(cpuBefore);
    const mainAfter = mainThreadCpuSeconds();
    delay.disable();
    const result: ChildResult = {
      seconds,
      maxRssKb: process.resourceUsage().maxRSS,
      batchSize: config.batchSize,
      summary,
      files,
      cpu: { userS: cpu.user / 1e6, systemS: cpu.system / 1e6 },
      window: { startUs, endUs },
      mainThreadCpuS: mainBefore === null || mainAfter === null ? null : mainAfter - mainBefore,
      eventLoopDelayMs: {
        mean: delay.mean / 1e6,
        p99: delay.percentile(99) / 1e6,
        max: delay.max / 1e6,
      },
      memory: stopSampling(),
      db: timings,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return summary.status === 'succeeded' ? 0 : 1;
  } finally {
    await db.close();
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  process.stderr.write(`bench-child: ${messageOf(error)}\n`);
  process.exitCode = 1;
}
