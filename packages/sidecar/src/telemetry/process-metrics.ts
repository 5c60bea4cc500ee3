// Metrics of the sidecar process itself (besides requests and discovery): how its span queue
// fares — exporter trouble shows here as failed or dropped spans, never as slow requests — and
// how many connections each listener holds. All read at scrape time.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { SpanQueueStats } from './span-queue.js';

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
