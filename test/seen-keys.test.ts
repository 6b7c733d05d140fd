import { describe, expect, it } from 'vitest';
import { SeenKeys } from '../pipelines/validate/seen-keys.js';

describe('SeenKeys', () => {
  it('tells a new key from one seen before, and where it was first seen, across growth', () => {
    const seen = new SeenKeys(16);
    for (let i = 0; i < 50_000; i++) expect(seen.firstSeen(`key-${i}`, i + 2)).toBe(-1);
    expect(seen.size).toBe(50_000);
    expect(seen.firstSeen('key-0', 99)).toBe(2);
    expect(seen.firstSeen('key-49999', 99)).toBe(50_001);
    expect(seen.firstSeen('key-50000', 7)).toBe(-1);
    expect(seen.size).toBe(50_001);
  });
});
