// Raw TCP legs: connect to an endpoint with a timeout and retries on other endpoints (CONNECT
// tunnels, WebSocket upgrades, inbound non-HTTP traffic), then splice two sockets together.
import { STATUS_CODES } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Dataplane, DestinationError, Target } from '../dataplane.js';
import type { ClusterStats, TargetCounters } from './cluster-stats.js';
import { clientIpOf, firstTarget, isError, retryTarget, serviceLabel, type Routable } from './destination.js';
import { causeOf, connectFailed } from './proxy-errors.js';

/** What a tunnel connect needs from its listener. */
export interface TunnelContext {
  readonly dataplane: Dataplane | undefined;
  readonly stats: ClusterStats;
  readonly connectTimeoutMs: number;
  readonly maxConnectRetries: number;
  /** This pod's IP: stands for loopback clients in ClientIP affinity. */
  readonly podIp?: string;
}

/** A connected endpoint socket and the counters the caller must settle when the tunnel ends. */
export interface OpenedTunnel {
  readonly socket: Socket;
  readonly target: Target;
  readonly counters: TargetCounters;
}

/**
 * Connects to an endpoint of `destination`; on connect failure reports it and tries another
 * endpoint, up to `maxConnectRetries` more times. `what` names the destination in errors.
 * `cancelled()` is checked between attempts (the client went away). Calls `done` exactly once.
 * The caller owns `counters.active` (incremented here) and must decrement it when done.
 * `clientAddress` is the client's socket address, for ClientIP affinity services.
 */
export function connectWithRetry(
  context: TunnelContext, destination: Routable, what: string, cancelled: () => boolean,
  done: (error: DestinationError | undefined, opened?: OpenedTunnel) => void,
  clientAddress?: string,
): void {
  const clientIp = clientIpOf(destination, clientAddress, context.podIp);
  const first = firstTarget(destination, undefined, clientIp);
  if (isError(first)) {
    done(first);
    return;
  }
  const label = serviceLabel(destination);
  let tried: Set<string> | undefined;
  const attempt = (target: Target, retriesLeft: number): void => {
    const counters = context.stats.counters(label, target.key);
    counters.total++;
    counters.active++;
    connectTarget(target, context.connectTimeoutMs, (error, socket) => {
      if (!error && socket) {
        if (destination.type === 'service') context.dataplane?.report(destination.service, target, 'success');
        if (cancelled()) {
          counters.active--;
          socket.destroy();
          return;
        }
        done(undefined, { socket, target, counters });
        return;
      }
      counters.active--;
      counters.connectFailures++;
      const timedOut = (error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
      if (destination.type === 'service') context.dataplane?.report(destination.service, target, timedOut ? 'timeout' : 'connect-error');
      (tried ??= new Set()).add(target.key);
      const next = retriesLeft > 0 && !cancelled() ? retryTarget(destination, tried, undefined, clientIp) : undefined;
      if (next) attempt(next, retriesLeft - 1);
      else done(connectFailed(what, target.key, causeOf(error)));
    });
  };
  attempt(first, context.maxConnectRetries);
}

/** Opens a TCP connection to `target`, failing with ETIMEDOUT after `timeoutMs`. */
export function connectTarget(target: Target, timeoutMs: number, done: (error: Error | undefined, socket?: Socket) => void): void {
  const socket = connect({ host: target.address, port: target.port, allowHalfOpen: true, noDelay: true });
  const timer = setTimeout(() => {
    const error: NodeJS.ErrnoException = new Error(`connect timed out after ${timeoutMs} ms`);
    error.code = 'ETIMEDOUT';
    socket.destroy(error);
  }, timeoutMs);
  const onError = (error: Error): void => {
    clearTimeout(timer);
    socket.removeListener('connect', onConnect);
    done(error);
  };
  const onConnect = (): void => {
    clearTimeout(timer);
    socket.removeListener('error', onError);
    done(undefined, socket);
  };
  socket.once('error', onError);
  socket.once('connect', onConnect);
}

/**
 * Pipes `a` and `b` both ways with backpressure. A FIN on one side is passed on as a FIN on the
 * other (half-close, which protocols like HTTP/1.0-over-CONNECT rely on); when one side closes,
 * the other is ended after its pending writes flush and then destroyed; an error destroys both.
 * `onClose` runs once, after both sockets have closed.
 */
export function splice(a: Socket, b: Socket, onClose: () => void): void {
  let open = 2;
  const closed = (): void => {
    if (--open === 0) onClose();
  };
  const endAfterFlush = (socket: Socket): void => {
    if (socket.destroyed) return;
    if (socket.writableFinished) socket.destroy();
    else socket.end(() => socket.destroy());
  };
  const fail = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on('error', fail);
  b.on('error', fail);
  a.once('close', () => {
    endAfterFlush(b);
    closed();
  });
  b.once('close', () => {
    endAfterFlush(a);
    closed();
  });
  a.pipe(b);
  b.pipe(a);
}

/**
 * Answers on a raw client socket (CONNECT, Upgrade: the HTTP parser has let go of it) with an
 * error response — `error.status`, the message as body, `x-skein-error` — and closes it.
 */
export function writeRawError(socket: Socket, error: DestinationError): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${error.message}\n`;
  socket.write(`HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\ncontent-type: text/plain; charset=utf-8\r\n`
    + `content-length: ${Buffer.byteLength(body)}\r\nx-skein-error: ${error.code}\r\nconnection: close\r\n\r\n${body}`);
  socket.destroySoon();
}
