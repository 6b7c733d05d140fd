import type { Knex } from 'knex';

const STATEMENTS = [
  `CREATE TABLE runs (
    id bigserial PRIMARY KEY,
    kind text NOT NULL DEFAULT 'run',
    status text NOT NULL DEFAULT 'running'
      CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'interrupted')),
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    host text,
    pid integer,
    error text
  )`,
  `CREATE TABLE source_runs (
    run_id bigint NOT NULL REFERENCES runs (id),
    source text NOT NULL,
    status text NOT NULL DEFAULT 'running'
      CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'interrupted')),
    read bigint NOT NULL DEFAULT 0,
    inserted bigint NOT NULL DEFAULT 0,
    updated bigint NOT NULL DEFAULT 0,
    unchanged bigint NOT NULL DEFAULT 0,
    quarantined bigint NOT NULL DEFAULT 0,
    duplicates bigint NOT NULL DEFAULT 0,
    unmatched bigint NOT NULL DEFAULT 0,
    files_done integer NOT NULL DEFAULT 0,
    files_rejected integer NOT NULL DEFAULT 0,
    cursor_before text,
    cursor_after text,
    error text,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (run_id, source),
    CONSTRAINT ledger_balances CHECK (read = inserted + updated + unchanged + quarantined + duplicates)
  )`,
  `CREATE TABLE source_state (
    source text NOT NULL,
    stream text NOT NULL DEFAULT '',
    cursor text,
    run_id bigint,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, stream)
  )`,
  `CREATE TABLE drop_files (
    sha256 text PRIMARY KEY,
    name text NOT NULL,
    size bigint NOT NULL,
    status text NOT NULL CHECK (status IN ('loaded', 'rejected')),
    resources text[] NOT NULL DEFAULT '{}',
    rows_read bigint NOT NULL DEFAULT 0,
    rows_quarantined bigint NOT NULL DEFAULT 0,
    error text,
    run_id bigint NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE TABLE records (
    resource text NOT NULL,
    natural_key text NOT NULL,
    version integer NOT NULL DEFAULT 1,
    schema_version text NOT NULL,
    content_hash text NOT NULL,
    data jsonb NOT NULL,
    uscc text,
    subject_name text,
    department text,
    produced_date date,
    received_at timestamptz NOT NULL DEFAULT now(),
    changed_at timestamptz NOT NULL DEFAULT now(),
    disclosure text,
    match_method text,
    source text NOT NULL,
    provenance jsonb NOT NULL,
    first_run_id bigint NOT NULL,
    run_id bigint NOT NULL,
    PRIMARY KEY (resource, natural_key)
  )`,
  `CREATE INDEX records_uscc ON records (uscc)`,
  `CREATE TABLE record_history (
    id bigserial,
    resource text NOT NULL,
    natural_key text NOT NULL,
    version integer NOT NULL,
    schema_version text NOT NULL,
    content_hash text NOT NULL,
    data jsonb NOT NULL,
    provenance jsonb NOT NULL,
    run_id bigint NOT NULL,
    changed_at timestamptz NOT NULL,
    superseded_at timestamptz NOT NULL DEFAULT now(),
    superseded_by_run bigint NOT NULL,
    PRIMARY KEY (natural_key, id)
  )`,
  `CREATE INDEX record_history_key ON record_history (resource, natural_key, version)`,
  `CREATE TABLE quarantine (
    id bigserial,
    row_ref text NOT NULL,
    source text NOT NULL,
    resource text,
    file text,
    sha256 text,
    sheet text,
    row_number integer,
    record_id text,
    raw jsonb NOT NULL,
    issues jsonb NOT NULL,
    run_id bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (row_ref)
  )`,
  `CREATE INDEX quarantine_run ON quarantine (run_id)`,
  `CREATE TABLE enterprises (
    uscc text PRIMARY KEY,
    name text NOT NULL,
    reg_no text,
    org_code text,
    legal_rep text,
    reg_date date,
    status text,
    address text,
    run_id bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE INDEX enterprises_reg_no ON enterprises (reg_no)`,
  `CREATE INDEX enterprises_org_code ON enterprises (org_code)`,
];

/**
 * The warehouse of the foundation: runs and their per-source ledger, source cursors, drop files, records
 * (current + history), quarantine and the enterprise register. Every large table keeps one distribution key
 * (records: natural_key; quarantine: row_ref) so that a Citus cluster could hold it.
 */
export async function up(knex: Knex): Promise<void> {
  // one statement a call: PGlite runs knex's queries as prepared statements, which take one command each
  for (const statement of STATEMENTS) await knex.raw(statement);
}

export async function down(): Promise<void> {
  throw new Error('guiji migrations are forward-only');
}
