import { describe, expect, it } from 'vitest';
import { NAME_RULES as SQL_NAME_RULES } from '../migrations/006_matching.js';
import { best, type Candidate } from '../pipelines/match/candidates.js';
import { NAME_RULES, NAME_THRESHOLD, nameSimilarity, normalizeName } from '../pipelines/match/name.js';
import { DIFFERENT_NAMES, SAME_NAMES } from './fixtures/match/names.js';

describe('the name normaliser', () => {
  it.each(SAME_NAMES)('"%s" is "%s" (%s)', (a, b) => {
    expect(normalizeName(a)).toBe(normalizeName(b));
  });

  it.each(DIFFERENT_NAMES)('"%s" is not "%s" (%s)', (a, b) => {
    expect(normalizeName(a)).not.toBe(normalizeName(b));
  });

  it('writes names one way', () => {
    expect(normalizeName('界首市 华联超市（有限合伙）')).toBe('界首市华联超市有限合伙');
    expect(normalizeName('Ａbc·德（界首）有限责任公司')).toBe('ABC德界首有限公司');
    expect(normalizeName('  （ ）  ')).toBeNull();
    expect(normalizeName(null)).toBeNull();
  });

  it('has the same rules as the SQL twin of migration 006', () => {
    expect(SQL_NAME_RULES.dropped).toBe(NAME_RULES.dropped);
    expect(SQL_NAME_RULES.forms).toEqual(NAME_RULES.forms);
  });
});

describe('name similarity (character-bigram Dice)', () => {
  it('is 1 for equal names, symmetric, and 0 for disjoint ones', () => {
    expect(nameSimilarity('界首市华联超市', '界首市华联超市')).toBe(1);
    expect(nameSimilarity('甲乙丙', '丁戊己')).toBe(0);
    expect(nameSimilarity('甲', '乙')).toBe(0);
    const a = '界首市华联超市有限公司';
    const b = '界首市华连超市有限公司';
    expect(nameSimilarity(a, b)).toBe(nameSimilarity(b, a));
  });

  it('scores the typical near misses above the threshold and unrelated names of one city below', () => {
    // one character differs: 8 of 10 bigrams shared
    expect(nameSimilarity('界首市华联超市有限公司', '界首市华连超市有限公司')).toBeCloseTo(0.8, 5);
    // the region prefix left out: 7 shared of 7 + 10
    expect(nameSimilarity('华联超市有限公司', '界首市华联超市有限公司')).toBeCloseTo(14 / 17, 5);
    expect(nameSimilarity('安徽华联股份有限公司', '安徽华联有限公司')).toBeGreaterThanOrEqual(NAME_THRESHOLD);
    // same city, same legal form, another business
    expect(nameSimilarity('界首市华联超市有限公司', '界首市百货大楼有限公司')).toBeLessThan(NAME_THRESHOLD);
  });

  it('keeps one candidate per enterprise, its best name, best first', () => {
    const c = (uscc: string, score: number, why: Candidate['why']): Candidate => ({
      uscc,
      name: uscc,
      matchedName: uscc,
      score,
      why,
    });
    const kept = best([
      c('B', 0.8, 'similar-former-name'),
      c('A', 0.9, 'similar-name'),
      c('B', 0.8, 'similar-name'),
      c('B', 0.7, 'similar-name'),
    ]);
    expect(kept.map((k) => [k.uscc, k.score, k.why])).toEqual([
      ['A', 0.9, 'similar-name'],
      ['B', 0.8, 'similar-name'],
    ]);
  });
});
