import { describe, expect, it } from 'vitest';
import { type CsvRecord, CsvSplitter } from '../connectors/spreadsheet/csv-splitter.js';

function parseAll(text: string, chunkSize: number, delimiter = ','): CsvRecord[] {
  const splitter = new CsvSplitter(delimiter);
  const out: CsvRecord[] = [];
  for (let i = 0; i < text.length; i += chunkSize) splitter.push(text.slice(i, i + chunkSize), out);
  splitter.end(out);
  return out;
}

const SAMPLE =
  'a,b,c\r\n' +
  '1,"two, with comma",3\r\n' +
  '"multi\r\nline","say ""hi""",\r\n' +
  '\r\n' +
  '界首市,"",末尾\n' +
  'x,y"z,"q"r\n' +
  'last,row,no newline';

// `row` is what a spreadsheet application shows: the line break inside "multi\r\nline" stays in its cell, so
// the blank line is row 4 though it is line 5
const EXPECTED: CsvRecord[] = [
  { line: 1, row: 1, fields: ['a', 'b', 'c'] },
  { line: 2, row: 2, fields: ['1', 'two, with comma', '3'] },
  { line: 3, row: 3, fields: ['multi\r\nline', 'say "hi"', ''] },
  { line: 5, row: 4, fields: [''] },
  { line: 6, row: 5, fields: ['界首市', '', '末尾'] },
  { line: 7, row: 6, fields: ['x', 'y"z', 'qr'] },
  { line: 8, row: 7, fields: ['last', 'row', 'no newline'] },
];

describe('CsvSplitter', () => {
  it.each([1, 2, 3, 5, 7, 13, 64, 10_000])('splits records the same whatever the chunk size (%i)', (size) => {
    expect(parseAll(SAMPLE, size)).toEqual(EXPECTED);
  });

  it('splits on tabs for Excel "Unicode text"', () => {
    expect(parseAll('a\tb\r\n"1\t2"\t3\r\n', 4, '\t')).toEqual([
      { line: 1, row: 1, fields: ['a', 'b'] },
      { line: 2, row: 2, fields: ['1\t2', '3'] },
    ]);
  });

  it('keeps an unterminated quoted field to the end of the file', () => {
    expect(parseAll('a,"open\nstill', 3)).toEqual([{ line: 1, row: 1, fields: ['a', 'open\nstill'] }]);
  });
});
