/**
 * The enterprise file (一企一档): finding an enterprise by credit code, name or former name, and every record
 * of every resource filed under it. Table names come from the catalog only; the input reaches SQL as parameters.
 */
import { tableOf } from '../../catalog/columns.js';
import type { Catalog, Resource } from '../../catalog/load.js';
import type { Warehouse } from '../../lib/db.js';
import { shanghaiIso, shanghaiIsoOrNull } from '../../lib/time.js';
import { normalizeName } from '../match/name.js';
import { recordJsonSql, typedTable } from '../warehouse/typed-schema.js';

export interface EnterpriseHit {
  uscc: string;
  name: string;
  status: string | null;
  /** The name the query matched when it is a former one. */
  formerName: string | null;
}

export interface Enterprise {
  uscc: string;
  name: string;
  regNo: string | null;
  orgCode: string | null;
  legalRep: string | null;
  regDate: string | null;
  status: string | null;
  address: string | null;
  /** Every name it has held, the current one included, oldest first. */
  names: string[];
}

export interface RecordVersion {
  version: number;
  runId: number;
  changedAt: string;
  supersededAt: string;
  fields: Record<string, unknown>;
}

export interface FiledRecord {
  resource: string;
  resourceName: string;
  recordId: number;
  version: number;
  /** The credit code the record carries ('' none): differs from the enterprise's when matching filed it here. */
  ownUscc: string;
  matchMethod: string | null;
  matchScore: number | null;
  matchFlags: string[];
  disclosure: string;
  department: string | null;
  producedDate: string | null;
  receivedAt: string;
  changedAt: string;
  runId: number;
  fields: Record<string, unknown>;
  /** Earlier versions, oldest first. */
  history: RecordVersion[];
  /** Its publication state as last computed (guiji publication refresh, every run); null: never public. */
  publication: PublicationState | null;
}

export interface PublicationState {
  state: 'pending' | 'public' | 'suspended' | 'withdrawn';
  reason: string | null;
  publicFrom: string | null;
  publicUntil: string | null;
}

export interface EnterpriseProfile {
  enterprise: Enterprise;
  records: FiledRecord[];
}

const USCC = /^[0-9A-HJ-NPQRTUWXY]{18}$/;
const SEARCH_LIMIT = 50;

/** `%`, `_` and `\` taken literally in a LIKE pattern. */
function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * Enterprises whose credit code or registration number is the query, or one of whose names (current or former,
 * normalised as matching does) contains it: exact names first, then names starting with it.
 */
export async function searchEnterprises(db: Warehouse, query: string): Promise<EnterpriseHit[]> {
  const text = query.trim();
  const code = text.toUpperCase();
  if (USCC.test(code)) return byCode(db, code);
  const norm = normalizeName(text);
  if (!norm) return [];
  const rows = await db.query<{
    uscc: string;
    name: string;
    status: string | null;
    matched: string;
    rank: number;
  }>(
    `SELECT e.uscc, e.name, e.status, m.name AS matched, m.rank
     FROM (SELECT DISTINCT ON (n.uscc) n.uscc, n.name,
                  CASE WHEN n.name_norm = $1 THEN 0 WHEN n.name_norm LIKE $2 ESCAPE '\\' THEN 1 ELSE 2 END AS rank
           FROM enterprise_names n
           WHERE n.name_norm LIKE $3 ESCAPE '\\'
           ORDER BY n.uscc, rank) m
     JOIN enterprises e ON e.uscc = m.uscc
     UNION ALL
     SELECT e.uscc, e.name, e.status, e.name, -1 FROM enterprises e WHERE e.reg_no = $4
     ORDER BY 5, 2
     LIMIT $5`,
    [norm, `${likeLiteral(norm)}%`, `%${likeLiteral(norm)}%`, text, SEARCH_LIMIT],
  );
  const seen = new Map<string, EnterpriseHit>();
  for (const r of rows)
    if (!seen.has(r.uscc))
      seen.set(r.uscc, {
        uscc: r.uscc,
        name: r.name,
        status: r.status,
        formerName: r.matched !== r.name ? r.matched : null,
      });
  return [...seen.values()];
}

async function byCode(db: Warehouse, uscc: string): Promise<EnterpriseHit[]> {
  const rows = await db.query<{ uscc: string; name: string; status: string | null }>(
    'SELECT uscc, name, status FROM enterprises WHERE uscc = $1',
    [uscc],
  );
  return rows.map((r) => ({ ...r, formerName: null }));
}

interface EnterpriseRow {
  uscc: string;
  name: string;
  reg_no: string | null;
  org_code: string | null;
  legal_rep: string | null;
  reg_date: string | null;
  status: string | null;
  address: string | null;
}

/** The register's entry of `uscc` with its names, or null when the register does not hold it. */
export async function findEnterprise(db: Warehouse, uscc: string): Promise<Enterprise | null> {
  const [row] = await db.query<EnterpriseRow>(
    `SELECT uscc, name, reg_no, org_code, legal_rep, to_char(reg_date, 'YYYY-MM-DD') AS reg_date, status, address
     FROM enterprises WHERE uscc = $1`,
    [uscc],
  );
  if (!row) return null;
  const names = await db.query<{ name: string }>(
    'SELECT name FROM enterprise_names WHERE uscc = $1 ORDER BY first_seen_at, name',
    [uscc],
  );
  return {
    uscc: row.uscc,
    name: row.name,
    regNo: row.reg_no,
    orgCode: row.org_code,
    legalRep: row.legal_rep,
    regDate: row.reg_date,
    status: row.status,
    address: row.address,
    names: names.map((n) => n.name),
  };
}

interface RecordRow {
  resource: string;
  record_id: string;
  version: number;
  own_uscc: string;
  match_method: string | null;
  match_score: number | null;
  match_flags: string[];
  disclosure: string;
  department: string | null;
  produced_date: string | null;
  received_at: Date | string;
  changed_at: Date | string;
  run_id: string;
  fields: Record<string, unknown>;
}

/** One resource's records filed under `$1`: its own code (the key's first column) or matched to it (partial index). */
function filedUnderSql(resource: Resource): string {
  const table = `"${tableOf(resource.id)}"`;
  const columns = `'${resource.id}'::text AS resource, r.record_id, r.version, r.uscc AS own_uscc, r.match_method,
    r.match_score, r.match_flags, r.disclosure, r.department, to_char(r.produced_date, 'YYYY-MM-DD') AS produced_date,
    r.received_at, r.changed_at, r.run_id, ${recordJsonSql(typedTable(resource), 'r')} AS fields`;
  return `SELECT ${columns} FROM ${table} r WHERE r.uscc = $1
    UNION ALL SELECT ${columns} FROM ${table} r WHERE r.matched_uscc = $1 AND r.matched_uscc <> r.uscc`;
}

/** Every record of every resource filed under `uscc`, with its earlier versions; null for an unknown enterprise. */
export async function enterpriseProfile(
  db: Warehouse,
  catalog: Catalog,
  uscc: string,
): Promise<EnterpriseProfile | null> {
  const resources = [...catalog.resources.values()];
  const [registered, rows] = await Promise.all([
    findEnterprise(db, uscc),
    db.query<RecordRow>(
      `${resources.map(filedUnderSql).join('\nUNION ALL\n')}\nORDER BY resource, record_id`,
      [uscc],
    ),
  ]);
  const enterprise = registered ?? unregistered(catalog, uscc, rows);
  if (!enterprise) return null;
  const [history, publication] = await Promise.all([
    versionsOf(
      db,
      rows.filter((r) => r.version > 1).map((r) => r.record_id),
    ),
    publicationOf(
      db,
      rows.map((r) => r.record_id),
    ),
  ]);
  return {
    enterprise,
    records: rows.map((r) => ({
      resource: r.resource,
      resourceName: catalog.resources.get(r.resource)?.name ?? r.resource,
      recordId: Number(r.record_id),
      version: r.version,
      ownUscc: r.own_uscc,
      matchMethod: r.match_method,
      matchScore: r.match_score === null ? null : Number(r.match_score),
      matchFlags: r.match_flags,
      disclosure: r.disclosure,
      department: r.department,
      producedDate: r.produced_date,
      receivedAt: shanghaiIso(r.received_at),
      changedAt: shanghaiIso(r.changed_at),
      runId: Number(r.run_id),
      fields: r.fields,
      history: history.get(Number(r.record_id)) ?? [],
      publication: publication.get(Number(r.record_id)) ?? null,
    })),
  };
}

/**
 * A code the register does not hold but records carry (an enterprise of another region, a register not yet
 * delivered): its file still lists them, under the name the first of them gives; null when none does.
 */
function unregistered(catalog: Catalog, uscc: string, rows: readonly RecordRow[]): Enterprise | null {
  const [first] = rows;
  if (!first) return null;
  const nameField = catalog.resources.get(first.resource)?.subject.name;
  const name = nameField ? first.fields[nameField] : undefined;
  return {
    uscc,
    name: typeof name === 'string' ? name : uscc,
    regNo: null,
    orgCode: null,
    legalRep: null,
    regDate: null,
    status: null,
    address: null,
    names: [],
  };
}

/** The stored publication state of each record (the `publication` table of migration 011). */
async function publicationOf(db: Warehouse, recordIds: string[]): Promise<Map<number, PublicationState>> {
  if (!recordIds.length) return new Map();
  const rows = await db.query<{
    record_id: string;
    state: PublicationState['state'];
    reason: string | null;
    public_from: string | null;
    public_until: string | null;
  }>(
    `SELECT record_id, state, reason, public_from::text AS public_from, public_until::text AS public_until
     FROM publication WHERE record_id = ANY($1::bigint[])`,
    [recordIds],
  );
  return new Map(
    rows.map((r) => [
      Number(r.record_id),
      { state: r.state, reason: r.reason, publicFrom: r.public_from, publicUntil: r.public_until },
    ]),
  );
}

async function versionsOf(db: Warehouse, recordIds: string[]): Promise<Map<number, RecordVersion[]>> {
  const out = new Map<number, RecordVersion[]>();
  if (!recordIds.length) return out;
  const rows = await db.query<{
    record_id: string;
    version: number;
    run_id: string;
    changed_at: Date | string;
    superseded_at: Date | string;
    data: Record<string, unknown>;
  }>(
    `SELECT record_id, version, run_id, changed_at, superseded_at, data FROM record_history
     WHERE record_id = ANY($1::bigint[]) ORDER BY record_id, version`,
    [recordIds],
  );
  for (const r of rows) {
    const list = out.get(Number(r.record_id)) ?? [];
    list.push({
      version: r.version,
      runId: Number(r.run_id),
      changedAt: shanghaiIso(r.changed_at),
      supersededAt: shanghaiIsoOrNull(r.superseded_at) as string,
      fields: r.data,
    });
    out.set(Number(r.record_id), list);
  }
  return out;
}

/**
 * The public preview: the records of the profile as the public views show them (`v_<resource>_public`: public
 * resources, public rows, sensitive fields masked), by record id. Shared resources have no public view.
 */
export async function publicPreview(
  db: Warehouse,
  catalog: Catalog,
  records: readonly FiledRecord[],
): Promise<FiledRecord[]> {
  const out: FiledRecord[] = [];
  for (const resource of catalog.resources.values()) {
    if (resource.disclosure !== 'public') continue;
    const mine = records.filter((r) => r.resource === resource.id && r.disclosure === 'public');
    if (!mine.length) continue;
    // as JSON: dates come back as the view writes them, not as the driver's local-time Date
    const rows = await db.query<{ row: Record<string, unknown> }>(
      `SELECT row_to_json(v) AS row FROM "v_${resource.id}_public" v WHERE v.record_id = ANY($1::bigint[])`,
      [mine.map((r) => r.recordId)],
    );
    const byId = new Map(rows.map(({ row }) => [Number(row.record_id), row]));
    for (const record of mine) {
      const row = byId.get(record.recordId);
      if (!row) continue;
      out.push({ ...record, fields: publicFields(resource, row), history: [] });
    }
  }
  return out;
}

/** The view's field columns back under their field codes (the view names them in lower case). */
function publicFields(resource: Resource, row: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const field of resource.current.fields) {
    const value = row[field.code.toLowerCase()];
    if (value === null || value === undefined) continue;
    fields[field.code] = value;
  }
  return fields;
}
