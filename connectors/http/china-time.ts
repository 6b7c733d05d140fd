/**
 * Platform times: `YYYY-MM-DD HH:mm:ss` in China Standard Time (UTC+8, no daylight saving).
 * Strings of this shape sort lexicographically in time order.
 */

const CST_OFFSET_MS = 8 * 3600 * 1000;
const SHAPE = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

/** Formats an instant (a Date or epoch ms) as China Standard Time `YYYY-MM-DD HH:mm:ss`. */
export function formatChinaTime(instant: Date | number): string {
  const ms = typeof instant === 'number' ? instant : instant.getTime();
  const iso = new Date(ms + CST_OFFSET_MS).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

/** True when `text` has the platform time shape and names a real instant. */
export function isChinaTime(text: string): boolean {
  const m = SHAPE.exec(text);
  if (!m) return false;
  return formatChinaTime(parseChinaTime(text)) === text;
}

/** Parses `YYYY-MM-DD HH:mm:ss` (China Standard Time) to epoch ms; NaN when malformed. */
export function parseChinaTime(text: string): number {
  if (!SHAPE.test(text)) return Number.NaN;
  return Date.parse(`${text.replace(' ', 'T')}+08:00`);
}

/** A window bound given as a Date, epoch ms or an already formatted China time. */
export type TimeBound = Date | number | string;

/** Normalises a window bound to the platform's string form; throws a TypeError on a malformed string. */
export function toChinaTime(bound: TimeBound): string {
  if (typeof bound === 'string') {
    if (!isChinaTime(bound)) throw new TypeError(`not a 'YYYY-MM-DD HH:mm:ss' China time: ${bound}`);
    return bound;
  }
  return formatChinaTime(bound);
}
