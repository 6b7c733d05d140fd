import type { Knex } from 'knex';

const STATEMENTS = [
  // one backfill: a source and a range (platforms) or a folder (historical spreadsheets); `spec` identifies it, so
  // the same command run again finds it and resumes
  `CREATE TABLE backfills (
    id bigserial PRIMARY KEY,
    spec text NOT NULL UNIQUE,
    source text NOT NULL,
    range_from date,
    range_to date,
    by text NOT NULL CHECK (by IN ('day', 'week', 'month', 'file')),
    dir text,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
  )`,
  // one partition: a stream's frozen half-open window [window_from, window_to), or one file. resume_from is the
  // largest update time committed so far (moved with each batch), so a restarted partition does not re-read
  // what it loaded; lease_token fences every batch: a worker whose lease was taken over cannot commit.
  `CREATE TABLE backfill_partitions (
    id bigserial PRIMARY KEY,
    backfill_id bigint NOT NULL REFERENCES backfills (id),
    key text NOT NULL,
    source text NOT NULL,
    stream text NOT NULL DEFAULT '',
    resource text,
    window_from text,
    window_to text,
    file text,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    available_at timestamptz NOT NULL DEFAULT now(),
    lease_owner text,
    lease_token text,
    lease_expires_at timestamptz,
    heartbeat_at timestamptz,
    resume_from text,
    rows bigint NOT NULL DEFAULT 0,
    completions integer NOT NULL DEFAULT 0,
    run_id bigint,
    error text,
    started_at timestamptz,
    finished_at timestamptz,
    UNIQUE (backfill_id, key)
  )`,
  `CREATE INDEX backfill_partitions_claim ON backfill_partitions (state, available_at)`,
  // every claim of a partition and how it ended: the audit trail of "done once"
  `CREATE TABLE backfill_attempts (
    id bigserial PRIMARY KEY,
    partition_id bigint NOT NULL REFERENCES backfill_partitions (id),
    run_id bigint NOT NULL,
    owner text NOT NULL,
    outcome text NOT NULL DEFAULT 'running'
      CHECK (outcome IN ('running', 'done', 'retry', 'failed', 'interrupted', 'lost')),
    rows bigint NOT NULL DEFAULT 0,
    error text,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
  )`,
  `CREATE INDEX backfill_attempts_partition ON backfill_attempts (partition_id)`,
];

/**
 * Backfills of the history (issue 4): the partitions of each backfill and their leases live in the warehouse,
 * so `guiji backfill` and any number of `guiji worker` processes share them (`FOR UPDATE SKIP LOCKED`).
 */
export async function up(knex: Knex): Promise<void> {
  for (const statement of STATEMENTS) await knex.raw(statement);
}

export async function down(): Promise<void> {
  throw new Error('guiji migrations are forward-only');
}
