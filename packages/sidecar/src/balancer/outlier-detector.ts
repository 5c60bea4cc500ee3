// Passive health for one Service: the "health" step of the selection pipeline (ARCHITECTURE 5).
// The dataplane reports every attempt's outcome; the detector ejects endpoints that fail in a row
// and lets them back when their ejection time has passed. Pure: time comes from a Clock or a
// `now` argument, and no timer is set here — the owner schedules one at `nextChangeAt()`.
//
// Rules mirror Envoy's consecutive-5xx outlier detection (docs: intro/arch_overview/upstream/
// outlier.rst "Ejection algorithm", api config/cluster/v3/outlier_detection.proto; behaviour of
// source/common/upstream/outlier_detection_impl.cc, with envoyproxy/envoy#27909 and #34796):
// - Every failure counts in one consecutive counter (Envoy's default, non-split mode: local-origin
//   errors — connect failure, reset, timeout — are mapped to 5xx); any success resets it.
// - At the threshold the endpoint is ejected and its counter resets, whether or not the ejection
//   was allowed; failures reported while it is ejected are ignored.
// - Max ejection percent is checked AFTER the ejection (Envoy since #27909):
//   100 * (ejected + 1) / endpoints <= maxEjectionPercent. So 1 of 2 endpoints may be ejected at
//   50%, but a lone endpoint never is. `alwaysEjectOneHost` (off, as in Envoy) allows the first
//   ejection regardless. Skein's default is 50% (Envoy's is 10%, which ejects nothing below 10).
// - Ejection time = min(base * multiplier, max), where the multiplier is incremented at each
//   ejection while multiplier * base < max + base, and decremented once per `intervalMs` spent
//   un-ejected. Envoy decrements on its interval timer ticks; we count whole intervals since the
//   endpoint returned, lazily (the same rate, without a timer).
// - An ejected endpoint returns exactly when its time passes (Envoy: at the next interval
//   sweep), with its counter reset.
import type { AttemptOutcome } from '../dataplane.js';
import type { Clock } from './clock.js';

export interface OutlierDetectionConfig {
  /** Consecutive failures that eject an endpoint (Envoy `consecutive_5xx`). Default 5. */
  readonly consecutiveErrors: number;
  /** First ejection time (Envoy `base_ejection_time`). Default 30 s. */
  readonly baseEjectionMs: number;
  /** Most of the Service's endpoints ejected at once, in percent. Default 50. */
  readonly maxEjectionPercent: number;
  /** Longest ejection (Envoy `max_ejection_time`); at least `baseEjectionMs`. Default 300 s. */
  readonly maxEjectionMs: number;
  /** Healthy time that decays the ejection multiplier by one (Envoy `interval`). Default 10 s. */
  readonly intervalMs: number;
  /** Allow one ejection even past maxEjectionPercent (Envoy `always_eject_one_host`). Default false. */
  readonly alwaysEjectOneHost: boolean;
}

export const DEFAULT_OUTLIER_DETECTION: OutlierDetectionConfig = Object.freeze({
  consecutiveErrors: 5,
  baseEjectionMs: 30_000,
  maxEjectionPercent: 50,
  maxEjectionMs: 300_000,
  intervalMs: 10_000,
  alwaysEjectOneHost: false,
});

/** An endpoint left or re-entered the healthy set. */
export type OutlierChange =
  | { readonly type: 'eject'; readonly targetKey: string; readonly until: number }
  | { readonly type: 'return'; readonly targetKey: string; readonly at: number };

/** What `record` did with an outcome. */
export type RecordResult = 'ignored' | 'counted' | 'ejected' | 'overflow';

export interface OutlierDetectorOptions {
  readonly config?: Partial<OutlierDetectionConfig>;
  /** Called synchronously on each ejection and return, so the owner rebuilds pickers. */
  readonly onChange?: (change: OutlierChange) => void;
}

/** One endpoint's state, for the admin API's /clusters. */
export interface OutlierEndpointJSON {
  readonly key: string;
  readonly consecutiveErrors: number;
  /** Clock time the ejection ends; absent when not ejected. */
  readonly ejectedUntil?: number;
  /** The current (decayed) ejection multiplier: the next ejection lasts base * (this + 1). */
  readonly ejectionMultiplier: number;
  /** Ejections since the endpoint was first seen. */
  readonly ejections: number;
}

export interface OutlierDetectorJSON {
  readonly config: OutlierDetectionConfig;
  /** Ejections refused by maxEjectionPercent (Envoy `ejections_overflow`). */
  readonly ejectionsOverflow: number;
  readonly endpoints: readonly OutlierEndpointJSON[];
}

interface EndpointHealth {
  consecutiveErrors: number;
  ejectedUntil: number | undefined;
  multiplier: number;
  /** When the multiplier last changed or the endpoint returned: the start of its decay. */
  decaySince: number;
  ejections: number;
}

/**
 * The empty tables every detector starts with: most Services never see a failure, and an empty
 * Map or Set costs ~150 bytes each. Never written to (a detector makes its own at the first write).
 */
const NO_STATES: ReadonlyMap<string, EndpointHealth> & Map<string, EndpointHealth> = new Map();
const NO_EJECTIONS: ReadonlySet<string> & Set<string> = new Set();

/**
 * Consecutive-failure outlier detection over the endpoints of one Service. The owner calls
 * `update` with the endpoint set, `record` after each attempt, and asks `isEjected`/`ejected`
 * when it builds a picker; `version` and `onChange` say when to rebuild.
 */
export class OutlierDetector {
  readonly config: OutlierDetectionConfig;
  /** Incremented on every ejection and return. */
  version = 0;
  /** The endpoints tracked, in the order they were first seen. */
  private readonly members = new Set<string>();
  /**
   * State of the endpoints that have any: a failure counted, an ejection, a multiplier. Why
   * sparse: every endpoint of every Service is tracked while almost all of them never fail,
   * and an absent entry reads as a fresh one (no errors, never ejected). Like `ejectedKeys`,
   * the shared empty table until the first write replaces it.
   */
  private states = NO_STATES;
  private ejectedKeys = NO_EJECTIONS;
  /** Earliest `ejectedUntil` among ejected endpoints; Infinity when none. */
  private nextReturn = Infinity;
  private overflows = 0;
  private readonly onChange: ((change: OutlierChange) => void) | undefined;

  constructor(private readonly clock: Clock, options: OutlierDetectorOptions = {}) {
    this.config = sharedConfig(validateConfig({ ...DEFAULT_OUTLIER_DETECTION, ...options.config }));
    this.onChange = options.onChange;
  }

  /**
   * Sets the Service's endpoints (target keys). New ones start healthy; state of kept ones is
   * kept; removed ones are forgotten (freeing their ejection slot). Fires no `onChange`: the
   * caller is rebuilding pickers anyway.
   */
  update(targetKeys: Iterable<string>): void {
    const keep = targetKeys instanceof Set ? targetKeys as ReadonlySet<string> : new Set(targetKeys);
    for (const key of this.members) {
      if (keep.has(key)) continue;
      this.members.delete(key);
      this.states.delete(key);
      this.ejectedKeys.delete(key);
    }
    for (const key of keep) this.members.add(key);
    this.recomputeNextReturn();
  }

  /** Endpoints tracked (the denominator of maxEjectionPercent). */
  get size(): number {
    return this.members.size;
  }

  /**
   * Called after each connection or request attempt. Outcomes for keys not in the set (an
   * endpoint that already left) are ignored.
   */
  record(targetKey: string, outcome: AttemptOutcome, now: number = this.clock.now()): RecordResult {
    this.advance(now);
    if (!this.members.has(targetKey)) return 'ignored';
    let health = this.states.get(targetKey);
    if (outcome === 'success') {
      if (health !== undefined) {
        health.consecutiveErrors = 0;
        if (isFresh(health)) this.states.delete(targetKey);
      }
      return 'counted';
    }
    if (health === undefined) {
      health = { consecutiveErrors: 0, ejectedUntil: undefined, multiplier: 0, decaySince: now, ejections: 0 };
      if (this.states === NO_STATES) this.states = new Map();
      this.states.set(targetKey, health);
    }
    if (health.ejectedUntil !== undefined) return 'ignored';
    if (++health.consecutiveErrors < this.config.consecutiveErrors) return 'counted';
    health.consecutiveErrors = 0;
    if (!this.mayEject()) {
      this.overflows++;
      if (isFresh(health)) this.states.delete(targetKey);
      return 'overflow';
    }
    this.eject(targetKey, health, now);
    return 'ejected';
  }

  /** Whether the endpoint is ejected at `now`; ejections that have run out end here. */
  isEjected(targetKey: string, now: number = this.clock.now()): boolean {
    this.advance(now);
    return this.ejectedKeys.has(targetKey);
  }

  /** Target keys ejected at `now`. */
  ejected(now: number = this.clock.now()): string[] {
    this.advance(now);
    return [...this.ejectedKeys];
  }

  /**
   * When the next ejected endpoint returns, or undefined when none is ejected. The owner sets
   * one timer for it and then calls any query (e.g. `ejected(now)`), which fires `onChange`.
   */
  nextChangeAt(now: number = this.clock.now()): number | undefined {
    this.advance(now);
    return this.nextReturn === Infinity ? undefined : this.nextReturn;
  }

  toJSON(now: number = this.clock.now()): OutlierDetectorJSON {
    this.advance(now);
    const endpoints: OutlierEndpointJSON[] = [];
    for (const key of this.members) {
      const health = this.states.get(key);
      endpoints.push({
        key,
        consecutiveErrors: health?.consecutiveErrors ?? 0,
        ...(health?.ejectedUntil === undefined ? {} : { ejectedUntil: health.ejectedUntil }),
        ejectionMultiplier: health === undefined ? 0 : this.decayedMultiplier(health, now),
        ejections: health?.ejections ?? 0,
      });
    }
    return { config: this.config, ejectionsOverflow: this.overflows, endpoints };
  }

  /** Envoy #27909: the share ejected after this ejection must not exceed the maximum. */
  private mayEject(): boolean {
    const ejected = this.ejectedKeys.size;
    if (this.config.alwaysEjectOneHost && ejected === 0) return true;
    return (100 * (ejected + 1)) / this.members.size <= this.config.maxEjectionPercent;
  }

  private eject(targetKey: string, health: EndpointHealth, now: number): void {
    const { baseEjectionMs: base, maxEjectionMs: max } = this.config;
    let multiplier = this.decayedMultiplier(health, now);
    // Envoy stops growing the multiplier once base * multiplier reaches max + base, so decay from
    // the cap back to base takes about max / base intervals.
    if (multiplier * base < max + base) multiplier++;
    health.multiplier = multiplier;
    health.decaySince = now;
    health.ejections++;
    const until = now + Math.min(base * multiplier, max);
    health.ejectedUntil = until;
    if (this.ejectedKeys === NO_EJECTIONS) this.ejectedKeys = new Set();
    this.ejectedKeys.add(targetKey);
    if (until < this.nextReturn) this.nextReturn = until;
    this.version++;
    this.onChange?.({ type: 'eject', targetKey, until });
  }

  /** Returns every endpoint whose ejection ended at or before `now`, in order of return. */
  private advance(now: number): void {
    if (now < this.nextReturn) return;
    const due: [string, EndpointHealth][] = [];
    for (const key of this.ejectedKeys) {
      const health = this.states.get(key)!;
      if (health.ejectedUntil! <= now) due.push([key, health]);
    }
    due.sort((a, b) => a[1].ejectedUntil! - b[1].ejectedUntil!);
    for (const [key, health] of due) {
      const at = health.ejectedUntil!;
      health.ejectedUntil = undefined;
      // Envoy resets the counters on return so a few new errors do not re-eject at once.
      health.consecutiveErrors = 0;
      health.decaySince = at;
      this.ejectedKeys.delete(key);
      this.version++;
      this.onChange?.({ type: 'return', targetKey: key, at });
    }
    this.recomputeNextReturn();
  }

  private recomputeNextReturn(): void {
    let next = Infinity;
    for (const key of this.ejectedKeys) next = Math.min(next, this.states.get(key)!.ejectedUntil!);
    this.nextReturn = next;
  }

  /** The multiplier less one per whole interval spent un-ejected since `decaySince`. */
  private decayedMultiplier(health: EndpointHealth, now: number): number {
    if (health.ejectedUntil !== undefined || health.multiplier === 0) return health.multiplier;
    const intervals = Math.floor((now - health.decaySince) / this.config.intervalMs);
    return Math.max(0, health.multiplier - Math.max(0, intervals));
  }
}

function validateConfig(config: OutlierDetectionConfig): OutlierDetectionConfig {
  const problems: string[] = [];
  if (!Number.isInteger(config.consecutiveErrors) || config.consecutiveErrors < 1) problems.push(`consecutiveErrors ${config.consecutiveErrors} is not a positive integer`);
  if (!(config.baseEjectionMs > 0)) problems.push(`baseEjectionMs ${config.baseEjectionMs} is not positive`);
  if (!(config.maxEjectionMs > 0)) problems.push(`maxEjectionMs ${config.maxEjectionMs} is not positive`);
  if (!(config.intervalMs > 0)) problems.push(`intervalMs ${config.intervalMs} is not positive`);
  if (!(config.maxEjectionPercent >= 0 && config.maxEjectionPercent <= 100)) problems.push(`maxEjectionPercent ${config.maxEjectionPercent} is not in 0..100`);
  if (problems.length > 0) throw new RangeError(`skein: outlier detection config: ${problems.join('; ')}`);
  // Envoy: max_ejection_time defaults to 300 s or base_ejection_time, whichever is larger.
  return Object.freeze({ ...config, maxEjectionMs: Math.max(config.maxEjectionMs, config.baseEjectionMs) });
}

/** A state no different from no state: no errors counted, not ejected, never ejected. */
function isFresh(health: EndpointHealth): boolean {
  return health.consecutiveErrors === 0 && health.ejectedUntil === undefined && health.multiplier === 0 && health.ejections === 0;
}

/** Validated configs by value, so the detectors of Services with the same settings share one object. */
const configs = new Map<string, OutlierDetectionConfig>();
/** Distinct settings are few (annotation values); past this many the table starts over. */
const MAX_SHARED_CONFIGS = 256;

function sharedConfig(config: OutlierDetectionConfig): OutlierDetectionConfig {
  const key = [config.consecutiveErrors, config.baseEjectionMs, config.maxEjectionPercent, config.maxEjectionMs, config.intervalMs, config.alwaysEjectOneHost].join('/');
  const held = configs.get(key);
  if (held !== undefined) return held;
  if (configs.size >= MAX_SHARED_CONFIGS) configs.clear();
  configs.set(key, config);
  return config;
}
