// One attempt of a forwarded HTTP/1.1 request on an endpoint's undici pool. The handler speaks
// undici's callback style (onConnect, onHeaders, onData, onComplete, onError), which undici's
// HTTP/1.1 client calls natively; the controller style (onRequestStart…) would add a wrapper and
// a parsed header object per request. Verified in undici 7's client-h1.js: onConnect comes when
// the request is about to be written on a connected socket, never before the TCP connect, so
// "connected" means onConnect was called; a request failing without it never left the proxy.
import type { Dispatcher } from 'undici';
import type { UpstreamPool } from './upstream-pools.js';

/** What an attempt tells its exchange, while it is the exchange's current attempt. */
export interface AttemptListener {
  /** The connection is up and the request is being written (the body starts streaming). */
  onUpstreamConnect(): void;
  /**
   * A response head (1xx included). Returns false to pause the body; the exchange may leave the
   * attempt here (a retry). `resume` restarts a paused body.
   */
  onUpstreamHeaders(status: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean;
  /** A body chunk; false pauses the body until `resume`. */
  onUpstreamData(chunk: Buffer): boolean;
  /** The response ended; `rawTrailers` as name/value pairs. */
  onUpstreamComplete(rawTrailers: ReadonlyArray<Buffer | string> | null): void;
  /** The attempt failed: before connecting, before the head, or mid-body. */
  onUpstreamError(attempt: UpstreamAttempt, error: Error): void;
}

/**
 * Thrown from onConnect for an attempt its exchange left while it waited for a connection:
 * undici then drops the request before writing a byte and keeps the connection for the next
 * one (its abort would destroy the connection). One shared instance: no stack per request.
 */
const LEFT = Object.assign(new Error('skein: the request left this attempt before it was sent'), { code: 'SKEIN_ATTEMPT_LEFT' });

/** The undici dispatch handler of one attempt. */
export class UpstreamAttempt implements Dispatcher.DispatchHandler {
  /** The connection was up and the request started going out on it. */
  connected = false;
  /** ... on a keep-alive connection that had served requests before (see UpstreamPool.takeReused). */
  reused = false;
  private abortRequest: ((error?: Error) => void) | undefined;
  /** The exchange left this attempt: its events stop here. */
  private left = false;
  /** undici is done with the request (each request ends in onComplete or onError, once). */
  private ended = false;

  constructor(private readonly exchange: AttemptListener, readonly pool: UpstreamPool) {}

  /**
   * The exchange leaves this attempt (retry elsewhere, timeout, client gone): a request on the
   * wire is aborted (undici closes its connection); one still waiting is dropped at onConnect.
   */
  leave(): void {
    if (this.left) return;
    this.left = true;
    this.abortRequest?.();
  }

  onConnect(abort: (error?: Error) => void): void {
    const reused = this.pool.takeReused();
    if (this.left) throw LEFT;
    this.abortRequest = abort;
    this.connected = true;
    this.reused = reused;
    this.exchange.onUpstreamConnect();
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.left) return false;
    return this.exchange.onUpstreamHeaders(statusCode, headers, resume, statusText);
  }

  onData(chunk: Buffer): boolean {
    if (this.left) return false;
    return this.exchange.onUpstreamData(chunk);
  }

  // undici's types say string[]; its HTTP/1.1 client passes the raw Buffers.
  onComplete(trailers: ReadonlyArray<Buffer | string> | null): void {
    if (!this.end()) return;
    if (!this.left) this.exchange.onUpstreamComplete(trailers);
  }

  onError(error: Error): void {
    if (!this.end()) return;
    if (!this.left) this.exchange.onUpstreamError(this, error);
  }

  /** Releases the request's place in its pool, once; false if it was already released. */
  private end(): boolean {
    if (this.ended) return false;
    this.ended = true;
    this.pool.release();
    return true;
  }
}

/**
 * Errors undici raises while building a request (before any connection): the request head
 * cannot be sent as it is. The exchange checks heads first (see upstream-request.ts); these are
 * the backstop.
 */
export function isRequestRejected(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED';
}

/**
 * Short cause text for an upstream failure, in the terms node's http client used (so messages
 * and logs read as before): undici's "other side closed" socket error is ECONNRESET.
 */
export function upstreamCause(error: Error): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'UND_ERR_SOCKET') return 'ECONNRESET';
  if (typeof code === 'string') return code;
  return error.message;
}
