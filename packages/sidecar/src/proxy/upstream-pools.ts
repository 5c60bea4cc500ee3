// The HTTP/1.1 forwarder's endpoint connections: one undici Pool per endpoint ("address:port"),
// keep-alive, one request per connection at a time (no pipelining: a request must never queue
// behind another's response). A pool is made on first use and dropped once it holds no request
// and no connection, so endpoints that went away leave nothing behind.
import { connect as connectTcp, type Socket } from 'node:net';
import { Pool, type buildConnector, type Dispatcher } from 'undici';
import type { Target } from '../dataplane.js';

/** How every endpoint pool of a forwarder behaves. */
export interface UpstreamPoolsOptions {
  /** TCP connect deadline per connection attempt. */
  readonly connectTimeoutMs: number;
  /** Connections per endpoint; requests beyond them wait in the pool. */
  readonly connections: number;
  /** Idle connections are closed after this long (an endpoint's Keep-Alive hint may shorten it). */
  readonly idleTimeoutMs: number;
}

// undici subtracts this from an endpoint's `Keep-Alive: timeout=N`: node servers say 5 s, so
// their connections idle out after 4 s here, as with IDLE (see http-forwarder.ts).
const KEEP_ALIVE_MARGIN_MS = 1000;
// TCP keep-alive probes on long-lived connections (undici's default delay).
const TCP_KEEPALIVE_DELAY_MS = 60_000;

/** One endpoint's pool, and what undici's PoolStats would need a walk over every connection to tell. */
export class UpstreamPool {
  /** Requests undici holds: waiting for a connection, or on one. */
  inflight = 0;
  /** Connections up now. */
  private connected = 0;
  /** A connection just came up; see `takeReused`. */
  private fresh = false;

  constructor(
    readonly key: string,
    readonly pool: Pool,
    private readonly connections: number,
    private readonly owner: UpstreamPools,
  ) {
    pool.on('connect', () => {
      this.connected++;
      this.fresh = true;
    });
    pool.on('disconnect', () => {
      this.connected--;
      this.dropIfIdle();
    });
    pool.on('connectionError', () => this.dropIfIdle());
  }

  /**
   * Whether a new request would wait in the pool: as many requests as connections (each holds
   * one, undici pipelines none), so no connection is free and none may be opened.
   */
  get full(): boolean {
    return this.inflight >= this.connections;
  }

  /** Sends a request; `handler` must call `release()` once undici is done with it (onComplete or onError). */
  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void {
    this.inflight++;
    this.pool.dispatch(options, handler);
  }

  release(): void {
    this.inflight--;
  }

  /**
   * Whether the request undici is starting to write now (call from onConnect) goes on a
   * connection that was open before it: a keep-alive connection the endpoint may have closed
   * meanwhile. undici emits 'connect' for a new connection and then, synchronously, writes the
   * request that opened it, so the first onConnect after 'connect' is that request.
   */
  takeReused(): boolean {
    const reused = !this.fresh;
    this.fresh = false;
    return reused;
  }

  /**
   * Closes the pool after undici refused a request it had accepted (a request it cannot build
   * leaves one of the pool's connections marked busy for good): later requests get a new pool.
   */
  retire(): void {
    this.owner.drop(this);
  }

  private dropIfIdle(): void {
    if (this.inflight === 0 && this.connected === 0) this.owner.drop(this);
  }
}

/** The endpoint pools of one forwarder, by endpoint key. */
export class UpstreamPools {
  private readonly pools = new Map<string, UpstreamPool>();
  private readonly poolOptions: Pool.Options;

  constructor(private readonly options: UpstreamPoolsOptions) {
    this.poolOptions = {
      connections: options.connections,
      pipelining: 1,
      keepAliveTimeout: options.idleTimeoutMs,
      keepAliveMaxTimeout: options.idleTimeoutMs,
      keepAliveTimeoutThreshold: KEEP_ALIVE_MARGIN_MS,
      // No per-read deadlines (undici's default is 300 s each): long polls and slow streams are
      // the application's business; `skein.io/timeout` is the request's deadline.
      headersTimeout: 0,
      bodyTimeout: 0,
      connect: timedConnector(options.connectTimeoutMs),
    };
  }

  /** The pool of `target`, made on first use. */
  get(target: Target): UpstreamPool {
    let entry = this.pools.get(target.key);
    if (entry === undefined) {
      const host = target.address.includes(':') ? `[${target.address}]` : target.address;
      const pool = new Pool(`http://${host}:${String(target.port)}`, this.poolOptions);
      entry = new UpstreamPool(target.key, pool, this.options.connections, this);
      this.pools.set(target.key, entry);
    }
    return entry;
  }

  /** The pool of the endpoint `key`, if there is one now (for tests and admin pages). */
  peek(key: string): UpstreamPool | undefined {
    return this.pools.get(key);
  }

  /** Forgets `entry` and closes its pool once what it holds has finished. */
  drop(entry: UpstreamPool): void {
    if (this.pools.get(entry.key) !== entry) return;
    this.pools.delete(entry.key);
    entry.pool.close().catch(() => undefined);
  }

  /** Destroys every pool, in-flight requests included (they fail). */
  close(): void {
    for (const entry of this.pools.values()) entry.pool.destroy().catch(() => undefined);
    this.pools.clear();
  }
}

/**
 * Plain TCP connections with an exact connect deadline: undici's own connect timeout runs on its
 * coarse shared timer (half-second ticks: up to a second late), too loose for the inbound leg's
 * 1 s deadline. A timed-out attempt fails with ETIMEDOUT, as the forwarder has always reported it.
 */
function timedConnector(timeoutMs: number): buildConnector.connector {
  return (options, callback) => {
    const socket: Socket = connectTcp({
      host: options.hostname, port: Number(options.port) || 80, noDelay: true,
      keepAlive: true, keepAliveInitialDelay: TCP_KEEPALIVE_DELAY_MS,
    });
    let settled = false;
    const timer = setTimeout(() => {
      socket.destroy(Object.assign(new Error(`connect timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once('connect', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      callback(null, socket);
    });
    socket.on('error', (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      callback(error, null);
    });
  };
}
