// Library mode's request path: an undici Dispatcher that resolves each request's origin
// through the data plane and sends it straight to a chosen endpoint (no proxy hop):
// resolve -> pick -> endpoint pool; a service request's attempts, retries and timeout are
// service-request.ts's. A service request joins the app's trace when the app has an OpenTelemetry
// SDK registered: its span's parent is the context active at dispatch (mesh-telemetry.ts).
// Give it to undici's request()/fetch()/setGlobalDispatcher(), or use createMesh().fetch.
import { Dispatcher, type Pool } from 'undici';
import type { Dataplane, Destination } from '../dataplane.js';
import { noopLogger, type Logger } from '../logger.js';
import { RetryBudgets, type RetryBudget } from '../proxy/retry-policy.js';
import { failRequest } from './attempt-handler.js';
import { EndpointPools } from './endpoint-pools.js';
import { ERR_CLOSED, MeshError } from './mesh-error.js';
import { MeshTelemetry, startRecord, type TraceCapture } from './mesh-telemetry.js';
import { parseOrigin, withHostHeader, endpointOrigin, type RequestOrigin } from './request-origin.js';
import { ServiceRequest, type RouteContext } from './service-request.js';
import { currentTargetKeys } from './service-targets.js';

export interface MeshDispatcherOptions {
  dataplane: Dataplane;
  /** Options of each endpoint's undici Pool (connections, keep-alive, timeouts). */
  pool?: Pool.Options;
  /** Connect failures retried on another endpoint, per request. Default 2. */
  connectRetries?: number;
  /** How long a request to a name not yet known waits for discovery (on-demand scope). Default 2000 ms. */
  unknownNameWaitMs?: number;
  /**
   * This app's address, the key of `skein.io/hash-key: source-ip` services (the identity's pod
   * IP). Without it, such services get no hash and their picker chooses at random.
   */
  sourceAddress?: string;
  logger?: Logger;
}

type DispatchOptions = Dispatcher.DispatchOptions;
type Handler = Dispatcher.DispatchHandler;

/**
 * Routes every request through the mesh. `dispatch` always returns true: endpoint pools
 * queue, so callers never need to wait for 'drain'. Refusals (unknown service, no endpoint,
 * registry-only) fail the request with a {@link MeshError} carrying the SKEIN_ERR_* code.
 */
export class MeshDispatcher extends Dispatcher {
  readonly dataplane: Dataplane;
  private readonly pools: EndpointPools;
  private readonly context: RouteContext;
  private readonly unknownNameWaitMs: number;
  private readonly unsubscribe: () => void;
  /** Requests waiting for an on-demand name; close() lets them go first. */
  private readonly waiting = new Set<Promise<void>>();
  /** One retry budget per service ("<namespace>/<name>"), as the sidecar keeps them. */
  private readonly budgets = new RetryBudgets();
  private readonly telemetry = new MeshTelemetry();
  private closed = false;
  private destroyed = false;

  constructor(options: MeshDispatcherOptions) {
    super();
    this.dataplane = options.dataplane;
    this.pools = new EndpointPools(options.pool);
    this.context = {
      dataplane: this.dataplane, pools: this.pools, logger: options.logger ?? noopLogger,
      connectRetries: options.connectRetries ?? 2, sourceAddress: options.sourceAddress || undefined,
      retryBudget: (service) => this.retryBudget(service), isClosed: () => this.closed,
    };
    this.unknownNameWaitMs = options.unknownNameWaitMs ?? 2000;
    this.unsubscribe = this.dataplane.onChange(() => this.sweepPools());
  }

  override dispatch(options: DispatchOptions, handler: Handler): boolean {
    if (this.closed) {
      failRequest(handler, new MeshError(ERR_CLOSED, 'skein: the mesh dispatcher is closed'));
      return false;
    }
    const origin = parseOrigin(options.origin);
    if (origin instanceof MeshError) {
      failRequest(handler, origin);
      return false;
    }
    const destination = this.dataplane.resolve(origin.hostname, origin.port);
    if (destination.type === 'reject' && destination.error.code === 'SKEIN_ERR_UNKNOWN_SERVICE') {
      // Captured now: only here is the caller's span the active one.
      const trace = this.telemetry.capture();
      // On-demand discovery: the first request to a name subscribes it; give the control plane
      // a moment to answer instead of failing the request (what the sidecar's proxy does too).
      const waited = this.awaitKnown(origin)
        .then((known) => this.route(options, handler, origin, known, trace))
        .catch((error: unknown) => failRequest(handler, error instanceof Error ? error : new Error(String(error))))
        .finally(() => this.waiting.delete(waited));
      this.waiting.add(waited);
      return true;
    }
    this.route(options, handler, origin, destination, destination.type === 'service' ? this.telemetry.capture() : undefined);
    return true;
  }

  /**
   * Waits (within `unknownNameWaitMs`) until discovery has answered for a first-time name.
   * Its Service and its endpoints are separate resources and may arrive apart: a Service
   * seen without endpoints yet gets the rest of the wait for them.
   */
  private async awaitKnown(origin: RequestOrigin): Promise<Destination> {
    const deadline = Date.now() + this.unknownNameWaitMs;
    await this.dataplane.whenKnown(origin.hostname, this.unknownNameWaitMs);
    let destination = this.dataplane.resolve(origin.hostname, origin.port);
    while (destination.type === 'service' && destination.picker.size === 0 && Date.now() < deadline && !this.closed) {
      await nextChange(this.dataplane, deadline - Date.now());
      destination = this.dataplane.resolve(origin.hostname, origin.port);
    }
    return destination;
  }

  /** The retry budget of `service` ("<namespace>/<name>"): its counters, for tests and diagnostics. */
  retryBudget(service: string): RetryBudget {
    return this.budgets.budget(service);
  }

  /** Keys of the open endpoint pools, for tests and diagnostics. */
  poolKeys(): string[] {
    return this.pools.keys();
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    const done = this.shutdown();
    if (!callback) return done;
    void done.then(() => callback());
  }

  override destroy(): Promise<void>;
  override destroy(error: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(error: Error | null, callback: () => void): void;
  override destroy(errorOrCallback?: Error | null | (() => void), callback?: () => void): Promise<void> | void {
    const error = typeof errorOrCallback === 'function' ? null : errorOrCallback ?? null;
    const cb = typeof errorOrCallback === 'function' ? errorOrCallback : callback;
    this.closed = true;
    this.destroyed = true;
    this.unsubscribe();
    const done = this.pools.destroy(error);
    if (!cb) return done;
    void done.then(() => cb());
  }

  /** Graceful: requests waiting for a name are routed, then every pool drains. */
  private async shutdown(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    await Promise.all(this.waiting);
    await this.pools.close();
  }

  /** Closes the pools of endpoints that left; each name is resolved once per change. */
  private sweepPools(): void {
    const keysByName = new Map<string, ReadonlySet<string>>();
    this.pools.sweep((host, port, key) => {
      const name = `${host}|${String(port)}`;
      let keys = keysByName.get(name);
      if (!keys) {
        keys = currentTargetKeys(this.dataplane, host, port);
        keysByName.set(name, keys);
      }
      return keys.has(key);
    });
  }

  private route(options: DispatchOptions, handler: Handler, origin: RequestOrigin, destination: Destination, trace: TraceCapture | undefined): void {
    // A request that waited for its name while the dispatcher was destroyed has no pool to go to.
    if (this.destroyed) {
      failRequest(handler, new MeshError(ERR_CLOSED, 'skein: the mesh dispatcher was destroyed'));
      return;
    }
    switch (destination.type) {
      case 'reject':
        failRequest(handler, MeshError.from(destination.error));
        return;
      case 'direct': {
        const pool = this.pools.forDirect(origin.protocol, destination.host, destination.port);
        pool.dispatch({
          ...options, origin: endpointOrigin(origin.protocol, destination.host, destination.port),
          headers: withHostHeader(options.headers, origin.authority),
        }, handler);
        return;
      }
      case 'service': {
        const record = trace === undefined ? undefined : startRecord(trace, options, origin, destination);
        new ServiceRequest(this.context, options, handler, origin, destination, record).start();
      }
    }
  }
}

/** Resolves at the data plane's next change, or after `ms`. */
function nextChange(dataplane: Dataplane, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      stop();
      resolve();
    };
    const stop = dataplane.onChange(done);
    const timer = setTimeout(done, ms);
  });
}
