import { describe, expect, it } from 'vitest';
import { CELL_MAX_CHARS, cellText, cellValue, truncationMarker } from '../pipelines/xlsx-cells.js';

describe('a cell guiji writes', () => {
  it('keeps a text a spreadsheet would run as a formula as readable text behind an apostrophe', () => {
    for (const text of [
      '=HYPERLINK("http://example.invalid","点击")',
      "+cmd|' /C calc'!A0",
      '-2+3',
      '@SUM(1)',
      '\t=1+1',
      '\r=1+1',
      '＝1+1',
      '＋86 558',
      '－1',
      '＠SUM(1)',
    ]) {
      expect(cellText(text)).toBe(`'${text}`);
    }
    for (const text of ['界首市=', '86-558', '', "'=已带撇号", '界首市\n第二行\t制表符']) {
      expect(cellText(text)).toBe(text);
    }
  });

  it('writes numbers, dates and blanks as they are: a negative amount stays a number', () => {
    expect(cellValue(-5)).toBe(-5);
    expect(cellValue(null)).toBe(null);
    const day = new Date(Date.UTC(2024, 2, 1));
    expect(cellValue(day)).toBe(day);
    expect(cellValue('-5')).toBe("'-5");
  });

  it('shows a character XML forbids as a visible placeholder instead of dropping it or breaking the file', () => {
    expect(cellText('违法\u0000事实')).toBe('违法\uFFFD事实');
    expect(cellText('a\u0001\u0008\u000B\u000C\u000E\u001F\u007Fb')).toBe(`a${'\uFFFD'.repeat(7)}b`);
    expect(cellText('a\uFFFE\uFFFFb')).toBe('a\uFFFD\uFFFDb');
    expect(cellText('a\uD800b\uDC00c')).toBe('a\uFFFDb\uFFFDc'); // halves of a pair, alone
    expect(cellText('𠀀界')).toBe('𠀀界'); // a whole pair is a character like any other
    expect(cellText('\u0000=1+1')).toBe('\uFFFD=1+1');
  });

  it('cuts a text past 32,767 characters to fit, with a marker saying how long it was', () => {
    const long = '界'.repeat(40_000);
    const out = cellText(long);
    expect(out.length).toBeLessThanOrEqual(CELL_MAX_CHARS);
    expect(out.endsWith(truncationMarker(40_000))).toBe(true);
    expect(out).toContain('已截断，原文共 40000 字符');
    expect(out.startsWith('界'.repeat(30_000))).toBe(true);

    expect(cellText('a'.repeat(CELL_MAX_CHARS))).toBe('a'.repeat(CELL_MAX_CHARS));
    expect(cellText('a'.repeat(CELL_MAX_CHARS + 1)).endsWith(truncationMarker(CELL_MAX_CHARS + 1))).toBe(
      true,
    );
    // the apostrophe counts: a formula-like text of exactly the limit is cut as well
    const formula = cellText(`=${'a'.repeat(CELL_MAX_CHARS - 1)}`);
    expect(formula.startsWith("'=")).toBe(true);
    expect(formula.length).toBeLessThanOrEqual(CELL_MAX_CHARS);
  });

  it('never cuts a character in half', () => {
    const marker = truncationMarker(50_000);
    const keep = CELL_MAX_CHARS - marker.length;
    // a surrogate pair straddles the cut
    const text = `${'a'.repeat(keep - 1)}𠀀${'b'.repeat(50_000 - keep - 1)}`;
    const out = cellText(text);
    expect(out.length).toBeLessThanOrEqual(CELL_MAX_CHARS);
    expect(out).toBe(`${'a'.repeat(keep - 1)}${marker}`);
  });
});
