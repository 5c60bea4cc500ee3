// Library mode's request path: an undici Dispatcher that resolves each request's origin
// through the data plane and sends it straight to a chosen endpoint (no proxy hop):
// resolve -> pick -> endpoint pool, with connect failures retried on another endpoint.
// Give it to undici's request()/fetch()/setGlobalDispatcher(), or use createMesh().fetch.
import { Readable } from 'node:stream';
import { Dispatcher, type Pool } from 'undici';
import { requestCounterOf } from '../balancer/request-counter.js';
import { requestHash } from '../balancer/request-hash.js';
import type { AttemptOutcome, Dataplane, Destination, RequestCounter, Target } from '../dataplane.js';
import { noopLogger, type Logger } from '../logger.js';
import { attemptHandler, failRequest, type AttemptObserver } from './attempt-handler.js';
import { EndpointPools } from './endpoint-pools.js';
import { ERR_CLOSED, MeshError } from './mesh-error.js';
import { parseOrigin, withHostHeader, endpointOrigin, headerValue, type RequestOrigin } from './request-origin.js';
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

/**
 * Failures where the request never reached the endpoint, so another endpoint may take it
 * (Envoy's `connect-failure` retry condition; ARCHITECTURE section 5).
 */
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'ETIMEDOUT',
  'EADDRNOTAVAIL', 'EPIPE', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET',
]);
const TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

type ServiceDestination = Extract<Destination, { type: 'service' }>;

/** What a ServiceRequest needs from its dispatcher. */
interface RouteContext {
  readonly dataplane: Dataplane;
  readonly pools: EndpointPools;
  readonly logger: Logger;
  readonly connectRetries: number;
  readonly sourceAddress: string | undefined;
  isClosed(): boolean;
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
  private closed = false;
  private destroyed = false;

  constructor(options: MeshDispatcherOptions) {
    super();
    this.dataplane = options.dataplane;
    this.pools = new EndpointPools(options.pool);
    this.context = {
      dataplane: this.dataplane, pools: this.pools, logger: options.logger ?? noopLogger,
      connectRetries: options.connectRetries ?? 2, sourceAddress: options.sourceAddress || undefined, isClosed: () => this.closed,
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
      // On-demand discovery: the first request to a name subscribes it; give the control plane
      // a moment to answer instead of failing the request (what the sidecar's proxy does too).
      const waited = this.awaitKnown(origin)
        .then((known) => this.route(options, handler, origin, known))
        .catch((error: unknown) => failRequest(handler, error instanceof Error ? error : new Error(String(error))))
        .finally(() => this.waiting.delete(waited));
      this.waiting.add(waited);
      return true;
    }
    this.route(options, handler, origin, destination);
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

  private route(options: DispatchOptions, handler: Handler, origin: RequestOrigin, destination: Destination): void {
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
      case 'service':
        new ServiceRequest(this.context, options, handler, origin, destination).attempt();
    }
  }
}

/** One request to a mesh service: its attempts, the endpoints tried, and what it reports. */
class ServiceRequest implements AttemptObserver {
  private readonly tried = new Set<string>();
  private readonly poolOptions: DispatchOptions;
  /** The request's hash for hashing pickers (`skein.io/hash-key`), computed once. */
  private readonly hash: number | undefined;
  /** The current picker's outstanding-request counter (least request), if it has one. */
  private load: RequestCounter | undefined;
  private retries = 0;
  private target!: Target;
  private isStarted = false;
  private reported = false;
  /** An attempt was counted as started and not yet as finished. */
  private counting = false;

  constructor(
    private readonly context: RouteContext,
    options: DispatchOptions,
    private readonly handler: Handler,
    private readonly origin: RequestOrigin,
    private destination: ServiceDestination,
  ) {
    this.poolOptions = { ...options, headers: withHostHeader(options.headers, origin.authority) };
    const headers = this.poolOptions.headers;
    this.hash = destination.hashKey === undefined
      ? undefined
      : requestHash(destination.hashKey, (name) => headerValue(headers, name), context.sourceAddress);
    this.load = requestCounterOf(destination.picker);
  }

  /** Picks an endpoint (avoiding those tried) and sends the request to its pool. */
  attempt(): void {
    const exclude = this.tried.size > 0 ? this.tried : undefined;
    const clientIp = this.destination.affinity === undefined ? undefined : this.context.sourceAddress;
    // ClientIP affinity keys on this pod's IP: every request of this process is one client.
    const picked = clientIp !== undefined ? this.destination.affinity!.pick(clientIp, exclude, this.hash) : this.destination.picker.pick(exclude, this.hash);
    if (picked.type === 'fail') {
      failRequest(this.handler, MeshError.from(picked.error));
      return;
    }
    this.send(picked.target);
  }

  started(): void {
    this.isStarted = true;
  }

  responded(statusCode: number): void {
    if (statusCode >= 500) this.report('http-5xx');
  }

  completed(): void {
    this.finish();
    this.report('success');
  }

  failed(error: Error): boolean {
    this.finish();
    const code = (error as { code?: unknown }).code;
    if (this.isStarted || typeof code !== 'string' || !CONNECT_ERRORS.has(code)) {
      this.report(typeof code === 'string' && TIMEOUTS.has(code) ? 'timeout' : 'reset');
      return false;
    }
    this.report('connect-error');
    this.tried.add(this.target.key);
    const { connectRetries, logger, dataplane } = this.context;
    if (this.context.isClosed() || this.retries >= connectRetries || !this.replayable()) return false;
    // Re-resolve: the config may have changed since the first pick (the failed endpoint may be gone).
    const destination = dataplane.resolve(this.origin.hostname, this.origin.port);
    if (destination.type !== 'service') return false;
    const sourceAddress = destination.affinity === undefined ? undefined : this.context.sourceAddress;
    const next = sourceAddress !== undefined ? destination.affinity!.pick(sourceAddress, this.tried, this.hash) : destination.picker.pick(this.tried, this.hash);
    if (next.type === 'fail' || this.tried.has(next.target.key)) return false;
    logger.debug({ service: destination.service, failed: this.target.key, next: next.target.key, code }, 'library: connect failed, retrying on another endpoint');
    if (destination !== this.destination) this.load = requestCounterOf(destination.picker);
    this.destination = destination;
    this.retries++;
    // Not from inside the failing pool's callback.
    queueMicrotask(() => this.send(next.target));
    return true;
  }

  private send(target: Target): void {
    this.target = target;
    this.reported = false;
    if (this.load !== undefined) {
      this.load.started(target);
      this.counting = true;
    }
    const pool = this.context.pools.forTarget(this.origin.protocol, target, this.origin.hostname, this.origin.port);
    pool.dispatch({ ...this.poolOptions, origin: endpointOrigin(this.origin.protocol, target.address, target.port) }, attemptHandler(this.handler, this));
  }

  /** Ends the current attempt's outstanding count, once (completed, failed, aborted). */
  private finish(): void {
    if (!this.counting) return;
    this.counting = false;
    this.load!.finished(this.target);
  }

  private report(outcome: AttemptOutcome): void {
    if (this.reported) return;
    this.reported = true;
    this.context.dataplane.report(this.destination.service, this.target, outcome);
  }

  /** A failed connect leaves the body unread; a stream something else already read cannot be sent again. */
  private replayable(): boolean {
    const body = this.poolOptions.body;
    return !(body instanceof Readable) || (!body.destroyed && !body.readableDidRead);
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
