// One request of library mode to a mesh service, across its attempts: picks an endpoint,
// retries on another one, times out, and reports each attempt. It follows the policy of the
// sidecar's HTTP/1.1 proxy (proxy/http-exchange.ts, proxy/retry-policy.ts):
// - a failed connect (the request never left) is retried on another endpoint, `connectRetries` times;
// - `skein.io/retries: N` retries an idempotent request without a body that got 502/503/504 or
//   whose connection was reset before the response head, on an endpoint not yet tried, up to N
//   times, within the service's retry budget (Envoy's: max(3, 20% of active) retrying at once);
// - `skein.io/timeout` bounds the request from dispatch to the end of its response, across attempts.
// Its span (mesh-telemetry.ts), when the app traces: each attempt carries its own trace context,
// a retry marks the attempt before it failed, and the span ends with what the caller got.
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { requestCounterOf } from '../balancer/request-counter.js';
import { requestHash } from '../balancer/request-hash.js';
import type { AttemptOutcome, Dataplane, Destination, PickResult, RequestCounter, Target } from '../dataplane.js';
import type { Logger } from '../logger.js';
import { isIdempotent, isRetryableStatus, RetrySeat, type RetryBudget } from '../proxy/retry-policy.js';
import type { RequestRecord } from '../telemetry/request-telemetry.js';
import { callerOf, type AttemptObserver, type Caller } from './attempt-handler.js';
import type { EndpointPools } from './endpoint-pools.js';
import { ERR_CLOSED, ERR_TIMEOUT, MeshError } from './mesh-error.js';
import { endpointOrigin, headerValue, withHeaders, withHostHeader, type RequestOrigin } from './request-origin.js';

export type ServiceDestination = Extract<Destination, { type: 'service' }>;
type DispatchOptions = Dispatcher.DispatchOptions;

/**
 * Failures where the request never reached the endpoint, so another endpoint may take it
 * (Envoy's `connect-failure` retry condition; ARCHITECTURE section 5).
 */
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'ETIMEDOUT',
  'EADDRNOTAVAIL', 'EPIPE', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET',
]);
/** The connection closed under a request that was sent (Envoy's `reset` retry condition). */
const RESETS = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);
const TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/** What a ServiceRequest needs from its dispatcher. */
export interface RouteContext {
  readonly dataplane: Dataplane;
  readonly pools: EndpointPools;
  readonly logger: Logger;
  readonly connectRetries: number;
  readonly sourceAddress: string | undefined;
  /** The retry budget of `service` ("<namespace>/<name>"), shared by its requests. */
  retryBudget(service: string): RetryBudget;
  isClosed(): boolean;
}

/** A request to a mesh service: its attempts, the endpoints tried, its budget and timer. */
export class ServiceRequest extends RetrySeat {
  private readonly caller: Caller;
  /** Endpoints tried, made on the first retry (most requests have none). */
  private tried: Set<string> | undefined;
  /** The caller's headers with a Host header added when it had none; the rest of `options` as given. */
  private readonly headers: DispatchOptions['headers'];
  /** The request's hash for hashing pickers (`skein.io/hash-key`), computed once. */
  private readonly hash: number | undefined;
  private connectRetriesLeft: number;
  /** `skein.io/retries` left: 0 unless the request is idempotent and has no body. */
  private policyRetriesLeft: number;
  private timer: NodeJS.Timeout | undefined;
  /** The attempt that speaks for the request; undefined between attempts and once it was left. */
  private attempt: Attempt | undefined;
  /** The caller has the response head: from here on nothing is retried. */
  private responding = false;
  /** The status of that head. */
  private status = 0;
  /** Whether the last pick returned the remembered endpoint of ClientIP affinity (for the span). */
  private affinityHit: boolean | undefined;
  /** The caller has heard the end (response end, upgrade or error). */
  private ended = false;

  constructor(
    private readonly context: RouteContext,
    private readonly options: DispatchOptions,
    handler: Dispatcher.DispatchHandler,
    private readonly origin: RequestOrigin,
    private destination: ServiceDestination,
    /** This request's span, when the app traces. */
    private readonly record: RequestRecord | undefined,
  ) {
    super(context.retryBudget(destination.service));
    this.caller = callerOf(handler, (reason) => this.abort(reason));
    const headers = this.headers = withHostHeader(options.headers, origin.authority);
    this.hash = destination.hashKey === undefined
      ? undefined
      : requestHash(destination.hashKey, (name) => headerValue(headers, name), context.sourceAddress);
    this.connectRetriesLeft = context.connectRetries;
    const retryable = isIdempotent(options.method) && isEmpty(options.body) && !options.upgrade;
    this.policyRetriesLeft = retryable ? destination.retries ?? 0 : 0;
    const timeoutMs = destination.timeoutMs;
    if (timeoutMs !== undefined && timeoutMs > 0) this.timer = setTimeout(() => this.timeOut(timeoutMs), timeoutMs);
  }

  /** Sends the first attempt. */
  start(): void {
    const picked = this.pick(this.destination, undefined);
    if (picked.type === 'fail') {
      this.fail(MeshError.from(picked.error));
      return;
    }
    this.send(picked.target);
  }

  /** Whether the caller gets this attempt's 5xx, or the request tries another endpoint. */
  onResponse(attempt: Attempt, statusCode: number): void {
    if (isRetryableStatus(statusCode)) {
      const next = this.policyRetry(attempt.target);
      if (next !== undefined) {
        this.context.logger.debug({ service: attempt.service, failed: attempt.target.key, next: next.key, status: statusCode }, 'library: gateway error, retrying on another endpoint');
        // The failed answer must not reach the caller: abort the attempt, which closes its
        // connection. Draining it instead (drop data, retry at its end) would keep the connection
        // in the pool, but a body of unknown size can take as long as the request itself and
        // holds the retry back, for a connection to an endpoint that just failed. The sidecar
        // does the same (proxy/http-exchange.ts).
        this.retry(next, String(statusCode));
        return;
      }
    }
    this.responding = true;
    this.status = statusCode;
  }

  onComplete(): void {
    this.end();
  }

  /** The current attempt failed: retry it elsewhere, or end the request (the caller then hears the error). */
  onFailure(attempt: Attempt, error: Error): void {
    const code = (error as { code?: unknown }).code;
    const known = typeof code === 'string' ? code : '';
    let next: Target | undefined;
    if (!attempt.isStarted && CONNECT_ERRORS.has(known)) {
      attempt.report('connect-error');
      next = this.connectRetry(attempt.target);
    } else if (attempt.isStarted && !this.responding && RESETS.has(known)) {
      attempt.report('reset');
      next = this.policyRetry(attempt.target);
    } else {
      attempt.report(TIMEOUTS.has(known) ? 'timeout' : 'reset');
    }
    if (next === undefined) {
      this.end(errorType(error));
      return;
    }
    this.context.logger.debug({ service: attempt.service, failed: attempt.target.key, next: next.key, code }, 'library: attempt failed, retrying on another endpoint');
    this.retry(next, attempt.isStarted ? 'reset' : 'connect-error');
  }

  /** True while `attempt` speaks for the request. */
  isCurrent(attempt: Attempt): boolean {
    return this.attempt === attempt;
  }

  private send(target: Target): void {
    // Timed out or aborted while the retry was on its way.
    if (this.ended) return;
    const attempt = new Attempt(this, this.context, target, this.destination.service, requestCounterOf(this.destination.picker));
    this.attempt = attempt;
    const pool = this.context.pools.forTarget(this.origin.protocol, target, this.origin.hostname, this.origin.port);
    // The attempt's trace context replaces any the app sent: the endpoint's parent is its span.
    const trace = this.record?.attempt(target, this.affinityHit);
    const headers = trace === undefined ? this.headers : withHeaders(this.headers, trace);
    pool.dispatch({ ...this.options, headers, origin: endpointOrigin(this.origin.protocol, target.address, target.port) }, this.caller.attempt(attempt));
  }

  /** Leaves the current attempt, which failed with `reason` (for its span), for one on `next`. */
  private retry(next: Target, reason: string): void {
    this.record?.attemptFailed(reason);
    this.leave(new Error('skein: superseded by a retry'));
    // Not from inside the failing pool's callback. A dispatcher closed meanwhile has let go of
    // its pools: a new one would never be closed.
    queueMicrotask(() => {
      if (this.context.isClosed()) this.fail(new MeshError(ERR_CLOSED, 'skein: the mesh dispatcher closed before a retry was sent'));
      else this.send(next);
    });
  }

  /** The endpoint for a connect retry, taking one, or undefined. */
  private connectRetry(failed: Target): Target | undefined {
    if (this.connectRetriesLeft <= 0 || !this.replayable()) return undefined;
    const next = this.nextTarget(failed);
    if (next !== undefined) this.connectRetriesLeft--;
    return next;
  }

  /**
   * The endpoint for a policy retry (`skein.io/retries`), or undefined: none left, the budget is
   * spent, or no endpoint not yet tried. Takes one retry (and for the first, a place in the budget).
   */
  private policyRetry(failed: Target): Target | undefined {
    if (this.policyRetriesLeft <= 0) return undefined;
    if (!this.budgetAllowsRetry()) {
      this.context.logger.debug({ service: this.destination.service, active: this.budget.active, retrying: this.budget.retrying }, 'library: retry budget exhausted, not retrying');
      return undefined;
    }
    const next = this.nextTarget(failed);
    if (next === undefined) return undefined;
    this.enterRetry();
    this.policyRetriesLeft--;
    return next;
  }

  /** An endpoint not yet tried, from the current config (the failed one may have left it). */
  private nextTarget(failed: Target): Target | undefined {
    const tried = this.tried ??= new Set<string>();
    tried.add(failed.key);
    if (this.ended || this.context.isClosed()) return undefined;
    const destination = this.context.dataplane.resolve(this.origin.hostname, this.origin.port);
    if (destination.type !== 'service') return undefined;
    const next = this.pick(destination, tried);
    if (next.type === 'fail' || tried.has(next.target.key)) return undefined;
    this.destination = destination;
    return next.target;
  }

  /** Picks an endpoint of `destination`, noting for the span whether affinity kept the remembered one. */
  private pick(destination: ServiceDestination, exclude: ReadonlySet<string> | undefined): PickResult {
    const { sourceAddress } = this.context;
    const { affinity } = destination;
    if (affinity === undefined || sourceAddress === undefined) {
      this.affinityHit = undefined;
      return destination.picker.pick(exclude, this.hash);
    }
    // ClientIP affinity keys on this pod's IP: every request of this process is one client.
    const picked = affinity.pick(sourceAddress, exclude, this.hash);
    this.affinityHit = affinity.lastHit;
    return picked;
  }

  /** The caller aborted: end the running attempt; nothing to report (the endpoint did no wrong). */
  private abort(reason: Error): void {
    if (this.ended) return;
    this.leave(reason);
    this.fail(reason, 'client-closed');
  }

  /** `skein.io/timeout` passed before the response ended (headers awaited or body streaming). */
  private timeOut(timeoutMs: number): void {
    this.timer = undefined;
    if (this.ended) return;
    const error = new MeshError(ERR_TIMEOUT,
      `skein: request to ${this.origin.hostname}:${String(this.origin.port)} (service ${this.destination.service}) timed out after ${String(timeoutMs)} ms`, 504);
    this.attempt?.report('timeout');
    this.context.logger.debug({ service: this.destination.service, target: this.attempt?.target.key, timeoutMs }, 'library: request timed out');
    this.leave(error);
    this.fail(error);
  }

  /** Ends the request with `error` for the caller, unless it has ended; `type` is what its span records. */
  private fail(error: Error, type = errorType(error)): void {
    if (this.ended) return;
    this.end(type);
    this.caller.fail(error);
  }

  /** Leaves the current attempt: it is aborted (now, or once it starts), its events go nowhere. */
  private leave(reason: Error): void {
    const attempt = this.attempt;
    this.attempt = undefined;
    attempt?.abandon(reason);
  }

  /**
   * The request is over for the caller (exactly once): stop the timer, leave the budget, end the
   * span with the status the caller got (0: none) and, when it failed, `error` (a code).
   */
  private end(error?: string): void {
    if (this.ended) return;
    this.ended = true;
    this.record?.end(this.responding ? this.status : 0, error);
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.leaveBudget();
  }

  /** A failed connect leaves the body unread; a stream something else already read cannot be sent again. */
  private replayable(): boolean {
    const body = this.options.body;
    return !(body instanceof Readable) || (!body.destroyed && !body.readableDidRead);
  }
}

/**
 * One attempt on one endpoint: counted in least request from send to its end, reported to
 * passive health exactly once, and abortable once undici has started it.
 */
class Attempt implements AttemptObserver {
  isStarted = false;
  private abortAttempt: ((reason: Error) => void) | undefined;
  /** Why the request left this attempt, if it did. */
  private abandoned: Error | undefined;
  /** undici delivered its end (complete or error). */
  private settled = false;
  private reported = false;

  constructor(
    private readonly request: ServiceRequest,
    private readonly context: RouteContext,
    readonly target: Target,
    readonly service: string,
    private readonly load: RequestCounter | undefined,
  ) {
    load?.started(target);
  }

  get current(): boolean {
    return this.request.isCurrent(this);
  }

  started(abort: (reason: Error) => void): void {
    this.isStarted = true;
    this.abortAttempt = abort;
    // Left while it waited for a connection: it has nothing left to do.
    if (this.abandoned !== undefined) abort(this.abandoned);
  }

  responded(statusCode: number): void {
    if (statusCode >= 500) this.report('http-5xx');
    if (this.current) this.request.onResponse(this, statusCode);
  }

  completed(): void {
    this.settle();
    this.report('success');
    if (this.current) this.request.onComplete();
  }

  failed(error: Error): void {
    this.settle();
    if (this.current) this.request.onFailure(this, error);
  }

  /** The request no longer needs this attempt. */
  abandon(reason: Error): void {
    this.abandoned = reason;
    if (!this.settled) this.abortAttempt?.(reason);
  }

  /** Reports the attempt's outcome, once. */
  report(outcome: AttemptOutcome): void {
    if (this.reported) return;
    this.reported = true;
    this.context.dataplane.report(this.service, this.target, outcome);
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.load?.finished(this.target);
  }
}

/** What a span records for an error: its code (SKEIN_ERR_*, ECONNREFUSED, UND_ERR_*), else its name. */
function errorType(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code !== '' ? code : error.name;
}

/** No body, or an empty one: nothing is lost by sending the request again. */
function isEmpty(body: DispatchOptions['body']): boolean {
  if (body === undefined || body === null) return true;
  if (typeof body === 'string') return body.length === 0;
  return body instanceof Uint8Array && body.byteLength === 0;
}
