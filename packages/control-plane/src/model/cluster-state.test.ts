import { describe, expect, it } from 'vitest';
import { ClusterState, type ClusterEvent } from './cluster-state.js';
import type { KubeKind, KubeObject, ObjectRef } from './kube-objects.js';

const svc = (name: string, selector?: Record<string, string>, extra: Record<string, unknown> = {}): KubeObject =>
  ({ metadata: { name, namespace: 'default', ...extra }, spec: { selector, ports: [{ name: 'http', port: 80 }] } }) as KubeObject;
const slice = (name: string, service: string | undefined, address = '10.1.0.1'): KubeObject =>
  ({
    metadata: { name, namespace: 'default', labels: service ? { 'kubernetes.io/service-name': service } : {} },
    addressType: 'IPv4', endpoints: [{ addresses: [address] }],
  }) as KubeObject;
const pod = (name: string, labels: Record<string, string>, namespace = 'default'): KubeObject =>
  ({ metadata: { name, namespace, labels }, status: { podIP: '10.1.0.9' } }) as KubeObject;
const node = (name: string, labels: Record<string, string> = {}, extra: Record<string, unknown> = {}): KubeObject =>
  ({ metadata: { name, labels }, ...extra }) as KubeObject;

const up = (kind: KubeKind, object: KubeObject, origin = 'test'): ClusterEvent => ({ type: 'upsert', kind, object, origin });
const del = (ref: ObjectRef): ClusterEvent => ({ type: 'delete', ref, origin: 'test' });
const ref = <K extends KubeKind>(kind: K, name: string, namespace = 'default'): ObjectRef & { kind: K } => ({ kind, namespace, name });

describe('ClusterState.apply', () => {
  it('stores a valid object and bumps the generation', () => {
    const state = new ClusterState();
    expect(state.apply(up('Service', svc('web')))).toEqual({ changed: true, problems: [] });
    expect(state.generation).toBe(1);
    expect(state.get(ref('Service', 'web'))?.metadata?.name).toBe('web');
    expect(state.counts()).toEqual({ Service: 1, EndpointSlice: 0, Endpoints: 0, Node: 0, Pod: 0 });
  });

  it('treats an identical object, or one differing only in resourceVersion/managedFields, as no change', () => {
    const state = new ClusterState();
    state.apply(up('Service', svc('web', undefined, { resourceVersion: '1' })));
    expect(state.apply(up('Service', svc('web', undefined, { resourceVersion: '1' })))).toEqual({ changed: false, problems: [] });
    expect(state.apply(up('Service', svc('web', undefined, { resourceVersion: '2', managedFields: [{ manager: 'x' }] })))).toEqual({ changed: false, problems: [] });
    expect(state.generation).toBe(1);
    expect(state.get(ref('Service', 'web'))?.metadata?.resourceVersion).toBe('2');
    expect(state.apply(up('Service', svc('web', { app: 'web' }))).changed).toBe(true);
    expect(state.generation).toBe(2);
  });

  it('refuses an invalid object with every reason, keeping the last good version', () => {
    const state = new ClusterState();
    state.apply(up('Service', svc('web')));
    const bad = { metadata: { name: 'web', namespace: 'default' }, spec: { ports: [{ port: 80, targetPort: 0 }], sessionAffinity: 'Sticky' } };
    const result = state.apply(up('Service', bad as KubeObject, 'files: web.yaml doc 1'));
    expect(result.changed).toBe(false);
    expect(result.problems).toEqual([
      { origin: 'files: web.yaml doc 1', ref: ref('Service', 'web'), reason: 'port 80: targetPort 0 is out of range 1-65535' },
      { origin: 'files: web.yaml doc 1', ref: ref('Service', 'web'), reason: 'spec.sessionAffinity "Sticky" is not one of None, ClientIP' },
    ]);
    expect(state.generation).toBe(1);
    expect(state.get(ref('Service', 'web'))?.spec?.ports).toEqual([{ name: 'http', port: 80 }]);
  });

  it('reports problems without a ref when the object has no name, and never throws on garbage', () => {
    const state = new ClusterState();
    for (const garbage of [null, 'x', [], { metadata: [] }, { metadata: { name: 5 } }]) {
      const result = state.apply(up('Pod', garbage as unknown as KubeObject));
      expect(result.changed).toBe(false);
      expect(result.problems.length).toBeGreaterThan(0);
      expect(result.problems[0]!.ref).toBeUndefined();
    }
    expect(state.generation).toBe(0);
  });

  it('refuses an object that refers to itself', () => {
    const state = new ClusterState();
    const object = svc('web') as KubeObject & { extra?: unknown };
    object.extra = object;
    expect(state.apply(up('Service', object)).problems).toEqual([
      { origin: 'test', ref: ref('Service', 'web'), reason: expect.stringContaining('refers to itself') },
    ]);
  });

  it('stores a private frozen copy', () => {
    const state = new ClusterState();
    const object = svc('web') as { spec: { ports: Array<{ port: number }> } };
    state.apply(up('Service', object as KubeObject));
    object.spec.ports[0]!.port = 81;
    const stored = state.get(ref('Service', 'web'))!;
    expect(stored.spec?.ports?.[0]?.port).toBe(80);
    expect(Object.isFrozen(stored.spec?.ports?.[0])).toBe(true);
  });

  it('deletes, and ignores deletes of unknown objects', () => {
    const state = new ClusterState();
    state.apply(up('Service', svc('web')));
    state.apply(up('Node', node('n1')));
    expect(state.apply(del(ref('Service', 'nope')))).toEqual({ changed: false, problems: [] });
    expect(state.apply(del(ref('Service', 'web')))).toEqual({ changed: true, problems: [] });
    // Nodes are cluster-scoped: a namespace in the ref is ignored.
    expect(state.apply(del(ref('Node', 'n1', 'default'))).changed).toBe(true);
    expect(state.generation).toBe(4);
    expect(state.list('Service')).toEqual([]);
  });

  it('ignores a namespace on a Node', () => {
    const state = new ClusterState();
    state.apply(up('Node', node('n1', {}, { metadata: { name: 'n1', namespace: 'x' } })));
    expect(state.node('n1')).toBeDefined();
    expect(state.get(ref('Node', 'n1', ''))).toBeDefined();
  });
});

describe('ClusterState indexes', () => {
  it('lists by namespace then name', () => {
    const state = new ClusterState();
    for (const [ns, name] of [['b', 'a'], ['a', 'z'], ['a', 'b']] as const) {
      state.apply(up('Service', { ...svc(name), metadata: { name, namespace: ns } } as KubeObject));
    }
    expect(state.list('Service').map((s) => `${s.metadata!.namespace}/${s.metadata!.name}`)).toEqual(['a/b', 'a/z', 'b/a']);
  });

  it('finds slices by the kubernetes.io/service-name label, following label changes', () => {
    const state = new ClusterState();
    state.apply(up('EndpointSlice', slice('web-b', 'web')));
    state.apply(up('EndpointSlice', slice('web-a', 'web')));
    state.apply(up('EndpointSlice', slice('other', 'api')));
    state.apply(up('EndpointSlice', slice('orphan', undefined)));
    expect(state.endpointSlicesFor('default', 'web').map((s) => s.metadata!.name)).toEqual(['web-a', 'web-b']);
    state.apply(up('EndpointSlice', slice('web-b', 'api')));
    expect(state.endpointSlicesFor('default', 'web').map((s) => s.metadata!.name)).toEqual(['web-a']);
    expect(state.endpointSlicesFor('default', 'api').map((s) => s.metadata!.name)).toEqual(['other', 'web-b']);
    state.apply(del(ref('EndpointSlice', 'web-a')));
    expect(state.endpointSlicesFor('default', 'web')).toEqual([]);
    expect(state.endpointSlicesFor('other-ns', 'api')).toEqual([]);
  });

  it('finds Pods by namespace, Endpoints by name, Nodes by name, and zones', () => {
    const state = new ClusterState();
    state.apply(up('Pod', pod('b', {})));
    state.apply(up('Pod', pod('a', {})));
    state.apply(up('Pod', pod('c', {}, 'other')));
    state.apply(up('Endpoints', { metadata: { name: 'web', namespace: 'default' } }));
    state.apply(up('Node', node('n1', { 'topology.kubernetes.io/zone': 'z1' })));
    state.apply(up('Node', node('n2', { 'topology.kubernetes.io/zone': 'z2' })));
    state.apply(up('Node', node('n3')));
    expect(state.podsIn('default').map((p) => p.metadata!.name)).toEqual(['a', 'b']);
    expect(state.endpoints('default', 'web')).toBeDefined();
    expect(state.node('n1')?.metadata?.labels).toEqual({ 'topology.kubernetes.io/zone': 'z1' });
    expect([...state.zones()].sort()).toEqual(['z1', 'z2']);
    state.apply(del(ref('Node', 'n2', '')));
    expect([...state.zones()]).toEqual(['z1']);
  });
});

describe('ClusterState.takeChanges', () => {
  function fresh(): ClusterState {
    const state = new ClusterState();
    state.apply(up('Service', svc('web', { app: 'web' })));
    state.apply(up('Service', svc('api', { app: 'api' })));
    state.apply(up('Service', svc('manual')));
    state.apply(up('Node', node('n1', { 'topology.kubernetes.io/zone': 'z1' })));
    expect(state.takeChanges().all).toBe(true);
    return state;
  }
  const dirty = (state: ClusterState): string[] => {
    const changes = state.takeChanges();
    return changes.all ? ['*'] : [...changes.services].sort();
  };

  it.each<[string, ClusterEvent[], string[]]>([
    ['a Service change dirties that Service', [up('Service', svc('web', { app: 'web2' }))], ['default/web']],
    ['a Service delete dirties it', [del(ref('Service', 'api'))], ['default/api']],
    ['a slice dirties its Service', [up('EndpointSlice', slice('s', 'web'))], ['default/web']],
    ['a relabelled slice dirties both Services', [up('EndpointSlice', slice('s', 'web')), up('EndpointSlice', slice('s', 'api'))], ['default/api', 'default/web']],
    ['legacy Endpoints dirty the same-named Service', [up('Endpoints', { metadata: { name: 'manual', namespace: 'default' } })], ['default/manual']],
    ['a Pod dirties the Services that select it', [up('Pod', pod('p', { app: 'web' }))], ['default/web']],
    ['a relabelled Pod dirties old and new selectors', [up('Pod', pod('p', { app: 'web' })), up('Pod', pod('p', { app: 'api' }))], ['default/api', 'default/web']],
    ['a Pod in another namespace dirties nothing', [up('Pod', pod('p', { app: 'web' }, 'other'))], []],
    ['a Node heartbeat dirties nothing', [up('Node', node('n1', { 'topology.kubernetes.io/zone': 'z1' }, { status: { t: 1 } }))], []],
    ['a Node zone change dirties everything', [up('Node', node('n1', { 'topology.kubernetes.io/zone': 'z2' }))], ['*']],
    ['a new Node with a region dirties everything', [up('Node', node('n2', { 'topology.kubernetes.io/region': 'r' }))], ['*']],
    ['an invalid object dirties nothing', [up('Service', { metadata: { name: 'web', namespace: 'default' }, spec: { ports: 'x' } } as KubeObject)], []],
  ])('%s', (_name, events, expected) => {
    const state = fresh();
    for (const event of events) state.apply(event);
    expect(dirty(state)).toEqual(expected);
    expect(dirty(state)).toEqual([]);
  });
});
