import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Catalog } from '../../catalog/load.js';
import { ensureDropDirs } from '../../connectors/spreadsheet/drop-folder.js';
import type { Config } from '../../lib/config.js';
import type { Warehouse } from '../../lib/db.js';
import { GuijiError, messageOf } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { printRun } from '../output.js';
import { writeReports } from '../report/index.js';
import { type RunResult, runPipeline } from '../run.js';
import {
  AUTHORITIES,
  type Authority,
  createRandom,
  ENTERPRISE_HEADER,
  enterpriseRow,
  generateEnterprises,
  generateLicences,
  generatePenalties,
  LICENCE_HEADER,
  PENALTY_HEADER,
  type Random,
  writeDelimited,
} from './generate.js';
import { type SimulatorProcess, startSimulatorProcess } from './simulators.js';

export interface DemoFiles {
  files: string[];
  penalties: number;
}

/** The demo's penalty authorities: the environment bureau sends only its damaged workbook (a silent department). */
const DEMO_PENALTY_AUTHORITIES = [AUTHORITIES[0], AUTHORITIES[1], AUTHORITIES[3]] as Authority[];

/** Today's date in China (YYYY-MM-DD): the day the demo's files are delivered. */
function chinaDate(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 10);
}

/**
 * Writes a department's week of files into incoming/: the enterprise register (UTF-8 CSV with BOM), market
 * regulation's penalties (GB18030 CSV, as Chinese Excel saves it), emergency management's penalties (Excel's
 * "Unicode text": UTF-16LE, tab-separated), approval licences (xlsx with a title row above the header) and
 * one damaged workbook. A share of rows carries the faults departments really make. The records were produced
 * in the days before `delivered` (today in China): most within the 7-working-day deadline, emergency
 * management's mostly past it (AUTHORITIES' lateShare), so the first report reads like a real month.
 */
export async function writeDemoFiles(
  dropDir: string,
  seed: number,
  penalties: number,
  delivered: string = chinaDate(Date.now()),
): Promise<DemoFiles> {
  ensureDropDirs(dropDir);
  const incoming = join(dropDir, 'incoming');
  const random = createRandom(seed);
  const enterprises = generateEnterprises(random, Math.max(50, Math.round(penalties / 3)));
  const day = `${seed}`.slice(-4);
  const files: string[] = [];

  const register = join(incoming, `企业登记信息_市场监管局_${day}.csv`);
  await writeDelimited(
    register,
    ENTERPRISE_HEADER,
    enterprises.map((e) => enterpriseRow(random, e, delivered)),
    { encoding: 'utf8-bom' },
  );
  files.push(register);

  const market = Math.round(penalties * 0.7);
  const cf1 = join(incoming, `行政处罚_市场监管局_${day}.csv`);
  const penaltyOptions = { delivered, authorities: DEMO_PENALTY_AUTHORITIES };
  await writeDelimited(
    cf1,
    PENALTY_HEADER,
    generatePenalties(random, enterprises, market, penaltyOptions).rows,
    {
      encoding: 'gb18030',
    },
  );
  files.push(cf1);

  const cf2 = join(incoming, `行政处罚_应急管理局_${day}.txt`);
  const emergency = generatePenalties(random, enterprises, penalties - market, penaltyOptions).rows;
  await writeDelimited(cf2, PENALTY_HEADER, emergency, {
    encoding: 'utf16le',
    delimiter: '\t',
  });
  files.push(cf2);

  const xk = join(incoming, `行政许可_行政审批局_${day}.xlsx`);
  const licences = generateLicences(random, enterprises, Math.round(penalties / 2), { delivered });
  await writeLicenceWorkbook(xk, licences, random);
  files.push(xk);

  const broken = join(incoming, `行政处罚_生态环境分局_${day}.xlsx`);
  await writeLicenceWorkbook(broken, generateLicences(random, enterprises, 20, { delivered }), random);
  const whole = readFileSync(broken);
  writeFileSync(broken, whole.subarray(0, Math.floor(whole.length / 2)));
  files.push(broken);
  return { files, penalties };
}

async function writeLicenceWorkbook(path: string, rows: string[][], random: Random): Promise<void> {
  const { default: ExcelJS } = await import('exceljs');
  const workbook = new ExcelJS.Workbook();
  const sheet = workbook.addWorksheet('行政许可');
  sheet.addRow(['界首市行政审批局行政许可信息报送表']);
  sheet.mergeCells(1, 1, 1, LICENCE_HEADER.length);
  sheet.addRow(LICENCE_HEADER);
  const dateColumns = new Set([10, 11, 12]);
  for (const row of rows) {
    // real Excel dates for most rows, text dates for some, as clerks type them
    sheet.addRow(row.map((v, i) => (dateColumns.has(i) && random() < 0.8 ? new Date(`${v}T00:00:00Z`) : v)));
  }
  for (const i of dateColumns) sheet.getColumn(i + 1).numFmt = 'yyyy-mm-dd';
  await workbook.xlsx.writeFile(path);
}

/**
 * The settings the demo runs with. A configured PostgreSQL warehouse (GUIJI_DATABASE_URL, DATABASE_URL) is a
 * real one: the demo's made-up records never go there unless `useConfiguredDatabase` says so. Instead the demo
 * keeps everything it makes — an embedded warehouse, sample files, reports — under GUIJI_HOME/demo, away from
 * the configured drop and report folders too (a nightly run would otherwise collect the sample files).
 */
export function demoConfig(
  config: Readonly<Config>,
  useConfiguredDatabase: boolean,
  notice: (text: string) => void = (text) => process.stderr.write(`${text}\n`),
): Readonly<Config> {
  if (!config.databaseUrl || useConfiguredDatabase) return config;
  const home = join(config.home, 'demo');
  notice(
    `guiji demo: the configured warehouse (GUIJI_DATABASE_URL) is left alone: the demo loads made-up records into ` +
      `its own embedded warehouse, sample files and reports in ${home} (--use-configured-database loads them into the configured one)`,
  );
  return Object.freeze({
    ...config,
    databaseUrl: null,
    home,
    dropDir: join(home, 'drops'),
    reportDir: join(home, 'reports'),
  });
}

/**
 * Refuses to put made-up records beside real ones: a warehouse that holds runs other than the demo's is in use
 * (an embedded warehouse in production). The demo's own earlier runs are fine: `npm start` twice works.
 */
async function refuseUsedWarehouse(db: Warehouse, config: Readonly<Config>): Promise<void> {
  const [table] = await db.query<{ runs: string | null }>(`SELECT to_regclass('runs')::text AS runs`);
  if (!table?.runs) return;
  const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM runs WHERE kind <> 'demo'`);
  if (!row?.n) return;
  const where =
    // the demo serves the embedded warehouse it holds: its handle speaks PostgreSQL's protocol either way
    config.databaseUrl ? 'the configured warehouse' : `the embedded warehouse in ${config.home}`;
  throw new GuijiError(
    'GUIJI_ERR_CONFIG',
    `${where} holds ${row.n} run(s) that are not the demo's: the demo would load made-up records beside them. ` +
      'Run it with GUIJI_HOME set to an empty folder (e.g. GUIJI_HOME=/tmp/guiji-demo)',
    { context: { setting: 'GUIJI_HOME' } },
  );
}

export interface DemoOptions {
  config: Readonly<Config>;
  db: Warehouse;
  catalog: Catalog;
  logger: Logger;
  seed: number;
  records: number;
  json: boolean;
  /** Refuse a warehouse that holds runs other than the demo's (false when the user chose the database). */
  guardExisting?: boolean;
  /** Put before `npx guiji` in the hints when the demo's warehouse is not the configured one (demoConfig). */
  hintEnv?: string;
}

export async function runDemo(options: DemoOptions): Promise<RunResult> {
  const { config } = options;
  if (options.guardExisting ?? true) await refuseUsedWarehouse(options.db, config);
  const show = (path: string) => {
    const rel = relative(process.cwd(), path);
    return rel && !rel.startsWith('..') ? rel : path;
  };
  const written = await writeDemoFiles(config.dropDir, options.seed, options.records);
  if (!options.json) {
    console.log(
      `guiji demo: wrote ${written.files.length} sample files into ${show(join(config.dropDir, 'incoming'))}`,
    );
    for (const f of written.files) console.log(`  ${relative(config.dropDir, f)}`);
    console.log('');
  }
  // with no platform configured, the demo pulls from local simulators of both, as the nightly run would
  const simulators: SimulatorProcess[] = [];
  let runConfig = config;
  if (!config.creditUrl && !config.sharingUrl) {
    const credit = await startSimulatorProcess(
      'credit-platform',
      Math.max(100, options.records),
      options.seed,
    );
    simulators.push(credit);
    const sharing = await startSimulatorProcess(
      'sharing-platform',
      Math.max(50, options.records / 2),
      options.seed,
    );
    simulators.push(sharing);
    runConfig = Object.freeze({
      ...config,
      creditUrl: credit.url,
      creditAppKey: credit.appKey,
      creditAppSecret: credit.appSecret,
      creditDatasets: 'xzxk,xzcf',
      sharingUrl: sharing.url,
      sharingAppKey: sharing.appKey,
      sharingAppSecret: sharing.appSecret,
    });
    if (!options.json) {
      console.log(
        `platforms: local simulators of the credit platform (${credit.url}) and the sharing platform (${sharing.url})\n`,
      );
    }
  }
  let result: RunResult;
  try {
    result = await runPipeline({
      config: runConfig,
      db: options.db,
      catalog: options.catalog,
      logger: options.logger,
      kind: 'demo',
    });
  } finally {
    for (const s of simulators) s.stop();
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify(result.summary)}\n`);
    return result;
  }
  printRun(result.summary, result.files);
  // the nightly job ends with the quality report; a failure to write it does not undo the run
  let report = '';
  try {
    const written = await writeReports(options.db, options.catalog, {
      outDir: config.reportDir,
      run: result.summary.runId,
      catalogDir: config.catalogDir,
    });
    if (written.files.html)
      report = `\n  open ${show(written.files.html)}   the quality report (also .xlsx, .json; every report: ${show(written.index)})`;
  } catch (error) {
    options.logger.warn({ err: messageOf(error) }, 'quality report not written');
  }
  const where = config.databaseUrl ? 'PostgreSQL' : `the embedded warehouse in ${show(config.home)}`;
  const guiji = `${options.hintEnv ?? ''}npx guiji`;
  console.log(`
Loaded into ${where}. Next:
  ${guiji} status                 the run ledger
  ${guiji} quarantine list        every rejected row with its reasons
  ls ${show(config.dropDir)}/archive ${show(config.dropDir)}/rejected     processed files; *.退回说明.xlsx go back to the departments
  npx guiji id check 91341282MA2NXXXX1X   check a credit code${report}`);
  return result;
}
