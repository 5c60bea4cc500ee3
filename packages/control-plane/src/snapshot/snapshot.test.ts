import { describe, expect, it } from 'vitest';
import {
  decodeResourceBody, TYPE_ENDPOINT_GROUP, TYPE_SERVICE, type EndpointGroupInit, type ServiceInit,
} from '@skein/protocol';
import type { MeshModel } from '../model/mesh-model.js';
import { buildSnapshot } from './snapshot.js';

const svc = (ns: string, name: string, ip = '10.0.0.1'): ServiceInit => ({
  name: `${ns}/${name}`, namespace: ns, clusterIps: [ip], ports: [{ name: 'http', port: 80, targetPortNumber: 8080 }],
});
const group = (ns: string, name: string, ...addresses: string[]): EndpointGroupInit => ({
  name: `${ns}/${name}`, namespace: ns, service: name,
  endpoints: addresses.map((address) => ({ address, ready: true, serving: true, ports: [{ name: 'http', port: 8080 }] })),
});
const model = (services: ServiceInit[], groups: EndpointGroupInit[]): MeshModel => ({
  services: new Map(services.map((s) => [s.name!, s])),
  endpointGroups: new Map(groups.map((g) => [g.name!, g])),
});

const base = (): MeshModel => model(
  [svc('default', 'web'), svc('default', 'api', '10.0.0.2'), svc('shop', 'cart', '10.0.0.3')],
  [group('default', 'web', '10.1.0.1', '10.1.0.2'), group('default', 'api', '10.1.0.3'), group('shop', 'cart')],
);

describe('buildSnapshot', () => {
  it('gives equal versions to equal models built independently, whatever the insertion order', () => {
    const a = buildSnapshot(base(), undefined, 1).snapshot;
    const reversed = base();
    const b = buildSnapshot(
      { services: new Map([...reversed.services].reverse()), endpointGroups: new Map([...reversed.endpointGroups].reverse()) },
      undefined, 2,
    ).snapshot;
    expect(b.version).toBe(a.version);
    expect([...b.typeVersions]).toEqual([...a.typeVersions]);
    expect([...b.resources.get(TYPE_SERVICE)!.keys()]).toEqual(['default/api', 'default/web', 'shop/cart']);

    const changed = base();
    (changed.endpointGroups as Map<string, EndpointGroupInit>).set('shop/cart', group('shop', 'cart', '10.1.0.9'));
    const c = buildSnapshot(changed, undefined, 3).snapshot;
    expect(c.version).not.toBe(a.version);
    expect(c.typeVersions.get(TYPE_SERVICE)).toBe(a.typeVersions.get(TYPE_SERVICE));
    expect(c.typeVersions.get(TYPE_ENDPOINT_GROUP)).not.toBe(a.typeVersions.get(TYPE_ENDPOINT_GROUP));
  });

  it('encodes resources that decode back to the model', () => {
    const { snapshot, problems } = buildSnapshot(base(), undefined, 1);
    expect(problems).toEqual([]);
    const web = snapshot.resources.get(TYPE_ENDPOINT_GROUP)!.get('default/web')!;
    const body = decodeResourceBody(TYPE_ENDPOINT_GROUP, web.body);
    expect(body.ok && body.value.endpoints.map((e) => e.address)).toEqual(['10.1.0.1', '10.1.0.2']);
  });

  it('reuses the previous encoding of every unchanged resource and type', () => {
    const first = buildSnapshot(base(), undefined, 1).snapshot;
    const next = base();
    (next.endpointGroups as Map<string, EndpointGroupInit>).set('default/web', group('default', 'web', '10.1.0.1'));
    const second = buildSnapshot(next, first, 2).snapshot;
    const groups1 = first.resources.get(TYPE_ENDPOINT_GROUP)!;
    const groups2 = second.resources.get(TYPE_ENDPOINT_GROUP)!;
    expect(groups2.get('default/api')).toBe(groups1.get('default/api'));
    expect(groups2.get('default/web')).not.toBe(groups1.get('default/web'));
    expect(second.resources.get(TYPE_SERVICE)).toBe(first.resources.get(TYPE_SERVICE));
    expect(second.createdAt).toBe(2);
  });

  it('returns the previous snapshot itself when nothing changed', () => {
    const first = buildSnapshot(base(), undefined, 1).snapshot;
    expect(buildSnapshot(base(), first, 2).snapshot).toBe(first);
  });

  it('leaves out an invalid resource and keeps its previous good version', () => {
    const first = buildSnapshot(base(), undefined, 1).snapshot;
    const bad = base();
    (bad.services as Map<string, ServiceInit>).set('default/web', svc('default', 'web', '10.0.0.300'));
    const { snapshot, problems } = buildSnapshot(bad, first, 2);
    expect(snapshot.resources.get(TYPE_SERVICE)!.get('default/web')).toBe(first.resources.get(TYPE_SERVICE)!.get('default/web'));
    expect(snapshot.version).toBe(first.version);
    expect(problems).toEqual([{ name: 'default/web', typeUrl: TYPE_SERVICE, reason: expect.stringMatching(/not an IP address.*stays in force/) }]);
  });

  it('does not publish a resource that was never valid', () => {
    const bad = model([svc('default', 'web'), { ...svc('default', 'db'), ports: [{ port: 0 }] }], [group('default', 'web')]);
    const { snapshot, problems } = buildSnapshot(bad, undefined, 1);
    expect([...snapshot.resources.get(TYPE_SERVICE)!.keys()]).toEqual(['default/web']);
    expect(problems.map((p) => [p.name, p.typeUrl])).toEqual([['default/db', TYPE_SERVICE]]);
    expect(problems[0]!.reason).toMatch(/out of range.*not published/);
  });

  it('reports a body whose name differs from its key', () => {
    const m = model([svc('default', 'web')], []);
    (m.services as Map<string, ServiceInit>).set('default/other', svc('default', 'web'));
    const { snapshot, problems } = buildSnapshot(m, undefined, 1);
    expect(snapshot.resources.get(TYPE_SERVICE)!.has('default/other')).toBe(false);
    expect(problems[0]!.reason).toContain('differs from resource name');
  });

  it('drops an EndpointGroup whose Service is not in the snapshot', () => {
    const orphan = model([svc('default', 'web')], [group('default', 'web', '10.1.0.1'), group('default', 'ghost', '10.1.0.2')]);
    const { snapshot, problems } = buildSnapshot(orphan, undefined, 1);
    expect([...snapshot.resources.get(TYPE_ENDPOINT_GROUP)!.keys()]).toEqual(['default/web']);
    expect(problems).toEqual([{ name: 'default/ghost', typeUrl: TYPE_ENDPOINT_GROUP, reason: expect.stringContaining('Service "default/ghost" is not in the snapshot') }]);
  });

  it('drops the EndpointGroup of a Service that was never valid', () => {
    const m = model([{ ...svc('default', 'web'), clusterIps: ['nope'] }], [group('default', 'web', '10.1.0.1')]);
    const { snapshot, problems } = buildSnapshot(m, undefined, 1);
    expect(snapshot.resources.get(TYPE_ENDPOINT_GROUP)!.size).toBe(0);
    expect(problems.map((p) => p.typeUrl)).toEqual([TYPE_SERVICE, TYPE_ENDPOINT_GROUP]);
  });

  it('builds an empty snapshot with a version for every type', () => {
    const { snapshot } = buildSnapshot(model([], []), undefined, 1);
    expect(snapshot.typeVersions.size).toBe(2);
    expect(snapshot.version).toMatch(/^[0-9a-f]{16}$/);
  });
});
