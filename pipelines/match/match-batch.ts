import { columnOf, tableOf } from '../../catalog/columns.js';
import type { Catalog, Resource } from '../../catalog/load.js';
import type { SqlTx } from '../../lib/db.js';
import { GuijiError } from '../../lib/errors.js';
import { type Candidate, type NameQuery, nameCandidates } from './candidates.js';

/**
 * The typed table of a resource of the catalog, quoted (the name comes from the catalog's resource id, never
 * from data: a resource id read from the warehouse, e.g. from the review queue, must be one of the catalog's).
 */
export function recordTable(catalog: Catalog, resource: string): string {
  if (!catalog.resources.has(resource))
    throw new GuijiError('GUIJI_ERR_CATALOG', `no catalog resource ${JSON.stringify(resource)}`);
  return `"${tableOf(resource)}"`;
}

/**
 * The records without a credit code of their own (the only ones matching files beyond the code, and the only
 * ones the review queue holds), of every resource, as a subquery `(resource, natural_key, match_method)`: a
 * join on resource and natural key probes each table's primary key (uscc '', natural_key).
 */
export function codelessRecordsSql(catalog: Catalog): string {
  return [...catalog.resources.keys()]
    .map(
      (id) =>
        `SELECT '${id}'::text AS resource, natural_key, match_method FROM ${recordTable(catalog, id)} WHERE uscc = ''`,
    )
    .join(' UNION ALL ');
}

/** A field's column in a resource's table, or a NULL of text when the current version has no such field. */
function fieldSql(resource: Resource, alias: string, code: string | undefined): string {
  return code && resource.current.fields.some((f) => f.code === code)
    ? `${alias}."${columnOf(code)}"`
    : 'NULL::text';
}

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
  catalog: Catalog,
  unmatched: number,
  /** The records whose score and flags step 3 sets (the loader writes those of the records it COPYs itself). */
  written: readonly BatchRecordRef[] = records,
): Promise<number> {
  if (!records.length) return unmatched;
  const registers = new Set([...catalog.resources.values()].filter((r) => r.register).map((r) => r.id));
  const registered = records.filter((r) => registers.has(r.resource) && r.uscc !== null);
  let left = unmatched;
  if (registered.length) {
    const batch = new Set(records.map((r) => recordId(r.resource, r.naturalKey)));
    left -= await registerLoaded(
      tx,
      runId,
      registered.map((r) => r.uscc as string),
      catalog,
      batch,
    );
  }
  // Only records without a credit code of their own can be matched beyond it (one with a code the register
  // lacks is filed when its enterprise arrives). The loader counted each of them unmatched; those filed now,
  // or before (by legacy id, name or a person), are not.
  const open = records.filter((r) => r.uscc === null);
  if (open.length) {
    const { unmatched: still } = await resolve(tx, runId, open, catalog);
    left = unmatched - (open.length - still);
  }
  await settle(tx, catalog, written, runId);
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
  catalog: Catalog,
): Promise<{ unmatched: number; filed: Filed[] }> {
  const rows: Unresolved[] = [];
  const byResource = new Map<string, string[]>();
  for (const r of records) push(byResource, r.resource, r.naturalKey);
  for (const [id, keys] of byResource) {
    const resource = catalog.resources.get(id);
    if (!resource) continue;
    const { subject } = resource;
    // only records without a credit code of their own (uscc '') are matched beyond it: `uscc = '' AND
    // natural_key = ANY(…)` probes the primary key; the column names come from the catalog
    const found = await tx.query<Unresolved>(
      `SELECT $1::text AS resource, r.natural_key, NULL::text AS uscc, ${fieldSql(resource, 'r', subject.name)} AS subject_name,
              n.norm AS name_norm, left(n.norm, 4) AS head, guiji_name_tail(n.norm) AS tail,
              ${fieldSql(resource, 'r', subject.uscc)} AS code, nullif(${fieldSql(resource, 'r', subject.regNo)}, '') AS reg_no,
              nullif(${fieldSql(resource, 'r', subject.orgCode)}, '') AS org_code,
              nullif(${fieldSql(resource, 'r', subject.idNumber)}, '') AS id_number,
              q.status, q.name_norm AS queued_norm, q.chosen_uscc, q.chosen_score,
              (e.uscc IS NOT NULL) AS chosen_known
       FROM ${recordTable(catalog, id)} r
       CROSS JOIN LATERAL (SELECT guiji_name_norm(${fieldSql(resource, 'r', subject.name)}) AS norm) n
       LEFT JOIN match_queue q ON q.resource = $1 AND q.natural_key = r.natural_key
       LEFT JOIN enterprises e ON e.uscc = q.chosen_uscc
       WHERE r.uscc = '' AND r.natural_key = ANY($2::text[]) AND r.match_method IS NULL`,
      [id, keys],
    );
    rows.push(...found.rows);
  }
  const open = rows;
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
    const filedBy = new Map<string, Filed[]>();
    for (const f of filed) push(filedBy, f.resource, f);
    for (const [resource, list] of filedBy) {
      await tx.query(
        `UPDATE ${recordTable(catalog, resource)} r
         SET match_method = m.method, match_score = m.score, matched_uscc = m.uscc
         FROM unnest($1::text[], $2::text[], $3::real[], $4::text[]) AS m(natural_key, method, score, uscc)
         WHERE r.uscc = '' AND r.natural_key = m.natural_key`,
        [
          list.map((f) => f.natural_key),
          list.map((f) => f.method),
          list.map((f) => f.score),
          list.map((f) => f.uscc),
        ],
      );
    }
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
      catalog,
      filed.map((f) => ({ resource: f.resource, naturalKey: f.natural_key, uscc: null })),
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
  catalog: Catalog,
  records: readonly { resource: string; naturalKey: string; uscc: string | null }[],
  runId?: number,
): Promise<void> {
  const byResource = new Map<string, { naturalKey: string; uscc: string | null }[]>();
  for (const r of records) push(byResource, r.resource, r);
  for (const [id, list] of byResource) {
    const resource = catalog.resources.get(id);
    if (!resource) continue;
    const table = recordTable(catalog, id);
    const name = fieldSql(resource, 'r', resource.subject.name);
    // one primary-key probe a record: the key is (uscc, natural_key)
    const { rows } = await tx.query<{
      natural_key: string;
      uscc: string;
      score: number | null;
      flags: string[];
    }>(
      `SELECT natural_key, uscc, score, flags FROM (
         SELECT r.natural_key, r.uscc, r.match_score, r.match_flags,
                CASE WHEN r.match_method IS NULL THEN NULL
                     WHEN r.match_method IN ('uscc', 'reg_no', 'org_code') THEN 1
                     ELSE r.match_score END::real AS score,
                array_remove(ARRAY[
                  CASE WHEN (r.match_method IS NULL OR r.match_method = 'uscc') AND r.uscc <> ''
                            AND substr(r.uscc, 3, 4) <> $3 THEN 'out_of_region' END,
                  CASE WHEN e.uscc IS NULL OR ${name} IS NULL OR ${name} = e.name THEN NULL
                       WHEN guiji_name_norm(${name}) IS NOT DISTINCT FROM e.name_norm THEN NULL
                       WHEN EXISTS (SELECT 1 FROM enterprise_names h
                                    WHERE h.uscc = e.uscc AND h.name_norm = guiji_name_norm(${name})) THEN NULL
                       ELSE 'name_mismatch' END
                ], NULL)::text[] AS flags
         FROM unnest($1::text[], $2::text[]) AS k(uscc, natural_key)
         JOIN LATERAL (SELECT * FROM ${table} t WHERE t.uscc = k.uscc AND t.natural_key = k.natural_key) r ON true
         LEFT JOIN enterprises e ON e.uscc = r.matched_uscc AND r.match_method IN ('uscc', 'reg_no', 'org_code')
         WHERE ($4::bigint IS NULL OR r.run_id = $4)
       ) x
       WHERE x.match_score IS DISTINCT FROM x.score OR x.match_flags IS DISTINCT FROM x.flags`,
      [
        list.map((r) => r.uscc ?? ''),
        list.map((r) => r.naturalKey),
        catalog.region.cityPrefix,
        runId ?? null,
      ],
    );
    if (!rows.length) continue;
    await tx.query(
      `UPDATE ${table} r SET match_score = u.score, match_flags = string_to_array(u.flags, ',')
       FROM unnest($1::text[], $2::text[], $3::real[], $4::text[]) AS u(uscc, natural_key, score, flags)
       WHERE r.uscc = u.uscc AND r.natural_key = u.natural_key`,
      [
        rows.map((r) => r.uscc),
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
  catalog: Catalog,
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
  // records with their own code, unmatched until their enterprise arrived (the key leads with the code)
  const refiled: RefiledRow[] = [];
  for (const id of catalog.resources.keys()) {
    const byCode = await tx.query<RefiledRow>(
      `UPDATE ${recordTable(catalog, id)} SET match_method = 'uscc', match_score = 1, matched_uscc = uscc
       WHERE uscc = ANY($1::text[]) AND match_method IS NULL
       RETURNING $2::text AS resource, natural_key, source, run_id`,
      [codes, id],
    );
    refiled.push(...byCode.rows);
  }
  const inBatch = refiled.filter((r) => batch.has(recordId(r.resource, r.natural_key))).length;
  // flags follow a name: a new or renamed enterprise may make its records' names agree, or disagree
  if (named.rows.length) {
    const namedCodes = named.rows.map((r) => r.uscc);
    const ofNamed: { resource: string; naturalKey: string; uscc: string | null }[] = [];
    for (const id of catalog.resources.keys()) {
      const table = recordTable(catalog, id);
      // by the key's code, and through the partial index those filed under another enterprise than their own
      const found = await tx.query<{ natural_key: string; uscc: string }>(
        `SELECT natural_key, uscc FROM ${table} WHERE uscc = ANY($1::text[])
         UNION ALL
         SELECT natural_key, uscc FROM ${table} WHERE matched_uscc = ANY($1::text[]) AND matched_uscc <> uscc`,
        [namedCodes],
      );
      for (const r of found.rows) ofNamed.push({ resource: id, naturalKey: r.natural_key, uscc: r.uscc });
    }
    await settle(tx, catalog, ofNamed);
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
      again.rows
        .filter((r) => catalog.resources.has(r.resource))
        .map((r) => ({ resource: r.resource, naturalKey: r.natural_key })),
      catalog,
    );
    const earlier = new Map<string, string[]>();
    for (const f of filed)
      if (!batch.has(recordId(f.resource, f.natural_key))) push(earlier, f.resource, f.natural_key);
    for (const [id, keys] of earlier) {
      const of = await tx.query<RefiledRow>(
        `SELECT $2::text AS resource, natural_key, source, run_id FROM ${recordTable(catalog, id)}
         WHERE uscc = '' AND natural_key = ANY($1::text[])`,
        [keys, id],
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
