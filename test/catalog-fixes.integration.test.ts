import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Warehouse } from '../lib/db.js';
import {
  AUTHORITIES,
  createRandom,
  generateEnterprises,
  generatePenalties,
  PENALTY_HEADER,
  writeDelimited,
} from '../pipelines/demo/generate.js';
import { listQuarantine } from '../pipelines/quarantine.js';
import { makeRegNo } from '../schemas/identifiers.js';
import { expectLedgerBalanced, makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

const REGULATOR = AUTHORITIES[0]!; // 界首市市场监督管理局 and its credit code, as the catalog has it

describe(`catalog defects of the monthly briefing (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  const incoming = () => join(env.config.dropDir, 'incoming');

  async function open(): Promise<void> {
    env = await makeEnv('catalogfix');
    db = await env.open();
    mkdirSync(incoming(), { recursive: true });
  }

  afterEach(async () => {
    await expectLedgerBalanced(db);
    await db.close();
    await env.cleanup();
  });

  it('loads a register of the seven columns with no row rejected, and matches the records after it', async () => {
    await open();
    const random = createRandom(12);
    const enterprises = generateEnterprises(random, 40);
    await writeDelimited(
      join(incoming(), '企业登记.csv'),
      ['统一社会信用代码', '企业名称', '注册号', '法定代表人', '成立日期', '登记状态', '住所'],
      enterprises.map((e, i) => [
        e.uscc,
        e.name,
        makeRegNo(`341282${String(10_000_000 + i)}`),
        e.legalRep,
        e.founded,
        i % 5 === 0 ? '注销' : '存续',
        e.address,
      ]),
    );
    const register = (await env.run(db)).summary.sources[0]!;
    expect([register.read, register.inserted, register.quarantined]).toEqual([40, 40, 0]);
    const [row] = await db.query<{ n: number; reg_no: number; status: number }>(
      `SELECT count(*)::int AS n, count(reg_no)::int AS reg_no, count(*) FILTER (WHERE status = '注销')::int AS status
       FROM enterprises`,
    );
    expect(row).toEqual({ n: 40, reg_no: 40, status: 8 });

    const plan = generatePenalties(random, enterprises, 30, { faultShare: 0, unknownShare: 0 });
    await writeDelimited(join(incoming(), '行政处罚.csv'), PENALTY_HEADER, plan.rows);
    const penalties = (await env.run(db)).summary.sources[0]!;
    expect([penalties.read, penalties.quarantined, penalties.unmatched]).toEqual([30, 0, 0]);
    const [matched] = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM records WHERE resource = 'xzcf' AND match_method IS NOT NULL`,
    );
    expect(matched!.n).toBe(30);
  });

  const subject = generateEnterprises(createRandom(3), 1)[0]!;

  it('gives a 2016 licence and its 2019 resend one natural key, and keeps its state', async () => {
    await open();
    await writeDelimited(
      join(incoming(), 'xk2016.csv'),
      [
        'XK_WSH',
        'XK_XMMC',
        'XK_SPLB',
        'XK_NR',
        'XK_XDR',
        'XK_XDR_SHXYM',
        'XK_JDRQ',
        'XK_JZQ',
        'XK_XZJG',
        'XK_ZT',
      ],
      [
        [
          '界市监许〔2017〕8号',
          '食品经营许可',
          '普通',
          '预包装食品销售',
          subject.name,
          subject.uscc,
          '2017-04-01',
          '2022-03-31',
          REGULATOR.name,
          '1', // 撤销: the licence was revoked
        ],
      ],
    );
    await env.run(db);
    const [first] = await db.query<{ natural_key: string; version: number; data: Record<string, string> }>(
      `SELECT natural_key, version, data FROM records WHERE resource = 'xzxk'`,
    );
    expect(first!.natural_key).toBe(`${REGULATOR.uscc}|界市监许〔2017〕8号|${subject.uscc}`);
    expect(first!.data).toMatchObject({ XK_ZT: '2', XK_XKJGDM: REGULATOR.uscc, XK_LYDWDM: REGULATOR.uscc });

    await writeDelimited(
      join(incoming(), 'xk2019.csv'),
      [
        'XK_XDR_MC',
        'XK_XDR_LB',
        'XK_XDR_SHXYM',
        'XK_FRDB',
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
      ],
      [
        [
          subject.name,
          '法人及非法人组织',
          subject.uscc,
          subject.legalRep,
          '食品经营许可',
          '界市监许〔2017〕8号',
          '普通',
          '预包装食品销售',
          '2017-04-01',
          '2017-04-01',
          '2022-03-31',
          REGULATOR.name,
          REGULATOR.uscc,
          '2',
          REGULATOR.name,
          REGULATOR.uscc,
        ],
      ],
    );
    const s = (await env.run(db)).summary.sources[0]!;
    expect(await listQuarantine(db, { limit: 5 })).toEqual([]);
    expect([s.inserted, s.updated]).toEqual([0, 1]);
    const records = await db.query<{ version: number; schema_version: string; data: Record<string, string> }>(
      `SELECT version, schema_version, data FROM records WHERE resource = 'xzxk'`,
    );
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ version: 2, schema_version: '2019', data: { XK_ZT: '2' } });
  });

  it('gives a 2016 penalty and its 2019 resend one natural key; a revoked 2016 penalty reads as revoked', async () => {
    await open();
    await writeDelimited(
      join(incoming(), 'cf2016.csv'),
      [
        'CF_WSH',
        'CF_CFMC',
        'CF_CFLB1',
        'CF_SY',
        'CF_YJ',
        'CF_XDR_MC',
        'CF_XDR_SHXYM',
        'CF_JG',
        'CF_JDRQ',
        'CF_XZJG',
        'CF_ZT',
      ],
      [
        [
          '界工商罚字〔2017〕12号',
          '销售不合格产品',
          '警告',
          '抽检不合格',
          '《产品质量法》第四十九条',
          subject.name,
          subject.uscc,
          '警告',
          '2017-03-01',
          '界首市工商行政管理局', // the regulator's name before the 2019 reform: an alias in the catalog
          '1', // 撤销
        ],
      ],
    );
    await env.run(db);
    const [first] = await db.query<{ natural_key: string; data: Record<string, string> }>(
      `SELECT natural_key, data FROM records WHERE resource = 'xzcf'`,
    );
    expect(first!.natural_key).toBe(`${REGULATOR.uscc}|界工商罚字〔2017〕12号|${subject.uscc}`);
    expect(first!.data).toMatchObject({ CF_ZT: '2', CF_CFJGDM: REGULATOR.uscc, CF_SJLYDM: REGULATOR.uscc });

    const header = [...PENALTY_HEADER];
    const row = header.map(() => '');
    const set = (title: string, value: string) => {
      const i = header.indexOf(title);
      expect(i, title).toBeGreaterThanOrEqual(0);
      row[i] = value;
    };
    set('行政相对人名称', subject.name);
    set('行政相对人类别', '法人及非法人组织');
    set('统一社会信用代码', subject.uscc);
    set('法定代表人', subject.legalRep);
    set('行政处罚决定书文号', '界工商罚字〔2017〕12号');
    set('违法行为类型', '销售不合格产品');
    set('违法事实', '抽检不合格');
    set('处罚依据', '《产品质量法》第四十九条');
    set('处罚类别', '警告');
    set('处罚内容', '警告');
    set('处罚决定日期', '2017-03-01');
    set('处罚有效期', '2018-03-01');
    set('处罚机关', REGULATOR.name);
    set('处罚机关统一社会信用代码', REGULATOR.uscc);
    set('数据来源单位', REGULATOR.name);
    set('数据来源单位统一社会信用代码', REGULATOR.uscc);
    await writeDelimited(join(incoming(), 'cf2019.csv'), header, [row]);
    const s = (await env.run(db)).summary.sources[0]!;
    expect(await listQuarantine(db, { limit: 5 })).toEqual([]);
    expect([s.inserted, s.updated]).toEqual([0, 1]);
    const records = await db.query<{ version: number }>(
      `SELECT version FROM records WHERE resource = 'xzcf'`,
    );
    expect(records).toEqual([{ version: 2 }]);
  });

  it('leaves the authority code empty when the 2016 authority is no department of the catalog', async () => {
    await open();
    await writeDelimited(
      join(incoming(), 'cf2016.csv'),
      [
        'CF_WSH',
        'CF_CFMC',
        'CF_CFLB1',
        'CF_SY',
        'CF_YJ',
        'CF_XDR_MC',
        'CF_XDR_SHXYM',
        'CF_JG',
        'CF_JDRQ',
        'CF_XZJG',
        'CF_ZT',
      ],
      [
        [
          '界工商罚字〔2017〕13号',
          '销售不合格产品',
          '警告',
          '抽检不合格',
          '《产品质量法》第四十九条',
          subject.name,
          subject.uscc,
          '警告',
          '2017-03-01',
          '阜阳市工商行政管理局', // the prefecture's: not the city's regulator, whatever the substring
          '0', // 正常
        ],
      ],
    );
    await env.run(db);
    const [record] = await db.query<{ natural_key: string; data: Record<string, string> }>(
      `SELECT natural_key, data FROM records WHERE resource = 'xzcf'`,
    );
    expect(record!.natural_key).toBe(`|界工商罚字〔2017〕13号|${subject.uscc}`);
    expect(record!.data.CF_ZT).toBe('1');
    expect(record!.data.CF_CFJGDM).toBeUndefined();
  });
});
