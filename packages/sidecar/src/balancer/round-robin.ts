// The default picker: round robin, smooth-weighted when endpoint weights differ. Built once
// per change of a Service port's eligible set; pick() is O(1) and allocation-free.
import type { Picker, PickResult, Target } from '../dataplane.js';

/** An endpoint to balance over: where to connect and how much traffic it gets. */
export interface WeightedAddress {
  readonly address: string;
  readonly port: number;
  /** `Target.key`, when the caller has made it already (shared, not made again). */
  readonly key?: string;
  /** At least 1. */
  readonly weight: number;
  /** Passed on to the Target (see Target.zone and Target.tier). */
  readonly zone?: string;
  readonly tier?: string;
}

/** Random numbers in [0, 1), injected so tests are deterministic. */
export type Random = () => number;

/** The longest weighted schedule built; larger weight sums are scaled down to fit. */
export const MAX_SCHEDULE = 4096;

/**
 * `Target.key` of an endpoint: joinHostPort's "addr:port" ("[addr]:port" for IPv6), made as one
 * flat string. Why: a template literal of 13 characters or more makes a V8 cons string (a 32-byte
 * node over two strings, ~64 bytes in all); keys are held by pickers and outlier detection for
 * every endpoint of every Service port, and Array.prototype.join writes them flat (~32 bytes).
 */
export function targetKey(address: string, port: number): string {
  return address.includes(':') ? ['[', address, ']:', port].join('') : [address, port].join(':');
}

/** Builds the shared Target object of an endpoint; keys of IPv6 addresses are "[addr]:port". */
export function makeTarget(address: string, port: number, facts?: { readonly key?: string | undefined; readonly zone?: string | undefined; readonly tier?: string | undefined }): Target {
  const key = facts?.key ?? targetKey(address, port);
  if (facts === undefined) return Object.freeze({ address, port, key });
  return Object.freeze({ address, port, key, ...(facts.zone ? { zone: facts.zone } : {}), ...(facts.tier ? { tier: facts.tier } : {}) });
}

/**
 * Round robin over a fixed list of targets. Immutable as to its endpoints: replace it when
 * they change. Only the cursor moves. The cursor starts at a random position so that many
 * proxies built at the same moment do not all send their first request to one endpoint.
 */
export class RoundRobinPicker implements Picker {
  readonly size: number;
  /** Distinct targets, in the order given. */
  readonly targets: readonly Target[];
  private readonly results: readonly PickResult[];
  /** Weighted: the cycle of indexes into `targets`; undefined when all weights are equal. */
  private readonly schedule: Uint32Array | undefined;
  private readonly cycle: number;
  private cursor: number;

  /** `endpoints` must not be empty; use `FailPicker` for an empty set. */
  constructor(endpoints: readonly WeightedAddress[], random: Random) {
    if (endpoints.length === 0) throw new Error('skein: RoundRobinPicker needs at least one endpoint');
    this.targets = endpoints.map((e) => makeTarget(e.address, e.port, e));
    this.results = this.targets.map((target) => Object.freeze({ type: 'pick' as const, target }));
    this.size = this.targets.length;
    const weights = endpoints.map((e) => Math.max(1, Math.floor(e.weight)));
    this.schedule = weights.every((w) => w === weights[0]) ? undefined : smoothSchedule(weights);
    this.cycle = this.schedule?.length ?? this.size;
    this.cursor = Math.min(this.cycle - 1, Math.floor(random() * this.cycle));
  }

  /** The next target; with `exclude`, the next one whose key is not in it, if any remains. */
  pick(exclude?: ReadonlySet<string>): PickResult {
    const position = this.cursor;
    this.cursor = position + 1 === this.cycle ? 0 : position + 1;
    const index = this.schedule === undefined ? position : this.schedule[position]!;
    if (exclude === undefined || exclude.size === 0 || !exclude.has(this.targets[index]!.key)) return this.results[index]!;
    // Retry after a failed attempt: walk the distinct targets from here (O(n), off the common path).
    for (let step = 1; step < this.size; step++) {
      const other = (index + step) % this.size;
      if (exclude.has(this.targets[other]!.key)) continue;
      // Unweighted: continue the rotation after the one chosen, so it gets no double share.
      if (this.schedule === undefined) this.cursor = other + 1 === this.size ? 0 : other + 1;
      return this.results[other]!;
    }
    // Every target was tried: the contract avoids excluded ones only while others remain.
    return this.results[index]!;
  }
}

/**
 * nginx's smooth weighted round robin (ngx_http_upstream_get_peer): each step adds every
 * weight to its running score, picks the highest score and takes the total off it, which
 * interleaves endpoints (5,1,1 gives a a b a c a a, not a a a a a b c). The cycle is
 * precomputed so pick() stays O(1). Weights are first divided by their gcd, then scaled
 * so the cycle is at most max(MAX_SCHEDULE, n) long.
 */
export function smoothSchedule(weights: readonly number[]): Uint32Array {
  const divisor = weights.reduce(gcd);
  let reduced = weights.map((w) => w / divisor);
  let total = reduced.reduce((a, b) => a + b, 0);
  const limit = Math.max(MAX_SCHEDULE, weights.length);
  if (total > limit) {
    reduced = reduced.map((w) => Math.max(1, Math.floor((w * limit) / total)));
    total = reduced.reduce((a, b) => a + b, 0);
  }
  const scores = new Float64Array(reduced.length);
  const schedule = new Uint32Array(total);
  for (let step = 0; step < total; step++) {
    let best = 0;
    for (let i = 0; i < reduced.length; i++) {
      scores[i]! += reduced[i]!;
      if (scores[i]! > scores[best]!) best = i;
    }
    scores[best]! -= total;
    schedule[step] = best;
  }
  return schedule;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
