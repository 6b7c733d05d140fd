import cron from 'node-cron';
import type { Config } from '../../lib/config.js';
import { DROPS_SOURCE } from '../sources/drops.js';
import { CREDIT_SOURCE, SHARING_SOURCE } from '../sources/platform.js';

/** The nightly schedule is kept in China time whatever the server's time zone. */
export const SCHEDULE_TIME_ZONE = 'Asia/Shanghai';
/** China has kept UTC+8 all year since 1991: no daylight-saving gaps or repeats to handle. */
const SHANGHAI_OFFSET_MS = 8 * 3600_000;
const DAY_MS = 86_400_000;

/** A nightly job: the sources that share one cron expression, run together as one run. */
export interface ScheduleJob {
  /** The sources joined by '+': the key of its slots in `schedule_slots`. */
  name: string;
  expression: string;
  sources: string[];
}

/**
 * The jobs of the configured sources (drops always; a platform when its URL is set), grouped by their cron
 * expression: GUIJI_SCHEDULE_<SOURCE> when set, else GUIJI_SCHEDULE.
 */
export function scheduleJobs(config: Readonly<Config>): ScheduleJob[] {
  const perSource: [string, string][] = [[DROPS_SOURCE, config.scheduleDrops ?? config.schedule]];
  if (config.creditUrl) perSource.push([CREDIT_SOURCE, config.scheduleCredit ?? config.schedule]);
  if (config.sharingUrl) perSource.push([SHARING_SOURCE, config.scheduleSharing ?? config.schedule]);
  const byExpression = new Map<string, string[]>();
  for (const [source, expression] of perSource) {
    byExpression.set(expression, [...(byExpression.get(expression) ?? []), source]);
  }
  return [...byExpression].map(([expression, sources]) => ({ name: sources.join('+'), expression, sources }));
}

/**
 * The latest time at or before `at` that `expression` matches in Shanghai time (null when none in the last
 * 400 days): the slot a scheduler starting at `at` catches up when it has no finished run.
 */
export function previousSlot(expression: string, at: Date): Date | null {
  const fields = cron.parse(expression);
  const numbers = (values: (number | string)[]) => values.filter((v): v is number => typeof v === 'number');
  const second = numbers(fields.second).sort((a, b) => b - a);
  const minute = numbers(fields.minute).sort((a, b) => b - a);
  const hour = numbers(fields.hour).sort((a, b) => b - a);
  const dayOfMonth = new Set(fields.dayOfMonth);
  const month = new Set(fields.month);
  const dayOfWeek = new Set(fields.dayOfWeek);
  // "Shanghai wall clock as if it were UTC": the getUTC* readers then give the local fields
  const local = Math.floor((at.getTime() + SHANGHAI_OFFSET_MS) / 1000) * 1000;
  const today = Math.floor(local / DAY_MS) * DAY_MS;
  for (let d = 0; d <= 400; d++) {
    const day = new Date(today - d * DAY_MS);
    const dom = day.getUTCDate();
    const lastOfMonth = new Date(day.getTime() + DAY_MS).getUTCDate() === 1;
    if (!month.has(day.getUTCMonth() + 1)) continue;
    if (!dayOfMonth.has(dom) && !(lastOfMonth && dayOfMonth.has('L'))) continue;
    const weekday = day.getUTCDay();
    if (!dayOfWeek.has(weekday) && !(weekday === 0 && dayOfWeek.has(7))) continue;
    // the latest time of day at or before the bound (the end of the day for earlier days)
    const bound = d === 0 ? (local - today) / 1000 : DAY_MS / 1000 - 1;
    for (const h of hour)
      for (const m of minute)
        for (const s of second) {
          const secs = h * 3600 + m * 60 + s;
          if (secs <= bound) return new Date(day.getTime() + secs * 1000 - SHANGHAI_OFFSET_MS);
        }
  }
  return null;
}
