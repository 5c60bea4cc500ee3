// One listening port that speaks several protocols: each accepted connection is sniffed
// (protocol-sniff.ts) and handed to node's HTTP/1.1 server, to an HTTP/2 server (h2c by prior
// knowledge), or to a raw-TCP handler. Also owns what every listener needs: 400 answers for
// malformed requests and a graceful drain on close.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Http2Server, ServerHttp2Session } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../logger.js';
import { ProxyErrorCode } from './proxy-errors.js';
import { sniffProtocol } from './protocol-sniff.js';

/** How a ProxyListener dispatches connections. */
export interface ProxyListenerOptions {
  readonly logger: Logger;
  /** Receives connections that start with the HTTP/2 preface; without it they go to HTTP/1.1 (and get a 400). */
  readonly h2?: Http2Server;
  /**
   * Receives connections that are not HTTP/1.x (h2 too, when there is no `h2` server), or are
   * silent past `detectTimeoutMs`; without it, they go to HTTP/1.1.
   */
  readonly onOther?: (socket: Socket) => void;
  /** How long to wait for a client's first bytes before deciding. */
  readonly detectTimeoutMs: number;
}

interface HttpParserError extends Error {
  code?: string;
}

/** Largest request head accepted; Envoy's default is 60 KiB, node's 16 KiB rejects big cookies and JWTs. */
const MAX_HEADER_BYTES = 64 * 1024;

/** A port serving HTTP/1.1, optionally h2c and raw TCP, with graceful close. */
export class ProxyListener {
  /** The HTTP/1.1 server: attach 'request', 'upgrade' and 'connect' handlers to it. */
  readonly http1: Server;
  private readonly sockets = new Set<Socket>();
  /** Accepted connections whose protocol is not known yet. */
  private readonly undecided = new Set<Socket>();
  private readonly inflight = new Set<ServerResponse>();
  private readonly sessions = new Set<ServerHttp2Session>();
  private draining = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: ProxyListenerOptions) {
    // requestTimeout 0: a proxied request may stream for as long as both ends want (uploads,
    // long polls); slow-header protection stays (headersTimeout). Host is checked by the router.
    this.http1 = createServer({ requireHostHeader: false, requestTimeout: 0, maxHeaderSize: MAX_HEADER_BYTES });
    // The HTTP server listens itself (so node keeps its connection tracking, header timeouts and
    // idle-connection closing) but its own 'connection' handler is called only after sniffing.
    const parseHttp1 = this.http1.listeners('connection')[0] as ((socket: Socket) => void) | undefined;
    if (typeof parseHttp1 !== 'function') throw new Error('skein: proxy listener: node:http Server has no connection handler to wrap');
    this.http1.removeAllListeners('connection');
    this.http1.on('connection', (socket: Socket) => this.accept(socket, parseHttp1));
    this.http1.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => this.track(res));
    this.http1.on('clientError', (error: HttpParserError, socket: Socket) => this.onClientError(error, socket));
    options.h2?.on('session', (session: ServerHttp2Session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
      if (this.draining) session.close();
    });
  }

  /** Binds `host:port` (port 0 picks one) and resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.http1.once('error', reject);
      this.http1.listen(port, host, () => {
        this.http1.removeListener('error', reject);
        resolve((this.http1.address() as AddressInfo).port);
      });
    });
  }

  /** The bound port, or 0 before listen. */
  /** Client connections open now. */
  get connections(): number {
    return this.sockets.size;
  }

  get port(): number {
    const address = this.http1.address();
    return address !== null && typeof address === 'object' ? address.port : 0;
  }

  /**
   * Stops accepting, lets in-flight requests and h2 streams finish (answering them with
   * `Connection: close` / GOAWAY), closes idle keep-alive connections at once, and destroys
   * whatever is still open (tunnels included) after `graceMs`. Resolves when every accepted
   * connection is closed. Idempotent.
   */
  close(graceMs: number): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.draining = true;
      if (!this.http1.listening) {
        for (const socket of this.sockets) socket.destroy();
        resolve();
        return;
      }
      const timer = setTimeout(() => {
        for (const session of this.sessions) session.destroy();
        for (const socket of this.sockets) socket.destroy();
      }, graceMs);
      this.http1.close(() => {
        clearTimeout(timer);
        resolve();
      });
      for (const res of this.inflight) {
        if (!res.headersSent) res.shouldKeepAlive = false;
      }
      for (const session of this.sessions) session.close();
      for (const socket of this.undecided) socket.destroy();
    });
    return this.closing;
  }

  private accept(socket: Socket, parseHttp1: (socket: Socket) => void): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    // Errors after the owner detached its handlers must not crash the process.
    socket.on('error', noop);
    if (this.draining) {
      socket.destroy();
      return;
    }
    this.undecided.add(socket);
    sniffProtocol(socket, this.options.detectTimeoutMs, (protocol) => {
      this.undecided.delete(socket);
      if (protocol === 'closed' || this.draining) {
        socket.destroy();
      } else if (protocol === 'h2' && this.options.h2) {
        this.options.h2.emit('connection', socket);
      } else if (protocol !== 'http1' && this.options.onOther) {
        this.options.onOther(socket);
      } else {
        parseHttp1.call(this.http1, socket);
        // The sniffer paused the socket; node's parser reads the unshifted bytes once it flows.
        socket.resume();
      }
    });
  }

  private track(res: ServerResponse): void {
    res.sendDate = false; // transparent: the endpoint's Date header, or none
    if (this.draining) res.shouldKeepAlive = false;
    this.inflight.add(res);
    const socket = res.socket; // detached from res by the time 'close' fires
    res.once('close', () => {
      this.inflight.delete(res);
      if (this.draining) this.closeIfIdle(socket);
    });
  }

  // During a drain, a keep-alive connection whose last response just finished gets a FIN.
  private closeIfIdle(socket: Socket | null): void {
    if (socket === null || socket.destroyed) return;
    for (const res of this.inflight) if (res.socket === socket) return;
    socket.destroySoon();
  }

  private onClientError(error: HttpParserError, socket: Socket): void {
    const pending = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || pending?.headersSent) {
      socket.destroy();
      return;
    }
    let status = 400;
    let text = 'Bad Request';
    if (error.code === 'HPE_HEADER_OVERFLOW') {
      status = 431;
      text = 'Request Header Fields Too Large';
    } else if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      status = 408;
      text = 'Request Timeout';
    }
    const body = `skein: bad request: cannot parse the HTTP request (${error.code ?? 'error'}: ${error.message})\n`;
    this.options.logger.debug({ code: error.code, status }, 'malformed request');
    socket.write(`HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain; charset=utf-8\r\n`
      + `content-length: ${Buffer.byteLength(body)}\r\nx-skein-error: ${ProxyErrorCode.BAD_REQUEST}\r\nconnection: close\r\n\r\n${body}`);
    socket.destroySoon();
  }
}

function noop(): void {}
