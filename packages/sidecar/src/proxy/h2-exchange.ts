// One HTTP/2 stream (a gRPC call) forwarded by the h2c proxy across its attempts: picks, sends,
// retries, times out, and settles its counters exactly once — the HTTP/2 twin of http-exchange.ts,
// following the same policy (retry-policy.ts).
//
// Retries:
// - connect failures, and streams the endpoint refused (RST_STREAM REFUSED_STREAM, or above the
//   lastStreamID of its GOAWAY: RFC 9113 section 8.7 says these were not processed), go to
//   another endpoint within `maxConnectRetries`. A refused stream is only replayed while no
//   request-body byte has left the client's stream: bodies are piped, never buffered. When bytes
//   already went, the client's stream is reset with REFUSED_STREAM instead, which is true (the
//   only endpoint that saw the request did not process it) and lets the client, which still has
//   the body, retry: grpc-js does so transparently once (gRFC A6).
// - `skein.io/retries`: an idempotent request without a body answered 502/503/504, or reset
//   before any response header, goes to a different endpoint within the service's retry budget.
//   gRPC calls are POSTs with a body (not buffered), so they never get these retries; a gRPC
//   client that wants them sets a retryPolicy in its own service config.
//
// Circuit breaking, as HTTP/1.1's (http-forwarder.ts): a stream for an endpoint with
// `maxRequestsPerEndpoint` streams in flight goes to another endpoint; when all are full it is
// answered 503 SKEIN_ERR_OVERFLOW (gRPC: UNAVAILABLE). HTTP/2 multiplexes, so there is no
// separate pending limit.
//
// `skein.io/timeout` bounds the whole exchange, from the request's start to the response's end:
// before response headers the client gets 504 SKEIN_ERR_TIMEOUT (gRPC: UNAVAILABLE), after them
// its stream is reset with CANCEL.
//
// Telemetry, as HTTP/1.1's (http-exchange.ts): each attempt's trace context replaces the
// client's in the upstream request headers, every retry marks the attempt before it failed, and
// the record ends when the client's stream closes.
import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Dataplane, DestinationError, RequestCounter, Target } from '../dataplane.js';
import type { Logger } from '../logger.js';
import type { ClusterStats, TargetCounters } from './cluster-stats.js';
import type { RequestRecord } from '../telemetry/request-telemetry.js';
import { requestCounterFor, serviceLabel, type Routable } from './destination.js';
import { H2ClientOutcome } from './h2-client-outcome.js';
import { isRejectedRequest, wasRefused, type H2SessionPool } from './h2-session-pool.js';
import { forwardH2Headers } from './hop-headers.js';
import { badRequest, causeOf, connectFailed, overflow, upstreamFailed, upstreamTimeout } from './proxy-errors.js';
import { isIdempotent, isRetryableStatus, type RetryBudget } from './retry-policy.js';
import { RetryTargets } from './retry-targets.js';
import { StreamRelay } from './stream-relay.js';

/** What an exchange needs from the H2cProxy that owns it. */
export interface H2ExchangeContext {
  readonly options: {
    readonly dataplane: Dataplane;
    readonly stats: ClusterStats;
    readonly logger: Logger;
    readonly maxConnectRetries: number;
    /** Streams in flight per endpoint (and service) before it overflows. Default 1024, as HTTP/1.1. */
    readonly maxRequestsPerEndpoint?: number | undefined;
  };
  readonly pool: H2SessionPool;
  /** The retry budget of the service `label` (one per service, shared by its exchanges). */
  budget(label: string): RetryBudget;
}

const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, NGHTTP2_REFUSED_STREAM, NGHTTP2_FLAG_END_STREAM } = constants;
const noop = (): void => undefined;
const DEFAULT_MAX_REQUESTS = 1024;
// Node's defaults spelled out (RFC 9113 weight 16, no parent): node copies these options and
// fills in any priority field missing, and adding those fields to its copy on every call cost
// more than copying them (CPU profile of the gRPC benchmark).
const PRIORITY = { weight: constants.NGHTTP2_DEFAULT_WEIGHT, parent: 0, exclusive: false, silent: false };
const END_STREAM = { endStream: true, ...PRIORITY };
const WITH_BODY = { endStream: false, ...PRIORITY };

type Outcome = 'success' | 'connect-error' | 'reset' | 'timeout' | 'http-5xx';

/**
 * Resets an upstream stream nobody will read. It must also be drained: node closes a client
 * stream (and frees its place in the session) only once its readable side was consumed.
 */
function cancel(up: ClientHttp2Stream): void {
  if (up.closed || up.destroyed) return;
  up.close(NGHTTP2_CANCEL);
  up.resume();
}

/** One incoming stream across its attempts. */
export class H2Exchange {
  private readonly upstreamHeaders: OutgoingHttpHeaders;
  private readonly label: string;
  /** The picker's outstanding-request counter (least request): started per attempt, finished on settle. */
  private readonly load: RequestCounter | undefined;
  private readonly retries: RetryTargets;
  private overallTimer: NodeJS.Timeout | undefined;
  private timedOut = false;
  private finished = false;
  /** The request body's copy to the current attempt, when it has a body. */
  private requestBody: StreamRelay | undefined;
  private target!: Target;
  private counters!: TargetCounters;
  /** The current attempt's stream; earlier attempts' streams are ignored when they close. */
  private upstream: ClientHttp2Stream | undefined;
  private trailers: OutgoingHttpHeaders | undefined;
  private responded = false;
  private responseDone = false;
  private settled = true;
  /** Proxy errors and resets the client got. */
  private readonly outcome: H2ClientOutcome;

  constructor(
    private readonly proxy: H2ExchangeContext,
    private readonly stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    private readonly destination: Routable,
    private readonly what: string,
    hash: number | undefined,
    /** The client's address for ClientIP affinity (undefined without affinity). */
    clientIp: string | undefined,
    /** This stream's span and metrics, when recorded. */
    private readonly record: RequestRecord | undefined,
  ) {
    this.load = requestCounterFor(destination);
    this.outcome = new H2ClientOutcome(stream, headers);
    this.upstreamHeaders = forwardH2Headers(headers);
    if (this.upstreamHeaders[':authority'] === undefined && headers.host !== undefined) this.upstreamHeaders[':authority'] = headers.host;
    this.label = serviceLabel(destination);
    const policy = destination.type === 'service' ? destination : undefined;
    const policyRetries = stream.endAfterHeaders && isIdempotent(headers[':method']) ? policy?.retries ?? 0 : 0;
    const { maxConnectRetries, logger } = proxy.options;
    this.retries = new RetryTargets(destination, hash, clientIp, proxy.budget(this.label), maxConnectRetries, policyRetries, logger, what);
    const timeoutMs = policy?.timeoutMs;
    if (timeoutMs !== undefined && timeoutMs > 0) this.overallTimer = setTimeout(() => this.onTimeout(timeoutMs), timeoutMs);
    stream.on('close', () => this.onClientClose());
  }

  attempt(picked: Target): void {
    const target = this.admit(picked);
    if (target === undefined) return;
    this.target = target;
    this.counters = this.proxy.options.stats.counters(this.label, target.key);
    this.counters.total++;
    this.counters.active++;
    this.load?.started(target);
    this.settled = false;
    this.responded = false;
    this.trailers = undefined;
    if (this.record !== undefined) {
      const destination = this.destination;
      const trace = this.record.attempt(target, destination.type === 'service' ? destination.affinity?.lastHit : undefined);
      // Replaces the client's trace context: the endpoint's parent is this attempt's span.
      if (trace !== undefined) Object.assign(this.upstreamHeaders, trace);
    }
    const endStream = this.stream.endAfterHeaders;
    this.proxy.pool.request(target, this.upstreamHeaders, endStream ? END_STREAM : WITH_BODY, (error, up) => {
      if (error || up === undefined) {
        this.onConnectError(error);
        return;
      }
      if (this.over()) {
        up.on('error', noop);
        cancel(up);
        this.settle();
        return;
      }
      this.upstream = up;
      up.on('error', noop);
      // `on`, not `once`, for events node emits once per stream: a once wrapper costs a
      // removeListener (and node's removeListener event) per call.
      up.on('response', (responseHeaders: IncomingHttpHeaders, flags: number) => this.onResponse(up, responseHeaders, flags));
      up.on('trailers', (trailers: IncomingHttpHeaders) => {
        if (up === this.upstream) this.trailers = forwardH2Headers(trailers);
      });
      up.on('close', () => this.onUpstreamClose(up));
      if (!endStream) this.requestBody = new StreamRelay(this.stream, up);
    });
  }

  /**
   * A request-body byte left the client's stream (only the relay reads it): the request can no
   * longer be replayed.
   */
  private get bodySent(): boolean {
    return this.stream.readableDidRead;
  }

  /** Stops copying the request body to `up` (as unpipe: the client's stream pauses). */
  private stopRequestBody(up: ClientHttp2Stream): void {
    if (this.requestBody?.to !== up) return;
    this.requestBody.stop();
    this.requestBody = undefined;
  }

  /**
   * Circuit breaking: `picked`, or when it is full another endpoint not yet tried, or undefined
   * after answering 503 SKEIN_ERR_OVERFLOW when every endpoint is full.
   */
  private admit(picked: Target): Target | undefined {
    const { stats, maxRequestsPerEndpoint = DEFAULT_MAX_REQUESTS } = this.proxy.options;
    let candidate: Target | undefined = picked;
    while (candidate !== undefined) {
      const counters = stats.counters(this.label, candidate.key);
      if (counters.active < maxRequestsPerEndpoint) return candidate;
      counters.overflows++;
      candidate = this.retries.overflow(candidate);
    }
    this.fail(overflow(this.what));
    return undefined;
  }

  private onConnectError(error: Error | undefined): void {
    const { counters, target } = this;
    this.settle();
    if (this.timedOut) return; // the attempt was counted and reported as the timeout
    if (isRejectedRequest(error)) {
      this.fail(badRequest(`cannot forward the request headers: ${error!.message}`));
      return;
    }
    counters.connectFailures++;
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    this.report(code === 'ETIMEDOUT' ? 'timeout' : 'connect-error');
    if (this.over()) return;
    const next = this.retries.connectRetry(target);
    if (next) {
      this.record?.attemptFailed('connect-error');
      this.proxy.options.logger.debug({ what: this.what, failed: target.key, next: next.key, cause: causeOf(error) }, 'h2c connect failed; retrying on another endpoint');
      this.attempt(next);
      return;
    }
    this.fail(connectFailed(this.what, target.key, causeOf(error)));
  }

  private onResponse(up: ClientHttp2Stream, headers: IncomingHttpHeaders, flags: number): void {
    if (up !== this.upstream) return;
    const status = Number(headers[':status'] ?? 502);
    if (status >= 500) this.counters.errors++;
    this.report(status >= 500 ? 'http-5xx' : 'success');
    const { stream } = this;
    if (stream.closed || stream.destroyed) {
      this.responded = true;
      cancel(up);
      return;
    }
    if (isRetryableStatus(status)) {
      const failed = this.target;
      const next = this.policyRetryTarget();
      if (next) {
        // The failed answer never reaches the client; cancelling its stream discards the body.
        this.upstream = undefined;
        cancel(up);
        this.settle();
        this.record?.attemptFailed(String(status));
        this.proxy.options.logger.debug({ what: this.what, failed: failed.key, next: next.key, status }, 'h2c gateway error; retrying on another endpoint');
        this.attempt(next);
        return;
      }
    }
    this.responded = true;
    const out = forwardH2Headers(headers);
    // A trailers-only response (how gRPC reports most errors) ends on its HEADERS frame.
    if ((flags & NGHTTP2_FLAG_END_STREAM) !== 0 || stream.writableEnded) {
      this.responseFinished();
      stream.respond(out, { endStream: true });
      up.resume();
      return;
    }
    // Trailers are only known once the endpoint's body ends, so always leave room for them;
    // with none, an empty trailing HEADERS frame ends the stream (as node itself does).
    stream.respond(out, { waitForTrailers: true });
    stream.on('wantTrailers', () => {
      this.responseFinished();
      if (!stream.closed && !stream.destroyed) stream.sendTrailers(this.trailers ?? {});
    });
    new StreamRelay(up, stream);
  }

  private onUpstreamClose(up: ClientHttp2Stream): void {
    this.stopRequestBody(up); // as pipe, which unpipes from a closed destination
    if (up !== this.upstream) return; // an abandoned attempt, already settled
    this.settle();
    const { stream } = this;
    const clean = this.responded && up.readableEnded && up.rstCode === NGHTTP2_NO_ERROR;
    if (clean || stream.closed || stream.destroyed) return;
    this.counters.errors++;
    this.report('reset');
    const failed = this.target;
    if (this.responded || stream.headersSent) {
      // Mid-response: pass the reset on rather than leave the client waiting for trailers.
      this.reset(up.rstCode !== undefined && up.rstCode !== NGHTTP2_NO_ERROR ? up.rstCode : NGHTTP2_INTERNAL_ERROR);
      return;
    }
    this.upstream = undefined;
    if (wasRefused(up)) {
      if (this.bodySent) {
        // The body is gone and cannot be replayed here; see the header comment.
        this.reset(NGHTTP2_REFUSED_STREAM, 'refused-stream');
        return;
      }
      const next = this.retries.connectRetry(failed);
      if (next) {
        this.record?.attemptFailed('refused-stream');
        this.proxy.options.logger.debug({ what: this.what, failed: failed.key, next: next.key }, 'h2c stream refused; retrying on another endpoint');
        this.attempt(next);
        return;
      }
    }
    const next = this.policyRetryTarget();
    if (next) {
      this.record?.attemptFailed('reset');
      this.proxy.options.logger.debug({ what: this.what, failed: failed.key, next: next.key, rstCode: up.rstCode }, 'h2c stream reset before response; retrying on another endpoint');
      this.attempt(next);
      return;
    }
    this.fail(upstreamFailed(this.what, failed.key, `stream reset (code ${up.rstCode ?? 'none'})`));
  }

  /** The endpoint for a policy retry (`skein.io/retries`) of the current attempt, or undefined. */
  private policyRetryTarget(): Target | undefined {
    return this.timedOut ? undefined : this.retries.policyRetry(this.target);
  }

  /** `skein.io/timeout` passed before the response ended: 504 before headers, else a reset. */
  private onTimeout(timeoutMs: number): void {
    this.overallTimer = undefined;
    const { stream } = this;
    if (this.responseDone || stream.closed || stream.destroyed) return;
    this.timedOut = true;
    const up = this.upstream;
    this.upstream = undefined;
    if (!this.settled) {
      this.counters.errors++;
      // One outcome per attempt: a response that started was already reported.
      if (!this.responded) this.report('timeout');
    }
    this.settle();
    if (up !== undefined) {
      this.stopRequestBody(up);
      cancel(up);
    }
    this.proxy.options.logger.debug({ what: this.what, target: this.target.key, timeoutMs }, 'h2c request timed out');
    const error = upstreamTimeout(this.what, timeoutMs);
    if (stream.headersSent) this.reset(NGHTTP2_CANCEL, error.code);
    else this.fail(error);
  }

  private onClientClose(): void {
    const up = this.upstream;
    if (up !== undefined) cancel(up);
    this.finish();
  }

  /** Ends the exchange with an error response (or a reset, once headers went out). */
  private fail(error: DestinationError): void {
    this.clearOverallTimer();
    this.outcome.fail(error);
  }

  /** Ends the exchange by resetting the client's stream with `code` (`why`: for telemetry). */
  private reset(code: number, why?: string): void {
    this.clearOverallTimer();
    this.outcome.reset(code, why);
  }

  /** The timeout or the client's going away ended the exchange: no attempt may start or answer. */
  private over(): boolean {
    return this.timedOut || this.stream.closed || this.stream.destroyed;
  }

  /** The response is complete on the proxy's side: the overall timeout no longer applies. */
  private responseFinished(): void {
    this.responseDone = true;
    this.clearOverallTimer();
  }

  /** The client's stream closed (exactly once): leave the budget, stop the overall timer, end the record. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.clearOverallTimer();
    this.retries.release();
    if (this.record !== undefined) this.outcome.end(this.record, this.responseDone);
  }

  private clearOverallTimer(): void {
    if (this.overallTimer !== undefined) {
      clearTimeout(this.overallTimer);
      this.overallTimer = undefined;
    }
  }

  /** The current attempt ended (exactly once per attempt). */
  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.counters.active--;
    this.load?.finished(this.target);
  }

  private report(outcome: Outcome): void {
    if (this.destination.type === 'service') this.proxy.options.dataplane.report(this.destination.service, this.target, outcome);
  }
}
