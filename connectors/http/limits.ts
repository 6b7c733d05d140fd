/** Per-source request limits (concurrency and rate) with p-queue, and drift-safe page-number paging. */
import PQueue from 'p-queue';

export interface RateLimits {
  /** Requests in flight at once. Default 4. */
  concurrency?: number;
  /** Requests started per second. Default 20. */
  requestsPerSecond?: number;
}

/** A limiter whose `schedule` runs a task within the source's limits. */
export function createLimiter(limits: RateLimits = {}): {
  queue: PQueue;
  schedule: <R>(task: () => Promise<R>) => Promise<R>;
} {
  const queue = new PQueue({
    concurrency: limits.concurrency ?? 4,
    intervalCap: limits.requestsPerSecond ?? 20,
    interval: 1000,
  });
  return { queue, schedule: (task) => queue.add(task) };
}

/** One page as the pager sees it. */
export interface PageResult<Row> {
  total: number;
  rows: Row[];
}

/**
 * Walks a window page by page (pages from 1). When the window's total shrinks between pages (records of
 * the window were updated meanwhile and moved past its end), the rows behind shifted back: the pager steps
 * back far enough to read them again, so no record that stays in the window is skipped. Rows may repeat;
 * the load deduplicates.
 *
 * The next page is requested as soon as a page arrives, before the page is handed on: the platform prepares
 * it while the consumer validates and loads this one.
 */
export async function* pagesOf<Row>(
  fetchPage: (pageNo: number) => Promise<PageResult<Row>>,
  pageSize: number,
  maxPages = 1_000_000,
): AsyncGenerator<PageResult<Row> & { pageNo: number }> {
  let pageNo = 1;
  let lastTotal: number | undefined;
  let next = observed(fetchPage(pageNo));
  try {
    for (let fetched = 0; fetched < maxPages; fetched++) {
      const page = await next;
      if (lastTotal !== undefined && page.total < lastTotal) {
        const back = Math.ceil((lastTotal - page.total) / pageSize);
        lastTotal = page.total;
        // the page asked for is already shifted: re-read from `back` pages earlier (never before page 1)
        if (back > 0 && pageNo > 1) {
          pageNo = Math.max(1, pageNo - back);
          next = observed(fetchPage(pageNo));
          continue;
        }
      }
      lastTotal = page.total;
      const last = page.rows.length < pageSize || pageNo * pageSize >= page.total;
      if (!last) next = observed(fetchPage(pageNo + 1));
      yield { ...page, pageNo };
      if (last) return;
      pageNo++;
    }
  } finally {
    // a consumer that stops early leaves the page requested ahead: its failure is nobody's concern
    next.catch(() => {});
  }
  throw new Error(`paging did not end after ${maxPages} pages`);
}

/** A promise whose rejection counts as handled until someone awaits it. */
function observed<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}
