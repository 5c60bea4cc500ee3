import { describe, expect, it } from 'vitest';
import { pb, type EndpointGroup, type Service, type ServiceInit } from '@skein/protocol';
import { RouteIndex, type RouteEntry } from './route-index.js';

function service(key: string, init: Omit<ServiceInit, 'name' | 'namespace'> = {}): Service {
  return pb.Service.create({ name: key, namespace: key.split('/')[0], ports: [{ name: 'http', port: 80, targetPortNumber: 8080 }], ...init });
}

const services = new Map<string, Service>([
  ['demo/web', service('demo/web', { clusterIps: ['10.96.0.10', 'fd00::a'] })],
  ['shop/cart', service('shop/cart', { clusterIps: ['10.96.0.20'] })],
  ['shop/db', service('shop/db', { headless: true })],
  ['demo/ext', service('demo/ext', { type: pb.ServiceType.SERVICE_TYPE_EXTERNAL_NAME, externalName: 'api.example.com' })],
  // A Service named like a namespace, to check search-path precedence.
  ['svc/cart', service('svc/cart', { clusterIps: ['10.96.0.30'] })],
]);
const groups = new Map<string, EndpointGroup>([
  ['shop/db', pb.EndpointGroup.create({
    name: 'shop/db', namespace: 'shop', service: 'db', endpoints: [
      { address: '10.1.0.1', hostname: 'db-0.db.shop.svc.cluster.local', ready: true },
      { address: '10.1.0.2', hostname: 'db-1', ready: true },
      { address: 'fd00:1::1', hostname: 'db-1', ready: true },
      { address: '10.1.0.3', hostname: 'db-2', ready: false },
    ],
  })],
]);

const indexFor = (namespace: string, clusterDomain = 'cluster.local') =>
  RouteIndex.build(services, (name) => groups.get(name), { namespace, clusterDomain });

const describeEntry = (entry: RouteEntry | undefined) =>
  entry && { type: entry.type, service: entry.route.key, via: entry.via, ...(entry.type === 'endpoint' ? { address: entry.endpoint.address } : {}) };

describe('RouteIndex', () => {
  it.each<[string, string, string | undefined]>([
    // [client namespace, host, Service it names]
    ['demo', 'web', 'demo/web'],
    ['demo', 'web.demo', 'demo/web'],
    ['demo', 'web.demo.svc', 'demo/web'],
    ['demo', 'web.demo.svc.cluster.local', 'demo/web'],
    ['demo', 'WEB.Demo.SVC.cluster.local.', 'demo/web'],
    ['demo', 'cart', undefined],
    ['demo', 'cart.shop', 'shop/cart'],
    ['demo', 'cart.shop.svc', 'shop/cart'],
    ['demo', 'cart.shop.svc.cluster.local', 'shop/cart'],
    ['shop', 'cart', 'shop/cart'],
    ['shop', 'web', undefined],
    ['shop', 'web.demo', 'demo/web'],
    ['shop', 'web.demo.svc.cluster.local', 'demo/web'],
    // Search order: "cart.svc" is Service cart in namespace svc (second search domain).
    ['demo', 'cart.svc', 'svc/cart'],
    ['demo', 'ext', 'demo/ext'],
    ['shop', 'db', 'shop/db'],
    ['demo', 'web.demo.svc.other.domain', undefined],
  ])('from %s, %s names %s', (namespace, host, expected) => {
    const entry = indexFor(namespace).lookup(host);
    expect(entry?.route.key).toBe(expected);
    if (entry) expect(entry.type).toBe('service');
  });

  it.each([
    ['10.96.0.10', 'demo/web'],
    ['fd00::a', 'demo/web'],
    ['[fd00::a]', 'demo/web'],
    ['[FD00:0:0::A]', 'demo/web'],
    ['10.96.0.20', 'shop/cart'],
  ])('ClusterIP %s names %s', (ip, key) => {
    expect(describeEntry(indexFor('demo').lookup(ip))).toEqual({ type: 'service', service: key, via: 'cluster-ip' });
  });

  it.each<[string, string, string | undefined]>([
    ['demo', 'db-0.db.shop.svc.cluster.local', '10.1.0.1'],
    ['demo', 'db-0.db.shop.svc', '10.1.0.1'],
    ['demo', 'db-0.db.shop', '10.1.0.1'],
    ['shop', 'db-0.db', '10.1.0.1'],
    ['demo', 'db-0.db', undefined],
    // A dual-stack Pod's name gives its IPv4 address.
    ['shop', 'db-1.db', '10.1.0.2'],
    // Not-ready endpoints have no DNS name.
    ['shop', 'db-2.db', undefined],
  ])('from %s, headless endpoint name %s -> %s', (namespace, host, address) => {
    const entry = indexFor(namespace).lookup(host);
    expect(entry && describeEntry(entry)).toEqual(address && { type: 'endpoint', service: 'shop/db', via: 'name', address });
  });

  it('uses its own cluster domain for endpoint names, whatever domain the control plane wrote', () => {
    const index = indexFor('demo', 'corp.internal');
    expect(index.lookup('db-0.db.shop.svc.corp.internal')?.type).toBe('endpoint');
    expect(index.lookup('db-0.db.shop.svc.cluster.local')).toBeUndefined();
  });

  it('maps ready headless endpoint addresses to their Service', () => {
    const index = indexFor('demo');
    expect(describeEntry(index.lookup('fd00:1::1'))).toEqual({ type: 'endpoint', service: 'shop/db', via: 'address', address: 'fd00:1::1' });
    expect(index.lookup('10.1.0.3')).toBeUndefined();
  });

  it('returns the same entry object for every lookup of a name (no allocation)', () => {
    const index = indexFor('demo');
    expect(index.lookup('web')).toBe(index.lookup('web.demo.svc.cluster.local'));
    expect(index.lookup('10.96.0.10')).toBe(index.lookup('10.96.0.10'));
  });

  it('depends on the EndpointGroups of headless Services only', () => {
    const index = indexFor('demo');
    expect(index.dependsOnGroup('shop/db')).toBe(true);
    expect(index.dependsOnGroup('demo/web')).toBe(false);
  });

  it.each<[string, string | undefined | null]>([
    ['cart', 'demo/cart'],
    ['cart.shop', 'shop/cart'],
    ['x.nowhere', null],
    ['x.nowhere.svc', 'nowhere/x'],
    ['10.0.0.1', null],
    ['example.com', null],
  ])('meshName(%s) -> %s', (host, resource) => {
    const result = indexFor('demo').meshName(host);
    expect(result === undefined ? null : result.resource).toBe(resource);
  });
});
