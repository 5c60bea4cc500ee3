import { describe, expect, it } from 'vitest';
import { formatConfigDump, type ConfigDumpJson } from './config-dump.js';

const port = { name: 'http', port: 8080, protocol: 'PROTOCOL_TCP', appProtocol: '' };
const endpoint = (address: string, over: Record<string, unknown> = {}) => ({
  ports: [port], hintsForZones: [], hintsForNodes: [], address, ready: true, serving: true, terminating: false,
  nodeName: 'node-a', zone: 'zone-a', region: 'region-1', hostname: '', pod: `demo/${address}`, weight: 1, ...over,
});
const service = (name: string, over: Record<string, unknown> = {}) => ({
  clusterIps: ['10.96.0.10'], ports: [{ name: 'http', port: 80, protocol: 'PROTOCOL_TCP', appProtocol: '', nodePort: 0, targetPortName: 'http' }],
  loadBalancerIngress: [], externalIps: [], name, namespace: 'demo', type: 'SERVICE_TYPE_CLUSTER_IP', headless: false, externalName: '',
  sessionAffinity: 'SESSION_AFFINITY_NONE', sessionAffinityTimeoutSeconds: 0, hasSelector: true,
  policy: { loadBalancer: 'LOAD_BALANCER_ROUND_ROBIN', hashKey: { sourceIp: true }, localityFailover: true },
  ...over,
});

/** As a sidecar answers /config_dump (captured from a running one, trimmed). */
const raw = {
  identity: { id: 'client-1.demo', podName: 'client-1', namespace: 'demo', podIp: '10.1.0.5', nodeName: 'node-a', zone: 'zone-a', region: '', adminAddress: '10.1.0.5:15000' },
  discovery: {
    type: 'grpc', address: 'skein-control-plane.skein-system:15010', connected: true, controlPlane: 'cp-0', lastError: null, reconnects: 2,
    acked: { 'skein.v1.Service': '7223ef37e1ab6ca4', 'skein.v1.EndpointGroup': '7a9fac50b9245709' }, lastNack: null,
  },
  config: {
    ready: true,
    services: [
      { name: 'demo/db', version: 'aa11bb22cc33dd44', resource: service('demo/db', { headless: true, clusterIps: [], ports: [{ port: 5432, protocol: 'PROTOCOL_TCP', targetPortNumber: 5432 }] }) },
      { name: 'demo/ext', version: 'ee55ff66aa77bb88', resource: service('demo/ext', { type: 'SERVICE_TYPE_EXTERNAL_NAME', externalName: 'example.com', clusterIps: [], ports: [] }) },
      { name: 'demo/web', version: '63c95535ccf4e82b', resource: service('demo/web', { policy: { loadBalancer: 'LOAD_BALANCER_RING_HASH' } }) },
    ],
    endpointGroups: [
      {
        name: 'demo/web', version: '4171115e50effbdb',
        resource: { name: 'demo/web', namespace: 'demo', service: 'web', endpoints: [
          endpoint('10.1.0.11'),
          endpoint('10.1.0.12', { ready: false, serving: false, pod: 'demo/web-a2' }),
          endpoint('10.1.0.13', { ready: false, serving: true, terminating: true, nodeName: 'node-b', zone: 'zone-b', weight: 3 }),
        ] },
      },
    ],
    versions: {},
    lastNack: {
      typeUrl: 'skein.v1.EndpointGroup', message: 'rejected 1 of 2 skein.v1.EndpointGroup resources (previous versions stay in force): demo/api: endpoint 0: bad address',
      resources: [{ name: 'demo/api', message: 'endpoint 0: bad address "10.1.0.300"' }], at: Date.UTC(2026, 0, 2, 3, 4, 5),
    },
    wanted: [],
  },
};
const dump: ConfigDumpJson = raw;

describe('formatConfigDump', () => {
  const text = formatConfigDump(dump);

  it('says who the proxy is and how its discovery stream is', () => {
    expect(text).toMatch(/^PROXY\s+demo\/client-1 \(client-1\.demo\): ip 10\.1\.0\.5, node node-a, zone zone-a, admin 10\.1\.0\.5:15000$/m);
    expect(text).toMatch(/^DISCOVERY\s+grpc skein-control-plane\.skein-system:15010 connected; replica cp-0; 2 reconnects; acked services 7223ef37, endpoints 7a9fac50$/m);
    expect(text).toMatch(/^CONFIG\s+ready; 3 Services, 1 endpoint group$/m);
  });

  it('lists every Service with its ports, balancer, ready endpoints and version', () => {
    expect(text).toMatch(/^SERVICE\s+TYPE\s+CLUSTER-IP\s+PORTS\s+LOAD-BALANCER\s+ENDPOINTS\s+VERSION$/m);
    expect(text).toMatch(/^demo\/web\s+CLUSTER_IP\s+10\.96\.0\.10\s+80->http\/TCP\s+ring-hash\s+1\/3\s+63c95535$/m);
    expect(text).toMatch(/^demo\/db\s+CLUSTER_IP\s+None\s+5432\/TCP\s+round-robin\s+-\s+aa11bb22$/m);
    expect(text).toMatch(/^demo\/ext\s+EXTERNAL_NAME\s+example\.com\s+-\s+round-robin\s+-\s+ee55ff66$/m);
  });

  it('lists every endpoint with its state as kube-proxy reads it', () => {
    expect(text).toMatch(/^demo\/web\s+10\.1\.0\.11\s+http=8080\s+ready\s+node-a\s+zone-a\s+demo\/10\.1\.0\.11\s+4171115e$/m);
    expect(text).toMatch(/^demo\/web\s+10\.1\.0\.12\s+http=8080\s+not ready\s+node-a\s+zone-a\s+demo\/web-a2\s+4171115e$/m);
    expect(text).toMatch(/^demo\/web\s+10\.1\.0\.13\s+http=8080\s+terminating, serving \(weight 3\)\s+node-b\s+zone-b/m);
  });

  it('shows the last NACK with every rejected resource', () => {
    expect(text).toMatch(/^LAST NACK\s+skein\.v1\.EndpointGroup at 2026-01-02T03:04:05\.000Z: rejected 1 of 2/m);
    expect(text).toMatch(/^\s+demo\/api: endpoint 0: bad address "10\.1\.0\.300"$/m);
  });

  it('prints a partial or older dump without failing', () => {
    const partial = formatConfigDump({ discovery: { type: 'cache-only' }, config: { ready: false } });
    expect(partial).toMatch(/^PROXY\s+-$/m);
    expect(partial).toMatch(/^DISCOVERY\s+none: serving the cache file only$/m);
    expect(partial).toMatch(/^CONFIG\s+not ready; 0 Services, 0 endpoint groups$/m);
    expect(partial).toMatch(/^LAST NACK\s+none$/m);
    expect(partial).toContain('No Services held.');
    expect(formatConfigDump({})).toContain('No Services held.');
  });

  it('shows why a disconnected stream ended', () => {
    const down = formatConfigDump({ discovery: { type: 'grpc', address: 'cp:15010', connected: false, lastError: 'UNAVAILABLE: No connection established' } });
    expect(down).toMatch(/^DISCOVERY\s+grpc cp:15010 disconnected; last error: UNAVAILABLE: No connection established$/m);
  });
});
