import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type DropFile, type DropTable, readTables } from '../connectors/spreadsheet/drop-folder.js';
import type { Warehouse } from '../lib/db.js';
import { FileError } from '../lib/errors.js';
import { loadSpreadsheet } from '../pipelines/backfill/drops-partition.js';
import {
  createRandom,
  type DemoEnterprise,
  generateEnterprises,
  generatePenalties,
  PENALTY_HEADER,
  writeDelimited,
} from '../pipelines/demo/generate.js';
import { DropsIncomplete, type FileOutcome, runDrops } from '../pipelines/sources/drops.js';
import { createAjv } from '../schemas/ajv.js';
import { runCli } from './helpers/cli.js';
import { expectLedgerBalanced, makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

const WSH = 4; // 行政处罚决定书文号
const FACTS = 6; // 违法事实

/** A penalty file of `count` valid rows, each row's document number unique to `tag`. */
function penalties(enterprises: DemoEnterprise[], seed: number, count: number, tag: string): string[][] {
  const rows = generatePenalties(createRandom(seed), enterprises, count, {
    faultShare: 0,
    unknownShare: 0,
  }).rows;
  return rows.map((r, i) => {
    const row = [...r];
    row[WSH] = `${tag}罚字〔2025〕${i + 1}号`;
    return row;
  });
}

/** The department's words only: Chinese, no English, no library message, no server path. */
function expectClerkText(text: string, env: TestEnv): void {
  expect(text).not.toMatch(/[A-Za-z]{2,}/);
  expect(text).not.toContain(env.dir);
  expect(text).toMatch(/[\u4e00-\u9fff]/);
}

describe(`a file is loaded in full or not at all (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  let enterprises: DemoEnterprise[];
  const incoming = () => join(env.config.dropDir, 'incoming');
  const rejected = () => join(env.config.dropDir, 'rejected');

  beforeAll(async () => {
    env = await makeEnv('drops-faults', { GUIJI_BATCH_SIZE: '100' });
    db = await env.open();
    enterprises = generateEnterprises(createRandom(3), 20);
    mkdirSync(incoming(), { recursive: true });
  });
  afterEach(async () => {
    await expectLedgerBalanced(db);
  });
  afterAll(async () => {
    await db.close();
    await env.cleanup();
  });

  /** One run of the drop source alone, as runPipeline runs it, with the reader `tables` when given. */
  async function dropsRun(
    tables?: (file: DropFile) => AsyncIterable<DropTable>,
  ): Promise<{ files: FileOutcome[]; failure: DropsIncomplete | null }> {
    const [run] = await db.query<{ id: string }>(`INSERT INTO runs (kind) VALUES ('run') RETURNING id`);
    const runId = Number(run!.id);
    await db.query(`INSERT INTO source_runs (run_id, source) VALUES ($1, 'drops')`, [runId]);
    let files: FileOutcome[];
    let failure: DropsIncomplete | null = null;
    try {
      files = await runDrops({
        db,
        ajv: createAjv(),
        catalog: env.catalog,
        logger: env.logger,
        runId,
        dropDir: env.config.dropDir,
        batchSize: env.config.batchSize,
        ...(tables ? { tables } : {}),
      });
    } catch (error) {
      if (!(error instanceof DropsIncomplete)) throw error;
      failure = error;
      files = error.files;
    }
    await db.query(`UPDATE source_runs SET status = 'succeeded' WHERE run_id = $1`, [runId]);
    await db.query(`UPDATE runs SET status = 'succeeded', finished_at = now() WHERE id = $1`, [runId]);
    return { files, failure };
  }

  const recordsOf = async (file: string) =>
    Number(
      (
        await db.query<{ n: string }>(`SELECT count(*) AS n FROM records WHERE provenance->>'file' = $1`, [
          file,
        ])
      )[0]!.n,
    );
  const quarantineOf = (file: string) =>
    db.query<{
      row_ref: string;
      row_number: number;
      issues: { type: string; field: string; messageZh: string }[];
    }>(`SELECT row_ref, row_number, issues FROM quarantine WHERE file = $1 ORDER BY row_ref`, [file]);

  it('quarantines a row with a NUL in a cell (row 391, batches of 100) and loads every other row', async () => {
    const rows = penalties(enterprises, 11, 500, 'NUL');
    // row 391 of the file: the header is row 1
    rows[389]![FACTS] = '违法\u0000事实';
    await writeDelimited(join(incoming(), 'nul.csv'), PENALTY_HEADER, rows);
    const bytes = readFileSync(join(incoming(), 'nul.csv'));
    // beyond the first 64 KB, where a reader looks for a binary file's NULs
    expect(bytes.indexOf(0)).toBeGreaterThan(65_536);

    const { summary, files } = await env.run(db, ['drops']);
    expect(summary.status).toBe('succeeded');
    expect(files).toEqual([
      expect.objectContaining({ file: 'nul.csv', status: 'loaded', read: 500, quarantined: 1 }),
    ]);
    expect(summary.sources[0]).toMatchObject({ read: 500, inserted: 499, quarantined: 1 });
    expect(await recordsOf('nul.csv')).toBe(499);
    const [file] = await db.query<{ status: string; rows_read: string; rows_quarantined: string }>(
      `SELECT status, rows_read, rows_quarantined FROM drop_files WHERE name = 'nul.csv'`,
    );
    expect(file).toEqual({
      status: 'loaded',
      rows_read: expect.anything(),
      rows_quarantined: expect.anything(),
    });
    expect([Number(file!.rows_read), Number(file!.rows_quarantined)]).toEqual([500, 1]);
    const [row] = await quarantineOf('nul.csv');
    expect(row!.row_number).toBe(391);
    expect(row!.issues).toEqual([expect.objectContaining({ type: 'type-error', field: expect.any(String) })]);
    expect(row!.issues[0]!.messageZh).toContain('违法事实');
    expect(row!.issues[0]!.messageZh).toContain('空字符');
    expect(existsSync(join(env.config.dropDir, 'archive', 'nul.csv'))).toBe(true);
  });

  it('rolls a file back when its reader fails after several batches: nothing of it loaded, rejected/ says why in Chinese', async () => {
    await writeDelimited(
      join(incoming(), 'quote.csv'),
      PENALTY_HEADER,
      penalties(enterprises, 12, 500, 'QUOTE'),
    );
    await writeDelimited(
      join(incoming(), 'bytes.csv'),
      PENALTY_HEADER,
      penalties(enterprises, 13, 500, 'BYTES'),
    );
    const failAt = (row: number, error: (file: DropFile) => Error) => (file: DropFile) =>
      (async function* () {
        for await (const table of readTables(file)) {
          yield {
            sheet: table.sheet,
            rows: (async function* () {
              for await (const r of table.rows) {
                if (r.rowNumber === row) throw error(file);
                yield r;
              }
            })(),
          };
        }
      })();
    const { files } = await dropsRun((file) =>
      file.name === 'quote.csv'
        ? failAt(
            452,
            () =>
              new FileError('a quote opened at row 452 never closes', '第 452 行的引号没有闭合，请检查该行'),
          )(file)
        : // a reader's own error, with the library's words and the server's path in it
          failAt(430, (f) => new Error(`Invalid byte sequence at offset 99 in ${f.path} (iconv-lite)`))(file),
    );
    const byName = Object.fromEntries(files.map((f) => [f.file, f]));
    expect(byName['quote.csv']).toMatchObject({
      status: 'rejected',
      read: 0,
      messageZh: '第 452 行的引号没有闭合，请检查该行',
    });
    expect(byName['bytes.csv']).toMatchObject({ status: 'rejected', read: 0 });
    for (const name of ['quote.csv', 'bytes.csv']) {
      // 4 batches of 100 went to the warehouse before the failure: all rolled back
      expect(await recordsOf(name), name).toBe(0);
      expect(await quarantineOf(name), name).toEqual([]);
      expect(existsSync(join(rejected(), name)), name).toBe(true);
      expect(existsSync(join(incoming(), name)), name).toBe(false);
      const reason = readFileSync(join(rejected(), `${name}.错误说明.txt`), 'utf8');
      expect(reason.trim(), name).toBe(byName[name]!.messageZh);
      expectClerkText(reason, env);
    }
    expect(byName['bytes.csv']!.messageZh).toMatch(/无法读取/);
    const marked = await db.query<{ name: string; status: string; rows_read: string }>(
      `SELECT name, status, rows_read FROM drop_files WHERE name IN ('quote.csv', 'bytes.csv') ORDER BY name`,
    );
    expect(marked.map((m) => [m.name, m.status, Number(m.rows_read)])).toEqual([
      ['bytes.csv', 'rejected', 0],
      ['quote.csv', 'rejected', 0],
    ]);
  });

  it('keeps two rejected rows with one row number apart (a row number counted twice, a sheet name twice)', async () => {
    writeFileSync(join(incoming(), 'quirk.xlsx'), 'the injected reader below stands for this workbook');
    const rows = penalties(enterprises, 14, 4, 'QUIRK');
    const invalid = (r: string[]) => r.map((v, i) => (i === WSH ? '' : v));
    const table = (rowsOf: [number, string[]][]): DropTable => ({
      sheet: '处罚',
      rows: (async function* () {
        yield { rowNumber: 1, cells: [...PENALTY_HEADER] };
        for (const [rowNumber, cells] of rowsOf) yield { rowNumber, cells };
      })(),
    });
    const { files } = await dropsRun(() =>
      (async function* () {
        yield table([
          [2, rows[0]!],
          [3, invalid(rows[1]!)],
          [5, invalid(rows[2]!)],
          [5, invalid(rows[3]!)],
        ]);
        yield table([
          [2, rows[3]!],
          [3, invalid(rows[0]!)],
        ]);
      })(),
    );
    expect(files).toEqual([
      expect.objectContaining({ file: 'quirk.xlsx', status: 'loaded', read: 6, quarantined: 4 }),
    ]);
    const stored = await quarantineOf('quirk.xlsx');
    expect(stored.map((r) => r.row_number).sort()).toEqual([3, 3, 5, 5]);
    expect(new Set(stored.map((r) => r.row_ref)).size).toBe(4);
    expect(await recordsOf('quirk.xlsx')).toBe(2);
  });

  it('leaves nothing of a file the warehouse fails half-way: a passing fault keeps it in incoming/, another rejects it', async () => {
    const passing = penalties(enterprises, 15, 500, 'DISK');
    const data = penalties(enterprises, 16, 500, 'DATA');
    await writeDelimited(join(incoming(), 'disk.csv'), PENALTY_HEADER, passing);
    await writeDelimited(join(incoming(), 'data.csv'), PENALTY_HEADER, data);
    // the 350th and the 250th row of the files fail as a full disk and as a data error would
    await db.query(
      `CREATE FUNCTION guiji_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.cf_wsh = '${passing[348]![WSH]}' THEN
           RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full';
         END IF;
         IF NEW.cf_wsh = '${data[248]![WSH]}' THEN
           RAISE EXCEPTION 'value out of range' USING ERRCODE = 'numeric_value_out_of_range';
         END IF;
         RETURN NEW;
       END $$`,
    );
    await db.query(
      `CREATE TRIGGER guiji_test_fail BEFORE INSERT ON r_xzcf FOR EACH ROW EXECUTE FUNCTION guiji_test_fail()`,
    );
    try {
      const { summary, files } = await env.run(db, ['drops']);
      expect(summary.status).toBe('failed');
      expect(summary.sources[0]!.error).toMatch(/disk\.csv: not loaded, stays in incoming/);
      const byName = Object.fromEntries(files.map((f) => [f.file, f]));
      expect(byName['disk.csv']).toMatchObject({ status: 'failed', read: 0 });
      expect(byName['data.csv']).toMatchObject({ status: 'failed', read: 0 });
      expect(existsSync(join(incoming(), 'disk.csv'))).toBe(true);
      expect(existsSync(join(rejected(), 'data.csv'))).toBe(true);
      const reason = readFileSync(join(rejected(), 'data.csv.错误说明.txt'), 'utf8');
      expect(reason).toMatch(/系统处理该文件时出错/);
      expectClerkText(reason, env);
      for (const name of ['disk.csv', 'data.csv']) {
        expect(await recordsOf(name), name).toBe(0);
        expect(await quarantineOf(name), name).toEqual([]);
      }
      // neither is recorded as processed: once mended, each loads when put in incoming/
      expect(await db.query(`SELECT name FROM drop_files WHERE name IN ('disk.csv', 'data.csv')`)).toEqual(
        [],
      );
    } finally {
      await db.query('DROP TRIGGER guiji_test_fail ON r_xzcf');
      await db.query('DROP FUNCTION guiji_test_fail()');
    }
    const again = await env.run(db, ['drops']);
    expect(again.summary.status).toBe('succeeded');
    expect(again.files).toEqual([expect.objectContaining({ file: 'disk.csv', status: 'loaded', read: 500 })]);
    expect(await recordsOf('disk.csv')).toBe(500);
  });

  it('never opens a symbolic link, a FIFO or a hidden file; moves the first two aside and says so', async () => {
    const outside = join(env.dir, 'outside.csv');
    await writeDelimited(outside, PENALTY_HEADER, penalties(enterprises, 17, 3, 'OUTSIDE'));
    symlinkSync(outside, join(incoming(), 'link.csv'));
    symlinkSync('/etc/passwd', join(incoming(), 'passwd.csv'));
    execFileSync('mkfifo', [join(incoming(), 'pipe.csv')]);
    const socket = createServer();
    await new Promise<void>((resolve) => socket.listen(join(incoming(), 'socket.csv'), resolve));
    await writeDelimited(
      join(incoming(), '.hidden.csv'),
      PENALTY_HEADER,
      penalties(enterprises, 18, 3, 'HIDDEN'),
    );
    await writeDelimited(join(incoming(), 'good.csv'), PENALTY_HEADER, penalties(enterprises, 19, 5, 'GOOD'));

    const { summary, files } = await env.run(db, ['drops']).finally(() => socket.close());
    expect(summary.status).toBe('partial');
    expect(summary.sources[0]!.status).toBe('partial');
    expect(summary.sources[0]!.error).toMatch(/link\.csv: not a regular file \(a symbolic link\)/);
    expect(summary.sources[0]!.error).toMatch(/pipe\.csv: not a regular file \(a FIFO\)/);
    const byName = Object.fromEntries(files.map((f) => [f.file, f]));
    expect(byName['good.csv']).toMatchObject({ status: 'loaded', read: 5 });
    expect(byName['.hidden.csv']).toMatchObject({ status: 'skipped' });
    expect(summary.sources[0]!.error).toMatch(/socket\.csv: not a regular file \(a socket\)/);
    for (const name of ['link.csv', 'passwd.csv', 'pipe.csv', 'socket.csv']) {
      expect(byName[name], name).toMatchObject({ status: 'rejected', read: 0 });
      // moved itself, not what it points to
      const moved = lstatSync(join(rejected(), name));
      const kind =
        { 'pipe.csv': moved.isFIFO(), 'socket.csv': moved.isSocket() }[name] ?? moved.isSymbolicLink();
      expect(kind, name).toBe(true);
      expectClerkText(readFileSync(join(rejected(), `${name}.错误说明.txt`), 'utf8').replace(name, ''), env);
    }
    expect(readFileSync(outside, 'utf8')).toContain('OUTSIDE');
    expect(await recordsOf('link.csv')).toBe(0);
    expect(await recordsOf('.hidden.csv')).toBe(0);
    expect(readdirSync(incoming())).toEqual(['.hidden.csv']);
    rmSync(join(incoming(), '.hidden.csv'));
  });

  it('backfills a historical file reached through a symbolic link (the engineer chose the folder)', async () => {
    const history = join(env.dir, 'history');
    mkdirSync(history);
    const real = join(env.dir, 'penalties-2016.csv');
    await writeDelimited(real, PENALTY_HEADER, penalties(enterprises, 22, 5, 'HISTORY'));
    symlinkSync(real, join(history, 'penalties-2016.csv'));
    const [run] = await db.query<{ id: string }>(
      `INSERT INTO runs (kind, status) VALUES ('backfill', 'succeeded') RETURNING id`,
    );
    await db.query(`INSERT INTO source_runs (run_id, source, status) VALUES ($1, 'drops', 'succeeded')`, [
      run!.id,
    ]);
    const outcome = await loadSpreadsheet(
      {
        db,
        ajv: createAjv(),
        catalog: env.catalog,
        logger: env.logger,
        runId: Number(run!.id),
        batchSize: 100,
        workDir: join(env.dir, 'work'),
        feedbackDir: join(env.dir, 'feedback'),
      },
      join(history, 'penalties-2016.csv'),
    );
    expect(outcome).toMatchObject({ status: 'loaded', read: 5 });
    expect(lstatSync(join(history, 'penalties-2016.csv')).isSymbolicLink()).toBe(true);
  });

  it('fails the source with every file left in incoming/ when archive/ cannot be written', async () => {
    const archive = join(env.config.dropDir, 'archive');
    const moved = join(env.dir, 'archive-aside');
    execFileSync('mv', [archive, moved]);
    // as root no permission stops a write: a file where the folder should be does
    writeFileSync(archive, 'not a folder');
    await writeDelimited(
      join(incoming(), 'waits.csv'),
      PENALTY_HEADER,
      penalties(enterprises, 20, 5, 'WAITS'),
    );
    try {
      const { summary, files } = await env.run(db, ['drops']);
      expect(summary.status).toBe('failed');
      expect(summary.sources[0]!.error).toMatch(/archive\/ .* cannot be written/);
      expect(files).toEqual([]);
      expect(readdirSync(incoming())).toEqual(['waits.csv']);
      expect(await recordsOf('waits.csv')).toBe(0);
    } finally {
      rmSync(archive);
      execFileSync('mv', [moved, archive]);
    }
    const again = await env.run(db, ['drops']);
    expect(again.files).toEqual([expect.objectContaining({ file: 'waits.csv', status: 'loaded' })]);
  });

  it('shortens a 238-byte name safely for what it writes beside it, never over an earlier file', async () => {
    const stem = '市场监督管理局行政处罚信息报送表'.repeat(6).slice(0, 78);
    const loaded = `${stem}.csv`;
    const failed = `${stem.slice(0, 77)}乙.csv`;
    expect(Buffer.byteLength(loaded)).toBe(238);
    const rows = penalties(enterprises, 21, 5, 'LONG');
    rows[2]![WSH] = '';
    await writeDelimited(join(incoming(), loaded), PENALTY_HEADER, rows);
    await writeDelimited(join(incoming(), failed), PENALTY_HEADER, []);
    // earlier files of the same names
    writeFileSync(join(env.config.dropDir, 'archive', loaded), 'earlier');
    writeFileSync(join(rejected(), failed), 'earlier');

    const { summary, files } = await env.run(db, ['drops']);
    expect(summary.status).toBe('succeeded');
    const byName = Object.fromEntries(files.map((f) => [f.file, f]));
    expect(byName[loaded]).toMatchObject({ status: 'loaded', read: 5, quarantined: 1 });
    expect(byName[failed]).toMatchObject({ status: 'rejected' });
    expect(readFileSync(join(env.config.dropDir, 'archive', loaded), 'utf8')).toBe('earlier');
    expect(readFileSync(join(rejected(), failed), 'utf8')).toBe('earlier');
    const archived = readdirSync(join(env.config.dropDir, 'archive')).filter((n) =>
      n.startsWith(stem.slice(0, 20)),
    );
    expect(archived).toHaveLength(3);
    expect(archived.filter((n) => n.endsWith('.退回说明.xlsx'))).toHaveLength(1);
    const reasons = readdirSync(rejected()).filter(
      (n) => n.endsWith('.错误说明.txt') && n.startsWith(stem.slice(0, 20)),
    );
    expect(reasons).toHaveLength(1);
    for (const name of [...archived, ...reasons])
      expect(Buffer.byteLength(name), name).toBeLessThanOrEqual(255);
    expect(readFileSync(join(rejected(), reasons[0]!), 'utf8')).toMatch(/没有数据行/);
  });
});

describe(`the drop folder as configured (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await makeEnv('drops-dir');
  });
  afterAll(async () => {
    await env.cleanup();
  });

  it('exits 2 naming GUIJI_DROP_DIR when the drop folder does not exist, and neither makes it nor records a run', async () => {
    const missing = join(env.dir, 'unmounted-share');
    const result = await runCli(['run', '--json'], { ...env.env, GUIJI_DROP_DIR: missing });
    expect(result.code, result.stderr.slice(-2000)).toBe(2);
    expect(result.stderr).toContain('GUIJI_DROP_DIR');
    expect(existsSync(missing)).toBe(false);
    const db = await env.open();
    try {
      expect(await db.query('SELECT id FROM runs')).toEqual([]);
    } finally {
      await db.close();
    }
  });
});
