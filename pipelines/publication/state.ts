import { columnOf, tableOf } from '../../catalog/columns.js';
import type { Catalog, Resource } from '../../catalog/load.js';
import type { PublicationRule, PublicationRules } from '../../catalog/publication.js';
import type { Warehouse } from '../../lib/db.js';
import { GuijiError } from '../../lib/errors.js';
import { IDENTIFIER } from '../warehouse/views.js';
import {
  type Decision,
  decide,
  type Interventions,
  type PublicationState,
  type RecordFacts,
} from './decide.js';

/**
 * The `publication` table kept up to date: each public record's state today, recomputed for the records that
 * may have changed (new or changed records, a changed rules file, a period that began or ended since, a
 * person's decision, "today" moved back) — every run after its load and `guiji publication refresh` nightly —
 * and one `publication_events` row for each change of state.
 */

export interface RefreshOptions {
  /** The China calendar day the states are for (YYYY-MM-DD). */
  today: string;
  runId?: number | null;
  /** Only these records (a person's decision); all candidates when absent. */
  records?: readonly number[];
  /** Every record again, whatever changed. */
  all?: boolean;
  batchSize?: number;
}

export type StateCounts = Record<PublicationState, number>;

export interface RefreshResult {
  /** Records whose state was computed. */
  computed: number;
  /** Records whose state changed (a `publication_events` row each). */
  changed: number;
  /** The states of every public resource's records after the refresh. */
  states: StateCounts;
}

interface CandidateRow {
  record_id: string;
  version: number;
  produced_date: string | null;
  department: string | null;
  old_state: PublicationState | null;
  severity_override: 'general' | 'serious' | null;
  withdrawn_reason: string | null;
  [field: string]: unknown;
}

/** The fields a rule reads, whose typed columns the candidates' query selects. */
export function fieldsOfRule(rule: PublicationRule): string[] {
  const codes = [rule.from, rule.until, rule.removed, rule.revoked?.field];
  if (rule.kind === 'penalty')
    codes.push(
      rule.endDate,
      rule.validUntil,
      rule.severity.kindsField,
      rule.severity.amountField,
      ...rule.domains.flatMap((d) => d.fields),
    );
  return [...new Set(codes.filter((c): c is string => c !== undefined))];
}

function quoted(name: string): string {
  if (!IDENTIFIER.test(name)) throw new GuijiError('GUIJI_ERR_CATALOG', `字段代码不能作为列名：${name}`);
  return `"${name}"`;
}

/** The SELECT of a resource's records with what the rule reads, joined with their current publication row. */
export function recordSelectSql(resource: Resource, rule: PublicationRule): string {
  const fields = fieldsOfRule(rule).map((code) => `r.${quoted(columnOf(code))}::text AS ${quoted(code)}`);
  return `SELECT r.record_id, r.version, r.produced_date::text AS produced_date, r.department,
      p.state AS old_state, p.severity_override, p.withdrawn_reason${fields.map((f) => `, ${f}`).join('')}
    FROM ${quoted(tableOf(resource.id))} r LEFT JOIN publication p ON p.record_id = r.record_id`;
}

const CANDIDATES = `
    WHERE r.record_id > $3 AND ($5::boolean OR r.record_id = ANY($4::bigint[]) OR (cardinality($4::bigint[]) = 0 AND (
      p.record_id IS NULL OR p.record_version <> r.version OR p.rules_hash <> $1 OR p.computed_for > $2::date
      OR (p.state = 'public' AND p.public_until < $2::date) OR (p.state = 'pending' AND p.public_from <= $2::date))))
    ORDER BY r.record_id LIMIT $6`;

export function factsOf(resource: Resource, rule: PublicationRule, row: CandidateRow): RecordFacts {
  const fields: Record<string, string | null> = {};
  for (const code of fieldsOfRule(rule)) fields[code] = (row[code] as string | null) ?? null;
  return {
    recordId: Number(row.record_id),
    resource: resource.id,
    version: row.version,
    producedDate: row.produced_date,
    department: row.department,
    fields,
  };
}

/** What people decided about these records: the latest objection, an applied repair, withdrawal, severity. */
export async function interventionsOf(
  db: Warehouse,
  rows: readonly CandidateRow[],
): Promise<Map<number, Interventions>> {
  const ids = rows.map((r) => r.record_id);
  const query = <T>(sql: string) => db.query<T>(sql, [ids]);
  const objections = await query<{
    id: string;
    record_id: string;
    status: 'open' | 'resolved';
    outcome: 'upheld' | 'corrected' | 'rejected' | null;
    corrected_version: number | null;
    deadline: string;
  }>(`SELECT DISTINCT ON (record_id) id, record_id, status, outcome, corrected_version, deadline::text AS deadline
      FROM objections WHERE record_id = ANY($1::bigint[]) ORDER BY record_id, id DESC`);
  const repairs = await query<{ id: string; record_id: string; repair_date: string }>(
    `SELECT id, record_id, repair_date::text AS repair_date FROM repairs
     WHERE status = 'applied' AND record_id = ANY($1::bigint[])`,
  );
  const people = new Map<number, Interventions>();
  const of = (id: string) => {
    const key = Number(id);
    const found = people.get(key);
    if (found) return found;
    const fresh: Interventions = {};
    people.set(key, fresh);
    return fresh;
  };
  for (const o of objections)
    of(o.record_id).objection = {
      id: Number(o.id),
      status: o.status,
      outcome: o.outcome,
      correctedVersion: o.corrected_version,
      deadline: o.deadline,
    };
  for (const r of repairs) of(r.record_id).repair = { id: Number(r.id), date: r.repair_date };
  for (const row of rows) {
    if (row.withdrawn_reason) of(row.record_id).withdrawal = { reason: row.withdrawn_reason };
    if (row.severity_override) of(row.record_id).severity = row.severity_override;
  }
  return people;
}

/** Recomputes the publication state of the records that may have changed; see the module comment. */
export async function refreshPublication(
  db: Warehouse,
  catalog: Catalog,
  rules: PublicationRules,
  options: RefreshOptions,
): Promise<RefreshResult> {
  const result: RefreshResult = { computed: 0, changed: 0, states: emptyCounts() };
  for (const resource of catalog.resources.values()) {
    const rule = rules.resources.get(resource.id);
    if (resource.disclosure !== 'public' || !rule) continue;
    const select = recordSelectSql(resource, rule) + CANDIDATES;
    let after = '0';
    for (;;) {
      const rows = await db.query<CandidateRow>(select, [
        rules.hash,
        options.today,
        after,
        options.records ?? [],
        options.all ?? false,
        options.batchSize ?? 5000,
      ]);
      if (rows.length === 0) break;
      after = (rows[rows.length - 1] as CandidateRow).record_id;
      const people = await interventionsOf(db, rows);
      const decisions = rows.map((row) => {
        const facts = factsOf(resource, rule, row);
        return decide(facts, rule, options.today, people.get(facts.recordId), basisOfOpen(resource));
      });
      result.computed += rows.length;
      result.changed += await writeStates(db, resource, rows, decisions, rules.hash, options);
    }
  }
  result.states = await stateCounts(db);
  return result;
}

/** The basis of a resource public as its catalog entry declares: its legal basis and first field set's date. */
export function basisOfOpen(resource: Resource): string {
  return `${resource.legalBasis}（资源目录；${resource.versions[0]?.from ?? ''}起）`;
}

function emptyCounts(): StateCounts {
  return { pending: 0, public: 0, suspended: 0, withdrawn: 0 };
}

export async function stateCounts(db: Warehouse): Promise<StateCounts> {
  const counts = emptyCounts();
  for (const r of await db.query<{ state: PublicationState; n: string }>(
    `SELECT state, count(*) AS n FROM publication GROUP BY state`,
  ))
    counts[r.state] = Number(r.n);
  return counts;
}

/** One batch's states in one transaction: the rows upserted, an event for each change of state. */
async function writeStates(
  db: Warehouse,
  resource: Resource,
  rows: readonly CandidateRow[],
  decisions: readonly Decision[],
  rulesHash: string,
  options: RefreshOptions,
): Promise<number> {
  const column = <T>(pick: (d: Decision, row: CandidateRow) => T) =>
    decisions.map((d, i) => pick(d, rows[i] as CandidateRow));
  const changed = column((d, row) => d.state !== row.old_state);
  return db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO publication AS p (resource, record_id, state, reason, public_from, public_until, changed_at, run_id,
         severity, repair_from, basis, record_version, rules_hash, computed_at, computed_for)
       SELECT $1, u.record_id, u.state, u.reason, u.public_from, u.public_until, now(), $2, u.severity, u.repair_from,
              u.basis, u.version, $3, now(), $4::date
       FROM unnest($5::bigint[], $6::text[], $7::text[], $8::date[], $9::date[], $10::text[], $11::date[], $12::text[],
                   $13::integer[]) AS u(record_id, state, reason, public_from, public_until, severity, repair_from, basis, version)
       ON CONFLICT (record_id) DO UPDATE SET state = EXCLUDED.state, reason = EXCLUDED.reason,
         public_from = EXCLUDED.public_from, public_until = EXCLUDED.public_until, severity = EXCLUDED.severity,
         repair_from = EXCLUDED.repair_from, basis = EXCLUDED.basis, record_version = EXCLUDED.record_version,
         rules_hash = EXCLUDED.rules_hash, computed_at = EXCLUDED.computed_at, computed_for = EXCLUDED.computed_for,
         changed_at = CASE WHEN p.state = EXCLUDED.state AND p.reason IS NOT DISTINCT FROM EXCLUDED.reason
                           THEN p.changed_at ELSE EXCLUDED.changed_at END,
         run_id = CASE WHEN p.state = EXCLUDED.state THEN p.run_id ELSE EXCLUDED.run_id END`,
      [
        resource.id,
        options.runId ?? null,
        rulesHash,
        options.today,
        rows.map((r) => r.record_id),
        column((d) => d.state),
        column((d) => d.reason),
        column((d) => d.publicFrom),
        column((d) => d.publicUntil),
        column((d) => d.severity),
        column((d) => d.repairFrom),
        column((d) => d.basis),
        rows.map((r) => r.version),
      ],
    );
    const events = decisions.flatMap((d, i) => (changed[i] ? [[d, rows[i] as CandidateRow] as const] : []));
    if (events.length)
      await tx.query(
        `INSERT INTO publication_events (resource, record_id, state, reason, run_id, previous_state, public_from, public_until)
         SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::date[], $8::date[])`,
        [
          resource.id,
          events.map(([, r]) => r.record_id),
          events.map(([d]) => d.state),
          events.map(([d]) => d.reason),
          events.map(() => options.runId ?? null),
          events.map(([, r]) => r.old_state),
          events.map(([d]) => d.publicFrom),
          events.map(([d]) => d.publicUntil),
        ],
      );
    return events.length;
  });
}
