// Shared by the picker tests: a seeded random source (mulberry32), endpoint lists and a
// helper that unwraps a pick. Not built into dist (tsconfig excludes *.test-helper.ts).
import type { PickResult } from '../dataplane.js';
import type { WeightedAddress } from './round-robin.js';

/** Deterministic random in [0, 1) from a 32-bit seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The picked target's key; throws on a failed pick. */
export function keyOf(result: PickResult): string {
  if (result.type !== 'pick') throw new Error(`expected a pick, got ${result.error.code}`);
  return result.target.key;
}

/** `n` endpoints on 10.0.x.y:80, weights from `weight(i)` (1 by default). */
export const eps = (n: number, weight = (_i: number) => 1): WeightedAddress[] =>
  Array.from({ length: n }, (_, i) => ({ address: `10.0.${i >> 8}.${i & 255}`, port: 80, weight: weight(i) }));
