// Per-endpoint counters the listeners keep for the admin API's /clusters page, in the spirit of
// Envoy's rq_active / rq_pending_active / rq_total / rq_error / cx_connect_fail / upstream_rq_pending_overflow. Counters are plain mutable objects
// created once per (service, endpoint), so counting costs two map lookups and no allocation.

/** Counters for one endpoint of one service. Tunnels (CONNECT, Upgrade) count as requests. */
export interface TargetCounters {
  /** Requests and tunnels in flight now (pending ones included). */
  active: number;
  /** HTTP/1.1 requests in flight now that wait in the connection pool for a socket. */
  pending: number;
  /** Attempts started, including ones that failed to connect. */
  total: number;
  /** Attempts that connected and then failed (reset, timeout) or were answered with a 5xx. */
  errors: number;
  /** Attempts that could not connect (refused, unreachable, connect timeout). */
  connectFailures: number;
  /** Requests turned away because this endpoint was at its circuit-breaking limit (active or pending). */
  overflows: number;
}

/** JSON for /clusters: service label -> endpoint key ("address:port") -> counters. */
export type ClusterStatsJson = Record<string, Record<string, TargetCounters>>;

/**
 * Counters keyed by service label (`namespace/name`, or `passthrough` for destinations outside
 * the mesh, or `inbound`) and endpoint key. Entries for endpoints that went away stay until
 * `prune()`; they are small, and keeping them lets /clusters show what an endpoint did last.
 */
export class ClusterStats {
  private readonly services = new Map<string, Map<string, TargetCounters>>();

  /** Returns the live counters for `targetKey` of `service`, creating them on first use. */
  counters(service: string, targetKey: string): TargetCounters {
    let targets = this.services.get(service);
    if (targets === undefined) {
      targets = new Map();
      this.services.set(service, targets);
    }
    let counters = targets.get(targetKey);
    if (counters === undefined) {
      counters = { active: 0, pending: 0, total: 0, errors: 0, connectFailures: 0, overflows: 0 };
      targets.set(targetKey, counters);
    }
    return counters;
  }

  /** Drops idle entries for which `keep(service, targetKey)` is false (e.g. endpoints no longer in config). */
  prune(keep: (service: string, targetKey: string) => boolean): void {
    for (const [service, targets] of this.services) {
      for (const [key, counters] of targets) {
        if (counters.active === 0 && counters.pending === 0 && !keep(service, key)) targets.delete(key);
      }
      if (targets.size === 0) this.services.delete(service);
    }
  }

  /** A copy of every counter, safe to serialize and keep. */
  toJSON(): ClusterStatsJson {
    const out: ClusterStatsJson = {};
    for (const [service, targets] of this.services) {
      const entry: Record<string, TargetCounters> = {};
      for (const [key, counters] of targets) entry[key] = { ...counters };
      out[service] = entry;
    }
    return out;
  }
}
