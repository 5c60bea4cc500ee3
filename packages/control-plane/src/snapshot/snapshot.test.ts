import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as protocol from '@skein/protocol';
import {
  decodeResourceBody, TYPE_ENDPOINT_GROUP, TYPE_SERVICE, type EndpointGroupInit, type ServiceInit,
} from '@skein/protocol';
import { ClusterState } from '../model/cluster-state.js';
import type { KubeKind, KubeObject } from '../model/kube-objects.js';
import type { MeshModel } from '../model/mesh-model.js';
import { buildMeshModel, DEFAULT_MODEL_OPTIONS, updateMeshModel } from '../model/translate.js';
import { buildSnapshot, type Snapshot } from './snapshot.js';

// Counts the work buildSnapshot does per resource; the calls still go to the real functions.
vi.mock('@skein/protocol', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@skein/protocol')>();
  return { ...actual, encodeResource: vi.fn(actual.encodeResource), validateResource: vi.fn(actual.validateResource) };
});
const encodes = vi.mocked(protocol.encodeResource);
const validations = vi.mocked(protocol.validateResource);

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
    // The two endpoints' equal ports travel once (shared_ports) and come back on each.
    expect(body.ok && body.value.endpoints.map((e) => e.ports!.map((p) => `${p.name}:${p.port}`))).toEqual([['http:8080'], ['http:8080']]);
    expect(protocol.pb.EndpointGroup.decode(web.body).sharedPorts).toHaveLength(1);
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

describe('buildSnapshot on an incremental model', () => {
  beforeEach(() => {
    encodes.mockClear();
    validations.mockClear();
  });

  it('does not validate, encode or hash again a body object it has built', () => {
    const m1 = base();
    const first = buildSnapshot(m1, undefined, 1).snapshot;
    expect(encodes).toHaveBeenCalledTimes(6);
    encodes.mockClear();
    validations.mockClear();

    // What updateMeshModel hands over after one group changed: the other bodies, same objects.
    const groups = new Map(m1.endpointGroups);
    groups.set('default/web', group('default', 'web', '10.1.0.7'));
    const second = buildSnapshot({ services: m1.services, endpointGroups: groups }, first, 2).snapshot;
    expect(encodes.mock.calls.map(([type, name]) => `${type} ${name}`)).toEqual([`${TYPE_ENDPOINT_GROUP} default/web`]);
    expect(validations).toHaveBeenCalledTimes(1);
    expect(second.resources.get(TYPE_SERVICE)).toBe(first.resources.get(TYPE_SERVICE));
    expect(second.resources.get(TYPE_ENDPOINT_GROUP)!.get('default/api')).toBe(first.resources.get(TYPE_ENDPOINT_GROUP)!.get('default/api'));
    expect(second.version).toBe(buildSnapshot(model([...m1.services.values()], [...groups.values()].map((g) => structuredClone(g))), undefined, 3).snapshot.version);
  });

  it('still validates a body that never was valid, on every build, and reports it each time', () => {
    const bad = model([svc('default', 'web'), { ...svc('default', 'db'), ports: [{ port: 0 }] }], [group('default', 'web')]);
    const first = buildSnapshot(bad, undefined, 1);
    const second = buildSnapshot(bad, first.snapshot, 2);
    expect(second.snapshot).toBe(first.snapshot);
    expect(second.problems).toEqual(first.problems);
    expect(validations.mock.calls.filter(([, name]) => name === 'default/db')).toHaveLength(2);
    expect(validations.mock.calls.filter(([, name]) => name === 'default/web')).toHaveLength(2); // Service + group, once
  });

  it('gives the same versions as a from-scratch build, change after change', () => {
    const random = prng(7);
    const state = new ClusterState();
    const apply = (kind: KubeKind, object: Record<string, unknown>): void => {
      expect(state.apply({ type: 'upsert', kind, object: object as KubeObject, origin: 'test' }).problems).toEqual([]);
    };
    for (let i = 0; i < 20; i++) {
      apply('Service', kubeService(i, 80));
      apply('EndpointSlice', kubeSlice(i, 3));
    }
    state.takeChanges();
    let meshModel = buildMeshModel(state, DEFAULT_MODEL_OPTIONS);
    let snapshot: Snapshot = buildSnapshot(meshModel, undefined, 0).snapshot;
    for (let step = 1; step <= 60; step++) {
      const i = Math.floor(random() * 22); // 20 and 21 come and go
      const roll = random();
      if (roll < 0.5) apply('EndpointSlice', kubeSlice(i, 1 + Math.floor(random() * 4)));
      else if (roll < 0.8) apply('Service', kubeService(i, 80 + Math.floor(random() * 3)));
      else state.apply({ type: 'delete', ref: { kind: roll < 0.9 ? 'Service' : 'EndpointSlice', namespace: 'default', name: roll < 0.9 ? `s${i}` : `s${i}-1` }, origin: 'test' });
      encodes.mockClear();
      const changes = state.takeChanges();
      meshModel = updateMeshModel(meshModel, state, changes, DEFAULT_MODEL_OPTIONS);
      const incremental = buildSnapshot(meshModel, snapshot, step);
      expect(encodes.mock.calls.length).toBeLessThanOrEqual(2 * changes.services.size);
      snapshot = incremental.snapshot;

      const full = buildSnapshot(buildMeshModel(state, DEFAULT_MODEL_OPTIONS), undefined, step);
      expect(incremental.problems).toEqual(full.problems);
      expect(snapshot.version).toBe(full.snapshot.version);
      expect([...snapshot.typeVersions]).toEqual([...full.snapshot.typeVersions]);
      for (const [type, byName] of full.snapshot.resources) {
        expect([...snapshot.resources.get(type)!].map(([name, r]) => [name, r.version])).toEqual([...byName].map(([name, r]) => [name, r.version]));
      }
    }
  });
});

function kubeService(i: number, port: number): Record<string, unknown> {
  return { metadata: { name: `s${i}`, namespace: 'default' }, spec: { clusterIP: `10.0.0.${i + 1}`, selector: { app: `s${i}` }, ports: [{ name: 'http', port, targetPort: 8080 }] } };
}

function kubeSlice(i: number, endpoints: number): Record<string, unknown> {
  return {
    metadata: { name: `s${i}-1`, namespace: 'default', labels: { 'kubernetes.io/service-name': `s${i}` } },
    addressType: 'IPv4',
    endpoints: Array.from({ length: endpoints }, (_, e) => ({ addresses: [`10.1.${i}.${e + 1}`], conditions: { ready: true } })),
    ports: [{ name: 'http', port: 8080 }],
  };
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
