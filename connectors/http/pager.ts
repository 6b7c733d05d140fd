/**
 * Page-number paging of a platform window that never loses a page: the window is finished only when the rows
 * read account for the `total` the platform declares, never because a page came back short.
 *
 * Platforms cap their page size (asked for 500, they serve 100), some say so in the answer (`pageSize`) and
 * some do not; a page may come back short once (a gateway that cut a page). The pager learns the page size the
 * platform really serves from the first page (the declared one, or the rows served) and asks every later page
 * in that size, so that the platform's `(pageNo − 1) × pageSize` and ours name the same rows. A short page in
 * the middle of the window is asked again; one that stays short, or answers that do not add up, end the pull
 * with a {@link WindowIncompleteError} naming the window and the counts: the caller fails the stream and keeps
 * its cursor, so the rows not read are asked for again on the next run.
 */
import { GuijiError } from '../../lib/errors.js';

/** One page as the platform answered it. */
export interface PageAnswer<Row> {
  /** Records in the window when this page was answered. */
  total: number;
  rows: Row[];
  /** The page size the answer declares, when it declares one. */
  pageSize?: number | undefined;
  /** The page number the answer declares, when it declares one. */
  pageNo?: number | undefined;
}

/** One page as the pager hands it on. */
export interface WindowPage<Row> {
  pageNo: number;
  /** The page size the page was asked in (the platform's, once learnt). */
  pageSize: number;
  total: number;
  rows: Row[];
}

export interface PagerOptions {
  /** The page size to ask for first. */
  pageSize: number;
  /** The source (`credit-platform`), for messages. */
  source: string;
  /** The stream and window for messages: `dataset xzcf window [2024-01-01 00:00:00, 2024-01-02 00:00:00)`. */
  window: string;
  /** How often a short page in the middle of the window is asked again before the window fails. Default 2. */
  shortPageRetries?: number;
  /** A guard against a platform that never ends. Default 1,000,000 requests. */
  maxRequests?: number;
}

/** The window's pages do not add up to its total: the stream fails for this run and keeps its cursor. */
export class WindowIncompleteError extends GuijiError {
  constructor(
    source: string,
    message: string,
    readonly counts: { total: number; read: number; pageNo: number; pageSize: number },
  ) {
    super('GUIJI_ERR_SOURCE_HTTP', message, { context: { source } });
    this.name = 'WindowIncompleteError';
  }
}

const positiveInt = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n > 0;

/** The total an answer declares (a whole number or its text), or undefined when it declares none. */
export function declaredTotal(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : undefined;
}

/** A page size or number an answer declares (a number or numeric text), or undefined when it declares none. */
export function declaredCount(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return positiveInt(n) ? n : undefined;
}

/**
 * Walks a window page by page (pages from 1), see the module comment. When the window's total shrinks between
 * pages (records of the window were updated meanwhile and moved past its end), the rows behind shifted back:
 * the pager steps back far enough to read them again, so no record that stays in the window is skipped. Rows
 * may repeat; the load deduplicates.
 *
 * The next page is requested as soon as a page arrives, before the page is handed on: the platform prepares it
 * while the consumer validates and loads this one.
 */
export async function* pagesOf<Row>(
  fetchPage: (pageNo: number, pageSize: number) => Promise<PageAnswer<Row>>,
  options: PagerOptions,
): AsyncGenerator<WindowPage<Row>> {
  const { source, window } = options;
  const shortRetries = options.shortPageRetries ?? 2;
  const maxRequests = options.maxRequests ?? 1_000_000;
  let size = options.pageSize;
  /** Rows of the window before the page asked: always a multiple of `size`. */
  let offset = 0;
  /** Rows handed on, repeats included (for messages). */
  let read = 0;
  let lastTotal: number | undefined;
  let shortAsks = 0;
  let requests = 1;
  let next = observed(fetchPage(1, size));
  const ask = (at: number) => {
    if (++requests > maxRequests) {
      throw new WindowIncompleteError(
        source,
        `${source}: ${window} did not end after ${maxRequests} page requests`,
        { total: lastTotal ?? 0, read, pageNo: at / size + 1, pageSize: size },
      );
    }
    offset = at;
    next = observed(fetchPage(at / size + 1, size));
  };
  const fail = (pageNo: number, total: number, why: string): never => {
    throw new WindowIncompleteError(
      source,
      `${source}: ${window} cannot be finished: ${why}; the platform declares ${total} records in the window, ` +
        `${read} were read (${Math.max(0, total - offset)} from record ${offset + 1} on not read)`,
      { total, read, pageNo, pageSize: size },
    );
  };
  try {
    for (;;) {
      const page = await next;
      const pageNo = offset / size + 1;
      const total = page.total;
      const n = page.rows.length;
      if (!Number.isInteger(total) || total < 0) {
        throw new WindowIncompleteError(
          source,
          `${source}: ${window} cannot be finished: page ${pageNo} declares no valid total`,
          { total: 0, read, pageNo, pageSize: size },
        );
      }
      if (page.pageNo !== undefined && page.pageNo !== pageNo) {
        fail(pageNo, total, `asked for page ${pageNo}, the platform answered page ${page.pageNo}`);
      }
      const declared = positiveInt(page.pageSize) ? page.pageSize : undefined;
      if (declared !== undefined && declared !== size) {
        if (pageNo === 1) {
          size = declared; // the platform's page size: page 1 starts at row 1 whatever the size
        } else if (offset % declared === 0) {
          // the platform counted this page in another size: ask again in its size from where we are
          size = declared;
          ask(offset);
          continue;
        } else {
          fail(pageNo, total, `page ${pageNo} was served in pages of ${declared} where ${size} were asked`);
        }
      } else if (declared === undefined && pageNo === 1 && n > 0 && n < size && n < total) {
        size = n; // a page size capped without saying so: what was served is the platform's page size
      }
      if (n > size) fail(pageNo, total, `page ${pageNo} holds ${n} rows, more than its page size ${size}`);
      if (lastTotal !== undefined && total < lastTotal && pageNo > 1) {
        // records left the window while paging: the rows behind them shifted back, re-read far enough back
        const back = Math.ceil((lastTotal - total) / size);
        lastTotal = total;
        ask(Math.max(0, offset - back * size));
        continue;
      }
      lastTotal = total;
      const end = offset + n;
      if (end < total && n < size) {
        if (shortAsks < shortRetries) {
          shortAsks++;
          ask(offset);
          continue;
        }
        fail(
          pageNo,
          total,
          `page ${pageNo} held ${n} rows where ${size} were due, ${shortAsks + 1} times asked`,
        );
      }
      shortAsks = 0;
      const last = end >= total;
      const asked = size;
      if (!last) ask(end);
      read += n;
      yield { pageNo, pageSize: asked, total, rows: page.rows };
      if (last) return;
    }
  } finally {
    // a consumer that stops early leaves the page requested ahead: its failure is nobody's concern
    next.catch(() => {});
  }
}

/** A promise whose rejection counts as handled until someone awaits it. */
function observed<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}
