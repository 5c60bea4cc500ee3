// HTTP/2 cleartext proxying with per-request balancing: every incoming stream (a gRPC call) is
// routed by its :authority (or a pinned service), gets its own endpoint pick and rides a pooled
// session to that endpoint. Headers, DATA and trailers pass through unchanged apart from
// connection-specific fields — gRPC's status lives in the trailers (grpc-status), so they must.
// Also the per-service listeners, whose main client is gRPC over h2c.
import {
  constants, createServer, type ClientHttp2Stream, type Http2Server, type IncomingHttpHeaders,
  type OutgoingHttpHeaders, type ServerHttp2Stream,
} from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Dataplane, DestinationError, RequestCounter, Target } from '../dataplane.js';
import { noopLogger, type Logger } from '../logger.js';
import { ClusterStats, type ClusterStatsJson, type TargetCounters } from './cluster-stats.js';
import { clientIpOf, firstTarget, isError, requestCounterFor, requestHashOf, retryTarget, routeTo, serviceLabel, type Routable } from './destination.js';
import { respondError } from './h2-error-response.js';
import { H2SessionPool, isRejectedRequest } from './h2-session-pool.js';
import { forwardH2Headers } from './hop-headers.js';
import { HttpForwarder, writeErrorResponse } from './http-forwarder.js';
import { badRequest, causeOf, connectFailed, ProxyErrorCode, upstreamFailed } from './proxy-errors.js';
import { ProxyListener } from './proxy-listener.js';
import { isLocalHost, originPath, parseAuthority, type Authority } from './request-target.js';
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
}

const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, NGHTTP2_FLAG_END_STREAM } = constants;
const noop = (): void => undefined;

/** The h2c leg of a listener: feed it connections through `server.emit('connection', socket)`. */
export class H2cProxy {
  /** An HTTP/2 server that never listens itself; its listener hands it sniffed connections. */
  readonly server: Http2Server;
  readonly pool: H2SessionPool;

  constructor(readonly options: H2cProxyOptions) {
    this.server = createServer();
    this.pool = new H2SessionPool(options.connectTimeoutMs);
    this.server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => this.onStream(stream, headers));
    this.server.on('sessionError', (error: Error) => options.logger.debug({ cause: causeOf(error) }, 'h2c session error'));
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
      if (destination.type === 'reject') {
        respondError(stream, headers, destination.error);
        return;
      }
      const hash = requestHashOf(destination, headers, stream.session?.socket?.remoteAddress, this.options.podIp);
      const clientIp = clientIpOf(destination, stream.session?.socket?.remoteAddress, this.options.podIp);
      const first = firstTarget(destination, hash, clientIp);
      if (isError(first)) respondError(stream, headers, first);
      else new H2Exchange(this, stream, headers, destination, `${route.host}:${route.port}`, hash, clientIp).attempt(first);
    });
  }
}

const never = (): boolean => false;

/** One incoming stream across its attempts. */
class H2Exchange {
  private readonly upstreamHeaders: OutgoingHttpHeaders;
  private readonly label: string;
  /** The picker's outstanding-request counter (least request): started per attempt, finished on settle. */
  private readonly load: RequestCounter | undefined;
  private retriesLeft: number;
  private tried: Set<string> | undefined;
  private target!: Target;
  private counters!: TargetCounters;
  private upstream: ClientHttp2Stream | undefined;
  private trailers: OutgoingHttpHeaders | undefined;
  private responded = false;
  private upstreamEnded = false;
  private settled = true;

  constructor(
    private readonly proxy: H2cProxy,
    private readonly stream: ServerHttp2Stream,
    private readonly headers: IncomingHttpHeaders,
    private readonly destination: Routable,
    private readonly what: string,
    private readonly hash: number | undefined,
    /** The client's address for ClientIP affinity (undefined without affinity). */
    private readonly clientIp: string | undefined,
  ) {
    this.load = requestCounterFor(destination);
    this.upstreamHeaders = forwardH2Headers(headers);
    if (this.upstreamHeaders[':authority'] === undefined && headers.host !== undefined) this.upstreamHeaders[':authority'] = headers.host;
    this.label = serviceLabel(destination);
    this.retriesLeft = proxy.options.maxConnectRetries;
    stream.once('close', () => this.onClientClose());
  }

  attempt(target: Target): void {
    this.target = target;
    this.counters = this.proxy.options.stats.counters(this.label, target.key);
    this.counters.total++;
    this.counters.active++;
    this.load?.started(target);
    this.settled = false;
    const endStream = this.stream.endAfterHeaders;
    this.proxy.pool.request(target, this.upstreamHeaders, { endStream }, (error, up) => {
      if (error || up === undefined) {
        this.onConnectError(error);
        return;
      }
      if (this.stream.closed || this.stream.destroyed) {
        up.close(NGHTTP2_CANCEL);
        this.settle();
        return;
      }
      this.upstream = up;
      up.on('error', noop);
      up.once('response', (responseHeaders: IncomingHttpHeaders, flags: number) => this.onResponse(responseHeaders, flags));
      up.on('trailers', (trailers: IncomingHttpHeaders) => {
        this.trailers = forwardH2Headers(trailers);
      });
      up.once('end', () => {
        this.upstreamEnded = true;
      });
      up.once('close', () => this.onUpstreamClose(up));
      if (!endStream) this.stream.pipe(up);
    });
  }

  private onConnectError(error: Error | undefined): void {
    const { counters, target } = this;
    this.settle();
    if (isRejectedRequest(error)) {
      respondError(this.stream, this.headers, badRequest(`cannot forward the request headers: ${error!.message}`));
      return;
    }
    counters.connectFailures++;
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    this.report(code === 'ETIMEDOUT' ? 'timeout' : 'connect-error');
    if (this.stream.closed || this.stream.destroyed) return;
    (this.tried ??= new Set()).add(target.key);
    const next = this.retriesLeft > 0 ? retryTarget(this.destination, this.tried, this.hash, this.clientIp) : undefined;
    if (next) {
      this.retriesLeft--;
      this.attempt(next);
      return;
    }
    respondError(this.stream, this.headers, connectFailed(this.what, target.key, causeOf(error)));
  }

  private onResponse(headers: IncomingHttpHeaders, flags: number): void {
    this.responded = true;
    const status = Number(headers[':status'] ?? 502);
    if (status >= 500) this.counters.errors++;
    this.report(status >= 500 ? 'http-5xx' : 'success');
    const { stream } = this;
    const up = this.upstream!;
    if (stream.closed || stream.destroyed) {
      up.close(NGHTTP2_CANCEL);
      return;
    }
    const out = forwardH2Headers(headers);
    // A trailers-only response (how gRPC reports most errors) ends on its HEADERS frame.
    if ((flags & NGHTTP2_FLAG_END_STREAM) !== 0 || stream.writableEnded) {
      stream.respond(out, { endStream: true });
      up.resume();
      return;
    }
    // Trailers are only known once the endpoint's body ends, so always leave room for them;
    // with none, an empty trailing HEADERS frame ends the stream (as node itself does).
    stream.respond(out, { waitForTrailers: true });
    stream.once('wantTrailers', () => {
      if (!stream.closed && !stream.destroyed) stream.sendTrailers(this.trailers ?? {});
    });
    up.pipe(stream);
  }

  private onUpstreamClose(up: ClientHttp2Stream): void {
    this.settle();
    const { stream } = this;
    const clean = this.responded && this.upstreamEnded && up.rstCode === NGHTTP2_NO_ERROR;
    if (clean || stream.closed || stream.destroyed) return;
    this.counters.errors++;
    this.report('reset');
    if (!stream.headersSent) {
      respondError(stream, this.headers, upstreamFailed(this.what, this.target.key, `stream reset (code ${up.rstCode ?? 'none'})`));
    } else {
      // Mid-response: pass the reset on rather than leave the client waiting for trailers.
      stream.close(up.rstCode !== undefined && up.rstCode !== NGHTTP2_NO_ERROR ? up.rstCode : NGHTTP2_INTERNAL_ERROR);
    }
  }

  private onClientClose(): void {
    const up = this.upstream;
    if (up !== undefined && !up.closed && !up.destroyed) up.close(NGHTTP2_CANCEL);
  }

  /** The current attempt ended (exactly once per attempt). */
  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.counters.active--;
    this.load?.finished(this.target);
  }

  private report(outcome: 'success' | 'connect-error' | 'reset' | 'timeout' | 'http-5xx'): void {
    if (this.destination.type === 'service') this.proxy.options.dataplane.report(this.destination.service, this.target, outcome);
  }
}

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
      else this.route((destination) => this.forwarder.forward(req, res, { destination, what: this.what, path }), (error) => writeErrorResponse(req, res, error));
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
