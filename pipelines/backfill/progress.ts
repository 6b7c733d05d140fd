import cliProgress from 'cli-progress';
import type { Logger } from '../../lib/logger.js';

/** Where a backfill tells how far it is: a bar on a terminal, log lines otherwise. */
export interface Progress {
  begin(total: number, done: number): void;
  rows(n: number): void;
  partitionFinished(): void;
  end(): void;
}

export const NO_PROGRESS: Progress = { begin() {}, rows() {}, partitionFinished() {}, end() {} };

function eta(remaining: number, perSecond: number): number | null {
  return perSecond > 0 ? Math.round(remaining / perSecond) : null;
}

/**
 * On a terminal (stderr a TTY) a cli-progress bar: partitions and rows done, rows/s, ETA by partitions; else
 * a `backfill progress` log line every `everyMs` and at the end.
 */
export function createProgress(logger: Logger, options: { tty?: boolean; everyMs?: number } = {}): Progress {
  const tty = options.tty ?? Boolean(process.stderr.isTTY);
  const started = Date.now();
  let total = 0;
  let done = 0;
  let doneAtStart = 0;
  let rows = 0;
  const rate = () => rows / Math.max(0.001, (Date.now() - started) / 1000);
  const partitionsPerSecond = () => (done - doneAtStart) / Math.max(0.001, (Date.now() - started) / 1000);
  if (tty) {
    const bar = new cliProgress.SingleBar(
      {
        format: 'backfill |{bar}| {value}/{total} partitions | {rows} rows | {rate} rows/s | ETA {etaText}',
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    const payload = () => {
      const seconds = eta(total - done, partitionsPerSecond());
      return {
        rows: rows.toLocaleString('en-US'),
        rate: Math.round(rate()).toLocaleString('en-US'),
        etaText: seconds === null ? '—' : formatSeconds(seconds),
      };
    };
    return {
      begin(t, d) {
        total = t;
        done = d;
        doneAtStart = d;
        bar.start(t, d, payload());
      },
      rows(n) {
        rows += n;
        bar.update(done, payload());
      },
      partitionFinished() {
        done++;
        bar.update(done, payload());
      },
      end() {
        bar.update(done, payload());
        bar.stop();
      },
    };
  }
  const everyMs = options.everyMs ?? 10_000;
  let timer: NodeJS.Timeout | null = null;
  const report = (msg: string) =>
    logger.info(
      {
        partitionsDone: done,
        partitions: total,
        rows,
        rowsPerSecond: Math.round(rate()),
        etaSeconds: eta(total - done, partitionsPerSecond()),
      },
      msg,
    );
  return {
    begin(t, d) {
      total = t;
      done = d;
      doneAtStart = d;
      report('backfill progress');
      timer = setInterval(() => report('backfill progress'), everyMs);
      timer.unref();
    },
    rows(n) {
      rows += n;
    },
    partitionFinished() {
      done++;
    },
    end() {
      if (timer) clearInterval(timer);
      report('backfill progress');
    },
  };
}

export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
}
