// One forwarded HTTP/1.1 request (see http-forwarder.ts for the policy it follows): picks and
// admits an endpoint, sends, retries, times out, and settles its counters exactly once.
import { request, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { RequestCounter, Target } from '../dataplane.js';
import type { TargetCounters } from './cluster-stats.js';
import { requestCounterFor, serviceLabel } from './destination.js';
import { forwardHeaders, KEEP_TRANSFER_ENCODING, setHeaders } from './hop-headers.js';
import { causeOf, connectFailed, overflow, upstreamFailed, upstreamTimeout } from './proxy-errors.js';
import { isIdempotent, isRetryableStatus } from './retry-policy.js';
import { RetryTargets } from './retry-targets.js';

import type { RequestRecord } from '../telemetry/request-telemetry.js';
import type { DestinationError } from '../dataplane.js';
import { writeErrorResponse, type ForwardRequest, type HttpForwarder } from './http-forwarder.js';

const noop = (): void => undefined;

export /** One client request across its attempts. */
class Exchange {
  private readonly headers: string[];
  private readonly label: string;
  private readonly bodyless: boolean;
  /** The picker's outstanding-request counter (least request): started per attempt, finished on settle. */
  private readonly load: RequestCounter | undefined;
  /** Retry allowances, the retry budget and the endpoints tried. */
  private readonly retries: RetryTargets;
  private overallTimer: NodeJS.Timeout | undefined;
  private timedOut = false;
  private finished = false;
  private upstream: ClientRequest | undefined;
  private target!: Target;
  private counters!: TargetCounters;
  private timer: NodeJS.Timeout | undefined;
  private connected = false;
  private responded = false;
  private responseDone = false;
  /** The current attempt waits in the pool for a socket (counted in `counters.pending`). */
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
    private readonly hash: number | undefined,
    /** The client's address for ClientIP affinity (undefined without affinity). */
    private readonly clientIp: string | undefined,
    /** A Set-Cookie value for the response: the hash cookie this client lacked. */
    private readonly setCookie: string | undefined,
    /** This request's span and metrics, when recorded. */
    private readonly record: RequestRecord | undefined,
  ) {
    this.load = requestCounterFor(forward.destination);
    this.headers = forwardHeaders(req.rawHeaders, KEEP_TRANSFER_ENCODING);
    if (forward.addHost !== undefined) this.headers.push('Host', forward.addHost);
    if (forward.setHeaders !== undefined) setHeaders(this.headers, forward.setHeaders);
    this.label = serviceLabel(forward.destination);
    const length = req.headers['content-length'];
    this.bodyless = req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0');
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
    this.counters = this.forwarder.options.stats.counters(this.label, target.key);
    this.counters.total++;
    this.counters.active++;
    this.pending = this.forwarder.poolFull(target);
    if (this.pending) this.counters.pending++;
    this.load?.started(target);
    this.settled = false;
    this.connected = false;
    if (this.record !== undefined) {
      const destination = this.forward.destination;
      const trace = this.record.attempt(target, destination.type === 'service' ? destination.affinity?.lastHit : undefined);
      if (trace !== undefined) setHeaders(this.headers, trace);
    }
    const up = request({
      host: target.address, port: target.port, method: this.req.method, path: this.forward.path,
      headers: this.headers, agent: this.forwarder.agent,
    });
    this.upstream = up;
    up.once('socket', (socket: Socket) => this.onSocket(up, socket));
    up.once('response', (response: IncomingMessage) => this.onResponse(up, response));
    up.on('error', (error: Error) => this.onUpstreamError(up, error));
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

  private onSocket(up: ClientRequest, socket: Socket): void {
    if (up !== this.upstream) return;
    this.leavePending();
    if (this.clientGone) return;
    if (!socket.connecting) {
      this.onConnect(up);
      return;
    }
    const timeoutMs = this.forwarder.options.connectTimeoutMs;
    this.timer = setTimeout(() => {
      const error: NodeJS.ErrnoException = new Error(`connect timed out after ${timeoutMs} ms`);
      error.code = 'ETIMEDOUT';
      up.destroy(error);
    }, timeoutMs);
    socket.once('connect', () => this.onConnect(up));
  }

  private onConnect(up: ClientRequest): void {
    this.clearTimer();
    if (up !== this.upstream || this.clientGone) return;
    this.connected = true;
    // Only now may body bytes leave the client's socket (see the header comment).
    if (this.req.readableEnded) up.end();
    else this.req.pipe(up);
  }

  private onResponse(up: ClientRequest, response: IncomingMessage): void {
    if (up !== this.upstream) return;
    const { res, req } = this;
    if (this.clientGone || res.destroyed) {
      this.responded = true;
      up.destroy();
      return;
    }
    const status = response.statusCode ?? 502;
    if (status >= 500) this.counters.errors++;
    this.report(status >= 500 ? 'http-5xx' : 'success');
    if (isRetryableStatus(status) && this.retries.mayPolicyRetry) {
      const failed = this.target;
      const next = this.policyRetryTarget();
      if (next) {
        // The failed answer is discarded: destroying the request closes its connection
        // (draining an unknown-size body could take as long as the request itself).
        response.on('error', noop);
        up.destroy();
        this.settle();
        this.record?.attemptFailed(String(status));
        this.forwarder.options.logger.debug({ what: this.forward.what, failed: failed.key, next: next.key, status }, 'gateway error; retrying on another endpoint');
        this.attempt(next);
        return;
      }
    }
    this.responded = true;
    const flags = req.httpVersionMinor === 0 ? 0 : KEEP_TRANSFER_ENCODING;
    // An early answer (401, 413…) before the upload finished: the rest of the body has nowhere
    // to go, so close the client connection after the response rather than drain it.
    if (!req.complete) res.shouldKeepAlive = false;
    const headers = forwardHeaders(response.rawHeaders, flags);
    if (this.setCookie !== undefined) headers.push('Set-Cookie', this.setCookie);
    res.writeHead(status, response.statusMessage || undefined, headers);
    response.pipe(res, { end: false });
    response.once('end', () => {
      this.responseDone = true;
      this.clearOverallTimer();
      const trailers = response.rawTrailers;
      if (trailers.length > 0) {
        const pairs: Array<[string, string]> = [];
        for (let i = 0; i < trailers.length; i += 2) pairs.push([trailers[i]!, trailers[i + 1]!]);
        res.addTrailers(pairs);
      }
      res.end();
    });
    response.once('close', () => {
      if (response.complete || this.clientGone || this.timedOut) return;
      // The endpoint died mid-response: the only honest signal left is to reset the client.
      this.counters.errors++;
      this.report('reset');
      res.destroy();
    });
  }

  private onUpstreamError(up: ClientRequest, error: Error): void {
    if (up !== this.upstream) return;
    this.clearTimer();
    if (this.clientGone) return;
    const { counters, target } = this;
    if (this.responded) {
      // After a complete response, only the unsent rest of an upload failed: nothing to tell.
      // Mid-response, the response's 'close' counts it; make sure the client sees it.
      if (!this.responseDone) this.res.destroy();
      return;
    }
    this.settle();
    const what = this.forward.what;
    if (!this.connected) {
      counters.connectFailures++;
      this.report((error as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? 'timeout' : 'connect-error');
      const next = this.retries.connectRetry(target);
      if (next) {
        this.record?.attemptFailed('connect-error');
        this.forwarder.options.logger.debug({ what, failed: target.key, next: next.key, cause: causeOf(error) }, 'connect failed; retrying on another endpoint');
        this.attempt(next);
        return;
      }
      this.fail(connectFailed(what, target.key, causeOf(error)));
      return;
    }
    if (up.reusedSocket && this.bodyless && this.retries.resend()) {
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
      this.forwarder.options.logger.debug({ what, failed: target.key, next: next.key, cause: causeOf(error) }, 'reset before response; retrying on another endpoint');
      this.attempt(next);
      return;
    }
    this.fail(upstreamFailed(what, target.key, causeOf(error)));
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
    this.clearTimer();
    const up = this.upstream;
    this.upstream = undefined;
    if (!this.settled) {
      this.counters.errors++;
      // One outcome per attempt: a response that started was already reported.
      if (!this.responded) this.report('timeout');
    }
    this.settle();
    up?.destroy();
    this.forwarder.options.logger.debug({ what: this.forward.what, target: this.target.key, timeoutMs }, 'request timed out');
    this.fail(upstreamTimeout(this.forward.what, timeoutMs));
  }

  private onClientClose(): void {
    if (!this.res.writableFinished) {
      this.clientGone = true;
      this.errorCode ??= 'client-closed';
      this.clearTimer();
      this.upstream?.destroy();
    }
    this.settle();
    this.finish();
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

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private report(outcome: 'success' | 'connect-error' | 'reset' | 'timeout' | 'http-5xx'): void {
    const destination = this.forward.destination;
    if (destination.type === 'service') this.forwarder.options.dataplane?.report(destination.service, this.target, outcome);
  }
}
