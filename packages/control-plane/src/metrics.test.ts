import { describe, expect, it } from 'vitest';
import { Mode, pb, TYPE_ENDPOINT_GROUP, TYPE_SERVICE } from '@skein/protocol';
import { ControlPlaneMetrics } from './metrics.js';
import { buildSnapshot } from './snapshot/snapshot.js';
import { SubscriberRegistry } from './snapshot/subscriber-registry.js';
import { SubscriberState } from './snapshot/subscriber.js';

/** `name{labels} value` lines of one metric family, as scraped. */
async function samples(metrics: ControlPlaneMetrics, name: string): Promise<string[]> {
  const text = await metrics.registry.getSingleMetricAsString(name);
  return text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

describe('ControlPlaneMetrics', () => {
  it('counts subscribers whose last answer for a type was a NACK, at scrape time', async () => {
    const registry = new SubscriberRegistry();
    const metrics = new ControlPlaneMetrics(registry);
    expect(await samples(metrics, 'skein_control_plane_nacking_subscribers')).toEqual([
      `skein_control_plane_nacking_subscribers{type="${TYPE_SERVICE}"} 0`,
      `skein_control_plane_nacking_subscribers{type="${TYPE_ENDPOINT_GROUP}"} 0`,
    ]);
    const s = new SubscriberState({ controlPlaneId: 'cp', now: () => 0 });
    s.onRequest(pb.DiscoveryRequest.create({ node: { id: 'a' }, typeUrl: TYPE_SERVICE, mode: Mode.MODE_DELTA, resourceNamesSubscribe: ['*'] }));
    registry.add(s);
    const snapshot = buildSnapshot({ services: new Map([['demo/web', { name: 'demo/web', namespace: 'demo', clusterIps: ['10.0.0.1'], ports: [{ port: 80 }] }]]), endpointGroups: new Map() }, undefined, 0).snapshot;
    const response = s.nextResponse(TYPE_SERVICE, snapshot)!;
    s.onRequest(pb.DiscoveryRequest.create({ typeUrl: TYPE_SERVICE, mode: Mode.MODE_DELTA, responseNonce: response.nonce, errorDetail: { message: 'no' } }));
    expect(await samples(metrics, 'skein_control_plane_nacking_subscribers')).toContain(`skein_control_plane_nacking_subscribers{type="${TYPE_SERVICE}"} 1`);
    registry.remove(s);
    expect(await samples(metrics, 'skein_control_plane_nacking_subscribers')).toContain(`skein_control_plane_nacking_subscribers{type="${TYPE_SERVICE}"} 0`);
  });

  it('exposes push latency as a histogram in seconds per type', async () => {
    const metrics = new ControlPlaneMetrics();
    metrics.pushLatency.observe({ type: TYPE_ENDPOINT_GROUP }, 0.18);
    const lines = await samples(metrics, 'skein_control_plane_push_latency_seconds');
    expect(lines).toContain(`skein_control_plane_push_latency_seconds_count{type="${TYPE_ENDPOINT_GROUP}"} 1`);
    expect(lines).toContain(`skein_control_plane_push_latency_seconds_bucket{le="0.1",type="${TYPE_ENDPOINT_GROUP}"} 0`);
    expect(lines).toContain(`skein_control_plane_push_latency_seconds_bucket{le="0.25",type="${TYPE_ENDPOINT_GROUP}"} 1`);
    expect(metrics.registry.getSingleMetric('skein_control_plane_nacking_subscribers')).toBeUndefined(); // no registry given
  });

  it('shows the push lag and the push queue at scrape time', async () => {
    const registry = new SubscriberRegistry();
    const metrics = new ControlPlaneMetrics(registry, () => 10_000);
    expect(await samples(metrics, 'skein_control_plane_push_lag_seconds')).toContain(`skein_control_plane_push_lag_seconds{type="${TYPE_ENDPOINT_GROUP}"} 0`);
    const s = new SubscriberState({ controlPlaneId: 'cp', now: () => 0 });
    s.onRequest(pb.DiscoveryRequest.create({ node: { id: 'a' }, typeUrl: TYPE_SERVICE, mode: Mode.MODE_DELTA, resourceNamesSubscribe: ['*'] }));
    registry.add(s);
    const web = (ip: string) => ({ services: new Map([['demo/web', { name: 'demo/web', namespace: 'demo', clusterIps: [ip], ports: [{ port: 80 }] }]]), endpointGroups: new Map() });
    const first = buildSnapshot(web('10.0.0.1'), undefined, 0).snapshot;
    const r = s.nextResponse(TYPE_SERVICE, first)!;
    s.onRequest(pb.DiscoveryRequest.create({ typeUrl: TYPE_SERVICE, mode: Mode.MODE_DELTA, responseNonce: r.nonce }));
    s.noteSnapshot(buildSnapshot(web('10.0.0.2'), first, 0, 7_500).snapshot);
    expect(await samples(metrics, 'skein_control_plane_push_lag_seconds')).toContain(`skein_control_plane_push_lag_seconds{type="${TYPE_SERVICE}"} 2.5`);

    expect(metrics.registry.getSingleMetric('skein_control_plane_push_queue_streams')).toBeUndefined();
    metrics.observePushQueue(() => ({ inFlightBytes: 3_000_000, waitingStreams: 12 }));
    expect(await samples(metrics, 'skein_control_plane_push_queue_streams')).toEqual(['skein_control_plane_push_queue_streams 12']);
    expect(await samples(metrics, 'skein_control_plane_push_in_flight_bytes')).toEqual(['skein_control_plane_push_in_flight_bytes 3000000']);
  });
});
