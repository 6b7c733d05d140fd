import { describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config.js';
import { previousSlot, scheduleJobs } from '../pipelines/schedule/slots.js';

describe('the last slot of a cron expression, in Shanghai time', () => {
  // 2026-11-27 10:20:30 in Shanghai
  const at = new Date('2026-11-27T02:20:30Z');

  it.each([
    ['30 1 * * *', '2026-11-26T17:30:00.000Z'], // 01:30 this morning
    ['30 11 * * *', '2026-11-26T03:30:00.000Z'], // 11:30 has not come yet today: yesterday's
    ['20 10 * * *', '2026-11-27T02:20:00.000Z'], // this very minute
    ['* * * * * *', '2026-11-27T02:20:30.000Z'],
    ['*/15 * * * * *', '2026-11-27T02:20:30.000Z'],
    ['0 */7 * * * *', '2026-11-27T02:14:00.000Z'], // minutes 0, 7, … 49, 56 of each hour
    ['0 2 * * 1', '2026-11-22T18:00:00.000Z'], // Monday 02:00 (2026-11-23 in Shanghai)
    ['15 3 1 * *', '2026-10-31T19:15:00.000Z'], // the 1st of the month, 03:15
  ])('%s → %s', (expression, expected) => {
    expect(previousSlot(expression, at)?.toISOString()).toBe(expected);
  });

  it('looks back 400 days at most', () => {
    // 29 February: the last one (2024) is too far back to catch up
    expect(previousSlot('0 0 29 2 *', at)).toBeNull();
    expect(previousSlot('0 0 29 2 *', new Date('2028-03-01T00:00:00Z'))?.toISOString()).toBe(
      '2028-02-28T16:00:00.000Z',
    );
  });
});

describe('the nightly jobs of the configuration', () => {
  it('groups the configured sources by their cron expression', () => {
    const config = loadConfig({
      env: {
        GUIJI_CREDIT_URL: 'http://127.0.0.1:1',
        GUIJI_SHARING_URL: 'http://127.0.0.1:2',
        GUIJI_SCHEDULE_SHARING: '0 3 * * *',
      },
    });
    expect(scheduleJobs(config)).toEqual([
      { name: 'drops+credit-platform', expression: '30 1 * * *', sources: ['drops', 'credit-platform'] },
      { name: 'sharing-platform', expression: '0 3 * * *', sources: ['sharing-platform'] },
    ]);
  });

  it('leaves out a platform that is not configured', () => {
    expect(scheduleJobs(loadConfig({ env: {} })).map((j) => j.name)).toEqual(['drops']);
  });
});
