import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { TYPE_ENDPOINT_GROUP, TYPE_SERVICE, type ResourceType } from '@skein/protocol';
import { createDataplane } from '../dataplane-core.js';
import type { Target } from '../dataplane.js';
import { DiscoveryStats } from '../discovery/discovery-stats.js';
import { StaticConfig } from '../mesh-config.test-helper.js';
import { registerConnectionMetrics, registerDiscoveryMetrics, registerTracingMetrics, type DiscoveryMetricSources, type ServiceHealthStats } from './sidecar-metrics.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (enough of the format for our own output). */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return out;
}

async function scrape(registry: Registry, name: string): Promise<Sample[]> {
  return parse(await registry.getSingleMetricAsString(name));
}

function setup(health: ServiceHealthStats[] = []) {
  const stats = new DiscoveryStats();
  const client = { connected: false, status() { return { connected: this.connected }; }, stats: () => stats.snapshot() };
  const held: Record<ResourceType, number> = { [TYPE_SERVICE]: 0, [TYPE_ENDPOINT_GROUP]: 0 };
  let discovery: typeof client | undefined;
  const sources: DiscoveryMetricSources = {
    ready: () => discovery !== undefined, discovery: () => discovery, resources: (type) => held[type], health: () => health,
  };
  const registry = new Registry();
  registerDiscoveryMetrics(registry, sources);
  return { registry, stats, client, held, attach: () => (discovery = client) };
}

describe('registerDiscoveryMetrics: discovery', () => {
  it('reports nothing applied and zero counters before a discovery client exists', async () => {
    const { registry } = setup();
    expect(await scrape(registry, 'skein_sidecar_xds_connected')).toEqual([{ name: 'skein_sidecar_xds_connected', labels: {}, value: 0 }]);
    expect(await scrape(registry, 'skein_sidecar_config_ready')).toEqual([{ name: 'skein_sidecar_config_ready', labels: {}, value: 0 }]);
    expect(await scrape(registry, 'skein_sidecar_xds_applied_info')).toEqual([]);
    expect(await scrape(registry, 'skein_sidecar_xds_last_update_timestamp_seconds')).toEqual([]);
    expect(await scrape(registry, 'skein_sidecar_xds_responses_applied_total')).toEqual([
      { name: 'skein_sidecar_xds_responses_applied_total', labels: { type: TYPE_SERVICE }, value: 0 },
      { name: 'skein_sidecar_xds_responses_applied_total', labels: { type: TYPE_ENDPOINT_GROUP }, value: 0 },
    ]);
    expect(await scrape(registry, 'skein_sidecar_xds_reconnects_total')).toEqual([{ name: 'skein_sidecar_xds_reconnects_total', labels: {}, value: 0 }]);
  });

  it('keeps one applied_info series per type, the version in force', async () => {
    const { registry, stats, client, attach } = setup();
    attach();
    client.connected = true;
    stats.applied(TYPE_SERVICE, 'v1', 1_700_000_000_000);
    stats.applied(TYPE_ENDPOINT_GROUP, 'e1', 1_700_000_000_500);
    expect(await scrape(registry, 'skein_sidecar_xds_applied_info')).toEqual([
      { name: 'skein_sidecar_xds_applied_info', labels: { type: TYPE_SERVICE, version: 'v1' }, value: 1 },
      { name: 'skein_sidecar_xds_applied_info', labels: { type: TYPE_ENDPOINT_GROUP, version: 'e1' }, value: 1 },
    ]);
    stats.applied(TYPE_ENDPOINT_GROUP, 'e2', 1_700_000_060_250);
    const info = await scrape(registry, 'skein_sidecar_xds_applied_info');
    expect(info.map((s) => s.labels)).toEqual([{ type: TYPE_SERVICE, version: 'v1' }, { type: TYPE_ENDPOINT_GROUP, version: 'e2' }]);
    expect(await scrape(registry, 'skein_sidecar_xds_last_update_timestamp_seconds')).toEqual([
      { name: 'skein_sidecar_xds_last_update_timestamp_seconds', labels: { type: TYPE_SERVICE }, value: 1_700_000_000 },
      { name: 'skein_sidecar_xds_last_update_timestamp_seconds', labels: { type: TYPE_ENDPOINT_GROUP }, value: 1_700_000_060.25 },
    ]);
    expect(await scrape(registry, 'skein_sidecar_xds_connected')).toEqual([{ name: 'skein_sidecar_xds_connected', labels: {}, value: 1 }]);
    expect(await scrape(registry, 'skein_sidecar_config_ready')).toEqual([{ name: 'skein_sidecar_config_ready', labels: {}, value: 1 }]);
  });

  it('counts applied responses, NACKs and reconnects, and shows resources held', async () => {
    const { registry, stats, held, attach } = setup();
    attach();
    stats.applied(TYPE_SERVICE, 'v1', 1);
    stats.applied(TYPE_SERVICE, 'v2', 2);
    stats.nacked(TYPE_ENDPOINT_GROUP);
    stats.nacked('unknown');
    stats.reconnected();
    held[TYPE_SERVICE] = 3;
    held[TYPE_ENDPOINT_GROUP] = 2;
    const value = (samples: Sample[], type: string): number | undefined => samples.find((s) => s.labels.type === type)?.value;
    const applied = await scrape(registry, 'skein_sidecar_xds_responses_applied_total');
    expect([value(applied, TYPE_SERVICE), value(applied, TYPE_ENDPOINT_GROUP)]).toEqual([2, 0]);
    const nacks = await scrape(registry, 'skein_sidecar_xds_nacks_total');
    expect([value(nacks, TYPE_SERVICE), value(nacks, TYPE_ENDPOINT_GROUP), value(nacks, 'unknown')]).toEqual([0, 1, 1]);
    expect((await scrape(registry, 'skein_sidecar_xds_reconnects_total'))[0]!.value).toBe(1);
    const resources = await scrape(registry, 'skein_sidecar_xds_resources');
    expect([value(resources, TYPE_SERVICE), value(resources, TYPE_ENDPOINT_GROUP)]).toEqual([3, 2]);
    // The version series never shows a type that was only NACKed.
    expect((await scrape(registry, 'skein_sidecar_xds_applied_info')).map((s) => s.labels.type)).toEqual([TYPE_SERVICE]);
    expect(await registry.getMetricsAsJSON()).toContainEqual(expect.objectContaining({ name: 'skein_sidecar_xds_nacks_total', type: 'counter' }));
  });
});

describe('registerDiscoveryMetrics: passive health', () => {
  it('counts ejections per Service from the data plane, and shows those in force', async () => {
    let now = 1_000_000;
    const clock = { now: () => now };
    const timers = { setTimeout: () => 0, clearTimeout: () => undefined };
    const config = new StaticConfig(
      [{ name: 'demo/web', namespace: 'demo', clusterIps: ['10.96.0.10'], ports: [{ name: 'http', port: 80, targetPortNumber: 8080 }], policy: { outlierDetection: { enabled: true, consecutiveErrors: 2, baseEjectionMs: 10_000, maxEjectionPercent: 50 } } },
        { name: 'demo/api', namespace: 'demo', clusterIps: ['10.96.0.20'], ports: [{ name: 'http', port: 80, targetPortNumber: 8080 }] }],
      [{ name: 'demo/web', namespace: 'demo', service: 'web', endpoints: ['10.0.0.1', '10.0.0.2'].map((address) => ({ address, ports: [{ name: 'http', port: 8080 }], ready: true })) }],
    );
    const dataplane = createDataplane(config, { namespace: 'demo', clock, timers });
    const registry = new Registry();
    registerDiscoveryMetrics(registry, { ready: () => true, discovery: () => undefined, resources: () => 0, health: () => dataplane.healthStats() });
    const target: Target = { address: '10.0.0.1', port: 8080, key: '10.0.0.1:8080' };
    const fail = (times: number): void => {
      for (let i = 0; i < times; i++) dataplane.report('demo/web', target, 'connect-error');
    };
    const web = (samples: Sample[]): number | undefined => samples.find((s) => s.labels.service === 'web' && s.labels.namespace === 'demo')?.value;

    expect(web(await scrape(registry, 'skein_sidecar_outlier_ejections_total'))).toBe(0);
    fail(2);
    expect(web(await scrape(registry, 'skein_sidecar_outlier_ejections_total'))).toBe(1);
    expect(web(await scrape(registry, 'skein_sidecar_outlier_ejected_endpoints'))).toBe(1);
    now += 10_000; // the ejection ends
    expect(web(await scrape(registry, 'skein_sidecar_outlier_ejected_endpoints'))).toBe(0);
    fail(2);
    expect(web(await scrape(registry, 'skein_sidecar_outlier_ejections_total'))).toBe(2);
    // api has detection on by default and no endpoints: a zero series.
    expect((await scrape(registry, 'skein_sidecar_outlier_ejections_total')).map((s) => s.labels)).toContainEqual({ service: 'api', namespace: 'demo' });
    dataplane.close();
  });
});

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
