/**
 * Chinese working days (STANDARDS.md §4): Monday–Friday, minus statutory holidays, plus the weekend make-up
 * working days (调休) announced each year by the State Council.
 *
 * Data: the raw holiday and make-up-day lists shipped by the `chinese-days` package
 * (`dist/chinese-days.json`), merged with an optional local override file so that next year's notice can
 * be added without a release. The counting logic is ours. Dates are 'YYYY-MM-DD' China calendar days;
 * arithmetic is on UTC day numbers only (never local-time `Date`s).
 *
 * Outside the years whose data is known, days count Monday–Friday; `covers()` says so, callers warn.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { GuijiError } from './errors.js';

export interface CalendarData {
  /** Statutory holidays (days off), 'YYYY-MM-DD'. */
  holidays: Set<string>;
  /** Make-up working weekend days (调休上班), 'YYYY-MM-DD'. */
  workdays: Set<string>;
  /** First and last year whose data is known, inclusive. */
  years: [number, number];
  /** The years with known data when not every year of `years` is known (e.g. an override adds 2099 only). */
  knownYears?: Set<number>;
  /** The festival a holiday or make-up day belongs to (e.g. '春节'), when the source names it. */
  names?: Map<string, string>;
}

export type DayKind = 'weekday' | 'weekend' | 'holiday' | 'makeup';

export interface DayInfo {
  date: string;
  workday: boolean;
  /** weekday (Mon–Fri), weekend, statutory holiday, or make-up working day. */
  kind: DayKind;
  /** The festival's name for a holiday or make-up day, when the data has it. */
  name?: string;
  /** Day of the week in English, e.g. 'Sunday'. */
  weekdayName: string;
  /** Whether the year's holiday data is known (false: counted Monday–Friday only). */
  covered: boolean;
}

/**
 * A calendar problem: a bad date (GUIJI_ERR_USAGE) or a bad override file (GUIJI_ERR_CONFIG; `file` and `entry`
 * say which).
 */
export class CalendarError extends GuijiError {
  readonly file: string | undefined;
  readonly entry: string | undefined;
  constructor(message: string, details: { file?: string; entry?: string } = {}) {
    super(details.file === undefined ? 'GUIJI_ERR_USAGE' : 'GUIJI_ERR_CONFIG', message, {
      context: details.file === undefined ? {} : { file: details.file },
    });
    this.name = 'CalendarError';
    this.file = details.file;
    this.entry = details.entry;
  }
}

const DAY_MS = 86_400_000;
const WEEKDAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'] as const;
/** Years an override may name. */
const MIN_YEAR = 1949;
const MAX_YEAR = 2199;
/** Day number of 1970-01-05, a Monday: the anchor of the Monday–Friday closed form. */
const MONDAY_ANCHOR = 4;

/** The UTC day number (days since 1970-01-01) of a 'YYYY-MM-DD' date, or undefined if it is not one. */
export function dayNumberOf(date: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return undefined;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return undefined;
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  // Date.UTC maps years 0–99 to 1900–1999: compare all three parts to reject those and 2024-02-30.
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d)
    return undefined;
  return Math.round(ms / DAY_MS);
}

/** Whether `date` is a real calendar date written 'YYYY-MM-DD'. */
export function isIsoDate(date: string): boolean {
  return dayNumberOf(date) !== undefined;
}

/** The 'YYYY-MM-DD' date of a UTC day number. */
export function dateOfDayNumber(day: number): string {
  const dt = new Date(day * DAY_MS);
  const y = dt.getUTCFullYear();
  if (y < 0 || y > 9999) throw new CalendarError(`date out of range (year ${y})`);
  return `${String(y).padStart(4, '0')}-${String(dt.getUTCMonth() + 1).padStart(2, '0')}-${String(dt.getUTCDate()).padStart(2, '0')}`;
}

function requireDay(date: string, what = 'date'): number {
  const n = dayNumberOf(date);
  if (n === undefined) throw new CalendarError(`${what} '${date}' is not a date written YYYY-MM-DD`);
  return n;
}

/** 0 = Sunday … 6 = Saturday. */
function weekdayOf(day: number): number {
  return (((day + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
}

function isWeekend(day: number): boolean {
  const w = weekdayOf(day);
  return w === 0 || w === 6;
}

/** Monday–Friday days in [MONDAY_ANCHOR, n) — negative for n before the anchor. Works for any integer n. */
function mondayFridayBefore(n: number): number {
  const t = n - MONDAY_ANCHOR;
  const weeks = Math.floor(t / 7);
  return weeks * 5 + Math.min(t - weeks * 7, 5);
}

export class Calendar {
  readonly data: CalendarData;
  /** Where the data came from, e.g. ['chinese-days@1.5.7', 'override catalog/workdays.override.json (2027)']. */
  readonly sources: string[];
  /** Prefix counts over [start, end]: rankTable[i] = working days in [start, start + i]. */
  private readonly start: number;
  private readonly end: number;
  private readonly rankTable: Int32Array;

  constructor(data: CalendarData, sources: string[] = []) {
    this.data = data;
    this.sources = sources;
    const [first, last] = data.years;
    this.start = Math.round(Date.UTC(first, 0, 1) / DAY_MS);
    this.end = Math.round(Date.UTC(last, 11, 31) / DAY_MS);
    this.rankTable = new Int32Array(this.end - this.start + 1);
    let count = 0;
    for (let day = this.start; day <= this.end; day++) {
      if (this.isWorkdayNumber(day)) count++;
      this.rankTable[day - this.start] = count;
    }
  }

  /** Whether `date` is a working day. */
  isWorkday(date: string): boolean {
    return this.isWorkdayNumber(requireDay(date), date);
  }

  /** Whether the holiday data of `date`'s year is known; when false the day was judged Monday–Friday only. */
  covers(date: string): boolean {
    requireDay(date);
    return this.coversYear(Number(date.slice(0, 4)));
  }

  /** Whether the holiday data of `year` is known. */
  coversYear(year: number): boolean {
    const [first, last] = this.data.years;
    if (year < first || year > last) return false;
    return this.data.knownYears ? this.data.knownYears.has(year) : true;
  }

  /** Why `date` is or is not a working day. */
  explain(date: string): DayInfo {
    const day = requireDay(date);
    const covered = this.coversYear(Number(date.slice(0, 4)));
    const weekdayName = WEEKDAY_NAMES[weekdayOf(day)] ?? '';
    const name = this.data.names?.get(date);
    const named = name === undefined ? {} : { name };
    if (this.data.holidays.has(date))
      return { date, workday: false, kind: 'holiday', ...named, weekdayName, covered };
    if (this.data.workdays.has(date))
      return { date, workday: true, kind: 'makeup', ...named, weekdayName, covered };
    const weekend = isWeekend(day);
    return { date, workday: !weekend, kind: weekend ? 'weekend' : 'weekday', weekdayName, covered };
  }

  /**
   * The date of the n-th working day after `from` (`from` itself not counted); n = 0 gives `from`.
   * A negative n gives the |n|-th working day before `from`.
   */
  addWorkdays(from: string, n: number): string {
    if (!Number.isSafeInteger(n))
      throw new CalendarError(`the number of working days must be an integer, not ${n}`);
    const day = requireDay(from, 'from');
    if (n === 0) return from;
    // rank() rises by exactly one at each working day, so the first day reaching a rank is a working day.
    const target = n > 0 ? this.rank(day) + n : this.rank(day - 1) + n + 1;
    return dateOfDayNumber(this.firstDayWithRank(target, day));
  }

  /** Working days after `a` up to and including `b`; negative (the count after b up to a) when b < a. */
  workdaysBetween(a: string, b: string): number {
    return this.rank(requireDay(b, 'to')) - this.rank(requireDay(a, 'from'));
  }

  private isWorkdayNumber(day: number, date?: string): boolean {
    if (day >= this.start && day <= this.end) {
      const iso = date ?? dateOfDayNumber(day);
      if (this.data.holidays.has(iso)) return false;
      if (this.data.workdays.has(iso)) return true;
    }
    return !isWeekend(day);
  }

  /** Working days from the table's start up to and including `day` (a running count; only differences matter). */
  private rank(day: number): number {
    if (day < this.start) return mondayFridayBefore(day + 1) - mondayFridayBefore(this.start);
    if (day > this.end) {
      return (
        (this.rankTable[this.rankTable.length - 1] ?? 0) +
        mondayFridayBefore(day + 1) -
        mondayFridayBefore(this.end + 1)
      );
    }
    return this.rankTable[day - this.start] ?? 0;
  }

  /** The first day whose rank is at least `target`, searching outwards from `around`. */
  private firstDayWithRank(target: number, around: number): number {
    let lo = around;
    let hi = around;
    for (let step = 1; this.rank(lo) >= target; step *= 2) lo -= step;
    for (let step = 1; this.rank(hi) < target; step *= 2) hi += step;
    // rank(lo) < target <= rank(hi)
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.rank(mid) >= target) hi = mid;
      else lo = mid;
    }
    return hi;
  }
}

/** The name and version of the package the built-in data comes from. */
export function calendarDataSource(): { package: string; version: string } {
  const require = createRequire(import.meta.url);
  const pkg = JSON.parse(readFileSync(require.resolve('chinese-days/package.json'), 'utf8')) as {
    version?: unknown;
  };
  return { package: 'chinese-days', version: typeof pkg.version === 'string' ? pkg.version : 'unknown' };
}

/** The festival name of a chinese-days label "Spring Festival,春节,3" → '春节'. */
function festivalName(label: string): string {
  const parts = label.split(',');
  return (parts[1] ?? parts[0] ?? label).trim();
}

/** The built-in data: chinese-days' raw holiday and make-up-day lists. */
export function builtinCalendarData(): CalendarData {
  const require = createRequire(import.meta.url);
  const file = require.resolve('chinese-days/dist/chinese-days.json');
  const raw = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  const lists = raw as { holidays?: unknown; workdays?: unknown } | null;
  const isMap = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!lists || !isMap(lists.holidays) || !isMap(lists.workdays)) {
    throw new CalendarError(`${file}: expected { holidays: {...}, workdays: {...} }`, { file });
  }
  const data: CalendarData = { holidays: new Set(), workdays: new Set(), years: [0, 0], names: new Map() };
  const years = new Set<number>();
  for (const [key, target] of [
    ['holidays', data.holidays],
    ['workdays', data.workdays],
  ] as const) {
    for (const [date, label] of Object.entries(lists[key] as Record<string, unknown>)) {
      if (!isIsoDate(date))
        throw new CalendarError(`${file}: ${key} entry '${date}' is not a date`, { file, entry: date });
      target.add(date);
      years.add(Number(date.slice(0, 4)));
      if (typeof label === 'string') data.names?.set(date, festivalName(label));
    }
  }
  const sorted = [...years].sort((a, b) => a - b);
  data.years = [sorted[0] ?? 1970, sorted[sorted.length - 1] ?? 1970];
  if (sorted.length !== data.years[1] - data.years[0] + 1) data.knownYears = years;
  return data;
}

/**
 * Replace the years an override file names. Format:
 * `{ "years": { "2027": { "holidays": ["2027-01-01", …], "workdays": ["2027-02-07", …] } } }`;
 * keys starting with '_' are comments. A year present replaces that year's built-in data entirely.
 * Returns the years it replaced.
 */
export function applyOverride(data: CalendarData, file: string): number[] {
  const fail = (message: string, entry?: string): never => {
    throw new CalendarError(
      `working-day override ${file}: ${message}`,
      entry === undefined ? { file } : { file, entry },
    );
  };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return fail(existsSync(file) ? `not valid JSON (${why})` : 'file not found');
  }
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(raw)) return fail('expected an object { "years": { … } }');
  for (const key of Object.keys(raw)) {
    if (key !== 'years' && !key.startsWith('_')) fail(`unknown key '${key}' (expected "years")`, key);
  }
  const years = raw['years'];
  if (!isObject(years))
    return fail('"years" must be an object keyed by year, e.g. { "2027": { … } }', 'years');

  const replaced: number[] = [];
  const additions: { year: number; holidays: string[]; workdays: string[] }[] = [];
  for (const [yearKey, value] of Object.entries(years)) {
    if (yearKey.startsWith('_')) continue;
    const year = Number(yearKey);
    if (!/^\d{4}$/.test(yearKey) || year < MIN_YEAR || year > MAX_YEAR) {
      fail(`year '${yearKey}' is not a year between ${MIN_YEAR} and ${MAX_YEAR}`, yearKey);
    }
    if (!isObject(value))
      return fail(`years.${yearKey} must be an object { "holidays": [...], "workdays": [...] }`, yearKey);
    for (const key of Object.keys(value)) {
      if (key !== 'holidays' && key !== 'workdays' && !key.startsWith('_')) {
        fail(
          `years.${yearKey}: unknown key '${key}' (expected "holidays" and "workdays")`,
          `${yearKey}.${key}`,
        );
      }
    }
    const lists = { holidays: [] as string[], workdays: [] as string[] };
    for (const key of ['holidays', 'workdays'] as const) {
      const list = value[key];
      if (!Array.isArray(list))
        return fail(`years.${yearKey}.${key} must be a list of dates (may be empty)`, `${yearKey}.${key}`);
      for (const [i, entry] of list.entries()) {
        const where = `years.${yearKey}.${key}[${i}]`;
        if (typeof entry !== 'string' || !isIsoDate(entry)) {
          fail(`${where} = ${JSON.stringify(entry)} is not a date written YYYY-MM-DD`, String(entry));
        }
        const date = entry as string;
        // A notice may name a make-up day at the end of the previous year (the 2012 notice did: 2011-12-31).
        const entryYear = Number(date.slice(0, 4));
        if (Math.abs(entryYear - year) > 1) fail(`${where} = ${date} does not belong to ${yearKey}`, date);
        if (key === 'workdays' && !isWeekend(dayNumberOf(date) ?? 0)) {
          fail(`${where} = ${date} is a Monday–Friday: make-up working days are Saturdays or Sundays`, date);
        }
        lists[key].push(date);
      }
    }
    const both = lists.holidays.find((d) => lists.workdays.includes(d));
    if (both !== undefined)
      fail(`years.${yearKey}: ${both} is listed both as a holiday and as a working day`, both);
    replaced.push(year);
    additions.push({ year, ...lists });
  }

  // Replace each named year entirely, then add its entries (including any at the edge of the next year).
  for (const { year } of additions) {
    const prefix = `${year}-`;
    for (const set of [data.holidays, data.workdays]) {
      for (const date of [...set]) if (date.startsWith(prefix)) set.delete(date);
    }
    if (data.names)
      for (const date of [...data.names.keys()]) if (date.startsWith(prefix)) data.names.delete(date);
  }
  for (const { holidays, workdays } of additions) {
    for (const date of holidays) {
      data.workdays.delete(date);
      data.holidays.add(date);
    }
    for (const date of workdays) {
      data.holidays.delete(date);
      data.workdays.add(date);
    }
  }
  if (replaced.length) {
    const [first, last] = data.years;
    const known = data.knownYears ?? new Set(Array.from({ length: last - first + 1 }, (_, i) => first + i));
    for (const year of replaced) known.add(year);
    const all = [...known].sort((a, b) => a - b);
    data.years = [all[0] ?? first, all[all.length - 1] ?? last];
    if (all.length === data.years[1] - data.years[0] + 1) delete data.knownYears;
    else data.knownYears = known;
  }
  return replaced.sort((a, b) => a - b);
}

/** chinese-days' data merged with the optional override file (a file that is named must exist). */
export function loadCalendar(overrideFile?: string): Calendar {
  const data = builtinCalendarData();
  const source = calendarDataSource();
  const sources = [`${source.package}@${source.version} (${data.years[0]}–${data.years[1]})`];
  if (overrideFile !== undefined) {
    const years = applyOverride(data, overrideFile);
    sources.push(`override ${overrideFile}${years.length ? ` (${years.join(', ')})` : ' (no years)'}`);
  }
  return new Calendar(data, sources);
}
