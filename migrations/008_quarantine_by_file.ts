import type { Knex } from 'knex';

/**
 * The rejected rows of one file in their order: the feedback workbook reads them page by page in that order.
 * Without it each page scanned the whole quarantine, which only grows: a file with 100,000 rejected rows asked
 * for 50 full scans.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    `CREATE INDEX quarantine_by_file ON quarantine (sha256, (coalesce(sheet, '')), (coalesce(row_number, 0)))`,
  );
}

export async function down(): Promise<void> {
  throw new Error('guiji migrations are forward-only');
}
