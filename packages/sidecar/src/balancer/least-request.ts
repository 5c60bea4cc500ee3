// Least-request picker (`skein.io/load-balancer: least-request`): the power of two choices
// (Mitzenmacher; Envoy's LEAST_REQUEST with choice_count 2): draw two distinct endpoints at
// random and take the one with fewer outstanding requests per unit of weight. The endpoint
// set is immutable; only the outstanding counts move, in an Int32Array the picker owns.
// pick(), started() and finished() are O(1) and allocation-free.
import type { Picker, PickResult, Target } from '../dataplane.js';
import { FastRandom } from './fast-random.js';
import { makeTarget, type Random, type WeightedAddress } from './round-robin.js';

/**
 * Power-of-two-choices over outstanding-request counts.
 *
 * Contract with the caller (proxy or library), one attempt at a time:
 * 1. `pick()` only reads the counts: picking without sending (listing endpoints) is harmless.
 * 2. Call `started(target)` when an attempt is sent to the picked target, and `finished(target)`
 *    exactly once when that attempt ends, whatever the outcome (response complete, error,
 *    timeout, abort). Call both on the picker the target came from: a picker replaced by one
 *    built with `previous` forwards both calls to its newest successor, so in-flight attempts
 *    keep counting correctly across endpoint changes and the new picker starts with the
 *    outstanding counts of the endpoints it kept.
 * 3. Targets are matched by `key`; a target the (newest) picker does not have is ignored, and
 *    a count never goes below zero.
 */
export class LeastRequestPicker implements Picker {
  readonly size: number;
  /** Distinct targets, in the order given. */
  readonly targets: readonly Target[];
  private readonly results: readonly PickResult[];
  private readonly weights: Float64Array;
  private readonly indexByKey: ReadonlyMap<string, number>;
  /** Outstanding attempts per target index. */
  private readonly outstanding: Int32Array;
  /** Set when a newer picker took over the counts; calls are forwarded to it. */
  private successor: LeastRequestPicker | undefined;
  /** Per-pick randomness, seeded from `random` at build time: allocation-free. */
  private readonly rng: FastRandom;

  /**
   * `endpoints` must not be empty (use `FailPicker`). `previous`, the picker this one replaces,
   * hands over its counts and forwards later `started`/`finished` calls here. `random` seeds the
   * picker's own generator.
   */
  constructor(endpoints: readonly WeightedAddress[], random: Random, previous?: LeastRequestPicker) {
    if (endpoints.length === 0) throw new Error('skein: LeastRequestPicker needs at least one endpoint');
    this.targets = endpoints.map((e) => makeTarget(e.address, e.port, e));
    this.results = this.targets.map((target) => Object.freeze({ type: 'pick' as const, target }));
    this.size = this.targets.length;
    this.weights = Float64Array.from(endpoints, (e) => Math.max(1, e.weight));
    this.indexByKey = new Map(this.targets.map((t, i) => [t.key, i]));
    this.outstanding = new Int32Array(this.size);
    this.rng = new FastRandom(random);
    const before = previous?.newest();
    if (before !== undefined) {
      for (let i = 0; i < this.size; i++) this.outstanding[i] = before.outstandingOf(this.targets[i]!.key);
      before.successor = this;
    }
  }

  /**
   * Of two distinct random targets (not in `exclude`, while two remain), the one with the lower
   * (outstanding + 1) / weight; the +1 lets weights count when both are idle. `hash` is ignored.
   */
  pick(exclude?: ReadonlySet<string>, _hash?: number): PickResult {
    if (this.size === 1) return this.results[0]!;
    const excluding = exclude !== undefined && exclude.size > 0;
    let a = this.rng.index(this.size);
    // The second draw skips the first, so the two choices are distinct and uniform.
    let b = this.rng.index(this.size - 1);
    if (b >= a) b++;
    if (excluding) {
      a = this.allowed(a, exclude);
      b = this.allowed(b, exclude);
      if (b === a) b = this.allowed((a + 1) % this.size, exclude);
    }
    // Compare (ca+1)/wa with (cb+1)/wb without dividing.
    const better = (this.countAt(b) + 1) * this.weights[a]! < (this.countAt(a) + 1) * this.weights[b]! ? b : a;
    return this.results[better]!;
  }

  /** Records that an attempt was sent to `target` (see the class contract). */
  started(target: Target): void {
    const picker = this.newest();
    const index = picker.indexByKey.get(target.key);
    if (index !== undefined) picker.outstanding[index]!++;
  }

  /** Records that an attempt to `target` ended, whatever its outcome (see the class contract). */
  finished(target: Target): void {
    const picker = this.newest();
    const index = picker.indexByKey.get(target.key);
    if (index !== undefined && picker.outstanding[index]! > 0) picker.outstanding[index]!--;
  }

  /** Outstanding attempts to the target with `key` (0 when unknown), for tests and admin pages. */
  outstandingOf(key: string): number {
    const picker = this.newest();
    const index = picker.indexByKey.get(key);
    return index === undefined ? 0 : picker.outstanding[index]!;
  }

  /** The count of target `index`; a replaced picker (held by a request in flight) reads its successor's. */
  private countAt(index: number): number {
    return this.successor === undefined ? this.outstanding[index]! : this.outstandingOf(this.targets[index]!.key);
  }

  private newest(): LeastRequestPicker {
    if (this.successor === undefined) return this;
    let picker = this.successor;
    while (picker.successor !== undefined) picker = picker.successor;
    // Shorten the chain for the next call.
    this.successor = picker;
    return picker;
  }

  /** `index`, or the next target after it not in `exclude`; `index` when all are excluded. */
  private allowed(index: number, exclude: ReadonlySet<string>): number {
    for (let step = 0; step < this.size; step++) {
      const other = (index + step) % this.size;
      if (!exclude.has(this.targets[other]!.key)) return other;
    }
    return index;
  }
}
