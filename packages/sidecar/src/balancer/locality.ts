// The "locality priorities", "health" and "priority spill-over" steps of endpoint selection
// (ARCHITECTURE 5): the eligible set is split into priorities relative to this proxy's locality
// (same node > same zone > same region > rest), ejected endpoints are left out of each priority,
// and each priority gets a share of the traffic by Envoy's rules (docs: intro/arch_overview/
// upstream/load_balancing/priority.rst, overprovisioning_factor.rst, panic_threshold.rst; code:
// source/common/upstream/load_balancer_impl.cc recalculatePerPriorityState/Panic):
// - health of a priority = min(100, 1.4 * 100 * healthy / total) (overprovisioning factor 1.4);
// - normalized total availability = min(100, sum of healths);
// - total 0: everything in panic, all traffic to priority 0 over all its endpoints;
// - total below the panic threshold: total panic, load by endpoint count, health ignored;
// - else load_i = health_i * 100 / total, in order, capped by what is left; a priority whose own
//   healthy share is below the threshold is in panic (uses all its endpoints) unless total is 100.
// Run on config or health change only, never per request.
import type { Picker, PickResult, Target } from '../dataplane.js';
import type { Random } from './round-robin.js';

/** Envoy's default overprovisioning factor, as a percentage. */
export const OVERPROVISIONING_PERCENT = 140;

export type LocalityTier = 'node' | 'zone' | 'region' | 'rest';
export const TIER_ORDER: readonly LocalityTier[] = ['node', 'zone', 'region', 'rest'];

export interface SelfLocality {
  readonly nodeName?: string | undefined;
  readonly zone?: string | undefined;
  readonly region?: string | undefined;
}

export interface EndpointLocality {
  readonly nodeName?: string | null;
  readonly zone?: string | null;
  readonly region?: string | null;
}

/** The priority of an endpoint relative to this proxy: node > zone > region > rest. */
export function localityTierOf(endpoint: EndpointLocality, self: SelfLocality): LocalityTier {
  if (self.nodeName && endpoint.nodeName === self.nodeName) return 'node';
  if (self.zone && endpoint.zone === self.zone && (!self.region || !endpoint.region || endpoint.region === self.region)) return 'zone';
  if (self.region && endpoint.region === self.region) return 'region';
  return 'rest';
}

/** One priority's counts going in. */
export interface PriorityCounts {
  readonly total: number;
  readonly healthy: number;
}

export interface PriorityLoads {
  /** Integer percent per priority; they sum to 100 (or all 0 for no priority). */
  readonly loads: readonly number[];
  /** Per priority: health is ignored (every endpoint used). */
  readonly panic: readonly boolean[];
  /** Every priority in panic (load by endpoint count). */
  readonly totalPanic: boolean;
  /** min(100, sum of overprovisioned healths). */
  readonly availability: number;
}

/** Envoy's per-priority load over priorities in order (`counts[i].total` > 0). */
export function priorityLoads(counts: readonly PriorityCounts[], panicThresholdPercent = 50): PriorityLoads {
  const n = counts.length;
  if (n === 0) return { loads: [], panic: [], totalPanic: false, availability: 0 };
  const health = counts.map((c) => Math.min(100, Math.floor((OVERPROVISIONING_PERCENT * c.healthy) / c.total)));
  const availability = Math.min(100, health.reduce((a, b) => a + b, 0));
  if (availability === 0) {
    const loads = counts.map((_, i) => (i === 0 ? 100 : 0));
    return { loads, panic: counts.map(() => panicThresholdPercent > 0), totalPanic: panicThresholdPercent > 0, availability };
  }
  if (availability < panicThresholdPercent) {
    const hosts = counts.reduce((a, c) => a + c.total, 0);
    return { loads: distribute(counts.map((c) => (c.total * 100) / hosts)), panic: counts.map(() => true), totalPanic: true, availability };
  }
  const loads = distribute(health.map((h) => (h * 100) / availability));
  const panic = counts.map((c) => availability < 100 && (100 * c.healthy) / c.total < panicThresholdPercent);
  return { loads, panic, totalPanic: false, availability };
}

/** Integer percents in order, each capped by what is left; the remainder goes to the first non-zero share. */
function distribute(shares: readonly number[]): number[] {
  let left = 100;
  const loads = shares.map((s) => {
    const load = Math.min(left, Math.floor(s));
    left -= load;
    return load;
  });
  if (left > 0) {
    const first = shares.findIndex((s) => s > 0);
    loads[first >= 0 ? first : 0]! += left;
  }
  return loads;
}

/**
 * Picks a priority by its load (one random draw), then an endpoint with that priority's picker.
 * A retry (`exclude`) that finds only excluded endpoints in the chosen priority falls through
 * to the other priorities in order, including those with no load. Allocation-free.
 */
export class PriorityPicker implements Picker {
  readonly size: number;
  /** Every target of every priority (for library mode's endpoint lists). */
  readonly targets: readonly Target[];
  /** Cumulative load in percent: priority i gets draws in [cumulative[i-1], cumulative[i]). */
  private readonly cumulative: Float64Array;

  constructor(readonly pickers: readonly Picker[], readonly loads: readonly number[], private readonly random: Random) {
    if (pickers.length === 0 || pickers.length !== loads.length) throw new Error('skein: PriorityPicker needs one load per picker');
    this.cumulative = new Float64Array(loads.length);
    let sum = 0;
    for (let i = 0; i < loads.length; i++) this.cumulative[i] = sum += loads[i]!;
    this.size = pickers.reduce((a, p) => a + p.size, 0);
    this.targets = pickers.flatMap((p) => (p as { readonly targets?: readonly Target[] }).targets ?? []);
  }

  pick(exclude?: ReadonlySet<string>, hash?: number): PickResult {
    const draw = this.random() * 100;
    const n = this.pickers.length;
    let chosen = n - 1;
    for (let i = 0; i < n; i++) {
      if (draw < this.cumulative[i]!) {
        chosen = i;
        break;
      }
    }
    const first = this.pickers[chosen]!.pick(exclude, hash);
    if (exclude === undefined || exclude.size === 0 || first.type !== 'pick' || !exclude.has(first.target.key)) return first;
    for (let i = 0; i < n; i++) {
      if (i === chosen) continue;
      const other = this.pickers[i]!.pick(exclude, hash);
      if (other.type === 'pick' && !exclude.has(other.target.key)) return other;
    }
    return first;
  }
}
