import type { Knex } from 'knex';

/**
 * Publication (公示, issue 14): each public record's state today (`publication`, recomputed by every run and
 * by `guiji publication refresh`), every change of state (`publication_events`, which the publish feed reads
 * by id), and what people decide about records: objections (异议), credit repairs (信用修复) and the audit log
 * of every such change. Records are named by their `record_id` (warehouse v2), never by personal data.
 */
const STATEMENTS = [
  `CREATE TABLE publication (
    resource text NOT NULL,
    record_id bigint PRIMARY KEY,
    state text NOT NULL CHECK (state IN ('pending', 'public', 'suspended', 'withdrawn')),
    reason text,
    public_from date,
    public_until date,
    changed_at timestamptz NOT NULL,
    run_id bigint,
    severity text CHECK (severity IN ('general', 'serious')),
    repair_from date,
    basis text,
    record_version integer NOT NULL,
    rules_hash text NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now(),
    computed_for date NOT NULL,
    severity_override text CHECK (severity_override IN ('general', 'serious')),
    withdrawn_reason text
  )`,
  `CREATE INDEX publication_state ON publication (resource, state)`,
  `CREATE INDEX publication_until ON publication (public_until) WHERE state = 'public'`,
  `CREATE INDEX publication_from ON publication (public_from) WHERE state = 'pending'`,
  `CREATE TABLE publication_events (
    id bigserial PRIMARY KEY,
    resource text NOT NULL,
    record_id bigint NOT NULL,
    state text NOT NULL,
    reason text,
    at timestamptz NOT NULL DEFAULT now(),
    run_id bigint,
    previous_state text,
    public_from date,
    public_until date
  )`,
  `CREATE INDEX publication_events_record ON publication_events (record_id, id)`,
  `CREATE TABLE objections (
    id bigserial PRIMARY KEY,
    resource text NOT NULL,
    record_id bigint NOT NULL,
    received date NOT NULL,
    deadline date NOT NULL,
    reason text NOT NULL,
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    outcome text CHECK (outcome IN ('upheld', 'corrected', 'rejected')),
    note text,
    corrected_version integer,
    opened_by text NOT NULL,
    opened_at timestamptz NOT NULL DEFAULT now(),
    resolved_by text,
    resolved_at timestamptz,
    CHECK ((status = 'open') = (outcome IS NULL))
  )`,
  `CREATE INDEX objections_record ON objections (record_id, id)`,
  `CREATE UNIQUE INDEX objections_one_open ON objections (record_id) WHERE status = 'open'`,
  `CREATE TABLE repairs (
    id bigserial PRIMARY KEY,
    resource text NOT NULL,
    record_id bigint NOT NULL,
    repair_date date NOT NULL,
    source text NOT NULL DEFAULT 'manual',
    status text NOT NULL DEFAULT 'applied' CHECK (status IN ('applied', 'revoked')),
    note text,
    applied_by text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    revoked_by text,
    revoked_at timestamptz,
    revoke_reason text
  )`,
  `CREATE INDEX repairs_record ON repairs (record_id, id)`,
  `CREATE UNIQUE INDEX repairs_one_applied ON repairs (record_id) WHERE status = 'applied'`,
  `CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    action text NOT NULL,
    resource text,
    record_id bigint,
    subject_id bigint,
    reason text,
    detail jsonb NOT NULL DEFAULT '{}'::jsonb
  )`,
  `CREATE INDEX audit_log_record ON audit_log (record_id, id)`,
];

export async function up(knex: Knex): Promise<void> {
  // one statement a call: PGlite runs knex's queries as prepared statements, which take one command each
  for (const statement of STATEMENTS) await knex.raw(statement);
}
