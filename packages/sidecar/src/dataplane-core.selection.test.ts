// The data plane's selection views and rules over the shared test world: /explain and /clusters,
// topology hints, ClientIP session affinity.
import { describe, expect, it } from 'vitest';
import { pb, type ServiceInit } from '@skein/protocol';
import type { Destination } from './dataplane.js';
import { createDataplane } from './dataplane-core.js';
import { base, FakeConfig, group, keyOf, ready, service, webPorts, world } from './dataplane-core.test-helper.js';
describe('createDataplane: admin views', () => {
  it('explains how a name resolved and which endpoints are eligible', () => {
    const config = world();
    config.apply([], [group('demo/web', [ready('10.1.0.1', webPorts()), { address: '10.1.0.2', ready: false, serving: false, ports: webPorts() }])]);
    expect(createDataplane(config, base).explain('web.demo', 80)).toEqual({
      request: { host: 'web.demo', port: 80 },
      namespace: 'demo',
      match: { type: 'service-name', service: 'demo/web', serviceKind: 'cluster-ip', fqdn: 'web.demo.svc.cluster.local' },
      destination: { type: 'service', service: 'demo/web', servicePort: 80, portName: 'http', appProtocol: 'http', endpoints: 1 },
      servicePort: {
        port: 80, name: 'http', targetPort: 8080, appProtocol: 'http', picker: { type: 'round-robin', size: 1 }, rule: 'all ready', hints: 'not used: no hints',
        selection: {
          localityFailover: false, totalPanic: false, ejected: [],
          priorities: [{ priority: 0, tier: 'all', load: 100, healthy: 1, total: 1, panic: false, endpoints: ['10.1.0.1:8080'] }],
        },
        endpoints: [
          { address: '10.1.0.1', port: 8080, eligible: true, reason: 'ready' },
          { address: '10.1.0.2', port: 8080, eligible: false, reason: 'not ready' },
        ],
      },
    });
  });

  it.each<[string, number, object]>([
    ['10.96.0.10', 80, { type: 'cluster-ip', service: 'demo/web', serviceKind: 'cluster-ip', address: '10.96.0.10' }],
    ['db-0.db.shop', 5432, { type: 'headless-endpoint-name', service: 'shop/db', serviceKind: 'headless', fqdn: 'db-0.db.shop.svc.cluster.local' }],
    ['ext', 443, { type: 'external-name', service: 'demo/ext', serviceKind: 'external-name', fqdn: 'ext.demo.svc.cluster.local' }],
    ['orders', 80, { type: 'unknown-mesh-name', resource: 'demo/orders', answered: false }],
    ['example.com', 80, { type: 'outside-mesh' }],
  ])('explain(%s) says how the name matched', (host, port, match) => {
    expect(createDataplane(world(), base).explain(host, port)).toMatchObject({ match });
  });

  it('lists every Service port with endpoint states for /clusters', () => {
    const views = createDataplane(world(), { ...base, nodeName: 'n9' }).clusters() as { services: Array<{ service: string; ports: Array<Record<string, unknown>> }> };
    expect(views.services.map((s) => s.service)).toEqual(['demo/empty', 'demo/ext', 'demo/local', 'demo/web', 'shop/cart', 'shop/db']);
    const local = views.services.find((s) => s.service === 'demo/local')!.ports[0]!;
    expect(local).toMatchObject({ port: 80, picker: { type: 'fail', size: 0 }, error: { code: 'SKEIN_ERR_LOCAL_NO_ENDPOINT' } });
    expect((local.endpoints as Array<{ reason: string }>).map((e) => e.reason)).toEqual([
      'not on this node "n9" (internalTrafficPolicy Local)', 'not on this node "n9" (internalTrafficPolicy Local)',
    ]);
    expect(JSON.parse(JSON.stringify(views))).toEqual(views);
  });
});

describe('createDataplane: topology hints', () => {
  function zoned(): FakeConfig {
    const config = world();
    const port = [{ name: 'http', port: 8080 }];
    config.apply([service('demo/zoned', { clusterIps: ['10.96.0.50'], ports: [{ name: 'http', port: 80, targetPortNumber: 8080 }] })], [
      group('demo/zoned', [
        ready('10.5.0.1', port, { zone: 'zone-a', nodeName: 'n1', hintsForZones: ['zone-a'] }),
        ready('10.5.0.2', port, { zone: 'zone-b', nodeName: 'n2', hintsForZones: ['zone-b'] }),
        ready('10.5.0.3', port, { zone: 'zone-a', nodeName: 'n3', hintsForZones: ['zone-a'] }),
        ready('10.5.0.4', port, { zone: 'zone-c', nodeName: 'n4', hintsForZones: ['zone-c'] }),
      ]),
    ]);
    return config;
  }

  const picks = (dataplane: ReturnType<typeof createDataplane>, n: number) => {
    const d = dataplane.resolve('zoned.demo.svc.cluster.local', 80);
    if (d.type !== 'service') throw new Error(`expected a service destination, got ${d.type}`);
    return new Set(Array.from({ length: n }, () => keyOf(d.picker.pick())));
  };

  it('a client in zone-a picks only zone-a endpoints of a hinted Service, and explain says why', () => {
    const dataplane = createDataplane(zoned(), { ...base, zone: 'zone-a' });
    expect(picks(dataplane, 20)).toEqual(new Set(['10.5.0.1:8080', '10.5.0.3:8080']));
    expect(dataplane.explain('zoned', 80)).toMatchObject({ servicePort: { rule: 'hints: forZones zone-a', hints: 'forZones zone-a', picker: { size: 2 } } });
  });

  it('a client in a zone no endpoint is hinted for uses every ready endpoint', () => {
    const dataplane = createDataplane(zoned(), { ...base, zone: 'zone-x' });
    expect(picks(dataplane, 20).size).toBe(4);
    expect(dataplane.explain('zoned', 80)).toMatchObject({ servicePort: { rule: 'all ready', hints: 'not used: no endpoint hinted for zone "zone-x"' } });
  });

  it('follows hints for this node before zone hints', () => {
    const config = zoned();
    const port = [{ name: 'http', port: 8080 }];
    config.apply([], [group('demo/zoned', [
      ready('10.5.0.1', port, { hintsForNodes: ['n1'], hintsForZones: ['zone-a'] }),
      ready('10.5.0.3', port, { hintsForNodes: ['n3'], hintsForZones: ['zone-a'] }),
    ])]);
    const dataplane = createDataplane(config, { ...base, zone: 'zone-a' });
    expect(picks(dataplane, 10)).toEqual(new Set(['10.5.0.1:8080']));
    expect((dataplane.clusters() as { zone: string }).zone).toBe('zone-a');
  });

  it('rebuilds every picker for a locality learned later (from the Node\'s labels), and tells listeners', () => {
    const dataplane = createDataplane(zoned(), base);
    expect(picks(dataplane, 20).size).toBe(4);
    let changes = 0;
    dataplane.onChange(() => changes++);
    dataplane.setLocality({ zone: 'zone-a', region: 'eu' });
    expect(picks(dataplane, 20)).toEqual(new Set(['10.5.0.1:8080', '10.5.0.3:8080']));
    expect(dataplane.clusters()).toMatchObject({ zone: 'zone-a', region: 'eu' });
    expect(changes).toBe(1);
    dataplane.setLocality({ zone: 'zone-a', region: 'eu' });
    expect(changes).toBe(1);
  });
});

describe('createDataplane: sessionAffinity ClientIP', () => {
  const sticky = (timeout = 0): ServiceInit => service('demo/web', {
    clusterIps: ['10.96.0.10'], sessionAffinity: pb.SessionAffinity.SESSION_AFFINITY_CLIENT_IP, sessionAffinityTimeoutSeconds: timeout,
    ports: [{ name: 'http', port: 80, targetPortNumber: 8080 }],
  });
  const eps = (...last: number[]) => group('demo/web', last.map((n) => ready(`10.1.0.${n}`, webPorts())));
  const affinityOf = (d: Destination) => (d.type === 'service' ? d.affinity : undefined);

  it('gives no affinity to other Services', () => {
    expect(affinityOf(createDataplane(world(), base).resolve('web', 80))).toBeUndefined();
  });

  it('keeps a client on its endpoint across a scale-up, moves it when the endpoint leaves or is excluded', () => {
    const config = new FakeConfig();
    config.apply([sticky()], [eps(1, 2, 3)]);
    const dataplane = createDataplane(config, base);
    const first = affinityOf(dataplane.resolve('web', 80))!;
    const a = keyOf(first.pick('10.9.0.1'));
    const b = keyOf(first.pick('10.9.0.2'));
    expect(b).not.toBe(a);
    expect([1, 2, 3].map(() => keyOf(first.pick('10.9.0.1')))).toEqual([a, a, a]);

    config.apply([], [eps(1, 2, 3, 4)]);
    const scaled = affinityOf(dataplane.resolve('web', 80))!;
    expect(scaled).not.toBe(first);
    expect([1, 2, 3, 4].map(() => keyOf(scaled.pick('10.9.0.1')))).toEqual([a, a, a, a]);
    expect(keyOf(scaled.pick('10.9.0.2'))).toBe(b);

    // A retry excluding the remembered endpoint goes elsewhere, and the client stays there.
    const moved = keyOf(scaled.pick('10.9.0.1', new Set([a])));
    expect(moved).not.toBe(a);
    expect(keyOf(scaled.pick('10.9.0.1'))).toBe(moved);

    config.apply([], [group('demo/web', [1, 2, 3, 4].map((n) => ready(`10.1.0.${n}`, webPorts())).filter((e) => `${e.address}:8080` !== moved))]);
    const shrunk = affinityOf(dataplane.resolve('web', 80))!;
    expect(keyOf(shrunk.pick('10.9.0.1'))).not.toBe(moved);
  });

  it('expires idle clients after timeoutSeconds and starts over when the timeout changes', () => {
    let now = 0;
    const config = new FakeConfig();
    config.apply([sticky(10)], [eps(1, 2, 3)]);
    const dataplane = createDataplane(config, { ...base, clock: { now: () => now } });
    const affinity = affinityOf(dataplane.resolve('web', 80))!;
    const a = keyOf(affinity.pick('10.9.0.1'));
    now = 9_999;
    expect(keyOf(affinity.pick('10.9.0.1'))).toBe(a);
    now = 19_998;
    expect(keyOf(affinity.pick('10.9.0.1'))).toBe(a);
    now = 30_000;
    expect(keyOf(affinity.pick('10.9.0.1'))).not.toBe(a);

    config.apply([sticky(20)]);
    const replaced = affinityOf(dataplane.resolve('web', 80))!;
    expect(replaced).not.toBe(affinity);
    config.apply([{ ...sticky(), sessionAffinity: pb.SessionAffinity.SESSION_AFFINITY_NONE }]);
    expect(affinityOf(dataplane.resolve('web', 80))).toBeUndefined();
  });
});
