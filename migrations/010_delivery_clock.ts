import type { Knex } from 'knex';

/**
 * The timeliness clock (issue 12.4) stops at delivery, not at a load:
 * - `drop_arrivals`: when guiji first saw each drop file in incoming/, by its SHA-256, written in a statement of
 *   its own before the file's load begins — so a file that failed (a crash, SIGKILL, a fault of guiji's that sent
 *   it to rejected/ until an engineer put it back) keeps the time it first arrived. Its records carry that time
 *   as their `delivered_at`.
 * - `quality_runs.history_deadline`: the last day of the history deadline a backfill run's records are measured
 *   against (catalog `history`), NULL for the other runs.
 * - `quality_overdue.received_date` holds the delivery date (the clock's end), as the quality metrics now count it.
 */
const STATEMENTS = [
  `CREATE TABLE drop_arrivals (
    sha256 text COLLATE "C" PRIMARY KEY,
    name text NOT NULL,
    first_seen_at timestamptz NOT NULL,
    first_run_id bigint NOT NULL
  )`,
  `COMMENT ON TABLE drop_arrivals IS '报送文件首次出现在 incoming/ 的时间（按 SHA-256，重跑、退回后重放不变）：其记录的送达时间'`,
  `ALTER TABLE quality_runs ADD COLUMN history_deadline date`,
  `COMMENT ON COLUMN quality_runs.history_deadline IS '历史数据归集期限的最后一天（仅补录运行）'`,
  `COMMENT ON COLUMN quality_overdue.received_date IS '送达日期：平台接收或更新时间，或文件首次出现在 incoming/ 的日期'`,
];

export async function up(knex: Knex): Promise<void> {
  // one statement a call: PGlite runs knex's queries as prepared statements, which take one command each
  for (const statement of STATEMENTS) await knex.raw(statement);
}

export async function down(): Promise<void> {
  throw new Error('guiji migrations are forward-only');
}
