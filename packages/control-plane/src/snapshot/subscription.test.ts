import { describe, expect, it } from 'vitest';
import { pb, TYPE_SERVICE, type ServiceInit } from '@skein/protocol';
import { buildSnapshot } from './snapshot.js';
import { SubscriberRegistry } from './subscriber-registry.js';
import { SubscriberState } from './subscriber.js';
import { Subscription } from './subscription.js';

const svc = (name: string): ServiceInit => ({ name, namespace: name.split('/')[0], ports: [{ port: 80 }] });
const snapshot = buildSnapshot({
  services: new Map(['a/x', 'a/y', 'ab/z', 'b/w'].map((n) => [n, svc(n)])),
  endpointGroups: new Map(),
}, undefined, 0).snapshot;

describe('Subscription', () => {
  it('matches "*", namespaces and exact names', () => {
    const sub = new Subscription(['a/*', 'b/w']);
    expect(['a/x', 'ab/z', 'b/w', 'b/v'].map((n) => sub.covers(n))).toEqual([true, false, true, false]);
    expect(new Subscription(['*']).covers('anything/at-all')).toBe(true);
    expect(sub.patterns()).toEqual(['a/*', 'b/w']);
  });

  it('adds and deletes patterns, saying whether anything changed', () => {
    const sub = new Subscription();
    expect(sub.add('a/*')).toBe(true);
    expect(sub.add('a/*')).toBe(false);
    expect(sub.delete('a/x')).toBe(false);
    expect(sub.delete('a/*')).toBe(true);
    expect(sub.equals(new Subscription())).toBe(true);
  });

  it('views a snapshot by scope; namespace views are shared, equal content gives equal versions', () => {
    const ns = new Subscription(['a/*']).view(snapshot, TYPE_SERVICE);
    expect([...ns.resources.keys()]).toEqual(['a/x', 'a/y']);
    expect(new Subscription(['a/*']).view(snapshot, TYPE_SERVICE)).toBe(ns);
    expect(new Subscription(['a/y', 'a/x']).view(snapshot, TYPE_SERVICE).version).toBe(ns.version);
    const everything = new Subscription(['a/*', 'ab/*', 'b/*']).view(snapshot, TYPE_SERVICE);
    expect(everything.version).toBe(snapshot.typeVersions.get(TYPE_SERVICE));
    expect(new Subscription(['*']).view(snapshot, TYPE_SERVICE).resources).toBe(snapshot.resources.get(TYPE_SERVICE));
  });
});

describe('SubscriberRegistry', () => {
  it('lists live subscribers and finds them by node id', () => {
    const registry = new SubscriberRegistry();
    const s = new SubscriberState({ controlPlaneId: 'cp', now: () => 0, id: '7' });
    s.onRequest(pb.DiscoveryRequest.create({ node: { id: 'n1' }, typeUrl: TYPE_SERVICE }));
    registry.add(s);
    registry.add(s);
    expect(registry.size).toBe(1);
    expect(registry.byNodeId('n1')).toEqual([s]);
    expect(registry.toJSON()).toEqual([expect.objectContaining({ id: '7', node: expect.objectContaining({ id: 'n1' }) })]);
    registry.remove(s);
    expect(registry.list()).toEqual([]);
  });
});
