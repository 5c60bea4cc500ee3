// The contract between the data plane's brain (discovery -> routing -> balancer) and its
// I/O edges (the sidecar's proxy listeners, library mode's fetch/dispatcher/grpc resolver).
// Both edges see only this interface, so sidecar and library share one brain.

/** Where a connection or request goes: one endpoint's address and port. */
export interface Target {
  readonly address: string;
  readonly port: number;
  /** "address:port", for pools, counters and logs. */
  readonly key: string;
  /** The endpoint's zone, when known (span attributes, metric labels). */
  readonly zone?: string;
  /**
   * The locality priority it was picked from: `node`, `zone`, `region`, `rest` with locality
   * failover, `all` without. Unset outside the balancer (direct destinations).
   */
  readonly tier?: string;
}

/** The result of choosing an endpoint. Allocation-free on the hot path: pickers return shared objects. */
export type PickResult =
  | { readonly type: 'pick'; readonly target: Target }
  | { readonly type: 'fail'; readonly error: DestinationError };

/** Chooses endpoints for one service port. Immutable: replaced (never mutated) when endpoints change. */
export interface Picker {
  /**
   * Returns the next endpoint. `exclude`, when given, names target keys already tried for
   * this request (retry on connect failure), which the picker avoids while others remain.
   * `hash`, when given, is the request's hash key as an unsigned 32-bit integer
   * (`hashKey(value)` of the header, cookie or source address named by `skein.io/hash-key`,
   * balancer/hash-key.ts): hashing pickers (ring hash, maglev) send equal hashes to the same
   * endpoint while the endpoint set is unchanged; without it they choose at random. Pickers
   * that do not hash ignore it.
   */
  pick(exclude?: ReadonlySet<string>, hash?: number): PickResult;
  /** How many endpoints this picker chooses among (for errors and admin pages). */
  readonly size: number;
}

/**
 * The request property a hashing picker's key is read from (`skein.io/hash-key`): a header
 * (name lower-cased), a cookie, or the client's address. Requests lacking it get no hash
 * (the picker then chooses at random).
 */
export type HashKeySource =
  | { readonly type: 'header'; readonly name: string }
  | { readonly type: 'cookie'; readonly name: string }
  | { readonly type: 'source-ip' };

/**
 * ClientIP session affinity of one Service port (`sessionAffinity: ClientIP`), consulted before
 * the picker: a client seen within the idle timeout goes back to its endpoint while that
 * endpoint is still among the picker's targets and not in `exclude`; otherwise the picker
 * chooses (with `exclude` and `hash` as in `Picker.pick`) and the choice is remembered.
 * Rebuilt with the picker; the table behind it outlives rebuilds (entries survive scale-ups).
 */
export interface SessionAffinity {
  pick(clientIp: string, exclude?: ReadonlySet<string>, hash?: number): PickResult;
  /** Whether the last `pick` returned the client's remembered endpoint (read right after it, for spans). */
  readonly lastHit: boolean;
}

/**
 * Optional picker capability (least request): outstanding-request accounting. Whoever sends a
 * request to a picked target calls `started(target)` when sending and `finished(target)`
 * exactly once when that attempt ends, whatever the outcome (see balancer/request-counter.ts).
 */
export interface RequestCounter {
  started(target: Target): void;
  finished(target: Target): void;
}

/** L7 handling of a service port, from its appProtocol (or the port name's prefix). */
export type AppProtocol = 'http' | 'h2c' | 'grpc' | 'ws' | 'tcp' | 'https' | 'unknown';

export interface DestinationError {
  /** Stable code: SKEIN_ERR_NO_ENDPOINT, SKEIN_ERR_UNKNOWN_SERVICE, SKEIN_ERR_UNKNOWN_PORT, SKEIN_ERR_NOT_IN_REGISTRY… */
  readonly code: string;
  /** Names the component and the object: `skein: service "web.demo" has no ready endpoint for port 80`. */
  readonly message: string;
  /** HTTP status a proxy answers with: 503 (mesh destination unavailable), 502, 403 (registry-only). */
  readonly status: number;
}

/** What a host:port names, as seen from this pod. */
export type Destination =
  /** A mesh Service port: pick an endpoint with `picker`. The target port is the endpoint's. */
  | {
    readonly type: 'service';
    /** "<namespace>/<name>". */
    readonly service: string;
    readonly servicePort: number;
    readonly portName: string;
    readonly appProtocol: AppProtocol;
    readonly picker: Picker;
    /**
     * Where the request hash for `picker.pick(exclude, hash)` comes from
     * (`skein.io/hash-key`); set only when the picker hashes (ring hash, maglev).
     */
    readonly hashKey?: HashKeySource;
    /**
     * Set for `sessionAffinity: ClientIP` Services: pick through it (with the client's address;
     * a loopback client stands for this pod's IP) instead of `picker` directly.
     */
    readonly affinity?: SessionAffinity;
    /**
     * `skein.io/retries`: attempts after the first for idempotent bodiless requests answered
     * 502/503/504 or reset before any response byte, each on a different endpoint. Unset:
     * only connect failures are retried.
     */
    readonly retries?: number;
    /** `skein.io/timeout` in ms: from request start to response end (504 SKEIN_ERR_TIMEOUT). Unset: none. */
    readonly timeoutMs?: number;
    /** The eligibility rule that made the picker's endpoint set ("all ready", "hints: forZones a"…), for spans. */
    readonly rule?: string;
  }
  /**
   * Connect to host:port as given, outside the balancer: a host outside the mesh
   * (`--outbound-policy allow-any`), an ExternalName Service (host = its external name,
   * resolved by DNS at connect time), or a headless Service's per-endpoint name
   * (host = that endpoint's address).
   */
  | { readonly type: 'direct'; readonly host: string; readonly port: number; readonly reason: 'passthrough' | 'external-name' | 'headless-endpoint'; readonly service?: string }
  /** Refused, with the reason: unknown mesh name, no such port, registry-only, no endpoints. */
  | { readonly type: 'reject'; readonly error: DestinationError };

/** Result of a connection or request attempt, so health tracking (issue 4) can learn. */
export type AttemptOutcome = 'success' | 'connect-error' | 'reset' | 'timeout' | 'http-5xx';

export interface Dataplane {
  /**
   * Resolves what `host:port` means for this pod. Pure and fast: reads the current
   * config; never does I/O. `host` may be any name form (`svc`, `svc.ns`, `svc.ns.svc`,
   * `svc.ns.svc.cluster.local`), a ClusterIP, a headless endpoint name, or anything else.
   * A name not yet known subscribes it on demand; the answer is then `reject` with
   * SKEIN_ERR_UNKNOWN_SERVICE until the control plane answers (see `whenKnown`).
   */
  resolve(host: string, port: number): Destination;
  /**
   * For on-demand names: resolves once the control plane has answered for `host` (it exists
   * or it does not), or after `timeoutMs`. Lets a proxy wait briefly instead of failing a
   * first request to a service it has not seen. Never rejects.
   */
  whenKnown(host: string, timeoutMs: number): Promise<void>;
  /**
   * Optional. Every target the picker for the service port `host:port` currently chooses
   * among (after eligibility, locality priority and health), for clients that balance by
   * themselves (library mode's grpc-js resolver feeds them to grpc-js `round_robin`) and for
   * closing pools of endpoints that left. Pure and fast like `resolve`. A DestinationError
   * when `host:port` is not a mesh service port. Without it, library mode derives the list
   * by picking `picker.size` times with `exclude` (see library/service-targets.ts).
   */
  endpoints?(host: string, port: number): readonly Target[] | DestinationError;
  /** Reports how an attempt to a target went (passive health; may be a no-op). */
  report(service: string, target: Target, outcome: AttemptOutcome): void;
  /** True once a snapshot (or the cache file) has been applied. */
  readonly ready: boolean;
  /** Calls `listener` after each applied config change; returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
}
