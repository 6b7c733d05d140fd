import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCatalog } from '../catalog/load.js';
import { loadPublicationRules, type PublicationRule, publicationProblems } from '../catalog/publication.js';
import { validateCatalog } from '../catalog/validate.js';
import { addMonths, decide, type RecordFacts } from '../pipelines/publication/decide.js';

const root = join(import.meta.dirname, '..');
const catalog = loadCatalog(join(root, 'catalog'), join(root, 'schemas'));
const rules = loadPublicationRules(join(root, 'catalog'), catalog);
const rule = (id: string) => rules.resources.get(id) as PublicationRule;

function facts(
  resource: string,
  fields: Record<string, string | null>,
  extra: Partial<RecordFacts> = {},
): RecordFacts {
  return { recordId: 1, resource, version: 1, producedDate: null, department: null, fields, ...extra };
}

const penalty = (fields: Record<string, string | null>, extra: Partial<RecordFacts> = {}) =>
  facts('xzcf', { CF_CFLB: '01', ...fields }, extra);

describe('publication periods (catalog/publication.json)', () => {
  it('adds months as the calendar has them', () => {
    expect(addMonths('2015-01-31', 1)).toBe('2015-02-28');
    expect(addMonths('2024-01-31', 1)).toBe('2024-02-29');
    expect(addMonths('2019-11-15', 3)).toBe('2020-02-15');
    expect(addMonths('2020-02-29', 12)).toBe('2021-02-28');
  });

  it('gives every public resource a rule with its source and no shared resource one', () => {
    for (const resource of catalog.resources.values())
      expect(rules.resources.has(resource.id), resource.id).toBe(resource.disclosure === 'public');
    expect(publicationProblems(rules.resources, catalog)).toEqual([]);
    const broken = new Map(rules.resources);
    broken.set('nsxx', { kind: 'open' });
    broken.set('xzxk', { kind: 'licence', until: 'XK_NOPE' });
    expect(publicationProblems(broken, catalog)).toEqual([
      'xzxk.until：XK_NOPE 不是当前字段集的日期字段',
      'nsxx 是共享资源，不得公示',
    ]);
  });

  it('is checked by catalog validate, naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'guiji-pubrules-'));
    try {
      cpSync(join(root, 'catalog'), dir, { recursive: true });
      const file = join(dir, 'publication.json');
      const raw = JSON.parse(readFileSync(file, 'utf8')) as { resources: Record<string, unknown> };
      raw.resources.nsxx = { kind: 'open' };
      writeFileSync(file, JSON.stringify(raw));
      expect(validateCatalog(dir, join(root, 'schemas')).problems).toEqual([
        { file, path: '$', message: 'nsxx 是共享资源，不得公示' },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('527号: a general penalty 3 months to 1 year, a serious one 6 months to 3 years, from the decision date', () => {
    const general = decide(penalty({ CF_JDRQ: '2020-05-10' }), rule('xzcf'), '2021-05-09');
    expect(general).toMatchObject({
      state: 'public',
      severity: 'general',
      publicUntil: '2021-05-09',
      repairFrom: '2020-08-10',
    });
    expect(general.basis).toContain('527号');
    expect(decide(penalty({ CF_JDRQ: '2020-05-10' }), rule('xzcf'), '2021-05-10')).toMatchObject({
      state: 'withdrawn',
      reason: 'expired',
    });
    // several kinds in one decision: the longest (a serious kind makes the decision serious)
    const serious = decide(penalty({ CF_JDRQ: '2020-05-10', CF_CFLB: '01;04' }), rule('xzcf'), '2021-05-10');
    expect(serious).toMatchObject({
      state: 'public',
      severity: 'serious',
      publicUntil: '2023-05-09',
      repairFrom: '2020-11-10',
    });
    // a large fine is serious by the catalog's local threshold
    expect(
      decide(penalty({ CF_JDRQ: '2020-05-10', CF_CFLB: '02', CF_NR_FK: '12.5' }), rule('xzcf'), '2021-06-01')
        .severity,
    ).toBe('serious');
  });

  it('the 2023 rules: 3 months to 3 years, at least 1 year for work safety (by department or by the facts)', () => {
    const plain = decide(penalty({ CF_JDRQ: '2024-02-01' }), rule('xzcf'), '2024-06-01');
    expect(plain).toMatchObject({ publicUntil: '2027-01-31', repairFrom: '2024-05-01' });
    expect(plain.basis).toContain('第58号');
    const safety = decide(
      penalty({ CF_JDRQ: '2024-02-01' }, { department: '界首市应急管理局' }),
      rule('xzcf'),
      '2024-06-01',
    );
    expect(safety.repairFrom).toBe('2025-02-01');
    const fire = decide(
      penalty({ CF_JDRQ: '2024-02-01', CF_SY: '消防通道堵塞' }),
      rule('xzcf'),
      '2024-06-01',
    );
    expect(fire.repairFrom).toBe('2025-02-01');
    expect(fire.why.join('\n')).toContain('属消防领域');
  });

  it("takes the record's own 公示截止期, and a person's severity over the catalog's", () => {
    const own = decide(
      penalty({ CF_JDRQ: '2024-02-01', CF_GSJZQ: '2024-12-31' }),
      rule('xzcf'),
      '2025-01-01',
    );
    expect(own).toMatchObject({ state: 'withdrawn', reason: 'expired', publicUntil: '2024-12-31' });
    const judged = decide(penalty({ CF_JDRQ: '2020-05-10' }), rule('xzcf'), '2021-06-01', {
      severity: 'serious',
    });
    expect(judged).toMatchObject({ state: 'public', severity: 'serious' });
  });

  it('refuses early repair of a serious revocation of licence, as the catalog marks it', () => {
    const d = decide(penalty({ CF_JDRQ: '2024-02-01', CF_CFLB: '05' }), rule('xzcf'), '2025-01-01');
    expect(d).toMatchObject({ severity: 'serious', repairable: false });
  });

  it('withdraws a revoked penalty (CF_ZT 2) and keeps it, before anything else', () => {
    const d = decide(penalty({ CF_JDRQ: '2024-02-01', CF_ZT: '2' }), rule('xzcf'), '2024-03-01');
    expect(d).toMatchObject({ state: 'withdrawn', reason: 'revoked' });
  });

  it('publishes a list entry until its removal and a licence while valid', () => {
    const listed = facts('jyyc', { JYYC_LRRQ: '2023-04-01', JYYC_YCRQ: '2024-04-10' });
    expect(decide(listed, rule('jyyc'), '2024-04-09')).toMatchObject({
      state: 'public',
      publicUntil: '2024-04-09',
    });
    expect(decide(listed, rule('jyyc'), '2024-04-10')).toMatchObject({
      state: 'withdrawn',
      reason: 'removed',
    });
    const lhcj = facts('lhcj', { LHCJ_LRRQ: '2023-04-01', LHCJ_YXQZ: '2025-03-31', LHCJ_YCRQ: null });
    expect(decide(lhcj, rule('lhcj'), '2025-04-01')).toMatchObject({ state: 'withdrawn', reason: 'expired' });
    const licence = facts('xzxk', { XK_JDRQ: '2024-03-01', XK_YXQZI: '2029-02-28', XK_ZT: '1' });
    expect(decide(licence, rule('xzxk'), '2029-02-28').state).toBe('public');
    expect(decide(licence, rule('xzxk'), '2029-03-01')).toMatchObject({
      state: 'withdrawn',
      reason: 'expired',
    });
    expect(
      decide({ ...licence, fields: { ...licence.fields, XK_ZT: '2' } }, rule('xzxk'), '2025-01-01').reason,
    ).toBe('revoked');
    expect(decide(licence, rule('xzxk'), '2024-02-29')).toMatchObject({
      state: 'pending',
      reason: 'not-yet',
    });
  });

  it('publishes the register from its approval date, without end', () => {
    const d = decide(
      facts('enterprise', {}, { producedDate: '2010-01-05' }),
      rule('enterprise'),
      '2026-01-01',
    );
    expect(d).toMatchObject({ state: 'public', publicFrom: '2010-01-05', publicUntil: null });
  });

  it('orders what people decided: objection upheld > repair > open objection > the period', () => {
    const f = penalty({ CF_JDRQ: '2024-02-01' });
    const open = {
      id: 3,
      status: 'open' as const,
      outcome: null,
      correctedVersion: null,
      deadline: '2024-03-01',
    };
    expect(decide(f, rule('xzcf'), '2024-03-01', { objection: open }).state).toBe('suspended');
    expect(
      decide(f, rule('xzcf'), '2024-06-01', { objection: open, repair: { id: 1, date: '2024-05-02' } })
        .reason,
    ).toBe('repaired');
    const corrected = {
      ...open,
      status: 'resolved' as const,
      outcome: 'corrected' as const,
      correctedVersion: 1,
    };
    expect(decide(f, rule('xzcf'), '2024-03-01', { objection: corrected }).reason).toBe(
      'objection-corrected',
    );
    expect(decide({ ...f, version: 2 }, rule('xzcf'), '2024-03-01', { objection: corrected }).state).toBe(
      'public',
    );
  });
});
