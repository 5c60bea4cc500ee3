// Counters a discovery client keeps for metrics: per resource type, the version in force and
// when it was applied, responses applied and rejected; and reconnections. Written only when
// a response is handled or a connection (re)opens, never on the request path.

/** One resource type as a discovery client last applied it. */
export interface TypeDiscoveryStats {
  /** Version of the last applied response (xDS version_info; the HTTP snapshot's ETag); null before one. */
  readonly version: string | null;
  /** Epoch milliseconds of the last applied response; null before one. */
  readonly appliedAt: number | null;
  /** Responses applied (ACKed) since start. */
  readonly applied: number;
  /** Responses rejected, in full or in part (NACKed), since start. */
  readonly nacks: number;
}

export interface DiscoveryStatsSnapshot {
  /** By type URL ("skein.v1.Service"...); only types answered at least once. */
  readonly types: Readonly<Record<string, TypeDiscoveryStats>>;
  /** Connections re-established after the first one (xDS: streams reopened; HTTP: polls recovered after a failure). */
  readonly reconnects: number;
}

interface MutableTypeStats {
  version: string | null;
  appliedAt: number | null;
  applied: number;
  nacks: number;
}

/** The writable side, owned by one discovery client. */
export class DiscoveryStats {
  private readonly types = new Map<string, MutableTypeStats>();
  private reconnectCount = 0;

  /** A response of `typeUrl` with `version` was applied and ACKed at `at` (epoch ms). */
  applied(typeUrl: string, version: string, at: number): void {
    const stats = this.type(typeUrl);
    stats.version = version;
    stats.appliedAt = at;
    stats.applied++;
  }

  /** A response of `typeUrl` was rejected; the previous version stays in force. */
  nacked(typeUrl: string): void {
    this.type(typeUrl).nacks++;
  }

  reconnected(): void {
    this.reconnectCount++;
  }

  /** A copy, for metrics collection. */
  snapshot(): DiscoveryStatsSnapshot {
    const types: Record<string, TypeDiscoveryStats> = {};
    for (const [typeUrl, stats] of this.types) types[typeUrl] = { ...stats };
    return { types, reconnects: this.reconnectCount };
  }

  private type(typeUrl: string): MutableTypeStats {
    let stats = this.types.get(typeUrl);
    if (stats === undefined) {
      stats = { version: null, appliedAt: null, applied: 0, nacks: 0 };
      this.types.set(typeUrl, stats);
    }
    return stats;
  }
}
