import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { csvField } from '../../lib/csv.js';

/** One file of an export, as its manifest lists it. */
export interface FeedFileEntry {
  name: string;
  resource: string;
  kind: 'publish' | 'withdraw';
  format: 'csv' | 'jsonl';
  rows: number;
  bytes: number;
  sha256: string;
}

/**
 * A CSV and a JSON-lines file of the same rows (UTF-8, no BOM; CSV lines end in CRLF), written as they come
 * with their SHA-256 computed on the way: an export of every public record does not have to fit in memory.
 */
export class FeedFilePair {
  private readonly files: { entry: FeedFileEntry; out: WriteStream; hash: ReturnType<typeof createHash> }[];

  constructor(
    dir: string,
    resource: string,
    kind: FeedFileEntry['kind'],
    private readonly header: readonly string[],
  ) {
    this.files = (['csv', 'jsonl'] as const).map((format) => {
      const name = `${resource}.${kind}.${format}`;
      return {
        entry: { name, resource, kind, format, rows: 0, bytes: 0, sha256: '' },
        out: createWriteStream(join(dir, name)),
        hash: createHash('sha256'),
      };
    });
    this.write(0, `${header.map((h) => csvField(h)).join(',')}\r\n`);
  }

  /** Appends rows given as values in header order (null: an empty CSV field, a JSON null). */
  async add(rows: readonly (readonly (string | null)[])[]): Promise<void> {
    let csv = '';
    let jsonl = '';
    for (const row of rows) {
      csv += `${row.map((v) => csvField(v ?? '')).join(',')}\r\n`;
      jsonl += `${JSON.stringify(Object.fromEntries(this.header.map((h, i) => [h, row[i] ?? null])))}\n`;
    }
    for (const f of this.files) f.entry.rows += rows.length;
    const drained = [this.write(0, csv), this.write(1, jsonl)];
    await Promise.all(this.files.map((f, i) => (drained[i] ? undefined : once(f.out, 'drain'))));
  }

  /** Closes both files; their manifest entries. */
  async close(): Promise<FeedFileEntry[]> {
    return Promise.all(
      this.files.map(async (f) => {
        f.out.end();
        await once(f.out, 'finish');
        f.entry.sha256 = f.hash.digest('hex');
        return f.entry;
      }),
    );
  }

  private write(index: number, text: string): boolean {
    const f = this.files[index] as (typeof this.files)[number];
    const bytes = Buffer.from(text, 'utf8');
    f.hash.update(bytes);
    f.entry.bytes += bytes.length;
    return f.out.write(bytes);
  }
}
