import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRandom,
  generateEnterprises,
  generatePenalties,
  PENALTY_HEADER,
  writeDelimited,
} from '../pipelines/demo/generate.js';
import { runCli } from './helpers/cli.js';
import { makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

describe(`the guiji command (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;

  beforeAll(async () => {
    env = await makeEnv('cli');
  });
  afterAll(async () => {
    await env.cleanup();
  });

  it('lists its settings and exit codes in --help', async () => {
    const result = await runCli(['--help'], {});
    expect(result.code).toBe(0);
    for (const name of [
      'GUIJI_HOME',
      'GUIJI_DATABASE_URL',
      'GUIJI_DROP_DIR',
      'GUIJI_BATCH_SIZE',
      'Exit codes',
    ]) {
      expect(result.stdout).toContain(name);
    }
  });

  it('exits 2 naming the setting when the configuration is wrong', async () => {
    const result = await runCli(['status'], { ...env.env, GUIJI_BATCH_SIZE: 'many' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/GUIJI_BATCH_SIZE/);
  });

  it('checks identifiers from arguments and stdin, one JSON line per code', async () => {
    const args = await runCli(['id', 'check', '--json', '91350100M000100Y43', '91350100M000100Y44'], {});
    expect(args.code).toBe(1);
    const lines = args.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      expect.objectContaining({ input: '91350100M000100Y43', kind: 'uscc', valid: true, reason: null }),
      expect.objectContaining({ input: '91350100M000100Y44', kind: 'uscc', valid: false }),
    ]);
    expect(String(lines[1]!.reason)).toMatch(/check character/);

    const stdin = await runCli(['id', 'check', '--kind', 'org', '--json'], {}, 'D2143569-X\nD2143569-1\n');
    const orgs = stdin.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { valid: boolean; kind: string });
    expect(orgs.map((o) => [o.kind, o.valid])).toEqual([
      ['org', true],
      ['org', false],
    ]);
  });

  it('prints the run, the status and the quarantine as their JSON contracts', async () => {
    const incoming = join(env.config.dropDir, 'incoming');
    mkdirSync(incoming, { recursive: true });
    const random = createRandom(11);
    const plan = generatePenalties(random, generateEnterprises(random, 20), 80, { faultShare: 0.2 });
    await writeDelimited(join(incoming, 'p.csv'), PENALTY_HEADER, plan.rows);

    const run = await runCli(['run', '--source', 'drops', '--json'], env.env);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(Object.keys(summary).sort()).toEqual(['finishedAt', 'runId', 'sources', 'startedAt', 'status']);
    expect(Object.keys(summary.sources[0]).sort()).toEqual(
      [
        'duplicates',
        'error',
        'inserted',
        'quarantined',
        'read',
        'source',
        'status',
        'unchanged',
        'unmatched',
        'updated',
      ].sort(),
    );
    expect(summary.sources[0].read).toBe(80);
    // no register was loaded: every record is loaded and flagged unmatched, never dropped
    expect(summary.sources[0].unmatched).toBe(summary.sources[0].inserted);

    const again = await runCli(['run', '--json'], env.env);
    const status = await runCli(['status', '--json'], env.env);
    const { runs } = JSON.parse(status.stdout) as { runs: { runId: number }[] };
    expect(runs.map((r) => r.runId)).toEqual([JSON.parse(again.stdout).runId, summary.runId]);

    const quarantine = await runCli(
      ['quarantine', 'list', '--json', '--run', String(summary.runId)],
      env.env,
    );
    const rows = quarantine.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(summary.sources[0].quarantined + summary.sources[0].duplicates);
    expect(rows[0]).toMatchObject({ source: 'drops', resource: 'xzcf', file: 'p.csv', runId: summary.runId });
    expect(rows[0].issues[0]).toEqual(
      expect.objectContaining({
        type: expect.any(String),
        message: expect.any(String),
        messageZh: expect.any(String),
      }),
    );
  });

  it('refuses an unknown source as bad usage', async () => {
    const result = await runCli(['run', '--source', 'fax'], env.env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/fax/);
  });
});

describe(`guiji demo, the README's npm start (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;

  beforeAll(async () => {
    env = await makeEnv('demo');
  });
  afterAll(async () => {
    await env.cleanup();
  });

  it('loads the sample drops and both simulated platforms, then writes the quality report', async () => {
    const reports = join(env.dir, 'reports');
    const result = await runCli(['demo'], {
      ...env.env,
      GUIJI_REPORT_DIR: reports,
      GUIJI_LOG_LEVEL: 'error',
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/credit-platform/);
    expect(result.stdout).toMatch(/sharing-platform/);
    expect(result.stdout).toContain('quality-run-1.html');
    const report = JSON.parse(readFileSync(join(reports, 'quality-run-1.json'), 'utf8')) as {
      reportVersion: number;
      totals: {
        read: number;
        inserted: number;
        updated: number;
        unchanged: number;
        quarantined: number;
        duplicates: number;
      };
    };
    expect(report.reportVersion).toBe(1);
    const t = report.totals;
    expect(t.read).toBeGreaterThan(1000);
    expect(t.read).toBe(t.inserted + t.updated + t.unchanged + t.quarantined + t.duplicates);
    expect(existsSync(join(reports, 'quality-run-1.xlsx'))).toBe(true);
  });
});
