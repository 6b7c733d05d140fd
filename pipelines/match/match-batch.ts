import type { Resource } from '../../catalog/load.js';
import type { SqlTx } from '../../lib/db.js';
import { type Candidate, type NameQuery, nameCandidates } from './candidates.js';

/**
 * The division-code prefix of the city's own registrations (the catalog's `region.cityPrefix`, 阜阳市 3412):
 * a credit code whose positions 3–6 differ was registered elsewhere. The loader has no catalog at hand, so
 * it is a constant here; test/match-name.test.ts keeps it equal to the bundled catalog.
 */
export const CITY_PREFIX = '3412';

/** How a record was filed under its enterprise (records.match_method); NULL while unmatched. */
export type MatchMethod = 'uscc' | 'reg_no' | 'org_code' | 'name' | 'manual';

/** What the loader knows of a record of the batch. */
export interface BatchRecordRef {
  resource: string;
  naturalKey: string;
  /** The credit code as received, null when absent or the placeholder. */
  uscc: string | null;
}

/**
 * Matching beyond the exact credit code, for one batch, inside its transaction, after its records are written
 * (the loader has filed every record whose credit code is in the register: match_method 'uscc').
 * 1. Register rows of the batch: their names join the name history, and records left unmatched before are
 *    matched again against the enterprises that arrived or changed (re-matching happens at register load).
 * 2. Records of the batch still unmatched without a credit code: by registration number, organisation code,
 *    then normalised name; certain matches are filed, uncertain ones wait in the review queue.
 * 3. The written records' score and flags ('out_of_region', 'name_mismatch').
 * Takes the loader's count of unmatched records and returns it corrected for the records filed beyond the
 * exact code (the ledger's `unmatched`: still unmatched after every method, review-waiting ones included).
 * A batch whose records all carry a credit code (the hot path) skips steps 1–2 without a query; step 3 is
 * one primary-key-probing SELECT per resource (about the cost of the loader's own key lookup), and an UPDATE
 * only when some record's score or flags change.
 */
export async function matchBatch(
  tx: SqlTx,
  runId: number,
  records: readonly BatchRecordRef[],
  resources: ReadonlyMap<string, Resource>,
  unmatched: number,
  /** The records whose score and flags step 3 sets (the loader writes those of the records it COPYs itself). */
  written: readonly BatchRecordRef[] = records,
): Promise<number> {
  if (!records.length) return unmatched;
  const registers = new Set([...resources.values()].filter((r) => r.register).map((r) => r.id));
  const registered = records.filter((r) => registers.has(r.resource) && r.uscc !== null);
  let left = unmatched;
  if (registered.length) {
    const batch = new Set(records.map((r) => recordId(r.resource, r.naturalKey)));
    left -= await registerLoaded(
      tx,
      runId,
      registered.map((r) => r.uscc as string),
      resources,
      batch,
    );
  }
  // Only records without a credit code of their own can be matched beyond it (one with a code the register
  // lacks is filed when its enterprise arrives). The loader counted each of them unmatched; those filed now,
  // or before (by legacy id, name or a person), are not.
  const open = records.filter((r) => r.uscc === null);
  if (open.length) {
    const { unmatched: still } = await resolve(tx, runId, open, resources);
    left = unmatched - (open.length - still);
  }
  await settle(tx, written, runId);
  return left;
}

interface Unresolved {
  resource: string;
  natural_key: string;
  uscc: string | null;
  subject_name: string | null;
  name_norm: string | null;
  head: string | null;
  tail: string | null;
  code: string | null;
  reg_no: string | null;
  org_code: string | null;
  id_number: string | null;
  status: string | null;
  queued_norm: string | null;
  chosen_uscc: string | null;
  chosen_score: number | null;
  chosen_known: boolean;
}

interface Filed {
  resource: string;
  natural_key: string;
  method: MatchMethod;
  score: number;
  uscc: string;
}

interface Queued {
  resource: string;
  natural_key: string;
  name: string | null;
  name_norm: string | null;
  reg_no: string | null;
  org_code: string | null;
  status: 'unmatched' | 'waiting';
  candidates: Candidate[];
}

/**
 * Matches the given records that are still unmatched. A record with a credit code of its own is left alone
 * (its code is simply not in the register: the loader and re-matching at register load file it by code). A
 * record without one is filed by its registration number or organisation code when exactly one enterprise
 * holds it, else by its normalised name when exactly one enterprise holds or held that name; several
 * enterprises or only close names put it in the review queue, nothing at all leaves it 'unmatched' there (so
 * that register rows arriving later find it). A natural person (no code, an ID number, no legacy id) is
 * never matched to an enterprise.
 */
async function resolve(
  tx: SqlTx,
  runId: number,
  records: readonly { resource: string; naturalKey: string }[],
  resources: ReadonlyMap<string, Resource>,
): Promise<{ unmatched: number; filed: Filed[] }> {
  const rows: Unresolved[] = [];
  const byResource = new Map<string, string[]>();
  for (const r of records) push(byResource, r.resource, r.naturalKey);
  for (const [id, keys] of byResource) {
    const subject = resources.get(id)?.subject;
    if (!subject) continue;
    // one resource at a time: `natural_key = ANY(…)` probes the primary key (a join with unnest() let the
    // planner scan the whole table); the field codes come from the catalog, passed as parameters
    const found = await tx.query<Unresolved>(
      `SELECT r.resource, r.natural_key, r.uscc, r.subject_name, n.norm AS name_norm,
              left(n.norm, 4) AS head, guiji_name_tail(n.norm) AS tail,
              r.data->>$3 AS code, nullif(r.data->>$4, '') AS reg_no,
              nullif(r.data->>$5, '') AS org_code, nullif(r.data->>$6, '') AS id_number,
              q.status, q.name_norm AS queued_norm, q.chosen_uscc, q.chosen_score,
              (e.uscc IS NOT NULL) AS chosen_known
       FROM records r
       CROSS JOIN LATERAL (SELECT guiji_name_norm(r.subject_name) AS norm) n
       LEFT JOIN match_queue q ON q.resource = r.resource AND q.natural_key = r.natural_key
       LEFT JOIN enterprises e ON e.uscc = q.chosen_uscc
       WHERE r.resource = $1 AND r.natural_key = ANY($2::text[]) AND r.match_method IS NULL`,
      [id, keys, subject.uscc, subject.regNo ?? '', subject.orgCode ?? '', subject.idNumber ?? ''],
    );
    rows.push(...found.rows);
  }
  const open = rows.filter((r) => r.uscc === null);
  const filed: Filed[] = [];
  const queued: Queued[] = [];
  const cleared: Unresolved[] = [];

  // a person's decision stands while the record's name is the one decided on
  const decided = (r: Unresolved) => r.queued_norm === r.name_norm;
  const pending: Unresolved[] = [];
  for (const r of open) {
    if (r.status === 'accepted' && decided(r) && r.chosen_uscc && r.chosen_known) {
      filed.push({ ...key(r), method: 'manual', score: r.chosen_score ?? 1, uscc: r.chosen_uscc });
    } else if (!r.code && r.id_number && !r.reg_no && !r.org_code) {
      cleared.push(r);
    } else if (r.name_norm || r.reg_no || r.org_code) {
      pending.push(r);
    }
  }

  // legacy identifiers: one query for the batch
  const regNos = [...new Set(pending.map((r) => r.reg_no).filter((v): v is string => !!v))];
  const orgCodes = [...new Set(pending.map((r) => r.org_code).filter((v): v is string => !!v))];
  const byRegNo = new Map<string, { uscc: string; name: string }[]>();
  const byOrgCode = new Map<string, { uscc: string; name: string }[]>();
  if (regNos.length || orgCodes.length) {
    const legacy = await tx.query<{
      uscc: string;
      name: string;
      reg_no: string | null;
      org_code: string | null;
    }>(
      `SELECT uscc, name, reg_no, org_code FROM enterprises
       WHERE reg_no = ANY($1::text[]) OR org_code = ANY($2::text[])`,
      [regNos, orgCodes],
    );
    for (const e of legacy.rows) {
      if (e.reg_no && regNos.includes(e.reg_no)) push(byRegNo, e.reg_no, e);
      if (e.org_code && orgCodes.includes(e.org_code)) push(byOrgCode, e.org_code, e);
    }
  }

  const byName: Unresolved[] = [];
  for (const r of pending) {
    const reg = r.reg_no ? (byRegNo.get(r.reg_no) ?? []) : [];
    const org = r.org_code ? (byOrgCode.get(r.org_code) ?? []) : [];
    const legacy = [
      ...reg.map((e) => ({
        uscc: e.uscc,
        name: e.name,
        matchedName: e.name,
        score: 1,
        why: 'reg-no' as const,
      })),
      ...org.map((e) => ({
        uscc: e.uscc,
        name: e.name,
        matchedName: e.name,
        score: 1,
        why: 'org-code' as const,
      })),
    ];
    const enterprises = new Set(legacy.map((c) => c.uscc));
    if (enterprises.size === 1) {
      const [only] = legacy as [Candidate];
      filed.push({ ...key(r), method: reg.length ? 'reg_no' : 'org_code', score: 1, uscc: only.uscc });
    } else if (enterprises.size > 1) {
      // a legacy id held by several enterprises, or a registration number and an organisation code that
      // point at different ones: a person decides
      queued.push(queue(r, 'waiting', legacy));
    } else if (r.name_norm && !(r.status === 'rejected' && decided(r))) {
      byName.push(r);
    } else if (!(r.status === 'rejected' && decided(r))) {
      queued.push(queue(r, 'unmatched', []));
    }
  }

  const names = await nameCandidates(
    tx,
    byName.map((r): NameQuery => ({ norm: r.name_norm as string, head: r.head, tail: r.tail })),
  );
  for (const r of byName) {
    const found = names.get(r.name_norm as string) ?? { exact: [], close: [] };
    const [first] = found.exact;
    if (found.exact.length === 1 && first) {
      filed.push({ ...key(r), method: 'name', score: 1, uscc: first.uscc });
    } else if (found.exact.length > 1) {
      queued.push(queue(r, 'waiting', found.exact));
    } else if (found.close.length) {
      queued.push(queue(r, 'waiting', found.close));
    } else {
      queued.push(queue(r, 'unmatched', []));
    }
  }

  if (filed.length) {
    await tx.query(
      `UPDATE records r SET match_method = m.method, match_score = m.score, uscc = m.uscc
       FROM unnest($1::text[], $2::text[], $3::text[], $4::real[], $5::text[])
         AS m(resource, natural_key, method, score, uscc)
       WHERE r.resource = m.resource AND r.natural_key = m.natural_key`,
      [
        filed.map((f) => f.resource),
        filed.map((f) => f.natural_key),
        filed.map((f) => f.method),
        filed.map((f) => f.score),
        filed.map((f) => f.uscc),
      ],
    );
    const automatic = filed.filter((f) => f.method !== 'manual');
    if (automatic.length) {
      await tx.query(
        `DELETE FROM match_queue q USING unnest($1::text[], $2::text[]) AS m(resource, natural_key)
         WHERE q.resource = m.resource AND q.natural_key = m.natural_key`,
        [automatic.map((f) => f.resource), automatic.map((f) => f.natural_key)],
      );
    }
  }
  if (queued.length) {
    // a decision (accepted, rejected) is replaced only when the record's name changed since
    await tx.query(
      `INSERT INTO match_queue (resource, natural_key, name, name_norm, reg_no, org_code, status, candidates, run_id)
       SELECT x.resource, x.natural_key, x.name, x.name_norm, x.reg_no, x.org_code, x.status, x.candidates, $2
       FROM jsonb_to_recordset($1::jsonb) AS x(resource text, natural_key text, name text, name_norm text,
                                                 reg_no text, org_code text, status text, candidates jsonb)
       ON CONFLICT (resource, natural_key) DO UPDATE SET
         name = EXCLUDED.name, name_norm = EXCLUDED.name_norm, reg_no = EXCLUDED.reg_no,
         org_code = EXCLUDED.org_code, status = EXCLUDED.status, candidates = EXCLUDED.candidates,
         chosen_uscc = NULL, chosen_score = NULL, decided_at = NULL, run_id = EXCLUDED.run_id, updated_at = now()
       WHERE match_queue.status IN ('unmatched', 'waiting')
          OR match_queue.name_norm IS DISTINCT FROM EXCLUDED.name_norm`,
      // in key order: review ids follow the records, whatever order the lookups returned them in
      [
        JSON.stringify(
          queued.sort((a, b) =>
            a.resource === b.resource
              ? a.natural_key < b.natural_key
                ? -1
                : 1
              : a.resource < b.resource
                ? -1
                : 1,
          ),
        ),
        runId,
      ],
    );
  }
  if (cleared.length) {
    await tx.query(
      `DELETE FROM match_queue q USING unnest($1::text[], $2::text[]) AS m(resource, natural_key)
       WHERE q.resource = m.resource AND q.natural_key = m.natural_key AND q.status IN ('unmatched', 'waiting')`,
      [cleared.map((r) => r.resource), cleared.map((r) => r.natural_key)],
    );
  }
  // records filed now that were not written by this batch (unchanged ones, older ones) get their flags here
  if (filed.length) {
    await settle(
      tx,
      filed.map((f) => ({ resource: f.resource, naturalKey: f.natural_key })),
    );
  }
  return { unmatched: rows.length - filed.length, filed };
}

function key(r: Unresolved): { resource: string; natural_key: string } {
  return { resource: r.resource, natural_key: r.natural_key };
}

function queue(r: Unresolved, status: 'unmatched' | 'waiting', candidates: Candidate[]): Queued {
  return {
    resource: r.resource,
    natural_key: r.natural_key,
    name: r.subject_name,
    name_norm: r.name_norm,
    reg_no: r.reg_no,
    org_code: r.org_code,
    status,
    candidates,
  };
}

function push<T>(map: Map<string, T[]>, k: string, v: T): void {
  const list = map.get(k);
  if (list) list.push(v);
  else map.set(k, [v]);
}

/**
 * The score and flags of records, set in one statement that writes only the rows whose values change:
 * - match_score: 1 for a code or legacy-id match, NULL while unmatched (a record is COPYed with 1);
 * - 'out_of_region': the record's own credit code (matched or not) has positions 3–6 other than the city's;
 *   a placeholder or absent code has no region and is never flagged; codes of every registration authority
 *   (A 军队, N 农业, Y 其他 included) carry a division code in positions 3–8 and are judged alike;
 * - 'name_mismatch': matched by code or legacy id, and the record's subject name, normalised, is neither the
 *   register's name nor one of its former names.
 * With `runId`, only the records written by that run (unchanged records keep what they have).
 */
export async function settle(
  tx: SqlTx,
  records: readonly { resource: string; naturalKey: string }[],
  runId?: number,
): Promise<void> {
  const byResource = new Map<string, string[]>();
  for (const r of records) push(byResource, r.resource, r.naturalKey);
  for (const [resource, keys] of byResource) {
    // one resource at a time: `natural_key = ANY(…)` probes the primary key, where a join with unnest() let
    // the planner scan the whole table
    const { rows } = await tx.query<{ natural_key: string; score: number | null; flags: string[] }>(
      `SELECT natural_key, score, flags FROM (
         SELECT r.natural_key, r.match_score, r.match_flags,
                CASE WHEN r.match_method IS NULL THEN NULL
                     WHEN r.match_method IN ('uscc', 'reg_no', 'org_code') THEN 1
                     ELSE r.match_score END::real AS score,
                array_remove(ARRAY[
                  CASE WHEN (r.match_method IS NULL OR r.match_method = 'uscc') AND r.uscc IS NOT NULL
                            AND substr(r.uscc, 3, 4) <> $3 THEN 'out_of_region' END,
                  CASE WHEN e.uscc IS NULL OR r.subject_name IS NULL OR r.subject_name = e.name THEN NULL
                       WHEN guiji_name_norm(r.subject_name) IS NOT DISTINCT FROM e.name_norm THEN NULL
                       WHEN EXISTS (SELECT 1 FROM enterprise_names h
                                    WHERE h.uscc = e.uscc AND h.name_norm = guiji_name_norm(r.subject_name)) THEN NULL
                       ELSE 'name_mismatch' END
                ], NULL)::text[] AS flags
         FROM records r
         LEFT JOIN enterprises e ON e.uscc = r.uscc AND r.match_method IN ('uscc', 'reg_no', 'org_code')
         WHERE r.resource = $1 AND r.natural_key = ANY($2::text[]) AND ($4::bigint IS NULL OR r.run_id = $4)
       ) x
       WHERE x.match_score IS DISTINCT FROM x.score OR x.match_flags IS DISTINCT FROM x.flags`,
      [resource, keys, CITY_PREFIX, runId ?? null],
    );
    if (!rows.length) continue;
    await tx.query(
      `UPDATE records r SET match_score = u.score, match_flags = string_to_array(u.flags, ',')
       FROM unnest($2::text[], $3::real[], $4::text[]) AS u(natural_key, score, flags)
       WHERE r.resource = $1 AND r.natural_key = ANY($2::text[]) AND r.natural_key = u.natural_key`,
      [
        resource,
        rows.map((r) => r.natural_key),
        rows.map((r) => r.score),
        rows.map((r) => r.flags.join(',')),
      ],
    );
  }
}

/**
 * Register rows were written by this batch: the names of the enterprises they inserted or changed join the
 * name history, and records unmatched so far are matched again against those enterprises — by their own
 * credit code (any record), and through the queue by registration number, organisation code, the same
 * normalised name or a shared blocking key (records without a code).
 * Records this run loaded in earlier batches were counted unmatched in their source's ledger: that count
 * drops now. Returns how many records of the batch itself (`batch`, by {@link recordId}) their credit code
 * filed, for the caller to take off the batch's own count (those filed by name are the caller's step 2).
 */
async function registerLoaded(
  tx: SqlTx,
  runId: number,
  usccs: readonly string[],
  resources: ReadonlyMap<string, Resource>,
  batch: ReadonlySet<string>,
): Promise<number> {
  const touched = await tx.query<{
    uscc: string;
    reg_no: string | null;
    org_code: string | null;
    name_norm: string | null;
    head: string | null;
    tail: string | null;
  }>(
    `SELECT uscc, reg_no, org_code, name_norm, left(name_norm, 4) AS head, guiji_name_tail(name_norm) AS tail
     FROM enterprises WHERE uscc = ANY($1::text[]) AND run_id = $2`,
    [usccs, runId],
  );
  if (!touched.rows.length) return 0;
  const list = touched.rows;
  const codes = list.map((e) => e.uscc);
  // a new name (a new enterprise, or a renamed one) joins the history; the others are there already
  const named = await tx.query<{ uscc: string }>(
    `INSERT INTO enterprise_names (uscc, name, name_norm, first_run_id)
     SELECT uscc, name, name_norm, $2 FROM enterprises WHERE uscc = ANY($1::text[]) AND name_norm IS NOT NULL
     ON CONFLICT (uscc, name_norm) DO NOTHING
     RETURNING uscc`,
    [codes, runId],
  );
  // records with their own code, unmatched until their enterprise arrived
  const byCode = await tx.query<RefiledRow>(
    `UPDATE records SET match_method = 'uscc', match_score = 1
     WHERE uscc = ANY($1::text[]) AND match_method IS NULL
     RETURNING resource, natural_key, source, run_id`,
    [codes],
  );
  const inBatch = byCode.rows.filter((r) => batch.has(recordId(r.resource, r.natural_key))).length;
  const refiled = byCode.rows;
  // flags follow a name: a new or renamed enterprise may make its records' names agree, or disagree
  if (named.rows.length) {
    const ofNamed = await tx.query<{ resource: string; natural_key: string }>(
      `SELECT resource, natural_key FROM records WHERE uscc = ANY($1::text[])`,
      [named.rows.map((r) => r.uscc)],
    );
    await settle(
      tx,
      ofNamed.rows.map((r) => ({ resource: r.resource, naturalKey: r.natural_key })),
    );
  }

  const strings = (f: (e: (typeof list)[number]) => string | null) => [
    ...new Set(list.map(f).filter((v): v is string => !!v)),
  ];
  const again = await tx.query<{ resource: string; natural_key: string }>(
    `SELECT q.resource, q.natural_key FROM match_queue q
     WHERE q.status IN ('unmatched', 'waiting', 'rejected')
       AND (q.reg_no = ANY($1::text[]) OR q.org_code = ANY($2::text[]) OR q.name_norm = ANY($3::text[])
            OR left(q.name_norm, 4) = ANY($4::text[]) OR guiji_name_tail(q.name_norm) = ANY($5::text[]))`,
    [
      strings((e) => e.reg_no),
      strings((e) => e.org_code),
      strings((e) => e.name_norm),
      strings((e) => e.head),
      strings((e) => e.tail),
    ],
  );
  if (again.rows.length) {
    const { filed } = await resolve(
      tx,
      runId,
      again.rows.map((r) => ({ resource: r.resource, naturalKey: r.natural_key })),
      resources,
    );
    const earlier = filed.filter((f) => !batch.has(recordId(f.resource, f.natural_key)));
    if (earlier.length) {
      const of = await tx.query<RefiledRow>(
        `SELECT r.resource, r.natural_key, r.source, r.run_id
         FROM records r JOIN unnest($1::text[], $2::text[]) AS m(resource, natural_key)
           ON r.resource = m.resource AND r.natural_key = m.natural_key`,
        [earlier.map((f) => f.resource), earlier.map((f) => f.natural_key)],
      );
      refiled.push(...of.rows);
    }
  }
  await uncount(
    tx,
    runId,
    refiled.filter((r) => !batch.has(recordId(r.resource, r.natural_key))),
  );
  return inBatch;
}

interface RefiledRow {
  resource: string;
  natural_key: string;
  source: string;
  run_id: string | number;
}

/** A record's identity in a set: resource and natural key. */
function recordId(resource: string, naturalKey: string): string {
  return `${resource}\u0000${naturalKey}`;
}

/**
 * Takes records this run loaded in earlier batches, and filed now, off their source's `unmatched`. (A record
 * an earlier run loaded, and this run found unchanged, stays counted: its row does not say which run read it.)
 */
async function uncount(tx: SqlTx, runId: number, refiled: readonly RefiledRow[]): Promise<void> {
  const bySource = new Map<string, number>();
  for (const r of refiled) {
    if (Number(r.run_id) === runId) bySource.set(r.source, (bySource.get(r.source) ?? 0) + 1);
  }
  for (const [source, n] of bySource) {
    await tx.query(
      'UPDATE source_runs SET unmatched = greatest(unmatched - $3, 0) WHERE run_id = $1 AND source = $2',
      [runId, source, n],
    );
  }
}
