/**
 * How both platform simulators answer a page of a window: the parameters checked, drift injected, and the
 * paging habits real platforms show (a capped page size, declared or not; a page cut short).
 */
import { isChinaTime } from '../../connectors/http/china-time.js';
import type { Random } from '../demo/generate.js';
import type { FaultSpec, SimulatorStats } from './faults.js';
import type { SimStore } from './store.js';

/** What both simulators are started with. */
export interface SimulatorOptions extends PagingQuirks {
  /** 0 (default) picks a free port. */
  port?: number;
  records?: number;
  seed?: number;
  /** A spec string (`"5xx=0.1,timeout=0.05"`) or rates. */
  faults?: string | Partial<FaultSpec>;
  appKey?: string;
  appSecret?: string;
  /** Serve this store instead of building one from records/seed. */
  store?: SimStore;
  /** How long a "timeout" fault holds the request before dropping the connection. Default 30 s. */
  hangMs?: number;
  /** Largest page size accepted. Default 1000. */
  maxPageSize?: number;
  /** The platform's clock (tests move it instead of waiting). */
  now?: () => number;
}

/** How a simulator pages, beyond the contract: the habits of platforms met in the field. */
export interface PagingQuirks {
  /**
   * Serve at most this many rows a page whatever is asked, counting pages in this size (asked for 500 page 2,
   * serve rows 101–200). A platform that caps its page size.
   */
  clampPageSize?: number;
  /** Say the page size served in the answer. Default: the credit platform yes, the sharing platform no. */
  declarePageSize?: boolean;
  /**
   * Answer page `pageNo` with only its first `rows` rows, the first `times` times it is asked (default once;
   * `Infinity`: always), whatever the dataset or window: a gateway that cuts a page.
   */
  shortPage?: { pageNo: number; rows: number; times?: number };
}

/** A simulator's paging habits as it runs (tests change them between runs). */
export interface Paging {
  /** The page to serve for an ask: the page size it is counted in and how many of its rows are served. */
  plan(pageNo: number, asked: number): { pageSize: number; limit: number };
  /** Whether answers say the page size. */
  readonly declares: boolean;
  set(quirks: PagingQuirks): void;
}

/** Paging by `quirks`; answers declare the page size unless they say otherwise when `declaresByDefault`. */
export function createPaging(
  quirks: PagingQuirks,
  stats: SimulatorStats,
  declaresByDefault: boolean,
): Paging {
  let current: PagingQuirks = {};
  let declares = declaresByDefault;
  let shortLeft = 0;
  const set = (next: PagingQuirks) => {
    current = next;
    declares = next.declarePageSize ?? declaresByDefault;
    shortLeft = next.shortPage ? (next.shortPage.times ?? 1) : 0;
  };
  set(quirks);
  return {
    get declares() {
      return declares;
    },
    set,
    plan(pageNo, asked) {
      const pageSize = current.clampPageSize ? Math.min(asked, current.clampPageSize) : asked;
      if (shortLeft > 0 && pageNo === current.shortPage?.pageNo) {
        shortLeft--;
        stats.shortPages++;
        return { pageSize, limit: Math.min(pageSize, current.shortPage.rows) };
      }
      return { pageSize, limit: pageSize };
    },
  };
}

/** Parses `PAGE:ROWS[:TIMES]` (`3:40`, `3:40:always`), the `--short-page` flag. */
export function parseShortPage(spec: string): NonNullable<PagingQuirks['shortPage']> {
  const m = /^(\d+):(\d+)(?::(\d+|always))?$/.exec(spec.trim());
  if (!m)
    throw new Error(
      `short page "${spec}": expected PAGE:ROWS or PAGE:ROWS:TIMES (TIMES a number or "always")`,
    );
  const times = m[3] === undefined ? 1 : m[3] === 'always' ? Number.POSITIVE_INFINITY : Number(m[3]);
  return { pageNo: Number(m[1]), rows: Number(m[2]), times };
}

/** A page ask as the platform received it (its own parameter names already read). */
export interface PageAsk {
  dataset: string;
  from: string;
  to: string;
  pageNo: number;
  pageSize: number;
}

/** The page to answer: the window's total, the page size served and the rows as one JSON array text. */
export interface PageServed {
  total: number;
  pageSize: number;
  rowsJson: string;
}

/** Serves one page of a window, or says why the ask is malformed (the message of a code 10 answer). */
export function servePage(
  ctx: {
    store: SimStore;
    stats: SimulatorStats;
    faults: FaultSpec;
    random: Random;
    paging: Paging;
    maxPageSize: number;
  },
  ask: PageAsk,
): PageServed | { malformed: true } {
  const { pageNo, pageSize } = ask;
  if (
    !isChinaTime(ask.from) ||
    !isChinaTime(ask.to) ||
    !Number.isInteger(pageNo) ||
    pageNo < 1 ||
    !Number.isInteger(pageSize) ||
    pageSize < 1 ||
    pageSize > ctx.maxPageSize
  ) {
    return { malformed: true };
  }
  if (ctx.random() < ctx.faults.drift) {
    ctx.stats.faults.drift++;
    ctx.store.updateRandom(ask.dataset, ctx.random);
  }
  const served = ctx.paging.plan(pageNo, pageSize);
  const page = ctx.store.queryJson(ask.dataset, ask.from, ask.to, pageNo, served.pageSize, served.limit);
  ctx.stats.served++;
  return { total: page.total, pageSize: served.pageSize, rowsJson: page.rowsJson };
}
