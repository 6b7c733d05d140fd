import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Calendar,
  CalendarError,
  dateOfDayNumber,
  dayNumberOf,
  loadCalendar,
} from '../../lib/calendar.js';
import type { Warehouse } from '../../lib/db.js';
import { GuijiError } from '../../lib/errors.js';

/** First day of the `workdays` table: earlier produced dates are not measured (the programme began 2014-10-01). */
export const WORKDAYS_FROM = '2000-01-01';

/** The calendar the metrics count with: chinese-days plus `<catalogDir>/workdays.override.json` when present. */
export function qualityCalendar(catalogDir: string): Calendar {
  const file = join(catalogDir, 'workdays.override.json');
  try {
    return loadCalendar(existsSync(file) ? file : undefined);
  } catch (error) {
    if (error instanceof CalendarError)
      throw new GuijiError('GUIJI_ERR_CONFIG', error.message, { cause: error, context: { file } });
    throw error;
  }
}

interface WorkdayRows {
  days: string[];
  workday: boolean[];
  numbers: number[];
  fingerprint: string;
}

/** The table's rows from WORKDAYS_FROM to the end of `lastYear`, and a fingerprint to compare with the stored one. */
export function workdayRows(calendar: Calendar, lastYear: number): WorkdayRows {
  const first = dayNumberOf(WORKDAYS_FROM) as number;
  const last = dayNumberOf(`${lastYear}-12-31`) as number;
  const rows: WorkdayRows = { days: [], workday: [], numbers: [], fingerprint: '' };
  let n = 0;
  let flags = '';
  for (let day = first; day <= last; day++) {
    const date = dateOfDayNumber(day);
    const workday = calendar.isWorkday(date);
    if (workday) n++;
    rows.days.push(date);
    rows.workday.push(workday);
    rows.numbers.push(n);
    flags += workday ? '1' : '0';
  }
  rows.fingerprint = `${WORKDAYS_FROM}|${dateOfDayNumber(last)}|${n}|${createHash('md5').update(flags).digest('hex')}`;
  return rows;
}

/**
 * Brings the `workdays` table in line with the calendar, through the end of next year (China time): refilled
 * only when the calendar (a new override year) or the year changed. Idempotent and safe beside another writer.
 */
export async function syncWorkdays(db: Warehouse, calendar: Calendar, today: string): Promise<boolean> {
  const rows = workdayRows(calendar, Number(today.slice(0, 4)) + 1);
  const [stored] = await db.query<{ fingerprint: string | null }>(
    `SELECT min(day)::text || '|' || max(day)::text || '|' || max(workday_no) || '|' ||
            md5(string_agg(CASE WHEN workday THEN '1' ELSE '0' END, '' ORDER BY day)) AS fingerprint
     FROM workdays`,
  );
  if (stored?.fingerprint === rows.fingerprint) return false;
  await db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO workdays (day, workday, workday_no)
       SELECT * FROM unnest($1::date[], $2::boolean[], $3::integer[])
       ON CONFLICT (day) DO UPDATE SET workday = EXCLUDED.workday, workday_no = EXCLUDED.workday_no`,
      [rows.days, rows.workday, rows.numbers],
    );
    await tx.query(`DELETE FROM workdays WHERE day < $1::date OR day > $2::date`, [
      rows.days[0],
      rows.days[rows.days.length - 1],
    ]);
  });
  return true;
}
