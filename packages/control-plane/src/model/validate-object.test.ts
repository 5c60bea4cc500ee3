import { describe, expect, it } from 'vitest';
import { KUBE_KINDS, type KubeKind } from './kube-objects.js';
import { validateObject } from './validate-object.js';

const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, namespace: 'default', ...extra });

const valid: Record<KubeKind, Record<string, unknown>> = {
  Service: { metadata: meta('web'), spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } },
  EndpointSlice: {
    metadata: meta('web-abc', { labels: { 'kubernetes.io/service-name': 'web' } }),
    addressType: 'IPv4',
    endpoints: [{ addresses: ['10.1.0.1'], conditions: { ready: null }, nodeName: 'n1', hints: { forZones: [{ name: 'a' }] } }],
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'all', port: null }],
  },
  Endpoints: { metadata: meta('web'), subsets: [{ addresses: [{ ip: '10.1.0.1' }], notReadyAddresses: [{ ip: 'fd00::1' }], ports: [{ port: 8080 }] }] },
  Node: { metadata: { name: 'node-1', labels: { 'topology.kubernetes.io/zone': 'a' } } },
  Pod: {
    metadata: meta('web-1', { labels: { app: 'web' }, deletionTimestamp: new Date(0) }),
    spec: { nodeName: 'n1', containers: [{ name: 'web', ports: [{ name: 'http', containerPort: 8080 }] }] },
    status: { phase: 'Running', podIP: '10.1.0.1', podIPs: [{ ip: '10.1.0.1' }], conditions: [{ type: 'Ready', status: 'True' }] },
  },
};

/** `valid[kind]` with `path` (dot-separated, numeric parts index lists) set to `value`. */
function withField(kind: KubeKind, path: string, value: unknown): Record<string, unknown> {
  const object = structuredClone(valid[kind]);
  const parts = path.split('.');
  let at: Record<string, unknown> = object;
  for (const part of parts.slice(0, -1)) {
    at[part] ??= {};
    at = at[part] as Record<string, unknown>;
  }
  if (value === undefined) delete at[parts.at(-1)!];
  else at[parts.at(-1)!] = value;
  return object;
}

describe('validateObject', () => {
  it.each(KUBE_KINDS)('accepts a valid %s', (kind) => {
    expect(validateObject(kind, valid[kind])).toEqual([]);
  });

  it.each(KUBE_KINDS.flatMap((kind) => [null, undefined, 'web', 42, [], true].map((value) => [kind, value] as const)))(
    '%s: %j is a reason, not an exception', (kind, value) => {
      expect(validateObject(kind, value)).toEqual([expect.stringContaining('is not an object')]);
    },
  );

  it.each([
    ['Service', 'metadata', undefined, 'metadata is missing'],
    ['Service', 'metadata', 'web', 'metadata is not an object (got "web")'],
    ['Service', 'metadata.name', undefined, 'metadata.name is missing'],
    ['Service', 'metadata.name', '', 'metadata.name is missing'],
    ['Service', 'metadata.name', 7, 'metadata.name is not a string (got 7)'],
    ['Service', 'metadata.name', 'Web', 'metadata.name "Web" is not a valid Service name'],
    ['Service', 'metadata.name', '1web', 'metadata.name "1web" is not a valid Service name'],
    ['Pod', 'metadata.name', 'web_1', 'metadata.name "web_1" is not a valid Pod name'],
    ['Service', 'metadata.namespace', undefined, 'metadata.namespace is missing'],
    ['EndpointSlice', 'metadata.namespace', undefined, 'metadata.namespace is missing'],
    ['Pod', 'metadata.namespace', 'Prod', 'metadata.namespace "Prod" is not a DNS label'],
    ['Service', 'metadata.labels', ['a'], 'metadata.labels is not an object (got a list)'],
    ['Node', 'metadata.labels', { zone: 3 }, 'metadata.labels["zone"] is not a string (got 3; quote it)'],
    ['Service', 'metadata.annotations', { 'skein.io/retries': 3 }, 'metadata.annotations["skein.io/retries"] is not a string'],
    ['Pod', 'metadata.deletionTimestamp', 5, 'metadata.deletionTimestamp is not a timestamp (got 5)'],
    ['Service', 'kind', 'Pod', 'kind "Pod" is not Service'],
  ] as const)('%s %s = %j: %s', (kind, path, value, reason) => {
    expect(validateObject(kind, withField(kind, path, value))).toContainEqual(expect.stringContaining(reason));
  });

  it('lets a Node have no namespace', () => {
    expect(validateObject('Node', { metadata: { name: 'n1' } })).toEqual([]);
  });
});

describe('validateObject: Service', () => {
  const ports = (...list: unknown[]) => ({ metadata: meta('web'), spec: { ports: list } });
  const spec = (s: Record<string, unknown>) => ({ metadata: meta('web'), spec: { ports: [{ port: 80 }], ...s } });

  it.each([
    ['targetPort 0', ports({ port: 80, targetPort: 0 }), 'port 80: targetPort 0 is out of range 1-65535'],
    ['targetPort 65536', ports({ port: 80, targetPort: 65536 }), 'port 80: targetPort 65536 is out of range 1-65535'],
    ['quoted targetPort', ports({ port: 80, targetPort: '8080' }), 'port 80: targetPort "8080" is not a port name (write the number without quotes)'],
    ['long targetPort name', ports({ port: 80, targetPort: 'a-very-long-port-name' }), 'port 80: targetPort "a-very-long-port-name" is not a port name'],
    ['targetPort object', ports({ port: 80, targetPort: { a: 1 } }), 'port 80: targetPort an object is not a number or a port name'],
    ['quoted port', ports({ port: '80' }), 'spec.ports[0]: port "80" is not an integer'],
    ['missing port', ports({ name: 'http' }), 'spec.ports[0]: port is missing'],
    ['fractional port', ports({ port: 80.5 }), 'spec.ports[0]: port 80.5 is not an integer'],
    ['port 0', ports({ port: 0 }), 'spec.ports[0]: port 0 is out of range 1-65535'],
    ['port entry not an object', ports('80'), 'spec.ports[0] is not an object (got "80")'],
    ['unnamed multi-port', ports({ name: 'a', port: 80 }, { port: 81 }), 'port 81: name is missing: a Service with several ports must name each one'],
    ['duplicate names', ports({ name: 'a', port: 80 }, { name: 'a', port: 81 }), 'port 81: name "a" is used by another port'],
    ['duplicate port', ports({ name: 'a', port: 80 }, { name: 'b', port: 80 }), 'port 80: port 80/TCP is declared twice'],
    ['bad port name', ports({ name: 'HTTP', port: 80 }), 'port 80: name "HTTP" is not a DNS label'],
    ['lower-case protocol', ports({ port: 80, protocol: 'tcp' }), 'port 80: protocol "tcp" is not one of TCP, UDP, SCTP'],
    ['appProtocol number', ports({ port: 80, appProtocol: 2 }), 'port 80: appProtocol is not a string (got 2)'],
    ['nodePort on ClusterIP', ports({ port: 80, nodePort: 30080 }), 'port 80: nodePort may only be set on NodePort and LoadBalancer Services, not ClusterIP'],
    ['nodePort range', { metadata: meta('web'), spec: { type: 'NodePort', ports: [{ port: 80, nodePort: 70000 }] } }, 'port 80: nodePort 70000 is out of range 1-65535'],
    ['ports object', { metadata: meta('web'), spec: { ports: { port: 80 } } }, 'spec.ports is not a list (got an object)'],
    ['no ports', { metadata: meta('web'), spec: {} }, 'spec.ports is missing: only headless and ExternalName Services may have no ports'],
    ['no spec', { metadata: meta('web') }, 'spec.ports is missing: only headless and ExternalName Services may have no ports'],
    ['spec a list', { metadata: meta('web'), spec: [] }, 'spec is not an object (got a list)'],
    ['timeout 0', spec({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 0 } } }), 'spec.sessionAffinityConfig.clientIP.timeoutSeconds 0 is out of range 1-86400'],
    ['timeout 86401', spec({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 86401 } } }), 'spec.sessionAffinityConfig.clientIP.timeoutSeconds 86401 is out of range 1-86400'],
    ['quoted timeout', spec({ sessionAffinityConfig: { clientIP: { timeoutSeconds: '60' } } }), 'spec.sessionAffinityConfig.clientIP.timeoutSeconds "60" is not an integer'],
    ['affinity value', spec({ sessionAffinity: 'Cookie' }), 'spec.sessionAffinity "Cookie" is not one of None, ClientIP'],
    ['type', spec({ type: 'Internal' }), 'spec.type "Internal" is not one of ClusterIP, NodePort, LoadBalancer, ExternalName'],
    ['selector values', spec({ selector: { app: true } }), 'spec.selector["app"] is not a string (got true; quote it)'],
    ['clusterIP', spec({ clusterIP: '10.0.0.256' }), 'spec.clusterIP "10.0.0.256" is not an IP address or "None"'],
    ['clusterIPs string', spec({ clusterIPs: '10.0.0.1' }), 'spec.clusterIPs is not a list (got "10.0.0.1")'],
    ['clusterIPs mismatch', spec({ clusterIP: '10.0.0.1', clusterIPs: ['10.0.0.2'] }), 'spec.clusterIP "10.0.0.1" differs from spec.clusterIPs[0] "10.0.0.2"'],
    ['clusterIPs same family', spec({ clusterIPs: ['10.0.0.1', '10.0.0.2'] }), 'spec.clusterIPs: the two entries must be of different IP families'],
    ['clusterIPs None and IP', spec({ clusterIPs: ['None', 'fd00::1'] }), 'spec.clusterIPs: "None" must be the only entry'],
    ['headless NodePort', spec({ type: 'NodePort', clusterIP: 'None' }), 'spec.clusterIP "None" (headless) is not allowed for a NodePort Service'],
    ['null in a list', spec({ clusterIPs: [null] }), 'spec.clusterIPs[0] is not a string (got null)'],
    ['null port entry', ports(null), 'spec.ports[0] is not an object (got null)'],
    ['externalName missing', { metadata: meta('web'), spec: { type: 'ExternalName' } }, 'spec.externalName is missing'],
    ['externalName bad', { metadata: meta('web'), spec: { type: 'ExternalName', externalName: 'not a name' } }, 'spec.externalName "not a name" is not a DNS name'],
    ['externalIPs', spec({ externalIPs: ['1.2.3'] }), 'spec.externalIPs[0] "1.2.3" is not an IP address'],
    ['ipFamilies', spec({ ipFamilies: ['IPv5'] }), 'spec.ipFamilies[0] "IPv5" is not one of IPv4, IPv6'],
    ['internal policy', spec({ internalTrafficPolicy: 'local' }), 'spec.internalTrafficPolicy "local" is not one of Cluster, Local'],
    ['external policy', spec({ externalTrafficPolicy: 'Global' }), 'spec.externalTrafficPolicy "Global" is not one of Cluster, Local'],
    ['trafficDistribution type', spec({ trafficDistribution: 1 }), 'spec.trafficDistribution is not a string (got 1)'],
    ['publishNotReadyAddresses', spec({ publishNotReadyAddresses: 'true' }), 'spec.publishNotReadyAddresses is not true or false (got "true")'],
    ['ingress ip', { ...spec({}), status: { loadBalancer: { ingress: [{ ip: 'x' }] } } }, 'status.loadBalancer.ingress[0].ip "x" is not an IP address'],
    ['ingress list', { ...spec({}), status: { loadBalancer: { ingress: 'x' } } }, 'status.loadBalancer.ingress is not a list (got "x")'],
    ['annotation', { ...spec({}), metadata: meta('web', { annotations: { 'skein.io/load-balancer': 'fastest' } }) },
      'annotation skein.io/load-balancer: "fastest" is not one of round-robin, random, least-request, ring-hash, maglev'],
  ])('%s', (_name, object, reason) => {
    expect(validateObject('Service', object)).toContainEqual(expect.stringContaining(reason));
  });

  it.each([
    ['headless without ports', { clusterIP: 'None' }],
    ['headless by clusterIPs', { clusterIPs: ['None'] }],
    ['ExternalName without ports', { type: 'ExternalName', externalName: 'db.example.com.' }],
    ['an unknown trafficDistribution', { ports: [{ port: 80 }], trafficDistribution: 'PreferSomewhere' }],
    ['dual-stack clusterIPs', { ports: [{ port: 80 }], clusterIP: '10.0.0.1', clusterIPs: ['10.0.0.1', 'fd00::1'] }],
    ['the same port on two protocols', { ports: [{ name: 'a', port: 53 }, { name: 'b', port: 53, protocol: 'UDP' }] }],
    ['a ClientIP timeout of 86400', { ports: [{ port: 80 }], sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 86400 } } }],
    ['null fields', { ports: [{ port: 80, name: null, targetPort: null }], selector: null, clusterIP: null }],
  ])('accepts %s', (_name, s) => {
    expect(validateObject('Service', { metadata: meta('web'), spec: s })).toEqual([]);
  });
});

describe('validateObject: EndpointSlice and Endpoints', () => {
  const slice = (s: Record<string, unknown>) => ({ metadata: meta('web-1'), addressType: 'IPv4', ...s });

  it.each([
    ['no addressType', { metadata: meta('s') }, 'addressType is missing'],
    ['bad addressType', slice({ addressType: 'ipv4' }), 'addressType "ipv4" is not one of IPv4, IPv6, FQDN'],
    ['endpoints object', slice({ endpoints: { a: 1 } }), 'endpoints is not a list (got an object)'],
    ['no addresses', slice({ endpoints: [{ addresses: [] }] }), 'endpoints[0].addresses is missing'],
    ['IPv6 in an IPv4 slice', slice({ endpoints: [{ addresses: ['fd00::1'] }] }), 'endpoints[0].addresses[0] "fd00::1" is not an IPv4 address'],
    ['IPv4 in an IPv6 slice', slice({ addressType: 'IPv6', endpoints: [{ addresses: ['10.0.0.1'] }] }), 'endpoints[0].addresses[0] "10.0.0.1" is not an IPv6 address'],
    ['ready a string', slice({ endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: 'yes' } }] }), 'endpoints[0].conditions.ready is not true or false (got "yes")'],
    ['hints list', slice({ endpoints: [{ addresses: ['10.0.0.1'], hints: { forZones: 'a' } }] }), 'endpoints[0].hints.forZones is not a list (got "a")'],
    ['hint name', slice({ endpoints: [{ addresses: ['10.0.0.1'], hints: { forNodes: [{}] } }] }), 'endpoints[0].hints.forNodes[0].name is missing'],
    ['hostname', slice({ endpoints: [{ addresses: ['10.0.0.1'], hostname: 'a.b' }] }), 'endpoints[0].hostname "a.b" is not a DNS label'],
    ['targetRef', slice({ endpoints: [{ addresses: ['10.0.0.1'], targetRef: 'pod' }] }), 'endpoints[0].targetRef is not an object (got "pod")'],
    ['port quoted', slice({ ports: [{ port: '80' }] }), 'ports[0].port "80" is not an integer'],
    ['port name', slice({ ports: [{ name: 'Web', port: 80 }] }), 'ports[0].name "Web" is not a DNS label'],
    ['port names', slice({ ports: [{ name: 'a', port: 80 }, { name: 'a', port: 81 }] }), 'ports[1].name "a" is used by another port'],
  ])('EndpointSlice: %s', (_name, object, reason) => {
    expect(validateObject('EndpointSlice', object)).toContainEqual(expect.stringContaining(reason));
  });

  it('does not check the addresses of FQDN slices', () => {
    expect(validateObject('EndpointSlice', slice({ addressType: 'FQDN', endpoints: [{ addresses: ['db.example.com'] }] }))).toEqual([]);
  });

  it.each([
    ['subsets object', { subsets: {} }, 'subsets is not a list (got an object)'],
    ['ip missing', { subsets: [{ addresses: [{}] }] }, 'subsets[0].addresses[0].ip is missing'],
    ['ip bad', { subsets: [{ notReadyAddresses: [{ ip: '300.0.0.1' }] }] }, 'subsets[0].notReadyAddresses[0].ip "300.0.0.1" is not an IP address'],
    ['port missing', { subsets: [{ ports: [{ name: 'a' }] }] }, 'subsets[0].ports[0].port is missing'],
  ])('Endpoints: %s', (_name, s, reason) => {
    expect(validateObject('Endpoints', { metadata: meta('web'), ...s })).toContainEqual(expect.stringContaining(reason));
  });
});

describe('validateObject: Pod', () => {
  it.each([
    ['podIP', 'status.podIP', '10.0.0', 'status.podIP "10.0.0" is not an IP address'],
    ['podIPs', 'status.podIPs', [{ ip: 'x' }], 'status.podIPs[0].ip "x" is not an IP address'],
    ['conditions', 'status.conditions', { Ready: 'True' }, 'status.conditions is not a list (got an object)'],
    ['containers', 'spec.containers', { web: {} }, 'spec.containers is not a list (got an object)'],
    ['containerPort', 'spec.containers', [{ ports: [{ containerPort: '8080' }] }], 'spec.containers[0].ports[0].containerPort "8080" is not an integer'],
    ['port name', 'spec.containers', [{ ports: [{ name: 'HTTP', containerPort: 80 }] }], 'spec.containers[0].ports[0].name "HTTP" is not a port name'],
    ['init container port', 'spec.initContainers', [{ ports: [{}] }], 'spec.initContainers[0].ports[0].containerPort is missing'],
    ['hostname', 'spec.hostname', 'a.b', 'spec.hostname "a.b" is not a DNS label'],
    ['phase', 'status.phase', 1, 'status.phase is not a string (got 1)'],
  ])('%s', (_name, path, value, reason) => {
    expect(validateObject('Pod', withField('Pod', path, value))).toContainEqual(expect.stringContaining(reason));
  });

  it('accepts a Pod without status (not scheduled yet)', () => {
    expect(validateObject('Pod', withField('Pod', 'status', undefined))).toEqual([]);
  });
});

describe('validateObject on garbage', () => {
  // A deterministic generator of random JSON-ish values, including the types YAML can make.
  function garbage(seed: number): () => unknown {
    let s = seed;
    const next = (): number => ((s = (s * 1103515245 + 12345) % 2 ** 31), s / 2 ** 31);
    const value = (depth: number): unknown => {
      const pick = Math.floor(next() * 12);
      switch (pick) {
        case 0: return null;
        case 1: return undefined;
        case 2: return Math.floor(next() * 70000) - 1;
        case 3: return next() > 0.5 ? 'None' : '10.0.0.1';
        case 4: return next() > 0.5;
        case 5: return NaN;
        case 6: return new Date(0);
        case 7: return depth > 3 ? [] : [value(depth + 1), value(depth + 1)];
        case 8: return depth > 3 ? {} : { name: value(depth + 1), port: value(depth + 1), ip: value(depth + 1) };
        case 9: return 'http';
        case 10: return 10n;
        default: return { a: 1 };
      }
    };
    return () => value(0);
  }

  it.each(KUBE_KINDS)('never throws for a %s with random fields', (kind) => {
    const random = garbage(KUBE_KINDS.indexOf(kind) + 1);
    const paths = collectPaths(valid[kind]);
    for (let i = 0; i < 400; i++) {
      const object = structuredClone(valid[kind]);
      for (const path of paths) if (random() === null) setPath(object, path, random());
      expect(() => validateObject(kind, object)).not.toThrow();
      expect(Array.isArray(validateObject(kind, object))).toBe(true);
    }
  });
});

function collectPaths(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value !== 'object' || value === null || value instanceof Date) return [prefix];
  const here = prefix.length > 0 ? [prefix] : [];
  return [...here, ...Object.entries(value).flatMap(([key, item]) => collectPaths(item, [...prefix, key]))];
}

function setPath(object: unknown, path: string[], value: unknown): void {
  let at = object as Record<string, unknown>;
  for (const part of path.slice(0, -1)) {
    if (typeof at[part] !== 'object' || at[part] === null) return;
    at = at[part] as Record<string, unknown>;
  }
  at[path.at(-1)!] = value;
}
