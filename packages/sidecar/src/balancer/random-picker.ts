// Random picker (`skein.io/load-balancer: random`): each pick chooses an endpoint at random in
// proportion to its weight. Built once per change of the eligible set; pick() is O(1) by
// Vose's alias method and allocation-free.
import type { Picker, PickResult, Target } from '../dataplane.js';
import { FastRandom } from './fast-random.js';
import { makeTarget, type Random, type WeightedAddress } from './round-robin.js';

/** Probability 1 in the integer threshold table: 31-bit draws are always below it. */
const THRESHOLD_ONE = 0x8000_0000;

/** How many fresh draws a pick with `exclude` makes before walking the list (retries only). */
const EXCLUDE_DRAWS = 4;

/** Weighted random choice over a fixed list of targets. Immutable: replace it when endpoints change. */
export class RandomPicker implements Picker {
  readonly size: number;
  /** Distinct targets, in the order given. */
  readonly targets: readonly Target[];
  private readonly results: readonly PickResult[];
  /** Alias of each column; undefined when all weights are equal (a uniform index suffices). */
  private readonly alias: Uint32Array | undefined;
  /** Column i keeps i when a 31-bit draw is below `threshold[i]` (its probability × 2^31). */
  private readonly threshold: Uint32Array | undefined;
  /** Per-pick randomness, seeded from `random` at build time: allocation-free. */
  private readonly rng: FastRandom;

  /** `endpoints` must not be empty; use `FailPicker` for an empty set. `random` seeds the picker's generator. */
  constructor(endpoints: readonly WeightedAddress[], random: Random) {
    if (endpoints.length === 0) throw new Error('skein: RandomPicker needs at least one endpoint');
    this.targets = endpoints.map((e) => makeTarget(e.address, e.port, e));
    this.results = this.targets.map((target) => Object.freeze({ type: 'pick' as const, target }));
    this.size = this.targets.length;
    const weights = endpoints.map((e) => Math.max(1, e.weight));
    this.rng = new FastRandom(random);
    if (weights.every((w) => w === weights[0])) return;
    const table = aliasTable(weights);
    this.alias = table.alias;
    this.threshold = Uint32Array.from(table.probability, (p) => Math.min(THRESHOLD_ONE, Math.round(p * THRESHOLD_ONE)));
  }

  /** A random target by weight; with `exclude`, one whose key is not in it while any remains. `hash` is ignored. */
  pick(exclude?: ReadonlySet<string>, _hash?: number): PickResult {
    let index = this.draw();
    if (exclude === undefined || exclude.size === 0 || !exclude.has(this.targets[index]!.key)) return this.results[index]!;
    for (let attempt = 1; attempt < EXCLUDE_DRAWS; attempt++) {
      index = this.draw();
      if (!exclude.has(this.targets[index]!.key)) return this.results[index]!;
    }
    // Most targets are excluded: walk on from the last draw (O(n), retries only).
    for (let step = 1; step < this.size; step++) {
      const other = (index + step) % this.size;
      if (!exclude.has(this.targets[other]!.key)) return this.results[other]!;
    }
    return this.results[index]!;
  }

  private draw(): number {
    const column = this.rng.index(this.size);
    if (this.threshold === undefined) return column;
    // A second draw picks the side, against the column's integer threshold.
    return this.rng.fraction31() < this.threshold[column]! ? column : this.alias![column]!;
  }
}

/** Vose's alias table: column i yields i with `probability[i]`, else `alias[i]`. */
export interface AliasTable {
  readonly probability: Float64Array;
  readonly alias: Uint32Array;
}

/** Builds the alias table of `weights` (all > 0) in O(n). */
export function aliasTable(weights: readonly number[]): AliasTable {
  const n = weights.length;
  const total = weights.reduce((a, b) => a + b, 0);
  const scaled = Float64Array.from(weights, (w) => (w * n) / total);
  const probability = new Float64Array(n);
  const alias = new Uint32Array(n);
  const small: number[] = [];
  const large: number[] = [];
  for (let i = 0; i < n; i++) (scaled[i]! < 1 ? small : large).push(i);
  while (small.length > 0 && large.length > 0) {
    const less = small.pop()!;
    const more = large.pop()!;
    probability[less] = scaled[less]!;
    alias[less] = more;
    scaled[more] = scaled[more]! + scaled[less]! - 1;
    (scaled[more]! < 1 ? small : large).push(more);
  }
  // What remains is 1 up to rounding error.
  for (const i of large) probability[i] = 1;
  for (const i of small) probability[i] = 1;
  return { probability, alias };
}
