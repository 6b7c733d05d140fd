/**
 * Issue 15, item 11: a drop folder of hostile files — 236 entries, good files beside malformed ones (each kind
 * the issue names, random truncations and byte flips of valid CSV and xlsx files, wrong encodings, zip bombs,
 * symlinks, a FIFO, dot-files, 238-byte names) — through one `guiji run`, as a separate process under the
 * 300 MB heap the installed command runs with, then a second run over what is left.
 *
 * What must hold: no crash; every file loaded in full (its data rows all in its ledger) or rejected with a
 * reason in Chinese (no English, no server path, no SQL) and nothing of it loaded; the good files loaded; the
 * ledger balanced; links, FIFOs and dot-files never opened and reported; nothing new the second time.
 *
 * Every file's verdict is collected before anything is asserted, so that a failure lists every file that is
 * wrong, with what was expected and what happened.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Warehouse } from '../lib/db.js';
import { type CliResult, startCli } from './helpers/cli.js';
import { expectLedgerBalanced, makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';
import { type HostileCase, type HostileDrop, writeHostileDrop } from './helpers/hostile-files.js';

/** Another seed draws other truncations and flips: `GUIJI_TEST_HOSTILE_SEED=7 npx vitest run test/hostile-files…` */
const SEED = Number(process.env.GUIJI_TEST_HOSTILE_SEED || 15);

/**
 * README, "The drop folder": a file that cannot be read moves to rejected/ with its reason and "the other files
 * still load"; symbolic links, FIFOs and devices are moved to rejected/ "and the source is `partial` with the
 * names"; hidden files are "left where they are and listed". "Exit codes": 4 partly done, 0 done. The first run
 * meets links and a FIFO: partial, exit 4. The second finds only the dot-files left: succeeded, exit 0.
 */
const EXPECTED_FIRST_RUN = { status: 'partial', code: 4 } as const;
const EXPECTED_SECOND_RUN = { status: 'succeeded', code: 0 } as const;

/**
 * Words a reason may hold although they are Latin letters: file types and encodings a clerk is told to use.
 * Anything else is English (or a library's or PostgreSQL's message) that a clerk cannot read.
 */
const ALLOWED_LATIN = new Set([
  'mb',
  'kb',
  'word',
  'csv',
  'tsv',
  'txt',
  'xls',
  'xlsx',
  'xlsm',
  'utf',
  'gb',
  'gbk',
  'excel',
  'wps',
  'unicode',
  'bom',
  'zip',
  'xml',
]);
const SQL_WORDS =
  /SQLSTATE|violates|constraint|relation "|syntax error|ON CONFLICT|invalid byte sequence|INSERT INTO|UPDATE |SELECT /i;

interface RunOutcome extends CliResult {
  /** The watchdog killed it: it never finished (a FIFO opened, a device read without end…). */
  hung: boolean;
  summary: {
    runId: number;
    status: string;
    sources: { source: string; read: number; error: string | null }[];
  } | null;
}

interface DropFileRow {
  sha256: string;
  name: string;
  status: string;
  rows_read: number;
  rows_quarantined: number;
  error: string | null;
  run_id: number;
}

/** What the first run left: the warehouse's view and the folder's. */
interface Observed {
  dropFiles: Map<string, DropFileRow>;
  /** SHA-256 of each regular file in archive/ and rejected/ (never following links) → where it is. */
  located: Map<string, { dir: string; name: string }>;
  /** Every entry under the drop folder outside incoming/ (links and FIFOs included), as `dir/name`. */
  aside: string[];
  incoming: string[];
  reasons: Map<string, string>;
  feedback: string[];
  recordsBySha: Map<string, number>;
  historyBySha: Map<string, number>;
  quarantineBySha: Map<string, number>;
  /** Loaded records of a file holding U+FFFD (bytes decoded with the wrong encoding). */
  replacementBySha: Map<string, number>;
  /** Text of every file guiji wrote (not one of the inputs), for the secrets. */
  written: Map<string, string>;
  logs: { level: number; text: string }[];
}

describe(`a drop folder of hostile files (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let drop: HostileDrop;
  let first: RunOutcome;
  let second: RunOutcome;
  let observed: Observed;
  let afterSecond: { incoming: string[]; counts: Record<string, number> };
  let countsAfterFirst: Record<string, number>;
  const dropDir = () => env.config.dropDir;

  beforeAll(async () => {
    env = await makeEnv('hostile');
    drop = await writeHostileDrop(dropDir(), join(env.dir, 'outside'), SEED);
    const childEnv = {
      ...env.env,
      ...drop.childEnv,
      // batches of 10: a file of 18 rows commits twice, one of 600 sixty times — a failure half-way shows
      GUIJI_BATCH_SIZE: '10',
      GUIJI_LOG_LEVEL: 'info',
    };
    first = await runGuiji(childEnv);
    const db = await env.open();
    try {
      observed = await observe(db, env, drop, first.stderr);
      countsAfterFirst = await counts(db);
    } finally {
      await db.close();
    }
    second = await runGuiji(childEnv);
    const db2 = await env.open();
    try {
      afterSecond = { incoming: listNames(join(dropDir(), 'incoming')), counts: await counts(db2) };
    } finally {
      await db2.close();
    }
  }, 900_000);

  afterAll(async () => {
    await env?.cleanup();
  });

  const byOutcome = (outcome: string) => drop.cases.filter((c) => c.expect.outcome === outcome);

  it('has at least 200 malformed files beside good ones, each file its own bytes', () => {
    const good = drop.cases.filter((c) => c.name.startsWith('good-'));
    expect(good.length).toBeGreaterThanOrEqual(10);
    expect(drop.cases.length - good.length).toBeGreaterThanOrEqual(200);
    const shas = drop.cases.flatMap((c) => (c.sha256 ? [c.sha256] : []));
    expect(new Set(shas).size).toBe(shas.length);
  });

  it('runs to the end under a 300 MB heap: no crash, the status and exit code the README gives', () => {
    const crash = (r: RunOutcome) => ({
      hung: r.hung,
      signal: r.signal,
      code: r.code,
      status: r.summary?.status ?? null,
      fatal: /FATAL ERROR|heap out of memory|Allocation failed|Uncaught|unhandled/i.test(r.stderr),
      // stdout carries the command's own output only: one line of JSON
      stdoutLines: r.stdout.trim().split('\n').length,
    });
    const expected = (run: { status: string; code: number }) => ({
      hung: false,
      signal: null,
      code: run.code,
      status: run.status,
      fatal: false,
      stdoutLines: 1,
    });
    expect(crash(first), tail(first.stderr)).toEqual(expected(EXPECTED_FIRST_RUN));
    expect(crash(second), tail(second.stderr)).toEqual(expected(EXPECTED_SECOND_RUN));
    // partial "with the names": the links and the FIFO, and nothing else
    const error = first.summary?.sources.find((s) => s.source === 'drops')?.error ?? '';
    const setAside = byOutcome('ignored').filter((c) => !c.name.startsWith('.'));
    expect(setAside.filter((c) => !error.includes(c.name)).map((c) => c.name)).toEqual([]);
    const named = drop.cases.filter((c) => c.expect.outcome !== 'ignored' && error.includes(c.name));
    expect(named.map((c) => c.name)).toEqual([]);
  });

  it('loads every good file in full', () => {
    const good = drop.cases.filter((c) => c.name.startsWith('good-'));
    expect(good.flatMap((c) => verdict(c, observed, env))).toEqual([]);
  });

  it('gives every file the outcome the issue requires: loaded in full or rejected, never partly', () => {
    const problems = drop.cases
      .filter((c) => c.expect.outcome !== 'ignored')
      .flatMap((c) => verdict(c, observed, env).filter((p) => !p.includes('reason:')));
    expect(problems).toEqual([]);
  });

  it('tells the clerk why a file was rejected, in Chinese: no English, no server path, no SQL', () => {
    const problems = drop.cases
      .filter((c) => c.expect.outcome !== 'ignored')
      .flatMap((c) => verdict(c, observed, env).filter((p) => p.includes('reason:')));
    expect(problems).toEqual([]);
  });

  it('accounts for every row of every loaded file, and the ledger balances', async () => {
    const db = await env.open();
    try {
      await expectLedgerBalanced(db);
      const runId = first.summary?.runId;
      const loaded = [...observed.dropFiles.values()].filter(
        (f) => f.status === 'loaded' && f.run_id === runId,
      );
      const [ledger] = await db.query<{ read: string; files_done: number; files_rejected: number }>(
        `SELECT read, files_done, files_rejected FROM source_runs WHERE run_id = $1 AND source = 'drops'`,
        [runId],
      );
      const rejected = [...observed.dropFiles.values()].filter(
        (f) => f.status === 'rejected' && f.run_id === runId,
      );
      expect({
        read: Number(ledger?.read),
        filesDone: Number(ledger?.files_done),
        filesRejected: Number(ledger?.files_rejected),
      }).toEqual({
        read: loaded.reduce((n, f) => n + f.rows_read, 0),
        filesDone: loaded.length,
        filesRejected: rejected.length,
      });
      // each loaded file's rejected rows are in quarantine, as many as its ledger says
      const unaccounted = loaded
        .filter((f) => (observed.quarantineBySha.get(f.sha256) ?? 0) !== f.rows_quarantined)
        .map(
          (f) =>
            `${f.name}: ${f.rows_quarantined} rows_quarantined, ${observed.quarantineBySha.get(f.sha256) ?? 0} in quarantine`,
        );
      expect(unaccounted).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('never opens symlinks, FIFOs or dot-files, and reports each of them', () => {
    const problems = byOutcome('ignored').flatMap((c) => ignoredVerdict(c, observed, env));
    expect(problems).toEqual([]);
  });

  it('lets no secret out: the targets of links and dot-files appear in no record, row, feedback, reason or log', async () => {
    const db = await env.open();
    try {
      const leaks: string[] = [];
      // every table of the warehouse, whatever tables the loader writes to
      const tables = await db.query<{ name: string }>(
        `SELECT table_name AS name FROM information_schema.tables
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`,
      );
      expect(tables.map((t) => t.name)).toContain('r_xzcf');
      for (const secret of drop.secrets) {
        for (const { name } of tables) {
          const [row] = await db.query<{ n: string }>(
            `SELECT count(*) AS n FROM "${name.replaceAll('"', '""')}" t WHERE row_to_json(t)::text LIKE '%' || $1 || '%'`,
            [secret],
          );
          if (Number(row?.n)) leaks.push(`${secret} in ${row?.n} rows of ${name}`);
        }
        for (const [path, text] of observed.written)
          if (text.includes(secret)) leaks.push(`${secret} in ${path}`);
        for (const [what, text] of [
          ['stdout', first.stdout + second.stdout],
          ['stderr', first.stderr + second.stderr],
        ] as const) {
          if (text.includes(secret)) leaks.push(`${secret} in the run's ${what}`);
        }
      }
      expect(leaks).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('hands rows back with formula-like cells neutralised and no cell past 32,767 characters', async () => {
    const runId = first.summary?.runId;
    const withRejectedRows = [...observed.dropFiles.values()].filter(
      (f) => f.status === 'loaded' && f.run_id === runId && f.rows_quarantined > 0,
    );
    expect(observed.feedback.length).toBe(withRejectedRows.length);
    const problems: string[] = [];
    let formulaLike = 0;
    for (const name of observed.feedback) {
      const book = new ExcelJS.Workbook();
      await book.xlsx.readFile(join(dropDir(), 'archive', name));
      book.eachSheet((sheet) => {
        sheet.eachRow((row) => {
          row.eachCell((cell) => {
            const value = cell.value;
            if (value !== null && typeof value === 'object' && 'formula' in value) {
              problems.push(`${name} ${cell.address}: a formula`);
              return;
            }
            const text = typeof value === 'string' ? value : cell.text;
            if (/HYPERLINK\(|@SUM\(|=1\+1/.test(text)) formulaLike++;
            if (/^[=+\-@\t\r]/.test(text))
              problems.push(`${name} ${cell.address}: "${text.slice(0, 40)}" not neutralised`);
            if (text.length > 32_767) problems.push(`${name} ${cell.address}: ${text.length} characters`);
          });
        });
      });
    }
    expect(problems).toEqual([]);
    // the formula-like cells of bad-formula-cells.csv's three rejected rows came back (two columns each)
    expect(formulaLike).toBeGreaterThanOrEqual(6);
  });

  it('does nothing new in a second run over the emptied incoming/', () => {
    expect(second.summary?.sources.find((s) => s.source === 'drops')?.read).toBe(0);
    expect(afterSecond.counts).toEqual(countsAfterFirst);
    // only what is never opened may still wait in incoming/, and it is the same as after the first run
    const ignored = new Set(byOutcome('ignored').map((c) => c.name));
    expect(observed.incoming.filter((n) => !ignored.has(n))).toEqual([]);
    expect(afterSecond.incoming).toEqual(observed.incoming);
  });
});

/** One `guiji run --json` as its own process; a watchdog ends it if it never finishes (a FIFO read, say). */
async function runGuiji(env: Record<string, string>): Promise<RunOutcome> {
  const cli = startCli(['run', '--json'], env);
  let hung = false;
  const watchdog = setTimeout(() => {
    hung = true;
    cli.child.kill('SIGKILL');
  }, 400_000);
  const result = await cli.done;
  clearTimeout(watchdog);
  let summary: RunOutcome['summary'] = null;
  try {
    summary = JSON.parse(result.stdout.trim().split('\n').pop() ?? '') as RunOutcome['summary'];
  } catch {
    // no summary: the run did not finish; the test that checks for a crash says so
  }
  return { ...result, hung, summary };
}

function tail(text: string): string {
  return text.length > 3000 ? text.slice(-3000) : text;
}

function listNames(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function hashFile(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Everything under `dir`, recursively, without following a link. */
function walk(dir: string, base = dir): { path: string; rel: string; regular: boolean }[] {
  const out: { path: string; rel: string; regular: boolean }[] = [];
  for (const name of listNames(dir)) {
    const path = join(dir, name);
    const stat = lstatSync(path);
    if (stat.isDirectory()) out.push(...walk(path, base));
    else out.push({ path, rel: relative(base, path), regular: stat.isFile() });
  }
  return out;
}

async function counts(db: Warehouse): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of ['records', 'record_history', 'quarantine', 'drop_files']) {
    const [row] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
    out[table] = Number(row?.n);
  }
  return out;
}

async function observe(db: Warehouse, env: TestEnv, drop: HostileDrop, stderr: string): Promise<Observed> {
  const dropDir = env.config.dropDir;
  const inputs = new Set(drop.cases.flatMap((c) => (c.sha256 ? [c.sha256] : [])));
  const dropFiles = new Map<string, DropFileRow>();
  for (const row of await db.query<DropFileRow>(
    'SELECT sha256, name, status, rows_read, rows_quarantined, error, run_id FROM drop_files',
  )) {
    dropFiles.set(row.sha256, {
      ...row,
      rows_read: Number(row.rows_read),
      rows_quarantined: Number(row.rows_quarantined),
      run_id: Number(row.run_id),
    });
  }
  const bySha = async (sql: string) => {
    const map = new Map<string, number>();
    for (const row of await db.query<{ sha: string | null; n: string }>(sql))
      if (row.sha) map.set(row.sha, Number(row.n));
    return map;
  };
  const located = new Map<string, { dir: string; name: string }>();
  const aside: string[] = [];
  const reasons = new Map<string, string>();
  const feedback: string[] = [];
  const written = new Map<string, string>();
  for (const dir of listNames(dropDir).filter((d) => d !== 'incoming')) {
    for (const entry of walk(join(dropDir, dir))) {
      aside.push(`${dir}/${entry.rel}`);
      if (!entry.regular || drop.preexisting.includes(entry.path)) continue;
      const sha = hashFile(entry.path);
      if (inputs.has(sha)) {
        located.set(sha, { dir, name: entry.rel });
        continue;
      }
      if (entry.rel.endsWith('.错误说明.txt')) reasons.set(entry.rel, readFileSync(entry.path, 'utf8'));
      if (entry.rel.endsWith('.退回说明.xlsx')) feedback.push(entry.rel);
      written.set(`${dir}/${entry.rel}`, await textOf(entry.path));
    }
  }
  const logs: Observed['logs'] = [];
  for (const line of stderr.split('\n')) {
    try {
      logs.push({ level: Number((JSON.parse(line) as { level?: number }).level), text: line });
    } catch {
      // not a log line (a crash's message): the test that checks for a crash shows it
    }
  }
  return {
    dropFiles,
    located,
    aside,
    incoming: listNames(join(dropDir, 'incoming')),
    reasons,
    feedback,
    recordsBySha: await bySha(`SELECT provenance->>'sha256' AS sha, count(*) AS n FROM records GROUP BY 1`),
    historyBySha: await bySha(
      `SELECT provenance->>'sha256' AS sha, count(*) AS n FROM record_history GROUP BY 1`,
    ),
    quarantineBySha: await bySha('SELECT sha256 AS sha, count(*) AS n FROM quarantine GROUP BY 1'),
    replacementBySha: await bySha(
      `SELECT provenance->>'sha256' AS sha, count(*) AS n FROM records WHERE data::text LIKE '%' || chr(65533) || '%' GROUP BY 1`,
    ),
    written,
    logs,
  };
}

/** A written file's text: a workbook's cells, anything else as UTF-8. */
async function textOf(path: string): Promise<string> {
  if (path.endsWith('.xlsx')) {
    try {
      const book = new ExcelJS.Workbook();
      await book.xlsx.readFile(path);
      const cells: string[] = [];
      book.eachSheet((sheet) => sheet.eachRow((row) => row.eachCell((cell) => cells.push(cell.text))));
      return cells.join('\n');
    } catch {
      // not a workbook after all: its bytes are searched as text below
    }
  }
  return readFileSync(path, 'utf8');
}

/** Where a case's file ended up, and what the warehouse says of it, in a few words. */
function outcomeOf(
  c: HostileCase,
  o: Observed,
): { outcome: string; row?: DropFileRow; at?: { dir: string; name: string } } {
  const sha = c.sha256 as string;
  const row = o.dropFiles.get(sha);
  const at = o.located.get(sha);
  const extra = { ...(row ? { row } : {}), ...(at ? { at } : {}) };
  if (row?.status === 'loaded' && at?.dir === 'archive') return { outcome: 'loaded', ...extra };
  if (row?.status !== 'loaded' && at?.dir === 'rejected') return { outcome: 'rejected', ...extra };
  if (o.incoming.includes(c.name))
    return { outcome: `left in incoming/ (drop_files: ${row?.status ?? 'none'})`, ...extra };
  return { outcome: `drop_files: ${row?.status ?? 'none'}, file in ${at?.dir ?? 'no folder'}`, ...extra };
}

/** What is wrong with one file's outcome (nothing: an empty list). */
function verdict(c: HostileCase, o: Observed, env: TestEnv): string[] {
  const { outcome, row, at } = outcomeOf(c, o);
  const sha = c.sha256 as string;
  const e = c.expect;
  const label = `${c.name} [${c.kind}]`;
  const problems: string[] = [];
  const allowed = e.outcome === 'loaded-or-rejected' ? ['loaded', 'rejected'] : [e.outcome];
  if (!allowed.includes(outcome)) {
    problems.push(
      `${label}: expected ${e.outcome}, observed ${outcome}${row?.error ? ` (${row.error.slice(0, 160)})` : ''}`,
    );
  }
  if (outcome === 'loaded' && row && (e.outcome === 'loaded' || e.outcome === 'loaded-or-rejected')) {
    const rows = e.outcome === 'loaded' ? [e.rows] : e.rows;
    if (!rows.includes(row.rows_read)) {
      problems.push(`${label}: loaded ${row.rows_read} rows of ${rows.join(' or ')} (partly)`);
    }
    if (e.outcome === 'loaded' && e.quarantined !== undefined && row.rows_quarantined !== e.quarantined) {
      problems.push(`${label}: ${row.rows_quarantined} rows handed back, expected ${e.quarantined}`);
    }
    if (o.reasons.has(`${c.name}.错误说明.txt`))
      problems.push(`${label}: loaded, yet a reason says it was rejected`);
    if (e.outcome === 'loaded-or-rejected' && e.noReplacementChar && (o.replacementBySha.get(sha) ?? 0) > 0) {
      problems.push(
        `${label}: ${o.replacementBySha.get(sha)} records hold U+FFFD (decoded with the wrong encoding)`,
      );
    }
  }
  if (outcome === 'rejected') {
    const partly = [
      ['records', o.recordsBySha.get(sha) ?? 0],
      ['record_history', o.historyBySha.get(sha) ?? 0],
      ['quarantine', o.quarantineBySha.get(sha) ?? 0],
    ].filter(([, n]) => n);
    if (partly.length)
      problems.push(
        `${label}: rejected, yet ${partly.map(([t, n]) => `${n} rows in ${t}`).join(', ')} (partly loaded)`,
      );
    problems.push(...reasonProblems(label, c, at as { dir: string; name: string }, o, env));
  }
  return problems;
}

function reasonProblems(
  label: string,
  c: HostileCase,
  at: { dir: string; name: string },
  o: Observed,
  env: TestEnv,
): string[] {
  let reason = o.reasons.get(`${at.name}.错误说明.txt`);
  if (reason === undefined) {
    // a name too long for the suffix may be shortened: a reason file named like the file's first 20 characters
    const prefix = [...at.name].slice(0, 20).join('');
    const candidates = [...o.reasons.keys()].filter((r) => r.startsWith(prefix));
    if (candidates.length === 1) reason = o.reasons.get(candidates[0] as string);
  }
  if (reason === undefined) return [`${label}: reason: no .错误说明.txt beside rejected/${at.name}`];
  const problems = reasonTextProblems(label, reason, [c.name, at.name], env);
  const e = c.expect;
  if (e.outcome === 'rejected' && e.reason && !e.reason.test(reason)) {
    problems.push(`${label}: reason: should match ${e.reason}: "${reason.trim().slice(0, 200)}"`);
  }
  return problems;
}

/** What a clerk must not read in a reason: no Chinese, English words, a server path, SQL. */
function reasonTextProblems(label: string, reason: string, names: string[], env: TestEnv): string[] {
  const problems: string[] = [];
  const shown = reason.trim().slice(0, 200);
  if (!/[\u4e00-\u9fff]{4}/.test(reason)) problems.push(`${label}: reason: not in Chinese: "${shown}"`);
  let withoutNames = reason;
  for (const name of names) withoutNames = withoutNames.replaceAll(name, '');
  // a column as Excel names it (AB, XFD) is no English word either
  const latin = (withoutNames.match(/[A-Za-z]{2,}/g) ?? []).filter(
    (w) => !/^[A-Z]{2,3}$/.test(w) && !ALLOWED_LATIN.has(w.toLowerCase()),
  );
  if (latin.length) {
    problems.push(
      `${label}: reason: English words (${[...new Set(latin)].slice(0, 8).join(' ')}): "${shown}"`,
    );
  }
  for (const path of [
    env.dir,
    env.config.dropDir,
    tmpdir(),
    '/tmp/',
    '/work/',
    '/proc/',
    '/etc/',
    '/dev/',
    'node_modules',
  ]) {
    if (reason.includes(path)) problems.push(`${label}: reason: names a server path (${path}): "${shown}"`);
  }
  if (SQL_WORDS.test(reason)) problems.push(`${label}: reason: SQL or a database message: "${shown}"`);
  return problems;
}

/** An entry never to be opened: nothing of it read, and said so (moved aside, or listed with a reason). */
function ignoredVerdict(c: HostileCase, o: Observed, env: TestEnv): string[] {
  const label = `${c.name} [${c.kind}]`;
  const problems: string[] = [];
  const e = c.expect;
  if (e.outcome === 'ignored' && e.targetSha256 && o.dropFiles.has(e.targetSha256)) {
    const row = o.dropFiles.get(e.targetSha256) as DropFileRow;
    problems.push(
      `${label}: opened — its target's content is in drop_files (${row.status}, ${row.rows_read} rows read)`,
    );
  }
  for (const row of o.dropFiles.values()) {
    if (row.name === c.name && row.status === 'loaded')
      problems.push(`${label}: loaded (${row.rows_read} rows)`);
  }
  const stillThere = o.incoming.includes(c.name);
  const movedTo = o.aside.filter((p) => p.split('/').pop()?.startsWith(c.name));
  if (!stillThere && !movedTo.length)
    problems.push(`${label}: vanished: neither in incoming/ nor moved aside`);
  if (movedTo.some((p) => p.startsWith('archive/')))
    problems.push(`${label}: moved to archive/ as if loaded`);
  const told =
    o.logs.some((l) => l.level >= 30 && l.text.includes(c.name)) ||
    [...o.reasons.keys()].some((r) => r.startsWith(c.name)) ||
    [...o.dropFiles.values()].some((r) => r.name === c.name && r.status !== 'loaded');
  if (!told) problems.push(`${label}: not reported: no log line, reason file or drop_files row names it`);
  // a reason written for it is read by a clerk like any other: and it names the link, never its target
  for (const [file, reason] of o.reasons) {
    if (file.startsWith(c.name)) problems.push(...reasonTextProblems(label, reason, [c.name], env));
  }
  return problems;
}
