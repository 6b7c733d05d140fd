/**
 * How both platform simulators answer a page of a window: the parameters checked, drift injected, and the
 * paging habits real platforms show (a capped page size, declared or not; a page cut short).
 */
import { isChinaTime } from '../../connectors/http/china-time.js';
import type { Random } from '../demo/generate.js';
import type { FaultSpec, SimulatorStats } from './faults.js';
import type { SimStore } from './store.js';

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

/** The page to serve for an ask: its page size and how many of its rows, by the quirks. */
export function createPagePlanner(
  quirks: PagingQuirks,
  stats: SimulatorStats,
): (pageNo: number, asked: number) => { pageSize: number; limit: number } {
  let shortLeft = quirks.shortPage ? (quirks.shortPage.times ?? 1) : 0;
  return (pageNo, asked) => {
    const pageSize = quirks.clampPageSize ? Math.min(asked, quirks.clampPageSize) : asked;
    if (shortLeft > 0 && pageNo === quirks.shortPage?.pageNo) {
      shortLeft--;
      stats.shortPages++;
      return { pageSize, limit: Math.min(pageSize, quirks.shortPage.rows) };
    }
    return { pageSize, limit: pageSize };
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
    plan: ReturnType<typeof createPagePlanner>;
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
  const served = ctx.plan(pageNo, pageSize);
  const page = ctx.store.queryJson(ask.dataset, ask.from, ask.to, pageNo, served.pageSize, served.limit);
  ctx.stats.served++;
  return { total: page.total, pageSize: served.pageSize, rowsJson: page.rowsJson };
}
