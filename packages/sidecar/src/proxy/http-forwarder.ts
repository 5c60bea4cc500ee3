// Forwards one HTTP/1.1 request to an endpoint and streams the answer back: the endpoint leg of
// the outbound proxy, the service listeners and the inbound proxy. Connections are pooled per
// endpoint in undici pools (upstream-pools.ts): node's http client stack cost ~1.6x the CPU per
// request of undici's (issue 6, bench/http-peers.mjs). Bodies stream with backpressure both ways
// and are never buffered.
//
// Retries follow Envoy's default retry policy for a sidecar: only connect failures, on another
// endpoint. A request body is only ever read once the endpoint's connection is up (undici reads
// it when it writes the request; see request-body.ts), so a connect failure never loses body
// bytes and every connect failure is safely retryable. A bodiless request that a reused
// keep-alive connection lost before any response byte (the endpoint closed it as we sent) is
// sent again on a fresh connection, spending a connect retry.
// A Service may opt in to more (`skein.io/retries`, `skein.io/timeout`): retries of idempotent
// bodiless requests on 502/503/504 or a reset before any response byte, on a different endpoint,
// within a retry budget; and an overall timeout (see retry-policy.ts).
//
// Circuit breaking, with Envoy's defaults: an endpoint takes at most `maxRequestsPerEndpoint`
// requests in flight (counted per service and endpoint in ClusterStats, pending ones included)
// and at most `maxPendingPerEndpoint` waiting in the pool for a connection. A request for a full
// endpoint goes to another one (not reported as an outlier failure, not using a retry); when
// every endpoint is full it is answered 503 SKEIN_ERR_OVERFLOW. Overflows are counted per endpoint.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dataplane, DestinationError, Target } from '../dataplane.js';
import type { Logger } from '../logger.js';
import type { ClusterStats, TargetCounters } from './cluster-stats.js';
import { clientIpOf, firstTarget, isError, newHashCookie, requestHashOf, type Routable } from './destination.js';
import { RetryBudgets, type RetryBudget } from './retry-policy.js';
import { Exchange } from './http-exchange.js';
import { UpstreamPools } from './upstream-pools.js';
import { upstreamHeaders } from './upstream-request.js';
import type { RequestRecord, RequestTelemetry } from '../telemetry/request-telemetry.js';

/** What every forwarded request shares. */
export interface HttpForwarderOptions {
  /** Receives attempt outcomes for mesh services (passive health); absent for the inbound leg. */
  readonly dataplane?: Dataplane;
  readonly stats: ClusterStats;
  readonly logger: Logger;
  readonly connectTimeoutMs: number;
  readonly maxConnectRetries: number;
  /** This pod's IP: the source address of loopback clients for `skein.io/hash-key: source-ip`. */
  readonly podIp?: string;
  /** Spans and metrics per request; none when absent. */
  readonly telemetry?: RequestTelemetry | undefined;
  /** Which way this forwarder's requests go, for telemetry (server spans inbound). Default outbound. */
  readonly direction?: 'outbound' | 'inbound';
  /** Budgets shared with the listener's h2c leg; default its own. */
  readonly retryBudgets?: RetryBudgets;
  /** Requests in flight per endpoint (and service) before it overflows. Default 1024 (Envoy's max_requests). */
  readonly maxRequestsPerEndpoint?: number | undefined;
  /** Requests per endpoint (and service) queued for a pooled connection before it overflows. Default 1024 (Envoy's max_pending_requests). */
  readonly maxPendingPerEndpoint?: number | undefined;
  /** Connections per endpoint; more requests wait in its pool (pending). Default 256. */
  readonly connectionsPerEndpoint?: number | undefined;
}

/** One forwarded request: where it goes and how it is rewritten. */
export interface ForwardRequest {
  readonly destination: Routable;
  /** The destination as the client named it ("web.demo:80"), for error messages. */
  readonly what: string;
  /** `what`'s host and port, for telemetry (default: `what`, port 0). */
  readonly host?: string;
  readonly port?: number;
  /** Origin-form path for the upstream request line. */
  readonly path: string;
  /** Host header value to add when the client sent none (absolute-form from an HTTP/1.0 client). */
  readonly addHost?: string;
  /** Headers to set on the upstream request, replacing any the client sent (e.g. trace context). */
  readonly setHeaders?: Readonly<Record<string, string>>;
}

// Idle connections are closed after this: below node's default server keepAliveTimeout (5 s),
// so the pool rarely reuses a connection the endpoint is closing at the same moment.
const IDLE_CONNECTION_MS = 4000;
const DEFAULT_CONNECTIONS = 256;
const DEFAULT_MAX_REQUESTS = 1024;
const DEFAULT_MAX_PENDING = 1024;

/** Forwards HTTP/1.1 requests to endpoints over a keep-alive pool. */
export class HttpForwarder {
  /** The endpoint connection pools (exposed for tests). */
  readonly pools: UpstreamPools;
  readonly options: HttpForwarderOptions;
  /** Retry budgets by service label (for the policy retries of `skein.io/retries`). */
  private readonly budgets: RetryBudgets;
  private readonly maxRequests: number;
  private readonly maxPending: number;

  constructor(options: HttpForwarderOptions) {
    this.options = options;
    this.maxRequests = options.maxRequestsPerEndpoint ?? DEFAULT_MAX_REQUESTS;
    this.budgets = options.retryBudgets ?? new RetryBudgets();
    this.maxPending = options.maxPendingPerEndpoint ?? DEFAULT_MAX_PENDING;
    // undici's pools give a request to the first idle connection slot, in a fixed order, so
    // surplus connections idle out (as they did with node's lifo Agent).
    this.pools = new UpstreamPools({
      connectTimeoutMs: options.connectTimeoutMs, connections: options.connectionsPerEndpoint ?? DEFAULT_CONNECTIONS, idleTimeoutMs: IDLE_CONNECTION_MS,
    });
  }

  /**
   * Forwards `req` as described by `forward` and answers on `res`: the endpoint's response,
   * streamed; or an error response (503 when no endpoint could be reached, 502 when one failed
   * before answering, 400 for a request head undici cannot send: see upstream-request.ts); or,
   * when the endpoint fails mid-response, a destroyed client connection. If the client goes
   * away first, the upstream request is aborted. A hashing picker gets the request's hash
   * (`skein.io/hash-key`: header, cookie, or the client's address — on the outbound listener,
   * the app's own address); a client without the hash cookie is given one.
   */
  forward(req: IncomingMessage, res: ServerResponse, forward: ForwardRequest): void {
    if (res.destroyed) return;
    let hash = requestHashOf(forward.destination, req.headers, req.socket.remoteAddress, this.options.podIp);
    const cookie = hash === undefined ? newHashCookie(forward.destination) : undefined;
    if (cookie !== undefined) hash = cookie.hash;
    const clientIp = clientIpOf(forward.destination, req.socket.remoteAddress, this.options.podIp);
    const destination = forward.destination;
    const record = this.options.telemetry?.start({
      direction: this.options.direction ?? 'outbound', method: req.method ?? 'GET', host: forward.host ?? forward.what, port: forward.port ?? 0,
      path: forward.path, protocolVersion: req.httpVersion, service: destination.type === 'service' ? destination.service : undefined,
      rule: destination.type === 'service' ? destination.rule : undefined,
    }, req.headers);
    const headers = upstreamHeaders(req, forward);
    if (!Array.isArray(headers)) {
      answerError(req, res, headers, record);
      return;
    }
    const first = firstTarget(destination, hash, clientIp);
    if (isError(first)) {
      answerError(req, res, first, record);
      return;
    }
    new Exchange(this, req, res, forward, headers, hash, clientIp, cookie?.setCookie, record).attempt(first);
  }

  /**
   * Answers a request the mesh refuses (unknown Service, no such port, registry-only) with
   * `error`, and records it like any other request: refusals are traffic users must see.
   * `host`, `port` and `path` are where the client sent it.
   */
  refuse(req: IncomingMessage, res: ServerResponse, target: { readonly host: string; readonly port: number; readonly path: string }, error: DestinationError): void {
    writeErrorResponse(req, res, error);
    this.options.telemetry?.start({
      direction: this.options.direction ?? 'outbound', method: req.method ?? 'GET', host: target.host, port: target.port, path: target.path,
      protocolVersion: req.httpVersion, service: undefined,
    }, req.headers)?.end(error.status, error.code);
  }

  /** The retry budget of the service `label` (see `serviceLabel`). */
  budget(label: string): RetryBudget {
    return this.budgets.budget(label);
  }

  /**
   * Whether a new request to `target` would wait in the pool: no free connection and the
   * target's connection limit reached (the condition under which its undici pool queues).
   */
  poolFull(target: Target): boolean {
    return this.pools.peek(target.key)?.full ?? false;
  }

  /** Circuit breaking: whether `counters`' endpoint can take no more requests now. */
  full(target: Target, counters: TargetCounters): boolean {
    if (counters.active >= this.maxRequests) return true;
    return counters.pending >= this.maxPending && this.poolFull(target);
  }

  /** Closes pooled connections (in-flight ones included). */
  close(): void {
    this.pools.close();
  }
}

function answerError(req: IncomingMessage, res: ServerResponse, error: DestinationError, record: RequestRecord | undefined): void {
  writeErrorResponse(req, res, error);
  record?.end(error.status, error.code);
}

/**
 * Answers with `error.status`, the message as a plain-text body and `x-skein-error: <code>`.
 * The connection is closed when the request body was not read, so a large unread upload is
 * not drained just to keep the socket. After headers were sent, destroys the response instead.
 */
export function writeErrorResponse(req: IncomingMessage, res: ServerResponse, error: DestinationError): void {
  if (res.destroyed) return;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${error.message}\n`;
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-skein-error': error.code,
  };
  if (!req.complete) headers.connection = 'close';
  res.writeHead(error.status, headers);
  res.end(body);
}
