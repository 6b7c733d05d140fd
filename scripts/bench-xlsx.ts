/**
 * Benchmarks connectors/spreadsheet/xlsx-reader.ts against exceljs' streaming reader on a generated
 * 200,000-row × 20-column workbook of Chinese enterprise records (rows/s and peak RSS, each reader in its own
 * process). The workbook is written by LibreOffice (a generated CSV converted by `soffice`) when it is
 * installed — the hard case: sharedStrings.xml stored after the sheet — and by exceljs otherwise.
 *
 * Usage: node bin/run-ts.js scripts/bench-xlsx.ts [--rows 200000] [--writer libreoffice|exceljs|both]
 *        [--readers guiji,exceljs] [--dir <cache dir>]
 * Generated workbooks are cached in the directory (default: <tmp>/guiji-bench-xlsx) and reused.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import ExcelJS from 'exceljs';
import { openXlsx } from '../connectors/spreadsheet/xlsx-reader.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    writer: { type: 'string', default: '' },
    readers: { type: 'string', default: 'guiji,exceljs' },
    dir: { type: 'string', default: join(tmpdir(), 'guiji-bench-xlsx') },
    child: { type: 'string' },
    file: { type: 'string' },
  },
});

const COLUMNS = 20;

// ─────────────────────────────────────────── child: one reader ───────────────────────────────────────────

async function runChild(reader: string, file: string): Promise<void> {
  const t0 = performance.now();
  let rows = 0;
  let cells = 0;
  let firstRowMs = 0;
  if (reader === 'guiji') {
    const wb = await openXlsx(file);
    const sheet = wb.sheets[0];
    if (!sheet) throw new Error('no sheet');
    for await (const row of wb.rows(sheet.name)) {
      if (rows === 0) firstRowMs = performance.now() - t0;
      rows++;
      cells += row.cells.length;
    }
    await wb.close();
  } else {
    const wb = new ExcelJS.stream.xlsx.WorkbookReader(file, {
      sharedStrings: 'cache',
      styles: 'cache',
      hyperlinks: 'ignore',
      worksheets: 'emit',
      entries: 'emit',
    });
    for await (const ws of wb) {
      for await (const row of ws) {
        if (rows === 0) firstRowMs = performance.now() - t0;
        rows++;
        cells += (row as ExcelJS.Row).cellCount;
      }
    }
  }
  const ms = performance.now() - t0;
  const maxRssMb = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify({ reader, rows, cells, ms, firstRowMs, maxRssMb }));
}

// ─────────────────────────────────────────── data generation ───────────────────────────────────────────

let seed = 20141001;
function rnd(n: number): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return (seed >>> 8) % n;
}
const SURNAMES =
  '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈';
const GIVEN = '伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英建华文辉志强永健世杰晓东海燕国庆';
const CITIES = [
  '广州',
  '深圳',
  '珠海',
  '汕头',
  '佛山',
  '韶关',
  '湛江',
  '肇庆',
  '江门',
  '茂名',
  '惠州',
  '梅州',
];
const TRADES = [
  '科技',
  '贸易',
  '餐饮管理',
  '建设工程',
  '物流',
  '医药',
  '文化传媒',
  '电子',
  '食品',
  '环保',
  '房地产开发',
];
const FORMS = ['有限公司', '股份有限公司', '有限责任公司', '个体工商户'];
const KINDS = ['普通', '特许', '认可', '核准', '登记'];
const DEPTS = ['市市场监督管理局', '市生态环境局', '市交通运输局', '市卫生健康委员会', '市住房和城乡建设局'];
const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!;
const person = () => pick([...SURNAMES]) + pick([...GIVEN]) + (rnd(2) ? pick([...GIVEN]) : '');
const CODE_CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const code = () => {
  let s = '91';
  for (let i = 0; i < 16; i++) s += CODE_CHARS[rnd(i < 6 ? 10 : CODE_CHARS.length)];
  return s;
};
const date = (from: number) => {
  const d = new Date(Date.UTC(from, 0, 1) + rnd(3650) * 86_400_000);
  return d.toISOString().slice(0, 10);
};

function record(i: number): (string | number)[] {
  const city = pick(CITIES);
  return [
    code(),
    `${city}市${person()}${pick(TRADES)}${pick(FORMS)}${i}`,
    person(),
    `${city}市${pick(['天河', '越秀', '海珠', '南山', '福田'])}区${pick(['中山', '解放', '人民', '建设'])}路${rnd(999) + 1}号${i % 97}栋`,
    `粤${city.slice(0, 1)}市监许〔${2015 + (i % 10)}〕${i}号`,
    `${pick(['食品经营许可', '道路运输经营许可', '排污许可', '建筑施工许可'])}（${pick(KINDS)}）`,
    pick(KINDS),
    date(2015),
    date(2020),
    date(2024),
    rnd(1_000_000) / 100,
    rnd(500),
    pick(DEPTS),
    `11440${String(100000 + rnd(899999))}${rnd(10)}`,
    `${pick(['同意许可', '准予变更', '准予延续'])}，有效期${rnd(5) + 1}年，编号${i}`,
    `${person()}（经办人）`,
    rnd(2) ? '是' : '否',
    `备注：${pick(CITIES)}${pick(TRADES)}${rnd(100000)}`,
    13_800_000_000 + rnd(99_999_999),
    `https://xyzg.example.gov.cn/xk/${i}`,
  ];
}
const HEADER = [
  '统一社会信用代码',
  '行政相对人名称',
  '法定代表人',
  '地址',
  '行政许可决定文书号',
  '许可证书名称',
  '许可类别',
  '许可决定日期',
  '有效期自',
  '有效期至',
  '注册资本（万元）',
  '从业人数',
  '许可机关',
  '许可机关代码',
  '许可内容',
  '经办人',
  '是否公示',
  '备注',
  '联系电话',
  '数据来源',
];

async function writeCsv(path: string, rows: number): Promise<void> {
  const out = createWriteStream(path);
  const quote = (v: string | number) =>
    typeof v === 'number' ? String(v) : /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
  let buf = `${HEADER.join(',')}\n`;
  for (let i = 1; i <= rows; i++) {
    buf += `${record(i).map(quote).join(',')}\n`;
    if (buf.length > 65536) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
}

async function writeWithExceljs(path: string, rows: number): Promise<void> {
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({
    filename: path,
    useSharedStrings: true,
    useStyles: true,
  });
  const ws = wb.addWorksheet('Sheet1');
  ws.addRow(HEADER).commit();
  for (let i = 1; i <= rows; i++) {
    const r = record(i);
    for (const k of [7, 8, 9]) r[k] = new Date(`${r[k]}T00:00:00Z`) as unknown as string;
    const row = ws.addRow(r);
    for (const k of [8, 9, 10]) row.getCell(k).numFmt = 'yyyy-mm-dd';
    row.commit();
  }
  ws.commit();
  await wb.commit();
}

function hasSoffice(): boolean {
  try {
    execFileSync('soffice', ['--version'], { stdio: 'pipe', timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

async function workbook(writer: string, rows: number, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `bench-${writer}-${rows}.xlsx`);
  if (existsSync(path)) return path;
  const t0 = performance.now();
  if (writer === 'libreoffice') {
    const base = `bench-${writer}-${rows}`;
    const csv = join(dir, `${base}.csv`);
    await writeCsv(csv, rows);
    execFileSync(
      'soffice',
      ['--headless', '--infilter=CSV:44,34,76,1,,2052', '--convert-to', 'xlsx', '--outdir', dir, csv],
      { stdio: 'pipe', timeout: 3_600_000 },
    );
    if (!existsSync(path)) renameSync(join(dir, `${base}.xlsx`), path);
  } else {
    await writeWithExceljs(path, rows);
  }
  const mb = statSync(path).size / 1048576;
  console.log(`generated ${path} (${mb.toFixed(1)} MB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return path;
}

// ─────────────────────────────────────────── main ───────────────────────────────────────────

if (args.child) {
  await runChild(args.child, args.file ?? '');
} else {
  const rows = Number(args.rows);
  const soffice = hasSoffice();
  const writers =
    args.writer === 'both'
      ? ['libreoffice', 'exceljs']
      : [args.writer || (soffice ? 'libreoffice' : 'exceljs')];
  if (writers.includes('libreoffice') && !soffice) throw new Error('soffice is not installed');
  const script = resolve(import.meta.dirname, 'bench-xlsx.ts');
  const runTs = resolve(import.meta.dirname, '..', 'bin', 'run-ts.js');
  console.log(`${rows} rows × ${COLUMNS} columns; Node ${process.version}`);
  for (const writer of writers) {
    const file = await workbook(writer, rows, resolve(args.dir));
    for (const reader of args.readers.split(',')) {
      const res = spawnSync(process.execPath, [runTs, script, '--child', reader, '--file', file], {
        encoding: 'utf8',
        maxBuffer: 16 * 1024 * 1024,
      });
      const line = res.stdout.trim().split('\n').pop() ?? '';
      if (res.status !== 0 || !line.startsWith('{')) {
        console.log(`${writer} / ${reader}: failed (${res.status})\n${res.stderr.slice(-2000)}`);
        continue;
      }
      const r = JSON.parse(line) as {
        rows: number;
        cells: number;
        ms: number;
        firstRowMs: number;
        maxRssMb: number;
      };
      const rate = Math.round(r.rows / (r.ms / 1000));
      const sheetRate = Math.round(r.rows / ((r.ms - r.firstRowMs) / 1000));
      console.log(
        `${`${writer}-written`.padEnd(19)} ${reader.padEnd(8)} ${String(r.rows).padStart(7)} rows ` +
          `${(r.ms / 1000).toFixed(2).padStart(6)} s  ${String(rate).padStart(7)} rows/s  ` +
          `peak RSS ${r.maxRssMb.toFixed(0).padStart(5)} MB  (first row after ${(r.firstRowMs / 1000).toFixed(2)} s; ` +
          `after it ${sheetRate} rows/s)`,
      );
    }
  }
}
