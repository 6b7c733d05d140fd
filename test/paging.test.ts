import { describe, expect, it } from 'vitest';
import { type PageAnswer, pagesOf, WindowIncompleteError } from '../connectors/http/pager.js';

interface Platform {
  /** Pages as the platform counts them: at most `cap` rows each when it caps the page size. */
  cap?: number;
  /** Whether answers say the page size served. */
  declare?: boolean;
  /** Page `pageNo` is answered with only `rows` rows, `times` times. */
  short?: { pageNo: number; rows: number; times: number };
  /** Once page `page` is asked, the first `by` rows leave the window (updated past its end). */
  shrinkAt?: { page: number; by: number };
}

/** A window of `total` rows 1..total served by page number, as a platform with these habits would. */
function windowOf(total: number, log: string[], platform: Platform = {}) {
  let rows = Array.from({ length: total }, (_, i) => i + 1);
  let { shrinkAt } = platform;
  let shortLeft = platform.short?.times ?? 0;
  return async (pageNo: number, asked: number): Promise<PageAnswer<number>> => {
    log.push(`fetch ${pageNo}×${asked}`);
    if (shrinkAt && pageNo === shrinkAt.page) {
      rows = rows.slice(shrinkAt.by);
      shrinkAt = undefined;
    }
    await new Promise((resolve) => setImmediate(resolve));
    const size = platform.cap ? Math.min(asked, platform.cap) : asked;
    let limit = size;
    if (shortLeft > 0 && pageNo === platform.short?.pageNo) {
      shortLeft--;
      limit = platform.short.rows;
    }
    const start = (pageNo - 1) * size;
    return {
      total: rows.length,
      rows: rows.slice(start, start + limit),
      pageSize: platform.declare ? size : undefined,
    };
  };
}

const options = (pageSize: number) => ({
  pageSize,
  source: 'test-platform',
  window: 'dataset t window [a, b)',
});

async function readAll(fetch: ReturnType<typeof windowOf>, pageSize: number): Promise<number[]> {
  const seen: number[] = [];
  for await (const page of pagesOf(fetch, options(pageSize))) seen.push(...page.rows);
  return seen;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('paging a platform window', () => {
  it('asks for the next page before the consumer is done with this one', async () => {
    const log: string[] = [];
    for await (const page of pagesOf(windowOf(25, log), options(10))) {
      log.push(`got ${page.pageNo}`);
      await new Promise((resolve) => setImmediate(resolve));
      log.push(`done ${page.pageNo}`);
    }
    expect(log).toEqual([
      'fetch 1×10',
      'fetch 2×10',
      'got 1',
      'done 1',
      'fetch 3×10',
      'got 2',
      'done 2',
      'got 3',
      'done 3',
    ]);
  });

  it('a window that ends on a full page is finished without asking for an empty page after it', async () => {
    const log: string[] = [];
    expect(await readAll(windowOf(30, log), 10)).toEqual(range(1, 30));
    expect(log).toEqual(['fetch 1×10', 'fetch 2×10', 'fetch 3×10']);
  });

  it('follows the page size a capping platform declares: asked 500, served 100 of 5,000, every row read once', async () => {
    const log: string[] = [];
    const seen = await readAll(windowOf(5000, log, { cap: 100, declare: true }), 500);
    expect(seen).toEqual(range(1, 5000));
    expect(log[0]).toBe('fetch 1×500');
    expect(log[1]).toBe('fetch 2×100');
    expect(log).toHaveLength(50);
  });

  it('takes the rows served for the page size when a capping platform does not declare one', async () => {
    const log: string[] = [];
    const seen = await readAll(windowOf(5000, log, { cap: 100 }), 500);
    expect(seen).toEqual(range(1, 5000));
    expect(log.slice(0, 3)).toEqual(['fetch 1×500', 'fetch 2×100', 'fetch 3×100']);
  });

  it('asks again for a page that came back short in the middle of the window', async () => {
    const log: string[] = [];
    const seen = await readAll(windowOf(95, log, { short: { pageNo: 4, rows: 3, times: 1 } }), 10);
    expect(seen).toEqual(range(1, 95));
    expect(log.filter((l) => l === 'fetch 4×10')).toHaveLength(2);
  });

  it('fails the window, naming it and the counts, when a page stays short', async () => {
    const seen: number[] = [];
    const error = await (async () => {
      for await (const page of pagesOf(
        windowOf(95, [], { short: { pageNo: 4, rows: 3, times: 99 } }),
        options(10),
      )) {
        seen.push(...page.rows);
      }
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WindowIncompleteError);
    expect((error as Error).message).toBe(
      'test-platform: dataset t window [a, b) cannot be finished: page 4 held 3 rows where 10 were due, 3 times ' +
        'asked; the platform declares 95 records in the window, 30 were read (65 from record 31 on not read)',
    );
    expect((error as WindowIncompleteError).counts).toEqual({ total: 95, read: 30, pageNo: 4, pageSize: 10 });
    // nothing of the short page or after it was handed on: what was handed on is whole up to the gap
    expect(seen).toEqual(range(1, 30));
  });

  it('fails the window when the last page falls short of the declared total', async () => {
    const lying = async (pageNo: number): Promise<PageAnswer<number>> => ({
      total: 50,
      rows: pageNo < 3 ? range((pageNo - 1) * 10 + 1, pageNo * 10) : [],
    });
    const error = await readAll(lying, 10).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WindowIncompleteError);
    expect((error as Error).message).toContain('page 3 held 0 rows where 10 were due');
  });

  it('fails the window when an answer names another page than the one asked', async () => {
    const wrong = async (): Promise<PageAnswer<number>> => ({ total: 30, rows: range(1, 10), pageNo: 1 });
    const error = await readAll(wrong, 10).catch((e: unknown) => e);
    expect((error as Error).message).toContain('asked for page 2, the platform answered page 1');
  });

  it('steps back when the window shrinks, so no row that stays is skipped', async () => {
    const seen = new Set(await readAll(windowOf(40, [], { shrinkAt: { page: 3, by: 12 } }), 10));
    // rows 1–12 left the window; every row that stayed (13–40) was read
    for (let row = 13; row <= 40; row++) expect(seen.has(row)).toBe(true);
  });

  it('steps back on a shrinking window with a capped, undeclared page size too', async () => {
    const seen = new Set(await readAll(windowOf(400, [], { cap: 25, shrinkAt: { page: 5, by: 30 } }), 100));
    for (let row = 31; row <= 400; row++) expect(seen.has(row)).toBe(true);
  });

  it('leaves no unhandled rejection when the consumer stops early and the page asked ahead fails', async () => {
    let calls = 0;
    const fetch = async (pageNo: number): Promise<PageAnswer<number>> => {
      calls++;
      if (pageNo === 2) throw new Error('platform down');
      return { total: 30, rows: range(1, 10) };
    };
    for await (const page of pagesOf(fetch, options(10))) {
      expect(page.pageNo).toBe(1);
      break;
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toBe(2);
  });

  it('surfaces the failure of a page the consumer goes on to read', async () => {
    const fetch = async (pageNo: number): Promise<PageAnswer<number>> => {
      if (pageNo === 2) throw new Error('platform down');
      return { total: 30, rows: range(1, 10) };
    };
    const pages: number[] = [];
    await expect(
      (async () => {
        for await (const page of pagesOf(fetch, options(10))) pages.push(page.pageNo);
      })(),
    ).rejects.toThrow('platform down');
    expect(pages).toEqual([1]);
  });
});
