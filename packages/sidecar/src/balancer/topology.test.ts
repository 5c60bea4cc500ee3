// kube-proxy's TestCategorizeEndpoints (pkg/proxy/topology_test.go), case by case and under its
// names, run twice: against categorizeEndpoints (the full Cluster/Local split, for the gateway)
// and against eligibleEndpoints (the set a client-side proxy uses: Local with
// internalTrafficPolicy Local, else Cluster). The "forNodes:" cases follow
// topologyModeFromHints (same-node hints, PreferSameTrafficDistribution on).
import { describe, expect, it } from 'vitest';
import { pb, type Endpoint, type Service, type ServicePort } from '@skein/protocol';
import { eligibleEndpoints } from './eligibility.js';
import { categorizeEndpoints, topologyModeOf, trafficPolicyUse, type TopologyFacts } from './topology.js';

const NODE = 'node-1';

interface Ep {
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
  local?: boolean;
  zones?: string[];
  nodes?: string[];
}

interface Case {
  name: string;
  /** The node's topology.kubernetes.io/zone label; undefined: no label. */
  zone?: string;
  /** This proxy's node; default NODE. */
  nodeName?: string;
  svc?: { internalLocal?: boolean; externalLocal?: boolean; nodePort?: number };
  endpoints: Array<[string, Ep]>;
  /** null: the Service does not use that policy ("nil" in kube-proxy's table). */
  cluster: string[] | null;
  local: string[] | null;
  /** Needed only when both sets are used. */
  all?: string[];
  onlyRemote?: boolean;
  /** The rule eligibleEndpoints reports for the client's set (when it is not empty). */
  rule?: string;
}

const hinted = (zone: string, more: Ep = {}): Ep => ({ ready: true, zones: [zone], ...more });

const cases: Case[] = [
  {
    name: 'should use topology since all endpoints have hints, node has a zone label and and there are endpoints for the node\'s zone',
    zone: 'zone-a',
    endpoints: [['10.1.2.3:80', hinted('zone-a')], ['10.1.2.4:80', hinted('zone-b')], ['10.1.2.5:80', hinted('zone-c')], ['10.1.2.6:80', hinted('zone-a')]],
    cluster: ['10.1.2.3:80', '10.1.2.6:80'], local: null, rule: 'hints: forZones zone-a',
  },
  {
    name: 'externalTrafficPolicy: Local, topology ignored for Local endpoints',
    zone: 'zone-a', svc: { externalLocal: true, nodePort: 8080 },
    endpoints: [['10.1.2.3:80', hinted('zone-a', { local: true })], ['10.1.2.4:80', hinted('zone-b', { local: true })], ['10.1.2.5:80', hinted('zone-c')], ['10.1.2.6:80', hinted('zone-a')]],
    cluster: ['10.1.2.3:80', '10.1.2.6:80'], local: ['10.1.2.3:80', '10.1.2.4:80'], all: ['10.1.2.3:80', '10.1.2.4:80', '10.1.2.6:80'],
    rule: 'hints: forZones zone-a',
  },
  {
    name: 'internalTrafficPolicy: Local, topology ignored for Local endpoints',
    zone: 'zone-a', svc: { internalLocal: true, externalLocal: false, nodePort: 8080 },
    endpoints: [['10.1.2.3:80', hinted('zone-a', { local: true })], ['10.1.2.4:80', hinted('zone-b', { local: true })], ['10.1.2.5:80', hinted('zone-c')], ['10.1.2.6:80', hinted('zone-a')]],
    cluster: ['10.1.2.3:80', '10.1.2.6:80'], local: ['10.1.2.3:80', '10.1.2.4:80'], all: ['10.1.2.3:80', '10.1.2.4:80', '10.1.2.6:80'],
    rule: `local: ${NODE}`,
  },
  {
    name: 'empty node labels',
    endpoints: [['10.1.2.3:80', hinted('zone-a')]],
    cluster: ['10.1.2.3:80'], local: null, rule: 'all ready',
  },
  {
    name: 'empty zone label',
    zone: '',
    endpoints: [['10.1.2.3:80', hinted('zone-a')]],
    cluster: ['10.1.2.3:80'], local: null, rule: 'all ready',
  },
  {
    name: 'node in different zone, no endpoint filtering',
    zone: 'zone-b',
    endpoints: [['10.1.2.3:80', hinted('zone-a')]],
    cluster: ['10.1.2.3:80'], local: null, rule: 'all ready',
  },
  {
    name: 'unready endpoint',
    zone: 'zone-a',
    endpoints: [['10.1.2.3:80', hinted('zone-a')], ['10.1.2.4:80', hinted('zone-b')], ['10.1.2.5:80', hinted('zone-c')], ['10.1.2.6:80', hinted('zone-a', { ready: false })]],
    cluster: ['10.1.2.3:80'], local: null, rule: 'hints: forZones zone-a',
  },
  {
    name: 'only unready endpoints in same zone (should not filter)',
    zone: 'zone-a',
    endpoints: [['10.1.2.3:80', hinted('zone-a', { ready: false })], ['10.1.2.4:80', hinted('zone-b')], ['10.1.2.5:80', hinted('zone-c')], ['10.1.2.6:80', hinted('zone-a', { ready: false })]],
    cluster: ['10.1.2.4:80', '10.1.2.5:80'], local: null, rule: 'all ready',
  },
  {
    name: 'missing hints, no filtering applied',
    zone: 'zone-a',
    endpoints: [['10.1.2.3:80', hinted('zone-a')], ['10.1.2.4:80', hinted('zone-b')], ['10.1.2.5:80', { ready: true }], ['10.1.2.6:80', hinted('zone-a')]],
    cluster: ['10.1.2.3:80', '10.1.2.4:80', '10.1.2.5:80', '10.1.2.6:80'], local: null, rule: 'all ready',
  },
  {
    name: 'multiple hints per endpoint, filtering includes any endpoint with zone included',
    zone: 'zone-c',
    endpoints: [
      ['10.1.2.3:80', { ready: true, zones: ['zone-a', 'zone-b', 'zone-c'] }], ['10.1.2.4:80', { ready: true, zones: ['zone-b', 'zone-c'] }],
      ['10.1.2.5:80', { ready: true, zones: ['zone-b', 'zone-d'] }], ['10.1.2.6:80', hinted('zone-c')],
    ],
    cluster: ['10.1.2.3:80', '10.1.2.4:80', '10.1.2.6:80'], local: null, rule: 'hints: forZones zone-c',
  },
  {
    name: 'conflicting topology and localness require merging allEndpoints',
    zone: 'zone-a', svc: { internalLocal: false, externalLocal: true, nodePort: 8080 },
    endpoints: [
      ['10.0.0.0:80', hinted('zone-a', { local: true })], ['10.0.0.1:80', hinted('zone-b', { local: true })],
      ['10.0.0.2:80', hinted('zone-a', { local: false })], ['10.0.0.3:80', hinted('zone-b', { local: false })],
    ],
    cluster: ['10.0.0.0:80', '10.0.0.2:80'], local: ['10.0.0.0:80', '10.0.0.1:80'], all: ['10.0.0.0:80', '10.0.0.1:80', '10.0.0.2:80'],
    rule: 'hints: forZones zone-a',
  },
  {
    name: 'internalTrafficPolicy: Local, with empty endpoints',
    svc: { internalLocal: true }, endpoints: [],
    cluster: null, local: [],
  },
  {
    name: 'internalTrafficPolicy: Local, but all endpoints are remote',
    svc: { internalLocal: true },
    endpoints: [['10.0.0.0:80', { ready: true, local: false }], ['10.0.0.1:80', { ready: true, local: false }]],
    cluster: null, local: [], onlyRemote: true,
  },
  {
    name: 'internalTrafficPolicy: Local, all endpoints are local',
    svc: { internalLocal: true },
    endpoints: [['10.0.0.0:80', { ready: true, local: true }], ['10.0.0.1:80', { ready: true, local: true }]],
    cluster: null, local: ['10.0.0.0:80', '10.0.0.1:80'], rule: `local: ${NODE}`,
  },
  {
    name: 'internalTrafficPolicy: Local, some endpoints are local',
    svc: { internalLocal: true },
    endpoints: [['10.0.0.0:80', { ready: true, local: true }], ['10.0.0.1:80', { ready: true, local: false }]],
    cluster: null, local: ['10.0.0.0:80'], rule: `local: ${NODE}`,
  },
  {
    name: 'Cluster traffic policy, endpoints not Ready',
    endpoints: [['10.0.0.0:80', { ready: false }], ['10.0.0.1:80', { ready: false }]],
    cluster: [], local: null,
  },
  {
    name: 'Cluster traffic policy, some endpoints are Ready',
    endpoints: [['10.0.0.0:80', { ready: false }], ['10.0.0.1:80', { ready: true }]],
    cluster: ['10.0.0.1:80'], local: null, rule: 'all ready',
  },
  {
    name: 'Cluster traffic policy, all endpoints are terminating',
    endpoints: [
      ['10.0.0.0:80', { ready: false, serving: true, terminating: true, local: true }],
      ['10.0.0.1:80', { ready: false, serving: true, terminating: true, local: false }],
    ],
    cluster: ['10.0.0.0:80', '10.0.0.1:80'], local: null, rule: 'terminating fallback',
  },
  {
    name: 'iTP: Local, eTP: Cluster, some endpoints local',
    svc: { internalLocal: true, externalLocal: false, nodePort: 8080 },
    endpoints: [['10.0.0.0:80', { ready: true, local: true }], ['10.0.0.1:80', { ready: true, local: false }]],
    cluster: ['10.0.0.0:80', '10.0.0.1:80'], local: ['10.0.0.0:80'], all: ['10.0.0.0:80', '10.0.0.1:80'], rule: `local: ${NODE}`,
  },
  {
    name: 'iTP: Cluster, eTP: Local, some endpoints local',
    svc: { internalLocal: false, externalLocal: true, nodePort: 8080 },
    endpoints: [['10.0.0.0:80', { ready: true, local: true }], ['10.0.0.1:80', { ready: true, local: false }]],
    cluster: ['10.0.0.0:80', '10.0.0.1:80'], local: ['10.0.0.0:80'], all: ['10.0.0.0:80', '10.0.0.1:80'], rule: 'all ready',
  },
  {
    name: 'iTP: Local, eTP: Local, some endpoints local',
    svc: { internalLocal: true, externalLocal: true, nodePort: 8080 },
    endpoints: [['10.0.0.0:80', { ready: true, local: true }], ['10.0.0.1:80', { ready: true, local: false }]],
    cluster: ['10.0.0.0:80', '10.0.0.1:80'], local: ['10.0.0.0:80'], all: ['10.0.0.0:80', '10.0.0.1:80'], rule: `local: ${NODE}`,
  },
  {
    name: 'iTP: Local, eTP: Local, all endpoints remote',
    svc: { internalLocal: true, externalLocal: true, nodePort: 8080 },
    endpoints: [['10.0.0.0:80', { ready: true, local: false }], ['10.0.0.1:80', { ready: true, local: false }]],
    cluster: ['10.0.0.0:80', '10.0.0.1:80'], local: [], all: ['10.0.0.0:80', '10.0.0.1:80'],
  },
  {
    name: 'iTP: Local, eTP: Local, all endpoints remote and terminating',
    svc: { internalLocal: true, externalLocal: true, nodePort: 8080 },
    endpoints: [
      ['10.0.0.0:80', { ready: false, serving: true, terminating: true, local: false }],
      ['10.0.0.1:80', { ready: false, serving: true, terminating: true, local: false }],
    ],
    cluster: ['10.0.0.0:80', '10.0.0.1:80'], local: [], all: ['10.0.0.0:80', '10.0.0.1:80'], onlyRemote: true,
  },
  {
    name: 'iTP: Cluster, eTP: Local, with terminating endpoints',
    svc: { internalLocal: false, externalLocal: true, nodePort: 8080 },
    endpoints: [
      ['10.0.0.0:80', { ready: true, local: false }],
      ['10.0.0.1:80', { ready: false, serving: false, local: true }],
      ['10.0.0.2:80', { ready: false, serving: true, terminating: true, local: true }],
      ['10.0.0.3:80', { ready: false, serving: true, terminating: true, local: false }],
    ],
    cluster: ['10.0.0.0:80'], local: ['10.0.0.2:80'], all: ['10.0.0.0:80', '10.0.0.2:80'], rule: 'all ready',
  },
  {
    name: 'externalTrafficPolicy ignored if not externally accessible',
    svc: { externalLocal: true },
    endpoints: [['10.0.0.0:80', { ready: true, local: false }], ['10.0.0.1:80', { ready: true, local: true }]],
    cluster: ['10.0.0.0:80', '10.0.0.1:80'], local: null, rule: 'all ready',
  },
  {
    name: 'no cluster endpoints for iTP:Local internal-only service',
    svc: { internalLocal: true },
    endpoints: [['10.0.0.0:80', { ready: true, local: false }], ['10.0.0.1:80', { ready: true, local: true }]],
    cluster: null, local: ['10.0.0.1:80'], rule: `local: ${NODE}`,
  },
  // Same-node hints (topologyModeFromHints): forNodes first, then forZones, then all.
  {
    name: 'forNodes: every ready endpoint has a node hint and one names this node',
    zone: 'zone-a',
    endpoints: [
      ['10.0.0.0:80', { ready: true, nodes: [NODE], zones: ['zone-a'] }], ['10.0.0.1:80', { ready: true, nodes: ['node-2'], zones: ['zone-a'] }],
      ['10.0.0.2:80', { ready: true, nodes: ['node-3'], zones: ['zone-b'] }], ['10.0.0.3:80', { ready: false, zones: ['zone-a'] }],
    ],
    cluster: ['10.0.0.0:80'], local: null, rule: `hints: forNodes ${NODE}`,
  },
  {
    name: 'forNodes: no endpoint hinted for this node, zone hints used',
    zone: 'zone-a',
    endpoints: [['10.0.0.1:80', { ready: true, nodes: ['node-2'], zones: ['zone-a'] }], ['10.0.0.2:80', { ready: true, nodes: ['node-3'], zones: ['zone-b'] }]],
    cluster: ['10.0.0.1:80'], local: null, rule: 'hints: forZones zone-a',
  },
  {
    name: 'forNodes: a ready endpoint lacks a node hint, zone hints used',
    zone: 'zone-b',
    endpoints: [['10.0.0.0:80', { ready: true, nodes: [NODE], zones: ['zone-a'] }], ['10.0.0.2:80', { ready: true, zones: ['zone-b'] }]],
    cluster: ['10.0.0.2:80'], local: null, rule: 'hints: forZones zone-b',
  },
  {
    name: 'forNodes: node hints for other nodes only and no zone hints, no filtering',
    zone: 'zone-a',
    endpoints: [['10.0.0.1:80', { ready: true, nodes: ['node-2'] }], ['10.0.0.2:80', { ready: true, nodes: ['node-3'] }]],
    cluster: ['10.0.0.1:80', '10.0.0.2:80'], local: null, rule: 'all ready',
  },
  {
    name: 'forNodes: node name unknown, zone hints used',
    zone: 'zone-a', nodeName: '',
    endpoints: [['10.0.0.0:80', { ready: true, nodes: [NODE], zones: ['zone-a'] }], ['10.0.0.2:80', { ready: true, nodes: ['node-3'], zones: ['zone-b'] }]],
    cluster: ['10.0.0.0:80'], local: null, rule: 'hints: forZones zone-a',
  },
  {
    name: 'forNodes: internalTrafficPolicy Local wins over node hints',
    zone: 'zone-a', svc: { internalLocal: true },
    endpoints: [['10.0.0.0:80', { ready: true, nodes: ['node-2'], local: true }], ['10.0.0.1:80', { ready: true, nodes: [NODE], local: false }]],
    cluster: null, local: ['10.0.0.0:80'], rule: `local: ${NODE}`,
  },
  {
    name: 'hints: no ready endpoint, serving+terminating fallback ignores hints',
    zone: 'zone-a',
    endpoints: [
      ['10.0.0.0:80', { ready: false, serving: true, terminating: true, zones: ['zone-a'] }],
      ['10.0.0.1:80', { ready: false, serving: true, terminating: true, zones: ['zone-b'] }],
    ],
    cluster: ['10.0.0.0:80', '10.0.0.1:80'], local: null, rule: 'terminating fallback',
  },
];

const servicePortOf = (c: Case): ServicePort => ({ port: 80, targetPortNumber: 80, nodePort: c.svc?.nodePort ?? 0 });

function serviceOf(c: Case): Service {
  const policy = (local: boolean | undefined) => (local ? pb.TrafficPolicy.TRAFFIC_POLICY_LOCAL : pb.TrafficPolicy.TRAFFIC_POLICY_CLUSTER);
  return pb.Service.create({
    name: 'demo/web', namespace: 'demo', ports: [servicePortOf(c)],
    internalTrafficPolicy: policy(c.svc?.internalLocal), externalTrafficPolicy: policy(c.svc?.externalLocal),
  });
}

/** Go's zero values, as kube-proxy's table writes its endpoints: unset conditions are false. */
function endpointOf([key, e]: [string, Ep], nodeName: string): Endpoint {
  return {
    address: key.slice(0, key.lastIndexOf(':')), ports: [{ port: 80 }],
    ready: e.ready ?? false, serving: e.serving ?? false, terminating: e.terminating ?? false,
    nodeName: e.local ? nodeName || NODE : 'node-elsewhere',
    hintsForZones: e.zones ?? [], hintsForNodes: e.nodes ?? [],
  };
}

function factsOf([key, e]: [string, Ep]): TopologyFacts & { key: string } {
  return {
    key, ready: e.ready ?? false, serving: e.serving ?? false, terminating: e.terminating ?? false,
    local: e.local ?? false, hintsForZones: e.zones ?? [], hintsForNodes: e.nodes ?? [],
  };
}

const sorted = (keys: readonly string[]) => [...keys].sort();

describe('categorizeEndpoints (kube-proxy TestCategorizeEndpoints)', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const locality = { nodeName: c.nodeName ?? NODE, zone: c.zone };
    const result = categorizeEndpoints(c.endpoints.map(factsOf), trafficPolicyUse(serviceOf(c), servicePortOf(c)), locality);
    const keys = (set: { endpoints: ReadonlyArray<{ key: string }> } | undefined) => (set ? sorted(set.endpoints.map((e) => e.key)) : null);
    expect(keys(result.cluster)).toEqual(c.cluster && sorted(c.cluster));
    expect(keys(result.local)).toEqual(c.local && sorted(c.local));
    const all = c.cluster && c.local ? c.all! : c.cluster ?? c.local ?? [];
    expect(sorted(result.all.map((e) => e.key))).toEqual(sorted(all));
    expect(result.hasAny).toBe(all.length > 0 || (c.onlyRemote ?? false));
  });
});

describe('eligibleEndpoints, client-side view of kube-proxy TestCategorizeEndpoints', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const nodeName = c.nodeName ?? NODE;
    const servicePort = servicePortOf(c);
    const result = eligibleEndpoints({
      serviceKey: 'demo/web', service: serviceOf(c), servicePort,
      group: pb.EndpointGroup.create({ name: 'demo/web', namespace: 'demo', service: 'web', endpoints: c.endpoints.map((e) => endpointOf(e, nodeName)) }),
      nodeName: nodeName || undefined, zone: c.zone || undefined,
    });
    // A client's own traffic is internal: kube-proxy routes it to the Local set under
    // internalTrafficPolicy Local, to the Cluster set otherwise; eTP does not apply.
    const expected = (c.svc?.internalLocal ? c.local : c.cluster)!;
    if (expected.length > 0) {
      expect(result.type === 'eligible' && { rule: result.rule, endpoints: sorted(result.endpoints.map((e) => `${e.address}:${e.port}`)) })
        .toEqual({ rule: c.rule, endpoints: sorted(expected) });
    } else {
      const code = c.svc?.internalLocal && c.endpoints.some(([, e]) => e.ready || (e.serving && e.terminating)) ? 'SKEIN_ERR_LOCAL_NO_ENDPOINT' : 'SKEIN_ERR_NO_ENDPOINT';
      expect(result.type === 'none' && result.error.code).toBe(code);
    }
  });
});

describe('topology explanations', () => {
  const facts = (e: Ep) => factsOf(['x:80', { ready: true, ...e }]);
  it.each<[string, Ep[], string | undefined, string]>([
    ['no hints at all', [{}, {}], 'zone-a', 'no hints'],
    ['one ready endpoint lacks a hint', [{ zones: ['zone-a'] }, {}], 'zone-a', 'not every ready endpoint has a hint'],
    ['zone unknown', [{ zones: ['zone-a'] }], undefined, 'this proxy\'s zone is unknown'],
    ['no hint for this zone', [{ zones: ['zone-a'] }], 'zone-b', 'no endpoint hinted for zone "zone-b"'],
    ['no ready endpoint', [{ ready: false, zones: ['zone-a'] }], 'zone-a', 'no ready endpoint'],
  ])('says why hints are not used: %s', (_label, eps, zone, why) => {
    expect(topologyModeOf(eps.map(facts), { nodeName: NODE, zone })).toEqual({ type: 'none', why });
  });

  it('gives each endpoint left out by hints a reason', () => {
    const result = eligibleEndpoints({
      serviceKey: 'demo/web', service: pb.Service.create({ name: 'demo/web', namespace: 'demo', ports: [{ port: 80 }] }), servicePort: { port: 80 },
      group: pb.EndpointGroup.create({ endpoints: [endpointOf(['10.0.0.1:80', hinted('zone-a')], NODE), endpointOf(['10.0.0.2:80', hinted('zone-b')], NODE)] }),
      nodeName: NODE, zone: 'zone-a',
    });
    expect(result.type === 'eligible' && result.hints).toBe('forZones zone-a');
    expect(result.verdicts.map((v) => v.reason)).toEqual([
      'ready, hinted for this zone "zone-a"',
      'hinted for zone(s) zone-b, not this zone "zone-a" (topology hints)',
    ]);
  });
});
