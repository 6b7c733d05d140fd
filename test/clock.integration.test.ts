import { mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DropFile, DropTable } from '../connectors/spreadsheet/drop-folder.js';
import { loadCalendar } from '../lib/calendar.js';
import type { Warehouse } from '../lib/db.js';
import { GuijiError } from '../lib/errors.js';
import { writeDemoFiles } from '../pipelines/demo/demo.js';
import {
  createRandom,
  ENTERPRISE_HEADER,
  generateEnterprises,
  generatePenalties,
  PENALTY_HEADER,
  writeDelimited,
} from '../pipelines/demo/generate.js';
import { computeQualityMetrics } from '../pipelines/quality/metrics.js';
import { createStore } from '../pipelines/simulate/store.js';
import { DropsIncomplete, runDrops } from '../pipelines/sources/drops.js';
import { deliveredAtOf, loadPlatformWindow, type PlatformAdapter } from '../pipelines/sources/platform.js';
import { createAjv } from '../schemas/ajv.js';
import { makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

const calendar = loadCalendar();

/** A China time as an instant (ms). */
const at = (text: string) => Date.parse(`${text.replace(' ', 'T')}+08:00`);

interface Metric {
  department: string;
  resource: string;
  measure: string;
  value: string;
  base: string;
}

describe(`the timeliness clock stops at delivery (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  const incoming = () => join(env.config.dropDir, 'incoming');

  beforeAll(async () => {
    env = await makeEnv('clock');
    db = await env.open();
    mkdirSync(incoming(), { recursive: true });
  });
  afterAll(async () => {
    await db.close();
    await env.cleanup();
  });

  async function newRun(kind = 'run', source = 'drops'): Promise<number> {
    const [run] = await db.query<{ id: string }>(`INSERT INTO runs (kind) VALUES ($1) RETURNING id`, [kind]);
    const runId = Number(run?.id);
    await db.query(`INSERT INTO source_runs (run_id, source) VALUES ($1, $2)`, [runId, source]);
    return runId;
  }

  /** One run of the drop source alone, at China time `now`, with the reader `tables` when given. */
  async function dropsRun(now: string, tables?: (file: DropFile) => AsyncIterable<DropTable>) {
    const runId = await newRun();
    try {
      await runDrops({
        db,
        ajv: createAjv(),
        catalog: env.catalog,
        logger: env.logger,
        runId,
        dropDir: env.config.dropDir,
        batchSize: env.config.batchSize,
        now: () => at(now),
        ...(tables ? { tables } : {}),
      });
    } catch (error) {
      if (!(error instanceof DropsIncomplete)) throw error;
    }
    return runId;
  }

  async function metrics(runId: number): Promise<Metric[]> {
    await computeQualityMetrics(db, env.catalog, runId, { calendar });
    return db.query<Metric>(
      `SELECT department, resource, measure, value, base FROM quality_metrics
       WHERE run_id = $1 AND dimension = 'timeliness'`,
      [runId],
    );
  }

  const sum = (rows: Metric[], measure: string, resource?: string) =>
    rows
      .filter((r) => r.measure === measure && (resource === undefined || r.resource === resource))
      .reduce((n, r) => ({ value: n.value + Number(r.value), base: n.base + Number(r.base) }), {
        value: 0,
        base: 0,
      });

  const deliveredOf = (table: string, runId: number) =>
    db.query<{ delivered: string }>(
      `SELECT DISTINCT to_char(delivered_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS') AS delivered
       FROM ${table} WHERE first_run_id = $1`,
      [runId],
    );

  /** Penalties decided on 2025-03-05 (Wednesday): 3 working days before 03-10, 18 before 03-31. */
  function penaltyRows(tag: string, count: number): string[][] {
    const enterprises = generateEnterprises(createRandom(7), 10);
    return generatePenalties(createRandom(tag.length), enterprises, count, {
      faultShare: 0,
      unknownShare: 0,
    }).rows.map((r, i) => {
      const row = [...r];
      row[4] = `${tag}罚〔2025〕${i + 1}号`;
      row[13] = '2025-03-05';
      row[14] = '2026-03-05';
      row[15] = '2028-03-05';
      return row;
    });
  }

  it('a drop file keeps the time it was first seen across a rerun and a rejected-then-fixed resend', async () => {
    await writeDelimited(join(incoming(), 'rerun.csv'), PENALTY_HEADER, penaltyRows('甲', 5));
    await writeDelimited(join(incoming(), 'resend.csv'), PENALTY_HEADER, penaltyRows('乙乙', 4));
    // first sight on Monday 2025-03-10: the disk fails under one file (it stays in incoming/ for the next run);
    // guiji itself fails on the other (rejected/, not recorded: the engineer puts it back once mended)
    const failing = (file: DropFile): AsyncIterable<DropTable> => ({
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          throw file.name === 'rerun.csv'
            ? Object.assign(new Error('i/o error'), { code: 'EIO' })
            : new GuijiError('GUIJI_ERR_INTERNAL', 'the reader thread died');
        },
      }),
    });
    await dropsRun('2025-03-10 10:00:00', failing);
    expect(readdirSync(incoming())).toEqual(['rerun.csv']);
    renameSync(join(env.config.dropDir, 'rejected', 'resend.csv'), join(incoming(), 'resend.csv'));

    // three weeks later both load: their records were delivered on 03-10, within 7 working days of 03-05
    const runId = await dropsRun('2025-03-31 09:00:00');
    expect(readdirSync(incoming())).toEqual([]);
    const arrivals = await db.query<{ name: string; seen: string }>(
      `SELECT name, to_char(first_seen_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS') AS seen
       FROM drop_arrivals ORDER BY name`,
    );
    expect(arrivals).toEqual([
      { name: 'rerun.csv', seen: '2025-03-10 10:00:00' },
      { name: 'resend.csv', seen: '2025-03-10 10:00:00' },
    ]);
    expect(await deliveredOf('r_xzcf', runId)).toEqual([{ delivered: '2025-03-10 10:00:00' }]);
    const rows = await metrics(runId);
    expect(sum(rows, 'collect_late')).toEqual({ value: 0, base: 9 });
    expect(sum(rows, 'collect_on_time').value).toBe(9);
  });

  it('a register row is measured from its 核准日期, never from its 成立日期; without one it is not measured', async () => {
    const [a, b] = generateEnterprises(createRandom(11), 2).map((e) => [
      e.uscc,
      e.name,
      '有限责任公司',
      e.legalRep,
      '100',
      '2005-06-01',
      '界首市市场监督管理局',
      '',
      '存续',
      e.address,
    ]);
    (a as string[])[7] = '2025-03-06';
    await writeDelimited(join(incoming(), 'register.csv'), ENTERPRISE_HEADER, [a as string[], b as string[]]);
    const runId = await dropsRun('2025-03-10 10:00:00');
    const rows = await metrics(runId);
    expect(sum(rows, 'collect_late', 'enterprise')).toEqual({ value: 0, base: 1 });
    expect(sum(rows, 'collect_unmeasured', 'enterprise')).toEqual({ value: 1, base: 2 });
    expect(await db.query('SELECT * FROM quality_overdue WHERE run_id = $1', [runId])).toEqual([]);
  });

  it('a platform record is measured to its SJC (or its CREATE_DATE), not to the day it was loaded', async () => {
    const store = createStore({ records: 3, seed: 5, datasets: ['xzcf'], invalidShare: 0, updatedShare: 0 });
    const rows = store.query('xzcf', '2000-01-01 00:00:00', '2100-01-01 00:00:00', 1, 10).rows as Record<
      string,
      unknown
    >[];
    expect(rows).toHaveLength(3);
    const times: (Record<string, unknown> | null)[] = [
      { SJC: '2025-03-07 09:00:00' },
      { SJC: null, CREATE_DATE: at('2025-03-06 09:00:00') },
      { SJC: '2025-03-25 09:00:00' },
    ];
    rows.forEach((row, i) => {
      Object.assign(row, { CF_JDRQ: '2025-03-05', CF_YXQ: '2026-03-05', CF_GSJZQ: '2028-03-05' }, times[i]);
    });
    const adapter: PlatformAdapter = {
      source: 'credit-platform',
      streams: [{ stream: 'xzcf', resource: 'xzcf' }],
      lagSeconds: 0,
      overlapSeconds: 0,
      pull: async function* () {
        yield { rows };
      },
    };
    const runId = await newRun('run', 'credit-platform');
    await loadPlatformWindow(
      {
        db,
        ajv: createAjv(),
        catalog: env.catalog,
        logger: env.logger,
        runId,
        batchSize: 100,
        signal: new AbortController().signal,
      },
      adapter,
      'xzcf',
      'xzcf',
      { from: '2014-10-01 00:00:00', to: '2099-01-01 00:00:00', resumeFrom: null },
      async () => {},
    );
    expect((await deliveredOf('r_xzcf', runId)).map((r) => r.delivered).sort()).toEqual([
      '2025-03-06 09:00:00',
      '2025-03-07 09:00:00',
      '2025-03-25 09:00:00',
    ]);
    const metricRows = await metrics(runId);
    expect(sum(metricRows, 'collect_late')).toEqual({ value: 1, base: 3 });
    const overdue = await db.query<{ received_date: string; workdays: number }>(
      'SELECT received_date::text, workdays FROM quality_overdue WHERE run_id = $1',
      [runId],
    );
    expect(overdue).toEqual([{ received_date: '2025-03-25', workdays: 14 }]);
  });

  it('reads the delivery time a platform gives: SJC, else CREATE_DATE in epoch ms (the published answers)', () => {
    expect(deliveredAtOf({ SJC: '2025-03-07 09:00:00', CREATE_DATE: 1568180781000 })).toBe(
      '2025-03-07 09:00:00',
    );
    expect(deliveredAtOf({ CREATE_DATE: 1568180781000 })).toBe('2019-09-11 13:46:21');
    expect(deliveredAtOf({ SJC: '1568180781000' })).toBe('2019-09-11 13:46:21');
    expect(deliveredAtOf({ SJC: '2025-03-07 09:00:00.0' })).toBe('2025-03-07 09:00:00');
    expect(deliveredAtOf({ SJC: '2025-02-30 09:00:00' })).toBeNull();
    expect(deliveredAtOf({})).toBeNull();
  });

  it('a history backfill is measured against the history deadline, apart from the month’s late count', async () => {
    const [backfill] = await db.query<{ id: string }>(
      `INSERT INTO backfills (spec, source, by, created_at) VALUES ('clock-test', 'drops', 'file', $1)
       RETURNING id`,
      ['2026-01-05 10:00:00+08'],
    );
    const [partition] = await db.query<{ id: string }>(
      `INSERT INTO backfill_partitions (backfill_id, key, source) VALUES ($1, 'f', 'drops') RETURNING id`,
      [backfill?.id],
    );
    const runId = await newRun('backfill');
    await db.query(`INSERT INTO backfill_attempts (partition_id, run_id, owner) VALUES ($1, $2, 'test')`, [
      partition?.id,
      runId,
    ]);
    // 2015 penalties: one delivered within three months of the backfill's start, one after them
    for (const [key, delivered] of [
      ['h-on-time', '2026-02-01 10:00:00+08'],
      ['h-late', '2026-05-01 10:00:00+08'],
    ] as const) {
      await db.query(
        `INSERT INTO r_xzcf (uscc, natural_key, schema_version, catalog_version, content_hash, department,
                             produced_date, delivered_at, disclosure, source, first_run_id, run_id)
         VALUES ('', $1, '2019', 'test', 'h', '界首市市场监督管理局', '2015-03-02', $2, 'public', 'drops', $3, $3)`,
        [key, delivered, runId],
      );
    }
    const rows = await metrics(runId);
    expect(sum(rows, 'collect_late')).toEqual({ value: 0, base: 0 });
    expect(sum(rows, 'publish_late')).toEqual({ value: 0, base: 0 });
    expect(sum(rows, 'collect_unmeasured')).toEqual({ value: 0, base: 0 });
    expect(sum(rows, 'history_measured')).toEqual({ value: 2, base: 2 });
    expect(sum(rows, 'history_late')).toEqual({ value: 1, base: 2 });
    expect(await db.query('SELECT * FROM quality_overdue WHERE run_id = $1', [runId])).toEqual([]);
    const [run] = await db.query<{ deadline: string }>(
      'SELECT history_deadline::text AS deadline FROM quality_runs WHERE run_id = $1',
      [runId],
    );
    expect(run?.deadline).toBe('2026-04-05');
    const view = await db.query<{ natural_key: string; collect_late: boolean; history_late: boolean }>(
      `SELECT natural_key, collect_late, history_late FROM quality_timeliness WHERE first_run_id = $1
       ORDER BY natural_key`,
      [runId],
    );
    expect(view).toEqual([
      { natural_key: 'h-late', collect_late: false, history_late: true },
      { natural_key: 'h-on-time', collect_late: false, history_late: false },
    ]);

    // a catalog that fixes the programme's start: three months from it
    const fixed = { ...env.catalog, history: { collectMonths: 3, start: '2025-06-01', source: 'test' } };
    await computeQualityMetrics(db, fixed, runId, { calendar });
    const again = await db.query<Metric>(
      `SELECT department, resource, measure, value, base FROM quality_metrics WHERE run_id = $1`,
      [runId],
    );
    expect(sum(again, 'history_late')).toEqual({ value: 2, base: 2 });
  });

  it('the demo’s files read like a month: most departments on time, one to watch, none all late', async () => {
    for (const name of readdirSync(incoming())) renameSync(join(incoming(), name), join(env.dir, name));
    await writeDemoFiles(env.config.dropDir, 20200101, 600, '2025-03-10');
    const runId = await dropsRun('2025-03-10 18:00:00');
    const rows = await metrics(runId);
    const byDepartment = new Map<string, { late: number; measured: number }>();
    for (const r of rows.filter((m) => m.measure === 'collect_late')) {
      const d = byDepartment.get(r.department) ?? { late: 0, measured: 0 };
      d.late += Number(r.value);
      d.measured += Number(r.base);
      byDepartment.set(r.department, d);
    }
    const rates = [...byDepartment.values()].filter((d) => d.measured > 0).map((d) => d.late / d.measured);
    expect(rates.length).toBeGreaterThanOrEqual(3);
    expect(rates.filter((r) => r > 0.5)).toHaveLength(1);
    expect(rates.filter((r) => r < 0.25).length).toBeGreaterThanOrEqual(2);
    const all = sum(rows, 'collect_late');
    expect(all.value / all.base).toBeGreaterThan(0.05);
    expect(all.value / all.base).toBeLessThan(0.4);
  });

  it('the demo’s platforms: decisions dated in the days before their SJC, a few past the deadline', () => {
    const now = at('2025-03-10 12:00:00');
    const store = createStore({
      records: 400,
      seed: 9,
      datasets: ['xzcf', 'xzxk'],
      fromMs: now - 30 * 86_400_000,
      toMs: now,
      producedBeforeSjc: true,
      invalidShare: 0,
    });
    let late = 0;
    let total = 0;
    for (const [dataset, field] of [
      ['xzcf', 'CF_JDRQ'],
      ['xzxk', 'XK_JDRQ'],
    ] as const) {
      for (const row of store.query(dataset, '2000-01-01 00:00:00', '2100-01-01 00:00:00', 1, 1000).rows) {
        const sjc = String(row.SJC).slice(0, 10);
        // dates as departments write them: 2025/02/07, 20250207, 2025年2月7日
        const [y, m, d] = /^\d{8}$/.test(String(row[field]))
          ? [String(row[field]).slice(0, 4), String(row[field]).slice(4, 6), String(row[field]).slice(6)]
          : (String(row[field]).match(/\d+/g) as string[]);
        const produced = `${y}-${m?.padStart(2, '0')}-${d?.padStart(2, '0')}`;
        expect(produced <= sjc).toBe(true);
        total++;
        if (calendar.workdaysBetween(produced, sjc) > 7) late++;
      }
    }
    expect(total).toBe(400);
    expect(late / total).toBeGreaterThan(0.02);
    expect(late / total).toBeLessThan(0.4);
  });
});
