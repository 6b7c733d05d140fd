import { describe, expect, it } from 'vitest';
import { type PageResult, pagesOf } from '../connectors/http/limits.js';

/** A window of `total` rows served `pageSize` a page; `shrinkAt` drops rows from the window once a page is asked. */
function windowOf(total: number, pageSize: number, log: string[], shrinkAt?: { page: number; by: number }) {
  let rows = Array.from({ length: total }, (_, i) => i + 1);
  return async (pageNo: number): Promise<PageResult<number>> => {
    log.push(`fetch ${pageNo}`);
    if (shrinkAt && pageNo === shrinkAt.page) {
      // the first `by` rows were updated and moved past the window's end: everything behind shifts back
      rows = rows.slice(shrinkAt.by);
      shrinkAt = undefined;
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
    return { total: rows.length, rows: rows.slice((pageNo - 1) * pageSize, pageNo * pageSize) };
  };
}

describe('paging a platform window', () => {
  it('asks for the next page before the consumer is done with this one', async () => {
    const log: string[] = [];
    for await (const page of pagesOf(windowOf(25, 10, log), 10)) {
      log.push(`got ${page.pageNo}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      log.push(`done ${page.pageNo}`);
    }
    expect(log).toEqual([
      'fetch 1',
      'fetch 2',
      'got 1',
      'done 1',
      'fetch 3',
      'got 2',
      'done 2',
      'got 3',
      'done 3',
    ]);
  });

  it('steps back when the window shrinks, so no row that stays is skipped', async () => {
    const seen = new Set<number>();
    for await (const page of pagesOf(windowOf(40, 10, [], { page: 3, by: 12 }), 10)) {
      for (const row of page.rows) seen.add(row);
    }
    // rows 1–12 left the window; every row that stayed (13–40) was read
    for (let row = 13; row <= 40; row++) expect(seen.has(row)).toBe(true);
  });

  it('leaves no unhandled rejection when the consumer stops early and the page asked ahead fails', async () => {
    let calls = 0;
    const fetch = async (pageNo: number): Promise<PageResult<number>> => {
      calls++;
      if (pageNo === 2) throw new Error('platform down');
      return { total: 30, rows: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] };
    };
    for await (const page of pagesOf(fetch, 10)) {
      expect(page.pageNo).toBe(1);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(calls).toBe(2);
  });

  it('surfaces the failure of a page the consumer goes on to read', async () => {
    const fetch = async (pageNo: number): Promise<PageResult<number>> => {
      if (pageNo === 2) throw new Error('platform down');
      return { total: 30, rows: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] };
    };
    const pages: number[] = [];
    await expect(
      (async () => {
        for await (const page of pagesOf(fetch, 10)) pages.push(page.pageNo);
      })(),
    ).rejects.toThrow('platform down');
    expect(pages).toEqual([1]);
  });
});
