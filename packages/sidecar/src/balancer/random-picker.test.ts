import { describe, expect, it } from 'vitest';
import type { PickResult } from '../dataplane.js';
import { aliasTable, RandomPicker } from './random-picker.js';
import type { WeightedAddress } from './round-robin.js';

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function keyOf(result: PickResult): string {
  if (result.type !== "pick") throw new Error(`expected a pick, got ${result.error.code}`);
  return result.target.key;
}

const eps = (n: number, weight = (_i: number) => 1): WeightedAddress[] =>
  Array.from({ length: n }, (_, i) => ({ address: `10.0.${i >> 8}.${i & 255}`, port: 80, weight: weight(i) }));

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
