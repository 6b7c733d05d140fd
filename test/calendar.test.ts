/**
 * Chinese working days (issue 5, scope 1). Expected dates are checked against the State Council notices as
 * published:
 * - 国务院办公厅关于2024年部分节假日安排的通知 (国办发明电〔2023〕7号, 2023-10-25): 春节 2月10日至17日放假调休，
 *   2月4日（星期日）、2月18日（星期日）上班; 中秋节 9月15日至17日, 9月14日（星期六）上班; 国庆节 10月1日至7日放假调休，
 *   9月29日（星期日）、10月12日（星期六）上班.
 * - 国务院办公厅关于2020年部分节假日安排的通知 (国办发明电〔2019〕16号): 春节 1月24日至30日, 1月19日（星期日）、
 *   2月1日（星期六）上班; then 国务院办公厅关于延长2020年春节假期的通知 (国办发明电〔2020〕1号, 2020-01-26):
 *   延长至2月2日（星期日），2月3日（星期一）起正常上班 — so 2020-02-01 is no longer a working day.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  Calendar,
  CalendarError,
  calendarDataSource,
  dateOfDayNumber,
  dayNumberOf,
  loadCalendar,
} from '../lib/calendar.js';
import { exitCodeOf, GuijiError } from '../lib/errors.js';
import { registerCalendarCommands } from '../pipelines/commands/calendar.js';

const dir = mkdtempSync(join(tmpdir(), 'guiji-calendar-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeOverride(name: string, content: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

const cal = loadCalendar();

describe('the data source', () => {
  it('is chinese-days, covering 2014 through 2026 at least', () => {
    expect(calendarDataSource().package).toBe('chinese-days');
    expect(cal.data.years[0]).toBeLessThanOrEqual(2014);
    expect(cal.data.years[1]).toBeGreaterThanOrEqual(2026);
    for (let y = 2014; y <= 2026; y++) expect(cal.coversYear(y)).toBe(true);
    expect(cal.covers('2030-06-01')).toBe(false);
  });

  it("agrees with chinese-days' own isWorkday on every day from 2014 to 2026", () => {
    const require = createRequire(import.meta.url);
    const cd = require('chinese-days') as { isWorkday(date: string): boolean };
    const differ: string[] = [];
    for (let day = dayNumberOf('2014-01-01')!; day <= dayNumberOf('2026-12-31')!; day++) {
      const date = dateOfDayNumber(day);
      if (cal.isWorkday(date) !== cd.isWorkday(date)) differ.push(date);
    }
    expect(differ).toEqual([]);
  });
});

describe('Spring Festival 2024 (holiday 02-10..17, make-up Sundays 02-04 and 02-18)', () => {
  it('knows the holiday and both make-up Sundays', () => {
    for (const d of ['2024-02-10', '2024-02-12', '2024-02-15', '2024-02-16', '2024-02-17']) {
      expect(cal.isWorkday(d), d).toBe(false);
    }
    expect(cal.isWorkday('2024-02-04')).toBe(true); // Sunday
    expect(cal.isWorkday('2024-02-18')).toBe(true); // Sunday
    expect(cal.isWorkday('2024-02-09')).toBe(true); // 除夕: rest only "encouraged"
    expect(cal.isWorkday('2024-02-03')).toBe(false); // an ordinary Saturday
  });

  it('counts deadlines across it', () => {
    expect(cal.addWorkdays('2024-02-03', 1)).toBe('2024-02-04');
    expect(cal.addWorkdays('2024-02-09', 1)).toBe('2024-02-18');
    // produced Monday 02-05: 6,7,8,9,18,19,20
    expect(cal.addWorkdays('2024-02-05', 7)).toBe('2024-02-20');
    // produced Thursday 02-08: 9,18,19,20,21,22,23 (Monday–Friday alone would say 02-19)
    expect(cal.addWorkdays('2024-02-08', 7)).toBe('2024-02-23');
  });
});

describe('National Day 2024 (holiday 10-01..07, make-up Sunday 09-29 and Saturday 10-12)', () => {
  it('knows the holiday and the make-up days', () => {
    expect(cal.isWorkday('2024-09-29')).toBe(true);
    expect(cal.isWorkday('2024-10-12')).toBe(true);
    expect(cal.isWorkday('2024-09-28')).toBe(false);
    for (const d of ['2024-10-01', '2024-10-04', '2024-10-07']) expect(cal.isWorkday(d), d).toBe(false);
    expect(cal.isWorkday('2024-10-08')).toBe(true);
  });

  it('applies the 7-working-day rule: a record produced Friday 2024-09-27 is due Saturday 2024-10-12', () => {
    // 09-29, 09-30, 10-08, 10-09, 10-10, 10-11, 10-12 (Monday–Friday alone would say 10-08)
    expect(cal.addWorkdays('2024-09-27', 7)).toBe('2024-10-12');
    expect(cal.addWorkdays('2024-09-28', 1)).toBe('2024-09-29');
    expect(cal.addWorkdays('2024-09-30', 1)).toBe('2024-10-08');
  });

  it('applies the 20-working-day publication rule across it', () => {
    // 7 days to 10-12 as above, then 10-14..18 (12), 10-21..25 (17), 10-28, 29, 30 (20)
    expect(cal.addWorkdays('2024-09-27', 20)).toBe('2024-10-30');
  });

  it('counts working days between dates across the holiday', () => {
    expect(cal.workdaysBetween('2024-09-27', '2024-10-12')).toBe(7);
    expect(cal.workdaysBetween('2024-09-30', '2024-10-08')).toBe(1);
    expect(cal.workdaysBetween('2024-10-12', '2024-09-27')).toBe(-7);
    expect(cal.workdaysBetween('2024-10-01', '2024-10-07')).toBe(0);
    expect(cal.workdaysBetween('2024-10-01', '2024-10-01')).toBe(0);
    // Mid-autumn 09-15..17, make-up Saturday 09-14: after 09-13 up to 09-18 only 09-14 and 09-18 count
    expect(cal.workdaysBetween('2024-09-13', '2024-09-18')).toBe(2);
  });
});

describe('the extended Spring Festival of 2020', () => {
  it('ends on 02-02 and cancels the make-up Saturday 02-01', () => {
    expect(cal.isWorkday('2020-01-19')).toBe(true); // make-up Sunday, kept
    expect(cal.isWorkday('2020-01-31')).toBe(false); // a Friday in the extension
    expect(cal.isWorkday('2020-02-01')).toBe(false); // the original notice's make-up Saturday, cancelled
    expect(cal.isWorkday('2020-02-03')).toBe(true);
    expect(cal.addWorkdays('2020-01-17', 1)).toBe('2020-01-19');
    expect(cal.addWorkdays('2020-01-23', 1)).toBe('2020-02-03');
    expect(cal.workdaysBetween('2020-01-23', '2020-02-03')).toBe(1);
  });
});

describe('counting rules', () => {
  it('gives from itself for n = 0, even on a holiday, and counts backwards for negative n', () => {
    expect(cal.addWorkdays('2024-10-03', 0)).toBe('2024-10-03');
    expect(cal.addWorkdays('2024-10-12', -7)).toBe('2024-09-27');
    expect(cal.addWorkdays('2024-10-08', -1)).toBe('2024-09-30');
  });

  it('uses Monday–Friday outside the known years and says so', () => {
    expect(cal.covers('2040-10-01')).toBe(false);
    expect(cal.isWorkday('2040-10-01')).toBe(true); // a Monday; no data
    expect(cal.addWorkdays('2040-10-05', 1)).toBe('2040-10-08'); // Friday → Monday
    expect(cal.workdaysBetween('2040-10-05', '2040-10-12')).toBe(5);
    expect(cal.workdaysBetween('1990-01-05', '1990-01-12')).toBe(5);
  });

  it('matches a day-by-day count everywhere, including across the edges of the data', () => {
    const step = (from: string, n: number): string => {
      let day = dayNumberOf(from)!;
      let left = Math.abs(n);
      while (left > 0) {
        day += Math.sign(n);
        if (cal.isWorkday(dateOfDayNumber(day))) left--;
      }
      return dateOfDayNumber(day);
    };
    let seed = 20240927;
    const random = (k: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % k;
    };
    const base = dayNumberOf('2002-06-01')!;
    for (let i = 0; i < 400; i++) {
      const from = dateOfDayNumber(base + random(365 * 27));
      const n = random(60) - 20;
      const due = cal.addWorkdays(from, n);
      expect(due, `${from} ${n}`).toBe(step(from, n));
      // (from, due] holds exactly n working days when counting forwards
      if (n >= 0) expect(cal.workdaysBetween(from, due), `${from} → ${due}`).toBe(n);
    }
  });

  it('rejects dates that are not YYYY-MM-DD calendar days', () => {
    for (const bad of ['2024-02-30', '2024/10/01', '20241001', '2023-02-29', '']) {
      expect(() => cal.isWorkday(bad), bad).toThrow(CalendarError);
    }
    expect(cal.isWorkday('2024-02-29')).toBe(true);
    expect(() => cal.addWorkdays('2024-10-01', 1.5)).toThrow(CalendarError);
  });

  it('explains a day', () => {
    expect(cal.explain('2024-10-03')).toMatchObject({ workday: false, kind: 'holiday', name: '国庆节' });
    expect(cal.explain('2024-10-12')).toMatchObject({ workday: true, kind: 'makeup', name: '国庆节' });
    expect(cal.explain('2024-10-13')).toMatchObject({
      workday: false,
      kind: 'weekend',
      weekdayName: 'Sunday',
    });
    expect(cal.explain('2024-10-14')).toMatchObject({ workday: true, kind: 'weekday', covered: true });
  });
});

describe('the override file', () => {
  it('adds a year: a fictional 2099 holiday changes the answer', () => {
    // 2098-12-31 is a Wednesday, 2099-01-01 a Thursday, 2099-01-03 a Saturday
    expect(cal.addWorkdays('2098-12-31', 1)).toBe('2099-01-01');
    const file = writeOverride('2099.json', {
      _comment: 'fictional',
      years: { '2099': { holidays: ['2099-01-01', '2099-01-02'], workdays: ['2099-01-03'] } },
    });
    const withOverride = loadCalendar(file);
    expect(withOverride.addWorkdays('2098-12-31', 1)).toBe('2099-01-03');
    expect(withOverride.workdaysBetween('2098-12-31', '2099-01-05')).toBe(2);
    expect(withOverride.covers('2099-05-01')).toBe(true);
    expect(withOverride.covers('2060-05-01')).toBe(false); // years between stay unknown
    expect(withOverride.isWorkday('2060-05-03')).toBe(true); // a Monday, counted Monday–Friday
    expect(withOverride.addWorkdays('2024-09-27', 7)).toBe('2024-10-12'); // other years untouched
    expect(withOverride.sources.join(' ')).toContain('2099');
  });

  it("replaces a year's data entirely", () => {
    const file = writeOverride('2024.json', {
      years: { '2024': { holidays: ['2024-10-01'], workdays: [] } },
    });
    const replaced = loadCalendar(file);
    expect(replaced.isWorkday('2024-10-01')).toBe(false);
    expect(replaced.isWorkday('2024-10-02')).toBe(true); // no longer a holiday
    expect(replaced.isWorkday('2024-09-29')).toBe(false); // no longer a make-up day
    expect(replaced.isWorkday('2023-10-02')).toBe(false); // 2023 untouched
  });

  it('accepts the shipped empty override', () => {
    const shipped = loadCalendar(join(import.meta.dirname, '..', 'catalog', 'workdays.override.json'));
    expect(shipped.addWorkdays('2024-09-27', 7)).toBe('2024-10-12');
  });

  it.each([
    ['not JSON', '{ "years": {', /not valid JSON/, undefined],
    ['no years', { holidays: [] }, /unknown key 'holidays'/, 'holidays'],
    [
      'a bad date',
      { years: { '2099': { holidays: ['2099-02-30'], workdays: [] } } },
      /2099-02-30/,
      '2099-02-30',
    ],
    [
      'a weekday make-up day',
      { years: { '2099': { holidays: [], workdays: ['2099-01-05'] } } },
      /2099-01-05/,
      '2099-01-05',
    ],
    [
      'a missing list',
      { years: { '2099': { holidays: ['2099-01-01'] } } },
      /years\.2099\.workdays/,
      '2099.workdays',
    ],
    ['a bad year', { years: { '99': { holidays: [], workdays: [] } } }, /year '99'/, '99'],
    [
      'a date of another year',
      { years: { '2099': { holidays: ['2024-10-01'], workdays: [] } } },
      /2024-10-01/,
      '2024-10-01',
    ],
  ])('fails naming the file and the entry: %s', (_label, content, message, entry) => {
    const file = writeOverride(`bad-${_label.replace(/\W+/g, '-')}.json`, content);
    let error: unknown;
    try {
      loadCalendar(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CalendarError);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toMatch(message);
    expect((error as CalendarError).file).toBe(file);
    expect((error as CalendarError).entry).toBe(entry);
  });

  it('fails naming the file when it is missing', () => {
    const file = join(dir, 'nope.json');
    expect(() => loadCalendar(file)).toThrow(file);
  });
});

describe('guiji calendar …', () => {
  let out: string[];
  let err: string[];
  let catalogDir: string;

  beforeAll(() => {
    catalogDir = mkdtempSync(join(dir, 'catalog-'));
    writeFileSync(
      join(catalogDir, 'workdays.override.json'),
      JSON.stringify({ years: { '2099': { holidays: ['2099-01-01'], workdays: [] } } }),
    );
  });
  afterEach(() => vi.restoreAllMocks());

  async function run(...args: string[]): Promise<string> {
    out = [];
    err = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      err.push(String(chunk));
      return true;
    });
    const program = new Command().exitOverride();
    registerCalendarCommands(program, () => catalogDir);
    await program.parseAsync(['calendar', ...args], { from: 'user' });
    return out.join('');
  }

  it('deadline prints the date', async () => {
    expect(await run('deadline', '--from', '2024-09-27', '--workdays', '7')).toBe('2024-10-12\n');
    expect(JSON.parse(await run('deadline', '--from', '2024-09-27', '--workdays', '7', '--json'))).toEqual({
      from: '2024-09-27',
      workdays: 7,
      deadline: '2024-10-12',
      covered: true,
      uncoveredYears: [],
    });
  });

  it('reads the catalog override by default', async () => {
    expect(await run('deadline', '--from', '2098-12-31', '--workdays', '1')).toBe('2099-01-02\n');
    expect(err.join('')).toContain('2098'); // 2098 itself is unknown
  });

  it('workdays prints the count', async () => {
    expect(await run('workdays', '--from', '2024-09-27', '--to', '2024-10-12')).toBe('7\n');
    expect(
      JSON.parse(await run('workdays', '--from', '2024-10-12', '--to', '2024-09-27', '--json')),
    ).toMatchObject({ workdays: -7, covered: true });
  });

  it('warns when a date is outside the known years', async () => {
    expect(await run('workdays', '--from', '2040-10-05', '--to', '2040-10-12')).toBe('5\n');
    expect(err.join('')).toMatch(/warning: no holiday data for 2040/);
  });

  it('is-workday says yes or no and why', async () => {
    expect(await run('is-workday', '2024-10-12')).toMatch(
      /^yes\s+2024-10-12\s+Saturday\s+make-up working day \(国庆节\)/,
    );
    expect(await run('is-workday', '2024-10-03')).toMatch(
      /^no\s+2024-10-03\s+Thursday\s+statutory holiday \(国庆节\)/,
    );
    expect(await run('is-workday', '2024-10-13')).toMatch(/^no\s+2024-10-13\s+Sunday\s+weekend/);
    expect(await run('is-workday', '2024-10-14')).toMatch(/^yes\s+2024-10-14\s+Monday\s+weekday/);
    expect(JSON.parse(await run('is-workday', '2024-02-18', '--json'))).toEqual({
      date: '2024-02-18',
      workday: true,
      kind: 'makeup',
      name: '春节',
      weekdayName: 'Sunday',
      covered: true,
    });
  });

  it.each([
    [['deadline', '--from', '2024-13-01', '--workdays', '7'], /--from: '2024-13-01' is not a date/],
    [['deadline', '--from', '2024-09-27', '--workdays', 'seven'], /--workdays: 'seven'/],
    [['workdays', '--from', '2024-09-27', '--to', '27/10/2024'], /--to: '27\/10\/2024'/],
    [['is-workday', '2024-02-30'], /DATE: '2024-02-30'/],
  ])('bad usage %j is a usage error (exit code 2)', async (args, message) => {
    const error = await run(...args).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GuijiError);
    expect((error as GuijiError).code).toBe('GUIJI_ERR_USAGE');
    expect((error as Error).message).toMatch(message);
    expect(exitCodeOf(error)).toBe(2);
  });

  it('a malformed override is a configuration error naming the file (exit code 2)', async () => {
    const bad = writeOverride('cli-bad.json', { years: { '2099': { holidays: ['1 May'], workdays: [] } } });
    const error = await run('is-workday', '2024-10-01', '--override', bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GuijiError);
    expect((error as GuijiError).code).toBe('GUIJI_ERR_CONFIG');
    expect((error as Error).message).toContain(bad);
    expect((error as Error).message).toContain('1 May');
    expect(exitCodeOf(error)).toBe(2);
  });
});

describe('Calendar on its own data', () => {
  it('is testable without the package data', () => {
    const own = new Calendar({
      holidays: new Set(['2030-01-01']),
      workdays: new Set(['2030-01-05']),
      years: [2030, 2030],
    });
    expect(own.addWorkdays('2029-12-31', 1)).toBe('2030-01-02');
    expect(own.addWorkdays('2030-01-04', 1)).toBe('2030-01-05');
    expect(own.covers('2031-01-01')).toBe(false);
  });
});
