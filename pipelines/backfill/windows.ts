import { GuijiError } from '../../lib/errors.js';

/** How a backfill's range is cut: one partition per stream per day, week (Monday to Sunday) or month. */
export type Granularity = 'day' | 'week' | 'month';

export const GRANULARITIES: readonly Granularity[] = ['day', 'week', 'month'];

/** A half-open window `[from, to)` in platform time (`YYYY-MM-DD HH:mm:ss`, China time). */
export interface TimeWindow {
  from: string;
  to: string;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Parses a `YYYY-MM-DD` date given to a flag; a clear error naming the flag otherwise. */
export function parseDay(text: string, flag: string): Date {
  const m = DATE.exec(text);
  const day = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
  if (!day || day.toISOString().slice(0, 10) !== text) {
    throw new GuijiError('GUIJI_ERR_USAGE', `${flag}: expected a date YYYY-MM-DD, got "${text}"`);
  }
  return day;
}

function dayText(day: Date): string {
  return day.toISOString().slice(0, 10);
}

function addDays(day: Date, n: number): Date {
  return new Date(day.getTime() + n * 86_400_000);
}

/** The day after `day`'s period of `by` (the start of the next day, week or month). */
function nextBoundary(day: Date, by: Granularity): Date {
  if (by === 'day') return addDays(day, 1);
  if (by === 'week') {
    // weeks start on Monday, as the city's calendar does (getUTCDay: Sunday = 0)
    const sinceMonday = (day.getUTCDay() + 6) % 7;
    return addDays(day, 7 - sinceMonday);
  }
  return new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth() + 1, 1));
}

/**
 * The windows covering the days `from` to `to`, both included, cut at day, week or month boundaries (the
 * first and last may be partial). Each window runs from midnight China time to midnight: `[from 00:00:00,
 * next 00:00:00)`, so consecutive windows meet without a gap or an overlap.
 */
export function windowsOf(from: string, to: string, by: Granularity): TimeWindow[] {
  const start = parseDay(from, '--from');
  const last = parseDay(to, '--to');
  if (last < start) throw new GuijiError('GUIJI_ERR_USAGE', `--to ${to} is before --from ${from}`);
  const end = addDays(last, 1);
  const windows: TimeWindow[] = [];
  for (let day = start; day < end; ) {
    const next = nextBoundary(day, by);
    const stop = new Date(Math.min(next.getTime(), end.getTime()));
    windows.push({ from: `${dayText(day)} 00:00:00`, to: `${dayText(stop)} 00:00:00` });
    day = stop;
  }
  return windows;
}
