import type { Knex } from 'knex';

const STATEMENTS = [
  // how sure a match beyond the exact credit code is (1 for an exact code or legacy id, below 1 for a name)
  `ALTER TABLE records ADD COLUMN match_score real`,
  // consistency flags set by matching: 'out_of_region' (a credit code registered outside 3412xx),
  // 'name_mismatch' (the register's name for the code differs from the record's subject name)
  `ALTER TABLE records ADD COLUMN match_flags text[] NOT NULL DEFAULT '{}'`,
];

/**
 * The columns that matching beyond the exact credit code writes and the quality metrics read. match_method
 * (from 001) is one of 'uscc', 'reg_no', 'org_code', 'name', 'manual', or NULL while the record is unmatched.
 */
export async function up(knex: Knex): Promise<void> {
  for (const statement of STATEMENTS) await knex.raw(statement);
}

export async function down(): Promise<void> {
  throw new Error('guiji migrations are forward-only');
}
