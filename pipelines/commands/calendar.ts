import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { type Calendar, CalendarError, type DayInfo, isIsoDate, loadCalendar } from '../../lib/calendar.js';
import { GuijiError } from '../../lib/errors.js';
import { catalogLocation } from './context.js';

/** The override file read unless `--override` names another one. */
export const OVERRIDE_FILE = 'workdays.override.json';

interface CommonOptions {
  override?: string;
  json?: boolean;
}

/** The calendar: chinese-days merged with `--override FILE`, else `<catalogDir>/workdays.override.json` if present. */
export function openCalendar(catalogDir: string, override?: string): Calendar {
  const file = override ?? join(catalogDir, OVERRIDE_FILE);
  try {
    return loadCalendar(override !== undefined || existsSync(file) ? file : undefined);
  } catch (error) {
    if (error instanceof CalendarError) {
      throw new GuijiError('GUIJI_ERR_CONFIG', error.message, {
        cause: error,
        context: { file: error.file ?? file },
      });
    }
    throw error;
  }
}

function usageDate(value: string | undefined, option: string): string {
  if (value === undefined || !isIsoDate(value)) {
    throw new GuijiError(
      'GUIJI_ERR_USAGE',
      `${option}: '${value ?? ''}' is not a date — write it YYYY-MM-DD, e.g. 2024-09-27`,
    );
  }
  return value;
}

function usageInteger(value: string, option: string): number {
  const n = /^[+-]?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw new GuijiError('GUIJI_ERR_USAGE', `${option}: '${value}' is not a whole number of working days`);
  }
  return n;
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Warns on stderr about every year from the first to the last of `dates` whose holiday data is unknown. */
function warnUncovered(calendar: Calendar, dates: string[]): string[] {
  const spanned = dates.map((d) => Number(d.slice(0, 4)));
  const years: number[] = [];
  for (let y = Math.min(...spanned); y <= Math.max(...spanned); y++)
    if (!calendar.coversYear(y)) years.push(y);
  if (years.length) {
    const [first, last] = calendar.data.years;
    process.stderr.write(
      `guiji: warning: no holiday data for ${years.join(', ')} (known: ${first}–${last}); those days were counted Monday–Friday only — add the year to ${OVERRIDE_FILE}\n`,
    );
  }
  return years.map(String);
}

/** One line explaining a day, e.g. "no   2024-02-12  Monday  statutory holiday (春节)". */
export function describeDay(info: DayInfo): string {
  const reason =
    info.kind === 'holiday'
      ? `statutory holiday${info.name ? ` (${info.name})` : ''}`
      : info.kind === 'makeup'
        ? `make-up working day${info.name ? ` (${info.name})` : ''}`
        : info.kind;
  return `${info.workday ? 'yes' : 'no '}  ${info.date}  ${info.weekdayName.padEnd(9)}  ${reason}`;
}

/** Adds `calendar deadline | workdays | is-workday` (issue 5, scope 1). */
export function registerCalendarCommands(
  program: Command,
  catalogDir: () => string = () => catalogLocation().catalogDir,
): Command {
  const calendar = program
    .command('calendar')
    .description('Chinese working days: statutory holidays and make-up working days (调休) included');

  calendar
    .command('deadline')
    .description(
      'the date of the N-th working day after --from (--from itself not counted; N = 0 gives --from)',
    )
    .requiredOption('--from <date>', 'the day the count starts after (YYYY-MM-DD)')
    .requiredOption('--workdays <n>', 'how many working days')
    .option('--override <file>', `working-day override file (default: <catalog>/${OVERRIDE_FILE})`)
    .option('--json', 'print { from, workdays, deadline, covered, uncoveredYears }')
    .action((opts: CommonOptions & { from: string; workdays: string }) => {
      const from = usageDate(opts.from, '--from');
      const n = usageInteger(opts.workdays, '--workdays');
      const cal = openCalendar(catalogDir(), opts.override);
      const deadline = cal.addWorkdays(from, n);
      const uncoveredYears = warnUncovered(cal, [from, deadline]);
      if (opts.json) {
        print(
          JSON.stringify({
            from,
            workdays: n,
            deadline,
            covered: uncoveredYears.length === 0,
            uncoveredYears,
          }),
        );
      } else print(deadline);
    });

  calendar
    .command('workdays')
    .description(
      'the number of working days after --from up to and including --to (negative if --to is earlier)',
    )
    .requiredOption('--from <date>', 'start, not counted (YYYY-MM-DD)')
    .requiredOption('--to <date>', 'end, counted (YYYY-MM-DD)')
    .option('--override <file>', `working-day override file (default: <catalog>/${OVERRIDE_FILE})`)
    .option('--json', 'print { from, to, workdays, covered, uncoveredYears }')
    .action((opts: CommonOptions & { from: string; to: string }) => {
      const from = usageDate(opts.from, '--from');
      const to = usageDate(opts.to, '--to');
      const cal = openCalendar(catalogDir(), opts.override);
      const workdays = cal.workdaysBetween(from, to);
      const uncoveredYears = warnUncovered(cal, [from, to]);
      if (opts.json) {
        print(JSON.stringify({ from, to, workdays, covered: uncoveredYears.length === 0, uncoveredYears }));
      } else print(String(workdays));
    });

  calendar
    .command('is-workday')
    .description('whether DATE is a working day, and why (exit code 0 either way)')
    .argument('<date>', 'the day (YYYY-MM-DD)')
    .option('--override <file>', `working-day override file (default: <catalog>/${OVERRIDE_FILE})`)
    .option('--json', 'print { date, workday, kind, name?, weekdayName, covered }')
    .action((dateArg: string, opts: CommonOptions) => {
      const date = usageDate(dateArg, 'DATE');
      const cal = openCalendar(catalogDir(), opts.override);
      const info = cal.explain(date);
      warnUncovered(cal, [date]);
      if (opts.json) print(JSON.stringify(info));
      else print(describeDay(info));
    });

  return calendar;
}
