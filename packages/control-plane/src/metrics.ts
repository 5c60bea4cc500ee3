// Prometheus metrics of the control plane (served on /metrics). Names follow Prometheus
// conventions: skein_control_plane_*, base units, _total for counters.
import { RESOURCE_TYPES } from '@skein/protocol';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SubscriberRegistry } from './snapshot/subscriber-registry.js';

/** Push latency spans the debounce (100 ms by default), the build and the round trip. */
const PUSH_LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class ControlPlaneMetrics {
  readonly registry = new Registry();
  readonly subscribers = new Gauge({ name: 'skein_control_plane_subscribers', help: 'Connected discovery streams', registers: [this.registry] });
  readonly streamsTotal = new Counter({ name: 'skein_control_plane_streams_total', help: 'Discovery streams opened', registers: [this.registry] });
  readonly pushes = new Counter({ name: 'skein_control_plane_pushes_total', help: 'Discovery responses sent', labelNames: ['type', 'mode'] as const, registers: [this.registry] });
  readonly pushBytes = new Counter({ name: 'skein_control_plane_push_bytes_total', help: 'Bytes of discovery responses sent', labelNames: ['type'] as const, registers: [this.registry] });
  readonly acks = new Counter({ name: 'skein_control_plane_acks_total', help: 'ACKs received', labelNames: ['type'] as const, registers: [this.registry] });
  readonly nacks = new Counter({ name: 'skein_control_plane_nacks_total', help: 'NACKs received', labelNames: ['type'] as const, registers: [this.registry] });
  /** Named as the discovery stream's own metric family (xds), as the issue specifies it. */
  readonly authFailures = new Counter({ name: 'skein_xds_auth_failures_total', help: 'Discovery streams refused because their token did not prove the pod the node claims, by reason', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly rejectedStreams = new Counter({ name: 'skein_control_plane_rejected_requests_total', help: 'Discovery requests refused (malformed, unknown type, no node)', registers: [this.registry] });
  readonly snapshotBuild = new Histogram({ name: 'skein_control_plane_snapshot_build_seconds', help: 'Time to translate objects and build a snapshot', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [this.registry] });
  readonly snapshotsPublished = new Counter({ name: 'skein_control_plane_snapshots_published_total', help: 'Snapshots published (new versions)', registers: [this.registry] });
  readonly resources = new Gauge({ name: 'skein_control_plane_resources', help: 'Resources in the current snapshot', labelNames: ['type'] as const, registers: [this.registry] });
  readonly objects = new Gauge({ name: 'skein_control_plane_objects', help: 'Kubernetes objects known, by kind', labelNames: ['kind'] as const, registers: [this.registry] });
  readonly inputProblems = new Counter({ name: 'skein_control_plane_input_problems_total', help: 'Invalid input objects or documents rejected (last good version kept)', labelNames: ['kind'] as const, registers: [this.registry] });
  readonly sourceSynced = new Gauge({ name: 'skein_control_plane_source_synced', help: '1 once the source has delivered its first full view', labelNames: ['source'] as const, registers: [this.registry] });
  readonly sourceConnected = new Gauge({ name: 'skein_control_plane_source_connected', help: '1 while the source is connected, 0 while it retries', labelNames: ['source'] as const, registers: [this.registry] });
  /** One per pod the injection webhook was asked about (docs/injection.md). */
  readonly webhookInjections = new Counter({ name: 'skein_webhook_injections_total', help: 'Pods seen by the injection webhook, by result', labelNames: ['result'] as const, registers: [this.registry] });
  /** Observed once per subscriber and version: from the source seeing a change to the ACK of the first version carrying it. */
  readonly pushLatency = new Histogram({ name: 'skein_control_plane_push_latency_seconds', help: 'Time from a source event (watch event, manifest change) to the subscriber\'s ACK of the first version carrying it', labelNames: ['type'] as const, buckets: PUSH_LATENCY_BUCKETS, registers: [this.registry] });

  /** `subscribers`: the live subscribers, read at scrape time for the NACKing and lag gauges; `now`: their clock. */
  constructor(subscribers?: SubscriberRegistry, now: () => number = Date.now) {
    collectDefaultMetrics({ register: this.registry });
    if (subscribers) {
      new Gauge({
        name: 'skein_control_plane_nacking_subscribers', help: 'Connected subscribers whose last answer for the type was a NACK',
        labelNames: ['type'] as const, registers: [this.registry],
        collect() {
          for (const type of RESOURCE_TYPES) this.set({ type }, subscribers.countNacking(type));
        },
      });
      // Bounded while pushes keep up with changes (they coalesce); growing means a backlog.
      new Gauge({
        name: 'skein_control_plane_push_lag_seconds', help: 'Age of the oldest change that some connected subscriber has not ACKed yet (0: every subscriber holds every change)',
        labelNames: ['type'] as const, registers: [this.registry],
        collect() {
          const at = now();
          for (const type of RESOURCE_TYPES) {
            const oldest = subscribers.oldestUnackedChange(type);
            this.set({ type }, oldest === undefined ? 0 : Math.max(0, at - oldest) / 1000);
          }
        },
      });
    }
  }

  /** Gauges of the discovery server's send budget (large responses in flight, streams waiting), read at scrape time. */
  observePushQueue(read: () => { inFlightBytes: number; waitingStreams: number }): void {
    new Gauge({
      name: 'skein_control_plane_push_queue_streams', help: 'Discovery streams whose large response waits for room in the send budget',
      registers: [this.registry], collect() { this.set(read().waitingStreams); },
    });
    new Gauge({
      name: 'skein_control_plane_push_in_flight_bytes', help: 'Bytes of large discovery responses handed to gRPC and not yet written out',
      registers: [this.registry], collect() { this.set(read().inFlightBytes); },
    });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
