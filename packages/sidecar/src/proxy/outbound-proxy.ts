// The sidecar's outbound listener (--outbound-port, 15001): an HTTP proxy any client honoring
// HTTP_PROXY can use. One port serves absolute-form HTTP/1.1 requests, Upgrade (WebSocket),
// CONNECT tunnels (HTTPS, grpc-js with grpc_proxy) and h2c by prior knowledge (gRPC), and every
// request or tunnel goes through the dataplane: resolve host:port, pick an endpoint, connect,
// retry connect failures on another endpoint, report the outcome.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Dataplane, Destination, DestinationError } from '../dataplane.js';
import { noopLogger, type Logger } from '../logger.js';
import { ClusterStats, type ClusterStatsJson } from './cluster-stats.js';
import { routeTo, type Routable } from './destination.js';
import { H2cProxy } from './h2c-proxy.js';
import { hasHost } from './hop-headers.js';
import { HttpForwarder, writeErrorResponse, type ForwardRequest } from './http-forwarder.js';
import { badRequest } from './proxy-errors.js';
import { ProxyListener } from './proxy-listener.js';
import { RetryBudgets } from './retry-policy.js';
import type { RequestTelemetry } from '../telemetry/request-telemetry.js';
import { isLocalHost, parseAbsoluteForm, parseAuthority, type Authority } from './request-target.js';
import { connectWithRetry, splice, writeRawError, type TunnelContext } from './tunnel.js';
import { forwardUpgrade } from './upgrade-forwarder.js';

/** Options of an OutboundProxy. */
export interface OutboundProxyOptions {
  readonly dataplane: Dataplane;
  /** Defaults to the no-op logger (library mode). */
  readonly logger?: Logger;
  /** TCP connect (and h2 handshake) deadline per attempt. Default 5000. */
  readonly connectTimeoutMs?: number;
  /** How long a request to a not-yet-known (on-demand) name waits for the control plane. Default 2000. */
  readonly knownWaitMs?: number;
  /** Further attempts on other endpoints after a connect failure. Default 2. */
  readonly maxConnectRetries?: number;
  /** Circuit breaking: HTTP/1.1 requests in flight per endpoint (pending included). Default 1024, as Envoy's max_requests. */
  readonly maxRequestsPerEndpoint?: number;
  /** Circuit breaking: HTTP/1.1 requests per endpoint waiting for a pooled connection. Default 1024, as Envoy's max_pending_requests. */
  readonly maxPendingPerEndpoint?: number;
  /**
   * This pod's IP: stands for loopback clients (the app) as the source address of
   * `skein.io/hash-key: source-ip` services, so client pods spread over endpoints.
   */
  readonly podIp?: string;
  /** A CLIENT span and metrics per request (HTTP/1.1 and h2c); none when absent. */
  readonly telemetry?: RequestTelemetry | undefined;
}

/** A request's route before resolution: where it goes and what to send upstream. */
interface RequestRoute extends Authority {
  readonly path: string;
  readonly addHost?: string;
}

/** How long a new connection may stay silent before it is handed to the HTTP/1.1 parser's own timeouts. */
const DETECT_TIMEOUT_MS = 10_000;

/**
 * The outbound HTTP proxy. Counters per endpoint are available from `stats()` for /clusters.
 */
export class OutboundProxy {
  private readonly dataplane: Dataplane;
  private readonly logger: Logger;
  private readonly knownWaitMs: number;
  private readonly counters = new ClusterStats();
  private readonly forwarder: HttpForwarder;
  private readonly h2: H2cProxy;
  private readonly listener: ProxyListener;
  private readonly tunnels: TunnelContext;
  private host = '';

  constructor(options: OutboundProxyOptions) {
    this.dataplane = options.dataplane;
    this.logger = options.logger ?? noopLogger;
    this.knownWaitMs = options.knownWaitMs ?? 2000;
    const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    const maxConnectRetries = options.maxConnectRetries ?? 2;
    const shared = { dataplane: this.dataplane, stats: this.counters, logger: this.logger, connectTimeoutMs, maxConnectRetries, podIp: options.podIp || undefined, retryBudgets: new RetryBudgets(), telemetry: options.telemetry };
    this.tunnels = shared;
    this.forwarder = new HttpForwarder({ ...shared, maxRequestsPerEndpoint: options.maxRequestsPerEndpoint, maxPendingPerEndpoint: options.maxPendingPerEndpoint });
    this.h2 = new H2cProxy({ ...shared, knownWaitMs: this.knownWaitMs, isSelf: this.isSelf, maxRequestsPerEndpoint: options.maxRequestsPerEndpoint });
    this.listener = new ProxyListener({ logger: this.logger, h2: this.h2.server, detectTimeoutMs: DETECT_TIMEOUT_MS });
    const http1 = this.listener.http1;
    http1.on('request', (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res));
    http1.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
    http1.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => this.onConnect(req, socket, head));
  }

  /** Binds `host:port` (0 picks a port) and resolves with the bound port. */
  async listen(host: string, port: number): Promise<number> {
    this.host = host;
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

  /**
   * Graceful drain: stops accepting, lets in-flight requests finish (then closes their
   * connections), closes idle keep-alive connections at once, and after `graceMs` destroys
   * whatever is left (tunnels included). Endpoint pools are closed last.
   */
  async close(graceMs: number): Promise<void> {
    await this.listener.close(graceMs);
    this.forwarder.close();
    this.h2.close();
  }

  /** Per-endpoint counters, grouped by service: JSON for the admin API's /clusters. */
  stats(): ClusterStatsJson {
    return this.counters.toJSON();
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const route = this.route(req);
    if ('code' in route) {
      writeErrorResponse(req, res, route);
      return;
    }
    this.resolve(route, (destination) => {
      if (destination.type === 'reject') this.forwarder.refuse(req, res, route, destination.error);
      else this.forwarder.forward(req, res, forwardOf(destination, route));
    });
  }


  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const route = this.route(req);
    if ('code' in route) {
      writeRawError(socket, route);
      return;
    }
    this.resolve(route, (destination) => {
      if (destination.type === 'reject') writeRawError(socket, destination.error);
      else forwardUpgrade(this.tunnels, req, socket, head, forwardOf(destination, route));
    });
  }

  private onConnect(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const authority = parseAuthority(req.url ?? '', 0);
    if (authority === undefined) {
      writeRawError(socket, badRequest(`CONNECT target "${req.url ?? ''}" is not host:port`));
      return;
    }
    const what = `${authority.host}:${authority.port}`;
    this.resolve(authority, (destination) => {
      if (destination.type === 'reject') {
        writeRawError(socket, destination.error);
        return;
      }
      connectWithRetry(this.tunnels, destination, what, () => socket.destroyed, (error, opened) => {
        if (error !== undefined || opened === undefined) {
          writeRawError(socket, error!);
          return;
        }
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length > 0) opened.socket.write(head);
        splice(socket, opened.socket, () => {
          opened.counters.active--;
        });
      }, socket.remoteAddress);
    });
  }

  /** Where an HTTP/1.1 request goes: its absolute-form target, else its Host header. */
  private route(req: IncomingMessage): RequestRoute | DestinationError {
    const url = req.url ?? '';
    if (url.charCodeAt(0) === 47 /* / */ || url === '*') {
      // Not what HTTP_PROXY clients send, but what a client aimed at this port by Host sends.
      const host = req.headers.host;
      if (host === undefined) return badRequest('origin-form request without a Host header: send absolute-form (http://host/path) through the proxy');
      const authority = parseAuthority(host, 80);
      if (authority === undefined) return badRequest(`invalid Host header "${host}"`);
      return { host: authority.host, port: authority.port, path: url };
    }
    const target = parseAbsoluteForm(url);
    if (target === undefined) {
      return badRequest(/^https:/i.test(url) ? `"${url}": https targets must be tunnelled with CONNECT` : `cannot parse request target "${url}"`);
    }
    return hasHost(req.rawHeaders) ? target : { ...target, addHost: target.authority };
  }

  private resolve(route: Authority, then: (destination: Destination) => void): void {
    routeTo(this.dataplane, route.host, route.port, this.knownWaitMs, this.isSelf, then);
  }

  private readonly isSelf = (host: string, port: number): boolean =>
    port === this.listener.port && (isLocalHost(host) || host === this.host);
}

function forwardOf(destination: Routable, route: RequestRoute): ForwardRequest {
  return { destination, what: `${route.host}:${route.port}`, host: route.host, port: route.port, path: route.path, addHost: route.addHost };
}
