// One forwarded HTTP/1.1 request (see http-forwarder.ts for the policy it follows): picks and
// admits an endpoint, sends through the endpoint's undici pool, retries, times out, and settles
// its counters exactly once per attempt.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { DestinationError, RequestCounter, Target } from '../dataplane.js';
import type { RequestRecord } from '../telemetry/request-telemetry.js';
import type { TargetCounters } from './cluster-stats.js';
import { requestCounterFor, serviceLabel } from './destination.js';
import { forwardHeaders, KEEP_TRANSFER_ENCODING, setHeaders } from './hop-headers.js';
import { writeErrorResponse, type ForwardRequest, type HttpForwarder } from './http-forwarder.js';
import { badRequest, connectFailed, overflow, upstreamFailed, upstreamTimeout } from './proxy-errors.js';
import { RequestBody } from './request-body.js';
import { isIdempotent, isRetryableStatus } from './retry-policy.js';
import { RetryTargets } from './retry-targets.js';
import { isRequestRejected, upstreamCause, UpstreamAttempt, type AttemptListener } from './upstream-attempt.js';

const noop = (): void => undefined;

/** One client request across its attempts. */
export class Exchange implements AttemptListener {
  private readonly label: string;
  private readonly bodyless: boolean;
  /** The upstream request; `body` is set per attempt. */
  private readonly upstreamRequest: Dispatcher.DispatchOptions;
  /** The picker's outstanding-request counter (least request): started per attempt, finished on settle. */
  private readonly load: RequestCounter | undefined;
  /** Retry allowances, the retry budget and the endpoints tried. */
  private readonly retries: RetryTargets;
  private overallTimer: NodeJS.Timeout | undefined;
  private timedOut = false;
  private finished = false;
  /** The attempt whose events count; undefined once the exchange left it for good. */
  private current: UpstreamAttempt | undefined;
  private target!: Target;
  private counters!: TargetCounters;
  private responded = false;
  private responseDone = false;
  /** Restarts the upstream body after the client's socket drained. */
  private resumeUpstream: (() => void) | undefined;
  private onDrain: (() => void) | undefined;
  /** The current attempt waits in the pool for a connection (counted in `counters.pending`). */
  private pending = false;
  private settled = true;
  private clientGone = false;
  /** The SKEIN_ERR_* code the client was answered with, if any. */
  private errorCode: string | undefined;

  constructor(
    private readonly forwarder: HttpForwarder,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly forward: ForwardRequest,
    /** The upstream header list (upstream-request.ts); trace headers are set on it per attempt. */
    private readonly headers: string[],
    hash: number | undefined,
    /** The client's address for ClientIP affinity (undefined without affinity). */
    clientIp: string | undefined,
    /** A Set-Cookie value for the response: the hash cookie this client lacked. */
    private readonly setCookie: string | undefined,
    /** This request's span and metrics, when recorded. */
    private readonly record: RequestRecord | undefined,
  ) {
    this.load = requestCounterFor(forward.destination);
    this.label = serviceLabel(forward.destination);
    const length = req.headers['content-length'];
    this.bodyless = req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0');
    this.upstreamRequest = { method: req.method as Dispatcher.HttpMethod, path: forward.path, headers, body: null };
    const destination = forward.destination;
    const policy = destination.type === 'service' ? destination : undefined;
    // Policy retries (`skein.io/retries`) only for idempotent requests without a body.
    const policyRetries = this.bodyless && isIdempotent(req.method) ? policy?.retries ?? 0 : 0;
    const { maxConnectRetries, logger } = forwarder.options;
    this.retries = new RetryTargets(destination, hash, clientIp, forwarder.budget(this.label), maxConnectRetries, policyRetries, logger, forward.what);
    const timeoutMs = policy?.timeoutMs;
    if (timeoutMs !== undefined && timeoutMs > 0) this.overallTimer = setTimeout(() => this.onTimeout(timeoutMs), timeoutMs);
    res.on('error', noop);
    res.once('close', () => this.onClientClose());
  }

  attempt(picked: Target): void {
    const target = this.admit(picked);
    if (target === undefined) return;
    this.target = target;
    const pool = this.forwarder.pools.get(target);
    this.counters = this.forwarder.options.stats.counters(this.label, target.key);
    this.counters.total++;
    this.counters.active++;
    this.pending = pool.full;
    if (this.pending) this.counters.pending++;
    this.load?.started(target);
    this.settled = false;
    if (this.record !== undefined) {
      const destination = this.forward.destination;
      const trace = this.record.attempt(target, destination.type === 'service' ? destination.affinity?.lastHit : undefined);
      if (trace !== undefined) setHeaders(this.headers, trace);
    }
    const attempt = new UpstreamAttempt(this, pool);
    this.current = attempt;
    // A fresh body per attempt: one that failed to connect was never read (see request-body.ts).
    this.upstreamRequest.body = this.bodyless ? null : new RequestBody(this.req);
    pool.dispatch(this.upstreamRequest, attempt);
  }

  /**
   * Circuit breaking: `picked`, or when it is full another endpoint not yet tried, or
   * undefined after answering 503 SKEIN_ERR_OVERFLOW when every endpoint is full.
   */
  private admit(picked: Target): Target | undefined {
    const { forwarder, forward } = this;
    let candidate: Target | undefined = picked;
    while (candidate !== undefined) {
      const counters = forwarder.options.stats.counters(this.label, candidate.key);
      if (!forwarder.full(candidate, counters)) return candidate;
      counters.overflows++;
      candidate = this.retries.overflow(candidate);
    }
    forwarder.options.logger.debug({ what: forward.what, target: picked.key }, 'every endpoint is at its request limit');
    this.clearOverallTimer();
    this.fail(overflow(forward.what));
    return undefined;
  }

  onUpstreamConnect(): void {
    this.leavePending();
  }

  onUpstreamHeaders(status: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    // Interim responses (103 Early Hints…) are not relayed, as node's http client skipped them.
    if (status < 200) return true;
    const { res, req } = this;
    if (res.destroyed) {
      this.responded = true;
      this.leaveAttempt();
      return false;
    }
    if (status >= 500) this.counters.errors++;
    this.report(status >= 500 ? 'http-5xx' : 'success');
    if (isRetryableStatus(status) && this.retries.mayPolicyRetry) {
      const failed = this.target;
      const next = this.policyRetryTarget();
      if (next) {
        // The failed answer is discarded: aborting closes its connection (draining an
        // unknown-size body could take as long as the request itself).
        this.leaveAttempt();
        this.settle();
        this.record?.attemptFailed(String(status));
        this.forwarder.options.logger.debug({ what: this.forward.what, failed: failed.key, next: next.key, status }, 'gateway error; retrying on another endpoint');
        this.attempt(next);
        return false;
      }
    }
    this.responded = true;
    this.resumeUpstream = resume;
    // An early answer (401, 413…) before the upload finished: the rest of the body has nowhere
    // to go, so close the client connection after the response rather than drain it.
    if (!req.complete) res.shouldKeepAlive = false;
    const headers = forwardHeaders(latin1(rawHeaders), req.httpVersionMinor === 0 ? 0 : KEEP_TRANSFER_ENCODING);
    if (this.setCookie !== undefined) headers.push('Set-Cookie', this.setCookie);
    res.writeHead(status, statusText || undefined, headers);
    return true;
  }

  onUpstreamData(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
    // The client reads slower than the endpoint sends: pause the endpoint until it drains.
    this.res.once('drain', this.onDrain ??= () => this.resumeUpstream?.());
    return false;
  }

  onUpstreamComplete(rawTrailers: ReadonlyArray<Buffer | string> | null): void {
    this.responseDone = true;
    this.clearOverallTimer();
    if (rawTrailers !== null && rawTrailers.length > 0) {
      const pairs: Array<[string, string]> = [];
      for (let i = 0; i + 1 < rawTrailers.length; i += 2) pairs.push([text(rawTrailers[i]!), text(rawTrailers[i + 1]!)]);
      this.res.addTrailers(pairs);
    }
    this.res.end();
  }

  onUpstreamError(attempt: UpstreamAttempt, error: Error): void {
    this.current = undefined;
    if (this.clientGone) return;
    const { counters, target } = this;
    if (this.responded) {
      // Mid-response (a complete response ends the request for undici: no error follows it).
      // The endpoint died: the only honest signal left is to reset the client.
      if (this.responseDone || this.timedOut) return;
      counters.errors++;
      this.report('reset');
      this.res.destroy();
      return;
    }
    this.settle();
    const what = this.forward.what;
    if (!attempt.connected) {
      if (isRequestRejected(error)) {
        // Not the endpoint's fault, and undici may have left a connection marked busy.
        attempt.pool.retire();
        this.fail(badRequest(`the request cannot be forwarded: ${error.message}`));
        return;
      }
      counters.connectFailures++;
      const cause = upstreamCause(error);
      this.report(cause === 'ETIMEDOUT' ? 'timeout' : 'connect-error');
      const next = this.retries.connectRetry(target);
      if (next) {
        this.record?.attemptFailed('connect-error');
        this.forwarder.options.logger.debug({ what, failed: target.key, next: next.key, cause }, 'connect failed; retrying on another endpoint');
        this.attempt(next);
        return;
      }
      this.fail(connectFailed(what, target.key, cause));
      return;
    }
    if (attempt.reused && this.bodyless && this.retries.resend()) {
      // A pooled connection the endpoint closed while idle (the keep-alive race): the request
      // never reached the application, so send it again on a fresh connection.
      this.record?.attemptFailed('reset');
      this.attempt(target);
      return;
    }
    counters.errors++;
    this.report('reset');
    const next = this.policyRetryTarget();
    if (next) {
      this.record?.attemptFailed('reset');
      this.forwarder.options.logger.debug({ what, failed: target.key, next: next.key, cause: upstreamCause(error) }, 'reset before response; retrying on another endpoint');
      this.attempt(next);
      return;
    }
    this.fail(upstreamFailed(what, target.key, upstreamCause(error)));
  }

  /** The endpoint for a policy retry after the current attempt failed (none once timed out). */
  private policyRetryTarget(): Target | undefined {
    return this.timedOut ? undefined : this.retries.policyRetry(this.target);
  }

  /** `skein.io/timeout` passed before the response ended: 504, or a reset once headers went out. */
  private onTimeout(timeoutMs: number): void {
    this.overallTimer = undefined;
    if (this.clientGone || this.responseDone || this.res.writableFinished) return;
    this.timedOut = true;
    if (!this.settled) {
      this.counters.errors++;
      // One outcome per attempt: a response that started was already reported.
      if (!this.responded) this.report('timeout');
    }
    this.settle();
    this.leaveAttempt();
    this.forwarder.options.logger.debug({ what: this.forward.what, target: this.target.key, timeoutMs }, 'request timed out');
    this.fail(upstreamTimeout(this.forward.what, timeoutMs));
  }

  private onClientClose(): void {
    if (!this.res.writableFinished) {
      this.clientGone = true;
      this.errorCode ??= 'client-closed';
      this.leaveAttempt();
    }
    this.settle();
    this.finish();
  }

  /** Stops listening to the current attempt and aborts it (or drops it, if still waiting). */
  private leaveAttempt(): void {
    const attempt = this.current;
    this.current = undefined;
    attempt?.leave();
  }

  /** The client's response is over (exactly once): leave the budget, stop the overall timer. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.clearOverallTimer();
    if (this.record !== undefined) {
      const res = this.res;
      // Cut short after the head: the client saw the status, but not a whole response.
      const error = this.errorCode ?? (res.headersSent && !res.writableFinished ? 'reset' : undefined);
      this.record.end(res.headersSent ? res.statusCode : 0, error);
    }
    this.retries.release();
  }

  private clearOverallTimer(): void {
    if (this.overallTimer !== undefined) {
      clearTimeout(this.overallTimer);
      this.overallTimer = undefined;
    }
  }

  /** Answers with a proxy error (remembered for telemetry). */
  private fail(error: DestinationError): void {
    this.errorCode = error.code;
    writeErrorResponse(this.req, this.res, error);
  }

  /** The current attempt ended (exactly once per attempt). */
  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.leavePending();
    this.counters.active--;
    this.load?.finished(this.target);
  }

  private leavePending(): void {
    if (!this.pending) return;
    this.pending = false;
    this.counters.pending--;
  }

  private report(outcome: 'success' | 'connect-error' | 'reset' | 'timeout' | 'http-5xx'): void {
    const destination = this.forward.destination;
    if (destination.type === 'service') this.forwarder.options.dataplane?.report(destination.service, this.target, outcome);
  }
}

/** undici's raw header Buffers as the strings node's parser would give (latin1: bytes kept). */
function latin1(raw: readonly Buffer[]): string[] {
  const out = new Array<string>(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw[i]!.toString('latin1');
  return out;
}

function text(value: Buffer | string): string {
  return typeof value === 'string' ? value : value.toString('latin1');
}
