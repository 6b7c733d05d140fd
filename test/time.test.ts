import { describe, expect, it } from 'vitest';
import { shanghaiIso, shanghaiIsoOrNull, shanghaiText } from '../lib/time.js';
import { type BackfillPlan, formatPlan } from '../pipelines/backfill/report.js';
import { formatRun } from '../pipelines/output.js';

describe('times in Asia/Shanghai', () => {
  it('writes an instant with the +08:00 offset, the same instant as its UTC form', () => {
    const utc = '2026-12-06T08:58:00.123Z';
    expect(shanghaiIso(utc)).toBe('2026-12-06T16:58:00.123+08:00');
    expect(Date.parse(shanghaiIso(utc))).toBe(Date.parse(utc));
    expect(shanghaiIso(new Date(utc))).toBe('2026-12-06T16:58:00.123+08:00');
    // past midnight in the city, still the day before in UTC
    expect(shanghaiIso('2026-12-31T16:30:00Z')).toBe('2027-01-01T00:30:00.000+08:00');
    // an offset written already is read as the instant it is
    expect(shanghaiIso('2026-12-06T16:58:00+08:00')).toBe('2026-12-06T16:58:00.000+08:00');
    expect(shanghaiIsoOrNull(null)).toBeNull();
    expect(() => shanghaiIso('yesterday')).toThrow(RangeError);
  });

  it('shows an instant as the wall clock of Jieshou reads it', () => {
    expect(shanghaiText('2026-12-06T08:58:00Z')).toBe('2026-12-06 16:58');
    expect(shanghaiText('2026-12-06T08:58:07Z', { seconds: true })).toBe('2026-12-06 16:58:07');
    expect(shanghaiText('2026-12-31T16:30:00Z')).toBe('2027-01-01 00:30');
  });

  it('guiji status and guiji run print the run times in Asia/Shanghai', () => {
    const text = formatRun({
      runId: 7,
      kind: 'nightly',
      status: 'succeeded',
      startedAt: '2026-12-06T08:58:00.000Z',
      finishedAt: '2026-12-06T09:01:30.000Z',
      sources: [],
    });
    expect(text).toContain('run 7  nightly  succeeded  started 2026-12-06 16:58:00');
    expect(text).toContain('finished 2026-12-06 17:01:30');
    expect(text).toContain('Asia/Shanghai');
    expect(text).not.toContain('08:58');
  });

  it('guiji status prints the backfill plan times in Asia/Shanghai', () => {
    const plan = {
      since: '2024-01-01',
      firstStartedAt: '2026-12-06T08:58:00.000Z',
      deadline: '2027-03-06T08:58:00.000Z',
      secondsLeft: 3600,
      sources: [],
      backfills: [{ id: 1 }],
    } as unknown as BackfillPlan;
    const text = formatPlan(plan);
    expect(text).toContain('first backfill started 2026-12-06 16:58; deadline 2027-03-06 16:58');
    expect(text).not.toContain('08:58');
  });
});
