/**
 * A CSV tokenizer (RFC 4180 plus what real files do: quotes inside unquoted fields are kept as text, a quote
 * not followed by a separator ends the quoted part and the rest of the field follows as text) that works on
 * decoded string chunks. It is about three times faster than csv-parse on the pipeline's files, which is the
 * difference between parsing and loading being the bottleneck (DESIGN.md).
 */
export interface CsvRecord {
  /** 1-based line on which the record starts. */
  line: number;
  /**
   * 1-based row of the record as a spreadsheet application shows the file: every record counts, blank lines
   * too, and a line break inside a quoted cell does not start a row.
   */
  row: number;
  fields: string[];
}

const QUOTE = 34;
const CR = 13;
const LF = 10;

export class CsvSplitter {
  private rest = '';
  private line = 1;
  private row = 1;
  private readonly sep: number;

  constructor(delimiter: string) {
    this.sep = delimiter.charCodeAt(0);
  }

  /** Parses what is complete in `chunk` (with what was left over before); keeps an unfinished record. */
  push(chunk: string, out: CsvRecord[]): void {
    const text = this.rest ? this.rest + chunk : chunk;
    const consumed = this.scan(text, false, out);
    // copy the leftover so that it does not pin the whole chunk
    this.rest = consumed < text.length ? (' ' + text.slice(consumed)).slice(1) : '';
  }

  /** Parses the last, unterminated record. */
  end(out: CsvRecord[]): void {
    if (this.rest) this.scan(this.rest, true, out);
    this.rest = '';
  }

  private scan(text: string, final: boolean, out: CsvRecord[]): number {
    const sep = this.sep;
    const n = text.length;
    let pos = 0;
    while (pos < n) {
      const start = pos;
      const startLine = this.line;
      let lines = 0;
      const fields: string[] = [];
      let complete = false;
      let i = pos;
      for (;;) {
        // one field
        if (i < n && text.charCodeAt(i) === QUOTE) {
          let value = '';
          let j = i + 1;
          let closed = false;
          for (;;) {
            const q = text.indexOf('"', j);
            if (q === -1) break;
            if (q + 1 < n && text.charCodeAt(q + 1) === QUOTE) {
              value += text.slice(j, q + 1);
              j = q + 2;
              continue;
            }
            if (q + 1 >= n && !final) break; // the quote may be the first of a doubled pair
            value += text.slice(j, q);
            j = q + 1;
            closed = true;
            break;
          }
          if (!closed) {
            if (!final) return start;
            value += text.slice(j);
            j = n;
          }
          for (let k = i + 1; k < j; k++) if (text.charCodeAt(k) === LF) lines++;
          // anything between the closing quote and the separator belongs to the field
          let k = j;
          while (k < n) {
            const c = text.charCodeAt(k);
            if (c === sep || c === LF || c === CR) break;
            k++;
          }
          if (k > j) value += text.slice(j, k);
          fields.push(value);
          i = k;
        } else {
          let k = i;
          while (k < n) {
            const c = text.charCodeAt(k);
            if (c === sep || c === LF || c === CR) break;
            k++;
          }
          fields.push(text.slice(i, k));
          i = k;
        }
        if (i >= n) {
          if (!final) return start;
          complete = true;
          break;
        }
        const c = text.charCodeAt(i);
        if (c === sep) {
          i++;
          if (i >= n && !final) return start;
          continue;
        }
        if (c === CR) {
          if (i + 1 >= n && !final) return start;
          i += i + 1 < n && text.charCodeAt(i + 1) === LF ? 2 : 1;
        } else {
          i++;
        }
        lines++;
        complete = true;
        break;
      }
      if (complete) {
        out.push({ line: startLine, row: this.row++, fields });
        this.line += lines;
        pos = i;
      }
    }
    return pos;
  }
}
