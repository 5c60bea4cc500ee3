// The sidecar's span-queue and connection metrics: counters that follow the queue's totals,
// gauges read at scrape time.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerConnectionMetrics, registerTracingMetrics } from './process-metrics.js';

describe('registerTracingMetrics', () => {
  it('exposes the span queue totals as counters and its length as a gauge', async () => {
    const registry = new Registry();
    const stats = { queued: 3, exported: 10, dropped: 0, failed: 2 };
    registerTracingMetrics(registry, () => stats);
    let text = await registry.metrics();
    expect(text).toContain('skein_sidecar_trace_spans_exported_total 10');
    expect(text).toContain('skein_sidecar_trace_spans_failed_total 2');
    expect(text).toContain('skein_sidecar_trace_spans_dropped_total 0');
    expect(text).toContain('skein_sidecar_trace_spans_queued 3');
    Object.assign(stats, { exported: 15, dropped: 7, queued: 0 });
    text = await registry.metrics();
    expect(text).toContain('skein_sidecar_trace_spans_exported_total 15');
    expect(text).toContain('skein_sidecar_trace_spans_dropped_total 7');
    expect(text).toContain('skein_sidecar_trace_spans_queued 0');
  });
});

describe('registerConnectionMetrics', () => {
  it('counts open connections per listener', async () => {
    const registry = new Registry();
    let outbound = 2;
    registerConnectionMetrics(registry, { outbound: () => outbound, inbound: () => 1 });
    expect(await registry.metrics()).toContain('skein_sidecar_active_connections{listener="outbound"} 2');
    outbound = 0;
    const text = await registry.metrics();
    expect(text).toContain('skein_sidecar_active_connections{listener="outbound"} 0');
    expect(text).toContain('skein_sidecar_active_connections{listener="inbound"} 1');
  });
});
