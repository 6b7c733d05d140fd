import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWarehouse } from '../lib/db.js';
import {
  createRandom,
  generateEnterprises,
  generatePenalties,
  PENALTY_HEADER,
  writeDelimited,
} from '../pipelines/demo/generate.js';
import { type RunningSimulator, startCreditSimulator } from '../pipelines/simulate/credit-platform.js';
import {
  type RunningSharingSimulator,
  startSharingSimulator,
} from '../pipelines/simulate/sharing-platform.js';
import { runCli } from './helpers/cli.js';
import { makeEnv, TEST_DATABASE_URL, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

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
    expect(Object.keys(summary).sort()).toEqual([
      'finishedAt',
      'kind',
      'runId',
      'sources',
      'startedAt',
      'status',
    ]);
    expect(summary.kind).toBe('run');
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
    // on PostgreSQL, env.env names the server (a fresh schema): the demo must leave it alone
    const reports = TEST_DATABASE_URL ? join(env.config.home, 'demo', 'reports') : join(env.dir, 'reports');
    const result = await runCli(['demo'], {
      ...env.env,
      GUIJI_REPORT_DIR: join(env.dir, 'reports'),
      GUIJI_LOG_LEVEL: 'error',
    });
    expect(result.code, result.stderr).toBe(0);
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
      departments: { department: string; late: number; measured: number; watch: boolean }[];
      rates: { lateRate: number | null };
    };
    expect(report.reportVersion).toBe(1);
    // a month as departments deliver it: most on time, one department to watch, not every one late
    const measured = report.departments.filter((d) => d.measured > 0);
    expect(measured.length).toBeGreaterThanOrEqual(3);
    expect(measured.filter((d) => d.watch).length).toBe(1);
    expect(measured.filter((d) => d.late / d.measured < 0.25).length).toBeGreaterThanOrEqual(2);
    expect(report.rates.lateRate).toBeGreaterThan(0.05);
    expect(report.rates.lateRate).toBeLessThan(0.4);
    const t = report.totals;
    expect(t.read).toBeGreaterThan(1000);
    expect(t.read).toBe(t.inserted + t.updated + t.unchanged + t.quarantined + t.duplicates);
    expect(existsSync(join(reports, 'quality-run-1.xlsx'))).toBe(true);
    if (TEST_DATABASE_URL) {
      expect(result.stderr).toMatch(/the configured warehouse \(GUIJI_DATABASE_URL\) is left alone/);
      expect(result.stdout).toContain(`GUIJI_HOME=${join(env.config.home, 'demo')} npx guiji status`);
      // nothing of the demo in the configured schema: not a table
      const db = await openWarehouse({
        home: env.config.home,
        databaseUrl: TEST_DATABASE_URL,
        schema: env.config.dbSchema,
      });
      try {
        expect(
          await db.query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [
            env.config.dbSchema,
          ]),
        ).toEqual([]);
      } finally {
        await db.close();
      }
      expect(existsSync(join(env.config.dropDir, 'incoming'))).toBe(false);
    }
  });

  it.runIf(!TEST_DATABASE_URL)(
    'refuses an embedded warehouse that holds runs other than its own',
    async () => {
      const run = await runCli(['run', '--source', 'drops'], env.env);
      expect(run.code, run.stderr).toBe(0);
      const again = await runCli(['demo'], env.env);
      expect(again.code).toBe(2);
      expect(again.stderr).toMatch(
        /^guiji: the embedded warehouse in .* holds 1 run\(s\) that are not the demo's/m,
      );
    },
  );
});

/** A port on 127.0.0.1 where nothing listens (taken from the kernel, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** No stack trace, no driver's or knex's own text. */
function expectNoStack(text: string): void {
  expect(text).not.toMatch(/^\s+at /m);
  expect(text).not.toContain('Acquire connection error');
  expect(text).not.toMatch(/ECONNREFUSED/);
}

describe(`errors, --version and doctor (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;

  beforeAll(async () => {
    env = await makeEnv('errors');
  });
  afterAll(async () => {
    await env.cleanup();
  });

  it('prints the version of package.json with --version and -V', async () => {
    const { version } = JSON.parse(readFileSync(resolve(import.meta.dirname, '../package.json'), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-V']) {
      const result = await runCli([flag], {});
      expect(result.code, flag).toBe(0);
      expect(result.stdout.trim()).toBe(version);
    }
  });

  it('exits 2 on a configuration error before any run is recorded', async () => {
    // a platform asked for without its key, then one with a dataset the catalog does not have
    const noKey = await runCli(['run', '--source', 'credit-platform', '--json'], {
      ...env.env,
      GUIJI_CREDIT_URL: 'http://127.0.0.1:9',
    });
    expect(noKey.code, noKey.stderr).toBe(2);
    expect(noKey.stderr).toMatch(/^guiji: GUIJI_CREDIT_APP_KEY: not set$/m);
    expect(JSON.parse(noKey.stdout)).toEqual({
      error: { code: 'GUIJI_ERR_CONFIG', message: 'GUIJI_CREDIT_APP_KEY: not set' },
    });
    const badDataset = await runCli(['run'], {
      ...env.env,
      GUIJI_CREDIT_URL: 'http://127.0.0.1:9',
      GUIJI_CREDIT_APP_KEY: 'k',
      GUIJI_CREDIT_APP_SECRET: 's',
      GUIJI_CREDIT_DATASETS: 'xzxk,nosuch',
    });
    expect(badDataset.code, badDataset.stderr).toBe(2);
    expect(badDataset.stderr).toMatch(/GUIJI_CREDIT_DATASETS: no catalog resource nosuch/);
    const badSetting = await runCli(['run'], { ...env.env, GUIJI_BATCH_SIZE: '-3' });
    expect(badSetting.code).toBe(2);

    const db = await env.open();
    try {
      expect(await db.query('SELECT id, status FROM runs')).toEqual([]);
    } finally {
      await db.close();
    }
  });

  /** Each flag value is refused with exit 2 naming the flag, before the warehouse (unreachable here) is opened. */
  async function expectRefused(cases: [string[], RegExp][]): Promise<void> {
    const unreachable = {
      ...env.env,
      GUIJI_DATABASE_URL: `postgres://guiji@127.0.0.1:${await closedPort()}/w`,
    };
    for (const [args, message] of cases) {
      const result = await runCli(args, unreachable);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(message);
      expect(result.stderr).not.toMatch(/SQL|LIMIT|syntax|out of range for type/);
      expectNoStack(result.stderr);
      if (args.includes('--json'))
        expect(JSON.parse(result.stdout)).toMatchObject({ error: { code: 'GUIJI_ERR_USAGE' } });
    }
  }

  it('checks dates, limits and ids of report, quarantine and status before any SQL', async () => {
    await expectRefused([
      [['report', '--since', '2026-13-45'], /^guiji: --since: expected a real date .*"2026-13-45"/m],
      [['report', '--since', '2025-02-29'], /^guiji: --since: /m],
      [['quarantine', 'list', '--limit', '-5'], /^guiji: --limit: expected a whole number from 1 .*"-5"/m],
      [['quarantine', 'list', '--run', 'abc'], /^guiji: --run: /m],
      [['status', '--limit', 'ten', '--json'], /^guiji: --limit: /m],
    ]);
  });

  it('checks the flags of review, backfill and demo before any SQL', async () => {
    await expectRefused([
      [['review', 'list', '--limit', '0'], /^guiji: --limit: /m],
      [['backfill', 'plan', '--since', '2014-10-32'], /^guiji: --since: /m],
      [['backfill', 'status', '1.5'], /^guiji: ID: /m],
      [['demo', '--records', 'many'], /^guiji: --records: /m],
    ]);
  });

  it('says in plain words that the warehouse cannot be reached; status --json stays JSON', async () => {
    const port = await closedPort();
    const url = `postgres://guiji:s3cret-pw@127.0.0.1:${port}/w`;
    for (const level of ['info', 'debug']) {
      const result = await runCli(['status', '--json'], {
        ...env.env,
        GUIJI_DATABASE_URL: url,
        GUIJI_LOG_LEVEL: level,
      });
      expect(result.code, result.stderr).toBe(1);
      // stdout: the command's own output only, one JSON document (knex printed its stack here before)
      expect(JSON.parse(result.stdout)).toEqual({
        error: {
          code: 'GUIJI_ERR_DB',
          message: `cannot reach the warehouse at 127.0.0.1:${port} (GUIJI_DATABASE_URL): connection refused (is PostgreSQL running and listening there?)`,
        },
      });
      expect(result.stderr).toMatch(
        new RegExp(
          `^guiji: cannot reach the warehouse at 127\\.0\\.0\\.1:${port} \\(GUIJI_DATABASE_URL\\)`,
          'm',
        ),
      );
      expect(result.stdout + result.stderr).not.toContain('s3cret-pw');
      if (level === 'info') expectNoStack(result.stderr);
      else expect(result.stderr).toMatch(/^\s+at /m); // the stack, at debug level only
    }
  });

  it.runIf(TEST_DATABASE_URL)('names a PostgreSQL refusal by its meaning and SQLSTATE', async () => {
    const url = new URL(TEST_DATABASE_URL as string);
    url.pathname = '/guiji_no_such_database';
    const result = await runCli(['status'], { ...env.env, GUIJI_DATABASE_URL: url.toString() });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^guiji: the warehouse at [^ ]+ \(GUIJI_DATABASE_URL\) refused: the database does not exist \[SQLSTATE 3D000\]$/m,
    );
    expectNoStack(result.stderr);
  });
});

describe(`guiji doctor (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let credit: RunningSimulator;
  let sharing: RunningSharingSimulator;
  const secrets = { credit: 'doctor-credit-secret', sharing: 'doctor-sharing-secret' };

  beforeAll(async () => {
    env = await makeEnv('doctor');
    credit = await startCreditSimulator({ records: 20, appKey: 'doc', appSecret: secrets.credit });
    sharing = await startSharingSimulator({ records: 20, appKey: 'doc', appSecret: secrets.sharing });
  });
  afterAll(async () => {
    await Promise.all([credit.close(), sharing.close()]);
    await env.cleanup();
  });

  interface Doctor {
    ok: boolean;
    checks: { name: string; ok: boolean; detail: string }[];
    settings: Record<string, { value: unknown; source: string }>;
  }
  const check = (report: Doctor, name: string) => report.checks.find((c) => c.name === name);

  it('fails on a warehouse not migrated and a drop folder that does not exist, and changes nothing', async () => {
    rmSync(env.config.dropDir, { recursive: true, force: true }); // makeEnv makes one
    const result = await runCli(['doctor', '--json'], env.env);
    expect(result.code, result.stderr).toBe(1);
    const report = JSON.parse(result.stdout) as Doctor;
    expect(report.ok).toBe(false);
    expect(check(report, 'settings')?.ok).toBe(true);
    expect(check(report, 'catalog')?.ok).toBe(true);
    if (TEST_DATABASE_URL)
      expect(check(report, 'migrations')).toMatchObject({ ok: false, detail: /pending: 001_foundation/ });
    else expect(check(report, 'warehouse')).toMatchObject({ ok: false, detail: /does not exist yet/ });
    expect(check(report, 'drop folder')).toMatchObject({
      ok: false,
      detail: /does not exist \(GUIJI_DROP_DIR\)/,
    });
    expect(existsSync(env.config.dropDir)).toBe(false);
    expect(report.settings.GUIJI_HOME).toEqual({ value: env.config.home, source: 'env' });
    expect(report.settings.GUIJI_BATCH_SIZE).toEqual({ value: 10000, source: 'default' });
  });

  it('passes when everything is in place, with the platforms accepting signed requests; secrets stay hidden', async () => {
    const migrated = await runCli(['migrate'], env.env);
    expect(migrated.code, migrated.stderr).toBe(0);
    for (const sub of ['incoming', 'archive', 'rejected'])
      mkdirSync(join(env.config.dropDir, sub), { recursive: true });
    const platforms = {
      GUIJI_CREDIT_URL: credit.url,
      GUIJI_CREDIT_APP_KEY: 'doc',
      GUIJI_CREDIT_APP_SECRET: secrets.credit,
      GUIJI_SHARING_URL: sharing.url,
      GUIJI_SHARING_APP_KEY: 'doc',
      GUIJI_SHARING_APP_SECRET: secrets.sharing,
    };
    const good = await runCli(['doctor', '--json'], { ...env.env, ...platforms });
    expect(good.code, good.stdout + good.stderr).toBe(0);
    const report = JSON.parse(good.stdout) as Doctor;
    expect(report.checks.map((c) => [c.name, c.ok])).toEqual([
      ['settings', true],
      ['catalog', true],
      ['warehouse', true],
      ['migrations', true],
      ['drop folder', true],
      ['report folder', true],
      ['credit-platform', true],
      ['sharing-platform', true],
    ]);
    expect(report.ok).toBe(true);
    expect(report.settings.GUIJI_CREDIT_APP_SECRET).toEqual({ value: '***', source: 'env' });
    expect(report.settings.GUIJI_SHARING_APP_SECRET).toEqual({ value: '***', source: 'env' });
    expect(credit.stats.served + sharing.stats.served).toBeGreaterThanOrEqual(2);

    const wrong = await runCli(['doctor'], {
      ...env.env,
      ...platforms,
      GUIJI_SHARING_APP_SECRET: 'not-the-secret',
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(/FAIL\s+sharing-platform\s+GUIJI_SHARING_APP_SECRET: .*rejected/);
    expect(wrong.stdout).toMatch(/ok\s+credit-platform/);
    expect(wrong.stdout).toContain('1 of 8 checks failed');
    for (const text of [good.stdout, good.stderr, wrong.stdout, wrong.stderr]) {
      expect(text).not.toContain(secrets.credit);
      expect(text).not.toContain(secrets.sharing);
      expect(text).not.toContain('not-the-secret');
    }
  });

  it('exits 2 on a bad setting, still in its JSON shape', async () => {
    const result = await runCli(['doctor', '--json'], { ...env.env, GUIJI_SCHEDULE: 'every night' });
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toEqual({
      ok: false,
      checks: [
        {
          name: 'settings',
          ok: false,
          detail: expect.stringMatching(/^GUIJI_SCHEDULE: not a cron expression/),
        },
      ],
      settings: {},
    });
  });
});
