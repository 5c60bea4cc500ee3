// Endpoint selection for one Service port, as one pipeline (ARCHITECTURE section 5):
// eligible set (kube-proxy: readiness, topology hints, traffic policy) -> [extra stages] ->
// locality priorities (when the Service's policy asks for locality failover) -> health (ejected
// endpoints left out, panic threshold) -> priority spill-over (locality.ts) -> picker (the
// Service's `skein.io/load-balancer` policy; a PriorityPicker over one per priority).
// Run on config change only; keeps the previous picker when its endpoints and policy did not change.
import { LoadBalancer } from '@skein/protocol';
import type { DestinationError, HashKeySource, Picker } from '../dataplane.js';
import { noEndpointError } from '../errors.js';
import { eligibleEndpoints, type EligibilityRule, type EligibleEndpoint, type Eligibility, type EligibilityInput } from './eligibility.js';
import { localityTierOf, priorityLoads, PriorityPicker, TIER_ORDER, type LocalityTier, type SelfLocality } from './locality.js';
import { DEFAULT_PANIC_THRESHOLD_PERCENT } from './panic-threshold.js';
import { FailPicker } from './fail-picker.js';
import { createPicker, hashKeySourceOf, type LoadBalancerPolicy } from './picker-factory.js';
import type { Random, WeightedAddress } from './round-robin.js';

/**
 * A step between the eligible set and the picker (locality priorities,
 * outlier ejection come in as stages). Gets a non-empty eligible set; returns the set to
 * pass on, or `none` with its own error. Must be pure.
 */
export interface EndpointStage {
  readonly name: string;
  apply(set: Eligibility & { type: 'eligible' }, input: EligibilityInput): Eligibility;
}

export interface PortBalancerOptions {
  /** This proxy's node (internalTrafficPolicy Local, forNodes hints); undefined when unknown. */
  readonly nodeName: string | undefined;
  /** This proxy's zone (forZones hints); undefined when unknown. */
  readonly zone?: string | undefined;
  /** Randomness for pickers' start offsets. */
  readonly random: Random;
  /** Stages run in order after eligibility; none yet. */
  readonly stages?: readonly EndpointStage[];
  /** This proxy's region (locality priorities); undefined when unknown. */
  readonly region?: string | undefined;
  /** Target keys ("addr:port") ejected by outlier detection; none when absent. */
  readonly ejected?: ReadonlySet<string>;
  /** Envoy's healthy panic threshold in percent; default 50. */
  readonly panicThresholdPercent?: number;
}

/** One priority of the selection: its endpoints in use and its share of the traffic. */
export interface PriorityTier {
  /** The locality tier, or 'all' without locality failover. */
  readonly tier: LocalityTier | 'all';
  /** The endpoints the picker uses: the healthy ones, or all of the tier in panic. */
  readonly endpoints: readonly EligibleEndpoint[];
  readonly total: number;
  readonly healthy: number;
  /** Percent of first attempts. */
  readonly load: number;
  /** Health ignored for this tier (too few healthy). */
  readonly panic: boolean;
}

/** The locality/health steps' result, for /clusters and /explain. */
export interface Selection {
  readonly localityFailover: boolean;
  readonly tiers: readonly PriorityTier[];
  /** Eligible endpoints that are ejected (left out unless their tier is in panic). */
  readonly ejected: readonly string[];
  readonly totalPanic: boolean;
}

/** What the eligible set came to: the kube-proxy rule that made it, or why it is empty. */
export type EligibilityOutcome =
  | { readonly type: 'eligible'; readonly rule: EligibilityRule }
  | { readonly type: 'none'; readonly error: DestinationError };

/**
 * The balancing state of one Service port: the picker and what it was built from. Kept for as
 * long as the config holds the port, so it keeps no per-endpoint results: the verdicts and
 * priorities the admin views show are recomputed from `input` and `options` (`balanceDetails`),
 * which the config holds anyway. Why: they cost more than the picker itself (~230 bytes per
 * endpoint and port in a heap snapshot of the benchmark world) and only /clusters and /explain
 * read them.
 */
export interface PortBalance {
  /** Replaced only when the policy or the picked set changes; a request in flight keeps the one it got. */
  readonly picker: Picker;
  /** The Service's `skein.io/load-balancer` policy the picker was built for. */
  readonly loadBalancer: LoadBalancerPolicy;
  /** Where request hashes come from, when the picker hashes (ring hash, maglev). */
  readonly hashKey: HashKeySource | undefined;
  readonly outcome: EligibilityOutcome;
  /** What the pipeline ran on (the Service and EndpointGroup versions, this proxy's node and zone). */
  readonly input: EligibilityInput;
  /** The options it ran with, ejected endpoints included. */
  readonly options: PortBalancerOptions;
}

/** The per-endpoint results of a balance: why each endpoint is in or out, and the priorities. */
export interface BalanceDetails {
  readonly eligibility: Eligibility;
  /** Priorities and health of the eligible set; undefined when nothing is eligible. */
  readonly selection: Selection | undefined;
  /**
   * The policy and the picked set ("<policy>|<hash key>|addr:port*weight,…" or "!code: message");
   * equal signatures share a picker.
   */
  readonly signature: string;
}

/**
 * Runs the pipeline for one Service port; the picker kind is the Service's
 * `policy.loadBalancer` (round robin when unset). With `previous` (the port's last balance), its
 * picker is reused when the policy and the picked endpoints are the same, so changes elsewhere
 * in the EndpointGroup (a not-ready Pod appearing, another port's endpoints) replace no picker.
 * A replaced picker is handed to the new one (least request keeps its counts, ring hash its density).
 */
export function balancePort(input: EligibilityInput, options: PortBalancerOptions, previous?: PortBalance, eligible?: Eligibility): PortBalance {
  const details = detailsOf(input, options, eligible);
  const { eligibility, selection } = details;
  const loadBalancer = loadBalancerOf(input);
  const hashKey = hashKeySourceOf(input.service.policy);
  const outcome: EligibilityOutcome = eligibility.type === 'eligible' ? { type: 'eligible', rule: eligibility.rule } : { type: 'none', error: eligibility.error };
  if (previous && buildsSame(previous, input, options, details.signature)) {
    return { picker: previous.picker, loadBalancer, hashKey: previous.hashKey, outcome, input, options };
  }
  let picker: Picker;
  if (selection === undefined || selection.tiers.length === 0) {
    picker = new FailPicker(eligibility.type === 'none'
      ? eligibility.error
      : noEndpointError(input.serviceKey, input.servicePort.port ?? 0, selection ? 'every endpoint is ejected' : 'every endpoint was filtered out'));
  } else if (selection.tiers.length === 1) {
    const prior = previous?.picker instanceof PriorityPicker ? undefined : previous?.picker;
    picker = createPicker(loadBalancer, located(selection.tiers[0]!), { random: options.random, previous: prior });
  } else {
    const prior = previous?.picker instanceof PriorityPicker ? previous.picker.pickers : [];
    const pickers = selection.tiers.map((t, i) => createPicker(loadBalancer, located(t), { random: options.random, previous: prior[i] }));
    picker = new PriorityPicker(pickers, selection.tiers.map((t) => t.load), options.random);
  }
  return { picker, loadBalancer, hashKey, outcome, input, options };
}

/** The verdicts, priorities and signature of `balance`, recomputed (pure): for admin views and tests. */
export function balanceDetails(balance: PortBalance): BalanceDetails {
  return detailsOf(balance.input, balance.options);
}

function detailsOf(input: EligibilityInput, options: PortBalancerOptions, eligible?: Eligibility): BalanceDetails {
  const eligibility = eligible ?? eligibleSet(input, options);
  const policy = input.service.policy;
  const selection = eligibility.type === 'eligible' && eligibility.endpoints.length > 0
    ? select(eligibility.endpoints, policy?.localityFailover === true ? { nodeName: input.nodeName, zone: input.zone, region: options.region } : undefined, options)
    : undefined;
  return { eligibility, selection, signature: signatureOf(eligibility, selection, loadBalancerOf(input), hashKeySourceOf(policy)) };
}

/**
 * Whether `previous` was built for the same signature. Inputs identical to the new ones (same
 * Service and EndpointGroup versions, same options object) give the same signature without
 * running the pipeline again; otherwise it is recomputed, which costs what building the new
 * balance cost (config changes only, never per request).
 */
function buildsSame(previous: PortBalance, input: EligibilityInput, options: PortBalancerOptions, signature: string): boolean {
  const a = previous.input;
  if (previous.options === options && a.service === input.service && a.servicePort === input.servicePort && a.group === input.group
    && a.nodeName === input.nodeName && a.zone === input.zone && a.serviceKey === input.serviceKey) return true;
  return balanceDetails(previous).signature === signature;
}

function loadBalancerOf(input: EligibilityInput): LoadBalancerPolicy {
  return input.service.policy?.loadBalancer ?? LoadBalancer.LOAD_BALANCER_ROUND_ROBIN;
}

/** A priority's endpoints with their zone and tier, which their picked Targets carry. */
function located(tier: PriorityTier): WeightedAddress[] {
  return tier.endpoints.map((e) => ({ address: e.address, port: e.port, key: e.key, weight: e.weight, zone: e.endpoint.zone ?? '', tier: tier.tier }));
}

/** The eligible set (kube-proxy's rules) and the extra stages, before locality and health. */
export function eligibleSet(input: EligibilityInput, options: PortBalancerOptions): Eligibility {
  let eligibility = eligibleEndpoints(input);
  for (const stage of options.stages ?? []) {
    if (eligibility.type !== 'eligible') break;
    eligibility = stage.apply(eligibility, input);
  }
  return eligibility;
}

/** Splits `endpoints` (not empty) into priorities, leaves ejected ones out and computes loads. */
function select(endpoints: readonly EligibleEndpoint[], self: SelfLocality | undefined, options: PortBalancerOptions): Selection {
  const groups = new Map<LocalityTier | 'all', EligibleEndpoint[]>();
  if (self === undefined) groups.set('all', [...endpoints]);
  else {
    for (const tier of TIER_ORDER) groups.set(tier, []);
    for (const e of endpoints) groups.get(localityTierOf(e.endpoint, self))!.push(e);
    for (const [tier, list] of groups) if (list.length === 0) groups.delete(tier);
  }
  const ejectedSet = options.ejected;
  const isEjected = (e: EligibleEndpoint): boolean => ejectedSet !== undefined && ejectedSet.size > 0 && ejectedSet.has(e.key);
  const entries = [...groups.entries()];
  const healthyLists = entries.map(([, list]) => list.filter((e) => !isEjected(e)));
  const counts = entries.map(([, list], i) => ({ total: list.length, healthy: healthyLists[i]!.length }));
  const result = priorityLoads(counts, options.panicThresholdPercent ?? DEFAULT_PANIC_THRESHOLD_PERCENT);
  const tiers: PriorityTier[] = [];
  entries.forEach(([tier, list], i) => {
    const panic = result.panic[i]!;
    const used = panic ? list : healthyLists[i]!;
    // A priority with no healthy endpoint and not in panic takes no traffic and has nothing to pick.
    if (used.length === 0) return;
    tiers.push({ tier, endpoints: used, total: list.length, healthy: healthyLists[i]!.length, load: result.loads[i]!, panic });
  });
  const ejected = endpoints.filter(isEjected).map((e) => e.key);
  return { localityFailover: self !== undefined, tiers, ejected, totalPanic: result.totalPanic };
}

function signatureOf(eligibility: Eligibility, selection: Selection | undefined, loadBalancer: number, hashKey: HashKeySource | undefined): string {
  if (eligibility.type === 'none') return `!${eligibility.error.code}: ${eligibility.error.message}`;
  const key = hashKey === undefined ? '' : hashKey.type === 'source-ip' ? 'source-ip' : `${hashKey.type}:${hashKey.name}`;
  const list = (endpoints: readonly EligibleEndpoint[]): string => endpoints.map((e) => `${e.key}*${e.weight}`).join(',');
  const tiers = selection?.tiers ?? [];
  const body = tiers.length === 1 ? list(tiers[0]!.endpoints) : tiers.map((t) => `${t.tier}@${t.load}:${list(t.endpoints)}`).join(';');
  return `${loadBalancer}|${key}|${body}`;
}
