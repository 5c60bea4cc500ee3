import { describe, expect, it } from 'vitest';
import { explainSearch, formatExplain } from './explain.js';

const selection = (over: Record<string, unknown> = {}) => ({
  localityFailover: true, totalPanic: false, ejected: ['10.1.0.12:8080'],
  priorities: [
    { priority: 0, tier: 'zone', load: 100, healthy: 1, total: 2, panic: false, endpoints: ['10.1.0.11:8080', '10.1.0.12:8080'] },
    { priority: 1, tier: 'rest', load: 0, healthy: 1, total: 1, panic: false, endpoints: ['10.1.0.13:8080'] },
  ],
  ...over,
});

/** As a sidecar answers /explain?url=http://api.demo/&header=x-user:bob (captured, trimmed). */
const hashed = {
  request: { host: 'api.demo', port: 80 },
  namespace: 'demo',
  match: { type: 'service-name', service: 'demo/api', serviceKind: 'cluster-ip', fqdn: 'api.demo.svc.cluster.local' },
  destination: { type: 'service', service: 'demo/api', servicePort: 80, portName: 'http', appProtocol: 'http', endpoints: 2 },
  servicePort: {
    port: 80, name: 'http', targetPort: 'http', appProtocol: 'http',
    picker: { type: 'ring-hash', size: 2, hashKey: { type: 'header', name: 'x-user' } },
    rule: 'all ready', hints: 'not used: no hints', selection: selection(),
    endpoints: [
      { address: '10.1.0.11', port: 8080, eligible: true, reason: 'ready' },
      { address: '10.1.0.12', port: 8080, eligible: true, reason: 'ready' },
      { address: '10.1.0.14', port: 8080, eligible: false, reason: 'not ready' },
    ],
  },
  decision: { client: '10.1.0.5', hashKey: { source: 'header:x-user', value: 'bob', hash: 3162585025 }, endpoint: '10.1.0.11:8080', by: 'hash' },
};

describe('formatExplain', () => {
  const text = formatExplain(hashed);

  it('says how the host matched and where it goes', () => {
    expect(text).toMatch(/^REQUEST\s+api\.demo:80 from namespace demo$/m);
    expect(text).toMatch(/^MATCH\s+service-name: demo\/api \(cluster-ip service, name api\.demo\.svc\.cluster\.local\)$/m);
    expect(text).toMatch(/^DESTINATION\s+service demo\/api port 80 \(http\), appProtocol http, 2 endpoints to pick from$/m);
  });

  it('shows the eligibility rule, picker, locality tiers and ejected endpoints', () => {
    expect(text).toMatch(/^SERVICE PORT\s+80 \(http\) -> target port http, appProtocol http$/m);
    expect(text).toMatch(/^ELIGIBILITY\s+all ready \(topology hints: not used: no hints\)$/m);
    expect(text).toMatch(/^PICKER\s+ring-hash over 2 endpoints, hashKey type=header name=x-user$/m);
    expect(text).toMatch(/^LOCALITY\s+failover on/m);
    expect(text).toMatch(/^PRIORITIES\s+PRIORITY\s+TIER\s+LOAD\s+HEALTHY\s+PANIC\s+ENDPOINTS$/m);
    expect(text).toMatch(/^\s+0\s+zone\s+100%\s+1\/2\s+no\s+10\.1\.0\.11:8080, 10\.1\.0\.12:8080$/m);
    expect(text).toMatch(/^\s+1\s+rest\s+0%\s+1\/1\s+no\s+10\.1\.0\.13:8080$/m);
    expect(text).toMatch(/^EJECTED\s+10\.1\.0\.12:8080$/m);
    expect(text).toMatch(/^10\.1\.0\.14:8080\s+no\s+not ready$/m);
  });

  it('prints the decision, endpoint first', () => {
    expect(text).toMatch(/^DECISION\n {2}endpoint\s+10\.1\.0\.11:8080\n {2}by\s+hash\n {2}client\s+10\.1\.0\.5\n {2}hashKey\s+source=header:x-user value=bob hash=3162585025$/m);
  });

  it('renders decision fields it does not know, and no decision when there is none', () => {
    const sticky = formatExplain({ ...hashed, decision: { client: '10.0.0.9', affinity: { hit: true, endpoint: '10.1.0.12:8080' }, endpoint: '10.1.0.12:8080', by: 'affinity', retry: { attempt: 2 } } });
    expect(sticky).toMatch(/^ {2}affinity\s+hit=true endpoint=10\.1\.0\.12:8080$/m);
    expect(sticky).toMatch(/^ {2}retry\s+attempt=2$/m);
    const open = formatExplain({ ...hashed, decision: { client: null, endpoint: null, by: 'round-robin chooses per request' } });
    expect(open).toMatch(/^ {2}endpoint\s+not fixed in advance$/m);
    expect(open).toMatch(/^ {2}client\s+-$/m);
    const { decision: _, ...without } = hashed;
    expect(formatExplain(without)).not.toContain('DECISION');
  });

  it('prints unknown top-level and port fields generically', () => {
    const newer = formatExplain({ ...hashed, route: { name: 'canary', weight: 10 }, servicePort: { ...hashed.servicePort, retryBudget: { percent: 20 } } });
    expect(newer).toMatch(/^ROUTE\s+name=canary weight=10$/m);
    expect(newer).toMatch(/^RETRY BUDGET\s+percent=20$/m);
  });

  it('shows ClientIP affinity and a panicking selection', () => {
    const text = formatExplain({ ...hashed, servicePort: { ...hashed.servicePort, sessionAffinity: { type: 'ClientIP', timeoutSeconds: 10800, clients: 3 }, selection: selection({ totalPanic: true, ejected: [] }) } });
    expect(text).toMatch(/^AFFINITY\s+type=ClientIP timeoutSeconds=10800 clients=3$/m);
    expect(text).toMatch(/^LOCALITY\s+failover on .*; PANIC/m);
    expect(text).toMatch(/^EJECTED\s+none$/m);
  });

  it('explains a rejected and a passed-through request', () => {
    const unknown = formatExplain({
      request: { host: 'nope.demo', port: 80 }, namespace: 'demo', match: { type: 'unknown-mesh-name', resource: 'demo/nope', answered: true },
      destination: { type: 'reject', error: { code: 'SKEIN_ERR_UNKNOWN_SERVICE', message: 'skein: host "nope.demo" does not name a known Service', status: 503 } },
    });
    expect(unknown).toMatch(/^MATCH\s+unknown-mesh-name: demo\/nope: no such Service$/m);
    expect(unknown).toMatch(/^DESTINATION\s+reject: SKEIN_ERR_UNKNOWN_SERVICE: skein: host "nope\.demo" does not name a known Service \(HTTP 503\)$/m);
    const outside = formatExplain({
      request: { host: 'example.com', port: 443 }, namespace: 'demo', match: { type: 'outside-mesh' },
      destination: { type: 'direct', host: 'example.com', port: 443, reason: 'passthrough' },
    });
    expect(outside).toMatch(/^DESTINATION\s+direct to example\.com:443 \(passthrough\)$/m);
  });

  it('shows a port without eligible endpoints', () => {
    const text = formatExplain({ ...hashed, servicePort: { port: 80, name: 'http', targetPort: 8080, appProtocol: 'http', picker: { type: 'fail', size: 0 }, error: 'no ready endpoint', endpoints: [] } });
    expect(text).toMatch(/^ELIGIBILITY\s+none: no ready endpoint$/m);
    expect(text).toMatch(/^PICKER\s+fail over 0 endpoints$/m);
  });
});

describe('explainSearch', () => {
  it('passes the URL, each header and the client as query parameters', () => {
    const search = explainSearch({ url: 'http://web.demo/a?b=1', headers: ['x-user:bob', 'cookie:s=1; t=2'], client: '10.0.0.9' });
    const params = new URLSearchParams(search);
    expect(params.get('url')).toBe('http://web.demo/a?b=1');
    expect(params.getAll('header')).toEqual(['x-user:bob', 'cookie:s=1; t=2']);
    expect(params.get('client')).toBe('10.0.0.9');
    expect(new URLSearchParams(explainSearch({ url: 'web.demo', headers: [], client: undefined })).has('client')).toBe(false);
  });
});
