// Ring-hash picker (`skein.io/load-balancer: ring-hash`): consistent hashing on a ring of
// virtual nodes (Karger et al.; Envoy's and gRPC's ring_hash). Each endpoint gets virtual
// nodes in proportion to its weight; a request goes to the first virtual node at or after its
// hash, so removing one of N endpoints moves only the keys that endpoint owned (~1/N).
// Built once per change of the eligible set; pick() is a binary search, O(log ring), and
// allocation-free.
import type { Picker, PickResult, Target } from '../dataplane.js';
import { finalMix, hash32 } from './hash-key.js';
import { FastRandom } from './fast-random.js';
import { makeTarget, type Random, type WeightedAddress } from './round-robin.js';

/** Envoy's default minimum ring size: enough virtual nodes for an even spread over few endpoints. */
export const DEFAULT_MIN_RING_SIZE = 1024;
/** Envoy's default maximum ring size (8M entries, 64 MB here); bounds skewed weights. */
export const DEFAULT_MAX_RING_SIZE = 8 * 1024 * 1024;
/** Build-time sort packs (hash, owner) in one float64: owners must fit in 21 bits. */
const MAX_ENDPOINTS = 1 << 21;
const OWNER_SCALE = MAX_ENDPOINTS;

export interface RingHashOptions {
  /** At least this many virtual nodes, unless the endpoints' weights force more. Default 1024. */
  readonly minRingSize?: number;
  /** At most this many virtual nodes (each endpoint keeps at least one). Default 8M. */
  readonly maxRingSize?: number;
  /**
   * The picker this one replaces. Its virtual nodes per unit of weight are kept while the ring
   * stays between `minRingSize` and 8 × `minRingSize`, so that adding or removing an endpoint
   * moves only that endpoint's keys: were the count recomputed for every endpoint set (as in
   * Envoy), every survivor would gain or lose virtual nodes and take keys from the others.
   */
  readonly previous?: RingHashPicker;
}

/** Consistent hashing over a fixed list of targets. Immutable: replace it when endpoints change. */
export class RingHashPicker implements Picker {
  readonly size: number;
  /** Distinct targets, in the order given. */
  readonly targets: readonly Target[];
  /** Virtual nodes per unit of weight (below 1 when weights were scaled down to the maximum). */
  readonly nodesPerWeight: number;
  /** Hashes of the virtual nodes, ascending. */
  private readonly ring: Uint32Array;
  /** `owners[i]`: the target index of virtual node `ring[i]`. */
  private readonly owners: Uint32Array;
  private readonly results: readonly PickResult[];
  /** Randomness for picks without a hash, seeded from `random` at build time: allocation-free. */
  private readonly rng: FastRandom;

  /** `endpoints` must not be empty; use `FailPicker` for an empty set. */
  constructor(endpoints: readonly WeightedAddress[], random: Random, options: RingHashOptions = {}) {
    if (endpoints.length === 0) throw new Error('skein: RingHashPicker needs at least one endpoint');
    if (endpoints.length > MAX_ENDPOINTS) throw new Error(`skein: RingHashPicker supports at most ${MAX_ENDPOINTS} endpoints`);
    this.targets = endpoints.map((e) => makeTarget(e.address, e.port, e));
    this.results = this.targets.map((target) => Object.freeze({ type: 'pick' as const, target }));
    this.rng = new FastRandom(random);
    this.size = this.targets.length;
    const weights = endpoints.map((e) => Math.max(1, e.weight));
    const min = options.minRingSize ?? DEFAULT_MIN_RING_SIZE;
    const max = Math.max(min, options.maxRingSize ?? DEFAULT_MAX_RING_SIZE);
    this.nodesPerWeight = nodesPerWeight(weights.reduce((a, b) => a + b, 0), min, max, options.previous?.nodesPerWeight);
    const counts = weights.map((w) => Math.max(1, Math.round(w * this.nodesPerWeight)));
    const total = counts.reduce((a, b) => a + b, 0);
    // Sort (hash, owner) pairs natively as one number each: hash * 2^21 + owner < 2^53.
    const packed = new Float64Array(total);
    let at = 0;
    for (let owner = 0; owner < this.size; owner++) {
      // A virtual node's hash depends only on its endpoint and its number, never on the others.
      const base = hash32(this.targets[owner]!.key, 0x5eed);
      for (let node = 0; node < counts[owner]!; node++) packed[at++] = finalMix(base ^ Math.imul(node + 1, 0x9e3779b1)) * OWNER_SCALE + owner;
    }
    packed.sort();
    this.ring = new Uint32Array(total);
    this.owners = new Uint32Array(total);
    for (let i = 0; i < total; i++) {
      const owner = packed[i]! % OWNER_SCALE;
      this.owners[i] = owner;
      this.ring[i] = (packed[i]! - owner) / OWNER_SCALE;
    }
  }

  /** How many virtual nodes the ring has. */
  get ringSize(): number {
    return this.ring.length;
  }

  /**
   * The owner of the first virtual node at or after `hash` (wrapping around); without `hash`,
   * of a random point (weighted random). With `exclude`, the next virtual node clockwise whose
   * target is not excluded, as Envoy and gRPC do, so a retry lands where this key's next
   * request would go if that endpoint left.
   */
  pick(exclude?: ReadonlySet<string>, hash?: number): PickResult {
    const point = hash === undefined ? this.rng.next() >>> 0 : hash >>> 0;
    const first = this.search(point);
    const owner = this.owners[first]!;
    if (exclude === undefined || exclude.size === 0 || !exclude.has(this.targets[owner]!.key)) return this.results[owner]!;
    const length = this.ring.length;
    for (let step = 1; step < length; step++) {
      const other = this.owners[(first + step) % length]!;
      if (!exclude.has(this.targets[other]!.key)) return this.results[other]!;
    }
    return this.results[owner]!;
  }

  /** Index of the first ring entry >= `point`, or 0 past the last. */
  private search(point: number): number {
    let low = 0;
    let high = this.ring.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.ring[middle]! < point) low = middle + 1;
      else high = middle;
    }
    return low === this.ring.length ? 0 : low;
  }
}

/**
 * Virtual nodes per unit of weight for a total weight: the previous picker's value while the
 * ring stays in [min, 8 × min] (and below max); else enough for a ring of about 2 × min (one
 * node per unit when the weights alone reach that), scaled down when the weights exceed max.
 */
export function nodesPerWeight(totalWeight: number, min: number, max: number, previous?: number): number {
  if (previous !== undefined) {
    const size = previous * totalWeight;
    if (size >= min && size <= Math.min(max, 8 * min)) return previous;
  }
  if (totalWeight >= max) return max / totalWeight;
  return Math.max(1, Math.min(Math.ceil((2 * min) / totalWeight), Math.floor(max / totalWeight)));
}
