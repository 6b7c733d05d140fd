/**
 * Cell-level normalisers: one raw cell in, one canonical string (or null for an empty cell) or one issue out.
 *
 * These run for every cell of every row (millions per run), so:
 * - the common case is a hand-written character scan, not a regular expression;
 * - a value that is already clean comes back as the very same string (no copy, no slice);
 * - nothing here throws for bad input: bad values are data, returned as an issue for the quarantine.
 *
 * Issues carry the received value as a string, an English message for logs and a Chinese message written
 * for the department clerk who typed the value: what was found and what is expected.
 */
import type { CellValue, Issue } from '../../lib/types.js';

/** An issue about one value; the caller adds the field code. */
export type ValueIssue = Omit<Issue, 'field'>;

/** The outcome of normalising one cell: `value: null` is an empty cell. */
export type NormalizeResult = { ok: true; value: string | null } | { ok: false; issue: ValueIssue };

/** One entry of a code list (行政相对人类别, 处罚类别…). */
export interface CodeListEntry {
  code: string;
  label: string;
  aliases?: string[];
}

export interface CodeListOptions {
  /** Several values in one cell, separated by ; ； , ， 、 | ｜ or line breaks. */
  multi?: boolean;
}

/** What the standard writes for "long-term" (长期) validity. */
export const LONG_TERM_DATE = '2099-12-31';

/** The date range guiji accepts (inclusive). */
export const MIN_DATE = '1900-01-01';
export const MAX_DATE = LONG_TERM_DATE;

/** Shared result for every empty cell. Never mutate it. */
const EMPTY: NormalizeResult = { ok: true, value: null };

const DATE_FORMATS_ZH = 'YYYY-MM-DD、YYYY/MM/DD、YYYYMMDD 或 YYYY年M月D日';
const DATE_FORMATS_EN = 'YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD or YYYY年M月D日';
const DATETIME_FORMATS_ZH = 'YYYY-MM-DD HH:mm:ss（也可为 YYYY/MM/DD HH:mm:ss、YYYYMMDDHHmmss 或只填日期）';
const DATETIME_FORMATS_EN = 'YYYY-MM-DD HH:mm:ss (or YYYY/MM/DD HH:mm:ss, YYYYMMDDHHmmss, or a date only)';
const AS_TEXT_EN = 'format the column as text before entering codes';

// ---------------------------------------------------------------------------------------------------------
// Characters
// ---------------------------------------------------------------------------------------------------------

/**
 * Whitespace and invisible characters a cell must not start or end with: ASCII controls and space, DEL and C1
 * controls, NBSP, soft hyphen, the U+2000 spaces, zero-width space/joiners, direction marks and embeddings,
 * line/paragraph separators, narrow NBSP, word joiner, ideographic space U+3000 and the BOM U+FEFF.
 */
function isSpace(c: number): boolean {
  if (c <= 0x20) return true;
  if (c < 0x7f) return false;
  if (c <= 0xa0) return true;
  if (c < 0x1680) return c === 0xad;
  return (
    c === 0x1680 ||
    c === 0x180e ||
    (c >= 0x2000 && c <= 0x200f) ||
    (c >= 0x2028 && c <= 0x202f) ||
    (c >= 0x205f && c <= 0x2064) ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/** Trims whitespace and invisible characters; returns the same string when there is nothing to trim. */
function trimCell(s: string): string {
  const n = s.length;
  if (n === 0) return s;
  if (!isSpace(s.charCodeAt(0)) && !isSpace(s.charCodeAt(n - 1))) return s;
  let a = 0;
  while (a < n && isSpace(s.charCodeAt(a))) a++;
  let b = n;
  while (b > a && isSpace(s.charCodeAt(b - 1))) b--;
  return s.slice(a, b);
}

/** The value of a half- or full-width decimal digit, or -1. */
function digitValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0xff10 && c <= 0xff19) return c - 0xff10;
  return -1;
}

/** Full-width forms of ASCII (U+FF01–U+FF5E) to ASCII; anything else unchanged. */
function halfWidth(c: number): number {
  return c >= 0xff01 && c <= 0xff5e ? c - 0xfee0 : c;
}

function isAsciiDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Results and issues
// ---------------------------------------------------------------------------------------------------------

function ok(value: string): NormalizeResult {
  return { ok: true, value };
}

function fail(type: ValueIssue['type'], value: string, message: string, messageZh: string): NormalizeResult {
  return { ok: false, issue: { type, value, message, messageZh } };
}

/** The received value as a string, for `Issue.value`. */
function received(v: Exclude<CellValue, null>): string {
  if (typeof v === 'string') return v;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
  return String(v);
}

/** How a boolean cell reads in the spreadsheet. */
function booleanText(v: boolean): string {
  return v ? 'TRUE' : 'FALSE';
}

function invalidDateIssue(v: Date): NormalizeResult {
  return fail(
    'type-error',
    received(v),
    'the cell holds an invalid date',
    '单元格中的日期无效，请检查该单元格',
  );
}

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

// ---------------------------------------------------------------------------------------------------------
// Numbers as decimal strings
// ---------------------------------------------------------------------------------------------------------

/**
 * A canonical decimal from its digits: `intDigits.fracDigits × 10^shift`, without leading zeros in the integer
 * part, trailing zeros in the fraction, exponent or sign. `|shift|` must be small (callers cap it).
 */
function canonicalDecimal(intDigits: string, fracDigits: string, shift: number): string {
  let digits = intDigits + fracDigits;
  let point = intDigits.length + shift;
  if (point < 0) {
    digits = '0'.repeat(-point) + digits;
    point = 0;
  } else if (point > digits.length) {
    digits += '0'.repeat(point - digits.length);
  }
  let a = 0;
  while (a < point && digits.charCodeAt(a) === 0x30) a++;
  let b = digits.length;
  while (b > point && digits.charCodeAt(b - 1) === 0x30) b--;
  const ip = a === point ? '0' : digits.slice(a, point);
  return b > point ? ip + '.' + digits.slice(point, b) : ip;
}

/** A non-negative JS number string (`String(n)` or `toPrecision`, maybe with an exponent) as a plain decimal. */
function plainFromJs(s: string): string {
  const e = s.indexOf('e');
  const mantissa = e < 0 ? s : s.slice(0, e);
  const exp = e < 0 ? 0 : Number(s.slice(e + 1));
  const dot = mantissa.indexOf('.');
  if (dot < 0) return canonicalDecimal(mantissa, '', exp);
  return canonicalDecimal(mantissa.slice(0, dot), mantissa.slice(dot + 1), exp);
}

/** Significant digits of a JS number string (no sign). */
function significantDigits(s: string): number {
  let n = 0;
  let leading = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x65) break; // 'e'
    if (c === 0x2e) continue;
    if (leading && c === 0x30) continue;
    leading = false;
    n++;
  }
  return n;
}

/**
 * A finite number as a plain decimal string, never with an exponent: the shortest representation that reads
 * back as the same number (`0.2` → '0.2', `1e21` → '1000000000000000000000', `1e-7` → '0.0000001').
 * A non-integer with more than 15 significant digits is rounded to 15, which is what a spreadsheet shows and
 * keeps: `0.1 + 0.2` → '0.3', not '0.30000000000000004'. `-0` → '0'.
 */
function numberToDecimal(n: number): string {
  const neg = n < 0;
  const abs = neg ? -n : n;
  if (abs === 0) return '0';
  let s = String(abs);
  if (!Number.isInteger(abs) && significantDigits(s) > 15) s = abs.toPrecision(15);
  const plain = s.indexOf('e') < 0 && s.indexOf('.') < 0 ? s : plainFromJs(s);
  return neg ? '-' + plain : plain;
}

// ---------------------------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------------------------

/**
 * Free text: trimmed of whitespace and invisible characters (full-width space, NBSP, zero-width characters,
 * BOM); the inner text is kept as written. Numbers become their plain decimal string ('123', '0.2', no
 * exponent), booleans 'TRUE'/'FALSE' as the spreadsheet shows them, dates 'YYYY-MM-DD' (UTC fields).
 */
export function normalizeText(v: CellValue): NormalizeResult {
  if (v === null) return EMPTY;
  if (typeof v === 'string') {
    const s = trimCell(v);
    return s.length === 0 ? EMPTY : ok(s);
  }
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) {
      return fail(
        'type-error',
        String(v),
        `the number ${v} cannot be read as text`,
        `单元格的值“${v}”不是有效的数字或文字，请检查该单元格`,
      );
    }
    return ok(numberToDecimal(v));
  }
  if (typeof v === 'boolean') return ok(booleanText(v));
  if (Number.isNaN(v.getTime())) return invalidDateIssue(v);
  return ok(ymd(v.getUTCFullYear(), v.getUTCMonth() + 1, v.getUTCDate()));
}

// ---------------------------------------------------------------------------------------------------------
// Codes
// ---------------------------------------------------------------------------------------------------------

/** Characters `normalizeCode` rewrites or drops. */
function codeNeedsChange(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || isSpace(c) || (c >= 0xff01 && c <= 0xff5e) || c === 0x3010 || c === 0x3011
  );
}

/** Removes all whitespace, full-width → half-width, 【】 → [], ASCII upper-case. */
function cleanCode(s: string): string {
  const n = s.length;
  let i = 0;
  while (i < n && !codeNeedsChange(s.charCodeAt(i))) i++;
  if (i === n) return s;
  let out = s.slice(0, i);
  for (; i < n; i++) {
    let c = s.charCodeAt(i);
    if (isSpace(c)) continue;
    if (c === 0x3010) c = 0x5b;
    else if (c === 0x3011) c = 0x5d;
    else c = halfWidth(c);
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    out += String.fromCharCode(c);
  }
  return out;
}

const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/** GB 32100 check character of an all-digit 18-character code (all symbols are digits: value = digit). */
function isValidAllDigitUscc(s: string): boolean {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (s.charCodeAt(i) - 0x30) * (USCC_WEIGHTS[i] ?? 0);
  return (31 - (sum % 31)) % 31 === s.charCodeAt(17) - 0x30;
}

/**
 * How a spreadsheet shows a number in scientific notation: `9.11589460454873E+17`, `9.11589460454873E17`,
 * `1.7976931348623157E+308`, `1E+17` (a decimal comma too). A mantissa without a point and an exponent
 * without a sign (`9124072911152E5384`) is how such a code is legitimately *written*, so it is not matched:
 * it is accepted as the code it is. `s` is already upper-cased.
 */
function isScientific(s: string): boolean {
  const n = s.length;
  let i = 0;
  let marked = false;
  let c = s.charCodeAt(0);
  if (c === 0x2b || c === 0x2d) {
    marked = true;
    i++;
  }
  const intStart = i;
  while (i < n && isDigitAscii(s.charCodeAt(i))) i++;
  if (i === intStart) return false;
  c = s.charCodeAt(i);
  if (c === 0x2e || c === 0x2c) {
    marked = true;
    i++;
    while (i < n && isDigitAscii(s.charCodeAt(i))) i++;
  }
  if (s.charCodeAt(i) !== 0x45) return false; // 'E'
  i++;
  c = s.charCodeAt(i);
  if (c === 0x2b || c === 0x2d) {
    marked = true;
    i++;
  }
  const expStart = i;
  while (i < n && isDigitAscii(s.charCodeAt(i))) i++;
  return marked && i > expStart && i === n;
}

function isDigitAscii(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * A number rendering without exponent that a spreadsheet or a float conversion writes for a number:
 * `123456789.0` or `123,456,789`. Returns its integer digits, or null when `s` is not such a rendering.
 */
function integerRendering(s: string): string | null {
  const dot = s.indexOf('.');
  const comma = s.indexOf(',');
  if (dot < 0 && comma < 0) return null;
  const end = dot < 0 ? s.length : dot;
  if (dot >= 0) {
    if (dot === s.length - 1) return null;
    for (let i = dot + 1; i < s.length; i++) if (s.charCodeAt(i) !== 0x30) return null;
  }
  const int = s.slice(0, end);
  if (comma < 0) return isAsciiDigits(int) ? int : null;
  // Thousands groups: 1–3 digits, then groups of exactly 3.
  const groups = int.split(',');
  const first = groups[0] ?? '';
  if (first.length < 1 || first.length > 3 || !isAsciiDigits(first)) return null;
  for (let g = 1; g < groups.length; g++) {
    const group = groups[g] ?? '';
    if (group.length !== 3 || !isAsciiDigits(group)) return null;
  }
  return groups.join('');
}

/**
 * How a spreadsheet damages a long all-digit code: it keeps 15 significant digits and fills the rest with
 * zeros (`911589460454873012` → `911589460454873000`). Matches an all-digit string of 16 or more characters
 * whose significant part is at most 15 digits and that ends in at least two zeros. An 18-digit string that is a
 * valid credit code by its check character (GB 32100) is trusted: the check rejects 30 of 31 damaged codes.
 */
function looksRoundTripped(s: string): boolean {
  const n = s.length;
  if (n < 16 || !isAsciiDigits(s)) return false;
  let zeros = 0;
  while (zeros < n && s.charCodeAt(n - 1 - zeros) === 0x30) zeros++;
  if (zeros < 2 || zeros < n - 15) return false;
  return !(n === 18 && isValidAllDigitUscc(s));
}

/** What is being normalised, for messages: a code or a document number. */
interface What {
  en: string;
  zh: string;
}

const CODE: What = { en: 'code', zh: '代码' };
const DOC_NUMBER: What = { en: 'document number', zh: '文书号' };

function storedAsNumber(raw: string, shown: string, what: What): NormalizeResult {
  return fail(
    'code-stored-as-number',
    raw,
    `the ${what.en} "${shown}" was stored as a number by the spreadsheet and has lost digits (a number keeps 15 significant digits; a code with the letter E is read as an exponent); ${AS_TEXT_EN}`,
    `${what.zh}“${shown}”被电子表格当成数字保存，原${what.zh}已丢失位数、无法还原（数字只保留15位有效数字，含字母E的${what.zh}会被当成科学计数法）。请先把该列单元格格式设置为“文本”，再重新录入${what.zh}`,
  );
}

function numberNotCode(raw: string, shown: string, what: What): NormalizeResult {
  return fail(
    'code-stored-as-number',
    raw,
    `the ${what.en} "${shown}" was stored as a number by the spreadsheet and is not a valid ${what.en}; ${AS_TEXT_EN}`,
    `${what.zh}“${shown}”被电子表格存成了数字，不是有效的${what.zh}。请先把该列单元格格式设置为“文本”，再重新录入${what.zh}`,
  );
}

function trailingZerosLost(raw: string, shown: string): NormalizeResult {
  return fail(
    'code-stored-as-number',
    raw,
    `the code "${shown}" ends in zeros where a spreadsheet that stored it as a number dropped digits; format the column as text and enter the original code`,
    `代码“${shown}”末尾是一串0，很可能是电子表格把代码当成数字保存后丢失了后几位（数字只保留15位有效数字）。请先把该列单元格格式设置为“文本”，再重新录入原代码`,
  );
}

/** A JS number where a code was expected: safe integers of at most 15 digits are their digits. */
function codeFromNumber(v: number, what: What): NormalizeResult {
  const raw = String(v);
  if (Number.isInteger(v) && v >= 0 && v < 1e15) return ok(raw);
  if (!Number.isFinite(v) || (Number.isInteger(v) && v >= 1e15)) return storedAsNumber(raw, raw, what);
  return numberNotCode(raw, numberToDecimal(v), what);
}

function codeNotDate(v: Date, what: string, whatZh: string): NormalizeResult {
  if (Number.isNaN(v.getTime())) return invalidDateIssue(v);
  const shown = ymd(v.getUTCFullYear(), v.getUTCMonth() + 1, v.getUTCDate());
  return fail(
    'type-error',
    received(v),
    `the spreadsheet turned the ${what} into the date ${shown}; ${AS_TEXT_EN}`,
    `${whatZh}被电子表格识别成了日期（${shown}）。请先把该列单元格格式设置为“文本”，再重新录入`,
  );
}

function codeNotBoolean(v: boolean, what: string, whatZh: string): NormalizeResult {
  const shown = booleanText(v);
  return fail(
    'type-error',
    shown,
    `a ${what} cannot be the logical value ${shown}`,
    `${whatZh}不能是逻辑值“${shown}”，请填写正确的${whatZh}`,
  );
}

/**
 * Identifiers (统一社会信用代码, 组织机构代码, 注册号, 证件号码…): trimmed, inner whitespace removed, full-width
 * digits, letters and brackets to half-width, 【】 → [], upper-case.
 *
 * Codes damaged by a spreadsheet are not accepted silently: a number that is not a whole number of at most 15
 * digits, a string in scientific notation (`9.11589460454873E+17`, `1.7976931348623157E+308`) and a long
 * all-digit string ending in the zeros of a 15-digit round trip give `code-stored-as-number`. A whole number
 * of at most 15 digits (a 9-digit org code or a 15-digit registration number typed as a number) is accepted
 * as its digits — a lost leading zero cannot be seen here and is left to the identifier checks.
 * `123456789.0` and `123,456,789` are the same number written by a converter and follow the same rule.
 */
export function normalizeCode(v: CellValue): NormalizeResult {
  if (v === null) return EMPTY;
  if (typeof v === 'number') return codeFromNumber(v, CODE);
  if (typeof v === 'boolean') return codeNotBoolean(v, 'code', '代码');
  if (v instanceof Date) return codeNotDate(v, 'code', '代码');
  const s = cleanCode(v);
  if (s.length === 0) return EMPTY;
  const first = s.charCodeAt(0);
  if (isDigitAscii(first) || first === 0x2b || first === 0x2d) {
    if (isScientific(s)) return storedAsNumber(v, s, CODE);
    const digits = integerRendering(s);
    if (digits !== null) return digits.length <= 15 ? ok(digits) : storedAsNumber(v, s, CODE);
    if (looksRoundTripped(s)) return trailingZerosLost(v, s);
  }
  return ok(s);
}

// ---------------------------------------------------------------------------------------------------------
// Document numbers
// ---------------------------------------------------------------------------------------------------------

function docNeedsChange(c: number): boolean {
  return isSpace(c) || (c >= 0xff01 && c <= 0xff5e);
}

/**
 * Document numbers (文书号, 决定书文号, 许可编号): trimmed, every inner whitespace run removed, full-width forms of
 * ASCII (digits, letters, （）［］, －) to half-width; Chinese text and everything else kept as written.
 *
 * Brackets are deliberately *not* canonicalised: 〔2020〕, 【2020】, [2020] and (2020) are kept as the department
 * wrote them. The document number is a legal identifier printed on the decision and published as printed;
 * rewriting 【】 to the 〔〕 of GB/T 9704 would publish a number that appears on no document. Comparing two
 * spellings of the same number is the matching stage's job, on a key derived from this value.
 *
 * Numbers follow the code rules: a whole number of at most 15 digits is its digits, anything else and a string
 * in scientific notation give `code-stored-as-number`.
 */
export function normalizeDocNumber(v: CellValue): NormalizeResult {
  if (v === null) return EMPTY;
  if (typeof v === 'number') return codeFromNumber(v, DOC_NUMBER);
  if (typeof v === 'boolean') return codeNotBoolean(v, 'document number', '文书号');
  if (v instanceof Date) return codeNotDate(v, 'document number', '文书号');
  const n = v.length;
  let i = 0;
  while (i < n && !docNeedsChange(v.charCodeAt(i))) i++;
  let s = v;
  if (i < n) {
    s = v.slice(0, i);
    for (; i < n; i++) {
      const c = v.charCodeAt(i);
      if (!isSpace(c)) s += String.fromCharCode(halfWidth(c));
    }
  }
  if (s.length === 0) return EMPTY;
  const first = s.charCodeAt(0);
  if (
    (isDigitAscii(first) || first === 0x2b || first === 0x2d) &&
    (s.indexOf('E') > 0 || s.indexOf('e') > 0) &&
    isScientific(s.toUpperCase())
  ) {
    return storedAsNumber(v, s, DOC_NUMBER);
  }
  return ok(s);
}

// ---------------------------------------------------------------------------------------------------------
// Dates and times
// ---------------------------------------------------------------------------------------------------------

function ymd(y: number, m: number, d: number): string {
  return y + '-' + pad2(m) + '-' + pad2(d);
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return isLeap(y) ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The date of a day number since 1970-01-01. */
function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

/** A parsed date and time of day (China time). */
interface DateParts {
  y: number;
  m: number;
  d: number;
  hh: number;
  mi: number;
  ss: number;
}

/** Why a value is not a date; the caller turns it into an issue. */
type DateError =
  | { kind: 'unrecognised' }
  | { kind: 'calendar'; detailZh: string; detailEn: string }
  | { kind: 'time'; detailZh: string; detailEn: string }
  | { kind: 'range'; shown: string; serial?: true }
  | { kind: 'fake-leap' }
  | { kind: 'serial-range' }
  | { kind: 'year-only' };

const UNRECOGNISED: DateError = { kind: 'unrecognised' };
const FAKE_LEAP: DateError = { kind: 'fake-leap' };
const SERIAL_RANGE: DateError = { kind: 'serial-range' };
const YEAR_ONLY: DateError = { kind: 'year-only' };

const SERIAL_MAX = 2958465; // 9999-12-31
const SERIAL_UNIX_EPOCH = 25569; // 1970-01-01 in Excel's 1900 date system
const MIN_DAYS = daysFromCivil(1900, 1, 1);
const MAX_DAYS = daysFromCivil(2099, 12, 31);

/** Separator kinds between year, month and day. */
const SEP_SLASH = 1;
const SEP_DASH = 2;
const SEP_DOT = 3;
const SEP_CJK = 4;

function separatorKind(c: number): number {
  switch (c) {
    case 0x2f: // /
    case 0xff0f:
      return SEP_SLASH;
    case 0x2d: // -
    case 0xff0d:
    case 0x2010:
    case 0x2011:
    case 0x2013:
      return SEP_DASH;
    case 0x2e: // .
    case 0xff0e:
      return SEP_DOT;
    case 0x5e74: // 年
      return SEP_CJK;
    default:
      return 0;
  }
}

function isHalfOrFullColon(c: number): boolean {
  return c === 0x3a || c === 0xff1a;
}

/** Parsing state: the string and the read position (module-level to avoid allocating a cursor per call). */
let src = '';
let pos = 0;

function skipSpaces(): void {
  while (pos < src.length && isSpace(src.charCodeAt(pos))) pos++;
}

/** Reads `min`..`max` digits (half- or full-width) as a number, or -1. */
function readDigits(min: number, max: number): number {
  let value = 0;
  let count = 0;
  while (count < max && pos < src.length) {
    const d = digitValue(src.charCodeAt(pos));
    if (d < 0) break;
    value = value * 10 + d;
    pos++;
    count++;
  }
  if (count < min) return -1;
  if (pos < src.length && digitValue(src.charCodeAt(pos)) >= 0) return -1; // too many digits
  return value;
}

function checkCalendar(y: number, m: number, d: number): DateError | null {
  if (m < 1 || m > 12) {
    return { kind: 'calendar', detailZh: '月份应为1至12', detailEn: 'the month must be 1 to 12' };
  }
  const max = daysInMonth(y, m);
  if (d < 1 || d > max) {
    return {
      kind: 'calendar',
      detailZh: `${y}年${m}月只有${max}天`,
      detailEn: `${y}-${pad2(m)} has ${max} days`,
    };
  }
  return null;
}

function checkTime(hh: number, mi: number, ss: number): DateError | null {
  if (hh > 23 || mi > 59 || ss > 59) {
    return {
      kind: 'time',
      detailZh: '小时应为0至23，分、秒应为0至59',
      detailEn: 'hours must be 0 to 23, minutes and seconds 0 to 59',
    };
  }
  return null;
}

function checkRange(days: number, y: number, m: number, d: number): DateError | null {
  return days < MIN_DAYS || days > MAX_DAYS ? { kind: 'range', shown: ymd(y, m, d) } : null;
}

function partsFrom(
  y: number,
  m: number,
  d: number,
  hh: number,
  mi: number,
  ss: number,
): DateParts | DateError {
  const calendar = checkCalendar(y, m, d);
  if (calendar) return calendar;
  const time = checkTime(hh, mi, ss);
  if (time) return time;
  const range = checkRange(daysFromCivil(y, m, d), y, m, d);
  if (range) return range;
  return { y, m, d, hh, mi, ss };
}

/** A digit string (half- or full-width) of 8 (YYYYMMDD) or 14 (YYYYMMDDHHmmss) digits. */
function partsFromDigits(s: string): DateParts | DateError {
  const y = digitsAt(s, 0, 4);
  const m = digitsAt(s, 4, 2);
  const d = digitsAt(s, 6, 2);
  if (s.length === 8) return partsFrom(y, m, d, 0, 0, 0);
  return partsFrom(y, m, d, digitsAt(s, 8, 2), digitsAt(s, 10, 2), digitsAt(s, 12, 2));
}

/** The number written by `len` digits (half- or full-width) of `s` from `i`. */
function digitsAt(s: string, i: number, len: number): number {
  let v = 0;
  for (let k = i; k < i + len; k++) v = v * 10 + digitValue(s.charCodeAt(k));
  return v;
}

/**
 * An Excel serial (1900 date system, with its fake 1900-02-29 = 60): the integer part is the day, the
 * fraction the time of day. 1 = 1900-01-01, 61 = 1900-03-01, 43831 = 2020-01-01.
 */
function partsFromSerial(serial: number): DateParts | DateError {
  if (!(serial >= 1 && serial < SERIAL_MAX + 1)) return SERIAL_RANGE;
  if (Number.isInteger(serial) && serial >= 1900 && serial <= 2099) return YEAR_ONLY;
  const seconds = Math.round(serial * 86400);
  let day = Math.floor(seconds / 86400);
  const secOfDay = seconds - day * 86400;
  if (day === 60) return FAKE_LEAP;
  if (day > SERIAL_MAX) return SERIAL_RANGE;
  day = day < 60 ? day + 1 : day; // before the fake leap day every serial is one day early
  const days = day - SERIAL_UNIX_EPOCH;
  const [y, m, d] = civilFromDays(days);
  if (days < MIN_DAYS || days > MAX_DAYS) return { kind: 'range', shown: ymd(y, m, d), serial: true };
  return {
    y,
    m,
    d,
    hh: Math.floor(secOfDay / 3600),
    mi: Math.floor((secOfDay % 3600) / 60),
    ss: secOfDay % 60,
  };
}

/** A number cell: YYYYMMDD or YYYYMMDDHHmmss typed as a number, else an Excel serial. */
function partsFromNumber(v: number): DateParts | DateError {
  if (!Number.isFinite(v)) return SERIAL_RANGE;
  if (
    Number.isInteger(v) &&
    ((v >= 19000101 && v <= 20991231) || (v >= 19000101000000 && v <= 20991231235959))
  ) {
    return partsFromDigits(String(v));
  }
  return partsFromSerial(v);
}

/**
 * Parses a trimmed date or date-time string. Accepted: YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD, YYYY年M月D日 (spaces
 * allowed around the parts, 日 optional), single-digit month and day, full-width digits and separators,
 * YYYYMMDD, YYYYMMDDHHmmss, an Excel serial as a numeric string; then optionally a time after a space or `T`:
 * H:mm, H:mm:ss, with a fraction of a second (dropped) and a zone (`Z`, `+08:00`, `+0800`). A time with a zone
 * other than China's is converted to China time (UTC+8): the value then says unambiguously when it was.
 */
function parseDateString(s: string): DateParts | DateError {
  const n = s.length;
  // All digits (maybe with one decimal point): YYYYMMDD, YYYYMMDDHHmmss, or an Excel serial.
  let digits = 0;
  let dot = -1;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (digitValue(c) >= 0) digits++;
    else if ((c === 0x2e || c === 0xff0e) && dot < 0) dot = i;
    else break;
  }
  if (digits + (dot < 0 ? 0 : 1) === n && digits > 0) {
    if (dot < 0 && (n === 8 || n === 14)) return partsFromDigits(s);
    // 2019.10 is a year and a month, not the serial 2019.1.
    if (dot !== 4 && (dot < 0 ? n : dot) <= 7) {
      let ascii = '';
      for (let i = 0; i < n; i++) ascii += String.fromCharCode(halfWidth(s.charCodeAt(i)));
      return partsFromSerial(Number(ascii));
    }
    return UNRECOGNISED;
  }

  src = s;
  pos = 0;
  const y = readDigits(4, 4);
  if (y < 0) return UNRECOGNISED;
  skipSpaces();
  const kind = separatorKind(s.charCodeAt(pos));
  if (kind === 0) return UNRECOGNISED;
  pos++;
  skipSpaces();
  const m = readDigits(1, 2);
  if (m < 0) return UNRECOGNISED;
  skipSpaces();
  const sep2 = s.charCodeAt(pos);
  if (kind === SEP_CJK ? sep2 !== 0x6708 : separatorKind(sep2) !== kind) return UNRECOGNISED; // 月
  pos++;
  skipSpaces();
  const d = readDigits(1, 2);
  if (d < 0) return UNRECOGNISED;
  if (kind === SEP_CJK) {
    const save = pos;
    skipSpaces();
    const c = s.charCodeAt(pos);
    if (c === 0x65e5 || c === 0x53f7)
      pos++; // 日, 号
    else pos = save;
  }
  let hh = 0;
  let mi = 0;
  let ss = 0;
  let zone: number | null = null;
  if (pos < n) {
    const c = s.charCodeAt(pos);
    if (c === 0x54 || c === 0x74)
      pos++; // T
    else if (!isSpace(c)) return UNRECOGNISED;
    skipSpaces();
    hh = readDigits(1, 2);
    if (hh < 0 || !isHalfOrFullColon(s.charCodeAt(pos))) return UNRECOGNISED;
    pos++;
    mi = readDigits(2, 2);
    if (mi < 0) return UNRECOGNISED;
    if (isHalfOrFullColon(s.charCodeAt(pos))) {
      pos++;
      ss = readDigits(2, 2);
      if (ss < 0) return UNRECOGNISED;
      const f = s.charCodeAt(pos);
      if (f === 0x2e || f === 0x2c || f === 0xff0e) {
        pos++;
        const start = pos;
        while (pos < n && digitValue(s.charCodeAt(pos)) >= 0) pos++;
        if (pos === start) return UNRECOGNISED;
      }
    }
    skipSpaces();
    if (pos < n) {
      const z = s.charCodeAt(pos);
      if (z === 0x5a || z === 0x7a) {
        zone = 0;
        pos++;
      } else if (z === 0x2b || z === 0x2d) {
        pos++;
        const zh = readDigitsUpTo2();
        if (zh < 0) return UNRECOGNISED;
        let zm = 0;
        if (isHalfOrFullColon(s.charCodeAt(pos))) pos++;
        if (pos < n) {
          zm = readDigits(2, 2);
          if (zm < 0) return UNRECOGNISED;
        }
        if (zh > 14 || zm > 59) return UNRECOGNISED;
        zone = (z === 0x2d ? -1 : 1) * (zh * 60 + zm);
      }
      skipSpaces();
      if (pos < n) return UNRECOGNISED;
    }
  }
  const parts = partsFrom(y, m, d, hh, mi, ss);
  if (zone === null || zone === 480 || 'kind' in parts) return parts;
  // Convert to China time (UTC+8).
  const minutes = daysFromCivil(y, m, d) * 1440 + hh * 60 + mi - zone + 480;
  const days = Math.floor(minutes / 1440);
  const minOfDay = minutes - days * 1440;
  const [cy, cm, cd] = civilFromDays(days);
  const range = checkRange(days, cy, cm, cd);
  if (range) return range;
  return { y: cy, m: cm, d: cd, hh: Math.floor(minOfDay / 60), mi: minOfDay % 60, ss };
}

/** Exactly two digits of a zone hour (`+08`, `+0800`), reading only two even when more follow. */
function readDigitsUpTo2(): number {
  const a = digitValue(src.charCodeAt(pos));
  const b = digitValue(src.charCodeAt(pos + 1));
  if (a < 0 || b < 0) return -1;
  pos += 2;
  return a * 10 + b;
}

function dateIssue(raw: string, shown: string, error: DateError, withTime: boolean): NormalizeResult {
  const formatsZh = withTime ? DATETIME_FORMATS_ZH : DATE_FORMATS_ZH;
  const formatsEn = withTime ? DATETIME_FORMATS_EN : DATE_FORMATS_EN;
  const what = withTime ? '日期时间' : '日期';
  const whatEn = withTime ? 'date-time' : 'date';
  switch (error.kind) {
    case 'unrecognised':
      return fail(
        'type-error',
        raw,
        `unrecognised ${whatEn} "${shown}"; expected ${formatsEn}`,
        `${what}“${shown}”无法识别，应为 ${formatsZh}`,
      );
    case 'calendar':
    case 'time':
      return fail(
        'type-error',
        raw,
        `the ${whatEn} "${shown}" does not exist: ${error.detailEn}; expected ${formatsEn}`,
        `${what}“${shown}”不存在：${error.detailZh}。应为 ${formatsZh}`,
      );
    case 'fake-leap':
      return fail(
        'type-error',
        raw,
        `the spreadsheet date serial "${shown}" is 1900-02-29, a day that does not exist`,
        `数字“${shown}”按 Excel 日期序号是不存在的 1900年2月29日，请填写正确的日期，应为 ${formatsZh}`,
      );
    case 'serial-range':
      return fail(
        'type-error',
        raw,
        `"${shown}" is not a ${whatEn} nor a spreadsheet date serial (1 to ${SERIAL_MAX}); expected ${formatsEn}`,
        `“${shown}”不是${what}，也不是有效的 Excel 日期序号，应为 ${formatsZh}`,
      );
    case 'year-only':
      return fail(
        'type-error',
        raw,
        `"${shown}" is only a year; expected a full ${whatEn}: ${formatsEn}`,
        `“${shown}”只有年份，请填写完整的${what}，应为 ${formatsZh}`,
      );
    case 'range': {
      const same = shown.startsWith(error.shown);
      const asEn = error.serial
        ? ` (as a spreadsheet date serial: ${error.shown})`
        : same
          ? ''
          : ` (${error.shown})`;
      const asZh = error.serial
        ? `（按 Excel 日期序号换算为 ${error.shown}）`
        : same
          ? ''
          : `（即 ${error.shown}）`;
      return fail(
        'constraint-error',
        raw,
        `the ${whatEn} "${shown}"${asEn} is outside ${MIN_DATE} to ${MAX_DATE}`,
        `${what}“${shown}”${asZh}超出范围，应在 ${MIN_DATE} 至 ${MAX_DATE} 之间（长期有效请填 ${LONG_TERM_DATE}）`,
      );
    }
  }
}

function notADate(v: boolean, withTime: boolean): NormalizeResult {
  return dateIssue(booleanText(v), booleanText(v), UNRECOGNISED, withTime);
}

function isLongTermWord(s: string): boolean {
  return s === '长期' || s === '永久' || s === '长期有效';
}

/** Whether `s` at `offset` is exactly a valid, in-range 'YYYY-MM-DD' (the fast path). */
function isCanonicalDate(s: string, offset: number): boolean {
  if (s.charCodeAt(offset + 4) !== 0x2d || s.charCodeAt(offset + 7) !== 0x2d) return false;
  let y = 0;
  for (let i = offset; i < offset + 4; i++) {
    const c = s.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return false;
    y = y * 10 + c;
  }
  const m1 = s.charCodeAt(offset + 5) - 0x30;
  const m2 = s.charCodeAt(offset + 6) - 0x30;
  const d1 = s.charCodeAt(offset + 8) - 0x30;
  const d2 = s.charCodeAt(offset + 9) - 0x30;
  if (m1 < 0 || m1 > 1 || m2 < 0 || m2 > 9 || d1 < 0 || d1 > 3 || d2 < 0 || d2 > 9) return false;
  const m = m1 * 10 + m2;
  const d = d1 * 10 + d2;
  return y >= 1900 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m);
}

/**
 * A date, as 'YYYY-MM-DD'. Accepts YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD, YYYYMMDD, YYYY年M月D日 (optional spaces),
 * any of them with a time part (dropped), single-digit month and day, full-width digits; Excel serial numbers
 * (number or numeric string, 1..2958465, 1900 system: 60 is the fake 1900-02-29 and an error); a number
 * 19000101..20991231 as YYYYMMDD; JS dates by their UTC fields; 长期 / 永久 / 长期有效 → 2099-12-31.
 * The calendar is checked (no 2019-02-29, no month 13) and dates must lie in 1900-01-01..2099-12-31.
 * A whole number 1900..2099 (number or string) is taken for a year alone and rejected, not as a 1905 serial.
 */
export function normalizeDate(v: CellValue): NormalizeResult {
  if (v === null) return EMPTY;
  let parts: DateParts | DateError;
  if (typeof v === 'string') {
    const s = trimCell(v);
    if (s.length === 0) return EMPTY;
    if (s.length === 10 && isCanonicalDate(s, 0)) return ok(s);
    if (isLongTermWord(s)) return ok(LONG_TERM_DATE);
    parts = parseDateString(s);
    if ('kind' in parts) return dateIssue(v, s, parts, false);
  } else if (typeof v === 'number') {
    parts = partsFromNumber(v);
    if ('kind' in parts) return dateIssue(String(v), String(v), parts, false);
  } else if (typeof v === 'boolean') {
    return notADate(v, false);
  } else {
    if (Number.isNaN(v.getTime())) return invalidDateIssue(v);
    parts = dateFromJs(v);
    if ('kind' in parts) return dateIssue(received(v), received(v), parts, false);
  }
  return ok(ymd(parts.y, parts.m, parts.d));
}

function dateFromJs(v: Date): DateParts | DateError {
  const y = v.getUTCFullYear();
  const m = v.getUTCMonth() + 1;
  const d = v.getUTCDate();
  const range = checkRange(daysFromCivil(y, m, d), y, m, d);
  if (range) return range;
  return { y, m, d, hh: v.getUTCHours(), mi: v.getUTCMinutes(), ss: v.getUTCSeconds() };
}

/**
 * A date and time, as 'YYYY-MM-DD HH:mm:ss' in China time as given (no zone conversion of naive times).
 * Accepts every date form of `normalizeDate` (a date alone → 00:00:00), with a time after a space or `T`,
 * `/` separators, milliseconds (dropped, not rounded), YYYYMMDDHHmmss (string or number), Excel serials with
 * a time fraction, JS dates by their UTC fields. A value with an explicit zone (`Z`, `+00:00`) is converted to
 * China time. 长期 is not a time and is rejected.
 */
export function normalizeDateTime(v: CellValue): NormalizeResult {
  if (v === null) return EMPTY;
  let parts: DateParts | DateError;
  if (typeof v === 'string') {
    const s = trimCell(v);
    if (s.length === 0) return EMPTY;
    if (s.length === 19 && isCanonicalDateTime(s)) return ok(s);
    parts = parseDateString(s);
    if ('kind' in parts) return dateIssue(v, s, parts, true);
  } else if (typeof v === 'number') {
    parts = partsFromNumber(v);
    if ('kind' in parts) return dateIssue(String(v), String(v), parts, true);
  } else if (typeof v === 'boolean') {
    return notADate(v, true);
  } else {
    if (Number.isNaN(v.getTime())) return invalidDateIssue(v);
    parts = dateFromJs(v);
    if ('kind' in parts) return dateIssue(received(v), received(v), parts, true);
  }
  return ok(
    ymd(parts.y, parts.m, parts.d) + ' ' + pad2(parts.hh) + ':' + pad2(parts.mi) + ':' + pad2(parts.ss),
  );
}

function isCanonicalDateTime(s: string): boolean {
  if (!isCanonicalDate(s, 0) || s.charCodeAt(10) !== 0x20) return false;
  if (s.charCodeAt(13) !== 0x3a || s.charCodeAt(16) !== 0x3a) return false;
  const h = twoDigits(s, 11);
  const mi = twoDigits(s, 14);
  const ss = twoDigits(s, 17);
  return h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && ss >= 0 && ss <= 59;
}

function twoDigits(s: string, i: number): number {
  const a = s.charCodeAt(i) - 0x30;
  const b = s.charCodeAt(i + 1) - 0x30;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

// ---------------------------------------------------------------------------------------------------------
// Amounts (万元)
// ---------------------------------------------------------------------------------------------------------

const AMOUNT_MAX_DECIMALS = 6;
const AMOUNT_MAX_INTEGER_DIGITS = 12; // decimal(18,6)

/** A parsed amount string: digits without separators, an exponent, and the unit written after it. */
interface AmountParts {
  neg: boolean;
  int: string;
  frac: string;
  exp: number;
  unit: 'wan' | 'yuan' | 'none';
}

/** The canonical form when `s` is already one ('1234.5', '0', '0.25'), else false. */
function isCanonicalAmount(s: string): boolean {
  const n = s.length;
  let i = 0;
  const first = s.charCodeAt(0);
  if (first === 0x30) {
    if (n === 1) return true;
    if (s.charCodeAt(1) !== 0x2e) return false;
    i = 1;
  } else {
    while (i < n && isDigitAscii(s.charCodeAt(i))) i++;
    if (i === 0) return false;
    if (i === n) return i <= AMOUNT_MAX_INTEGER_DIGITS;
    if (s.charCodeAt(i) !== 0x2e || i > AMOUNT_MAX_INTEGER_DIGITS) return false;
  }
  const dot = i;
  i++;
  while (i < n && isDigitAscii(s.charCodeAt(i))) i++;
  return i === n && n - dot - 1 >= 1 && n - dot - 1 <= AMOUNT_MAX_DECIMALS && s.charCodeAt(n - 1) !== 0x30;
}

function parseAmountString(s: string): AmountParts | null {
  const n = s.length;
  let i = 0;
  const at = (k: number): number => halfWidth(s.charCodeAt(k));
  const skip = (): void => {
    while (i < n && isSpace(s.charCodeAt(i))) i++;
  };
  let c = at(i);
  if (c === 0xa5 || c === 0xffe5) {
    i++; // ¥ ￥
    skip();
    c = at(i);
  }
  let neg = false;
  if (c === 0x2d || c === 0x2212 || c === 0x2b) {
    neg = c !== 0x2b;
    i++;
    skip();
  }
  let int = '';
  let groups = 0;
  let groupLen = 0;
  let firstGroupLen = 0;
  for (; i < n; i++) {
    c = at(i);
    if (isDigitAscii(c)) {
      int += String.fromCharCode(c);
      groupLen++;
    } else if (c === 0x2c) {
      if (groups === 0) firstGroupLen = groupLen;
      else if (groupLen !== 3) return null;
      groups++;
      groupLen = 0;
    } else break;
  }
  if (groups > 0 && (firstGroupLen < 1 || firstGroupLen > 3 || groupLen !== 3)) return null;
  let frac = '';
  if (at(i) === 0x2e) {
    i++;
    for (; i < n && isDigitAscii(at(i)); i++) frac += String.fromCharCode(at(i));
  }
  if (int.length === 0 && frac.length === 0) return null;
  let exp = 0;
  c = at(i);
  if (c === 0x45 || c === 0x65) {
    i++;
    let expNeg = false;
    c = at(i);
    if (c === 0x2b || c === 0x2d) {
      expNeg = c === 0x2d;
      i++;
    }
    const start = i;
    for (; i < n && isDigitAscii(at(i)); i++) exp = Math.min(exp * 10 + (at(i) - 0x30), 1000);
    if (i === start) return null;
    if (expNeg) exp = -exp;
  }
  skip();
  let unit: AmountParts['unit'] = 'none';
  c = s.charCodeAt(i);
  if (c === 0x4e07) {
    // 万 or 万元
    unit = 'wan';
    i++;
    if (s.charCodeAt(i) === 0x5143) i++;
  } else if (c === 0x5143) {
    unit = 'yuan';
    i++;
  }
  skip();
  if (i !== n) return null;
  return { neg, int, frac, exp, unit };
}

function amountChecks(raw: string, shown: string, value: string, neg: boolean): NormalizeResult {
  if (neg && value !== '0') {
    return fail(
      'constraint-error',
      raw,
      `the amount "${shown}" is negative`,
      `金额“${shown}”不能为负数，应为大于或等于0的数字（单位：万元）`,
    );
  }
  const dot = value.indexOf('.');
  const intLen = dot < 0 ? value.length : dot;
  if (dot >= 0 && value.length - dot - 1 > AMOUNT_MAX_DECIMALS) {
    return fail(
      'constraint-error',
      raw,
      `the amount "${shown}" has more than ${AMOUNT_MAX_DECIMALS} decimals (the unit is 万元, ten thousand yuan)`,
      `金额“${shown}”的小数超过${AMOUNT_MAX_DECIMALS}位。单位是万元，最多保留${AMOUNT_MAX_DECIMALS}位小数（即精确到0.01元）`,
    );
  }
  if (intLen > AMOUNT_MAX_INTEGER_DIGITS) {
    return fail(
      'constraint-error',
      raw,
      `the amount "${shown}" has more than ${AMOUNT_MAX_INTEGER_DIGITS} integer digits (the unit is 万元, ten thousand yuan)`,
      `金额“${shown}”超过${AMOUNT_MAX_INTEGER_DIGITS}位整数，超出范围。请确认单位是万元（1万元 = 10000元）`,
    );
  }
  return ok(value);
}

/**
 * An amount in 万元 (ten thousand yuan), as a canonical decimal string: no exponent, no thousands separators,
 * no leading zeros, no trailing zeros after the point, '0' for zero ('1,234.50万元' → '1234.5').
 * Numbers keep their shortest representation (0.2 → '0.2'), non-integers rounded to 15 significant digits
 * as a spreadsheet shows them (0.1 + 0.2 → '0.3'). Strings may use full-width digits, thousands separators
 * (groups of three only: '1,23' is ambiguous and rejected), a ¥ sign, scientific notation and a trailing
 * 万元 or 万. A trailing 元 without 万 is an amount in yuan: a type-error that gives the value in 万元.
 * Negative amounts, more than 6 decimals or more than 12 integer digits (decimal(18,6)) are constraint-errors.
 */
export function normalizeAmount(v: CellValue): NormalizeResult {
  if (v === null) return EMPTY;
  if (typeof v === 'string') {
    const s = trimCell(v);
    if (s.length === 0) return EMPTY;
    if (isCanonicalAmount(s)) return ok(s);
    const parts = parseAmountString(s);
    if (parts === null || Math.abs(parts.exp) > 100) {
      return fail(
        'type-error',
        v,
        `unrecognised amount "${s}"; expected a number in 万元 (ten thousand yuan), e.g. 12.5`,
        `金额“${s}”无法识别，应为以万元为单位的数字，如 12.5（不要填写文字或其他单位）`,
      );
    }
    if (parts.unit === 'yuan') {
      const wan = canonicalDecimal(parts.int, parts.frac, parts.exp - 4);
      const yuan = canonicalDecimal(parts.int, parts.frac, parts.exp);
      const sign = parts.neg && wan !== '0' ? '-' : '';
      return fail(
        'type-error',
        v,
        `the amount "${s}" is in yuan; the field is in 万元 (ten thousand yuan): ${sign}${yuan}元 = ${sign}${wan} 万元`,
        `金额“${s}”的单位是元，本字段的单位是万元：${sign}${yuan}元 = ${sign}${wan}万元，请填写 ${sign}${wan}`,
      );
    }
    return amountChecks(v, s, canonicalDecimal(parts.int, parts.frac, parts.exp), parts.neg);
  }
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) {
      return fail(
        'type-error',
        String(v),
        `the amount ${v} is not a number`,
        `金额“${v}”不是有效的数字，应为以万元为单位的数字`,
      );
    }
    const text = numberToDecimal(v);
    return amountChecks(String(v), text, v < 0 ? text.slice(1) : text, v < 0);
  }
  const shown = typeof v === 'boolean' ? booleanText(v) : received(v);
  return fail(
    'type-error',
    shown,
    `"${shown}" is not an amount; expected a number in 万元 (ten thousand yuan)`,
    v instanceof Date
      ? '金额单元格被电子表格识别成了日期，应为以万元为单位的数字，请把该列设置为“数值”或“常规”格式后重新填写'
      : `“${shown}”不是金额，应为以万元为单位的数字`,
  );
}

// ---------------------------------------------------------------------------------------------------------
// Code lists
// ---------------------------------------------------------------------------------------------------------

interface CodeLookup {
  /** Raw code, label or alias → label (the fast path: no key computed). */
  exact: Map<string, string>;
  /** Lookup key (see `listKey`) → label. */
  byKey: Map<string, string>;
  /** All-digit code without leading zeros → label ('1' → the label of '01'). */
  byNumber: Map<string, string>;
  /** The most separators any label or alias contains, for rejoining split parts. */
  maxSeparators: number;
  allowedZh: string;
  allowedEn: string;
}

/** Lists are immutable once loaded: the lookup is built once per list object. */
const lookups = new WeakMap<readonly CodeListEntry[], CodeLookup>();

/** Separators between several values of one cell: ; ； , ， 、 | ｜ and line breaks. */
function isListSeparator(c: number): boolean {
  return (
    c === 0x3b ||
    c === 0xff1b ||
    c === 0x2c ||
    c === 0xff0c ||
    c === 0x3001 ||
    c === 0x7c ||
    c === 0xff5c ||
    c === 0x0a ||
    c === 0x0d
  );
}

/** Lookup key: no whitespace, half-width, ASCII upper-case, every separator as 、 (so 没收违法所得,没收非法财物 matches). */
function listKey(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (isListSeparator(c) && c !== 0x0a && c !== 0x0d) c = 0x3001;
    else if (isSpace(c)) continue;
    else c = halfWidth(c);
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    out += String.fromCharCode(c);
  }
  return out;
}

function stripLeadingZeros(digits: string): string {
  let i = 0;
  while (i < digits.length - 1 && digits.charCodeAt(i) === 0x30) i++;
  return i === 0 ? digits : digits.slice(i);
}

function countSeparators(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (isListSeparator(s.charCodeAt(i))) n++;
  return n;
}

function buildLookup(list: readonly CodeListEntry[]): CodeLookup {
  const exact = new Map<string, string>();
  const byKey = new Map<string, string>();
  const byNumber = new Map<string, string>();
  let maxSeparators = 0;
  const add = (text: string, label: string): void => {
    if (!exact.has(text)) exact.set(text, label);
    const key = listKey(text);
    if (key && !byKey.has(key)) byKey.set(key, label);
    maxSeparators = Math.max(maxSeparators, countSeparators(text));
  };
  // Labels first, then codes, then aliases: on a clash the earlier kind wins.
  for (const entry of list) add(entry.label, entry.label);
  for (const entry of list) {
    add(entry.code, entry.label);
    const key = listKey(entry.code);
    if (isAsciiDigits(key)) {
      const number = stripLeadingZeros(key);
      if (!byNumber.has(number)) byNumber.set(number, entry.label);
    }
  }
  for (const entry of list) for (const alias of entry.aliases ?? []) add(alias, entry.label);
  const described = list.map((e) => ({ label: e.label, code: e.code === e.label ? '' : e.code }));
  return {
    exact,
    byKey,
    byNumber,
    maxSeparators,
    allowedZh: described.length
      ? described.map((e) => (e.code ? `${e.label}（${e.code}）` : e.label)).join('；')
      : '（代码表为空）',
    allowedEn: described.map((e) => (e.code ? `${e.label} (${e.code})` : e.label)).join('; '),
  };
}

function lookupOf(list: readonly CodeListEntry[]): CodeLookup {
  let lookup = lookups.get(list);
  if (!lookup) {
    lookup = buildLookup(list);
    lookups.set(list, lookup);
  }
  return lookup;
}

function findLabel(lookup: CodeLookup, text: string): string | undefined {
  const direct = lookup.exact.get(text);
  if (direct !== undefined) return direct;
  const key = listKey(text);
  const label = lookup.byKey.get(key);
  if (label !== undefined) return label;
  return isAsciiDigits(key) ? lookup.byNumber.get(stripLeadingZeros(key)) : undefined;
}

function unknownValues(raw: string, unknown: string[], lookup: CodeLookup, multi: boolean): NormalizeResult {
  const quotedZh = unknown.map((u) => `“${u}”`).join('、');
  const quotedEn = unknown.map((u) => `"${u}"`).join(', ');
  return fail(
    'constraint-error',
    raw,
    `${quotedEn} ${unknown.length > 1 ? 'are' : 'is'} not in the code list; allowed: ${lookup.allowedEn}`,
    `${quotedZh}不在代码表中，应为以下之一：${lookup.allowedZh}${multi ? '。多个值请用分号“;”隔开' : ''}`,
  );
}

/**
 * A code-list value as its canonical label: given as the label, an alias or the code ('01', or '1' for '01'),
 * ignoring whitespace, full/half width and ASCII case. With `multi`, the cell is split on ; ； , ， 、 | ｜ and
 * line breaks, each part is mapped, and the labels are joined with ';' (duplicates dropped, order kept). A label
 * that itself contains a separator (没收违法所得、没收非法财物) is recognised by rejoining adjacent parts, longest
 * first. Any unknown part is a constraint-error naming every unknown part and listing the allowed labels.
 * The lookup is built once per list object and cached: treat loaded lists as immutable.
 */
export function normalizeCodeList(
  v: CellValue,
  list: readonly CodeListEntry[],
  options: CodeListOptions = {},
): NormalizeResult {
  if (v === null) return EMPTY;
  const lookup = lookupOf(list);
  let s: string;
  if (typeof v === 'string') {
    s = trimCell(v);
    if (s.length === 0) return EMPTY;
  } else if (typeof v === 'number' && Number.isFinite(v)) {
    s = numberToDecimal(v);
  } else {
    const shown = typeof v === 'boolean' ? booleanText(v) : received(v);
    return unknownValues(shown, [shown], lookup, options.multi === true);
  }
  const whole = findLabel(lookup, s);
  if (whole !== undefined) return ok(whole);
  if (!options.multi) return unknownValues(typeof v === 'string' ? v : s, [s], lookup, false);

  // Split into parts and the separators between them.
  const parts: string[] = [];
  const seps: string[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (isListSeparator(s.charCodeAt(i))) {
      parts.push(s.slice(start, i));
      seps.push(s[i] ?? '');
      start = i + 1;
    }
  }
  parts.push(s.slice(start));

  const labels: string[] = [];
  const unknown: string[] = [];
  let i = 0;
  while (i < parts.length) {
    const part = trimCell(parts[i] ?? '');
    if (part.length === 0) {
      i++;
      continue;
    }
    let matched = 0;
    let label: string | undefined;
    for (
      let j = Math.min(parts.length, i + 1 + lookup.maxSeparators);
      j > i + 1 && label === undefined;
      j--
    ) {
      let joined = parts[i] ?? '';
      for (let k = i + 1; k < j; k++) joined += (seps[k - 1] ?? '') + (parts[k] ?? '');
      label = findLabel(lookup, trimCell(joined));
      if (label !== undefined) matched = j - i;
    }
    if (label === undefined) {
      label = findLabel(lookup, part);
      matched = 1;
    }
    if (label === undefined) unknown.push(part);
    else if (!labels.includes(label)) labels.push(label);
    i += matched;
  }
  if (unknown.length) return unknownValues(typeof v === 'string' ? v : s, unknown, lookup, true);
  return labels.length === 0 ? EMPTY : ok(labels.join(';'));
}
