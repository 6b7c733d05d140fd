import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { zipCaughtUp } from '../pipelines/feedback/workbook.js';

/** Lets every callback already queued run: whatever could settle the wait without the zip reading has. */
const queuedCallbacksRun = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** A zip input nobody reads yet: what is written stays buffered, as behind a slow deflate. */
function stalledZip(bytes: number): PassThrough {
  const pipe = new PassThrough();
  for (let written = 0; written < bytes; written += 64 * 1024) pipe.write(Buffer.alloc(64 * 1024));
  return pipe;
}

describe('the feedback workbook waits for its zip', () => {
  it('holds the next page on the zip draining while more than the limit waits, and goes on once it has', async () => {
    const pipe = stalledZip(6 << 20);
    let resumed = false;
    const waiting = zipCaughtUp({ stream: { pipes: [pipe] } }, 4 << 20).then(() => {
      resumed = true;
    });
    await queuedCallbacksRun();
    // nothing but the zip reading can let it go on: it waits on the zip's own 'drain', not on a timer
    expect(resumed).toBe(false);
    expect(pipe.listenerCount('drain')).toBe(1);
    pipe.resume(); // the zip reads
    await waiting;
    expect(resumed).toBe(true);
    expect(pipe.writableLength).toBeLessThanOrEqual(4 << 20);
    // and leaves no listener behind on the zip (one per page would pile up)
    expect(pipe.listenerCount('drain') + pipe.listenerCount('error') + pipe.listenerCount('close')).toBe(0);
  });

  it('does not wait while the backlog is under the limit', async () => {
    const pipe = stalledZip(1 << 20);
    let resumed = false;
    const waiting = zipCaughtUp({ stream: { pipes: [pipe] } }, 4 << 20).then(() => {
      resumed = true;
    });
    await queuedCallbacksRun();
    expect(resumed).toBe(true);
    await waiting;
  });

  it('stops waiting when the zip fails: the commit reports the failure', async () => {
    const pipe = stalledZip(6 << 20);
    pipe.on('error', () => {}); // the workbook's commit is the one to report it
    let resumed = false;
    const waiting = zipCaughtUp({ stream: { pipes: [pipe] } }, 4 << 20).then(() => {
      resumed = true;
    });
    await queuedCallbacksRun();
    expect(resumed).toBe(false);
    pipe.destroy(new Error('no space left on device')); // no drain will ever come
    await waiting;
    expect(resumed).toBe(true);
    expect(pipe.listenerCount('drain')).toBe(0);
  });

  it('finds the backlog where exceljs keeps it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'guiji-backlog-'));
    try {
      const book = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: join(dir, 'x.xlsx') });
      const sheet = book.addWorksheet('x');
      for (let i = 0; i < 20_000; i++) sheet.addRow([`界首市第${i}号有限公司`, i, '警告']).commit();
      const state = (
        sheet as unknown as {
          stream: { pipes: Array<{ _writableState: { length: number; needDrain: boolean } }> };
        }
      ).stream.pipes[0]?._writableState;
      // the rows just written wait in the zip's input, which has seen it is full: the 'drain' the wait
      // listens for is coming
      expect(state?.length).toBeGreaterThan(64 * 1024);
      expect(state?.needDrain).toBe(true);
      await zipCaughtUp(sheet, 64 * 1024);
      expect(state?.length).toBeLessThanOrEqual(64 * 1024);
      sheet.commit();
      await book.commit();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
