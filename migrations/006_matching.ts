import type { Knex } from 'knex';

/**
 * The name normalisation of pipelines/match/name.ts as data (a migration imports nothing; a test keeps the two
 * equal). Changing it later means a new migration that replaces `guiji_name_norm` and recomputes the column.
 */
export const NAME_RULES = {
  dropped:
    ' \t\n\r\f\v\u00a0\u200b\u200c\u200d\ufeff()[]{}<>\u3010\u3011\u3014\u3015\u3016\u3017\u300c\u300d\u300e\u300f\u300a\u300b\u3008\u3009"\'\u201c\u201d\u2018\u2019\u00b7\u2022\u30fb\u2027',
  forms: [
    ['有限责任公司', '有限公司'],
    ['股份公司', '股份有限公司'],
  ],
} as const;

/** Legal-form endings cut before taking a name's tail as a blocking key for close-name candidates. */
const FORM_ENDINGS = '股份有限公司|有限公司|分公司|公司|有限合伙|普通合伙|合伙企业|专业合作社|合作社';

function mapChar(c: string, dropped: ReadonlySet<string>): string {
  let code = c.codePointAt(0) ?? 0;
  if (code >= 0xff01 && code <= 0xff5e) code -= 0xfee0;
  else if (code === 0x3000) code = 0x20;
  if (code >= 0x61 && code <= 0x7a) code -= 0x20;
  const mapped = String.fromCodePoint(code);
  return dropped.has(mapped) ? '' : mapped;
}

/** translate()'s two lists: every character the normalisation changes (mapped ones first, dropped ones last). */
function translateLists(): [string, string] {
  const dropped = new Set(Array.from(NAME_RULES.dropped));
  const chars = new Set<string>(dropped);
  for (let c = 0xff01; c <= 0xff5e; c++) chars.add(String.fromCodePoint(c));
  chars.add('\u3000');
  for (let c = 0x61; c <= 0x7a; c++) chars.add(String.fromCodePoint(c));
  let from = '';
  let to = '';
  let gone = '';
  for (const c of chars) {
    const m = mapChar(c, dropped);
    if (m === c) continue;
    if (m === '') gone += c;
    else {
      from += c;
      to += m;
    }
  }
  return [from + gone, to];
}

/**
 * A SQL string literal of a constant of this file (never of input), every character written as a Unicode
 * escape: no quote, backslash or `?` (which knex would take for a binding) appears in the statement.
 */
function literal(s: string): string {
  let out = '';
  for (const c of s) {
    const code = c.codePointAt(0) ?? 0;
    out +=
      code > 0xffff ? `\\+${code.toString(16).padStart(6, '0')}` : `\\${code.toString(16).padStart(4, '0')}`;
  }
  return `U&'${out}'`;
}

function statements(): string[] {
  const [from, to] = translateLists();
  let norm = `translate(name, ${literal(from)}, ${literal(to)})`;
  for (const [a, b] of NAME_RULES.forms) norm = `replace(${norm}, ${literal(a)}, ${literal(b)})`;
  return [
    // the normalised name, for equality; IMMUTABLE so that a generated column and indexes can use it
    `CREATE OR REPLACE FUNCTION guiji_name_norm(name text) RETURNS text
       LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
       AS $fn$ SELECT nullif(${norm}, '') $fn$`,
    // a blocking key for close names: the last three characters before the legal-form ending
    `CREATE OR REPLACE FUNCTION guiji_name_tail(name_norm text) RETURNS text
       LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
       AS $fn$ SELECT right(regexp_replace(name_norm, ${literal(`(${FORM_ENDINGS})$`)}, ''), 3) $fn$`,
    `ALTER TABLE enterprises ADD COLUMN name_norm text GENERATED ALWAYS AS (guiji_name_norm(name)) STORED`,
    `CREATE INDEX enterprises_name_norm ON enterprises (name_norm)`,
    // every name an enterprise has held (its current one included): a former name stays matchable
    `CREATE TABLE enterprise_names (
       uscc text NOT NULL,
       name text NOT NULL,
       name_norm text NOT NULL,
       first_run_id bigint,
       first_seen_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (uscc, name_norm)
     )`,
    `CREATE INDEX enterprise_names_norm ON enterprise_names (name_norm)`,
    `CREATE INDEX enterprise_names_head ON enterprise_names (left(name_norm, 4))`,
    `CREATE INDEX enterprise_names_tail ON enterprise_names (guiji_name_tail(name_norm))`,
    `INSERT INTO enterprise_names (uscc, name, name_norm, first_run_id)
     SELECT uscc, name, name_norm, run_id FROM enterprises WHERE name_norm IS NOT NULL`,
    // records without a credit code that matching could not file (yet), the review queue, and the decisions
    `CREATE TABLE match_queue (
       id bigserial PRIMARY KEY,
       resource text NOT NULL,
       natural_key text NOT NULL,
       name text,
       name_norm text,
       reg_no text,
       org_code text,
       status text NOT NULL CHECK (status IN ('unmatched', 'waiting', 'accepted', 'rejected')),
       candidates jsonb NOT NULL DEFAULT '[]',
       chosen_uscc text,
       chosen_score real,
       run_id bigint NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       decided_at timestamptz,
       UNIQUE (resource, natural_key)
     )`,
    `CREATE INDEX match_queue_status ON match_queue (status)`,
    // a record is COPYed with score 1 (a code match, the common case: no second write); matching clears or
    // sets it for every record it files otherwise or leaves unmatched, in the same transaction
    `ALTER TABLE records ALTER COLUMN match_score SET DEFAULT 1`,
    `UPDATE records SET match_score = 1 WHERE match_method = 'uscc' AND match_score IS NULL`,
  ];
}

/**
 * Matching beyond the exact credit code: normalised enterprise names (generated column), name history, the
 * review queue. See pipelines/match/.
 */
export async function up(knex: Knex): Promise<void> {
  for (const statement of statements()) await knex.raw(statement);
}

export async function down(): Promise<void> {
  throw new Error('guiji migrations are forward-only');
}
