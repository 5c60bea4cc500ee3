import { describe, expect, it } from 'vitest';
import { hash32, hashKey } from './hash-key.js';

describe('hashKey (MurmurHash3 x86_32 over UTF-16 code units)', () => {
  it('is stable: these values are a compatibility promise (rings survive restarts)', () => {
    expect([hashKey(''), hashKey('a'), hashKey('ab'), hashKey('10.0.0.1'), hash32('a', 1)]).toMatchInlineSnapshot(`
      [
        0,
        1867108634,
        374890698,
        3185433682,
        3484942910,
      ]
    `);
  });

  it('returns unsigned 32-bit integers and separates near keys', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) {
      const h = hashKey(`user-${i}`);
      expect(Number.isInteger(h) && h >= 0 && h < 2 ** 32).toBe(true);
      seen.add(h);
    }
    expect(seen.size).toBe(10_000);
    expect(hash32('key', 0)).not.toBe(hash32('key', 1));
  });

  it('spreads the top bits evenly', () => {
    const buckets = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) buckets[hashKey(`10.1.${i >> 8}.${i & 255}`) >>> 28]!++;
    for (const b of buckets) expect(Math.abs(b - 1000)).toBeLessThan(150);
  });
});
