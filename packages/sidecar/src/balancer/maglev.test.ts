import { describe, expect, it } from 'vitest';
import { hashKey } from './hash-key.js';
import { MAGLEV_TABLE_SIZE, MaglevPicker } from './maglev.js';
import { seeded, keyOf, eps } from './picker-test-kit.test-helper.js';

const requestHashes = Array.from({ length: 10_000 }, (_, i) => hashKey(`user-${i}`));
const assign = (picker: MaglevPicker) => requestHashes.map((h) => keyOf(picker.pick(undefined, h)));
const moved = (a: string[], b: string[]) => a.filter((key, i) => key !== b[i]).length / a.length;
const slots = (picker: MaglevPicker) => {
  const out = new Array<number>(picker.size).fill(0);
  for (const owner of picker.table) out[owner]!++;
  return out;
};

describe('MaglevPicker', () => {
  it('has a table of 65537 slots, each of N endpoints owning about 65537/N', () => {
    for (const n of [3, 7, 100]) {
      const picker = new MaglevPicker(eps(n), seeded(1));
      expect(picker.table.length).toBe(MAGLEV_TABLE_SIZE);
      for (const count of slots(picker)) expect(Math.abs(count - MAGLEV_TABLE_SIZE / n)).toBeLessThanOrEqual(1);
    }
  });

  it('honors weights in the table', () => {
    const picker = new MaglevPicker(eps(3, (i) => [1, 2, 5][i]!), seeded(1));
    slots(picker).forEach((count, i) => expect(Math.abs(count / MAGLEV_TABLE_SIZE - [1, 2, 5][i]! / 8)).toBeLessThan(0.001));
  });

  it('sends the same hash to the same endpoint, in any input order', () => {
    const endpoints = eps(8);
    const first = assign(new MaglevPicker(endpoints, seeded(1)));
    expect(assign(new MaglevPicker(endpoints, seeded(2)))).toEqual(first);
    expect(assign(new MaglevPicker([...endpoints].reverse(), seeded(3)))).toEqual(first);
  });

  it.each([3, 10, 25])('removing one of %i endpoints moves few keys (< 2/N)', (n) => {
    const endpoints = eps(n);
    expect(moved(assign(new MaglevPicker(endpoints, seeded(1))), assign(new MaglevPicker(endpoints.slice(1), seeded(1))))).toBeLessThan(2 / n);
  });

  it.each([3, 10])('adding one to %i endpoints moves few keys (< 2/(N+1))', (n) => {
    expect(moved(assign(new MaglevPicker(eps(n), seeded(1))), assign(new MaglevPicker(eps(n + 1), seeded(1))))).toBeLessThan(2 / (n + 1));
  });

  it('refuses a table size that is not prime', () => {
    expect(() => new MaglevPicker(eps(2), seeded(1), 65536)).toThrow(/not prime/);
  });
});
