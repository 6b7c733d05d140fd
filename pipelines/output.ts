import { shanghaiText } from '../lib/time.js';
import type { RunSummary } from './run.js';
import type { FileOutcome } from './sources/drops.js';

const COLUMNS = [
  'read',
  'inserted',
  'updated',
  'unchanged',
  'quarantined',
  'duplicates',
  'unmatched',
] as const;

/** A run's ledger as a small table for a terminal; its times in Asia/Shanghai, as the city reads them. */
export function formatRun(summary: RunSummary): string {
  const lines = [
    `run ${summary.runId}  ${summary.kind}  ${summary.status}  started ${shanghaiText(summary.startedAt, { seconds: true })}${summary.finishedAt ? `  finished ${shanghaiText(summary.finishedAt, { seconds: true })}` : ''} (Asia/Shanghai)`,
    `  ${'source'.padEnd(18)}${'status'.padEnd(12)}${COLUMNS.map((c) => c.padStart(12)).join('')}`,
  ];
  for (const s of summary.sources) {
    lines.push(
      `  ${s.source.padEnd(18)}${s.status.padEnd(12)}${COLUMNS.map((c) => String(s[c]).padStart(12)).join('')}`,
    );
    if (s.error) lines.push(`    error: ${s.error}`);
  }
  return lines.join('\n');
}

export function printRun(summary: RunSummary, files: FileOutcome[] = []): void {
  console.log(formatRun(summary));
  for (const f of files) {
    const detail =
      f.status === 'loaded'
        ? `${f.resources.join(',')}: ${f.read} rows, ${f.quarantined} rejected${f.warned ? `, ${f.warned} loaded with warnings` : ''}${f.feedback ? ` → feedback ${f.feedback}` : ''}`
        : (f.message ?? '');
    console.log(`  ${f.status.padEnd(9)} ${f.file}  ${detail}`);
  }
}

export function printRuns(runs: RunSummary[]): void {
  if (!runs.length) {
    console.log('no runs yet: `guiji run` processes the drop folder, `guiji demo` shows it on sample data');
    return;
  }
  for (const run of runs) console.log(formatRun(run));
}
