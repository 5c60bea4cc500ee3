// HTTP/2 cleartext proxying with per-request balancing: every incoming stream (a gRPC call) is
// routed by its :authority (or a pinned service), gets its own endpoint pick and rides a pooled
// session to that endpoint. Headers, DATA and trailers pass through unchanged apart from
// connection-specific fields — gRPC's status lives in the trailers (grpc-status), so they must.
// Retries, the overall timeout and the telemetry of each stream: see h2-exchange.ts.
// Also the per-service listeners, whose main client is gRPC over h2c.
import { createServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Dataplane, DestinationError } from '../dataplane.js';
import { noopLogger, type Logger } from '../logger.js';
import { ClusterStats, type ClusterStatsJson } from './cluster-stats.js';
import { clientIpOf, firstTarget, isError, requestHashOf, routeTo, type Routable } from './destination.js';
import { H2Exchange } from './h2-exchange.js';
import { respondError } from './h2-error-response.js';
import { H2SessionPool } from './h2-session-pool.js';
import { HttpForwarder, writeErrorResponse } from './http-forwarder.js';
import { badRequest, causeOf, ProxyErrorCode } from './proxy-errors.js';
import { ProxyListener } from './proxy-listener.js';
import { isLocalHost, originPath, parseAuthority, type Authority } from './request-target.js';
import type { RequestTelemetry } from '../telemetry/request-telemetry.js';
import { RetryBudgets, type RetryBudget } from './retry-policy.js';
import { writeRawError, type TunnelContext } from './tunnel.js';
import { forwardUpgrade } from './upgrade-forwarder.js';

/** What an H2cProxy needs from the listener that owns it. */
export interface H2cProxyOptions {
  readonly dataplane: Dataplane;
  readonly stats: ClusterStats;
  readonly logger: Logger;
  readonly connectTimeoutMs: number;
  readonly maxConnectRetries: number;
  readonly knownWaitMs: number;
  /** This pod's IP: the source address of loopback clients for `skein.io/hash-key: source-ip`. */
  readonly podIp?: string;
  /** Route every stream here instead of by :authority (per-service listeners). */
  readonly service?: Authority;
  /** True when host:port names the owning listener itself (loop guard). */
  readonly isSelf?: (host: string, port: number) => boolean;
  /** Budgets shared with the listener's HTTP/1.1 leg; default its own. */
  readonly retryBudgets?: RetryBudgets;
  /** Streams in flight per endpoint (and service) before it overflows. Default 1024. */
  readonly maxRequestsPerEndpoint?: number | undefined;
  /** A CLIENT span and metrics per stream; none when absent. */
  readonly telemetry?: RequestTelemetry | undefined;
}

const noop = (): void => undefined;

/** The h2c leg of a listener: feed it connections through `server.emit('connection', socket)`. */
export class H2cProxy {
  /** An HTTP/2 server that never listens itself; its listener hands it sniffed connections. */
  readonly server: Http2Server;
  readonly pool: H2SessionPool;
  /** Retry budgets by service label (for the policy retries of `skein.io/retries`). */
  private readonly budgets: RetryBudgets;

  constructor(readonly options: H2cProxyOptions) {
    this.server = createServer();
    this.pool = new H2SessionPool(options.connectTimeoutMs);
    this.budgets = options.retryBudgets ?? new RetryBudgets();
    this.server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => this.onStream(stream, headers));
    this.server.on('sessionError', (error: Error) => options.logger.debug({ cause: causeOf(error) }, 'h2c session error'));
  }

  /** The retry budget of the service `label` (see `serviceLabel`). */
  budget(label: string): RetryBudget {
    return this.budgets.budget(label);
  }

  /** Closes the pooled endpoint sessions gracefully (GOAWAY). */
  close(): void {
    this.pool.close();
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', noop); // resets surface through 'close' and rstCode
    const authority = headers[':authority'] ?? headers.host;
    const route = this.options.service ?? parseAuthority(authority ?? '', 80);
    if (route === undefined) {
      respondError(stream, headers, badRequest(authority === undefined ? 'HTTP/2 request without :authority' : `invalid :authority "${authority}"`));
      return;
    }
    const { dataplane, knownWaitMs, isSelf } = this.options;
    routeTo(dataplane, route.host, route.port, knownWaitMs, isSelf ?? never, (destination) => {
      if (stream.closed || stream.destroyed) return;
      const service = destination.type === 'service' ? destination : undefined;
      // Refusals are recorded too: a request to an unknown Service is traffic users must see.
      const record = this.options.telemetry?.start({
        direction: 'outbound', method: headers[':method'] ?? 'GET', host: route.host, port: route.port, path: headers[':path'] ?? '/',
        protocolVersion: '2', service: service?.service, rule: service?.rule,
      }, headers);
      if (destination.type === 'reject') {
        respondError(stream, headers, destination.error);
        record?.end(destination.error.status, destination.error.code);
        return;
      }
      const hash = requestHashOf(destination, headers, stream.session?.socket?.remoteAddress, this.options.podIp);
      const clientIp = clientIpOf(destination, stream.session?.socket?.remoteAddress, this.options.podIp);
      const first = firstTarget(destination, hash, clientIp);
      if (isError(first)) {
        respondError(stream, headers, first);
        record?.end(first.status, first.code);
        return;
      }
      new H2Exchange(this, stream, headers, destination, `${route.host}:${route.port}`, hash, clientIp, record).attempt(first);
    });
  }
}

const never = (): boolean => false;

/** Options of a ServiceListener. */
export interface ServiceListenerOptions {
  readonly dataplane: Dataplane;
  /** The service as clients would name it: "web.demo", "web.demo.svc.cluster.local", a ClusterIP. */
  readonly host: string;
  /** The service port. */
  readonly port: number;
  readonly logger?: Logger;
  /** As OutboundProxyOptions: connect deadline (5000), on-demand wait (2000), connect retries (2). */
  readonly connectTimeoutMs?: number;
  readonly knownWaitMs?: number;
  readonly maxConnectRetries?: number;
  /** This pod's IP, as OutboundProxyOptions.podIp. */
  readonly podIp?: string;
  /** As OutboundProxyOptions.telemetry. */
  readonly telemetry?: RequestTelemetry | undefined;
}

/**
 * A local port dedicated to one service (e.g. 127.0.0.1:15101 -> web.demo:80) for clients that
 * cannot use a proxy: gRPC clients dial it with h2c by prior knowledge, HTTP/1.1 clients send
 * origin-form requests and Upgrades. Every request goes to the configured service whatever its
 * Host or :authority says (both are forwarded unchanged); CONNECT is refused (405).
 */
export class ServiceListener {
  private readonly options: ServiceListenerOptions;
  private readonly counters = new ClusterStats();
  private readonly forwarder: HttpForwarder;
  private readonly h2: H2cProxy;
  private readonly listener: ProxyListener;
  private readonly tunnels: TunnelContext;
  private readonly knownWaitMs: number;
  private readonly what: string;

  constructor(options: ServiceListenerOptions) {
    this.options = options;
    const logger = options.logger ?? noopLogger;
    this.knownWaitMs = options.knownWaitMs ?? 2000;
    this.what = `${options.host}:${options.port}`;
    const shared = {
      dataplane: options.dataplane, stats: this.counters, logger,
      connectTimeoutMs: options.connectTimeoutMs ?? 5000, maxConnectRetries: options.maxConnectRetries ?? 2, podIp: options.podIp,
      retryBudgets: new RetryBudgets(), telemetry: options.telemetry,
    };
    this.tunnels = shared;
    this.forwarder = new HttpForwarder(shared);
    const service = { host: options.host, port: options.port };
    this.h2 = new H2cProxy({ ...shared, knownWaitMs: this.knownWaitMs, service, isSelf: this.isSelf });
    this.listener = new ProxyListener({ logger, h2: this.h2.server, detectTimeoutMs: 10_000 });
    const http1 = this.listener.http1;
    http1.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const path = originPath(req);
      if (path === undefined) writeErrorResponse(req, res, badRequest(`cannot parse request target "${req.url ?? ''}"`));
      else this.route((destination) => this.forwarder.forward(req, res, { destination, what: this.what, host: options.host, port: options.port, path }), (error) => this.forwarder.refuse(req, res, { host: options.host, port: options.port, path }, error));
    });
    http1.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      const path = originPath(req);
      if (path === undefined) writeRawError(socket, badRequest(`cannot parse request target "${req.url ?? ''}"`));
      else this.route((destination) => forwardUpgrade(this.tunnels, req, socket, head, { destination, what: this.what, path }), (error) => writeRawError(socket, error));
    });
    http1.on('connect', (_req: IncomingMessage, socket: Socket) => {
      writeRawError(socket, { code: ProxyErrorCode.METHOD_NOT_ALLOWED, message: `skein: CONNECT is not served on the listener for "${this.what}"`, status: 405 });
    });
  }

  /** Binds `host:port` (0 picks a port) and resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    return this.listener.listen(host, port);
  }

  /** The bound port, or 0 before listen. */
  get port(): number {
    return this.listener.port;
  }

  /** Client connections open now. */
  get connections(): number {
    return this.listener.connections;
  }

  /** Graceful drain, as OutboundProxy.close. */
  async close(graceMs: number): Promise<void> {
    await this.listener.close(graceMs);
    this.forwarder.close();
    this.h2.close();
  }

  /** Per-endpoint counters for this listener's traffic, as OutboundProxy.stats. */
  stats(): ClusterStatsJson {
    return this.counters.toJSON();
  }

  private route(then: (destination: Routable) => void, fail: (error: DestinationError) => void): void {
    const { dataplane, host, port } = this.options;
    routeTo(dataplane, host, port, this.knownWaitMs, this.isSelf, (destination) => {
      if (destination.type === 'reject') fail(destination.error);
      else then(destination);
    });
  }

  private readonly isSelf = (host: string, port: number): boolean => port === this.listener.port && isLocalHost(host);
}
