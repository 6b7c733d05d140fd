import type { SqlTx } from '../../lib/db.js';
import { NAME_THRESHOLD, nameSimilarity } from './name.js';

/** Why an enterprise is offered for a record: shown by `guiji review list`, stored with the queue row. */
export type CandidateReason =
  | 'same-name'
  | 'same-former-name'
  | 'similar-name'
  | 'similar-former-name'
  | 'reg-no'
  | 'org-code';

export interface Candidate {
  uscc: string;
  /** The enterprise's current name in the register. */
  name: string;
  /** The name compared (the current one or a former one). */
  matchedName: string;
  score: number;
  why: CandidateReason;
}

/** At most this many candidates are kept for review, best first. */
export const MAX_CANDIDATES = 5;

interface NameRow {
  uscc: string;
  name: string;
  name_norm: string;
  current_name: string;
  current: boolean;
  head: string;
  tail: string;
}

/** A record's name to look up: its normalised form and the blocking keys SQL computed for it. */
export interface NameQuery {
  norm: string;
  head: string | null;
  tail: string | null;
}

/**
 * The enterprises whose current or former name equals each query name, or is close to it: one query for the
 * whole batch. Close candidates are found through two cheap blocking keys (indexed): the first four
 * characters of the normalised name, and the last three before its legal-form ending — a name that differs in
 * its beginning (a missing region prefix) still shares its end, and the other way round. Their bigram Dice
 * score is then computed here; those below {@link NAME_THRESHOLD} are dropped.
 */
export async function nameCandidates(
  tx: SqlTx,
  queries: readonly NameQuery[],
): Promise<Map<string, { exact: Candidate[]; close: Candidate[] }>> {
  const out = new Map<string, { exact: Candidate[]; close: Candidate[] }>();
  if (!queries.length) return out;
  const norms = [...new Set(queries.map((q) => q.norm))];
  const heads = [...new Set(queries.map((q) => q.head).filter((h): h is string => !!h))];
  const tails = [...new Set(queries.map((q) => q.tail).filter((t): t is string => !!t))];
  const { rows } = await tx.query<NameRow>(
    `SELECT n.uscc, n.name, n.name_norm, e.name AS current_name, (n.name_norm = e.name_norm) AS current,
            left(n.name_norm, 4) AS head, guiji_name_tail(n.name_norm) AS tail
     FROM enterprise_names n JOIN enterprises e ON e.uscc = n.uscc
     WHERE n.name_norm = ANY($1::text[]) OR left(n.name_norm, 4) = ANY($2::text[])
        OR guiji_name_tail(n.name_norm) = ANY($3::text[])`,
    [norms, heads, tails],
  );
  const byNorm = group(rows, (r) => r.name_norm);
  const byHead = group(rows, (r) => r.head);
  const byTail = group(rows, (r) => r.tail);
  for (const q of queries) {
    if (out.has(q.norm)) continue;
    const exact = best(
      (byNorm.get(q.norm) ?? []).map((r) => candidate(r, 1, r.current ? 'same-name' : 'same-former-name')),
    );
    const seen = new Set(exact.map((c) => c.uscc));
    const pool = [
      ...(q.head ? (byHead.get(q.head) ?? []) : []),
      ...(q.tail ? (byTail.get(q.tail) ?? []) : []),
    ];
    const close = best(
      pool
        .filter((r) => !seen.has(r.uscc))
        .map((r) => {
          const score = round(nameSimilarity(q.norm, r.name_norm));
          return candidate(r, score, r.current ? 'similar-name' : 'similar-former-name');
        })
        .filter((c) => c.score >= NAME_THRESHOLD),
    );
    out.set(q.norm, { exact, close });
  }
  return out;
}

function candidate(r: NameRow, score: number, why: CandidateReason): Candidate {
  return { uscc: r.uscc, name: r.current_name, matchedName: r.name, score, why };
}

/** One candidate per enterprise (its best name, the current one on a tie), best first, at most MAX_CANDIDATES. */
export function best(candidates: readonly Candidate[]): Candidate[] {
  const byUscc = new Map<string, Candidate>();
  for (const c of candidates) {
    const kept = byUscc.get(c.uscc);
    if (!kept || c.score > kept.score || (c.score === kept.score && !isFormer(c) && isFormer(kept)))
      byUscc.set(c.uscc, c);
  }
  return [...byUscc.values()]
    .sort((a, b) => b.score - a.score || a.uscc.localeCompare(b.uscc))
    .slice(0, MAX_CANDIDATES);
}

function isFormer(c: Candidate): boolean {
  return c.why === 'same-former-name' || c.why === 'similar-former-name';
}

export function round(score: number): number {
  return Math.round(score * 1000) / 1000;
}

function group<T>(rows: readonly T[], key: (row: T) => string | null): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    if (k === null) continue;
    const list = map.get(k);
    if (list) list.push(row);
    else map.set(k, [row]);
  }
  return map;
}
