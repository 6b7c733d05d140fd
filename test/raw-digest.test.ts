import { describe, expect, it } from 'vitest';
import { rawDigest } from '../pipelines/validate/raw-digest.js';

/** The raw digest tells "the very row the stored record came from" from any other row. */
describe('rawDigest', () => {
  const fp = 'fingerprint-a';

  it('is the same for the same cells, 22 base64url characters', () => {
    const row = ['界首市华联超市有限公司', '91341282MA2N0X0X0X', 12.5, null, ''];
    expect(rawDigest(fp, row)).toBe(rawDigest(fp, [...row]));
    expect(rawDigest(fp, row)).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('differs when a cell, a boundary between cells, a type or the fingerprint differs', () => {
    const digests = [
      rawDigest(fp, ['ab', 'c']),
      rawDigest(fp, ['a', 'bc']),
      rawDigest(fp, ['abc', null]),
      rawDigest(fp, ['abc', '']),
      rawDigest(fp, ['abc']),
      rawDigest(fp, ['1']),
      rawDigest(fp, [1]),
      rawDigest(fp, [true]),
      rawDigest(fp, ['true']),
      rawDigest(fp, [new Date(Date.UTC(2024, 0, 1))]),
      rawDigest(fp, [String(Date.UTC(2024, 0, 1))]),
      rawDigest('fingerprint-b', ['ab', 'c']),
      rawDigest(fp, ['a\u0000', 'c']),
      rawDigest(fp, ['ab', 'd']),
    ];
    expect(new Set(digests).size).toBe(digests.length);
  });

  it('spreads one changed character over the whole digest', () => {
    const base = Array.from({ length: 20 }, (_, i) => `界首市第${i}号字段的内容`);
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      for (const ch of ['0', '1', '号', 'x']) {
        const row = [...base];
        row[i] = `${row[i]}${ch}`;
        seen.add(rawDigest(fp, row));
      }
    }
    // 80 distinct rows, 80 distinct digests, and no two share their first 8 characters (48 bits)
    expect(seen.size).toBe(80);
    expect(new Set([...seen].map((d) => d.slice(0, 8))).size).toBe(80);
  });
});
