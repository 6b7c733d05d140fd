/**
 * `npm run bench` — the pipeline against `psql \copy` of the same file on the same PostgreSQL server
 * (DESIGN.md, "Performance and memory").
 *
 *   npm run bench [-- --rows N] [--repeat K] [--quick] [--profile | --profile-all] [--only P,…]
 *                 [--node-flag=F…] [--help]
 *
 * Data: a 行政处罚 CSV of N rows (default 1,000,000; `--quick` 100,000) written by the demo generator into
 * bench-data/ (reused when present), a GB18030 copy of the same rows, and the enterprise register of their
 * subjects. Scenarios, each pipeline run in a fresh child process (scripts/bench-child.ts) so that peak RSS is
 * its own:
 *   1. UTF-8 CSV, first run into an empty schema (the register loaded first, untimed, so matching works)
 *   2. the same rows again (a copy with one more newline, so its SHA-256 differs): every record unchanged
 *   3. GB18030 CSV, first run into an empty schema
 *   4. `psql \copy` of the UTF-8 file into a plain table of text columns — the ceiling
 *   5. the rows scenario 1 stored, `\copy`'d into an empty copy of `records`: PostgreSQL alone (the JSONB
 *      store; skipped once `records` is warehouse v2's view)
 *   5a/5b. the rows scenario 1 stored in warehouse v2's typed table `r_xzcf`, dumped with COPY and `\copy`'d
 *      into a fresh table of its shape, (a) with key and secondary indexes, (b) the bulk path: key only, the
 *      indexes built after, in one transaction (before the loader writes `r_xzcf`, it is built from `records`)
 *   6. an xlsx of the file's first fifth, written by LibreOffice (`soffice`, when installed; by exceljs
 *      otherwise), first run into an empty schema
 * `--only` picks parts or single drop scenarios (`--only first,typed`). The table of figures is markdown: rate,
 * × `\copy`, × the first run (re-run), peak RSS, and issue 16's targets, printed with MISSED when missed; the
 * exit code is non-zero only when a scenario failed (it did not load every row, its ledger does not balance, the
 * re-run changed records) or when the pipeline's code changed while the bench ran. The children run node with
 * bin/guiji.js's flags (the heap cap), as production does. Beside the figures: where the time goes
 * (statements, the pipeline's CPU against the PostgreSQL server's, read from /proc — scripts/bench-pgcpu.ts),
 * memory peaks, and with --profile the first run's Node CPU per row by stage (reading, validation, digests,
 * loader, matching, GC…) and its top functions, from its CPU profiles cut to the run
 * (scripts/bench-profile.ts); --profile-all does so for every pipeline scenario. The machine is shared (each
 * figure is printed with the load average): use --repeat 3 for figures to keep.
 *
 * Environment: GUIJI_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/guiji_bench; the database
 * is created when missing), GUIJI_BENCH_SCHEMA (default `bench`; dropped and recreated between scenarios),
 * GUIJI_BATCH_SIZE (passed to the pipeline as usual).
 */
import { type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import ExcelJS from 'exceljs';
import { tableOf } from '../catalog/columns.js';
import { readCsv } from '../connectors/spreadsheet/csv-reader.js';
import { redactUrl } from '../lib/config.js';
import {
  createRandom,
  ENTERPRISE_HEADER,
  enterpriseRow,
  type Fault,
  generateEnterprises,
  generatePenalties,
  PENALTY_HEADER,
  type TextEncoding,
  writeDelimited,
} from '../pipelines/demo/generate.js';
import type { SourceSummary } from '../pipelines/run.js';
import { RECORD_ID_SEQUENCE } from '../pipelines/warehouse/typed-schema.js';
import type { ChildResult } from './bench-child.js';
import { meterSteal, type PgCpu, samplePgCpu } from './bench-pgcpu.js';
import {
  formatProfile,
  formatStages,
  markdownTable,
  summariseProfile,
  summariseStages,
} from './bench-profile.js';
import { buildTypedTable, TYPED_RESOURCE } from './bench-typed.js';

const ROOT = resolve(import.meta.dirname, '..');
const DATA_DIR = join(ROOT, 'bench-data');
const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/guiji_bench';
/** The node flags `guiji` runs with (its shebang: the heap cap), so that the children run as production does. */
const GUIJI_NODE_FLAGS = (() => {
  const shebang = readFileSync(join(ROOT, 'bin', 'guiji.js'), 'utf8').split('\n', 1)[0] ?? '';
  const flags = /^#!.*\bnode\s+(.*)$/.exec(shebang)?.[1];
  return flags ? flags.trim().split(/\s+/) : [];
})();
/** This bench's drop folders: per process, so that two benches at once do not clear each other's. */
const WORK_DIR = join(DATA_DIR, 'work', String(process.pid));
const COPY_TABLE = 'bench_copy_penalties';
/** Bump when the generated data changes, so that old files in bench-data/ are not reused. */
const DATA_VERSION = 2;
const SEED = 20240601;
const FAULT_SHARE = 0.02;

/** Issue 16, point 7 (the bar, then the aim where it names one). */
const TARGETS = {
  pipelineVsCopy: 0.25,
  pipelineAimVsCopy: 0.5,
  gb18030VsCopy: 0.2,
  xlsxRowsPerSecond: 30_000,
  xlsxAimRowsPerSecond: 40_000,
  rerunVsFirst: 1.5,
  peakRssMb: 400,
};

// ---------------------------------------------------------------------------------------------- options

interface Options {
  rows: number;
  repeat: number;
  /** Which pipeline children run under --cpu-prof: none, the first run's, or every scenario's. */
  profile: 'off' | 'first' | 'all';
  nodeFlags: string[];
  /** The parts to run besides the drop scenarios: platform, report, backfill, embedded, console. */
  only: Set<Part>;
  /** The drop scenarios to run (`--only drops`: all of them), with those they need. */
  scenarios: Set<ScenarioId>;
  url: string;
  /** The database the URL names. */
  database: string;
  schema: string;
}

const PARTS = ['drops', 'platform', 'report', 'backfill', 'embedded', 'console'] as const;
type Part = (typeof PARTS)[number];

/** The drop scenarios `--only` names one by one (`typed` is both typed PostgreSQL-alone variants). */
const SCENARIO_NAMES = ['first', 'rerun', 'gb18030', 'xlsx', 'copy', 'stored', 'typed'] as const;
type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** The scenarios a selection runs: a re-run and the PostgreSQL-alone ones need the first run, all need \copy. */
function selectScenarios(names: ReadonlySet<ScenarioName>): Set<ScenarioId> {
  const ids = new Set<ScenarioId>();
  for (const name of names) {
    if (name === 'typed') ids.add('typed').add('typedBulk');
    else ids.add(name);
  }
  if (ids.has('rerun') || ids.has('stored') || ids.has('typed')) ids.add('first');
  if (ids.size) ids.add('copy');
  return ids;
}

const USAGE = `usage: npm run bench [-- --rows N] [--repeat K] [--quick] [--profile] [--only P,…] [--node-flag=F…]
  --rows N     rows in the benchmark file (default 1000000)
  --quick      100000 rows (a smoke run)
  --repeat K   run every scenario K times and print median and min–max (default 1)
  --profile    run the first run's pipeline child under node --cpu-prof (it runs slower) and print its Node
               CPU per row by stage (reading, validation, digests, loader, matching, GC…) and top functions
  --profile-all  the same for every pipeline scenario (first run, re-run, GB18030, xlsx)
  --only P,…   run only these parts: drops (every drop scenario below), platform, report, backfill,
               embedded (50,000 rows into PGlite, in-process and served; needs no PostgreSQL), console
               (the enterprise page and search of guiji serve on --rows records: p95 < 200 / 300 ms);
               or single drop scenarios: first, rerun, gb18030, xlsx, copy, stored (PostgreSQL alone into
               the JSONB store), typed (PostgreSQL alone into r_xzcf, both variants); the first run and
               \\copy come along when a scenario needs them
  --node-flag=F  one more flag for the pipeline children's node, after those of bin/guiji.js's shebang
               (repeatable), e.g. --node-flag=--max-old-space-size=1000
environment: GUIJI_BENCH_DATABASE_URL (default ${DEFAULT_URL}), GUIJI_BENCH_SCHEMA (default bench),
             GUIJI_BATCH_SIZE`;

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      rows: { type: 'string' },
      repeat: { type: 'string' },
      quick: { type: 'boolean' },
      profile: { type: 'boolean' },
      'profile-all': { type: 'boolean' },
      only: { type: 'string' },
      'node-flag': { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return null;
  const rows = Number(values.rows ?? (values.quick ? 100_000 : 1_000_000));
  const repeat = Number(values.repeat ?? 1);
  if (!Number.isInteger(rows) || rows < 1)
    throw new UsageError(`--rows: a whole number ≥ 1, got ${values.rows}`);
  if (!Number.isInteger(repeat) || repeat < 1)
    throw new UsageError(`--repeat: a whole number ≥ 1, got ${values.repeat}`);
  const only = new Set<Part>();
  const names = new Set<ScenarioName>();
  for (const item of (values.only ?? PARTS.join(',')).split(',').map((p) => p.trim())) {
    if (item === 'drops') for (const name of SCENARIO_NAMES) names.add(name);
    else if ((PARTS as readonly string[]).includes(item)) only.add(item as Part);
    else if ((SCENARIO_NAMES as readonly string[]).includes(item)) names.add(item as ScenarioName);
    else
      throw new UsageError(
        `--only: expected some of ${[...PARTS, ...SCENARIO_NAMES].join(', ')}, got ${item}`,
      );
  }
  const schema = process.env.GUIJI_BENCH_SCHEMA || 'bench';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
    throw new UsageError(`GUIJI_BENCH_SCHEMA: not a plain name: ${schema}`);
  const url = process.env.GUIJI_BENCH_DATABASE_URL || DEFAULT_URL;
  if (!/^postgres(ql)?:\/\/[^/]+\/[^/?]+/.test(url))
    throw new UsageError('GUIJI_BENCH_DATABASE_URL: expected postgres://user@host:port/database');
  return {
    rows,
    repeat,
    profile: values['profile-all'] ? 'all' : values.profile ? 'first' : 'off',
    nodeFlags: values['node-flag'] ?? [],
    only,
    scenarios: selectScenarios(names),
    url,
    database: decodeURIComponent(new URL(url).pathname.slice(1)),
    schema,
  };
}

class UsageError extends Error {}

// ------------------------------------------------------------------------------------------- processes

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to its end; stdout (and stderr, unless inherited) collected. */
function run(command: string, args: string[], options: SpawnOptions & { inheritStderr?: boolean } = {}) {
  return new Promise<Finished>((resolvePromise, reject) => {
    const start = performance.now();
    const child = spawn(command, args, {
      ...options,
      stdio: ['ignore', 'pipe', options.inheritStderr ? 'inherit' : 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr, ms: performance.now() - start }));
  });
}

async function psql(url: string, commands: string[]): Promise<Finished> {
  const args = [url, '-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1'];
  for (const c of commands) args.push('-c', c);
  const done = await run('psql', args, { env: { ...process.env, PGCLIENTENCODING: 'UTF8' } });
  if (done.code !== 0) throw new Error(`psql failed (${done.code}): ${done.stderr.trim()}`);
  return done;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Where the pipeline's code lives: a change there during the bench makes its scenarios incomparable. */
const CODE_DIRS = ['lib', 'catalog', 'schemas', 'connectors', 'pipelines', 'migrations'];

function codeFingerprint(): string {
  const hash = createHash('sha256');
  for (const dir of CODE_DIRS) {
    const files = readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => /\.(ts|json)$/.test(f))
      .sort();
    for (const file of files) {
      hash.update(`${dir}/${file}\u0000`);
      hash.update(readFileSync(join(ROOT, dir, file)));
    }
  }
  return hash.digest('hex').slice(0, 12);
}

/** The commit the bench runs on, and whether the pipeline's code differs from it. */
async function describeCode(): Promise<string> {
  const head = await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT });
  if (head.code !== 0) return 'not a git checkout';
  const dirty = await run('git', ['status', '--porcelain', '--', ...CODE_DIRS], { cwd: ROOT });
  return `commit ${head.stdout.trim()}${dirty.stdout.trim() ? ' + uncommitted changes' : ''}`;
}

async function ensureDatabase(url: string, name: string): Promise<string> {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const found = await psql(admin.toString(), [
    `SELECT 1 FROM pg_database WHERE datname = '${name.replaceAll("'", "''")}'`,
  ]);
  if (found.stdout.trim() !== '1') {
    await psql(admin.toString(), [`CREATE DATABASE ${quoteIdent(name)}`]);
    console.log(`created database ${name}`);
  }
  const version = await psql(url, ['SHOW server_version']);
  return version.stdout.trim();
}

async function resetSchema(options: Options): Promise<void> {
  const schema = quoteIdent(options.schema);
  await psql(options.url, [`DROP SCHEMA IF EXISTS ${schema} CASCADE`, `CREATE SCHEMA ${schema}`]);
}

/** Flushes the previous scenario's dirty pages, so that its checkpoint does not land in the next one. */
async function checkpoint(url: string): Promise<void> {
  await psql(url, ['CHECKPOINT']);
}

// ------------------------------------------------------------------------------------------------- data

interface DataSet {
  version: number;
  rows: number;
  seed: number;
  faultShare: number;
  enterprises: number;
  faults: Record<Fault, number>;
  /** File names in bench-data/, and their sizes (a file of another size is not reused). */
  register: string;
  utf8: string;
  gb18030: string;
  sizes: Record<string, number>;
}

function dataPath(name: string): string {
  return join(DATA_DIR, name);
}

function fileSize(path: string): number | null {
  return existsSync(path) ? statSync(path).size : null;
}

async function ensureData(rows: number): Promise<DataSet> {
  mkdirSync(DATA_DIR, { recursive: true });
  const base = `penalties-${rows}`;
  const metaPath = dataPath(`${base}.json`);
  if (existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as DataSet;
    const intact = [meta.register, meta.utf8, meta.gb18030].every(
      (name) => typeof name === 'string' && fileSize(dataPath(name)) === meta.sizes[name],
    );
    if (meta.version === DATA_VERSION && meta.rows === rows && intact) {
      console.log(`data: reusing bench-data/${meta.utf8} (${rows.toLocaleString('en-US')} rows)`);
      return meta;
    }
  }
  const started = performance.now();
  process.stdout.write(`data: generating ${rows.toLocaleString('en-US')} rows into bench-data/ … `);
  const random = createRandom(SEED);
  // the generator's names run out at ~12,000 enterprises; a few thousand subjects are plenty
  const enterprises = generateEnterprises(random, Math.min(5000, Math.max(50, Math.round(rows / 200))));
  const meta: DataSet = {
    version: DATA_VERSION,
    rows,
    seed: SEED,
    faultShare: FAULT_SHARE,
    enterprises: enterprises.length,
    faults: {} as Record<Fault, number>,
    register: `${base}.enterprises.csv`,
    utf8: `${base}.utf8.csv`,
    gb18030: `${base}.gb18030.csv`,
    sizes: {},
  };
  // written under temporary names and renamed, so that a concurrent bench never reads half a file
  const write = async (
    name: string,
    header: readonly string[],
    rowsToWrite: Iterable<readonly string[]>,
    encoding: TextEncoding = 'utf8',
  ) => {
    const partial = dataPath(`${name}.${process.pid}.part`);
    await writeDelimited(partial, header, rowsToWrite, { encoding });
    renameSync(partial, dataPath(name));
    meta.sizes[name] = statSync(dataPath(name)).size;
  };
  await write(
    meta.register,
    ENTERPRISE_HEADER,
    enterprises.map((e) => enterpriseRow(random, e)),
  );
  const plan = generatePenalties(random, enterprises, rows, { faultShare: FAULT_SHARE });
  meta.faults = plan.faults;
  await write(meta.utf8, PENALTY_HEADER, plan.rows);
  await write(meta.gb18030, PENALTY_HEADER, plan.rows, 'gb18030');
  writeFileSync(metaPath, `${JSON.stringify(meta, null, 2)}\n`);
  console.log(`${((performance.now() - started) / 1000).toFixed(1)} s`);
  return meta;
}

function relativeToRoot(path: string): string {
  return path.startsWith(`${ROOT}/`) ? path.slice(ROOT.length + 1) : path;
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}

// -------------------------------------------------------------------------------------------- scenarios

type ScenarioId = 'first' | 'rerun' | 'gb18030' | 'xlsx' | 'copy' | 'stored' | 'typed' | 'typedBulk';

interface Measurement {
  rows: number;
  seconds: number;
  rssMb: number | null;
  child?: ChildResult;
  pgCpu?: PgCpu | null;
  /** Share of the machine's CPU time stolen by other guests while the scenario ran (null: not measured). */
  steal?: number | null;
  /** The CPU profiles of the pipeline child (one a thread), main thread first. */
  profiles?: string[];
  /** The fingerprint of the pipeline's code the scenario ran. */
  code: string;
}

interface Scenario {
  id: ScenarioId;
  title: string;
  measurements: Measurement[];
  failures: string[];
}

interface DropEntry {
  source: string;
  name: string;
  /** Append a newline to a copy, so that the same rows come in a file of another SHA-256. */
  touch?: boolean;
}

/** A drop folder whose incoming/ holds the given files (hard links where possible). */
function prepareDrop(label: string, entries: DropEntry[]): string {
  const dir = join(WORK_DIR, label);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'incoming'), { recursive: true });
  for (const entry of entries) {
    const target = join(dir, 'incoming', entry.name);
    if (entry.touch) {
      copyFileSync(entry.source, target);
      appendFileSync(target, '\n');
      continue;
    }
    try {
      linkSync(entry.source, target);
    } catch {
      copyFileSync(entry.source, target);
    }
  }
  return dir;
}

interface ChildRun {
  code: string;
  pgCpu: PgCpu | null;
  steal: number | null;
  result: ChildResult | null;
  error: string | null;
  profiles: string[];
}

async function runChild(
  options: Options,
  label: string,
  entries: DropEntry[],
  profile = false,
): Promise<ChildRun> {
  const drop = prepareDrop(label, entries);
  const code = codeFingerprint();
  const profileDir = join(DATA_DIR, 'profiles', `${process.pid}-${label}`);
  const nodeFlags = [...GUIJI_NODE_FLAGS, ...options.nodeFlags];
  if (profile) {
    rmSync(profileDir, { recursive: true, force: true });
    nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`);
  }
  const pgSampler = samplePgCpu(options.database);
  const stealMeter = meterSteal();
  const done = await run(
    process.execPath,
    [...nodeFlags, 'bin/run-ts.js', 'scripts/bench-child.ts', '--drop', drop, '--schema', options.schema],
    {
      cwd: ROOT,
      env: { ...process.env, GUIJI_BENCH_DATABASE_URL: options.url },
      inheritStderr: true,
    },
  );
  const pgCpu = pgSampler?.stop() ?? null;
  const steal = stealMeter.stop();
  rmSync(drop, { recursive: true, force: true });
  const lastLine = done.stdout.trim().split('\n').pop() ?? '';
  let result: ChildResult | null = null;
  try {
    result = lastLine ? (JSON.parse(lastLine) as ChildResult) : null;
  } catch {
    result = null;
  }
  const profiles = profile ? profilesIn(profileDir) : [];
  if (done.code !== 0 || !result) {
    const status = result ? `run ${result.summary.status}` : 'no result';
    return { code, pgCpu, steal, result, profiles, error: `child exited with ${done.code} (${status})` };
  }
  return { code, pgCpu, steal, result, profiles, error: null };
}

/**
 * The profiles a child wrote, one a thread, the main thread's first: Node names them
 * `CPU.<date>.<time>.<pid>.<thread id>.<sequence>.cpuprofile`, the main thread being thread 0 (then worker
 * threads, and the tsx loader's thread).
 */
function profilesIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const thread = (file: string) =>
    Number(/\.(\d+)\.\d+\.cpuprofile$/.exec(file)?.[1] ?? Number.MAX_SAFE_INTEGER);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort((a, b) => thread(a) - thread(b))
    .map((f) => join(dir, f));
}

function ledgerOf(result: ChildResult | null): SourceSummary | undefined {
  return result?.summary.sources[0];
}

/** What must hold for the run to count: it loaded every row of the file and its ledger balances. */
function checkRun(run: ChildRun, rows: number, expect: 'first' | 'rerun', firstInserted?: number): string[] {
  const problems: string[] = [];
  if (run.error) problems.push(run.error);
  const result = run.result;
  if (!result) return problems;
  const file = result.files.find((f) => f.resources.length > 0) ?? result.files[0];
  if (!file) problems.push('no file was processed');
  else if (file.status !== 'loaded') problems.push(`file ${file.status}: ${file.message ?? ''}`);
  const s = ledgerOf(result);
  if (!s) return [...problems, 'no ledger line'];
  if (s.status !== 'succeeded') problems.push(`source ${s.status}: ${s.error ?? ''}`);
  if (s.read !== rows) problems.push(`read ${s.read} rows of ${rows}`);
  if (s.read !== s.inserted + s.updated + s.unchanged + s.quarantined + s.duplicates)
    problems.push('the ledger does not balance');
  if (expect === 'first' && (s.updated !== 0 || s.unchanged !== 0 || s.inserted === 0))
    problems.push(`a first run into an empty schema inserted ${s.inserted}, updated ${s.updated}`);
  if (expect === 'rerun') {
    if (s.inserted !== 0 || s.updated !== 0)
      problems.push(`the unchanged re-run inserted ${s.inserted} and updated ${s.updated} records`);
    if (firstInserted !== undefined && s.unchanged !== firstInserted)
      problems.push(
        `the re-run found ${s.unchanged} unchanged records, the first run inserted ${firstInserted}`,
      );
  }
  return problems;
}

function measurement(run: ChildRun, rows: number): Measurement | null {
  if (!run.result) return null;
  const m: Measurement = {
    rows: ledgerOf(run.result)?.read ?? rows,
    seconds: run.result.seconds,
    rssMb: run.result.maxRssKb / 1024,
    child: run.result,
    pgCpu: run.pgCpu,
    steal: run.steal,
    code: run.code,
  };
  if (run.profiles.length) m.profiles = run.profiles;
  return m;
}

/** Loads the register into a fresh schema; returns what went wrong, or null. */
async function loadRegister(options: Options, data: DataSet, rep: number): Promise<string | null> {
  await resetSchema(options);
  const run = await runChild(options, `register-${rep}`, [
    { source: dataPath(data.register), name: '企业登记信息_市场监管局_bench.csv' },
  ]);
  const s = ledgerOf(run.result);
  if (run.error || !s || s.status !== 'succeeded' || s.inserted === 0) {
    const why = run.error ?? s?.error ?? run.result?.files[0]?.message ?? 'nothing inserted';
    console.log(`  loading the enterprise register failed: ${why}`);
    return `the enterprise register could not be loaded first: ${why}`;
  }
  console.log(
    `  register loaded (untimed): ${s.inserted.toLocaleString('en-US')} enterprises in ${run.result?.seconds.toFixed(1)} s`,
  );
  return null;
}

/**
 * Runs one `\copy` in psql, timed with the same clock as the children (the whole psql process, connection
 * included), with the CPU stolen meanwhile and the rows it reported.
 */
async function timedCopy(
  url: string,
  command: string,
): Promise<{ done: Finished; steal: number | null; copied: number }> {
  const stealMeter = meterSteal();
  const done = await run('psql', [url, '-X', '-v', 'ON_ERROR_STOP=1', '-c', command], {
    env: { ...process.env, PGCLIENTENCODING: 'UTF8' },
  });
  const steal = stealMeter.stop();
  return { done, steal, copied: Number(/COPY (\d+)/.exec(done.stdout)?.[1] ?? Number.NaN) };
}

async function copyScenario(
  options: Options,
  data: DataSet,
): Promise<{ m: Measurement | null; error?: string }> {
  const columns = PENALTY_HEADER.map((_, i) => `c${i + 1} text`).join(', ');
  await psql(options.url, [
    `DROP TABLE IF EXISTS public.${COPY_TABLE}`,
    `CREATE TABLE public.${COPY_TABLE} (${columns})`,
  ]);
  await checkpoint(options.url);
  const path = dataPath(data.utf8).replaceAll("'", "''");
  const { done, steal, copied } = await timedCopy(
    options.url,
    `\\copy public.${COPY_TABLE} FROM '${path}' WITH (FORMAT csv, HEADER true)`,
  );
  if (done.code !== 0) return { m: null, error: `psql \\copy failed: ${done.stderr.trim()}` };
  if (copied !== data.rows) return { m: null, error: `psql \\copy loaded ${copied} rows of ${data.rows}` };
  return { m: { rows: copied, seconds: done.ms / 1000, rssMb: null, steal, code: codeFingerprint() } };
}

/** LibreOffice's CSV import column types (column/type pairs, 1-based): codes as text (2), dates Y-M-D (5). */
const XLSX_COLUMN_TYPES = (() => {
  const codes = ['统一社会信用代码', '处罚机关统一社会信用代码', '数据来源单位统一社会信用代码'];
  const dates = ['处罚决定日期', '处罚有效期', '公示截止期'];
  const types = [...codes.map((c) => [c, 2] as const), ...dates.map((d) => [d, 5] as const)]
    .map(([title, t]) => [PENALTY_HEADER.indexOf(title) + 1, t] as const)
    .sort((a, b) => a[0] - b[0]); // Calc reads the pairs in column order only
  return types.map(([column, t]) => `${column}/${t}`).join('/');
})();

/**
 * The xlsx of scenario 6: the first fifth of the UTF-8 file's rows, as a department would send them after
 * opening the CSV in LibreOffice Calc and saving it as xlsx (`soffice --convert-to xlsx`: the code columns
 * as text, the dates as dates, the numbers as Calc types them, shared strings after the sheet). Without
 * `soffice`, exceljs writes every cell as text. Kept in bench-data/ and reused.
 */
async function ensureXlsx(
  data: DataSet,
): Promise<{ path: string; rows: number; writer: string; error: string | null }> {
  const rows = Math.max(1, Math.round(data.rows / 5));
  const soffice = spawnSync('soffice', ['--version'], { stdio: 'ignore' }).status === 0;
  const writer = soffice ? 'LibreOffice' : 'exceljs';
  const name = `penalties-${data.rows}.v${DATA_VERSION}.first-${rows}.${writer.toLowerCase()}-typed.xlsx`;
  const path = dataPath(name);
  if (existsSync(path)) return { path, rows, writer, error: null };
  const started = performance.now();
  process.stdout.write(`  data: writing ${rows.toLocaleString('en-US')} rows as xlsx with ${writer} … `);
  const head: string[][] = [];
  for await (const row of readCsv(dataPath(data.utf8))) {
    if (row.rowNumber === 1) continue;
    head.push(row.cells.map((c) => (c === null || c === undefined ? '' : String(c))));
    if (head.length === rows) break;
  }
  const work = join(WORK_DIR, 'xlsx');
  mkdirSync(work, { recursive: true });
  try {
    if (soffice) {
      const csv = join(work, 'penalties.csv');
      await writeDelimited(csv, PENALTY_HEADER, head);
      // comma, double quote, UTF-8 (76), from line 1; the columns as a careful clerk sets them (the template
      // does the same): the three credit codes as text (2), the three dates as Y-M-D dates (5), the rest
      // standard; language zh-CN (2052); a profile of its own. (Codes left "standard" are stored as numbers:
      // the pipeline rejects those rows, naming the damage — tested, not benched.)
      const done = await run('soffice', [
        `-env:UserInstallation=file://${join(work, 'profile')}`,
        '--headless',
        `--infilter=CSV:44,34,76,1,${XLSX_COLUMN_TYPES},2052`,
        '--convert-to',
        'xlsx',
        '--outdir',
        work,
        csv,
      ]);
      const out = join(work, 'penalties.xlsx');
      if (done.code !== 0 || !existsSync(out)) {
        return { path, rows, writer, error: `soffice could not convert the CSV: ${done.stderr.trim()}` };
      }
      renameSync(out, path);
    } else {
      const partial = `${path}.${process.pid}.part`;
      const book = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: partial, useSharedStrings: true });
      const sheet = book.addWorksheet('行政处罚');
      sheet.addRow([...PENALTY_HEADER]).commit();
      for (const row of head) sheet.addRow(row).commit();
      sheet.commit();
      await book.commit();
      renameSync(partial, path);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  console.log(`${((performance.now() - started) / 1000).toFixed(1)} s`);
  return { path, rows, writer, error: null };
}

/**
 * PostgreSQL alone, the pipeline's ceiling: the rows the first run stored (its records, every column) are
 * dumped, then `\copy`'d into an empty copy of `records` with the same indexes and constraints. A pipeline
 * that stores these rows on this server cannot load the file faster than this, whatever its own cost, so its
 * rate is counted in the file's rows (read, not stored). Leaves the warehouse as it found it.
 */
async function storedScenario(
  options: Options,
  data: DataSet,
): Promise<{ m: Measurement | null; error?: string }> {
  const schema = quoteIdent(options.schema);
  if ((await relationKind(options, 'records')) !== 'r') {
    // warehouse v2 (issue 16): `records` is a view over the typed tables; the typed scenarios measure these
    console.log('  (no JSONB store: records is not a table in this warehouse; see the typed scenarios)');
    return { m: null };
  }
  const dump = join(WORK_DIR, 'stored-records.copy');
  mkdirSync(WORK_DIR, { recursive: true });
  const escaped = dump.replaceAll("'", "''");
  const ceiling = `${schema}.bench_stored_records`;
  try {
    await psql(options.url, [
      `\\copy (SELECT * FROM ${schema}.records WHERE resource <> 'enterprise') TO '${escaped}'`,
      `DROP TABLE IF EXISTS ${ceiling}`,
      `CREATE TABLE ${ceiling} (LIKE ${schema}.records INCLUDING ALL)`,
    ]);
    await checkpoint(options.url);
    const { done, steal, copied } = await timedCopy(options.url, `\\copy ${ceiling} FROM '${escaped}'`);
    if (done.code !== 0)
      return { m: null, error: `psql \\copy of the stored rows failed: ${done.stderr.trim()}` };
    console.log(
      `  (${copied.toLocaleString('en-US')} stored rows of the first run, ${mb(fileSize(dump) ?? 0)} as COPY text)`,
    );
    return { m: { rows: data.rows, seconds: done.ms / 1000, rssMb: null, steal, code: codeFingerprint() } };
  } finally {
    rmSync(dump, { force: true });
    await psql(options.url, [`DROP TABLE IF EXISTS ${ceiling}`]);
  }
}

/** The relation's kind in the bench schema (`r` table, `v` view…), or null when there is none. */
async function relationKind(options: Options, name: string): Promise<string | null> {
  const found = await psql(options.url, [
    `SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = '${options.schema}' AND c.relname = '${name.replaceAll("'", "''")}'`,
  ]);
  return found.stdout.trim() || null;
}

/**
 * Columns PostgreSQL fills itself when a row is inserted (the record id from its sequence, the load's time):
 * left out of the dump, so that the `\copy` pays for them as the loader's COPY does.
 */
const SET_BY_POSTGRES = new Set(['record_id', 'received_at', 'changed_at']);

interface TypedOutcome {
  /** `r_xzcf` with its key and its 3 secondary indexes in place. */
  indexed: { m: Measurement | null; error?: string };
  /** The bulk path: key only, then the secondary indexes built, in one transaction. */
  bulk: { m: Measurement | null; error?: string };
}

/**
 * PostgreSQL alone into warehouse v2's typed table (issue 16, docs/warehouse-v2.md): the rows the first run
 * stored in `r_xzcf` are dumped with COPY, then `\copy`'d by psql into a fresh empty table of its shape
 * (`LIKE … INCLUDING ALL`: same key, same secondary indexes, same defaults — the record id from the sequence)
 * (a) with every index in place, and (b) as the bulk path loads an empty table: the secondary indexes dropped,
 * the rows copied, the indexes built again, in one transaction. Rates are counted in the file's rows, as in
 * scenario 5.
 *
 * Until the loader writes the typed tables, `r_xzcf` is created with syncTypedTables and filled from the
 * records the first run stored in `records`, converted as the upgrade of a v1 warehouse converts them
 * (CONTRACT-v2: typed field columns, own credit code apart from the matched one, provenance in columns), in
 * file order; what was created for it is dropped after. Leaves the warehouse as it found it.
 */
async function typedScenarios(options: Options, data: DataSet): Promise<TypedOutcome> {
  const schema = quoteIdent(options.schema);
  const table = tableOf(TYPED_RESOURCE);
  const source = `${schema}.${quoteIdent(table)}`;
  const ceiling = `${schema}.bench_typed_ceiling`;
  const dump = join(WORK_DIR, 'stored-typed.copy');
  mkdirSync(WORK_DIR, { recursive: true });
  const escaped = dump.replaceAll("'", "''");
  const created: string[] = [];
  const failed = (error: string): TypedOutcome => ({ indexed: { m: null, error }, bulk: { m: null, error } });
  try {
    const kind = await relationKind(options, table);
    const stored =
      kind === 'r' ? Number((await psql(options.url, [`SELECT count(*) FROM ${source}`])).stdout.trim()) : 0;
    let origin = `the first run's rows in ${table}`;
    if (stored === 0) {
      if ((await relationKind(options, 'records')) !== 'r')
        return failed(
          `the first run stored no rows in ${table}, and there is no records table to build it from`,
        );
      const started = performance.now();
      await buildTypedTable(options.url, options.schema, created);
      origin = `${table} built from the first run's records (${((performance.now() - started) / 1000).toFixed(1)} s, untimed: the loader does not write it yet)`;
    }
    const columns = (
      await psql(options.url, [
        `SELECT column_name FROM information_schema.columns
          WHERE table_schema = '${options.schema}' AND table_name = '${table}' ORDER BY ordinal_position`,
      ])
    ).stdout
      .trim()
      .split('\n')
      .filter((c) => c && !SET_BY_POSTGRES.has(c))
      .map(quoteIdent)
      .join(', ');
    await psql(options.url, [`\\copy (SELECT ${columns} FROM ${source}) TO '${escaped}'`]);
    const copyInto = `\\copy ${ceiling} (${columns}) FROM '${escaped}'`;
    const fresh = async () => {
      await psql(options.url, [
        `DROP TABLE IF EXISTS ${ceiling}`,
        `CREATE TABLE ${ceiling} (LIKE ${source} INCLUDING ALL)`,
      ]);
    };
    const size = async () =>
      Number((await psql(options.url, [`SELECT pg_total_relation_size('${ceiling}')`])).stdout.trim());

    // (a) key and secondary indexes in place
    await fresh();
    await checkpoint(options.url);
    const a = await timedPsql(options.url, [copyInto]);
    let indexed: TypedOutcome['indexed'];
    if (a.done.code !== 0)
      indexed = { m: null, error: `psql \\copy into ${table}'s shape failed: ${a.done.stderr.trim()}` };
    else {
      console.log(
        `  (${a.copied.toLocaleString('en-US')} rows: ${origin}; ${mb(fileSize(dump) ?? 0)} as COPY text, ` +
          `${mb(await size())} stored with key and indexes)`,
      );
      indexed = {
        m: {
          rows: data.rows,
          seconds: a.done.ms / 1000,
          rssMb: null,
          steal: a.steal,
          code: codeFingerprint(),
        },
      };
    }

    // (b) the bulk path: key only while copying, the secondary indexes built after, all in one transaction
    await fresh();
    const secondary = (
      await psql(options.url, [
        `SELECT i.indexrelid::regclass::text || E'\\t' || pg_get_indexdef(i.indexrelid) FROM pg_index i
          WHERE i.indrelid = '${ceiling}'::regclass AND NOT i.indisprimary ORDER BY i.indexrelid`,
      ])
    ).stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split('\t') as [string, string]);
    await psql(
      options.url,
      secondary.map(([name]) => `DROP INDEX ${name}`),
    );
    await checkpoint(options.url);
    const b = await timedPsql(
      options.url,
      [
        copyInto,
        `SELECT 'indexing', extract(epoch FROM clock_timestamp())`,
        ...secondary.map(([, sql]) => sql),
        `SELECT 'indexed', extract(epoch FROM clock_timestamp())`,
      ],
      true,
    );
    let bulk: TypedOutcome['bulk'];
    if (b.done.code !== 0)
      bulk = { m: null, error: `psql bulk load into ${table}'s shape failed: ${b.done.stderr.trim()}` };
    else {
      const at = (label: string) =>
        Number(new RegExp(`^${label}\\|([0-9.]+)$`, 'm').exec(b.done.stdout)?.[1]);
      const indexSeconds = at('indexed') - at('indexing');
      console.log(
        `  (bulk: ${secondary.length} secondary indexes built after the COPY in ${indexSeconds.toFixed(2)} s of ` +
          `${(b.done.ms / 1000).toFixed(2)} s; ${mb(await size())} stored)`,
      );
      bulk = {
        m: {
          rows: data.rows,
          seconds: b.done.ms / 1000,
          rssMb: null,
          steal: b.steal,
          code: codeFingerprint(),
        },
      };
    }
    return { indexed, bulk };
  } catch (error) {
    return failed(error instanceof Error ? error.message : String(error));
  } finally {
    rmSync(dump, { force: true });
    await psql(options.url, [
      `DROP TABLE IF EXISTS ${ceiling}`,
      ...created.map((t) => `DROP TABLE IF EXISTS ${schema}.${quoteIdent(t)}`),
      ...(created.length ? [`DROP SEQUENCE IF EXISTS ${schema}.${quoteIdent(RECORD_ID_SEQUENCE)}`] : []),
    ]);
  }
}

/**
 * Runs psql commands in one process (one transaction with `single`), timed like the children and `\copy`: the
 * whole psql process, connection included; with the CPU stolen meanwhile and the rows a `\copy` reported.
 */
async function timedPsql(
  url: string,
  commands: string[],
  single = false,
): Promise<{ done: Finished; steal: number | null; copied: number }> {
  const args = [url, '-X', '-t', '-A', '-v', 'ON_ERROR_STOP=1', ...(single ? ['-1'] : [])];
  for (const c of commands) args.push('-c', c);
  const stealMeter = meterSteal();
  const done = await run('psql', args, { env: { ...process.env, PGCLIENTENCODING: 'UTF8' } });
  const steal = stealMeter.stop();
  return { done, steal, copied: Number(/COPY (\d+)/.exec(done.stdout)?.[1] ?? Number.NaN) };
}

// -------------------------------------------------------------------------------------------- reporting

interface Stat {
  median: number;
  min: number;
  max: number;
}

function stat(values: number[]): Stat | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number };
}

function fmtStat(s: Stat | null, digits: number, repeat: number): string {
  if (!s) return '—';
  const f = (v: number) => (digits === 0 ? Math.round(v).toLocaleString('en-US') : v.toFixed(digits));
  return repeat > 1 ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median);
}

function table(head: string[], rows: string[][], right: Set<number>): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function verdict(ok: boolean): string {
  return ok ? 'ok' : 'MISSED';
}

/** The scenarios that run the pipeline (the others run psql). */
function pipelineRuns(scenarios: Record<ScenarioId, Scenario>): Scenario[] {
  return [scenarios.first, scenarios.rerun, scenarios.gb18030, scenarios.xlsx];
}

/** What a scenario is held to (issue 16, point 7), and whether it holds; null when it has no target. */
function targetOf(
  s: Scenario,
  rate: Stat | null,
  ratio: number | null,
  vsFirst: number | null,
  rss: Stat | null,
): string {
  if (s.failures.length) return 'FAILED';
  if (!rate) return '—';
  const targets: string[] = [];
  const aim = (value: number, bar: number, goal: number, text: (v: number) => string) =>
    value < bar
      ? `MISSED (bar ${text(bar)})`
      : value < goal
        ? `ok (bar ${text(bar)}; aim ${text(goal)})`
        : 'ok (aim met)';
  if (s.id === 'first' && ratio !== null)
    targets.push(
      `≥${TARGETS.pipelineVsCopy}× \\copy: ${aim(ratio, TARGETS.pipelineVsCopy, TARGETS.pipelineAimVsCopy, (v) => `${v}×`)}`,
    );
  if (s.id === 'gb18030' && ratio !== null)
    targets.push(`≥${TARGETS.gb18030VsCopy}× \\copy: ${verdict(ratio >= TARGETS.gb18030VsCopy)}`);
  if (s.id === 'xlsx') {
    const n = (v: number) => v.toLocaleString('en-US');
    targets.push(
      `≥${n(TARGETS.xlsxRowsPerSecond)} rows/s: ${aim(rate.median, TARGETS.xlsxRowsPerSecond, TARGETS.xlsxAimRowsPerSecond, n)}` +
        (s.title.includes('LibreOffice') ? '' : ' — not a LibreOffice file (no soffice here)'),
    );
  }
  if (s.id === 'rerun' && vsFirst !== null)
    targets.push(`≥${TARGETS.rerunVsFirst}× first run: ${verdict(vsFirst >= TARGETS.rerunVsFirst)}`);
  if (rss) targets.push(`RSS ≤${TARGETS.peakRssMb} MB: ${verdict(rss.max <= TARGETS.peakRssMb)}`);
  if (s.id === 'copy') targets.push('the ceiling');
  if ((s.id === 'stored' || s.id === 'typed' || s.id === 'typedBulk') && ratio !== null)
    targets.push(`no pipeline storing these rows beats ${ratio.toFixed(2)}× \\copy here`);
  return targets.join('; ');
}

function report(options: Options, scenarios: Record<ScenarioId, Scenario>): void {
  const rate = (s: Scenario) => stat(s.measurements.map((m) => m.rows / m.seconds));
  const copyRate = rate(scenarios.copy)?.median ?? null;
  const firstRate = rate(scenarios.first)?.median ?? null;
  const rows: string[][] = [];
  const order: ScenarioId[] = ['first', 'gb18030', 'xlsx', 'rerun', 'copy', 'stored', 'typed', 'typedBulk'];
  for (const s of order.map((id) => scenarios[id])) {
    if (!s.measurements.length && !s.failures.length) continue;
    const r = rate(s);
    const ratio = r && copyRate ? r.median / copyRate : null;
    const vsFirst = s.id === 'rerun' && r && firstRate ? r.median / firstRate : null;
    const rss = stat(s.measurements.flatMap((m) => (m.rssMb === null ? [] : [m.rssMb])));
    rows.push([
      s.title,
      s.measurements[0] ? s.measurements[0].rows.toLocaleString('en-US') : '—',
      fmtStat(stat(s.measurements.map((m) => m.seconds)), 2, options.repeat),
      fmtStat(r, 0, options.repeat),
      ratio === null ? '—' : `${ratio.toFixed(2)}×`,
      vsFirst === null ? '—' : `${vsFirst.toFixed(2)}×`,
      rss ? (options.repeat > 1 ? `${rss.max.toFixed(0)} (max)` : rss.max.toFixed(0)) : '—',
      targetOf(s, r, ratio, vsFirst, rss),
    ]);
  }
  console.log('');
  console.log(
    markdownTable(
      [
        'scenario',
        'rows',
        'seconds',
        'rows/s',
        '× \\copy',
        '× first run',
        'peak RSS MB',
        'target (issue 16)',
      ],
      rows,
      [1, 2, 3, 4, 5, 6],
    ),
  );
  console.log(
    "\n(rates in the file's rows; the PostgreSQL-alone rows (5…) copy what the first run stored, counted in the " +
      "file's rows, so that they bound the pipeline's rate on this server)",
  );
  if (options.repeat > 1) console.log(`(${options.repeat} repetitions: median, then min–max)`);

  if (!pipelineRuns(scenarios).some((s) => s.measurements.length || s.failures.length)) return;
  console.log('\nrun ledger (last repetition):');
  const ledger: string[][] = [];
  for (const s of pipelineRuns(scenarios)) {
    if (!s.measurements.length && !s.failures.length) continue;
    const l = ledgerOf(s.measurements[s.measurements.length - 1]?.child ?? null);
    if (!l) {
      ledger.push([s.title, '—']);
      continue;
    }
    const balanced = l.read === l.inserted + l.updated + l.unchanged + l.quarantined + l.duplicates;
    ledger.push([
      s.title,
      l.status,
      ...[l.read, l.inserted, l.updated, l.unchanged, l.quarantined, l.duplicates, l.unmatched].map((n) =>
        n.toLocaleString('en-US'),
      ),
      balanced ? 'yes' : 'NO',
    ]);
  }
  console.log(
    table(
      [
        'scenario',
        'status',
        'read',
        'inserted',
        'updated',
        'unchanged',
        'quarantined',
        'duplicates',
        'unmatched',
        'balances',
      ],
      ledger,
      new Set([2, 3, 4, 5, 6, 7, 8]),
    ),
  );

  console.log(
    '\nwhere the time goes (last repetition). "PostgreSQL busy" = wall time with a statement in flight, which ' +
      'includes replies a busy event loop has not read yet (see the event-loop delay); "Node only" = the rest. ' +
      'CPU seconds tell which side is saturated: the pipeline process (all its threads) against the server ' +
      'processes of the bench database. Statement times are sums.',
  );
  for (const s of pipelineRuns(scenarios)) {
    const last = s.measurements[s.measurements.length - 1];
    const child = last?.child;
    if (!child) continue;
    const total = child.seconds * 1000;
    const statements = Object.entries(child.db.statements).sort((a, b) => b[1].ms - a[1].ms);
    const busyMs = child.db.busyMs;
    console.log(
      `  ${s.title}: ${(total / 1000).toFixed(1)} s total — PostgreSQL busy ${(busyMs / 1000).toFixed(1)} s (${pct(busyMs, total)}), ` +
        `Node only ${((total - busyMs) / 1000).toFixed(1)} s (${pct(total - busyMs, total)}); ` +
        `${child.db.transactions} transactions of ≤${child.batchSize} rows, ${(child.db.transactionMs / 1000).toFixed(1)} s in them`,
    );
    const pg = last?.pgCpu;
    const lag = child.eventLoopDelayMs;
    console.log(
      `      CPU: pipeline process ${(child.cpu.userS + child.cpu.systemS).toFixed(1)} s` +
        (pg
          ? `; PostgreSQL backends ${pg.backendsS.toFixed(1)} s, autovacuum ${pg.autovacuumS.toFixed(1)} s, ` +
            `WAL writer/checkpointer/bgwriter ${pg.writersS.toFixed(1)} s`
          : '; PostgreSQL: not measured (no /proc)') +
        `; event-loop delay mean ${lag.mean.toFixed(0)} ms, p99 ${lag.p99.toFixed(0)} ms, max ${lag.max.toFixed(0)} ms`,
    );
    const mem = child.memory;
    console.log(
      `      memory peaks: RSS ${(child.maxRssKb / 1024).toFixed(0)} MB; V8 heap ${mem.heapTotalMb.toFixed(0)} MB ` +
        `(used ${mem.heapUsedMb.toFixed(0)} MB); off-heap external ${mem.externalMb.toFixed(0)} MB ` +
        `(array buffers ${mem.arrayBuffersMb.toFixed(0)} MB)`,
    );
    for (const [kind, t] of statements.slice(0, 8)) {
      console.log(
        `      ${(t.ms / 1000).toFixed(2).padStart(7)} s  ${String(t.calls).padStart(5)}×  ${kind}`,
      );
    }
  }

  if (options.profile !== 'off') {
    for (const s of pipelineRuns(scenarios)) {
      const m = s.measurements[s.measurements.length - 1];
      if (!m?.profiles?.length || !m.child) continue;
      const window = m.child.window;
      const measured = {
        mainThreadS: m.child.mainThreadCpuS ?? null,
        processS: m.child.cpu.userS + m.child.cpu.systemS,
      };
      console.log(
        `\nNode CPU per row by stage, ${s.title} (${m.profiles.map(relativeToRoot).join(', ')}):\n`,
      );
      console.log(formatStages(summariseStages(m.profiles, window), m.rows, measured));
      console.log('\n  main thread, during the run:');
      console.log(formatProfile(summariseProfile(m.profiles[0] as string, 20, window)));
    }
  }
}

function pct(part: number, whole: number): string {
  return whole > 0 ? `${((part / whole) * 100).toFixed(0)}%` : '—';
}

// ------------------------------------------------------------------------------------------------- main

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (!options) {
    console.log(USAGE);
    return 0;
  }
  if (options.scenarios.size === 0 && options.only.size === 1 && options.only.has('embedded'))
    return runEmbedded();
  const server = await ensureDatabase(options.url, options.database);
  const data = await ensureData(options.rows);
  const planned = Object.entries(data.faults)
    .filter(([, n]) => n > 0)
    .map(([f, n]) => `${f} ${n}`)
    .join(', ');
  console.log(
    `bench: ${options.rows.toLocaleString('en-US')} rows × ${PENALTY_HEADER.length} columns ` +
      `(UTF-8 ${mb(data.sizes[data.utf8] ?? 0)}, GB18030 ${mb(data.sizes[data.gb18030] ?? 0)}; ` +
      `${data.enterprises} enterprises; planted faults: ${planned})`,
  );
  console.log(
    `       PostgreSQL ${server} at ${redactUrl(options.url)}, schema ${options.schema}; Node ${process.version}; ` +
      `repeat ${options.repeat}` +
      (options.profile === 'off'
        ? ''
        : `; ${options.profile === 'all' ? 'every pipeline scenario' : 'the first run'} CPU-profiled (slower)`) +
      `; children run node ${[...GUIJI_NODE_FLAGS, ...options.nodeFlags].join(' ') || '(no flags)'} ` +
      `(bin/guiji.js's shebang${options.nodeFlags.length ? ' + --node-flag' : ''})`,
  );
  const codeAtStart = codeFingerprint();
  console.log(`       pipeline code: ${await describeCode()} (fingerprint ${codeAtStart})`);

  const utf8Name = '行政处罚_市场监管局_bench.csv';
  const scenario = (id: ScenarioId, title: string): Scenario => ({
    id,
    title,
    measurements: [],
    failures: [],
  });
  const profiled = options.profile === 'off' ? '' : ' (CPU-profiled)';
  const scenarios: Record<ScenarioId, Scenario> = {
    first: scenario('first', `1 UTF-8 CSV, first run${profiled}`),
    rerun: scenario('rerun', `2 unchanged re-run${options.profile === 'all' ? profiled : ''}`),
    gb18030: scenario('gb18030', `3 GB18030 CSV, first run${options.profile === 'all' ? profiled : ''}`),
    copy: scenario('copy', '4 psql \\copy (UTF-8)'),
    stored: scenario('stored', '5 PG alone: run 1 rows into records (JSONB)'),
    typed: scenario('typed', '5a PG alone: into r_xzcf, key + 3 indexes'),
    typedBulk: scenario('typedBulk', '5b PG alone: into r_xzcf, indexes after'),
    xlsx: scenario('xlsx', '6 xlsx, first run'),
  };
  const record = (s: Scenario, rep: number, m: Measurement | null, problems: string[]) => {
    if (m) s.measurements.push(m);
    for (const p of problems) s.failures.push(`repetition ${rep}: ${p}`);
    if (!m && !problems.length) return;
    const shown = m
      ? `${m.seconds.toFixed(2)} s, ${Math.round(m.rows / m.seconds).toLocaleString('en-US')} rows/s${m.rssMb === null ? '' : `, ${m.rssMb.toFixed(0)} MB`}` +
        (m.steal === undefined || m.steal === null
          ? ''
          : `, CPU stolen by other guests ${(m.steal * 100).toFixed(0)}%`) +
        // the machine is shared: a load above its cores means the figure waited for them
        `, load ${loadavg()[0]?.toFixed(1)} on ${availableParallelism()} cores`
      : 'no measurement';
    console.log(`  ${s.title}: ${shown}${problems.length ? ` — FAILED: ${problems.join('; ')}` : ''}`);
  };

  const want = (id: ScenarioId) => options.scenarios.has(id);
  const drops = options.scenarios.size > 0;
  for (let rep = 1; drops && rep <= options.repeat; rep++) {
    console.log(`\nrepetition ${rep}/${options.repeat}`);
    const registerProblem = want('first') ? await loadRegister(options, data, rep) : null;
    if (registerProblem) {
      for (const id of ['first', 'rerun', 'stored', 'typed', 'typedBulk'] as const)
        if (want(id)) record(scenarios[id], rep, null, [registerProblem]);
    } else if (want('first')) {
      await checkpoint(options.url);
      const first = await runChild(
        options,
        `first-${rep}`,
        [{ source: dataPath(data.utf8), name: utf8Name }],
        options.profile !== 'off',
      );
      record(scenarios.first, rep, measurement(first, data.rows), checkRun(first, data.rows, 'first'));
      if (want('stored')) {
        const stored = await storedScenario(options, data);
        record(scenarios.stored, rep, stored.m, stored.error ? [stored.error] : []);
      }
      if (want('typed')) {
        const typed = await typedScenarios(options, data);
        record(scenarios.typed, rep, typed.indexed.m, typed.indexed.error ? [typed.indexed.error] : []);
        record(scenarios.typedBulk, rep, typed.bulk.m, typed.bulk.error ? [typed.bulk.error] : []);
      }

      if (want('rerun')) {
        await checkpoint(options.url);
        const rerun = await runChild(
          options,
          `rerun-${rep}`,
          [{ source: dataPath(data.utf8), name: utf8Name, touch: true }],
          options.profile === 'all',
        );
        record(scenarios.rerun, rep, measurement(rerun, data.rows), [
          ...checkRun(rerun, data.rows, 'rerun', ledgerOf(first.result)?.inserted),
          ...(rerun.code !== first.code
            ? ['the pipeline code changed between the first run and the re-run (content hashes may differ)']
            : []),
        ]);
      }
    }

    if (want('gb18030')) {
      const registerAgain = await loadRegister(options, data, rep);
      if (registerAgain) record(scenarios.gb18030, rep, null, [registerAgain]);
      else {
        await checkpoint(options.url);
        const gb = await runChild(
          options,
          `gb18030-${rep}`,
          [{ source: dataPath(data.gb18030), name: '行政处罚_市场监管局_bench_gb18030.csv' }],
          options.profile === 'all',
        );
        record(scenarios.gb18030, rep, measurement(gb, data.rows), checkRun(gb, data.rows, 'first'));
      }
    }

    if (want('xlsx')) {
      const workbook = await ensureXlsx(data);
      scenarios.xlsx.title = `6 xlsx by ${workbook.writer}, first run${options.profile === 'all' ? profiled : ''}`;
      const registerForXlsx = workbook.error ?? (await loadRegister(options, data, rep));
      if (registerForXlsx) record(scenarios.xlsx, rep, null, [registerForXlsx]);
      else {
        await checkpoint(options.url);
        const xlsx = await runChild(
          options,
          `xlsx-${rep}`,
          [{ source: workbook.path, name: '行政处罚_市场监管局_bench.xlsx' }],
          options.profile === 'all',
        );
        record(scenarios.xlsx, rep, measurement(xlsx, workbook.rows), checkRun(xlsx, workbook.rows, 'first'));
      }
    }

    if (want('copy')) {
      const copy = await copyScenario(options, data);
      record(scenarios.copy, rep, copy.m, copy.error ? [copy.error] : []);
    }
  }
  await psql(options.url, [`DROP TABLE IF EXISTS public.${COPY_TABLE}`]);
  rmSync(WORK_DIR, { recursive: true, force: true });

  if (drops) report(options, scenarios);
  const failures = Object.values(scenarios).flatMap((s) => s.failures.map((f) => `${s.title}: ${f}`));
  const part = (name: Part, script: string, args: string[] = []) => {
    if (!options.only.has(name)) return;
    const child = spawnSync(process.execPath, [join(ROOT, 'bin/run-ts.js'), join(ROOT, script), ...args], {
      stdio: 'inherit',
      env: { ...process.env, GUIJI_BENCH_DATABASE_URL: options.url },
    });
    if (child.status !== 0) failures.push(`${name}: exit ${child.status}`);
  };
  // the platform pull (issue 6): the simulator's records end to end, same server
  part('platform', 'scripts/bench-platform.ts', ['--rows', String(options.rows)]);
  // the quality report over 5,000,000 records (issue 5): metrics and the three formats in under 60 s
  part('report', 'scripts/bench-report.ts');
  // backfill throughput with 1, 2 and 3 workers (issue 4): a fifth of the rows, from the credit simulator
  part('backfill', 'scripts/bench-backfill.ts', ['--rows', String(Math.round(options.rows / 5))]);
  if (options.only.has('embedded') && runEmbedded() !== 0) failures.push('embedded: failed');
  // the console's enterprise page and search on the same number of records (issue 13): p95 < 200 / 300 ms
  part('console', 'scripts/bench-console.ts', ['--rows', String(options.rows)]);
  const codes = new Set(Object.values(scenarios).flatMap((s) => s.measurements.map((m) => m.code)));
  codes.add(codeAtStart);
  if (codes.size > 1) {
    failures.push(
      `the pipeline's code (${CODE_DIRS.join('/, ')}/) changed while the bench ran: the scenarios ran different code; run it again`,
    );
  }
  if (failures.length) {
    console.log(`\n${failures.length} failure(s):`);
    for (const f of failures) console.log(`  ${f}`);
    return 1;
  }
  return 0;
}

/** The embedded warehouse (issue 15): 50,000 rows into PGlite in a fresh process, its peak RSS. */
function runEmbedded(): number {
  const child = spawnSync(
    process.execPath,
    [join(ROOT, 'bin/run-ts.js'), join(ROOT, 'scripts/bench-embedded.ts'), '--rows', '50000'],
    { stdio: 'inherit', cwd: ROOT },
  );
  return child.status ?? 1;
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
}
