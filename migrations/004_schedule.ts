import type { Knex } from 'knex';

const STATEMENTS = [
  // One row per scheduled slot of a nightly job (its sources joined by '+', e.g. 'drops+credit-platform').
  // The primary key is what keeps two schedulers from both running the same night; a slot that is not
  // 'finished' (its run was interrupted, its scheduler died, the run lock was held) is caught up on start.
  `CREATE TABLE schedule_slots (
    job text NOT NULL,
    slot_at timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'running'
      CHECK (status IN ('running', 'finished', 'interrupted', 'skipped', 'error')),
    run_id bigint REFERENCES runs (id),
    run_status text,
    host text,
    pid integer,
    error text,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (job, slot_at)
  )`,
];

/** The nightly schedule's slots: which night ran, by which run, on which host. */
export async function up(knex: Knex): Promise<void> {
  for (const statement of STATEMENTS) await knex.raw(statement);
}

export async function down(): Promise<void> {
  throw new Error('guiji migrations are forward-only');
}
