import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listReviews, type Review } from '../pipelines/match/review.js';
import { USCC_PLACEHOLDER } from '../schemas/identifiers.js';
import {
  drop,
  enterprise,
  PENALTY_2016_HEADER,
  PENALTY_2019_HEADER,
  penalty2016,
  penalty2019,
  REGISTER_HEADER,
  registerRows,
} from './fixtures/match/data.js';
import { runCli } from './helpers/cli.js';
import { expectLedgerBalanced, makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

const twinA = enterprise('界首市新华书店有限公司');
const twinB = enterprise('界首市新华书店有限责任公司');
const baichuan = enterprise('界首市百川电器有限公司');
const dongfang = enterprise('界首市东方红农机有限公司');

const AMBIGUOUS = '界首市新华书店有限公司';
const CLOSE = '界首市百川电气有限公司';
const REJECTED = '界首市东方红农具有限公司';

describe(`guiji review list | accept | reject (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  const cli = (...args: string[]) => runCli(['review', ...args], env.env);
  const list = async (): Promise<Review[]> => {
    const r = await cli('list', '--json');
    expect(r.code, r.stderr).toBe(0);
    const reviews = r.stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Review);
    // oldest first: the ids grow
    expect(reviews.map((x) => x.id)).toEqual(reviews.map((x) => x.id).sort((a, b) => a - b));
    return reviews;
  };
  /** The waiting records of the first run, by name. */
  const waiting = async (): Promise<[Review, Review, Review]> => {
    const reviews = await list();
    const of = (name: string) => reviews.find((r) => r.name === name) as Review;
    return [of(AMBIGUOUS), of(CLOSE), of(REJECTED)];
  };
  /** The records by subject name, and what is waiting, read in one opening of the warehouse. */
  const state = async () => {
    const db = await env.open();
    try {
      const rows = await db.query<{
        subject_name: string;
        match_method: string | null;
        uscc: string | null;
        match_score: number | null;
      }>(`SELECT subject_name, match_method, uscc, match_score FROM records WHERE resource = 'xzcf'`);
      const records = new Map(rows.map(({ subject_name, ...r }) => [subject_name, r]));
      return { record: (name: string) => records.get(name), waiting: await listReviews(db, env.catalog) };
    } finally {
      await db.close();
    }
  };
  const run = async (files: () => Promise<void>) => {
    await files();
    const db = await env.open();
    try {
      const { summary } = await env.run(db);
      await expectLedgerBalanced(db);
      return summary.sources[0]!;
    } finally {
      await db.close();
    }
  };
  const penalties = (encoding: 'utf8' | 'utf8-bom', extra = '') =>
    drop(
      env.config.dropDir,
      `行政处罚${extra}.csv`,
      PENALTY_2016_HEADER,
      [AMBIGUOUS, CLOSE, REJECTED].map((name, i) => penalty2016(String(i + 1), { name })),
      encoding,
    );

  beforeAll(async () => {
    env = await makeEnv('review');
    const source = await run(async () => {
      await drop(
        env.config.dropDir,
        '企业登记.csv',
        REGISTER_HEADER,
        registerRows([twinA, twinB, baichuan, dongfang]),
      );
      await penalties('utf8');
    });
    expect(source.unmatched).toBe(3);
  });

  afterAll(async () => {
    await env.cleanup();
  });

  it('lists the waiting records with their candidates, as text and as JSON', async () => {
    const reviews = await list();
    expect(reviews.map((r) => r.name).sort()).toEqual([AMBIGUOUS, CLOSE, REJECTED].sort());
    const [ambiguous, close, rejected] = await waiting();
    expect(ambiguous.resource).toBe('xzcf');
    expect(ambiguous.candidates.map((c) => [c.uscc, c.score, c.why])).toEqual(
      [twinA.uscc, twinB.uscc].sort().map((u) => [u, 1, 'same-name']),
    );
    expect(close.candidates).toEqual([
      {
        uscc: baichuan.uscc,
        name: baichuan.name,
        matchedName: baichuan.name,
        score: 0.8,
        why: 'similar-name',
      },
    ]);
    expect(rejected.candidates.map((c) => c.uscc)).toEqual([dongfang.uscc]);
    expect(rejected.candidates[0]!.score).toBeGreaterThanOrEqual(0.75);
    expect(rejected.candidates[0]!.score).toBeLessThan(1);

    const text = await cli('list');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`#${ambiguous.id}  xzcf  ${AMBIGUOUS}`);
    expect(text.stdout).toContain(`${baichuan.uscc}  0.800  ${baichuan.name}  (similar name)`);
    expect(text.stdout).toContain(`${twinB.uscc}  1.000  ${twinB.name}  (same name)`);
  }, 300_000);

  it('refuses unclear decisions with exit 2 and a reason', async () => {
    const [ambiguous] = await waiting();
    const several = await cli('accept', String(ambiguous.id));
    expect(several.code).toBe(2);
    expect(several.stderr).toMatch(/2 candidates: choose one with --uscc/);
    const unknown = await cli('accept', String(ambiguous.id), '--uscc', dongfang.uscc.replace(/.$/, 'X'));
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/is not an enterprise of the register/);
    const missing = await cli('reject', '999999');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no review 999999/);
    const now = await state();
    expect(now.record(AMBIGUOUS)).toMatchObject({ match_method: null, uscc: null });
    expect(now.waiting).toHaveLength(3);
  }, 300_000);

  it('accepts with --uscc or the only candidate, rejects, and the next runs keep every decision', async () => {
    const [ambiguous, close, rejected] = await waiting();
    const a = await cli('accept', String(ambiguous.id), '--uscc', twinB.uscc, '--json');
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout)).toEqual({
      id: ambiguous.id,
      resource: 'xzcf',
      naturalKey: ambiguous.naturalKey,
      status: 'accepted',
      uscc: twinB.uscc,
      enterprise: twinB.name,
      score: 1,
    });
    const b = await cli('accept', String(close.id));
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toContain(`filed under ${baichuan.uscc} ${baichuan.name} (manual, score 0.8)`);
    const c = await cli('reject', String(rejected.id), '--json');
    expect(c.code, c.stderr).toBe(0);
    expect(JSON.parse(c.stdout)).toMatchObject({ id: rejected.id, status: 'rejected', uscc: null });

    let now = await state();
    expect(now.record(AMBIGUOUS)).toEqual({ match_method: 'manual', uscc: twinB.uscc, match_score: 1 });
    expect(now.record(CLOSE)).toMatchObject({ match_method: 'manual', uscc: baichuan.uscc });
    expect(now.record(CLOSE)?.match_score).toBeCloseTo(0.8, 5);
    expect(now.record(REJECTED)).toEqual({ match_method: null, uscc: null, match_score: null });
    expect(now.waiting).toEqual([]);
    expect((await cli('list')).stdout).toContain('nothing waiting for review');

    // the same rows again (other bytes): unchanged, the rejected one not queued again, and counted unmatched
    const again = await run(() => penalties('utf8-bom', '-重发'));
    expect(again.unchanged).toBe(3);
    expect(again.unmatched).toBe(1);
    expect((await state()).waiting).toEqual([]);

    // a new version of the accepted records (another decision date): still filed as the person decided
    const changed = await run(() =>
      drop(
        env.config.dropDir,
        '行政处罚-更正.csv',
        PENALTY_2016_HEADER,
        [AMBIGUOUS, CLOSE, REJECTED].map((name, i) => {
          const row = penalty2016(String(i + 1), { name });
          row[8] = '2014-11-21';
          return row;
        }),
      ),
    );
    expect(changed.updated).toBe(3);
    expect(changed.unmatched).toBe(1);
    now = await state();
    expect(now.record(AMBIGUOUS)).toEqual({ match_method: 'manual', uscc: twinB.uscc, match_score: 1 });
    expect(now.record(CLOSE)).toMatchObject({ match_method: 'manual', uscc: baichuan.uscc });
    expect(now.record(REJECTED)).toEqual({ match_method: null, uscc: null, match_score: null });
    expect(now.waiting).toEqual([]);
  }, 300_000);

  it('files a placeholder record whose registration number several enterprises share only by a decision', async () => {
    // a data error in the register: two enterprises with one registration number
    const shared = { ...enterprise('界首市甲乙丙贸易有限公司'), regNo: twinA.regNo };
    const source = await run(async () => {
      await drop(env.config.dropDir, '企业登记-补.csv', REGISTER_HEADER, registerRows([shared]));
      await drop(env.config.dropDir, '行政处罚2019.csv', PENALTY_2019_HEADER, [
        penalty2019('9', { name: '界首市某某商店', uscc: USCC_PLACEHOLDER, regNo: twinA.regNo }),
      ]);
    });
    expect(source.unmatched).toBe(1);
    const [waiting] = (await state()).waiting;
    expect(waiting?.regNo).toBe(twinA.regNo);
    expect(waiting?.candidates.map((c) => [c.uscc, c.why])).toEqual(
      [twinA.uscc, shared.uscc].sort().map((u) => [u, 'reg-no']),
    );
    const r = await cli('reject', String(waiting!.id));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('left unmatched (rejected)');
    expect((await state()).waiting).toEqual([]);
  }, 300_000);
});
