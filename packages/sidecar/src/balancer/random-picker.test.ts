import { describe, expect, it } from 'vitest';
import { aliasTable, RandomPicker } from './random-picker.js';
import { seeded, keyOf, eps } from './picker-test-kit.test-helper.js';

function histogram(picker: RandomPicker, n: number): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 0; i < n; i++) { const key = keyOf(picker.pick()); out.set(key, (out.get(key) ?? 0) + 1); }
  return out;
}

describe('RandomPicker', () => {
  it('spreads picks about uniformly over equal weights', () => {
    const counts = histogram(new RandomPicker(eps(10), seeded(42)), 100_000);
    expect(counts.size).toBe(10);
    for (const c of counts.values()) expect(Math.abs(c - 10_000)).toBeLessThan(400);
  });

  it('picks in proportion to weights (alias method)', () => {
    const endpoints = eps(4, (i) => [1, 2, 3, 10][i]!);
    const counts = histogram(new RandomPicker(endpoints, seeded(3)), 160_000);
    endpoints.forEach((e) => {
      const expected = (160_000 * e.weight) / 16;
      expect(Math.abs(counts.get(`${e.address}:80`)! - expected) / expected).toBeLessThan(0.04);
    });
  });

  it('builds an exact alias table', () => {
    const weights = [1, 2, 3, 10];
    const { probability, alias } = aliasTable(weights);
    const mass = [0, 0, 0, 0];
    for (let i = 0; i < 4; i++) { mass[i]! += probability[i]! / 4; mass[alias[i]!]! += (1 - probability[i]!) / 4; }
    mass.forEach((m, i) => expect(m).toBeCloseTo(weights[i]! / 16, 12));
  });

  it('maps the edges of random() into range', () => {
    const endpoints = eps(3, (i) => i + 1);
    for (const r of [0, 0.5, 0.9999999999999999]) expect(() => keyOf(new RandomPicker(endpoints, () => r).pick())).not.toThrow();
  });
});
