import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWarehouse, type Warehouse } from '../lib/db.js';
import type { QualityReport } from '../pipelines/report/data.js';
import { writeReports } from '../pipelines/report/index.js';
import { migrate } from '../pipelines/warehouse/migrate.js';
import { checkIdCard, makeIdCard } from '../schemas/identifiers.js';
import {
  authority,
  company,
  LEGAL_REP,
  OPERATOR,
  PERSONS,
  personalData,
  scanRows,
  shop,
  writePersonsDrop,
} from './fixtures/persons/data.js';
import { makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

/**
 * Issue 14, item 4: nothing public holds a natural person's full ID number or full name. The fixture loads
 * natural persons (2019 and 2016 penalties, a licence, a person barred from a trade), a legal person and an
 * individual business with their legal representatives; then every column of every public view, the overdue
 * lists and the report are scanned for valid resident ID numbers and for the persons' full names.
 */

describe(`what the public sees of a person (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  let report: QualityReport;
  let reportJson: string;
  let publicViews: string[];

  beforeAll(async () => {
    env = await makeEnv('public-masking', { GUIJI_TODAY: '2024-06-01' });
    db = await env.open();
    await writePersonsDrop(env.config.dropDir);
    const { summary } = await env.run(db);
    expect(summary.status).toBe('succeeded');
    expect(summary.sources.reduce((n, s) => n + s.quarantined, 0)).toBe(0);
    const written = await writeReports(db, env.catalog, {
      outDir: join(env.dir, 'reports'),
      formats: ['json', 'html'],
    });
    report = written.report;
    reportJson = readFileSync(written.files.json as string, 'utf8');
    publicViews = (
      await db.query<{ table_name: string }>(
        `SELECT table_name::text FROM information_schema.views
         WHERE table_schema = $1 AND table_name LIKE 'v\\_%\\_public' ORDER BY table_name`,
        [db.schema],
      )
    ).map((v) => v.table_name);
  }, 240_000);

  afterAll(async () => {
    await db?.close();
    await env?.cleanup();
  });

  it('loads the persons: their ID numbers and names are in the warehouse, unmasked', async () => {
    const rows = await db.query<{ natural_key: string; subject_name: string }>(
      `SELECT natural_key, subject_name FROM records WHERE resource IN ('xzcf', 'xzxk') ORDER BY natural_key`,
    );
    expect(rows.map((r) => r.natural_key)).toContain(
      `${authority.uscc}|界市监罚〔2024〕2号|${PERSONS.li.id}`,
    );
    expect(rows.map((r) => r.subject_name)).toEqual(
      expect.arrayContaining([PERSONS.li.name, PERSONS.zhou.name, PERSONS.wu.name]),
    );
  });

  it('no column of any public view holds a full ID number or a natural person full name', async () => {
    expect(publicViews).toEqual(expect.arrayContaining(['v_hyjr_public', 'v_xzcf_public', 'v_xzxk_public']));
    const findings: string[] = [];
    for (const view of publicViews)
      findings.push(...scanRows(view, await db.query(`SELECT * FROM "${view}"`)));
    expect(findings).toEqual([]);
  });

  it('shows the persons masked, and the legal representatives of legal persons and individual businesses', async () => {
    const rows = await db.query<Record<string, string | null>>(
      `SELECT natural_key, subject_name, cf_xdr_mc, cf_xdr_zjhm, cf_frdb, cf_fr_zjhm FROM v_xzcf_public ORDER BY natural_key`,
    );
    const byName = new Map(rows.map((r) => [r.subject_name, r]));
    const masked = (id: string) => `${id.slice(0, 6)}********${id.slice(-4)}`;
    const li = byName.get('李**');
    expect(rows.map((r) => r.subject_name).sort()).toEqual(
      ['李**', '陈**', company.name, shop.name].sort(), // the 2014 penalty's period is over
    );
    expect(byName.get('陈**')?.natural_key).toBe(
      `${authority.uscc}|界市监罚〔2024〕4号|${masked(PERSONS.chen.id)}`,
    );
    expect(li).toMatchObject({
      natural_key: `${authority.uscc}|界市监罚〔2024〕2号|${masked(PERSONS.li.id)}`,
      cf_xdr_mc: '李**',
      cf_xdr_zjhm: masked(PERSONS.li.id),
    });
    // the 2016 penalty: no category, an ID number and no code of an organisation
    const [zhou] = await db.query<{ natural_key_public: string; subject_name_public: string }>(
      `SELECT natural_key_public, subject_name_public FROM common_records WHERE natural_key LIKE '%2014%'`,
    );
    expect(zhou?.subject_name_public).toBe('周**');
    expect(zhou?.natural_key_public).toMatch(/\|界工商罚字〔2014〕7号\|341282\*{8}\d{3}[\dX]$/);
    expect(byName.get(company.name)).toMatchObject({
      cf_frdb: LEGAL_REP.name,
      cf_fr_zjhm: masked(LEGAL_REP.id),
      natural_key: `${authority.uscc}|界市监罚〔2024〕1号|${company.uscc}`,
    });
    expect(byName.get(shop.name)).toMatchObject({ cf_frdb: OPERATOR });
    const [licence] = await db.query<Record<string, string>>(
      `SELECT subject_name, xk_xdr_mc, natural_key FROM v_xzxk_public`,
    );
    expect(licence).toMatchObject({ subject_name: '吴**', xk_xdr_mc: '吴**' });
    const [ban] = await db.query<Record<string, string>>(`SELECT hyjr_ryxm, hyjr_ryzjhm FROM v_hyjr_public`);
    expect(ban).toEqual({ hyjr_ryxm: '郑**', hyjr_ryzjhm: masked(PERSONS.zheng.id) });
    const [register] = await db.query<Record<string, string>>(`SELECT qy_fddbr FROM v_enterprise_public`);
    expect(register?.qy_fddbr).toBe(LEGAL_REP.name);
  });

  it('the overdue lists and the report hold the persons masked', async () => {
    const overdue = await db.query<Record<string, unknown>>(
      'SELECT * FROM quality_overdue ORDER BY natural_key',
    );
    expect(overdue.map((o) => o.subject_name)).toEqual(expect.arrayContaining(['李**', '吴**']));
    expect(scanRows('quality_overdue', overdue)).toEqual([]);
    expect(report.overdue.rows.map((o) => o.subjectName)).toEqual(expect.arrayContaining(['李**', '吴**']));
    expect(personalData(reportJson)).toEqual([]);
  });
});

describe(`the masking functions, and the overdue lists kept from before them (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;

  beforeAll(async () => {
    env = await makeEnv('masking-upgrade');
    db = await openWarehouse({
      home: env.config.home,
      databaseUrl: env.config.databaseUrl,
      schema: env.config.dbSchema,
    });
    await migrate(db.knex, db.schema, { to: '009_typed_warehouse' });
    const [run] = await db.query<{ id: string }>(
      `INSERT INTO runs (status) VALUES ('succeeded') RETURNING id`,
    );
    await db.query(
      `INSERT INTO quality_runs (run_id, kind, run_started_at, calendar, ms) VALUES ($1, 'run', now(), '', 0)`,
      [run!.id],
    );
    await db.query(
      `INSERT INTO quality_overdue (run_id, resource, department, natural_key, uscc, subject_name, produced_date,
                                    received_date, workdays, collect_late, publish_late)
       VALUES ($1, 'xzcf', 'scjgj', $2, NULL, $3, '2024-03-01', '2024-06-01', 60, true, true),
              ($1, 'xzcf', 'scjgj', $4, $5, $6, '2024-03-01', '2024-06-01', 60, true, true)`,
      [
        run!.id,
        `${authority.uscc}|界市监罚〔2024〕2号|${PERSONS.li.id}`,
        PERSONS.li.name,
        `${authority.uscc}|界市监罚〔2024〕1号|${company.uscc}`,
        company.uscc,
        company.name,
      ],
    );
    await migrate(db.knex, db.schema);
  }, 120_000);

  afterAll(async () => {
    await db?.close();
    await env?.cleanup();
  });

  it('masks the ID number and the name of a person in the lists stored before, and leaves a company as it was', async () => {
    const rows = await db.query<{ natural_key: string; subject_name: string }>(
      'SELECT natural_key, subject_name FROM quality_overdue ORDER BY natural_key',
    );
    expect(rows).toEqual([
      { natural_key: `${authority.uscc}|界市监罚〔2024〕1号|${company.uscc}`, subject_name: company.name },
      {
        natural_key: `${authority.uscc}|界市监罚〔2024〕2号|${PERSONS.li.id.slice(0, 6)}********${PERSONS.li.id.slice(-4)}`,
        subject_name: '李**',
      },
    ]);
  });

  it('tells a resident ID by its shape and check character as the identifiers module does', async () => {
    const values = [
      ...Object.values(PERSONS).map((p) => p.id),
      LEGAL_REP.id,
      `${PERSONS.li.id.slice(0, 17)}${PERSONS.li.id.endsWith('1') ? '2' : '1'}`, // wrong check character
      makeIdCard('34128219801301001'), // month 13
      company.uscc,
      authority.uscc,
      '3412821980010100',
      '',
    ];
    const rows = await db.query<{ value: string; valid: boolean }>(
      'SELECT v AS value, guiji_is_resident_id(v) AS valid FROM unnest($1::text[]) v',
      [values],
    );
    expect(rows.map((r) => r.valid)).toEqual(values.map((v) => checkIdCard(v).valid && v.length === 18));
    expect(rows.filter((r) => r.valid)).toHaveLength(6);
  });

  it('masks every part of a key equal to the subject, names, identifiers and ID numbers in free text by their rule', async () => {
    const [row] = await db.query<Record<string, string>>(
      `SELECT guiji_mask_key_part('a|a|b|a', 'a', 'X') AS repeated, guiji_mask_key_part('ab|b', 'b', 'X') AS inside,
              guiji_mask_key_part('a|b', NULL, 'X') AS none, guiji_mask_name('欧阳娜娜') AS long,
              guiji_mask_name('张') AS one, guiji_mask_id('1234567890') AS short, guiji_mask_id($1) AS id,
              guiji_mask_ids_in_text('号码' || $1 || '，代码' || $2 || '，' || $1 || 'X') AS text`,
      [PERSONS.li.id, company.uscc],
    );
    expect(row).toEqual({
      repeated: 'X|X|b|X',
      inside: 'ab|X',
      none: 'a|b',
      long: '欧**',
      one: '*',
      short: '**********',
      id: `${PERSONS.li.id.slice(0, 6)}********${PERSONS.li.id.slice(-4)}`,
      // an ID number inside free text is masked; a credit code and a longer run of characters are not
      text: `号码${PERSONS.li.id.slice(0, 6)}********${PERSONS.li.id.slice(-4)}，代码${company.uscc}，${PERSONS.li.id}X`,
    });
  });
});
