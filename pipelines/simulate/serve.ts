/**
 * `guiji simulate <platform>`: serves a platform simulator on 127.0.0.1 until stopped. `guiji demo` runs the
 * same in a process of its own (a platform is another machine: the embedded warehouse's work must not hold
 * up its answers), through this module's process entry.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../lib/config.js';
import { GuijiError, messageOf } from '../../lib/errors.js';
import {
  DEFAULT_CREDIT_APP_KEY,
  DEFAULT_CREDIT_APP_SECRET,
  startCreditSimulator,
} from './credit-platform.js';
import { type PagingQuirks, parseShortPage } from './pages.js';
import {
  DEFAULT_SHARING_APP_KEY,
  DEFAULT_SHARING_APP_SECRET,
  DEFAULT_SHARING_INTERFACES,
  startSharingSimulator,
} from './sharing-platform.js';
import { CREDIT_DATASETS, createStore, type SimStore } from './store.js';

export const PLATFORMS = ['credit-platform', 'sharing-platform'] as const;
export type Platform = (typeof PLATFORMS)[number];

export interface ServeOptions extends PagingQuirks {
  platform: Platform;
  port: number;
  records: number;
  seed: number;
  /** `5xx=0.1,timeout=0.05,quota=0.05,expire=0.02,drift=0.01`. */
  faults?: string | undefined;
  /** The credentials requests must be signed with (GUIJI_CREDIT_APP_* or GUIJI_SHARING_APP_*; demo ones when unset). */
  appKey?: string | null | undefined;
  appSecret?: string | null | undefined;
  /**
   * The records were updated in the last this many days (to an hour ago), their decisions dated in the days
   * before (the demo: a month as departments deliver it); default: 2024–2025, dated at random.
   */
  recentDays?: number | undefined;
}

/**
 * Serves the simulator until `signal` aborts; says where it listens as one JSON line on `out`
 * (`{"simulator":"credit-platform","url":"http://127.0.0.1:…"}`).
 */
export async function serveSimulator(
  options: ServeOptions,
  signal: AbortSignal,
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  const common = {
    port: options.port,
    records: options.records,
    seed: options.seed,
    faults: options.faults ?? '',
    ...quirksOf(options),
    ...(options.recentDays ? { store: recentStore(options, options.recentDays) } : {}),
  };
  const sim =
    options.platform === 'credit-platform'
      ? await startCreditSimulator({
          ...common,
          appKey: options.appKey ?? DEFAULT_CREDIT_APP_KEY,
          appSecret: options.appSecret ?? DEFAULT_CREDIT_APP_SECRET,
        })
      : await startSharingSimulator({
          ...common,
          appKey: options.appKey ?? DEFAULT_SHARING_APP_KEY,
          appSecret: options.appSecret ?? DEFAULT_SHARING_APP_SECRET,
        });
  out.write(`${JSON.stringify({ simulator: options.platform, url: sim.url })}\n`);
  if (!signal.aborted)
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  await sim.close();
}

/** A store of records updated in the last `days` days, decided in the days before (see ServeOptions.recentDays). */
function recentStore(options: ServeOptions, days: number): SimStore {
  const now = Date.now();
  const credit = options.platform === 'credit-platform';
  return createStore({
    records: options.records,
    seed: options.seed,
    datasets: credit ? CREDIT_DATASETS : DEFAULT_SHARING_INTERFACES,
    ...(credit ? {} : { kinds: { xzxk: 'xzxk' as const } }),
    fromMs: now - days * 86_400_000,
    toMs: now - 3600_000,
    producedBeforeSjc: true,
  });
}

function quirksOf(options: PagingQuirks): PagingQuirks {
  const quirks: PagingQuirks = {};
  if (options.clampPageSize !== undefined) quirks.clampPageSize = options.clampPageSize;
  if (options.declarePageSize !== undefined) quirks.declarePageSize = options.declarePageSize;
  if (options.shortPage !== undefined) quirks.shortPage = options.shortPage;
  return quirks;
}

/** The flags of `guiji simulate` (and of this module's process entry), as text. */
export interface SimulateFlags {
  port: string;
  records: string;
  seed: string;
  faults?: string | undefined;
  /** `--clamp-page-size N`. */
  clampPageSize?: string | undefined;
  /** `--page-size-declared` / `--no-page-size-declared`. */
  pageSizeDeclared?: boolean | undefined;
  /** `--short-page PAGE:ROWS[:TIMES]`. */
  shortPage?: string | undefined;
  /** `--recent-days N` (the demo's process entry): see ServeOptions.recentDays. */
  recentDays?: string | undefined;
}

/**
 * `guiji simulate <platform>`: checks the flags (a bad one is a usage error), takes the credentials from the
 * configuration (GUIJI_CREDIT_APP_* / GUIJI_SHARING_APP_*: secrets never travel on a command line, where `ps`
 * shows them; demo ones when unset) and serves until `signal` aborts.
 */
export async function simulate(platform: string, flags: SimulateFlags, signal: AbortSignal): Promise<void> {
  if (!(PLATFORMS as readonly string[]).includes(platform)) {
    throw new GuijiError(
      'GUIJI_ERR_USAGE',
      `no simulator for "${platform}" (known: ${PLATFORMS.join(', ')})`,
    );
  }
  const number = (flag: string, text: string, min: number) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) {
      throw new GuijiError('GUIJI_ERR_USAGE', `--${flag} must be a whole number ≥ ${min}, got "${text}"`);
    }
    return n;
  };
  const options: ServeOptions = {
    platform: platform as Platform,
    port: number('port', flags.port, 0),
    records: number('records', flags.records, 0),
    seed: number('seed', flags.seed, 0),
    faults: flags.faults,
  };
  if (flags.recentDays !== undefined) options.recentDays = number('recent-days', flags.recentDays, 1);
  if (flags.clampPageSize !== undefined)
    options.clampPageSize = number('clamp-page-size', flags.clampPageSize, 1);
  if (flags.pageSizeDeclared !== undefined) options.declarePageSize = flags.pageSizeDeclared;
  if (flags.shortPage !== undefined) {
    try {
      options.shortPage = parseShortPage(flags.shortPage);
    } catch (error) {
      throw new GuijiError('GUIJI_ERR_USAGE', `--short-page: ${messageOf(error)}`);
    }
  }
  const config = loadConfig();
  const credit = platform === 'credit-platform';
  options.appKey = credit ? config.creditAppKey : config.sharingAppKey;
  options.appSecret = credit ? config.creditAppSecret : config.sharingAppSecret;
  await serveSimulator(options, signal);
}

// the process entry `guiji demo` starts: `serve.ts <platform> --port P --records N --seed S`
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      port: { type: 'string', default: '0' },
      records: { type: 'string', default: '1000' },
      seed: { type: 'string', default: '1' },
      faults: { type: 'string' },
      'recent-days': { type: 'string' },
    },
  });
  const platform = positionals[0] ?? '';
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  process.once('SIGTERM', () => controller.abort());
  try {
    await simulate(platform, { ...values, recentDays: values['recent-days'] }, controller.signal);
  } catch (error) {
    process.stderr.write(`${platform} simulator: ${messageOf(error)}\n`);
    // a process entry of its own: nobody else is there to map the failure to an exit code
    process.exitCode = 2;
  }
}
