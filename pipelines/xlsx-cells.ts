/**
 * What guiji writes into a spreadsheet cell, whichever workbook it is (the feedback handed back to a
 * department, the quality report, the templates). Three things make a text unsafe in a cell:
 *
 * - A formula. exceljs writes every string as a string cell, but Excel and LibreOffice turn a text that
 *   begins with `=`, `+`, `-` or `@` (or a tab or carriage return) into a formula as soon as the cell is
 *   edited or the sheet is saved as CSV (OWASP: CSV injection). Excel typed through an East Asian input
 *   method takes the full-width `＝＋－＠` for the same operators when a cell is edited (reported for Japanese
 *   Excel; not verified here), and clerks here type through one: an apostrophe on such a rare text costs
 *   little, so those are neutralised too. exceljs cannot write Excel's `quotePrefix` style, so the text
 *   gets a leading apostrophe (OWASP's advice): the clerk still reads the value, no spreadsheet runs it.
 * - Characters XML 1.0 forbids (C0 controls but tab, line feed and carriage return; U+FFFE, U+FFFF; halves of
 *   a surrogate pair). exceljs drops some without a word and writes others into a part Excel calls corrupt;
 *   each becomes a visible `�`, so that the clerk sees where the sent value held something unreadable.
 * - Length. Excel holds at most 32,767 characters in a cell and refuses or truncates a longer one; the text
 *   is cut to fit, with a marker saying so and how long the original was.
 */

/** The most characters (UTF-16 code units, as Excel counts) a cell holds. */
export const CELL_MAX_CHARS = 32_767;

/** What stands in for a character a workbook cannot hold. */
export const UNREADABLE_CHAR = '\uFFFD';

const FORMULA_START = /^[=+\-@\t\r＝＋－＠]/;

// DEL is legal XML, but exceljs drops it silently: it is made visible with the rest
const XML_FORBIDDEN =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** The marker ending a text cut to fit a cell; `length` is the original text's. */
export function truncationMarker(length: number): string {
  return `…[已截断，原文共 ${length} 字符]`;
}

/** A text as it is written into a cell: readable, never a formula, valid XML, within Excel's limit. */
export function cellText(text: string): string {
  let out = text.replace(XML_FORBIDDEN, UNREADABLE_CHAR);
  if (FORMULA_START.test(out)) out = `'${out}`;
  if (out.length > CELL_MAX_CHARS) {
    const marker = truncationMarker(text.length);
    let keep = CELL_MAX_CHARS - marker.length;
    const last = out.charCodeAt(keep - 1);
    if (last >= 0xd800 && last <= 0xdbff) keep--; // never keep half of a surrogate pair
    out = out.slice(0, keep) + marker;
  }
  return out;
}

/** A cell's value as it is written: texts through {@link cellText}; numbers, dates and blanks as they are. */
export function cellValue<T extends string | number | Date | null | undefined>(value: T): T {
  return (typeof value === 'string' ? cellText(value) : value) as T;
}
