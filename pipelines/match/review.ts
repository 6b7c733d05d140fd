import type { Catalog } from '../../catalog/load.js';
import type { Warehouse } from '../../lib/db.js';
import { GuijiError } from '../../lib/errors.js';
import { shanghaiIso } from '../../lib/time.js';
import { type Candidate, round } from './candidates.js';
import { codelessRecordsSql, recordTable, settle } from './match-batch.js';
import { nameSimilarity } from './name.js';

/** A record waiting for a person to choose its enterprise (the `guiji review list --json` contract). */
export interface Review {
  id: number;
  resource: string;
  naturalKey: string;
  /** The subject's name as the record carries it. */
  name: string | null;
  regNo: string | null;
  orgCode: string | null;
  candidates: Candidate[];
  runId: number;
  queuedAt: string;
}

/** What a decision did (`guiji review accept|reject --json`). */
export interface Decision {
  id: number;
  resource: string;
  naturalKey: string;
  status: 'accepted' | 'rejected';
  uscc: string | null;
  enterprise: string | null;
  score: number | null;
}

interface QueueRow {
  id: string;
  resource: string;
  natural_key: string;
  name: string | null;
  name_norm: string | null;
  reg_no: string | null;
  org_code: string | null;
  status: string;
  candidates: Candidate[];
  run_id: string;
  created_at: Date | string;
  match_method: string | null;
}

/** Records waiting for review whose record is still unmatched, oldest first. */
export async function listReviews(
  db: Warehouse,
  catalog: Catalog,
  options: { limit?: number } = {},
): Promise<Review[]> {
  const rows = await db.query<QueueRow>(
    `SELECT q.id, q.resource, q.natural_key, q.name, q.name_norm, q.reg_no, q.org_code, q.status, q.candidates,
            q.run_id, q.created_at, r.match_method
     FROM match_queue q JOIN (${codelessRecordsSql(catalog)}) r
       ON r.resource = q.resource AND r.natural_key = q.natural_key
     WHERE q.status = 'waiting' AND r.match_method IS NULL
     ORDER BY q.id
     LIMIT $1`,
    [options.limit ?? 100],
  );
  return rows.map((q) => ({
    id: Number(q.id),
    resource: q.resource,
    naturalKey: q.natural_key,
    name: q.name,
    regNo: q.reg_no,
    orgCode: q.org_code,
    candidates: q.candidates,
    runId: Number(q.run_id),
    queuedAt: shanghaiIso(q.created_at),
  }));
}

function usage(message: string): GuijiError {
  return new GuijiError('GUIJI_ERR_USAGE', message);
}

/**
 * Files the record of queue entry `id` under the enterprise `uscc` (or the only candidate): match_method
 * 'manual', the credit code the enterprise's, the score its name's similarity to the record's (1 for a legacy
 * id). The decision is kept: a new version of the record with the same name is filed the same way.
 */
export async function acceptReview(
  db: Warehouse,
  catalog: Catalog,
  id: number,
  uscc?: string,
): Promise<Decision> {
  return db.transaction(async (tx) => {
    const q = await queueRow(tx, catalog, id);
    if (q.match_method !== null) {
      throw usage(`review ${id}: the record is already matched (${q.match_method}); nothing to decide`);
    }
    let chosen = uscc?.trim().toUpperCase();
    if (!chosen) {
      const [only, ...more] = q.candidates;
      if (!only || more.length) {
        throw usage(
          `review ${id} has ${q.candidates.length} candidates: choose one with --uscc (${q.candidates
            .map((c) => `${c.uscc} ${c.name}`)
            .join('; ')})`,
        );
      }
      chosen = only.uscc;
    }
    const { rows: names } = await tx.query<{ name: string; name_norm: string; current: string }>(
      `SELECT n.name, n.name_norm, e.name AS current FROM enterprises e
       LEFT JOIN enterprise_names n ON n.uscc = e.uscc WHERE e.uscc = $1`,
      [chosen],
    );
    const [first] = names;
    if (!first) throw usage(`review ${id}: ${chosen} is not an enterprise of the register`);
    const offered = q.candidates.find((c) => c.uscc === chosen);
    const score =
      offered?.score ??
      round(
        Math.max(
          0,
          ...names.map((n) => (q.name_norm && n.name_norm ? nameSimilarity(q.name_norm, n.name_norm) : 0)),
        ),
      );
    await tx.query(
      `UPDATE ${recordTable(catalog, q.resource)} SET match_method = 'manual', match_score = $2, matched_uscc = $3
       WHERE uscc = '' AND natural_key = $1`,
      [q.natural_key, score, chosen],
    );
    await settle(tx, catalog, [{ resource: q.resource, naturalKey: q.natural_key, uscc: null }]);
    await tx.query(
      `UPDATE match_queue SET status = 'accepted', chosen_uscc = $2, chosen_score = $3, decided_at = now(),
              updated_at = now()
       WHERE id = $1`,
      [id, chosen, score],
    );
    return {
      id,
      resource: q.resource,
      naturalKey: q.natural_key,
      status: 'accepted',
      uscc: chosen,
      enterprise: first.current,
      score,
    };
  });
}

/**
 * Leaves the record of queue entry `id` unmatched (undoing a manual match) and remembers it: later runs do
 * not queue it again while its name stays the same (a registration number or organisation code found later
 * still files it).
 */
export async function rejectReview(db: Warehouse, catalog: Catalog, id: number): Promise<Decision> {
  return db.transaction(async (tx) => {
    const q = await queueRow(tx, catalog, id);
    if (q.match_method !== null && q.match_method !== 'manual') {
      throw usage(`review ${id}: the record is already matched (${q.match_method}); nothing to decide`);
    }
    if (q.match_method === 'manual') {
      await tx.query(
        `UPDATE ${recordTable(catalog, q.resource)}
         SET match_method = NULL, match_score = NULL, matched_uscc = NULL, match_flags = '{}'
         WHERE uscc = '' AND natural_key = $1`,
        [q.natural_key],
      );
    }
    await tx.query(
      `UPDATE match_queue SET status = 'rejected', chosen_uscc = NULL, chosen_score = NULL, decided_at = now(),
              updated_at = now()
       WHERE id = $1`,
      [id],
    );
    return {
      id,
      resource: q.resource,
      naturalKey: q.natural_key,
      status: 'rejected',
      uscc: null,
      enterprise: null,
      score: null,
    };
  });
}

async function queueRow(
  tx: { query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }> },
  catalog: Catalog,
  id: number,
): Promise<QueueRow> {
  if (!Number.isSafeInteger(id) || id <= 0)
    throw usage(`review id must be a positive whole number, got ${id}`);
  const { rows } = await tx.query<QueueRow>(
    `SELECT q.id, q.resource, q.natural_key, q.name, q.name_norm, q.reg_no, q.org_code, q.status, q.candidates,
            q.run_id, q.created_at, r.match_method
     FROM match_queue q JOIN (${codelessRecordsSql(catalog)}) r
       ON r.resource = q.resource AND r.natural_key = q.natural_key
     WHERE q.id = $1
     FOR UPDATE OF q`,
    [id],
  );
  const [row] = rows;
  if (!row) throw usage(`no review ${id}: \`guiji review list\` shows the waiting ones`);
  return row;
}

/** The waiting records for a terminal: each with its candidates, best first. */
export function formatReviews(reviews: readonly Review[]): string {
  if (!reviews.length) return 'nothing waiting for review';
  const why: Record<Candidate['why'], string> = {
    'same-name': 'same name',
    'same-former-name': 'same as a former name',
    'similar-name': 'similar name',
    'similar-former-name': 'similar to a former name',
    'reg-no': 'registration number',
    'org-code': 'organisation code',
  };
  const lines: string[] = [];
  for (const r of reviews) {
    const ids = [r.regNo ? `reg no ${r.regNo}` : '', r.orgCode ? `org code ${r.orgCode}` : '']
      .filter(Boolean)
      .join(', ');
    lines.push(`#${r.id}  ${r.resource}  ${r.name ?? '(no name)'}${ids ? `  (${ids})` : ''}  run ${r.runId}`);
    lines.push(`    key ${r.naturalKey}`);
    for (const c of r.candidates) {
      const former = c.matchedName !== c.name ? ` — as ${c.matchedName}` : '';
      lines.push(`    ${c.uscc}  ${c.score.toFixed(3)}  ${c.name}  (${why[c.why]}${former})`);
    }
  }
  lines.push(
    '',
    'guiji review accept ID [--uscc CODE] files a record; guiji review reject ID leaves it unmatched',
  );
  return lines.join('\n');
}
