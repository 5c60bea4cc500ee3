import {
  LoadBalancer, pb, Protocol, ServiceType, SessionAffinity, TrafficDistribution, TrafficPolicy,
  validateEndpointGroup, validateService, type Endpoint,
} from '@skein/protocol';
import { describe, expect, it } from 'vitest';
import { ClusterState } from './cluster-state.js';
import type { KubeKind, KubeObject } from './kube-objects.js';
import type { MeshModel } from './mesh-model.js';
import { buildMeshModel, DEFAULT_MODEL_OPTIONS, updateMeshModel } from './translate.js';

type Obj = Record<string, unknown>;
type Input = readonly [KubeKind, Obj];

const HTTP_PORT = [{ name: 'http', port: 80, targetPort: 8080 }];

function service(name: string, spec: Obj = {}, meta: Obj = {}, status?: Obj): Input {
  return ['Service', { metadata: { name, namespace: 'default', ...meta }, spec: { ports: HTTP_PORT, ...spec }, ...(status ? { status } : {}) }];
}
const selected = (spec: Obj = {}, meta: Obj = {}): Input => service('web', { selector: { app: 'web' }, ...spec }, meta);

function slice(name: string, endpoints: Obj[], o: { service?: string; addressType?: string; ports?: Obj[]; namespace?: string } = {}): Input {
  return ['EndpointSlice', {
    metadata: { name, namespace: o.namespace ?? 'default', labels: { 'kubernetes.io/service-name': o.service ?? 'web' } },
    addressType: o.addressType ?? 'IPv4',
    endpoints,
    ports: o.ports ?? [{ name: 'http', port: 8080 }],
  }];
}

const node = (name: string, zone?: string, region?: string): Input => ['Node', {
  metadata: { name, labels: { ...(zone ? { 'topology.kubernetes.io/zone': zone } : {}), ...(region ? { 'topology.kubernetes.io/region': region } : {}) } },
}];

interface PodOptions {
  labels?: Record<string, string>; ip?: string; ips?: string[]; ready?: boolean; node?: string; phase?: string;
  ports?: Obj[]; init?: Obj[]; deleting?: boolean; hostname?: string; subdomain?: string; namespace?: string;
}
function pod(name: string, o: PodOptions = {}): Input {
  return ['Pod', {
    metadata: { name, namespace: o.namespace ?? 'default', labels: o.labels ?? { app: 'web' }, ...(o.deleting ? { deletionTimestamp: '2025-01-01T00:00:00Z' } : {}) },
    spec: {
      nodeName: o.node, hostname: o.hostname, subdomain: o.subdomain,
      containers: [{ name: 'web', ports: o.ports ?? [{ name: 'http', containerPort: 8080 }] }],
      ...(o.init ? { initContainers: o.init } : {}),
    },
    status: {
      phase: o.phase ?? 'Running',
      podIP: o.ip ?? o.ips?.[0],
      ...(o.ips ? { podIPs: o.ips.map((ip) => ({ ip })) } : {}),
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
    },
  }];
}

function stateOf(...objects: Input[]): ClusterState {
  const state = new ClusterState();
  for (const [kind, object] of objects) {
    expect(state.apply({ type: 'upsert', kind, object: object as KubeObject, origin: 'test' }).problems).toEqual([]);
  }
  return state;
}
const build = (...objects: Input[]): MeshModel => buildMeshModel(stateOf(...objects), DEFAULT_MODEL_OPTIONS);
const svcOf = (m: MeshModel, name = 'default/web') => m.services.get(name)!;
/** The endpoints as a reader sees them: the model leaves default values unset (endpoint-group.test.ts). */
const eps = (m: MeshModel, name = 'default/web'): Endpoint[] =>
  m.endpointGroups.get(name)!.endpoints!.map((e) => pb.Endpoint.toObject(pb.Endpoint.fromObject(e), { defaults: true }) as Endpoint);

/** A complete Endpoint with the defaults of the fixtures. */
function ep(address: string, o: Partial<Endpoint> = {}): Endpoint {
  return {
    address, ports: [{ name: 'http', port: 8080, protocol: Protocol.PROTOCOL_TCP, appProtocol: '' }],
    ready: true, serving: true, terminating: false, nodeName: '', zone: '', region: '',
    hintsForZones: [], hintsForNodes: [], hostname: '', pod: '', weight: 1, ...o,
  };
}

describe('Service resource', () => {
  it('translates a plain ClusterIP Service with every default', () => {
    expect(svcOf(build(service('web', { clusterIP: '10.0.0.10' })))).toEqual({
      name: 'default/web', namespace: 'default', type: ServiceType.SERVICE_TYPE_CLUSTER_IP,
      clusterIps: ['10.0.0.10'], headless: false, externalName: '',
      ports: [{ name: 'http', port: 80, protocol: Protocol.PROTOCOL_TCP, appProtocol: '', targetPortNumber: 8080, nodePort: 0 }],
      sessionAffinity: SessionAffinity.SESSION_AFFINITY_NONE, sessionAffinityTimeoutSeconds: 0,
      internalTrafficPolicy: TrafficPolicy.TRAFFIC_POLICY_CLUSTER, externalTrafficPolicy: TrafficPolicy.TRAFFIC_POLICY_CLUSTER,
      trafficDistribution: TrafficDistribution.TRAFFIC_DISTRIBUTION_UNSPECIFIED, topologyAwareRouting: false,
      publishNotReadyAddresses: false, loadBalancerIngress: [], externalIps: [], hasSelector: false,
      policy: {
        loadBalancer: LoadBalancer.LOAD_BALANCER_ROUND_ROBIN, hashKey: { sourceIp: true }, localityFailover: false,
        outlierDetection: { enabled: true, consecutiveErrors: 5, baseEjectionMs: 30_000, maxEjectionPercent: 50 },
      },
    });
  });

  it.each([
    ['ClusterIP', undefined, ServiceType.SERVICE_TYPE_CLUSTER_IP],
    ['ClusterIP', 'ClusterIP', ServiceType.SERVICE_TYPE_CLUSTER_IP],
    ['NodePort', 'NodePort', ServiceType.SERVICE_TYPE_NODE_PORT],
    ['LoadBalancer', 'LoadBalancer', ServiceType.SERVICE_TYPE_LOAD_BALANCER],
  ])('type %s (%s) has an EndpointGroup', (_name, type, expected) => {
    const m = build(service('web', { type, clusterIP: '10.0.0.10' }));
    expect(svcOf(m).type).toBe(expected);
    expect(m.endpointGroups.get('default/web')).toEqual({ name: 'default/web', namespace: 'default', service: 'web', endpoints: [] });
  });

  it('ExternalName: the DNS name, no clusterIPs, no EndpointGroup', () => {
    const m = build(service('db', { type: 'ExternalName', externalName: 'db.example.com', ports: [] }));
    expect(svcOf(m, 'default/db')).toMatchObject({ type: ServiceType.SERVICE_TYPE_EXTERNAL_NAME, externalName: 'db.example.com', clusterIps: [], headless: false });
    expect(m.endpointGroups.has('default/db')).toBe(false);
  });

  it.each([
    ['clusterIP None', { clusterIP: 'None' }, true, []],
    ['clusterIPs [None]', { clusterIPs: ['None'] }, true, []],
    ['dual-stack clusterIPs', { clusterIP: '10.0.0.1', clusterIPs: ['10.0.0.1', 'fd00::1'] }, false, ['10.0.0.1', 'fd00::1']],
    ['clusterIP only', { clusterIP: 'fd00::1' }, false, ['fd00::1']],
    ['no clusterIP yet', {}, false, []],
  ])('%s', (_name, spec, headless, ips) => {
    expect(svcOf(build(service('web', spec)))).toMatchObject({ headless, clusterIps: ips });
  });

  it.each([
    ['numeric targetPort', { port: 80, targetPort: 8080 }, { targetPortNumber: 8080 }],
    ['named targetPort', { port: 80, targetPort: 'http' }, { targetPortName: 'http' }],
    ['targetPort defaults to port', { port: 80 }, { targetPortNumber: 80, name: '', protocol: Protocol.PROTOCOL_TCP }],
    ['UDP', { port: 53, protocol: 'UDP' }, { protocol: Protocol.PROTOCOL_UDP }],
    ['SCTP', { port: 53, protocol: 'SCTP' }, { protocol: Protocol.PROTOCOL_SCTP }],
    ['appProtocol', { port: 80, appProtocol: 'kubernetes.io/h2c' }, { appProtocol: 'kubernetes.io/h2c' }],
  ])('port: %s', (_name, port, expected) => {
    expect(svcOf(build(service('web', { ports: [port] }))).ports![0]).toMatchObject(expected);
  });

  it('keeps nodePorts of NodePort Services', () => {
    const m = build(service('web', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }));
    expect(svcOf(m).ports![0]!.nodePort).toBe(30080);
  });

  it.each([
    [{}, SessionAffinity.SESSION_AFFINITY_NONE, 0],
    [{ sessionAffinity: 'None' }, SessionAffinity.SESSION_AFFINITY_NONE, 0],
    [{ sessionAffinity: 'ClientIP' }, SessionAffinity.SESSION_AFFINITY_CLIENT_IP, 10_800],
    [{ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }, SessionAffinity.SESSION_AFFINITY_CLIENT_IP, 60],
    [{ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: {} } }, SessionAffinity.SESSION_AFFINITY_CLIENT_IP, 10_800],
  ])('session affinity %j', (spec, affinity, timeout) => {
    expect(svcOf(build(service('web', spec)))).toMatchObject({ sessionAffinity: affinity, sessionAffinityTimeoutSeconds: timeout });
  });

  it.each([
    [{}, TrafficPolicy.TRAFFIC_POLICY_CLUSTER, TrafficPolicy.TRAFFIC_POLICY_CLUSTER],
    [{ internalTrafficPolicy: 'Local' }, TrafficPolicy.TRAFFIC_POLICY_LOCAL, TrafficPolicy.TRAFFIC_POLICY_CLUSTER],
    [{ type: 'LoadBalancer', externalTrafficPolicy: 'Local' }, TrafficPolicy.TRAFFIC_POLICY_CLUSTER, TrafficPolicy.TRAFFIC_POLICY_LOCAL],
    // Only meaningful for NodePort/LoadBalancer, still carried.
    [{ externalTrafficPolicy: 'Local' }, TrafficPolicy.TRAFFIC_POLICY_CLUSTER, TrafficPolicy.TRAFFIC_POLICY_LOCAL],
  ])('traffic policies %j', (spec, internal, external) => {
    expect(svcOf(build(service('web', spec)))).toMatchObject({ internalTrafficPolicy: internal, externalTrafficPolicy: external });
  });

  it.each([
    [undefined, TrafficDistribution.TRAFFIC_DISTRIBUTION_UNSPECIFIED, false],
    ['PreferSameZone', TrafficDistribution.TRAFFIC_DISTRIBUTION_PREFER_SAME_ZONE, true],
    ['PreferClose', TrafficDistribution.TRAFFIC_DISTRIBUTION_PREFER_SAME_ZONE, true],
    ['PreferSameNode', TrafficDistribution.TRAFFIC_DISTRIBUTION_PREFER_SAME_NODE, true],
    ['PreferSomewhereNew', TrafficDistribution.TRAFFIC_DISTRIBUTION_UNSPECIFIED, false],
  ])('trafficDistribution %s (locality failover follows)', (value, expected, failover) => {
    const s = svcOf(build(service('web', { trafficDistribution: value })));
    expect(s.trafficDistribution).toBe(expected);
    expect(s.policy!.localityFailover).toBe(failover);
  });

  it.each([
    [{}, false],
    [{ 'service.kubernetes.io/topology-mode': 'Auto' }, true],
    [{ 'service.kubernetes.io/topology-mode': 'auto' }, true],
    [{ 'service.kubernetes.io/topology-mode': 'Disabled' }, false],
    [{ 'service.kubernetes.io/topology-mode': 'AUTO' }, false],
    [{ 'service.kubernetes.io/topology-aware-hints': 'auto' }, true],
    [{ 'service.kubernetes.io/topology-aware-hints': 'Auto' }, true],
    // The newer annotation, when present, decides alone.
    [{ 'service.kubernetes.io/topology-mode': 'Disabled', 'service.kubernetes.io/topology-aware-hints': 'auto' }, false],
  ])('topology-aware routing from %j', (annotations, expected) => {
    expect(svcOf(build(service('web', {}, { annotations }))).topologyAwareRouting).toBe(expected);
  });

  it('carries publishNotReadyAddresses, load-balancer ingress, external IPs and selector presence', () => {
    const m = build(service('web', { type: 'LoadBalancer', publishNotReadyAddresses: true, externalIPs: ['192.0.2.1'], selector: { app: 'web' } }, {},
      { loadBalancer: { ingress: [{ ip: '203.0.113.1' }, { hostname: 'lb.example.com' }, { ip: '203.0.113.1' }] } }));
    expect(svcOf(m)).toMatchObject({
      publishNotReadyAddresses: true, externalIps: ['192.0.2.1'], hasSelector: true,
      loadBalancerIngress: ['203.0.113.1', 'lb.example.com'],
    });
    expect(svcOf(build(service('web', { selector: {} }))).hasSelector).toBe(false);
  });

  it('takes the mesh policy from skein.io/* annotations', () => {
    const annotations = { 'skein.io/load-balancer': 'ring-hash', 'skein.io/hash-key': 'header:X-User', 'skein.io/timeout': '2s', 'skein.io/retries': '2' };
    expect(svcOf(build(service('web', {}, { annotations }))).policy).toMatchObject({
      loadBalancer: LoadBalancer.LOAD_BALANCER_RING_HASH, hashKey: { header: 'x-user' }, timeoutMs: 2000, retries: 2,
    });
  });
});

describe('EndpointGroup from EndpointSlices', () => {
  it('translates an endpoint with every default', () => {
    expect(eps(build(service('web'), slice('web-1', [{ addresses: ['10.1.0.1'] }])))).toEqual([ep('10.1.0.1')]);
  });

  it.each<[string, Obj[], Obj[], Endpoint['ports']]>([
    ['by name', HTTP_PORT, [{ name: 'http', port: 8080 }], [{ name: 'http', port: 8080, protocol: Protocol.PROTOCOL_TCP, appProtocol: '' }]],
    ['unnamed to the single unnamed port', [{ port: 80 }], [{ port: 8080 }], [{ name: '', port: 8080, protocol: Protocol.PROTOCOL_TCP, appProtocol: '' }]],
    ['unnamed with a null name', [{ port: 80 }], [{ name: null, port: 8080 }], [{ name: '', port: 8080, protocol: Protocol.PROTOCOL_TCP, appProtocol: '' }]],
    ['not another name', HTTP_PORT, [{ name: 'grpc', port: 9090 }], []],
    ['not another protocol', HTTP_PORT, [{ name: 'http', port: 8080, protocol: 'UDP' }], []],
    ['not a port without a number', HTTP_PORT, [{ name: 'http', port: null }], []],
    ['appProtocol from the slice', HTTP_PORT, [{ name: 'http', port: 8080, appProtocol: 'grpc' }], [{ name: 'http', port: 8080, protocol: Protocol.PROTOCOL_TCP, appProtocol: 'grpc' }]],
    ['appProtocol from the Service port', [{ name: 'http', port: 80, appProtocol: 'http' }], [{ name: 'http', port: 8080 }], [{ name: 'http', port: 8080, protocol: Protocol.PROTOCOL_TCP, appProtocol: 'http' }]],
    ['several, sorted by name', [{ name: 'web', port: 80 }, { name: 'admin', port: 81 }, { name: 'dns', port: 53, protocol: 'UDP' }],
      [{ name: 'web', port: 8080 }, { name: 'dns', port: 5353, protocol: 'UDP' }, { name: 'admin', port: 9000 }], [
        { name: 'admin', port: 9000, protocol: Protocol.PROTOCOL_TCP, appProtocol: '' },
        { name: 'dns', port: 5353, protocol: Protocol.PROTOCOL_UDP, appProtocol: '' },
        { name: 'web', port: 8080, protocol: Protocol.PROTOCOL_TCP, appProtocol: '' },
      ]],
  ])('matches slice ports to Service ports %s', (_name, servicePorts, slicePorts, expected) => {
    const m = build(service('web', { ports: servicePorts }), slice('web-1', [{ addresses: ['10.1.0.1'] }], { ports: slicePorts }));
    expect(eps(m)[0]!.ports).toEqual(expected);
  });

  it('joins many slices, IPv4 and IPv6, ignores FQDN slices and slices of other Services, and sorts by address', () => {
    const m = build(
      service('web'),
      slice('web-b', [{ addresses: ['10.1.0.9'] }, { addresses: ['10.1.0.2'] }]),
      slice('web-a', [{ addresses: ['10.1.0.5'] }]),
      slice('web-v6', [{ addresses: ['fd00::5'] }], { addressType: 'IPv6' }),
      slice('web-fqdn', [{ addresses: ['web.example.com'] }], { addressType: 'FQDN' }),
      slice('api-1', [{ addresses: ['10.9.0.1'] }], { service: 'api' }),
      slice('web-1', [{ addresses: ['10.8.0.1'] }], { namespace: 'other' }),
    );
    expect(eps(m).map((e) => e.address)).toEqual(['10.1.0.2', '10.1.0.5', '10.1.0.9', 'fd00::5']);
  });

  it('uses the first address of an endpoint, as Kubernetes does', () => {
    expect(eps(build(service('web'), slice('web-1', [{ addresses: ['10.1.0.7', '10.1.0.8'] }])))).toEqual([ep('10.1.0.7')]);
  });

  it.each<[string, Obj | undefined, Partial<Endpoint>]>([
    ['absent', undefined, { ready: true, serving: true, terminating: false }],
    ['all null', { ready: null, serving: null, terminating: null }, { ready: true, serving: true, terminating: false }],
    ['not ready: serving follows', { ready: false }, { ready: false, serving: false, terminating: false }],
    ['terminating but serving', { ready: false, serving: true, terminating: true }, { ready: false, serving: true, terminating: true }],
    ['terminating, not serving', { ready: false, serving: false, terminating: true }, { ready: false, serving: false, terminating: true }],
    ['ready, serving absent', { ready: true }, { ready: true, serving: true, terminating: false }],
  ])('conditions %s', (_name, conditions, expected) => {
    const m = build(service('web'), slice('web-1', [{ addresses: ['10.1.0.1'], ...(conditions ? { conditions } : {}) }]));
    expect(eps(m)[0]).toMatchObject(expected);
  });

  it('makes every endpoint ready with publishNotReadyAddresses', () => {
    const m = build(service('web', { publishNotReadyAddresses: true }), slice('web-1', [{ addresses: ['10.1.0.1'], conditions: { ready: false } }]));
    expect(eps(m)[0]).toMatchObject({ ready: true, serving: false });
  });

  it('dedupes an address found in several slices: the ready one wins, ports merge by name', () => {
    const objects: Input[] = [
      service('web', { ports: [{ name: 'http', port: 80 }, { name: 'admin', port: 81 }] }),
      slice('web-a', [{ addresses: ['10.1.0.1'], conditions: { ready: false }, nodeName: 'old' }], { ports: [{ name: 'http', port: 1111 }, { name: 'admin', port: 9000 }] }),
      slice('web-b', [{ addresses: ['10.1.0.1'], nodeName: 'new' }], { ports: [{ name: 'http', port: 8080 }] }),
    ];
    const expected = [ep('10.1.0.1', {
      nodeName: 'new',
      ports: [{ name: 'admin', port: 9000, protocol: Protocol.PROTOCOL_TCP, appProtocol: '' }, { name: 'http', port: 8080, protocol: Protocol.PROTOCOL_TCP, appProtocol: '' }],
    })];
    expect(eps(build(...objects))).toEqual(expected);
    expect(eps(build(...[...objects].reverse()))).toEqual(expected);
  });

  it('locates endpoints: zone from the slice, else from the Node; region from the Node', () => {
    const m = build(
      service('web'), node('n1', 'zone-a', 'region-1'), node('n2', 'zone-b'),
      slice('web-1', [
        { addresses: ['10.1.0.1'], nodeName: 'n1' },
        { addresses: ['10.1.0.2'], nodeName: 'n1', zone: 'zone-x' },
        { addresses: ['10.1.0.3'], nodeName: 'n2' },
        { addresses: ['10.1.0.4'], nodeName: 'unknown', zone: 'zone-c' },
        { addresses: ['10.1.0.5'] },
      ]),
    );
    expect(eps(m).map((e) => [e.address, e.nodeName, e.zone, e.region])).toEqual([
      ['10.1.0.1', 'n1', 'zone-a', 'region-1'],
      ['10.1.0.2', 'n1', 'zone-x', 'region-1'],
      ['10.1.0.3', 'n2', 'zone-b', ''],
      ['10.1.0.4', 'unknown', 'zone-c', ''],
      ['10.1.0.5', '', '', ''],
    ]);
  });

  it('keeps slice hints, sorted and deduped', () => {
    const hints = { forZones: [{ name: 'b' }, { name: 'a' }, { name: 'b' }], forNodes: [{ name: 'n2' }, { name: 'n1' }] };
    const m = build(service('web'), slice('web-1', [{ addresses: ['10.1.0.1'], hints }]));
    expect(eps(m)[0]).toMatchObject({ hintsForZones: ['a', 'b'], hintsForNodes: ['n1', 'n2'] });
  });

  it.each([
    ['headless', { clusterIP: 'None' }, 'web-0.web.default.svc.cluster.local'],
    ['not headless', { clusterIP: '10.0.0.1' }, ''],
  ])('publishes a hostname as a FQDN only when %s', (_name, spec, expected) => {
    const m = build(service('web', spec), slice('web-1', [{ addresses: ['10.1.0.1'], hostname: 'web-0' }]));
    expect(eps(m)[0]!.hostname).toBe(expected);
  });

  it('uses the cluster domain option', () => {
    const state = stateOf(service('web', { clusterIP: 'None' }), slice('web-1', [{ addresses: ['10.1.0.1'], hostname: 'web-0' }]));
    expect(buildMeshModel(state, { clusterDomain: 'corp.example' }).endpointGroups.get('default/web')!.endpoints![0]!.hostname)
      .toBe('web-0.web.default.svc.corp.example');
  });

  it.each([
    [{ kind: 'Pod', name: 'web-0' }, 'default/web-0'],
    [{ kind: 'Pod', namespace: 'other', name: 'web-0' }, 'other/web-0'],
    [{ kind: 'VirtualMachine', name: 'vm-0' }, ''],
    [undefined, ''],
  ])('pod from targetRef %j', (targetRef, expected) => {
    const m = build(service('web'), slice('web-1', [{ addresses: ['10.1.0.1'], ...(targetRef ? { targetRef } : {}) }]));
    expect(eps(m)[0]!.pod).toBe(expected);
  });

  it('prefers slices over legacy Endpoints and over Pods', () => {
    const legacy: Input = ['Endpoints', { metadata: { name: 'web', namespace: 'default' }, subsets: [{ addresses: [{ ip: '10.2.0.1' }], ports: [{ name: 'http', port: 8080 }] }] }];
    expect(eps(build(service('web'), legacy, slice('web-1', [{ addresses: ['10.1.0.1'] }]))).map((e) => e.address)).toEqual(['10.1.0.1']);
    expect(eps(build(selected(), pod('p', { ip: '10.3.0.1' }), slice('web-1', [{ addresses: ['10.1.0.1'] }]))).map((e) => e.address)).toEqual(['10.1.0.1']);
  });
});

describe('EndpointGroup from legacy Endpoints', () => {
  const legacy = (subsets: Obj[]): Input => ['Endpoints', { metadata: { name: 'web', namespace: 'default' }, subsets }];

  it('reads ready and not-ready addresses of a selector-less Service, one endpoint per ip', () => {
    const m = build(service('web', { ports: [{ name: 'http', port: 80 }, { name: 'admin', port: 81 }] }), node('n1', 'z', 'r'), legacy([
      {
        addresses: [{ ip: '10.2.0.2', nodeName: 'n1', targetRef: { kind: 'Pod', name: 'p2' } }, { ip: '10.2.0.1', hostname: 'h1' }],
        notReadyAddresses: [{ ip: 'fd00::3' }],
        ports: [{ name: 'http', port: 8080 }, { name: 'admin', port: 9000 }, { name: 'other', port: 1 }],
      },
    ]));
    const ports = [
      { name: 'admin', port: 9000, protocol: Protocol.PROTOCOL_TCP, appProtocol: '' },
      { name: 'http', port: 8080, protocol: Protocol.PROTOCOL_TCP, appProtocol: '' },
    ];
    expect(eps(m)).toEqual([
      ep('10.2.0.1', { ports }),
      ep('10.2.0.2', { ports, nodeName: 'n1', zone: 'z', region: 'r', pod: 'default/p2' }),
      ep('fd00::3', { ports, ready: false, serving: false }),
    ]);
  });

  it('merges an address listed in several subsets (one per port set)', () => {
    const m = build(service('web', { ports: [{ name: 'http', port: 80 }, { name: 'admin', port: 81 }] }), legacy([
      { addresses: [{ ip: '10.2.0.1' }], ports: [{ name: 'http', port: 8080 }] },
      { notReadyAddresses: [{ ip: '10.2.0.1' }], ports: [{ name: 'admin', port: 9000 }] },
    ]));
    expect(eps(m)).toEqual([ep('10.2.0.1', {
      ports: [{ name: 'admin', port: 9000, protocol: Protocol.PROTOCOL_TCP, appProtocol: '' }, { name: 'http', port: 8080, protocol: Protocol.PROTOCOL_TCP, appProtocol: '' }],
    })]);
  });

  it('publishes hostnames of headless selector-less Services', () => {
    const m = build(service('web', { clusterIP: 'None' }), legacy([{ addresses: [{ ip: '10.2.0.1', hostname: 'h1' }], ports: [{ name: 'http', port: 8080 }] }]));
    expect(eps(m)[0]!.hostname).toBe('h1.web.default.svc.cluster.local');
  });

  it('is not read for a selector Service', () => {
    expect(eps(build(selected(), legacy([{ addresses: [{ ip: '10.2.0.1' }], ports: [{ name: 'http', port: 8080 }] }])))).toEqual([]);
  });
});

describe('EndpointGroup from Pods', () => {
  it('derives endpoints from the Pods the selector matches', () => {
    const m = build(
      selected(), node('n1', 'zone-a', 'region-1'),
      pod('web-1', { ip: '10.3.0.1', node: 'n1' }),
      pod('web-2', { ip: '10.3.0.2', labels: { app: 'web', tier: 'x' } }),
      pod('api-1', { ip: '10.3.0.3', labels: { app: 'api' } }),
      pod('none-1', { ip: '10.3.0.4', labels: {} }),
      pod('web-3', { ip: '10.3.0.5', namespace: 'other' }),
    );
    expect(eps(m)).toEqual([
      ep('10.3.0.1', { nodeName: 'n1', zone: 'zone-a', region: 'region-1', pod: 'default/web-1' }),
      ep('10.3.0.2', { pod: 'default/web-2' }),
    ]);
  });

  it('requires every selector entry to match', () => {
    const m = build(selected({ selector: { app: 'web', tier: 'x' } }), pod('a', { ip: '10.3.0.1' }), pod('b', { ip: '10.3.0.2', labels: { app: 'web', tier: 'x' } }));
    expect(eps(m).map((e) => e.pod)).toEqual(['default/b']);
  });

  it.each([
    ['Succeeded', { phase: 'Succeeded' }, 0],
    ['Failed', { phase: 'Failed' }, 0],
    ['Pending with an IP', { phase: 'Pending' }, 1],
    ['no IP yet', { ip: '' }, 0],
  ])('Pod %s', (_name, o, count) => {
    expect(eps(build(selected(), pod('p', { ip: '10.3.0.1', ...o })))).toHaveLength(count);
  });

  it('publishes every pod IP (dual stack), filtered by the Service IP families', () => {
    const ips = ['10.3.0.1', 'fd00::1'];
    expect(eps(build(selected(), pod('p', { ips }))).map((e) => e.address)).toEqual(ips);
    expect(eps(build(selected({ ipFamilies: ['IPv6'] }), pod('p', { ips }))).map((e) => e.address)).toEqual(['fd00::1']);
    expect(eps(build(selected({ clusterIP: '10.0.0.1' }), pod('p', { ips }))).map((e) => e.address)).toEqual(['10.3.0.1']);
  });

  it.each<[string, PodOptions, Obj, Partial<Endpoint>]>([
    ['ready', {}, {}, { ready: true, serving: true, terminating: false }],
    ['not ready', { ready: false }, {}, { ready: false, serving: false, terminating: false }],
    ['terminating while ready', { deleting: true }, {}, { ready: false, serving: true, terminating: true }],
    ['terminating, not ready', { deleting: true, ready: false }, {}, { ready: false, serving: false, terminating: true }],
    ['not ready, publishNotReadyAddresses', { ready: false }, { publishNotReadyAddresses: true }, { ready: true, serving: false }],
    ['terminating, publishNotReadyAddresses', { deleting: true }, { publishNotReadyAddresses: true }, { ready: true, serving: true, terminating: true }],
  ])('conditions: %s', (_name, o, spec, expected) => {
    expect(eps(build(selected(spec), pod('p', { ip: '10.3.0.1', ...o })))[0]).toMatchObject(expected);
  });

  it('resolves named target ports per Pod; a Pod lacking one port contributes the others; a Pod with none is skipped', () => {
    const servicePorts = [{ name: 'http', port: 80, targetPort: 'web' }, { name: 'metrics', port: 9090, targetPort: 9090 }, { name: 'admin', port: 81, targetPort: 'admin' }];
    const m = build(
      selected({ ports: servicePorts }),
      pod('a', { ip: '10.3.0.1', ports: [{ name: 'web', containerPort: 8080 }, { name: 'admin', containerPort: 9000 }] }),
      pod('b', { ip: '10.3.0.2', ports: [{ name: 'web', containerPort: 8081 }] }),
    );
    const tcp = (name: string, port: number) => ({ name, port, protocol: Protocol.PROTOCOL_TCP, appProtocol: '' });
    expect(eps(m).map((e) => e.ports)).toEqual([
      [tcp('admin', 9000), tcp('http', 8080), tcp('metrics', 9090)],
      [tcp('http', 8081), tcp('metrics', 9090)],
    ]);
    const namedOnly = build(selected({ ports: [{ name: 'http', port: 80, targetPort: 'web' }] }), pod('c', { ip: '10.3.0.3', ports: [] }));
    expect(eps(namedOnly)).toEqual([]);
  });

  it('matches named ports by protocol too, and finds them in sidecar init containers', () => {
    const m = build(
      selected({ ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 'dns' }, { name: 'proxy', port: 80, targetPort: 'proxy', appProtocol: 'http' }] }),
      pod('a', {
        ip: '10.3.0.1', ports: [{ name: 'dns', containerPort: 5300 }, { name: 'dns', containerPort: 5353, protocol: 'UDP' }],
        init: [{ name: 'proxy', restartPolicy: 'Always', ports: [{ name: 'proxy', containerPort: 15001 }] }, { name: 'setup', ports: [{ name: 'other', containerPort: 1 }] }],
      }),
    );
    expect(eps(m)[0]!.ports).toEqual([
      { name: 'dns', port: 5353, protocol: Protocol.PROTOCOL_UDP, appProtocol: '' },
      { name: 'proxy', port: 15001, protocol: Protocol.PROTOCOL_TCP, appProtocol: 'http' },
    ]);
  });

  it('keeps Pods of a headless Service without ports', () => {
    expect(eps(build(selected({ clusterIP: 'None', ports: [] }), pod('p', { ip: '10.3.0.1' }))).map((e) => e.ports)).toEqual([[]]);
  });

  it.each([
    ['subdomain names the Service', { hostname: 'web-0', subdomain: 'web' }, 'web-0.web.default.svc.cluster.local'],
    ['another subdomain', { hostname: 'web-0', subdomain: 'other' }, ''],
    ['no subdomain', { hostname: 'web-0' }, ''],
  ])('hostname when %s (headless)', (_name, o, expected) => {
    expect(eps(build(selected({ clusterIP: 'None' }), pod('p', { ip: '10.3.0.1', ...o })))[0]!.hostname).toBe(expected);
  });

  it('dedupes Pods sharing an address (hostNetwork), preferring the ready one', () => {
    const m = build(selected(), pod('a', { ip: '10.3.0.1', ready: false }), pod('b', { ip: '10.3.0.1' }));
    expect(eps(m)).toEqual([ep('10.3.0.1', { pod: 'default/b' })]);
  });
});

describe('hints on Pod-derived endpoints', () => {
  const nodes = [node('n1', 'a'), node('n2', 'b'), node('n3')];
  const hintsOf = (m: MeshModel) => eps(m).map((e) => [e.address, e.hintsForZones, e.hintsForNodes]);

  it.each(['PreferSameZone', 'PreferClose'])('%s: own zone for each endpoint that has one', (value) => {
    const m = build(selected({ trafficDistribution: value }), ...nodes,
      pod('p1', { ip: '10.3.0.1', node: 'n1' }), pod('p2', { ip: '10.3.0.2', node: 'n2', ready: false }), pod('p3', { ip: '10.3.0.3', node: 'n3' }));
    expect(hintsOf(m)).toEqual([['10.3.0.1', ['a'], []], ['10.3.0.2', ['b'], []], ['10.3.0.3', [], []]]);
  });

  it('PreferSameNode: own node and own zone', () => {
    const m = build(selected({ trafficDistribution: 'PreferSameNode' }), ...nodes,
      pod('p1', { ip: '10.3.0.1', node: 'n1' }), pod('p3', { ip: '10.3.0.3', node: 'n3' }), pod('p4', { ip: '10.3.0.4' }));
    expect(hintsOf(m)).toEqual([['10.3.0.1', ['a'], ['n1']], ['10.3.0.3', [], ['n3']], ['10.3.0.4', [], []]]);
  });

  it('no trafficDistribution (or an unknown one): no hints', () => {
    for (const spec of [{}, { trafficDistribution: 'PreferMars' }]) {
      const m = build(selected(spec), ...nodes, pod('p1', { ip: '10.3.0.1', node: 'n1' }));
      expect(hintsOf(m)).toEqual([['10.3.0.1', [], []]]);
    }
  });

  const auto = { annotations: { 'service.kubernetes.io/topology-mode': 'Auto' } };

  it('topology-mode Auto: own zone for ready endpoints when every zone has a ready endpoint', () => {
    const m = build(selected({}, auto), node('n1', 'a'), node('n2', 'b'),
      pod('p1', { ip: '10.3.0.1', node: 'n1' }), pod('p2', { ip: '10.3.0.2', node: 'n2' }), pod('p3', { ip: '10.3.0.3', node: 'n2', ready: false }));
    expect(hintsOf(m)).toEqual([['10.3.0.1', ['a'], []], ['10.3.0.2', ['b'], []], ['10.3.0.3', [], []]]);
  });

  it.each<[string, Input[]]>([
    ['a zone has no ready endpoint', [node('n1', 'a'), node('n2', 'b'), pod('p1', { ip: '10.3.0.1', node: 'n1' }), pod('p2', { ip: '10.3.0.2', node: 'n2', ready: false })]],
    ['a zone has no endpoint at all', [node('n1', 'a'), node('n2', 'b'), pod('p1', { ip: '10.3.0.1', node: 'n1' })]],
    ['a ready endpoint has no zone', [node('n1', 'a'), node('n3'), pod('p1', { ip: '10.3.0.1', node: 'n1' }), pod('p3', { ip: '10.3.0.3', node: 'n3' })]],
  ])('topology-mode Auto: no hints when %s', (_name, objects) => {
    expect(hintsOf(build(selected({}, auto), ...objects)).every(([, zones]) => (zones as string[]).length === 0)).toBe(true);
  });

  it('topology-mode Auto wins over trafficDistribution', () => {
    const m = build(selected({ trafficDistribution: 'PreferSameNode' }, auto), node('n1', 'a'), pod('p1', { ip: '10.3.0.1', node: 'n1' }));
    expect(hintsOf(m)).toEqual([['10.3.0.1', ['a'], []]]);
  });

  it('are not written on slices, which keep their own hints', () => {
    const m = build(service('web', { trafficDistribution: 'PreferSameZone' }), node('n1', 'a'), slice('web-1', [{ addresses: ['10.1.0.1'], nodeName: 'n1' }]));
    expect(hintsOf(m)).toEqual([['10.1.0.1', [], []]]);
  });
});

describe('the model as a whole', () => {
  /** A small seeded PRNG, so failures reproduce. */
  function prng(seed: number): () => number {
    let s = seed;
    return () => ((s = (s * 1103515245 + 12345) % 2 ** 31), s / 2 ** 31);
  }
  function shuffle<T>(items: readonly T[], random: () => number): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
  /** Everything, including map order. */
  const dump = (m: MeshModel): string => JSON.stringify([[...m.services], [...m.endpointGroups]]);

  const cluster: Input[] = [
    node('n1', 'a', 'r'), node('n2', 'b', 'r'),
    service('web', { clusterIP: '10.0.0.1', ports: [{ name: 'http', port: 80 }, { name: 'admin', port: 81 }] }),
    slice('web-a', [{ addresses: ['10.1.0.2'], nodeName: 'n1' }, { addresses: ['10.1.0.1'], conditions: { ready: false } }],
      { ports: [{ name: 'http', port: 8080 }] }),
    slice('web-b', [{ addresses: ['10.1.0.1'], nodeName: 'n2' }], { ports: [{ name: 'admin', port: 9000 }] }),
    slice('web-c', [{ addresses: ['fd00::1'] }], { addressType: 'IPv6', ports: [{ name: 'http', port: 8080 }] }),
    service('api', { selector: { app: 'api' }, trafficDistribution: 'PreferSameZone', ports: [{ name: 'grpc', port: 9090, targetPort: 'grpc', appProtocol: 'grpc' }] }),
    pod('api-2', { labels: { app: 'api' }, ip: '10.3.0.2', node: 'n2', ports: [{ name: 'grpc', containerPort: 9091 }] }),
    pod('api-1', { labels: { app: 'api' }, ip: '10.3.0.1', node: 'n1', ports: [{ name: 'grpc', containerPort: 9091 }] }),
    pod('api-3', { labels: { app: 'api' }, ip: '10.3.0.3', node: 'n1', deleting: true, ports: [{ name: 'grpc', containerPort: 9091 }] }),
    service('legacy', { ports: [{ port: 5432 }] }),
    ['Endpoints', { metadata: { name: 'legacy', namespace: 'default' }, subsets: [{ addresses: [{ ip: '192.0.2.2' }, { ip: '192.0.2.1' }], ports: [{ port: 5432 }] }] }],
    service('db', { type: 'ExternalName', externalName: 'db.example.com', ports: [] }),
    ['Service', { metadata: { name: 'cache', namespace: 'kube-system' }, spec: { clusterIP: 'None', selector: { app: 'cache' } } }],
    pod('cache-0', { namespace: 'kube-system', labels: { app: 'cache' }, ip: '10.4.0.1', hostname: 'cache-0', subdomain: 'cache' }),
    service('lb', { type: 'LoadBalancer', ports: [{ port: 443, nodePort: 30443 }], sessionAffinity: 'ClientIP' }, { annotations: { 'skein.io/load-balancer': 'maglev' } }),
  ];

  it('is the same whatever order the objects arrive in, with maps sorted by name', () => {
    const reference = build(...cluster);
    expect([...reference.services.keys()]).toEqual(['default/api', 'default/db', 'default/lb', 'default/legacy', 'default/web', 'kube-system/cache']);
    expect([...reference.endpointGroups.keys()]).toEqual(['default/api', 'default/lb', 'default/legacy', 'default/web', 'kube-system/cache']);
    const random = prng(7);
    for (let i = 0; i < 25; i++) expect(dump(build(...shuffle(cluster, random)))).toBe(dump(reference));
  });

  it('produces resources the protocol validation accepts', () => {
    const m = build(...cluster);
    for (const s of m.services.values()) expect(validateService(s)).toEqual([]);
    for (const g of m.endpointGroups.values()) expect(validateEndpointGroup(g)).toEqual([]);
    expect(eps(m, 'kube-system/cache')[0]!.hostname).toBe('cache-0.cache.kube-system.svc.cluster.local');
    expect(eps(m, 'default/api').map((e) => [e.address, e.ready, e.hintsForZones])).toEqual([
      ['10.3.0.1', true, ['a']], ['10.3.0.2', true, ['b']], ['10.3.0.3', false, ['a']],
    ]);
  });

  it('updates incrementally to the same model as a full build', () => {
    const random = prng(11);
    const variants: Input[] = [
      ...cluster,
      service('web', { clusterIP: '10.0.0.1', ports: [{ name: 'http', port: 80 }] }),
      service('api', { selector: { app: 'api', v: '2' }, ports: [{ name: 'grpc', port: 9090, targetPort: 'grpc' }] }),
      slice('web-b', [{ addresses: ['10.1.0.9'] }], { service: 'legacy', ports: [{ port: 5432 }] }),
      pod('api-2', { labels: { app: 'api', v: '2' }, ip: '10.3.0.2', node: 'n1', ports: [{ name: 'grpc', containerPort: 9091 }] }),
      node('n1', 'c', 'r'), node('n2', 'b', 'r2'),
      ['Endpoints', { metadata: { name: 'legacy', namespace: 'default' }, subsets: [] }],
    ];
    const state = new ClusterState();
    let model = buildMeshModel(state, DEFAULT_MODEL_OPTIONS);
    for (let step = 0; step < 300; step++) {
      const [kind, object] = variants[Math.floor(random() * variants.length)]!;
      const meta = object.metadata as { name: string; namespace?: string };
      if (random() < 0.25) {
        state.apply({ type: 'delete', ref: { kind, namespace: kind === 'Node' ? '' : meta.namespace!, name: meta.name }, origin: 'test' });
      } else {
        state.apply({ type: 'upsert', kind, object: object as KubeObject, origin: 'test' });
      }
      const previous = model;
      model = updateMeshModel(model, state, state.takeChanges(), DEFAULT_MODEL_OPTIONS);
      expect(dump(model)).toBe(dump(buildMeshModel(state, DEFAULT_MODEL_OPTIONS)));
      if (state.takeChanges().services.size === 0) expect(updateMeshModel(model, state, { all: false, services: new Set() }, DEFAULT_MODEL_OPTIONS)).toBe(model);
      void previous;
    }
  });

  it.each([[3, 0.03], [5, 0.08], [9, 0.2], [13, 0.4]])('never throws on what validation lets through (seed %d, mangle rate %d)', (seed, rate) => {
    const random = prng(seed);
    const garbage = [null, 0, -1, 65536, 1.5, '', 'x', '10.0.0.1', 'None', 'ClientIP', 'Local', true, [], {}, [{}], { name: 'x' }, [null]];
    const state = new ClusterState();
    for (let round = 0; round < 300; round++) {
      for (const [kind, original] of shuffle(cluster, random)) {
        const object = structuredClone(original);
        mangle(object, () => garbage[Math.floor(random() * garbage.length)], random, rate);
        expect(() => state.apply({ type: 'upsert', kind, object: object as KubeObject, origin: 'fuzz' })).not.toThrow();
      }
      const m = buildMeshModel(state, DEFAULT_MODEL_OPTIONS);
      for (const s of m.services.values()) expect(validateService(s)).toEqual([]);
      for (const g of m.endpointGroups.values()) expect(validateEndpointGroup(g)).toEqual([]);
    }
  });

  /** Replaces a few random fields (at any depth) of `value` with garbage. */
  function mangle(value: unknown, pick: () => unknown, random: () => number, rate: number): void {
    if (typeof value !== 'object' || value === null) return;
    for (const key of Object.keys(value)) {
      const record = value as Record<string, unknown>;
      // Names stay, so that a mangled object replaces its good version.
      if (key !== 'metadata' && key !== 'name' && key !== 'namespace' && random() < rate) record[key] = pick();
      else mangle(record[key], pick, random, rate);
    }
  }
});
