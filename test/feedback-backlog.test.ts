import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { zipCaughtUp } from '../pipelines/feedback/workbook.js';

const settled = (p: Promise<unknown>, ms: number) =>
  Promise.race([p.then(() => true), new Promise((r) => setTimeout(() => r(false), ms))]);

describe('the feedback workbook waits for its zip', () => {
  it('holds the next page while more than the limit waits to be compressed, and goes on once it drains', async () => {
    const pipe = new PassThrough(); // nobody reads it yet: what is written stays buffered
    for (let i = 0; i < 96; i++) pipe.write(Buffer.alloc(64 * 1024));
    const waiting = zipCaughtUp({ stream: { pipes: [pipe] } }, 4 << 20);
    expect(await settled(waiting, 60)).toBe(false);
    pipe.resume(); // the zip reads
    expect(await settled(waiting, 2_000)).toBe(true);
  });

  it('finds the backlog where exceljs keeps it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'guiji-backlog-'));
    try {
      const book = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: join(dir, 'x.xlsx') });
      const sheet = book.addWorksheet('x');
      for (let i = 0; i < 20_000; i++) sheet.addRow([`界首市第${i}号有限公司`, i, '警告']).commit();
      const state = (sheet as unknown as { stream: { pipes: Array<{ _writableState: { length: number } }> } })
        .stream.pipes[0]?._writableState;
      // the rows just written wait in the zip's input: the number the wait reads is really there
      expect(state?.length).toBeGreaterThan(64 * 1024);
      await zipCaughtUp(sheet, 64 * 1024);
      expect(state?.length).toBeLessThanOrEqual(64 * 1024);
      sheet.commit();
      await book.commit();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
