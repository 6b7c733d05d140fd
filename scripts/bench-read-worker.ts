/**
 * Reading a drop file on the main thread against a reader thread (connectors/spreadsheet/read-worker.ts):
 * the main thread's CPU time, the wall time and the peak RSS of reading every row of the bench CSV (UTF-8 and
 * GB18030) and of a 200,000-row workbook, each run in a fresh child process with bin/guiji.js's node flags.
 *
 *   node bin/run-ts.js scripts/bench-read-worker.ts [--rows N] [--repeat K] [--work-us U] [--only csv,gb18030,xlsx]
 *
 * `--work-us U` spends U µs of the main thread's CPU on each row after reading it, as validation and loading
 * would: with it the wall time shows what the second core buys. The main thread's CPU is read from
 * /proc/self/task/<pid>/stat (10 ms ticks); the process's from process.cpuUsage(). Data: the bench's generator
 * (the same seed and fault share as scripts/bench.ts) into bench-data/read-worker/, reused when present.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import ExcelJS from 'exceljs';
import { type DropFile, readTables } from '../connectors/spreadsheet/drop-folder.js';
import {
  createRandom,
  generateEnterprises,
  generatePenalties,
  PENALTY_HEADER,
  writeDelimited,
} from '../pipelines/demo/generate.js';

const ROOT = resolve(import.meta.dirname, '..');
const DATA_DIR = join(ROOT, 'bench-data', 'read-worker');
const SEED = 20240601;
const FAULT_SHARE = 0.02;
const NODE_FLAGS = (() => {
  const shebang = readFileSync(join(ROOT, 'bin', 'guiji.js'), 'utf8').split('\n', 1)[0] ?? '';
  const flags = /^#!.*\bnode\s+(.*)$/.exec(shebang)?.[1];
  return flags ? flags.trim().split(/\s+/) : [];
})();

interface ChildResult {
  rows: number;
  cells: number;
  chars: number;
  wallMs: number;
  mainCpuMs: number;
  processCpuMs: number;
  peakRssMb: number;
}

/** The main thread's CPU time (utime + stime of its task), in ms; 10 ms ticks. */
function mainThreadCpuMs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function spin(us: number): void {
  if (us <= 0) return;
  const until = performance.now() + us / 1000;
  while (performance.now() < until) {
    // the per-row work of validation and loading
  }
}

async function child(path: string, worker: boolean, workUs: number): Promise<void> {
  const stat = statSync(path);
  const format = path.endsWith('.xlsx') ? 'xlsx' : 'csv';
  const file: DropFile = {
    path,
    name: path,
    size: stat.size,
    sha256: '',
    format,
    dev: stat.dev,
    ino: stat.ino,
  };
  const cpu0 = mainThreadCpuMs();
  const all0 = process.cpuUsage();
  const t0 = performance.now();
  let rows = 0;
  let cells = 0;
  let chars = 0;
  for await (const table of readTables(file, { worker })) {
    for await (const row of table.rows) {
      rows++;
      cells += row.cells.length;
      for (const cell of row.cells) if (typeof cell === 'string') chars += cell.length;
      spin(workUs);
    }
  }
  const all = process.cpuUsage(all0);
  const result: ChildResult = {
    rows,
    cells,
    chars,
    wallMs: performance.now() - t0,
    mainCpuMs: mainThreadCpuMs() - cpu0,
    processCpuMs: (all.user + all.system) / 1000,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function ensureData(rows: number): Promise<{ csv: string; gb18030: string; xlsx: string }> {
  mkdirSync(DATA_DIR, { recursive: true });
  const xlsxRows = Math.max(1, Math.round(rows / 5));
  const paths = {
    csv: join(DATA_DIR, `penalties-${rows}.utf8.csv`),
    gb18030: join(DATA_DIR, `penalties-${rows}.gb18030.csv`),
    xlsx: join(DATA_DIR, `penalties-${xlsxRows}.xlsx`),
  };
  if (Object.values(paths).every((p) => existsSync(p))) return paths;
  console.log(`data: generating ${rows} rows into ${DATA_DIR} …`);
  const random = createRandom(SEED);
  const enterprises = generateEnterprises(random, Math.min(5000, Math.max(50, Math.round(rows / 200))));
  const all = [...generatePenalties(random, enterprises, rows, { faultShare: FAULT_SHARE }).rows];
  await writeDelimited(`${paths.csv}.part`, PENALTY_HEADER, all);
  renameSync(`${paths.csv}.part`, paths.csv);
  await writeDelimited(`${paths.gb18030}.part`, PENALTY_HEADER, all, { encoding: 'gb18030' });
  renameSync(`${paths.gb18030}.part`, paths.gb18030);
  // exceljs with shared strings (LibreOffice, as scripts/bench.ts uses when installed, is not needed here)
  const book = new ExcelJS.stream.xlsx.WorkbookWriter({
    filename: `${paths.xlsx}.part`,
    useSharedStrings: true,
  });
  const sheet = book.addWorksheet('行政处罚');
  sheet.addRow([...PENALTY_HEADER]).commit();
  for (const row of all.slice(0, xlsxRows)) sheet.addRow([...row]).commit();
  sheet.commit();
  await book.commit();
  renameSync(`${paths.xlsx}.part`, paths.xlsx);
  return paths;
}

function runChild(path: string, worker: boolean, workUs: number): ChildResult {
  const done = spawnSync(
    process.execPath,
    [
      ...NODE_FLAGS,
      join(ROOT, 'bin', 'run-ts.js'),
      import.meta.filename,
      '--child',
      path,
      '--worker',
      worker ? '1' : '0',
      '--work-us',
      String(workUs),
    ],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  if (done.status !== 0) throw new Error(`the child failed (${done.status}): ${done.stderr}`);
  const line = done.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as ChildResult;
}

function spread(values: number[], digits = 0): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] as number;
  const f = (n: number) => n.toFixed(digits);
  return sorted.length > 1
    ? `${f(median)} (${f(sorted[0] as number)}–${f(sorted.at(-1) as number)})`
    : f(median);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      worker: { type: 'string', default: '1' },
      'work-us': { type: 'string', default: '0' },
      rows: { type: 'string', default: '1000000' },
      repeat: { type: 'string', default: '3' },
      only: { type: 'string', default: 'csv,gb18030,xlsx' },
    },
  });
  const workUs = Number(values['work-us']);
  if (values.child) {
    await child(values.child, values.worker === '1', workUs);
    return;
  }
  const paths = await ensureData(Number(values.rows));
  const repeat = Number(values.repeat);
  console.log(`node flags: ${NODE_FLAGS.join(' ')}; per-row work on the main thread: ${workUs} µs`);
  console.log('file | reader | main-thread CPU s | µs/row (main) | process CPU s | wall s | peak RSS MB');
  for (const which of values.only.split(',') as (keyof typeof paths)[]) {
    const path = paths[which];
    const results: Record<'inline' | 'worker', ChildResult[]> = { inline: [], worker: [] };
    for (let rep = 0; rep < repeat; rep++) {
      // alternated, so that a neighbour's load falls on both alike
      results.inline.push(runChild(path, false, workUs));
      results.worker.push(runChild(path, true, workUs));
    }
    const [a, b] = [results.inline[0], results.worker[0]];
    if (a && b && (a.rows !== b.rows || a.cells !== b.cells || a.chars !== b.chars))
      throw new Error(`${which}: the reader thread read other rows (${JSON.stringify({ a, b })})`);
    for (const mode of ['inline', 'worker'] as const) {
      const rs = results[mode];
      const rows = rs[0]?.rows ?? 1;
      console.log(
        [
          `${which} (${rows} rows)`,
          mode,
          spread(
            rs.map((r) => r.mainCpuMs / 1000),
            2,
          ),
          spread(
            rs.map((r) => (r.mainCpuMs * 1000) / rows),
            2,
          ),
          spread(
            rs.map((r) => r.processCpuMs / 1000),
            2,
          ),
          spread(
            rs.map((r) => r.wallMs / 1000),
            2,
          ),
          spread(rs.map((r) => r.peakRssMb)),
        ].join(' | '),
      );
    }
  }
}

await main();
