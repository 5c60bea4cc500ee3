// Connection pools of library mode: one undici Pool per endpoint (keep-alive, created on
// first use) and one per direct origin. A pool whose endpoint left the config is closed
// gracefully, so requests already on it finish (terminating endpoints drain, ARCHITECTURE 5).
import { Pool } from 'undici';
import type { Target } from '../dataplane.js';
import { endpointOrigin } from './request-origin.js';

interface Entry {
  readonly pool: Pool;
  /** The endpoint, or undefined for a direct origin (those are kept until close). */
  readonly target: Target | undefined;
  /** The names ("host:port" the app used) whose service led here, by `${host}|${port}`. */
  readonly names: Map<string, { host: string; port: number }>;
  /** The name of the last request, whose registration can be skipped when the next has it too. */
  lastHost?: string;
  lastPort?: number;
  /** Set when the pool is retired: the entry is no longer in `entries`. */
  retired?: boolean;
}

/** Decides whether `targetKey` is still an endpoint of the service `host:port` names. */
export type StillWanted = (host: string, port: number, targetKey: string) => boolean;

export class EndpointPools {
  private readonly entries = new Map<string, Entry>();
  /** Pools closing gracefully, until they have closed. */
  private readonly closing = new Map<Pool, Promise<void>>();
  /** Endpoint entries by target object and protocol: spares building the key string per request. */
  private readonly byTarget = new WeakMap<Target, { protocol: string; entry: Entry }>();

  constructor(private readonly options: Pool.Options = {}) {}

  /** The pool of one endpoint, reached through the name `host:port`. */
  forTarget(protocol: string, target: Target, host: string, port: number): Pool {
    const known = this.byTarget.get(target);
    let entry: Entry;
    if (known !== undefined && known.protocol === protocol && !known.entry.retired) entry = known.entry;
    else {
      entry = this.entry(`${protocol}//${target.key}`, protocol, target.address, target.port, target);
      this.byTarget.set(target, { protocol, entry });
    }
    if (entry.lastHost !== host || entry.lastPort !== port) {
      const name = `${host}|${String(port)}`;
      if (!entry.names.has(name)) entry.names.set(name, { host, port });
      entry.lastHost = host;
      entry.lastPort = port;
    }
    return entry.pool;
  }

  /** The pool of an origin outside the balancer (passthrough, ExternalName, headless endpoint). */
  forDirect(protocol: string, host: string, port: number): Pool {
    return this.entry(`direct ${protocol}//${host}:${String(port)}`, protocol, host, port, undefined).pool;
  }

  /**
   * Closes every endpoint pool no name wants any more. Called after each config change;
   * `Pool.close()` lets queued and running requests finish first.
   */
  sweep(stillWanted: StillWanted): void {
    for (const [key, entry] of this.entries) {
      if (!entry.target) continue;
      for (const [name, { host, port }] of entry.names) {
        if (stillWanted(host, port, entry.target.key)) continue;
        entry.names.delete(name);
        entry.lastHost = undefined; // the next request registers its name again
      }
      if (entry.names.size > 0) continue;
      this.entries.delete(key);
      this.retire(entry);
    }
  }

  /** Keys of the open pools ("http://10.0.0.7:8080", "direct http://example.com:80"), for tests and admin pages. */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** Closes every pool after its requests finish. */
  async close(): Promise<void> {
    for (const entry of this.entries.values()) this.retire(entry);
    this.entries.clear();
    await Promise.all(this.closing.values());
  }

  /** Destroys every pool at once, failing its requests with `error`. */
  async destroy(error: Error | null): Promise<void> {
    const pools = [...this.entries.values()].map((e) => {
      e.retired = true;
      return e.pool;
    });
    this.entries.clear();
    await Promise.all([...pools, ...this.closing.keys()].map((pool) => pool.destroy(error).catch(() => undefined)));
  }

  private entry(key: string, protocol: string, host: string, port: number, target: Target | undefined): Entry {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { pool: new Pool(endpointOrigin(protocol, host, port), this.options), target, names: new Map() };
      this.entries.set(key, entry);
    }
    return entry;
  }

  private retire(entry: Entry): void {
    entry.retired = true;
    const pool = entry.pool;
    this.closing.set(pool, pool.close().catch(() => undefined).finally(() => this.closing.delete(pool)));
  }
}
