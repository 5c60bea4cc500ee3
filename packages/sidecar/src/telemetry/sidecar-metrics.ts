// Metrics of the sidecar process besides its requests (admin /metrics): discovery, passive
// health, the span queue and the connections per listener. Every value is read at scrape time
// by a collect() callback: nothing here runs on the request path. Prometheus conventions: base
// units, `_total` counters, an info-style gauge for versions. The `type` label is the resource
// type URL ("skein.v1.Service"), as on the control plane's metrics.
import { RESOURCE_TYPES, type ResourceType } from '@skein/protocol';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DiscoveryStatsSnapshot } from '../discovery/discovery-stats.js';
import type { SpanQueueStats } from './span-queue.js';

/** Passive health of one Service, keyed "<namespace>/<name>". */
export interface ServiceHealthStats {
  readonly service: string;
  /** Ejections since the Service appeared (monotonic while it exists). */
  readonly ejectionsTotal: number;
  /** Endpoints ejected now. */
  readonly ejectedNow: number;
}

/** What a discovery client exposes for metrics (XdsClient, HttpDiscoveryClient). */
export interface DiscoveryMetricsClient {
  status(): { readonly connected: boolean };
  stats(): DiscoveryStatsSnapshot;
}

/** Where the metrics read from; each function is called at every scrape. */
export interface DiscoveryMetricSources {
  /** A first complete config (snapshot or cache file) is applied. */
  ready(): boolean;
  /** The discovery client in use; undefined with a cache file only, or before it is created. */
  discovery(): DiscoveryMetricsClient | undefined;
  /** Resources of `typeUrl` the applied config holds. */
  resources(typeUrl: ResourceType): number;
  /** Passive health per Service with outlier detection (or with ejections counted). */
  health(): Iterable<ServiceHealthStats>;
}

/** Registers the discovery and passive-health metrics on `registry`. Call once per registry. */
export function registerDiscoveryMetrics(registry: Registry, sources: DiscoveryMetricSources): void {
  const registers = [registry];
  const stats = (): DiscoveryStatsSnapshot => sources.discovery()?.stats() ?? { types: {}, reconnects: 0 };
  /** Known types first (so their counters start at 0), then any other type a client counted. */
  const typesOf = (s: DiscoveryStatsSnapshot): string[] => [...new Set([...RESOURCE_TYPES, ...Object.keys(s.types)])];

  new Gauge({
    name: 'skein_sidecar_config_ready', help: '1 once a config (snapshot or cache file) is applied', registers,
    collect() {
      this.set(sources.ready() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'skein_sidecar_xds_connected', help: '1 while the discovery stream (or HTTP snapshot poll) is connected', registers,
    collect() {
      this.set(sources.discovery()?.status().connected ? 1 : 0);
    },
  });
  new Gauge({
    name: 'skein_sidecar_xds_applied_info', help: 'Version in force per resource type (value 1; one series per type)',
    labelNames: ['type', 'version'] as const, registers,
    collect() {
      // Only the current version: the series of a replaced version disappears.
      this.reset();
      for (const [type, t] of Object.entries(stats().types)) if (t.version !== null) this.set({ type, version: t.version }, 1);
    },
  });
  new Gauge({
    name: 'skein_sidecar_xds_last_update_timestamp_seconds', help: 'Unix time the last response of the type was applied',
    labelNames: ['type'] as const, registers,
    collect() {
      this.reset();
      for (const [type, t] of Object.entries(stats().types)) if (t.appliedAt !== null) this.set({ type }, t.appliedAt / 1000);
    },
  });
  new Counter({
    name: 'skein_sidecar_xds_responses_applied_total', help: 'Discovery responses applied and ACKed, per resource type',
    labelNames: ['type'] as const, registers,
    collect() {
      const s = stats();
      this.reset();
      for (const type of typesOf(s)) this.inc({ type }, s.types[type]?.applied ?? 0);
    },
  });
  new Counter({
    name: 'skein_sidecar_xds_nacks_total', help: 'Discovery responses rejected (NACK sent; the previous version stays in force), per resource type',
    labelNames: ['type'] as const, registers,
    collect() {
      const s = stats();
      this.reset();
      for (const type of typesOf(s)) this.inc({ type }, s.types[type]?.nacks ?? 0);
    },
  });
  new Counter({
    name: 'skein_sidecar_xds_reconnects_total', help: 'Discovery connections opened after the first (stream reconnection attempts; HTTP: polls recovered)', registers,
    collect() {
      this.reset();
      this.inc(stats().reconnects);
    },
  });
  new Gauge({
    name: 'skein_sidecar_xds_resources', help: 'Resources held in the applied config, per resource type',
    labelNames: ['type'] as const, registers,
    collect() {
      for (const type of RESOURCE_TYPES) this.set({ type }, sources.resources(type));
    },
  });

  const labelsOf = (key: string): { service: string; namespace: string } => {
    const slash = key.indexOf('/');
    return { service: key.slice(slash + 1), namespace: slash === -1 ? '' : key.slice(0, slash) };
  };
  new Counter({
    name: 'skein_sidecar_outlier_ejections_total', help: 'Endpoints ejected by passive outlier detection, per destination Service',
    labelNames: ['service', 'namespace'] as const, registers,
    collect() {
      // Series of Services that went away disappear with them.
      this.reset();
      for (const h of sources.health()) this.inc(labelsOf(h.service), h.ejectionsTotal);
    },
  });
  new Gauge({
    name: 'skein_sidecar_outlier_ejected_endpoints', help: 'Endpoints currently ejected by passive outlier detection, per destination Service',
    labelNames: ['service', 'namespace'] as const, registers,
    collect() {
      this.reset();
      for (const h of sources.health()) this.set(labelsOf(h.service), h.ejectedNow);
    },
  });
}

// The span queue — exporter trouble shows here as failed or dropped spans, never as slow
// requests — and the connections each listener holds.

/** Counters that follow the span queue's running totals (they only grow). */
export function registerTracingMetrics(registry: Registry, stats: () => SpanQueueStats | undefined): void {
  const totals = (name: keyof SpanQueueStats, help: string): void => {
    let seen = 0;
    new Counter({
      name: `skein_sidecar_trace_spans_${name}_total`, help, registers: [registry],
      collect() {
        const now = stats()?.[name] ?? seen;
        if (now > seen) this.inc(now - seen);
        seen = now;
      },
    });
  };
  totals('exported', 'Spans accepted by the trace exporter');
  totals('failed', 'Spans in exports that failed or timed out');
  totals('dropped', 'Spans dropped before export: the queue was full (exporter slow or down) or shut down');
  new Gauge({
    name: 'skein_sidecar_trace_spans_queued', help: 'Spans waiting for export', registers: [registry],
    collect() {
      this.set(stats()?.queued ?? 0);
    },
  });
}

/** `skein_sidecar_active_connections{listener}` from each listener's count of open connections. */
export function registerConnectionMetrics(registry: Registry, listeners: Readonly<Record<string, () => number>>): void {
  new Gauge({
    name: 'skein_sidecar_active_connections', help: 'Client connections open on each listener', labelNames: ['listener'] as const, registers: [registry],
    collect() {
      for (const [listener, count] of Object.entries(listeners)) this.set({ listener }, count());
    },
  });
}
