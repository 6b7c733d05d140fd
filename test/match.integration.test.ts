import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Warehouse } from '../lib/db.js';
import { matchBatch } from '../pipelines/match/match-batch.js';
import { normalizeName } from '../pipelines/match/name.js';
import { USCC_PLACEHOLDER } from '../schemas/identifiers.js';
import {
  drop,
  enterprise,
  orgOf,
  PENALTY_2016_HEADER,
  PENALTY_2019_HEADER,
  PERSON_ID,
  penalty2016,
  penalty2019,
  REGISTER_HEADER,
  registerRows,
} from './fixtures/match/data.js';
import { DIFFERENT_NAMES, SAME_NAMES } from './fixtures/match/names.js';
import { expectLedgerBalanced, makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

const E = {
  hualian: enterprise('界首市华联超市有限公司'),
  guangwu: enterprise('界首市光武食品有限责任公司'),
  xinhua1: enterprise('界首市新华书店有限公司'),
  xinhua2: enterprise('界首市新华书店有限责任公司'),
  renamed: enterprise('界首市旧名商贸有限公司'),
  nanjing: enterprise('南京金陵电子有限公司', '320102'),
  misnamed: enterprise('界首市真名机械有限公司'),
  baichuan: enterprise('界首市百川电器有限公司'),
  orgOnly: enterprise('界首市淮北纺织厂'),
  yingnan: enterprise('界首市颍南（集团）建材有限公司'),
  late: enterprise('界首市后来商贸有限公司'),
  lateName: enterprise('界首市迟到建材有限公司'),
};
const outside = enterprise('合肥包河物流有限公司', '340111');

interface Row {
  natural_key: string;
  subject_name: string;
  uscc: string | null;
  match_method: string | null;
  match_score: number | null;
  match_flags: string[];
}

describe(`matching beyond the exact credit code (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  const byName = async (name: string): Promise<Row> => {
    const rows = await db.query<Row>(
      `SELECT natural_key, subject_name, uscc, match_method, match_score, match_flags FROM records
       WHERE resource = 'xzcf' AND subject_name = $1`,
      [name],
    );
    expect(rows, name).toHaveLength(1);
    return rows[0] as Row;
  };
  const method = async (name: string) => {
    const r = await byName(name);
    return { method: r.match_method, uscc: r.uscc, score: r.match_score, flags: r.match_flags };
  };
  const ledger = async (runId: number) =>
    (
      await db.query<{ unmatched: string }>(`SELECT unmatched FROM source_runs WHERE run_id = $1`, [runId])
    )[0];

  beforeAll(async () => {
    env = await makeEnv('match');
    db = await env.open();
  });

  afterAll(async () => {
    await expectLedgerBalanced(db);
    await db.close();
    await env.cleanup();
  });

  it('normalises names in SQL exactly as the TypeScript normaliser does', async () => {
    const names: string[] = [];
    for (const [a, b] of [...SAME_NAMES, ...DIFFERENT_NAMES]) names.push(a, b);
    names.push('Ａｂｃ＇"＂（）ｘ', '  ', '股份有限责任公司');
    for (const name of names) {
      const [row] = await db.query<{ norm: string | null }>('SELECT guiji_name_norm($1) AS norm', [name]);
      expect(row?.norm, name).toBe(normalizeName(name));
    }
  });

  it('files records by registration number, organisation code and normalised name; queues the uncertain', async () => {
    await drop(
      env.config.dropDir,
      '企业登记.csv',
      REGISTER_HEADER,
      registerRows(Object.values(E).slice(0, 10)),
    );
    await drop(env.config.dropDir, '行政处罚2019.csv', PENALTY_2019_HEADER, [
      penalty2019('1', { name: E.hualian.name, uscc: E.hualian.uscc }),
      penalty2019('2', {
        name: '界首市华联超市（有限公司）',
        uscc: USCC_PLACEHOLDER,
        regNo: E.hualian.regNo,
      }),
      penalty2019('3', { name: E.nanjing.name, uscc: E.nanjing.uscc }),
      penalty2019('4', { name: '界首市别的名字机械有限公司', uscc: E.misnamed.uscc }),
      penalty2019('5', { name: E.late.name, uscc: E.late.uscc }),
      penalty2019('6', { name: '王小明', idNumber: PERSON_ID }),
      penalty2019('7', { name: outside.name, uscc: outside.uscc }),
      // a registration number unknown to the register, an organisation code it knows
      penalty2019('8', {
        name: '界首市百川电器',
        uscc: USCC_PLACEHOLDER,
        regNo: '341282000999999',
        orgCode: orgOf(E.baichuan.uscc),
      }),
    ]);
    await drop(env.config.dropDir, '行政处罚2016.csv', PENALTY_2016_HEADER, [
      penalty2016('1', { name: E.orgOnly.name, orgCode: orgOf(E.orgOnly.uscc) }),
      penalty2016('2', { name: '界首市 光武食品有限公司' }),
      penalty2016('3', { name: '界首市颍南(集团)建材有限公司' }),
      penalty2016('4', { name: '界首市新华书店有限公司' }),
      penalty2016('5', { name: '界首市百川电气有限公司' }),
      penalty2016('6', { name: E.lateName.name }),
      penalty2016('7', { name: E.renamed.name }),
      // a branch is another subject than its parent: a candidate for review, never filed as the parent
      penalty2016('9', { name: '界首市华联超市有限公司光武分公司' }),
    ]);
    const { summary } = await env.run(db);
    expect(summary.status).toBe('succeeded');
    const source = summary.sources[0]!;
    expect(source.quarantined).toBe(0);
    expect(source.inserted).toBe(10 + 8 + 8);

    expect(await method(E.hualian.name)).toEqual({
      method: 'uscc',
      uscc: E.hualian.uscc,
      score: 1,
      flags: [],
    });
    // the placeholder with a registration number: filed under the enterprise's code
    expect(await method('界首市华联超市（有限公司）')).toEqual({
      method: 'reg_no',
      uscc: E.hualian.uscc,
      score: 1,
      flags: [],
    });
    expect(await method('界首市百川电器')).toEqual({
      method: 'org_code',
      uscc: E.baichuan.uscc,
      score: 1,
      flags: ['name_mismatch'],
    });
    expect(await method(E.orgOnly.name)).toEqual({
      method: 'org_code',
      uscc: E.orgOnly.uscc,
      score: 1,
      flags: [],
    });
    // registered in Nanjing: matched, and out of region
    expect(await method(E.nanjing.name)).toEqual({
      method: 'uscc',
      uscc: E.nanjing.uscc,
      score: 1,
      flags: ['out_of_region'],
    });
    // registered in Hefei (3401, same province, another city), unknown to the register
    expect(await method(outside.name)).toEqual({
      method: null,
      uscc: outside.uscc,
      score: null,
      flags: ['out_of_region'],
    });
    expect(await method('界首市别的名字机械有限公司')).toEqual({
      method: 'uscc',
      uscc: E.misnamed.uscc,
      score: 1,
      flags: ['name_mismatch'],
    });
    // name variants: spaces and 有限责任公司, half-width brackets, the name as registered
    expect(await method('界首市 光武食品有限公司')).toEqual({
      method: 'name',
      uscc: E.guangwu.uscc,
      score: 1,
      flags: [],
    });
    expect(await method('界首市颍南(集团)建材有限公司')).toMatchObject({
      method: 'name',
      uscc: E.yingnan.uscc,
    });
    expect(await method(E.renamed.name)).toMatchObject({ method: 'name', uscc: E.renamed.uscc });
    // unmatched: an unknown code, a natural person, two uncertain names, a name nobody holds yet
    for (const name of [
      E.late.name,
      '王小明',
      '界首市新华书店有限公司',
      '界首市百川电气有限公司',
      E.lateName.name,
      '界首市华联超市有限公司光武分公司',
    ]) {
      expect(await method(name), name).toMatchObject({ method: null, score: null });
    }
    expect(source.unmatched).toBe(7);
    expect(Number((await ledger(summary.runId))?.unmatched)).toBe(7);

    const queue = await db.query<{
      natural_key: string;
      name: string;
      status: string;
      candidates: unknown[];
    }>(`SELECT natural_key, name, status, candidates FROM match_queue ORDER BY name`);
    expect(queue.map((q) => [q.name, q.status])).toEqual(
      [
        ['界首市新华书店有限公司', 'waiting'],
        ['界首市百川电气有限公司', 'waiting'],
        ['界首市华联超市有限公司光武分公司', 'waiting'],
        [E.lateName.name, 'unmatched'],
      ].sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1)),
    );
    const ambiguous = queue.find((q) => q.name === '界首市新华书店有限公司')!;
    expect(ambiguous.candidates).toEqual([
      expect.objectContaining({
        uscc: [E.xinhua1.uscc, E.xinhua2.uscc].sort()[0],
        score: 1,
        why: 'same-name',
      }),
      expect.objectContaining({
        uscc: [E.xinhua1.uscc, E.xinhua2.uscc].sort()[1],
        score: 1,
        why: 'same-name',
      }),
    ]);
    const branch = queue.find((q) => q.name === '界首市华联超市有限公司光武分公司')!;
    // 10 bigrams shared of 14 + 10
    expect(branch.candidates).toEqual([expect.objectContaining({ uscc: E.hualian.uscc, score: 0.833 })]);
    const close = queue.find((q) => q.name === '界首市百川电气有限公司')!;
    expect(close.candidates).toEqual([
      {
        uscc: E.baichuan.uscc,
        name: E.baichuan.name,
        matchedName: E.baichuan.name,
        score: 0.8,
        why: 'similar-name',
      },
    ]);
  });

  it('keeps former names matchable, re-matches earlier records when their enterprise arrives, follows renames', async () => {
    await drop(env.config.dropDir, '企业登记-变更.csv', REGISTER_HEADER, [
      ...registerRows([
        { ...E.renamed, name: '界首市新名商贸有限公司' },
        { ...E.misnamed, name: '界首市别的名字机械有限公司' },
        E.late,
        E.lateName,
      ]),
    ]);
    await drop(env.config.dropDir, '行政处罚-续.csv', PENALTY_2016_HEADER, [
      penalty2016('8', { name: '界首市旧名商贸有限公司' }),
    ]);
    const { summary } = await env.run(db);
    expect(summary.status).toBe('succeeded');
    expect(summary.sources[0]!.unmatched).toBe(0);

    const names = await db.query<{ name: string }>(
      `SELECT name FROM enterprise_names WHERE uscc = $1 ORDER BY name`,
      [E.renamed.uscc],
    );
    expect(names.map((n) => n.name)).toEqual(['界首市新名商贸有限公司', '界首市旧名商贸有限公司'].sort());
    // the former name, in a record of this run and in the record filed under it before
    const former = await db.query<Row>(
      `SELECT natural_key, subject_name, uscc, match_method, match_score, match_flags FROM records
       WHERE resource = 'xzcf' AND subject_name = '界首市旧名商贸有限公司' ORDER BY natural_key`,
    );
    expect(former.map((r) => [r.match_method, r.uscc, r.match_score, r.match_flags])).toEqual([
      ['name', E.renamed.uscc, 1, []],
      ['name', E.renamed.uscc, 1, []],
    ]);
    // the unknown code and the unknown name of the first run, now in the register
    expect(await method(E.late.name)).toEqual({ method: 'uscc', uscc: E.late.uscc, score: 1, flags: [] });
    expect(await method(E.lateName.name)).toEqual({
      method: 'name',
      uscc: E.lateName.uscc,
      score: 1,
      flags: [],
    });
    // the register now carries the record's name: no longer a mismatch
    expect(await method('界首市别的名字机械有限公司')).toMatchObject({ method: 'uscc', flags: [] });
    const queue = await db.query<{ name: string }>(`SELECT name FROM match_queue ORDER BY name`);
    expect(queue.map((q) => q.name).sort()).toEqual(
      ['界首市新华书店有限公司', '界首市百川电气有限公司', '界首市华联超市有限公司光武分公司'].sort(),
    );
  });

  it('looks no further than the code when every record of a batch has one: a single read, no write', async () => {
    const records = await db.query<{ resource: string; natural_key: string; uscc: string }>(
      `SELECT resource, natural_key, uscc FROM records WHERE resource = 'xzcf' AND match_method = 'uscc' ORDER BY natural_key`,
    );
    expect(records.length).toBe(4);
    const statements: string[] = [];
    const left = await db.transaction((tx) =>
      matchBatch(
        {
          query: (sql, params) => {
            statements.push(sql.trim().split(/\s+/)[0] as string);
            return tx.query(sql, params);
          },
          copyText: tx.copyText,
        },
        1_000_000,
        records.map((r) => ({ resource: r.resource, naturalKey: r.natural_key, uscc: r.uscc })),
        env.catalog,
        0,
      ),
    );
    expect(left).toBe(0);
    // one resource: one SELECT, nothing to write
    expect(statements).toEqual(['SELECT']);
  });

  it('counts unchanged records filed by legacy id or name as matched, waiting ones as unmatched', async () => {
    // the first run's files again, as other bytes: every row unchanged
    await drop(
      env.config.dropDir,
      '行政处罚2016-重发.csv',
      PENALTY_2016_HEADER,
      [
        penalty2016('1', { name: E.orgOnly.name, orgCode: orgOf(E.orgOnly.uscc) }),
        penalty2016('2', { name: '界首市 光武食品有限公司' }),
        penalty2016('3', { name: '界首市颍南(集团)建材有限公司' }),
        penalty2016('4', { name: '界首市新华书店有限公司' }),
        penalty2016('5', { name: '界首市百川电气有限公司' }),
        penalty2016('6', { name: E.lateName.name }),
        penalty2016('7', { name: E.renamed.name }),
        penalty2016('9', { name: '界首市华联超市有限公司光武分公司' }),
      ],
      'utf8-bom',
    );
    const { summary } = await env.run(db);
    const source = summary.sources[0]!;
    expect(source.unchanged).toBe(8);
    expect(source.unmatched).toBe(3);
    expect(await method('界首市 光武食品有限公司')).toMatchObject({ method: 'name', uscc: E.guangwu.uscc });
  });
});
