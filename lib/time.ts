/**
 * Times as people and programs read them: guiji's city is in Asia/Shanghai (UTC+8 all year, no daylight
 * saving), so every time shown to a person is Shanghai wall-clock time and every time written to JSON is
 * ISO 8601 with the `+08:00` offset — the same instant as the UTC `…Z` form, written as the city reads it.
 */

/** Asia/Shanghai has been UTC+8 without daylight saving since 1991. */
const OFFSET_MS = 8 * 60 * 60 * 1000;

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

function toDate(value: Date | string | number): Date {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) throw new RangeError(`not a time: ${String(value)}`);
  return d;
}

/** The Shanghai wall-clock fields of an instant (read with the getUTC* accessors). */
function wallClock(value: Date | string | number): Date {
  return new Date(toDate(value).getTime() + OFFSET_MS);
}

/** `2026-12-06T16:58:00.000+08:00`: the instant, in ISO 8601 with the Shanghai offset (for JSON). */
export function shanghaiIso(value: Date | string | number): string {
  const w = wallClock(value);
  return `${pad(w.getUTCFullYear(), 4)}-${pad(w.getUTCMonth() + 1)}-${pad(w.getUTCDate())}T${pad(w.getUTCHours())}:${pad(w.getUTCMinutes())}:${pad(w.getUTCSeconds())}.${pad(w.getUTCMilliseconds(), 3)}+08:00`;
}

/** Like shanghaiIso, with null passed through. */
export function shanghaiIsoOrNull(value: Date | string | number | null | undefined): string | null {
  return value === null || value === undefined ? null : shanghaiIso(value);
}

/** `2026-12-06 16:58` (or with seconds): the instant as a clerk in the city reads it. */
export function shanghaiText(value: Date | string | number, options: { seconds?: boolean } = {}): string {
  const w = wallClock(value);
  const text = `${pad(w.getUTCFullYear(), 4)}-${pad(w.getUTCMonth() + 1)}-${pad(w.getUTCDate())} ${pad(w.getUTCHours())}:${pad(w.getUTCMinutes())}`;
  return options.seconds ? `${text}:${pad(w.getUTCSeconds())}` : text;
}

/** `2026-12-06`: the Shanghai calendar day of an instant (the city's "today" by default). */
export function shanghaiDate(value: Date | string | number = Date.now()): string {
  return shanghaiIso(value).slice(0, 10);
}
