// Request metrics of the sidecar, in Prometheus' conventions (base units, `_total` counters):
// count and latency by direction, destination service, namespace, endpoint zone and response
// code, and retries by service. The series a request lands in is looked up once per label set
// and cached, so recording a request is two map lookups and two observations.
import { Counter, Histogram, type Registry } from 'prom-client';
import type { RequestFacts } from './request-telemetry.js';

/** Latency buckets (seconds): sub-millisecond proxy hops up to slow upstreams. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LABELS = ['direction', 'service', 'namespace', 'endpoint_zone', 'code'] as const;

interface Series {
  readonly requests: Counter.Internal;
  readonly duration: Histogram.Internal<(typeof LABELS)[number]>;
}

export class RequestMetrics {
  private readonly requests: Counter<(typeof LABELS)[number]>;
  private readonly duration: Histogram<(typeof LABELS)[number]>;
  private readonly retries: Counter<'service' | 'namespace'>;
  private readonly series = new Map<string, Series>();

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: 'skein_requests_total', help: 'Requests proxied, by direction, destination service, namespace, endpoint zone and response code (0: no response)',
      labelNames: LABELS, registers: [registry],
    });
    this.duration = new Histogram({
      name: 'skein_request_duration_seconds', help: 'Time from request start to response end, by the labels of skein_requests_total',
      labelNames: LABELS, buckets: BUCKETS, registers: [registry],
    });
    this.retries = new Counter({
      name: 'skein_request_retries_total', help: 'Attempts after the first (connect failures, refused streams, skein.io/retries), by destination service',
      labelNames: ['service', 'namespace'] as const, registers: [registry],
    });
  }

  /** Records one finished request. `zone` is the endpoint's ('' when unknown), `status` 0 for no response. */
  observe(facts: RequestFacts, zone: string, status: number, seconds: number, retries: number): void {
    const service = facts.service ?? '';
    const key = `${facts.direction}|${service}|${zone}|${status}`;
    let series = this.series.get(key);
    if (series === undefined) {
      const slash = service.indexOf('/');
      const labels = {
        direction: facts.direction,
        service: slash === -1 ? service : service.slice(slash + 1),
        namespace: slash === -1 ? '' : service.slice(0, slash),
        endpoint_zone: zone,
        code: String(status),
      };
      series = { requests: this.requests.labels(labels), duration: this.duration.labels(labels) };
      this.series.set(key, series);
    }
    series.requests.inc();
    series.duration.observe(seconds);
    if (retries > 0) {
      const slash = service.indexOf('/');
      this.retries.inc({ service: service.slice(slash + 1), namespace: slash === -1 ? '' : service.slice(0, slash) }, retries);
    }
  }
}
