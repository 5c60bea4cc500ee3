// The data plane's test world: a MeshConfigView the test changes, and a few Services (web with
// two ports, h2c cart, headless db, ExternalName ext, Local-policy local, empty) with endpoints.
import { pb, type EndpointGroup, type EndpointGroupInit, type Endpoint, type Service, type ServiceInit } from '@skein/protocol';
import type { PickResult } from './dataplane.js';
import type { ConfigChange, MeshConfigView } from './discovery/mesh-config.js';
import type { DataplaneOptions } from './dataplane-core.js';

/** A MeshConfigView over protocol messages, changed by the test. */
export class FakeConfig implements MeshConfigView {
  ready = true;
  readonly wanted: string[] = [];
  private serviceMap = new Map<string, Service>();
  private readonly groups = new Map<string, EndpointGroup>();
  private readonly answeredNames = new Set<string>();
  readonly listeners = new Set<(change: ConfigChange) => void>();

  services(): ReadonlyMap<string, Service> {
    return this.serviceMap;
  }

  endpointGroup(name: string): EndpointGroup | undefined {
    return this.groups.get(name);
  }

  onChange(listener: (change: ConfigChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  want(name: string): void {
    this.wanted.push(name);
  }

  answered(name: string): boolean {
    return this.answeredNames.has(name) || this.serviceMap.has(name);
  }

  /** Applies Services and EndpointGroups (null removes) and notifies once, like MeshConfig. */
  apply(services: Array<ServiceInit | string>, groups: Array<EndpointGroupInit | string> = []): void {
    const changed = { services: new Set<string>(), endpointGroups: new Set<string>() };
    if (services.length > 0) this.serviceMap = new Map(this.serviceMap);
    for (const s of services) {
      if (typeof s === 'string') this.serviceMap.delete(s);
      else this.serviceMap.set(s.name!, pb.Service.create(s));
      changed.services.add(typeof s === 'string' ? s : s.name!);
    }
    for (const g of groups) {
      if (typeof g === 'string') this.groups.delete(g);
      else this.groups.set(g.name!, pb.EndpointGroup.create(g));
      changed.endpointGroups.add(typeof g === 'string' ? g : g.name!);
    }
    for (const listener of [...this.listeners]) listener(changed);
  }

  answer(name: string): void {
    this.answeredNames.add(name);
    for (const listener of [...this.listeners]) listener({ services: new Set(), endpointGroups: new Set() });
  }
}

export function service(key: string, init: Omit<ServiceInit, 'name' | 'namespace'>): ServiceInit {
  return { name: key, namespace: key.split('/')[0], ...init };
}

export function group(key: string, endpoints: Endpoint[]): EndpointGroupInit {
  const [namespace, name] = key.split('/');
  return { name: key, namespace, service: name, endpoints };
}

export const ready = (address: string, ports: Endpoint['ports'], init: Endpoint = {}): Endpoint => ({ address, ports, ready: true, serving: true, ...init });
export const webPorts = (http = 8080): Endpoint['ports'] => [{ name: 'http', port: http }, { name: 'grpc-api', port: 9000 }];

export function world(): FakeConfig {
  const config = new FakeConfig();
  config.apply([
    service('demo/web', {
      clusterIps: ['10.96.0.10', 'fd00::a'],
      ports: [{ name: 'http', port: 80, targetPortNumber: 8080 }, { name: 'grpc-api', port: 9090, targetPortName: 'grpc' }],
    }),
    service('shop/cart', { clusterIps: ['10.96.0.20'], ports: [{ port: 80, targetPortNumber: 8081, appProtocol: 'kubernetes.io/h2c' }] }),
    service('shop/db', { headless: true, ports: [{ name: 'tcp-pg', port: 5432, targetPortNumber: 5432 }] }),
    service('demo/ext', { type: pb.ServiceType.SERVICE_TYPE_EXTERNAL_NAME, externalName: 'api.example.com.' }),
    service('demo/local', {
      clusterIps: ['10.96.0.30'], internalTrafficPolicy: pb.TrafficPolicy.TRAFFIC_POLICY_LOCAL,
      ports: [{ name: 'http', port: 80, targetPortNumber: 8080 }],
    }),
    service('demo/empty', { clusterIps: ['10.96.0.40'], ports: [{ name: 'http', port: 80, targetPortNumber: 8080 }] }),
  ], [
    group('demo/web', [ready('10.1.0.1', webPorts()), ready('10.1.0.2', webPorts()), ready('10.1.0.3', webPorts(8088))]),
    group('shop/cart', [ready('10.2.0.1', [{ port: 8081 }])]),
    group('shop/db', [
      ready('10.3.0.1', [{ name: 'tcp-pg', port: 5432 }], { hostname: 'db-0.db.shop.svc.cluster.local' }),
      ready('10.3.0.2', [{ name: 'tcp-pg', port: 5433 }], { hostname: 'db-1.db.shop.svc.cluster.local' }),
    ]),
    group('demo/local', [ready('10.4.0.1', [{ name: 'http', port: 8080 }], { nodeName: 'n1' }), ready('10.4.0.2', [{ name: 'http', port: 8080 }], { nodeName: 'n2' })]),
    group('demo/empty', []),
  ]);
  return config;
}

export const base: DataplaneOptions = { namespace: 'demo', random: () => 0, nodeName: 'n1' };

export const keyOf = (result: PickResult): string => (result.type === 'pick' ? result.target.key : result.error.code);
