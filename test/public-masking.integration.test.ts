import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWarehouse, type Warehouse } from '../lib/db.js';
import { AUTHORITIES } from '../pipelines/demo/generate.js';
import type { QualityReport } from '../pipelines/report/data.js';
import { writeReports } from '../pipelines/report/index.js';
import { migrate } from '../pipelines/warehouse/migrate.js';
import { checkIdCard, isUscc, makeIdCard, makeUscc } from '../schemas/identifiers.js';
import { drop, enterprise, REGISTER_HEADER, registerRows } from './fixtures/match/data.js';
import { makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

/**
 * Issue 14, item 4: nothing public holds a natural person's full ID number or full name. The fixture loads
 * natural persons (2019 and 2016 penalties, a licence, a person barred from a trade), a legal person and an
 * individual business with their legal representatives; then every column of every public view, the overdue
 * lists and the report are scanned for valid resident ID numbers and for the persons' full names.
 */

const authority = AUTHORITIES[0] as (typeof AUTHORITIES)[number];
const company = enterprise('界首市宏达机械有限公司');
// an individual business (registration authority 9, category 2), its operator a person
const shop = { name: '界首市孙记小吃店', uscc: makeUscc('92341282MA2T4B5X1') };

/** An ID number that also passes as a credit code (authority 3, category 4): a department may put it there. */
function idPassingAsUscc(): string {
  for (let serial = 100; ; serial++) {
    const id = makeIdCard(`34128219850606${serial}`);
    if (isUscc(id)) return id;
  }
}
const PERSONS = {
  li: { name: '李秀英', id: makeIdCard('34128219750315002') },
  zhou: { name: '周国华', id: makeIdCard('34128219620708003') },
  wu: { name: '吴桂兰', id: makeIdCard('34128219881120004') },
  zheng: { name: '郑卫东', id: makeIdCard('34128219900505006') },
  chen: { name: '陈冬梅', id: idPassingAsUscc() },
};
/** The legal representatives: public (STANDARDS.md §8), their ID numbers not. */
const LEGAL_REP = { name: '王建国', id: makeIdCard('34128219700101005') };
const OPERATOR = '孙丽';

const PENALTY_HEADER = [
  'CF_XDR_MC',
  'CF_XDR_LB',
  'CF_XDR_SHXYM',
  'CF_XDR_ZJLX',
  'CF_XDR_ZJHM',
  'CF_FRDB',
  'CF_FR_ZJLX',
  'CF_FR_ZJHM',
  'CF_WSH',
  'CF_WFXW',
  'CF_SY',
  'CF_YJ',
  'CF_CFLB',
  'CF_NR',
  'CF_JDRQ',
  'CF_YXQ',
  'CF_CFJG',
  'CF_CFJGDM',
  'CF_SJLY',
  'CF_SJLYDM',
];

function penalty(
  doc: string,
  who: { name: string; category: string; uscc?: string; id?: string; rep?: string; facts?: string },
) {
  return [
    who.name,
    who.category,
    who.uscc ?? '',
    who.id ? '身份证' : '',
    who.id ?? '',
    who.rep ?? '',
    who.rep === LEGAL_REP.name ? '身份证' : '',
    who.rep === LEGAL_REP.name ? LEGAL_REP.id : '',
    `界市监罚〔2024〕${doc}号`,
    '虚假宣传',
    who.facts ?? '在网店页面发布虚假宣传内容',
    '《中华人民共和国反不正当竞争法》第二十条',
    '警告',
    '警告',
    '2024-03-01',
    '2025-03-01',
    authority.name,
    authority.uscc,
    authority.name,
    authority.uscc,
  ];
}

const PENALTY_2016_HEADER = [
  'CF_WSH',
  'CF_CFMC',
  'CF_CFLB1',
  'CF_SY',
  'CF_YJ',
  'CF_XDR_MC',
  'CF_XDR_SFZ',
  'CF_JG',
  'CF_JDRQ',
  'CF_XZJG',
];

const LICENCE_HEADER = [
  'XK_XDR_MC',
  'XK_XDR_LB',
  'XK_XDR_ZJLX',
  'XK_XDR_ZJHM',
  'XK_XKWS',
  'XK_WSH',
  'XK_XKLB',
  'XK_NR',
  'XK_JDRQ',
  'XK_YXQZ',
  'XK_YXQZI',
  'XK_XKJG',
  'XK_XKJGDM',
  'XK_ZT',
  'XK_LYDW',
  'XK_LYDWDM',
];

const BAN_HEADER = [
  'HYJR_MC',
  'HYJR_SHXYM',
  'HYJR_RYXM',
  'HYJR_RYZJHM',
  'HYJR_JRHY',
  'HYJR_JRYY',
  'HYJR_JRYJ',
  'HYJR_JRQXZ',
  'HYJR_JRQXZI',
  'HYJR_WSH',
  'HYJR_JDRQ',
  'HYJR_JDJG',
];

/** Every valid 18-character resident ID number inside `text` (any 18 characters in a row, check character included). */
function residentIds(text: string): string[] {
  const found: string[] = [];
  for (let i = 0; i + 18 <= text.length; i++) {
    const candidate = text.slice(i, i + 18);
    if (/^\d{17}[\dX]$/.test(candidate) && checkIdCard(candidate).valid) found.push(candidate);
  }
  return found;
}

/** What in `text` is a person's full ID number or a natural person's full name. */
function personalData(text: string): string[] {
  const names = Object.values(PERSONS)
    .map((p) => p.name)
    .filter((name) => text.includes(name));
  return [...residentIds(text), ...names];
}

/** `where: value` for every value of `rows` that holds personal data. */
function scanRows(where: string, rows: readonly Record<string, unknown>[]): string[] {
  const findings: string[] = [];
  for (const row of rows)
    for (const [column, value] of Object.entries(row)) {
      if (value === null || value === undefined) continue;
      const text =
        value instanceof Date
          ? value.toISOString()
          : typeof value === 'object'
            ? JSON.stringify(value)
            : String(value);
      for (const hit of personalData(text)) findings.push(`${where}.${column}: ${hit} in ${text}`);
    }
  return findings;
}

describe(`what the public sees of a person (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  let report: QualityReport;
  let reportJson: string;
  let publicViews: string[];

  beforeAll(async () => {
    env = await makeEnv('public-masking');
    db = await env.open();
    const dir = env.config.dropDir;
    await drop(
      dir,
      '企业登记.csv',
      REGISTER_HEADER,
      registerRows([company]).map((r) => r.map((v) => (v === '张伟' ? LEGAL_REP.name : v))),
    );
    await drop(dir, '行政处罚2019.csv', PENALTY_HEADER, [
      penalty('1', {
        name: company.name,
        category: '法人及非法人组织',
        uscc: company.uscc,
        rep: LEGAL_REP.name,
      }),
      penalty('2', {
        name: PERSONS.li.name,
        category: '自然人',
        id: PERSONS.li.id,
        facts: `当事人（公民身份号码${PERSONS.li.id}）在网店页面发布虚假宣传内容`,
      }),
      // a person whose ID number went into the credit-code column too, where it passes the code's check
      penalty('4', {
        name: PERSONS.chen.name,
        category: '自然人',
        uscc: PERSONS.chen.id,
        id: PERSONS.chen.id,
      }),
      penalty('3', { name: shop.name, category: '个体工商户', uscc: shop.uscc, rep: OPERATOR }),
    ]);
    await drop(dir, '行政处罚2016.csv', PENALTY_2016_HEADER, [
      [
        '界工商罚字〔2014〕7号',
        '销售不合格产品',
        '警告',
        '销售的产品经抽检不合格',
        '《中华人民共和国产品质量法》第四十九条',
        PERSONS.zhou.name,
        PERSONS.zhou.id,
        '警告',
        '2014-11-20',
        '界首市工商行政管理局',
      ],
    ]);
    await drop(dir, '行政许可.csv', LICENCE_HEADER, [
      [
        PERSONS.wu.name,
        '自然人',
        '身份证',
        PERSONS.wu.id,
        '食品经营许可',
        '界市监许〔2024〕9号',
        '普通',
        '预包装食品销售',
        '2024-04-01',
        '2024-04-01',
        '2029-03-31',
        authority.name,
        authority.uscc,
        '1',
        authority.name,
        authority.uscc,
      ],
    ]);
    await drop(dir, '行业禁入.csv', BAN_HEADER, [
      [
        company.name,
        company.uscc,
        PERSONS.zheng.name,
        PERSONS.zheng.id,
        '食品生产经营',
        '生产经营有毒有害食品',
        '《中华人民共和国食品安全法》第一百三十五条',
        '2024-05-01',
        '2029-04-30',
        '界市监禁〔2024〕2号',
        '2024-05-01',
        authority.name,
      ],
    ]);
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
      ['李**', '周**', '陈**', company.name, shop.name].sort(),
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
    expect(byName.get('周**')?.natural_key).toMatch(/\|界工商罚字〔2014〕7号\|341282\*{8}\d{3}[\dX]$/);
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
