// Maglev picker (`skein.io/load-balancer: maglev`): Google's Maglev consistent hashing
// (Eisenbud et al., NSDI 2016, section 3.4; Envoy's MAGLEV). A lookup table of prime size is
// filled by letting endpoints claim slots in turn, each along its own permutation of the
// table; a request goes to `table[hash % size]`. Spread is near-perfect and removing one of N
// endpoints moves little more than its own 1/N of keys. Built once per change of the eligible
// set (O(M log M) for a table of M); pick() is O(1) and allocation-free.
import type { Picker, PickResult, Target } from '../dataplane.js';
import { hash32 } from './hash-key.js';
import { FastRandom } from './fast-random.js';
import { makeTarget, type Random, type WeightedAddress } from './round-robin.js';

/** Envoy's default table size; must be prime so that every skip walks the whole table. */
export const MAGLEV_TABLE_SIZE = 65537;

/** Maglev consistent hashing over a fixed list of targets. Immutable: replace it when endpoints change. */
export class MaglevPicker implements Picker {
  readonly size: number;
  /** Distinct targets, in the order given. */
  readonly targets: readonly Target[];
  /** `table[slot]`: the target index owning that slot (see `OwnerTable`). */
  readonly table: OwnerTable;
  private readonly results: readonly PickResult[];
  /** Randomness for picks without a hash, seeded from `random` at build time: allocation-free. */
  private readonly rng: FastRandom;

  /**
   * `endpoints` must not be empty (use `FailPicker`). `tableSize` must be a prime larger than
   * the number of endpoints (tests use small ones); endpoints past the table size get no slot.
   */
  constructor(endpoints: readonly WeightedAddress[], random: Random, tableSize = MAGLEV_TABLE_SIZE) {
    if (endpoints.length === 0) throw new Error('skein: MaglevPicker needs at least one endpoint');
    if (!isPrime(tableSize)) throw new Error(`skein: MaglevPicker table size ${tableSize} is not prime`);
    this.targets = endpoints.map((e) => makeTarget(e.address, e.port, e));
    this.results = this.targets.map((target) => Object.freeze({ type: 'pick' as const, target }));
    this.rng = new FastRandom(random);
    this.size = this.targets.length;
    this.table = buildTable(this.targets.map((t) => t.key), endpoints.map((e) => Math.max(1, e.weight)), tableSize);
  }

  /**
   * The owner of slot `hash % tableSize`; without `hash`, of a random slot. With `exclude`, the
   * owner of the next slot whose target is not excluded (slots' owners are spread by weight,
   * so retries spread too).
   */
  pick(exclude?: ReadonlySet<string>, hash?: number): PickResult {
    const length = this.table.length;
    const slot = hash === undefined ? this.rng.index(length) : (hash >>> 0) % length;
    const owner = this.table[slot]!;
    if (exclude === undefined || exclude.size === 0 || !exclude.has(this.targets[owner]!.key)) return this.results[owner]!;
    for (let step = 1; step < length; step++) {
      const other = this.table[(slot + step) % length]!;
      if (!exclude.has(this.targets[other]!.key)) return this.results[other]!;
    }
    return this.results[owner]!;
  }
}

/**
 * Maglev's population (the paper's pseudocode 1), weighted as Envoy does: endpoint i's
 * permutation is offset_i, offset_i + skip_i, … (mod size), from two independent hashes of its
 * key. Rounds go over the endpoints in order; in round r an endpoint claims its next free slot
 * only while it holds fewer than r × weight / maxWeight slots, so slots end up in proportion to
 * weight. Endpoints are ordered by key first, so the table does not depend on input order.
 */
export function buildTable(keys: readonly string[], weights: readonly number[], size: number): OwnerTable {
  const n = keys.length;
  const order = keys.map((_, i) => i).sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : a - b));
  const next = new Float64Array(n);
  const skip = new Float64Array(n);
  const share = new Float64Array(n);
  const held = new Float64Array(n);
  const maxWeight = Math.max(...weights);
  for (let i = 0; i < n; i++) {
    next[i] = hash32(keys[i]!, 0) % size;
    skip[i] = (hash32(keys[i]!, 1) % (size - 1)) + 1;
    share[i] = weights[i]! / maxWeight;
  }
  const table = ownerTable(n, size);
  const taken = new Uint8Array(size);
  let filled = 0;
  for (let round = 1; filled < size; round++) {
    for (let k = 0; k < n && filled < size; k++) {
      const i = order[k]!;
      if (held[i]! >= round * share[i]!) continue;
      let slot = next[i]!;
      while (taken[slot] === 1) slot = (slot + skip[i]!) % size;
      taken[slot] = 1;
      table[slot] = i;
      next[i] = (slot + skip[i]!) % size;
      held[i]!++;
      filled++;
    }
  }
  return table;
}

/**
 * A table of target indexes in the narrowest element that holds them. Why: a table has 65,537
 * slots per Service port, 256 KiB as 32-bit indexes; a Service with up to 256 endpoints (nearly
 * all) needs 64 KiB, up to 65,536 endpoints 128 KiB.
 */
export type OwnerTable = Uint8Array | Uint16Array | Uint32Array;

function ownerTable(targets: number, size: number): OwnerTable {
  if (targets <= 0x100) return new Uint8Array(size);
  return targets <= 0x10000 ? new Uint16Array(size) : new Uint32Array(size);
}

function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}
