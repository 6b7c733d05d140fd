/**
 * Enterprise names as matching compares them.
 *
 * Two names are the same name when they are equal after {@link normalizeName}: full-width letters, digits and
 * punctuation made half-width, Latin letters upper-cased, spaces (also U+3000 and zero-width ones), brackets of
 * every kind, quotes and middle dots dropped, and the legal-form spellings the Company Law treats as one form
 * written one way (有限责任公司 = 有限公司, 股份公司 = 股份有限公司). Everything else stays significant: 股份有限公司
 * is not 有限公司 (another legal form), 公司 is not 有限公司, a 分公司 (branch) is another subject than its parent,
 * a region prefix (界首市…) is part of the name.
 *
 * Two names are close when the Dice coefficient of their character-bigram sets is at least
 * {@link NAME_THRESHOLD}; close names are candidates for a person to review, never accepted on their own.
 *
 * The warehouse holds the same normalisation as the SQL function `guiji_name_norm` (migration 006, which may
 * import nothing): `NAME_RULES` here and `NAME_RULES` there must stay equal (test/match-name.test.ts checks both
 * the rules and, on a real database, the results).
 */

/** The rules of the normalisation, as data: the SQL twin is generated from the same data. */
export const NAME_RULES = {
  /** Dropped after the full-width mapping: whitespace, brackets, quotes, middle dots. */
  dropped:
    ' \t\n\r\f\v\u00a0\u200b\u200c\u200d\ufeff()[]{}<>\u3010\u3011\u3014\u3015\u3016\u3017\u300c\u300d\u300e\u300f\u300a\u300b\u3008\u3009"\'\u201c\u201d\u2018\u2019\u00b7\u2022\u30fb\u2027',
  /** Legal-form spellings of one form, replaced in this order. */
  forms: [
    ['有限责任公司', '有限公司'],
    ['股份公司', '股份有限公司'],
  ] as ReadonlyArray<readonly [string, string]>,
} as const;

/** Candidates below this bigram Dice score are not shown for review. */
export const NAME_THRESHOLD = 0.75;

const DROPPED = new Set(Array.from(NAME_RULES.dropped));

/** One character as the normalisation maps it: '' when dropped. */
export function mapNameChar(c: string): string {
  let code = c.codePointAt(0) ?? 0;
  if (code >= 0xff01 && code <= 0xff5e) code -= 0xfee0;
  else if (code === 0x3000) code = 0x20;
  if (code >= 0x61 && code <= 0x7a) code -= 0x20;
  const mapped = String.fromCodePoint(code);
  return DROPPED.has(mapped) ? '' : mapped;
}

/** Whether `mapNameChar` changes this UTF-16 unit (a surrogate is never changed: no astral character is). */
function changesChar(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0xff01 && code <= 0xff5e) ||
    code === 0x3000 ||
    DROPPED_UNITS.has(code)
  );
}
const DROPPED_UNITS = new Set(Array.from(NAME_RULES.dropped, (c) => c.charCodeAt(0)));

/** The name as matching compares it; null when nothing is left. */
export function normalizeName(name: string | null | undefined): string | null {
  if (name === null || name === undefined) return null;
  // most names are already in their compared form: one scan, no new string
  let i = 0;
  while (i < name.length && !changesChar(name.charCodeAt(i))) i++;
  let out = name;
  if (i < name.length) {
    out = name.slice(0, i);
    for (const c of name.slice(i)) out += mapNameChar(c);
  }
  for (const [from, to] of NAME_RULES.forms) if (out.includes(from)) out = out.split(from).join(to);
  return out === '' ? null : out;
}

/** The distinct character bigrams of a string (by code point). */
export function bigrams(s: string): Set<string> {
  const chars = Array.from(s);
  const out = new Set<string>();
  for (let i = 0; i + 1 < chars.length; i++) out.add(`${chars[i]}${chars[i + 1]}`);
  return out;
}

/**
 * Sørensen–Dice coefficient of two normalised names' bigram sets: 2·|A∩B| / (|A|+|B|), 1 for equal names,
 * 0 when either has fewer than two characters and they differ.
 */
export function nameSimilarity(a: string, b: string): number {
  if (a === b) return 1;
  const ga = bigrams(a);
  const gb = bigrams(b);
  if (!ga.size || !gb.size) return 0;
  let shared = 0;
  for (const g of ga) if (gb.has(g)) shared++;
  return (2 * shared) / (ga.size + gb.size);
}
