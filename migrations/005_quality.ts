import type { Knex } from 'knex';

const STATEMENTS = [
  // The Chinese working-day calendar as a table: workday_no counts working days from the table's first day up
  // to and including `day`, so "working days after A up to and including B" is one subtraction of two joins.
  // Filled (and refilled when the calendar or its override file changes) from lib/calendar.ts.
  `CREATE TABLE workdays (
    day date PRIMARY KEY,
    workday boolean NOT NULL,
    workday_no integer NOT NULL
  )`,
  // The catalog's deadlines, copied at each computation so that views and analysts' SQL can use them.
  `CREATE TABLE quality_deadlines (
    resource text PRIMARY KEY,
    disclosure text NOT NULL,
    collect_workdays integer NOT NULL,
    publish_workdays integer
  )`,
  // One line per run whose metrics were computed (a run is recomputed by replacing its lines).
  `CREATE TABLE quality_runs (
    run_id bigint PRIMARY KEY REFERENCES runs (id),
    kind text NOT NULL,
    run_started_at timestamptz NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now(),
    calendar text NOT NULL,
    ms integer NOT NULL
  )`,
  // Every figure: per run × resource × providing department × dimension × measure (× field). `value` counts
  // the rows that have the property, `base` the rows it is a share of: rates are value / base.
  `CREATE TABLE quality_metrics (
    run_id bigint NOT NULL REFERENCES quality_runs (run_id) ON DELETE CASCADE,
    resource text NOT NULL,
    department text NOT NULL,
    dimension text NOT NULL CHECK (dimension IN ('volume', 'completeness', 'validity', 'uniqueness',
                                                 'consistency', 'timeliness', 'matching')),
    measure text NOT NULL,
    field text NOT NULL DEFAULT '',
    value bigint NOT NULL,
    base bigint NOT NULL,
    PRIMARY KEY (run_id, resource, department, dimension, measure, field)
  )`,
  // The records first received by a run that missed a deadline, most overdue first, capped per resource and
  // department (the full lists are the view quality_overdue_all).
  `CREATE TABLE quality_overdue (
    run_id bigint NOT NULL REFERENCES quality_runs (run_id) ON DELETE CASCADE,
    resource text NOT NULL,
    department text NOT NULL,
    natural_key text NOT NULL,
    uscc text,
    subject_name text,
    produced_date date NOT NULL,
    received_date date NOT NULL,
    workdays integer NOT NULL,
    collect_late boolean NOT NULL,
    publish_late boolean NOT NULL,
    PRIMARY KEY (run_id, resource, natural_key)
  )`,
  // the metrics read one run's records and history: without these every nightly run would scan them all
  `CREATE INDEX records_run ON records (run_id)`,
  `CREATE INDEX record_history_superseded_by_run ON record_history (superseded_by_run)`,
  // Every record's timeliness, in working days from produced to received (China date of its first load, which
  // is also when a public record appears in the public view: guiji's "published").
  `CREATE VIEW quality_timeliness AS
   SELECT r.resource, r.natural_key, r.department, r.uscc, r.subject_name, r.disclosure, r.first_run_id,
          r.produced_date, (r.received_at AT TIME ZONE 'Asia/Shanghai')::date AS received_date,
          rw.workday_no - pw.workday_no AS workdays, d.collect_workdays, d.publish_workdays,
          rw.workday_no - pw.workday_no > d.collect_workdays AS collect_late,
          coalesce(r.disclosure = 'public' AND rw.workday_no - pw.workday_no > d.publish_workdays, false)
            AS publish_late
   FROM records r
   JOIN quality_deadlines d ON d.resource = r.resource
   JOIN workdays pw ON pw.day = r.produced_date
   JOIN workdays rw ON rw.day = (r.received_at AT TIME ZONE 'Asia/Shanghai')::date`,
  `CREATE VIEW quality_overdue_all AS
   SELECT * FROM quality_timeliness WHERE collect_late OR publish_late`,
  // The department score, 0–100 (README "Quality reports"): 40% validity, 40% timeliness, 20% completeness,
  // each a share 0–1; a component without a base (NULL) is left out and the weights renormalised.
  `CREATE FUNCTION quality_score(validity numeric, timeliness numeric, completeness numeric) RETURNS numeric
   LANGUAGE sql IMMUTABLE AS $$
     SELECT round(100 * (coalesce(0.4 * validity, 0) + coalesce(0.4 * timeliness, 0) + coalesce(0.2 * completeness, 0))
                  / nullif(CASE WHEN validity IS NULL THEN 0 ELSE 0.4 END + CASE WHEN timeliness IS NULL THEN 0 ELSE 0.4 END
                           + CASE WHEN completeness IS NULL THEN 0 ELSE 0.2 END, 0), 1)
   $$`,
  // Department scorecard per run (see README "Quality reports"): 40% validity, 40% timeliness,
  // 20% completeness, a component without a base left out and the weights renormalised.
  `CREATE VIEW quality_department_scores AS
   WITH parts AS (
     SELECT run_id, department,
       sum(value) FILTER (WHERE dimension = 'volume' AND measure = 'read') AS read,
       sum(value) FILTER (WHERE dimension = 'volume' AND measure = 'quarantined') AS quarantined,
       sum(value) FILTER (WHERE dimension = 'volume' AND measure = 'duplicates') AS duplicates,
       sum(value) FILTER (WHERE dimension = 'timeliness' AND measure = 'collect_late') AS late,
       sum(base) FILTER (WHERE dimension = 'timeliness' AND measure = 'collect_late') AS measured,
       sum(value) FILTER (WHERE dimension = 'completeness' AND measure = 'missing') AS missing,
       sum(base) FILTER (WHERE dimension = 'completeness' AND measure = 'missing') AS cells
     FROM quality_metrics GROUP BY run_id, department
   ), rates AS (
     SELECT *,
       CASE WHEN read > 0 THEN 1 - (quarantined + duplicates)::numeric / read END AS validity,
       CASE WHEN measured > 0 THEN 1 - late::numeric / measured END AS timeliness,
       CASE WHEN cells > 0 THEN 1 - missing::numeric / cells END AS completeness
     FROM parts
   )
   SELECT run_id, department, coalesce(read, 0) AS read, coalesce(quarantined, 0) AS quarantined,
          coalesce(duplicates, 0) AS duplicates, coalesce(late, 0) AS late, coalesce(measured, 0) AS measured,
          validity, timeliness, completeness,
          quality_score(validity, timeliness, completeness) AS score
   FROM rates`,
];

/**
 * Quality metrics (issue 5): the working-day calendar as a table, the catalog's deadlines, the figures of
 * every run per resource × department × dimension, the capped overdue lists, and the views trends and
 * scorecards are written in.
 */
export async function up(knex: Knex): Promise<void> {
  for (const statement of STATEMENTS) await knex.raw(statement);
}

export async function down(): Promise<void> {
  throw new Error('guiji migrations are forward-only');
}
