// The sidecar's inbound listener (--inbound-port -> --app-port on 127.0.0.1): a reverse proxy in
// front of the application. HTTP/1.1 is proxied per request over keep-alive connections to the
// app — this is where server-side telemetry hooks in (`onRequest` / `onResponse`). Anything else
// (h2c, TLS, databases, protocols where the server speaks first) is relayed as raw TCP.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { DestinationError } from '../dataplane.js';
import { noopLogger, type Logger } from '../logger.js';
import { ClusterStats, type ClusterStatsJson } from './cluster-stats.js';
import { directTarget, type Routable } from './destination.js';
import type { RequestTelemetry } from '../telemetry/request-telemetry.js';
import { HttpForwarder, writeErrorResponse } from './http-forwarder.js';
import { badRequest, ProxyErrorCode } from './proxy-errors.js';
import { ProxyListener } from './proxy-listener.js';
import { originPath } from './request-target.js';
import { connectTarget, splice, writeRawError, type TunnelContext } from './tunnel.js';
import { forwardUpgrade } from './upgrade-forwarder.js';

/** Options of an InboundProxy. */
export interface InboundProxyOptions {
  /** The application's port. */
  readonly appPort: number;
  /** The application's address. Default 127.0.0.1. */
  readonly appHost?: string;
  readonly logger?: Logger;
  /** Connect deadline to the app. Default 1000 (it is local). */
  readonly connectTimeoutMs?: number;
  /**
   * How long a new connection may stay silent before it is relayed as raw TCP (protocols where
   * the server speaks first, like MySQL or SMTP, wait this long once). Default 250.
   */
  readonly detectTimeoutMs?: number;
  /** A SERVER span (its context handed to the app) and metrics per HTTP request; none when absent. */
  readonly telemetry?: RequestTelemetry | undefined;
  /**
   * Telemetry hook: called when an HTTP request arrives, before it is forwarded. May return
   * headers to set on the request to the app (e.g. a server span's traceparent).
   */
  readonly onRequest?: (req: IncomingMessage) => Readonly<Record<string, string>> | void;
  /**
   * Telemetry hook: called once per HTTP request when its exchange ends — `res.statusCode` is
   * what the client got, `res.writableFinished` is false when it was cut short.
   */
  readonly onResponse?: (req: IncomingMessage, res: ServerResponse) => void;
}

/** Counters label for the app. */
const INBOUND = 'inbound';

/** Reverse proxy from the inbound port to the local application. */
export class InboundProxy {
  private readonly options: InboundProxyOptions;
  private readonly app: Routable;
  private readonly counters = new ClusterStats();
  private readonly forwarder: HttpForwarder;
  private readonly listener: ProxyListener;
  private readonly tunnels: TunnelContext;
  private readonly what: string;
  private readonly host: string;

  constructor(options: InboundProxyOptions) {
    this.options = options;
    const logger = options.logger ?? noopLogger;
    const host = options.appHost ?? '127.0.0.1';
    this.host = host;
    this.app = { type: 'direct', host, port: options.appPort, reason: 'passthrough', service: INBOUND };
    this.what = `${host}:${options.appPort}`;
    // No retries: there is one app, and a refused connection means it is not up.
    this.tunnels = { dataplane: undefined, stats: this.counters, connectTimeoutMs: options.connectTimeoutMs ?? 1000, maxConnectRetries: 0 };
    this.forwarder = new HttpForwarder({ ...this.tunnels, logger, telemetry: options.telemetry, direction: 'inbound' });
    this.listener = new ProxyListener({ logger, detectTimeoutMs: options.detectTimeoutMs ?? 250, onOther: (socket) => this.relay(socket) });
    const http1 = this.listener.http1;
    http1.on('request', (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res));
    http1.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      const path = originPath(req);
      if (path === undefined) writeRawError(socket, badTarget(req));
      else forwardUpgrade(this.tunnels, req, socket, head, { destination: this.app, what: this.what, path });
    });
    http1.on('connect', (_req: IncomingMessage, socket: Socket) => {
      writeRawError(socket, { code: ProxyErrorCode.METHOD_NOT_ALLOWED, message: 'skein: CONNECT is not served on the inbound listener', status: 405 });
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
  }

  /** Counters for the app endpoint (label "inbound"). */
  stats(): ClusterStatsJson {
    return this.counters.toJSON();
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const { onRequest, onResponse } = this.options;
    const setHeaders = onRequest?.(req) ?? undefined;
    if (onResponse !== undefined) res.once('close', () => onResponse(req, res));
    const path = originPath(req);
    if (path === undefined) {
      writeErrorResponse(req, res, badTarget(req));
      return;
    }
    this.forwarder.forward(req, res, { destination: this.app, what: this.what, host: this.host, port: this.options.appPort, path, setHeaders });
  }

  private relay(socket: Socket): void {
    const target = directTarget(this.app.type === 'direct' ? this.app.host : '', this.options.appPort);
    const counters = this.counters.counters(INBOUND, target.key);
    counters.total++;
    counters.active++;
    connectTarget(target, this.tunnels.connectTimeoutMs, (error, upstream) => {
      if (error !== undefined || upstream === undefined || socket.destroyed) {
        if (error !== undefined) counters.connectFailures++;
        counters.active--;
        upstream?.destroy();
        socket.destroy();
        return;
      }
      splice(socket, upstream, () => {
        counters.active--;
      });
    });
  }
}

function badTarget(req: IncomingMessage): DestinationError {
  return badRequest(`cannot parse request target "${req.url ?? ''}"`);
}
