import { describe, expect, it } from 'vitest';
import {
  encodeEndpointGroup, encodeService, endpointGroupToJson, serviceToJson, TYPE_ENDPOINT_GROUP, TYPE_SERVICE,
  type EndpointGroupInit, type ServiceInit,
} from '@skein/protocol';
import { MeshConfig, type ConfigChange, type WantHandler } from './mesh-config.js';

function service(name: string, port = 80): ServiceInit {
  const [namespace] = name.split('/');
  return { name, namespace, clusterIps: ['10.96.0.10'], ports: [{ name: 'http', port, targetPortNumber: 8080 }] };
}

function group(name: string, addresses: string[]): EndpointGroupInit {
  const [namespace, svc] = name.split('/');
  return { name, namespace, service: svc, endpoints: addresses.map((address) => ({ address, ready: true, ports: [{ name: 'http', port: 8080 }] })) };
}

const svc = (name: string, version: string, port?: number) => ({ name, version, body: encodeService(service(name, port)) });
const eg = (name: string, version: string, addresses: string[]) => ({ name, version, body: encodeEndpointGroup(group(name, addresses)) });
const update = (resources: ReturnType<typeof svc>[], removed: string[] = [], replace = false) => ({ resources, removed, replace });

function recorder(config: MeshConfig): ConfigChange[] {
  const changes: ConfigChange[] = [];
  config.onChange((change) => changes.push(change));
  return changes;
}

const names = (change: ConfigChange | undefined) => ({ services: [...(change?.services ?? [])].sort(), endpointGroups: [...(change?.endpointGroups ?? [])].sort() });

describe('MeshConfig', () => {
  it('applies new resources and notifies once with exactly the changed names', () => {
    const config = new MeshConfig();
    const changes = recorder(config);
    const result = config.apply(TYPE_SERVICE, update([svc('demo/web', 'v1'), svc('demo/api', 'v1')]));
    expect(result).toEqual({ applied: ['demo/web', 'demo/api'], rejected: [] });
    expect(changes).toHaveLength(1);
    expect(names(changes[0])).toEqual({ services: ['demo/api', 'demo/web'], endpointGroups: [] });
    expect(config.services().get('demo/web')?.ports[0]?.port).toBe(80);
    expect(config.versions(TYPE_SERVICE)).toEqual({ 'demo/web': 'v1', 'demo/api': 'v1' });
  });

  it('ignores a resource whose version it already holds, and replaces the services map only on change', () => {
    const config = new MeshConfig();
    config.apply(TYPE_SERVICE, update([svc('demo/web', 'v1')]));
    const before = config.services();
    const changes = recorder(config);
    expect(config.apply(TYPE_SERVICE, update([svc('demo/web', 'v1')])).applied).toEqual([]);
    expect(changes).toHaveLength(0);
    expect(config.services()).toBe(before);
    config.apply(TYPE_SERVICE, update([svc('demo/web', 'v2', 81)]));
    expect(config.services()).not.toBe(before);
    expect(before.get('demo/web')?.ports[0]?.port).toBe(80);
    expect(config.services().get('demo/web')?.ports[0]?.port).toBe(81);
    expect(names(changes[0])).toEqual({ services: ['demo/web'], endpointGroups: [] });
  });

  it('removes names listed as removed, and with replace every held name absent from the set', () => {
    const config = new MeshConfig();
    config.apply(TYPE_ENDPOINT_GROUP, update([eg('demo/a', '1', ['10.0.0.1']), eg('demo/b', '1', ['10.0.0.2']), eg('demo/c', '1', ['10.0.0.3'])]));
    const changes = recorder(config);
    config.apply(TYPE_ENDPOINT_GROUP, update([], ['demo/a', 'demo/unknown']));
    expect(config.endpointGroup('demo/a')).toBeUndefined();
    expect(names(changes[0])).toEqual({ services: [], endpointGroups: ['demo/a'] });
    config.apply(TYPE_ENDPOINT_GROUP, update([eg('demo/c', '2', ['10.0.0.4'])], [], true));
    expect(config.versions(TYPE_ENDPOINT_GROUP)).toEqual({ 'demo/c': '2' });
    expect(names(changes[1])).toEqual({ services: [], endpointGroups: ['demo/b', 'demo/c'] });
  });

  it('rejects an invalid resource with every reason and keeps its previous good version; applies the valid rest', () => {
    const config = new MeshConfig();
    config.apply(TYPE_ENDPOINT_GROUP, update([eg('demo/web', 'v1', ['10.0.0.1'])]));
    const changes = recorder(config);
    const result = config.apply(TYPE_ENDPOINT_GROUP, update([
      eg('demo/web', 'v2', ['not-an-ip', '10.0.0.1', '10.0.0.1']),
      eg('demo/api', 'v1', ['10.0.0.9']),
      { name: 'demo/junk', version: 'v1', body: Uint8Array.from([0xff, 0xff, 0xff]) },
    ]));
    expect(result.applied).toEqual(['demo/api']);
    expect(result.rejected.map((r) => r.name)).toEqual(['demo/web', 'demo/junk']);
    expect(result.rejected[0]!.message).toContain('"not-an-ip": address is not an IP address');
    expect(result.rejected[0]!.message).toContain('duplicate address');
    expect(result.rejected[1]!.message).toContain('cannot decode');
    expect(config.endpointGroup('demo/web')?.endpoints.map((e) => e.address)).toEqual(['10.0.0.1']);
    expect(config.versions(TYPE_ENDPOINT_GROUP)).toEqual({ 'demo/web': 'v1', 'demo/api': 'v1' });
    expect(names(changes[0])).toEqual({ services: [], endpointGroups: ['demo/api'] });
  });

  it('keeps a rejected resource through a replace, and rejects a body whose name differs from the resource', () => {
    const config = new MeshConfig();
    config.apply(TYPE_SERVICE, update([svc('demo/web', 'v1')]));
    const bad = { name: 'demo/web', version: 'v2', body: encodeService(service('demo/other')) };
    const result = config.apply(TYPE_SERVICE, update([bad], [], true));
    expect(result.rejected[0]!.message).toContain('differs from resource name "demo/web"');
    expect(config.versions(TYPE_SERVICE)).toEqual({ 'demo/web': 'v1' });
  });

  it('decodes and validates the JSON form (HTTP API) the same way', () => {
    const config = new MeshConfig();
    const [services, groups] = config.applyAll([
      { typeUrl: TYPE_SERVICE, update: { resources: [{ name: 'demo/web', version: 'a', json: serviceToJson(service('demo/web')) }], removed: [], replace: true } },
      {
        typeUrl: TYPE_ENDPOINT_GROUP, update: {
          resources: [
            { name: 'demo/web', version: 'a', json: endpointGroupToJson(group('demo/web', ['10.0.0.1'])) },
            { name: 'demo/api', version: 'a', json: { ...endpointGroupToJson(group('demo/api', ['x'])) } },
            { name: 'demo/bad', version: 'a', json: { name: 'demo/bad', endpoints: 'nope' } },
          ], removed: [], replace: true,
        },
      },
    ]);
    expect(services!.applied).toEqual(['demo/web']);
    expect(groups!.applied).toEqual(['demo/web']);
    expect(groups!.rejected.map((r) => r.name)).toEqual(['demo/api', 'demo/bad']);
    expect(config.endpointGroup('demo/web')?.endpoints[0]?.address).toBe('10.0.0.1');
  });

  it('rejects every resource of an unknown type', () => {
    const config = new MeshConfig();
    const result = config.apply('skein.v1.Route', update([svc('demo/web', 'v1')]));
    expect(result.rejected).toEqual([{ name: 'demo/web', message: 'unknown resource type "skein.v1.Route"' }]);
  });

  it('notifies several types in one applyAll once', () => {
    const config = new MeshConfig();
    const changes = recorder(config);
    config.applyAll([
      { typeUrl: TYPE_SERVICE, update: update([svc('demo/web', 'v1')]) },
      { typeUrl: TYPE_ENDPOINT_GROUP, update: update([eg('demo/web', 'v1', ['10.0.0.1'])]) },
    ]);
    expect(changes.map(names)).toEqual([{ services: ['demo/web'], endpointGroups: ['demo/web'] }]);
  });

  it('becomes ready once, notifying listeners, and keeps going when a listener throws', () => {
    const config = new MeshConfig();
    config.onChange(() => {
      throw new Error('faulty reader');
    });
    const changes = recorder(config);
    expect(config.ready).toBe(false);
    config.markReady();
    config.markReady();
    expect(config.ready).toBe(true);
    expect(changes).toHaveLength(1);
  });

  it('without an on-demand handler, want() is a no-op and absent names are answered once ready', () => {
    const config = new MeshConfig();
    config.want('demo/web');
    expect(config.answered('demo/web')).toBe(false);
    config.markReady();
    expect(config.answered('demo/web')).toBe(true);
    expect(config.wantedNames()).toEqual([]);
  });

  describe('on demand', () => {
    function onDemand(covers: (name: string) => boolean = () => false): { config: MeshConfig; wanted: string[] } {
      const config = new MeshConfig();
      const wanted: string[] = [];
      const handler: WantHandler = { want: (name) => wanted.push(name), covers };
      config.onWant(handler);
      config.markReady();
      return { config, wanted };
    }

    it('asks once for a name it neither holds nor covers, answered when both types have answered', () => {
      const { config, wanted } = onDemand();
      const changes = recorder(config);
      config.want('other/api');
      config.want('other/api');
      expect(wanted).toEqual(['other/api']);
      expect(config.answered('other/api')).toBe(false);
      config.apply(TYPE_SERVICE, update([svc('other/api', 'v1')]));
      expect(config.answered('other/api')).toBe(false);
      config.apply(TYPE_ENDPOINT_GROUP, update([eg('other/api', 'v1', ['10.0.0.7'])]));
      expect(config.answered('other/api')).toBe(true);
      expect(changes).toHaveLength(2);
      expect(config.wantedNames()).toEqual(['other/api']);
    });

    it('answers a name the server says does not exist, with a change notification and nothing held', () => {
      const { config } = onDemand();
      const changes = recorder(config);
      config.want('other/missing');
      config.apply(TYPE_SERVICE, update([], ['other/missing']));
      config.apply(TYPE_ENDPOINT_GROUP, { resources: [], removed: [], replace: false, answeredNames: ['other/missing'] });
      expect(config.answered('other/missing')).toBe(true);
      expect(config.services().has('other/missing')).toBe(false);
      expect(changes.map(names)).toEqual([{ services: [], endpointGroups: [] }]);
    });

    it('does not ask for names it holds, covers, or that are not resource names', () => {
      const { config, wanted } = onDemand((name) => name.startsWith('demo/'));
      config.apply(TYPE_SERVICE, update([svc('other/held', 'v1')]));
      for (const name of ['other/held', 'demo/web', 'not a name', 'a/b/c']) config.want(name);
      expect(wanted).toEqual([]);
      expect(config.answered('demo/web')).toBe(true);
      expect(config.answered('not a name')).toBe(true);
      expect(config.answered('other/unasked')).toBe(false);
    });
  });

  it('dumps services and endpoint groups in the JSON form with versions, the last NACK and readiness', () => {
    const config = new MeshConfig();
    config.apply(TYPE_SERVICE, update([svc('demo/web', 'v1')]));
    config.apply(TYPE_ENDPOINT_GROUP, update([eg('demo/web', 'v3', ['10.0.0.1'])]));
    config.recordNack({ typeUrl: TYPE_ENDPOINT_GROUP, message: 'bad', resources: [{ name: 'demo/web', message: 'bad address' }], at: 1 });
    config.markReady();
    const dump = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
    expect(dump.ready).toBe(true);
    expect(dump.services).toEqual([{ name: 'demo/web', version: 'v1', resource: serviceToJson(service('demo/web')) }]);
    expect((dump.endpointGroups as Array<{ resource: { endpoints: Array<{ address: string }> } }>)[0]!.resource.endpoints[0]!.address).toBe('10.0.0.1');
    expect(dump.versions).toEqual({ [TYPE_SERVICE]: { 'demo/web': 'v1' }, [TYPE_ENDPOINT_GROUP]: { 'demo/web': 'v3' } });
    expect(dump.lastNack).toEqual({ typeUrl: TYPE_ENDPOINT_GROUP, message: 'bad', resources: [{ name: 'demo/web', message: 'bad address' }], at: 1 });
    expect(config.lastNack?.message).toBe('bad');
  });
});
