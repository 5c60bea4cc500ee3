// HTTP/2 cleartext sessions to endpoints, pooled per endpoint and shared by many streams, so
// the h2c proxy balances per request (gRPC's model) without a connection per call. A session
// takes streams up to the endpoint's SETTINGS_MAX_CONCURRENT_STREAMS; more open another session.
// A session that says GOAWAY, errors or closes leaves the pool at once; its streams finish.
import {
  connect as connectH2, constants, type ClientHttp2Session, type ClientHttp2Stream, type ClientSessionRequestOptions,
  type OutgoingHttpHeaders,
} from 'node:http2';
import { connect as connectTcp } from 'node:net';
import type { Target } from '../dataplane.js';

interface PooledSession {
  readonly session: ClientHttp2Session;
  /** Streams open or promised (reserved while the session connects). */
  active: number;
  /** Streams this session may carry: the peer's limit once known (capped), 100 until then. */
  limit: number;
  ready: boolean;
  /** Callbacks waiting for the session to connect. */
  waiters: Array<(error: Error | undefined) => void> | undefined;
  /** The lowest lastStreamID of the endpoint's GOAWAY frames, once it sent one. */
  lastStreamId: number | undefined;
}

const REJECTED = Symbol('skein.h2.requestRejected');

/** True for an error from `request` that says the request itself is unsendable (bad headers), not the endpoint unreachable. */
export function isRejectedRequest(error: Error | undefined): boolean {
  return error !== undefined && (error as Error & { [REJECTED]?: boolean })[REJECTED] === true;
}

/** Streams closed before the endpoint processed them (see `wasRefused`). */
const unprocessed = new WeakSet<ClientHttp2Stream>();

/**
 * True for a stream the endpoint did not process, so that sending the request again is safe
 * (RFC 9113 section 8.7): reset with REFUSED_STREAM, above the lastStreamID of the session's
 * GOAWAY (node reports those with the GOAWAY's error code when it is not NO_ERROR), or never
 * given an id. Meaningful once the stream has closed.
 */
export function wasRefused(stream: ClientHttp2Stream): boolean {
  return stream.rstCode === constants.NGHTTP2_REFUSED_STREAM || unprocessed.has(stream);
}

/** Streams per session before the peer announced its limit (RFC 9113 recommends at least 100). */
const INITIAL_LIMIT = 100;
const MAX_LIMIT = 1000;

/** Connected HTTP/2 sessions per endpoint. */
export class H2SessionPool {
  private readonly byTarget = new Map<string, PooledSession[]>();
  private closed = false;

  /**
   * @param connectTimeoutMs TCP connect plus HTTP/2 handshake deadline.
   * @param idleTimeoutMs a session with no stream for this long is closed.
   */
  constructor(private readonly connectTimeoutMs: number, private readonly idleTimeoutMs = 60_000) {}

  /**
   * Opens a stream to `target` on a pooled session with room, connecting one if needed. Calls
   * `done` with an error when no session could be established (nothing was sent: the caller
   * may retry elsewhere) or node refused the headers (`isRejectedRequest`), or with the stream.
   */
  request(target: Target, headers: OutgoingHttpHeaders, options: ClientSessionRequestOptions,
    done: (error: Error | undefined, stream?: ClientHttp2Stream) => void): void {
    if (this.closed) {
      done(Object.assign(new Error('session pool closed'), { code: 'ERR_HTTP2_INVALID_SESSION' }));
      return;
    }
    const pooled = this.reserve(target);
    if (pooled.ready) {
      this.open(target, pooled, headers, options, done);
      return;
    }
    (pooled.waiters ??= []).push((error) => {
      if (error) done(error);
      else this.open(target, pooled, headers, options, done);
    });
  }

  /** Sends GOAWAY on every session: open streams finish, no new ones start. */
  close(): void {
    this.closed = true;
    for (const sessions of this.byTarget.values()) for (const pooled of sessions) pooled.session.close();
    this.byTarget.clear();
  }

  /** Pooled sessions per endpoint key, for stats and tests. */
  sessionCount(targetKey: string): number {
    return this.byTarget.get(targetKey)?.length ?? 0;
  }

  /** Streams open or reserved on the pooled sessions of an endpoint key, for stats and tests. */
  streamCount(targetKey: string): number {
    let count = 0;
    for (const pooled of this.byTarget.get(targetKey) ?? []) count += pooled.active;
    return count;
  }

  private reserve(target: Target): PooledSession {
    let sessions = this.byTarget.get(target.key);
    if (sessions === undefined) {
      sessions = [];
      this.byTarget.set(target.key, sessions);
    }
    for (const pooled of sessions) {
      if (pooled.active < pooled.limit) {
        pooled.active++;
        return pooled;
      }
    }
    const pooled = this.connect(target);
    pooled.active++;
    sessions.push(pooled);
    return pooled;
  }

  private open(target: Target, pooled: PooledSession, headers: OutgoingHttpHeaders, options: ClientSessionRequestOptions,
    done: (error: Error | undefined, stream?: ClientHttp2Stream) => void): void {
    let stream: ClientHttp2Stream;
    try {
      stream = pooled.session.request(headers, options);
    } catch (error) {
      pooled.active--;
      if (pooled.session.closed || pooled.session.destroyed) {
        // The session went away (GOAWAY) between reservation and use; nothing was sent, and
        // the endpoint is not at fault: try again on a fresh session.
        this.remove(target.key, pooled);
        this.request(target, headers, options, done);
      } else {
        // node refused the headers themselves: no endpoint would take them.
        done(Object.assign(error as Error, { [REJECTED]: true }));
      }
      return;
    }
    stream.on('close', () => {
      pooled.active--;
      const id = stream.id;
      if (id === undefined || (pooled.lastStreamId !== undefined && id > pooled.lastStreamId)) unprocessed.add(stream);
    });
    done(undefined, stream);
  }

  private connect(target: Target): PooledSession {
    const host = target.address.includes(':') ? `[${target.address}]` : target.address;
    const socket = connectTcp({ host: target.address, port: target.port, noDelay: true });
    const session = connectH2(`http://${host}:${target.port}`, { createConnection: () => socket, settings: { enablePush: false } });
    const pooled: PooledSession = { session, active: 0, limit: INITIAL_LIMIT, ready: false, waiters: undefined, lastStreamId: undefined };
    const timer = setTimeout(() => {
      session.destroy(Object.assign(new Error(`connect timed out after ${this.connectTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, this.connectTimeoutMs);
    const settle = (error: Error | undefined): void => {
      clearTimeout(timer);
      const waiters = pooled.waiters;
      pooled.waiters = undefined;
      if (waiters) for (const waiter of waiters) waiter(error);
    };
    session.once('connect', () => {
      pooled.ready = true;
      settle(undefined);
    });
    session.on('remoteSettings', (settings) => {
      if (pooled.limit === 0) return; // already out of the pool
      pooled.limit = Math.max(1, Math.min(settings.maxConcurrentStreams ?? INITIAL_LIMIT, MAX_LIMIT));
    });
    session.on('error', (error: Error) => {
      this.remove(target.key, pooled);
      settle(error);
    });
    // A graceful shutdown may send several GOAWAYs, each lowering lastStreamID.
    session.on('goaway', (_code: number, lastStreamId: number) => {
      pooled.lastStreamId = Math.min(lastStreamId, pooled.lastStreamId ?? lastStreamId);
      this.remove(target.key, pooled);
    });
    session.once('close', () => {
      this.remove(target.key, pooled);
      settle(Object.assign(new Error('session closed before connecting'), { code: 'ECONNRESET' }));
    });
    session.setTimeout(this.idleTimeoutMs, () => {
      if (pooled.active === 0) session.close();
    });
    return pooled;
  }

  private remove(key: string, pooled: PooledSession): void {
    pooled.limit = 0; // never chosen again, even by a caller holding the array
    const sessions = this.byTarget.get(key);
    if (sessions === undefined) return;
    const index = sessions.indexOf(pooled);
    if (index !== -1) sessions.splice(index, 1);
    if (sessions.length === 0) this.byTarget.delete(key);
  }
}
