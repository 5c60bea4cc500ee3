// Random picker (`skein.io/load-balancer: random`): each pick chooses an endpoint at random in
// proportion to its weight. Built once per change of the eligible set; pick() is O(1) by
// Vose's alias method and allocation-free.
import type { Picker, PickResult, Target } from '../dataplane.js';
import { makeTarget, type Random, type WeightedAddress } from './round-robin.js';

/** How many fresh draws a pick with `exclude` makes before walking the list (retries only). */
const EXCLUDE_DRAWS = 4;

/** Weighted random choice over a fixed list of targets. Immutable: replace it when endpoints change. */
export class RandomPicker implements Picker {
  readonly size: number;
  /** Distinct targets, in the order given. */
  readonly targets: readonly Target[];
  private readonly results: readonly PickResult[];
  private readonly table: AliasTable | undefined;

  /** `endpoints` must not be empty; use `FailPicker` for an empty set. */
  constructor(endpoints: readonly WeightedAddress[], private readonly random: Random) {
    if (endpoints.length === 0) throw new Error('skein: RandomPicker needs at least one endpoint');
    this.targets = endpoints.map((e) => makeTarget(e.address, e.port));
    this.results = this.targets.map((target) => Object.freeze({ type: 'pick' as const, target }));
    this.size = this.targets.length;
    const weights = endpoints.map((e) => Math.max(1, e.weight));
    this.table = weights.every((w) => w === weights[0]) ? undefined : aliasTable(weights);
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
    const scaled = this.random() * this.size;
    const column = Math.min(this.size - 1, Math.floor(scaled));
    if (this.table === undefined) return column;
    // One random number serves both steps: its integer part picks the column, its fraction the side.
    return scaled - column < this.table.probability[column]! ? column : this.table.alias[column]!;
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
