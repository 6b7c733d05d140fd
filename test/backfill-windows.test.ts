import { describe, expect, it } from 'vitest';
import { threeMonthsAfter } from '../pipelines/backfill/report.js';
import { windowsOf } from '../pipelines/backfill/windows.js';

describe('backfill windows', () => {
  it('cuts by month, the first and last partial, --to included, each window meeting the next', () => {
    const w = windowsOf('2014-10-15', '2015-01-10', 'month');
    expect(w).toEqual([
      { from: '2014-10-15 00:00:00', to: '2014-11-01 00:00:00' },
      { from: '2014-11-01 00:00:00', to: '2014-12-01 00:00:00' },
      { from: '2014-12-01 00:00:00', to: '2015-01-01 00:00:00' },
      { from: '2015-01-01 00:00:00', to: '2015-01-11 00:00:00' },
    ]);
  });

  it('cuts by week from Monday to Sunday', () => {
    // 2014-10-01 was a Wednesday
    const w = windowsOf('2014-10-01', '2014-10-14', 'week');
    expect(w).toEqual([
      { from: '2014-10-01 00:00:00', to: '2014-10-06 00:00:00' },
      { from: '2014-10-06 00:00:00', to: '2014-10-13 00:00:00' },
      { from: '2014-10-13 00:00:00', to: '2014-10-15 00:00:00' },
    ]);
  });

  it('covers the whole history by day without a gap, leap days included', () => {
    const w = windowsOf('2014-10-01', '2020-06-28', 'day');
    expect(w).toHaveLength(2098);
    for (let i = 1; i < w.length; i++) expect(w[i]!.from).toBe(w[i - 1]!.to);
    expect(w.some((x) => x.from === '2016-02-29 00:00:00')).toBe(true);
    expect(windowsOf('2014-10-01', '2020-06-28', 'month')).toHaveLength(69);
  });

  it('refuses impossible dates and a range that ends before it starts, naming the flag', () => {
    expect(() => windowsOf('2015-02-29', '2015-03-01', 'day')).toThrow(/--from: expected a date/);
    expect(() => windowsOf('2015-03-01', '2015-02-01', 'day')).toThrow(/--to 2015-02-01 is before --from/);
  });

  it('counts the three-month deadline in calendar months, clipped to the month end', () => {
    expect(threeMonthsAfter(new Date('2026-11-27T02:00:00Z')).toISOString()).toBe('2027-02-27T02:00:00.000Z');
    expect(threeMonthsAfter(new Date('2026-11-30T00:00:00Z')).toISOString()).toBe('2027-02-28T00:00:00.000Z');
  });
});
