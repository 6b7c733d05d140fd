/**
 * Summarises a V8 CPU profile (`node --cpu-prof`) by self time: the top functions, and the same time grouped
 * by where the code lives (a project file, a package of node_modules, Node's core, the garbage collector, idle
 * — idle in the bench child is mostly waiting for PostgreSQL).
 *
 * Used by `npm run bench -- --profile`; also on its own:
 *   node bin/run-ts.js scripts/bench-profile.ts <file.cpuprofile> [top]
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

export function summariseProfile(path: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMs = new Map<number, number>();
  // a sample's duration is the gap to the next sample (V8's timeDeltas are in microseconds)
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    const delta = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    selfMs.set(id, (selfMs.get(id) ?? 0) + delta);
  }
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
  const [file, top] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node bin/run-ts.js scripts/bench-profile.ts <file.cpuprofile> [top]');
    process.exitCode = 2;
  } else {
    console.log(formatProfile(summariseProfile(file, Number(top) || 15)));
  }
}
