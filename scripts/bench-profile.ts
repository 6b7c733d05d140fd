/**
 * Summarises a V8 CPU profile (`node --cpu-prof`) by self time: the top functions, and the same time grouped
 * by where the code lives (a project file, a package of node_modules, Node's core, the garbage collector, idle
 * — idle in the bench child is mostly waiting for PostgreSQL).
 *
 * And by pipeline stage (reading, validation, digests, loader, matching, GC…): the Node CPU time per row and
 * where it goes (summariseStages, issue 16).
 *
 * Used by `npm run bench -- --profile`; also on its own:
 *   node bin/run-ts.js scripts/bench-profile.ts <file.cpuprofile>… [--rows N]
 */
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileLine {
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  functions: ProfileLine[];
  groups: ProfileLine[];
}

const root = resolve(import.meta.dirname, '..');
const SPECIAL = new Set(['(idle)', '(garbage collector)', '(program)', '(root)']);

function where(frame: CallFrame): string {
  const { url } = frame;
  if (!url) return SPECIAL.has(frame.functionName) ? frame.functionName : '(V8 builtin)';
  if (url.startsWith('node:')) return 'node core';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const modules = path.lastIndexOf('/node_modules/');
  if (modules !== -1) {
    const parts = path.slice(modules + '/node_modules/'.length).split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? path);
  }
  return relative(root, path);
}

function functionLabel(frame: CallFrame): string {
  const place = where(frame);
  if (!frame.url) return frame.functionName || place;
  const name = frame.functionName || '(anonymous)';
  const file = frame.url.startsWith('file://') ? relative(root, fileURLToPath(frame.url)) : frame.url;
  const shortFile = file.includes('/node_modules/')
    ? file.slice(file.lastIndexOf('/node_modules/') + 14)
    : file;
  return `${name}  ${shortFile}:${frame.lineNumber + 1}:${frame.columnNumber + 1}`;
}

function ranked(totals: Map<string, number>, totalMs: number, top: number): ProfileLine[] {
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, ms]) => ({ name, ms, share: totalMs > 0 ? ms / totalMs : 0 }));
}

/** A span of CLOCK_MONOTONIC time in microseconds — the clock of a profile's timestamps and of `process.hrtime`. */
export interface ProfileWindow {
  startUs: number;
  endUs: number;
}

/** Each sampled node's self time (ms), counting only the samples taken inside `window` when one is given. */
function selfTimes(profile: CpuProfile, window?: ProfileWindow): Map<number, number> {
  const selfMs = new Map<number, number>();
  // a sample's duration is the gap to the next sample (V8's timeDeltas are in microseconds); its timestamp is
  // the profile's start plus the deltas so far
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (window && (at < window.startUs || at > window.endUs)) continue;
    const id = profile.samples[i] as number;
    const delta = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    selfMs.set(id, (selfMs.get(id) ?? 0) + delta);
  }
  return selfMs;
}

function readProfile(path: string): CpuProfile {
  return JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
}

export function summariseProfile(path: string, top = 15, window?: ProfileWindow): ProfileSummary {
  const profile = readProfile(path);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMs = selfTimes(profile, window);
  const functions = new Map<string, number>();
  const groups = new Map<string, number>();
  let totalMs = 0;
  for (const [id, ms] of selfMs) {
    const node = byId.get(id);
    if (!node) continue;
    totalMs += ms;
    const fn = functionLabel(node.callFrame);
    functions.set(fn, (functions.get(fn) ?? 0) + ms);
    const group = where(node.callFrame);
    groups.set(group, (groups.get(group) ?? 0) + ms);
  }
  return { totalMs, functions: ranked(functions, totalMs, top), groups: ranked(groups, totalMs, top) };
}

// ------------------------------------------------------------------------------------------ by stage

/**
 * The stages of a drop's rows through the pipeline, and the code each one is (issue 16: "the Node CPU time per
 * row and where it goes, by stage"). A sample's self time goes to the stage of the code it was sampled in —
 * never to its callers as well, so nothing is counted twice. Code without a file of its own (V8 builtins such
 * as JSON.stringify or a RegExp, and Node's core: Buffer#write, a stream's push) is work done for its caller:
 * it goes to the stage of its nearest caller that has one; core code called from nowhere in the project (a
 * socket's or a file stream's callbacks) goes by its module (FALLBACK_CORE).
 */
export const STAGES = [
  {
    id: 'read',
    title: 'reading + decoding',
    what: 'connectors/spreadsheet, csv-parse, iconv-lite, yauzl/zlib (xlsx), exceljs',
  },
  {
    id: 'validate',
    title: 'validation',
    what: 'pipelines/validate (but the two below), pipelines/normalize, schemas/, ajv',
  },
  {
    id: 'digest',
    title: 'raw digest, keys, hashes',
    what: 'pipelines/validate/raw-digest.ts and seen-keys.ts, node:crypto (content hash, file SHA-256)',
  },
  {
    id: 'load',
    title: 'loader: lines, COPY, statements',
    what: 'pipelines/load, pipelines/quarantine.ts, lib/db.ts, pg, pg-protocol, pg-copy-streams, knex, sockets',
  },
  { id: 'match', title: 'matching', what: 'pipelines/match' },
  { id: 'source', title: 'drop loop', what: 'pipelines/sources (per-row glue: batches, feedback)' },
  { id: 'gc', title: 'garbage collector', what: '(garbage collector)' },
  {
    id: 'other',
    title: 'other',
    what: 'the rest: run bookkeeping, quality metrics, logging, module loading, V8 (program)',
  },
] as const;

export type StageId = (typeof STAGES)[number]['id'];

/** Project paths (relative to the root) by prefix, and packages by name; the first match decides. */
const STAGE_OF_PATH: ReadonlyArray<readonly [string, StageId]> = [
  ['connectors/spreadsheet/', 'read'],
  ['pipelines/validate/raw-digest.ts', 'digest'],
  ['pipelines/validate/seen-keys.ts', 'digest'],
  ['pipelines/validate/', 'validate'],
  ['pipelines/normalize/', 'validate'],
  ['schemas/', 'validate'],
  ['connectors/http/china-time.ts', 'validate'],
  ['pipelines/load/', 'load'],
  ['pipelines/quarantine.ts', 'load'],
  ['lib/db.ts', 'load'],
  ['pipelines/match/', 'match'],
  ['pipelines/sources/', 'source'],
];

const STAGE_OF_PACKAGE: Readonly<Record<string, StageId>> = {
  'csv-parse': 'read',
  'iconv-lite': 'read',
  yauzl: 'read',
  exceljs: 'read',
  sax: 'read',
  saxes: 'read',
  jszip: 'read',
  unzipper: 'read',
  ajv: 'validate',
  'ajv-formats': 'validate',
  'fast-uri': 'validate',
  'fast-deep-equal': 'validate',
  pg: 'load',
  'pg-protocol': 'load',
  'pg-copy-streams': 'load',
  'pg-types': 'load',
  'pg-pool': 'load',
  'pg-connection-string': 'load',
  'postgres-array': 'load',
  'postgres-bytea': 'load',
  'postgres-date': 'load',
  'postgres-interval': 'load',
  knex: 'load',
};

/** Node core modules by the stage they serve when no project caller tells (see STAGES). */
const FALLBACK_CORE: ReadonlyArray<readonly [RegExp, StageId]> = [
  [/^node:(internal\/)?(zlib|encoding|string_decoder|fs\b|internal\/fs\/)/, 'read'],
  [/^node:(internal\/)?(net|stream_base_commons|tls|dns)/, 'load'],
  [/^node:(internal\/)?crypto/, 'digest'],
];

/** What a frame is on its own: a stage, or `null` when its caller decides (a builtin or Node's core). */
function ownStage(frame: CallFrame): StageId | null {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === '(garbage collector)') return 'gc';
    if (functionName === '(program)' || functionName === '(root)') return 'other';
    return null;
  }
  // hashing is hashing, whoever asks for it (the content hash, the file's SHA-256)
  if (/^node:(internal\/)?crypto/.test(url)) return 'digest';
  if (url.startsWith('node:')) return null;
  const place = where(frame);
  if (url.includes('/node_modules/')) return STAGE_OF_PACKAGE[place] ?? 'other';
  for (const [prefix, stage] of STAGE_OF_PATH) if (place.startsWith(prefix)) return stage;
  return 'other';
}

const TOP_PER_STAGE = 4;

export interface StageSummary {
  /** CPU (ms) sampled in each stage, idle excluded. */
  ms: Record<StageId, number>;
  /** The sum of `ms`: the threads' CPU time as the profiles sampled it. */
  totalMs: number;
  /** Sampled while the thread had nothing to do (mostly: waiting for PostgreSQL). */
  idleMs: number;
  /** How many profiles (threads) were read. */
  threads: number;
  /** The CPU (ms) sampled in each profile, idle excluded, in the order of the paths (the main thread first). */
  threadMs: number[];
  /** The functions with the most self time in each stage, largest first. */
  top: Record<StageId, ProfileLine[]>;
}

/**
 * Sums the self time of one or more profiles (the threads of one process) by stage, counting only the samples
 * inside `window` when given (the run, without start-up and shutdown).
 */
export function summariseStages(paths: readonly string[], window?: ProfileWindow): StageSummary {
  const ms = Object.fromEntries(STAGES.map((s) => [s.id, 0])) as Record<StageId, number>;
  const functions = Object.fromEntries(STAGES.map((s) => [s.id, new Map<string, number>()])) as Record<
    StageId,
    Map<string, number>
  >;
  let idleMs = 0;
  const threadMs: number[] = [];
  for (const path of paths) {
    let busyMs = 0;
    const profile = readProfile(path);
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const memo = new Map<number, StageId>();
    const stageOf = (id: number): StageId => {
      const known = memo.get(id);
      if (known) return known;
      const node = byId.get(id);
      let stage: StageId | null = node ? ownStage(node.callFrame) : 'other';
      if (stage === null) {
        // a builtin or core frame: its nearest caller with a stage of its own decides, else its core module
        const up = parent.get(id);
        const caller = up === undefined ? null : stageOf(up);
        const core = FALLBACK_CORE.find(([re]) => re.test(node?.callFrame.url ?? ''))?.[1];
        stage = caller && caller !== 'other' ? caller : (core ?? caller ?? 'other');
      }
      memo.set(id, stage);
      return stage;
    };
    for (const [id, t] of selfTimes(profile, window)) {
      const frame = byId.get(id)?.callFrame;
      if (frame?.functionName === '(idle)') {
        idleMs += t;
        continue;
      }
      const stage = stageOf(id);
      ms[stage] += t;
      busyMs += t;
      if (frame) {
        const fn = functionLabel(frame);
        functions[stage].set(fn, (functions[stage].get(fn) ?? 0) + t);
      }
    }
    threadMs.push(busyMs);
  }
  const totalMs = Object.values(ms).reduce((a, b) => a + b, 0);
  const top = Object.fromEntries(
    STAGES.map((s) => [s.id, ranked(functions[s.id], totalMs, TOP_PER_STAGE)]),
  ) as Record<StageId, ProfileLine[]>;
  return { ms, totalMs, idleMs, threads: paths.length, threadMs, top };
}

/** What the process counted itself over the run, to set the sampled time against. */
export interface MeasuredCpu {
  /** The main thread's CPU (s), from /proc; null when unknown. */
  mainThreadS: number | null;
  /** The whole process's CPU (s): every thread, V8's GC helpers and libuv's pool included. */
  processS: number;
}

/**
 * The stages as a markdown table: µs per row, share, CPU seconds, then the total. A profile samples by the
 * clock: on a busy machine a thread waiting for a core is sampled as running, so the sampled time exceeds the
 * CPU used. With the main thread's measured CPU, the stages are scaled by measured / sampled (the same factor
 * for every thread), so that they add up to CPU time; the factor is printed.
 */
export function formatStages(summary: StageSummary, rows: number, measured?: MeasuredCpu): string {
  const mainSampledMs = summary.threadMs[0] ?? 0;
  const scale =
    measured?.mainThreadS != null && mainSampledMs > 0 ? (measured.mainThreadS * 1000) / mainSampledMs : 1;
  const perRow = (ms: number) => ((ms * 1000 * scale) / rows).toFixed(1);
  const seconds = (ms: number) => ((ms * scale) / 1000).toFixed(2);
  const share = (ms: number) => (summary.totalMs > 0 ? `${((ms / summary.totalMs) * 100).toFixed(0)}%` : '—');
  const body = STAGES.map((s) => [
    s.title,
    perRow(summary.ms[s.id]),
    share(summary.ms[s.id]),
    seconds(summary.ms[s.id]),
    s.what,
  ]);
  body.push(['**total**', perRow(summary.totalMs), '100%', seconds(summary.totalMs), '']);
  const table = markdownTable(['stage', 'µs/row', 'share', 'CPU s', 'code'], body, [1, 2, 3]);
  const notes = [
    `${rows.toLocaleString('en-US')} rows; self time of ${summary.threads} thread profile(s), samples inside the run only; ` +
      `idle (waiting, mostly for PostgreSQL) ${(summary.idleMs / 1000).toFixed(2)} s sampled, not counted.`,
    measured?.mainThreadS != null
      ? `Sampled ${(summary.totalMs / 1000).toFixed(2)} s (main thread ${(mainSampledMs / 1000).toFixed(2)} s) against the main thread's ` +
        `measured CPU ${measured.mainThreadS.toFixed(2)} s: stages scaled by ${scale.toFixed(2)}` +
        (scale < 0.9 ? ' (the machine was busy: threads waited for a core)' : '') +
        '.'
      : "Sampled time, not scaled (the main thread's CPU is not known here): on a busy machine it exceeds the CPU used.",
    ...(measured
      ? [
          `The process's own CPU count over the run: ${measured.processS.toFixed(2)} s, ${((measured.processS * 1e6) / rows).toFixed(1)} µs/row ` +
            "(every thread: it adds V8's GC helper threads and libuv's pool, which the profiles do not sample).",
        ]
      : []),
  ];
  const largest = STAGES.filter((s) => summary.top[s.id].length).map(
    (s) => `  ${s.title}: ${summary.top[s.id].map((l) => `${shortName(l.name)} ${perRow(l.ms)}`).join(', ')}`,
  );
  return [table, '', ...notes, 'Largest in each stage (µs/row, self time):', ...largest].join('\n');
}

/** A function's label without its column: `name file:line`. */
function shortName(label: string): string {
  return label.replace(/\s+/, ' ').replace(/:(\d+):\d+$/, ':$1');
}

/** A markdown table, its columns padded so that it reads in a terminal too; `right`: right-aligned columns. */
export function markdownTable(head: string[], rows: string[][], right: readonly number[] = []): string {
  const r = new Set(right);
  const widths = head.map((h, i) => Math.max(h.length, 3, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (r.has(i) ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (r.has(i) ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  return [line(head), rule, ...rows.map((row) => line(head.map((_, i) => row[i] ?? '')))].join('\n');
}

export function formatProfile(summary: ProfileSummary): string {
  const line = (l: ProfileLine) =>
    `  ${(l.share * 100).toFixed(1).padStart(5)}%  ${(l.ms / 1000).toFixed(2).padStart(7)} s  ${l.name}`;
  return [
    `  self time sampled: ${(summary.totalMs / 1000).toFixed(2)} s`,
    '  by where the code lives:',
    ...summary.groups.map(line),
    '  top functions by self time:',
    ...summary.functions.map(line),
  ].join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const rowsAt = args.indexOf('--rows');
  const rows = rowsAt === -1 ? null : Number(args[rowsAt + 1]);
  const files = args.filter((a, i) => a.endsWith('.cpuprofile') && i !== rowsAt + 1);
  if (!files.length || (rows !== null && !(rows > 0))) {
    console.error(
      'usage: node bin/run-ts.js scripts/bench-profile.ts <file.cpuprofile>… [--rows N]\n' +
        '  top functions and code by self time; with --rows, the CPU per row by stage (every file a thread)',
    );
    process.exitCode = 2;
  } else if (rows !== null) {
    console.log(formatStages(summariseStages(files), rows));
  } else {
    for (const file of files) console.log(formatProfile(summariseProfile(file, 15)));
  }
}
