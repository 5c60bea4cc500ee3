// Session affinity for `sessionAffinity: ClientIP` Services: the "affinity" step of the
// selection pipeline (ARCHITECTURE 5), after health and before the picker.
//
// Why a table, not a hash ring: kube-proxy remembers, per client address, the endpoint it last
// sent that client to (iptables `-m recent`, IPVS persistence), and keeps using it while the
// endpoint exists and the client was seen within `timeoutSeconds`. A hash ring would move
// clients whenever endpoints are added; a table keeps them across scale-ups.
import type { Target } from '../dataplane.js';
import type { Clock } from './clock.js';

/** Kubernetes' default `sessionAffinityConfig.clientIP.timeoutSeconds` (3 hours). */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10_800;
/** Kubernetes' upper bound for `timeoutSeconds` (1 day). */
export const MAX_AFFINITY_TIMEOUT_SECONDS = 86_400;
/** Default bound on remembered clients per table. */
export const DEFAULT_AFFINITY_MAX_ENTRIES = 65_536;

export interface ClientIpAffinityOptions {
  /** Idle timeout, 1..86400; absent or 0 (proto default) means 10800. */
  readonly timeoutSeconds?: number;
  /** Most clients remembered; the least recently used one is evicted past it. Default 65,536. */
  readonly maxEntries?: number;
}

interface Entry {
  readonly clientIp: string;
  readonly target: Target;
  lastSeen: number;
}

/**
 * The ClientIP affinity table of one Service port. Pure: no timers. Entries expire lazily
 * (on `lookup`) or in bulk with `sweep`. Memory is bounded by `maxEntries`; every operation
 * is O(1) except `forget` (O(entries of that endpoint)) and `sweep` (O(expired entries)).
 *
 * The Map's insertion order is the LRU order: a hit or a `remember` re-inserts the entry at
 * the end, so the first entry is the least recently used and, with a clock that does not go
 * backwards, also the one idle longest.
 */
export class ClientIpAffinity {
  readonly timeoutMs: number;
  readonly maxEntries: number;
  private readonly entries = new Map<string, Entry>();
  /** Target key -> client addresses remembered on it, for `forget`. */
  private readonly byTarget = new Map<string, Set<string>>();

  constructor(private readonly clock: Clock, options: ClientIpAffinityOptions = {}) {
    const seconds = options.timeoutSeconds === undefined || options.timeoutSeconds === 0 ? DEFAULT_AFFINITY_TIMEOUT_SECONDS : options.timeoutSeconds;
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_AFFINITY_TIMEOUT_SECONDS) {
      throw new RangeError(`skein: session affinity timeoutSeconds must be an integer in 1..${MAX_AFFINITY_TIMEOUT_SECONDS}, got ${seconds}`);
    }
    const maxEntries = options.maxEntries ?? DEFAULT_AFFINITY_MAX_ENTRIES;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`skein: session affinity maxEntries must be a positive integer, got ${maxEntries}`);
    this.timeoutMs = seconds * 1000;
    this.maxEntries = maxEntries;
  }

  /** Clients remembered now (expired entries count until a `lookup` or `sweep` drops them). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Called for each new connection or request of a ClientIP Service, before the picker.
   * Returns the endpoint remembered for `clientIp` when the entry has been idle for less than
   * the timeout and `usable(target.key)` still holds (the endpoint is still eligible and
   * healthy); the hit refreshes the idle clock, as each new connection does in kube-proxy.
   * Otherwise drops the entry and returns undefined: the caller picks, then calls `remember`.
   */
  lookup(clientIp: string, usable: (targetKey: string) => boolean): Target | undefined {
    const ip = normalizeClientIp(clientIp);
    const entry = this.entries.get(ip);
    if (entry === undefined) return undefined;
    const now = this.clock.now();
    // kube-proxy keeps an entry while the client was seen less than timeoutSeconds ago.
    if (now - entry.lastSeen >= this.timeoutMs || !usable(entry.target.key)) {
      this.delete(entry);
      return undefined;
    }
    entry.lastSeen = now;
    this.entries.delete(ip);
    this.entries.set(ip, entry);
    return entry.target;
  }

  /**
   * What `lookup` would answer, without touching the entry (no refresh, no drop): for
   * explaining a request without changing where later ones go.
   */
  peek(clientIp: string, usable: (targetKey: string) => boolean): Target | undefined {
    const entry = this.entries.get(normalizeClientIp(clientIp));
    if (entry === undefined || this.clock.now() - entry.lastSeen >= this.timeoutMs || !usable(entry.target.key)) return undefined;
    return entry.target;
  }

  /** Records that `clientIp` was sent to `target` (after a miss). Evicts the LRU entry when full. */
  remember(clientIp: string, target: Target): void {
    const ip = normalizeClientIp(clientIp);
    const old = this.entries.get(ip);
    if (old !== undefined) this.delete(old);
    else if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.values().next().value;
      if (oldest !== undefined) this.delete(oldest);
    }
    const entry: Entry = { clientIp: ip, target, lastSeen: this.clock.now() };
    this.entries.set(ip, entry);
    let clients = this.byTarget.get(target.key);
    if (clients === undefined) this.byTarget.set(target.key, (clients = new Set()));
    clients.add(ip);
  }

  /** Drops every entry on an endpoint that left the Service. Returns how many were dropped. */
  forget(targetKey: string): number {
    const clients = this.byTarget.get(targetKey);
    if (clients === undefined) return 0;
    this.byTarget.delete(targetKey);
    for (const ip of clients) this.entries.delete(ip);
    return clients.size;
  }

  /**
   * Drops entries idle for the timeout or longer, oldest first, stopping at the first live one.
   * Optional: `lookup` expires entries on its own; a sweep only returns memory sooner.
   * Returns how many were dropped.
   */
  sweep(now: number = this.clock.now()): number {
    let dropped = 0;
    for (const entry of this.entries.values()) {
      if (now - entry.lastSeen < this.timeoutMs) break;
      this.delete(entry);
      dropped++;
    }
    return dropped;
  }

  /** Forgets every client (the Service stopped using ClientIP affinity, or was removed). */
  clear(): void {
    this.entries.clear();
    this.byTarget.clear();
  }

  private delete(entry: Entry): void {
    this.entries.delete(entry.clientIp);
    const clients = this.byTarget.get(entry.target.key);
    if (clients === undefined) return;
    clients.delete(entry.clientIp);
    if (clients.size === 0) this.byTarget.delete(entry.target.key);
  }
}

/**
 * One key per client: an IPv4 client seen on a dual-stack socket as "::ffff:10.0.0.1" is the
 * same client as "10.0.0.1".
 */
export function normalizeClientIp(address: string): string {
  return address.length > 7 && address.startsWith('::ffff:') && address.includes('.', 7) ? address.slice(7) : address;
}
