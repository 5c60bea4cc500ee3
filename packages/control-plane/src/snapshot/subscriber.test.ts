import { describe, expect, it } from 'vitest';
import {
  encodeResponse, Mode, pb, TYPE_ENDPOINT_GROUP, TYPE_SERVICE, type DiscoveryRequestInit, type EndpointGroupInit, type OutgoingResponse,
  type ServiceInit,
} from '@skein/protocol';
import type { MeshModel } from '../model/mesh-model.js';
import { buildSnapshot, type Snapshot } from './snapshot.js';
import { SubscriberState } from './subscriber.js';

const svc = (name: string, ip = '10.0.0.1'): ServiceInit => ({ name, namespace: name.split('/')[0], clusterIps: [ip], ports: [{ port: 80 }] });
const group = (name: string, ...addresses: string[]): EndpointGroupInit => {
  const [ns, short] = name.split('/') as [string, string];
  return { name, namespace: ns, service: short, endpoints: addresses.map((address) => ({ address })) };
};

/** A snapshot with one Service (and EndpointGroup) per name; `ips` overrides a Service's ClusterIP. */
function snapshotOf(names: string[], ips: Record<string, string> = {}, previous?: Snapshot): Snapshot {
  const model: MeshModel = {
    services: new Map(names.map((n) => [n, svc(n, ips[n])])),
    endpointGroups: new Map(names.map((n) => [n, group(n, '10.1.0.1')])),
  };
  return buildSnapshot(model, previous, 0).snapshot;
}

const NODE = {
  id: 'sidecar~10.1.0.7~web-1.default', podName: 'web-1', namespace: 'default', nodeName: 'node-a',
  locality: { region: 'eu', zone: 'eu-1a' }, agentVersion: '0.1.0', token: 'secret-token', labels: { app: 'web' },
  adminAddress: '10.1.0.7:15000',
};

const req = (fields: DiscoveryRequestInit) => pb.DiscoveryRequest.create(fields);
const sotw = (fields: DiscoveryRequestInit = {}) => req({ typeUrl: TYPE_SERVICE, mode: Mode.MODE_STATE_OF_THE_WORLD, ...fields });
const delta = (fields: DiscoveryRequestInit = {}) => req({ typeUrl: TYPE_SERVICE, mode: Mode.MODE_DELTA, ...fields });

function subscriber(first: ReturnType<typeof req>): SubscriberState {
  let time = 1000;
  const s = new SubscriberState({ controlPlaneId: 'cp-1', now: () => time++ });
  first.node ??= NODE;
  expect(s.onRequest(first)).toMatchObject({ ok: true });
  return s;
}

const names = (r: OutgoingResponse | undefined) => r?.resources.map((x) => x.name);
const ack = (s: SubscriberState, r: OutgoingResponse, fields: DiscoveryRequestInit = {}) =>
  s.onRequest(req({ typeUrl: r.typeUrl, mode: r.mode, responseNonce: r.nonce, versionInfo: r.versionInfo, ...fields }));

const ALL = ['default/api', 'default/web', 'shop/cart'];

describe('SubscriberState: request validation', () => {
  const fresh = () => new SubscriberState({ controlPlaneId: 'cp-1', now: () => 0 });

  it('requires a node with an id on the first request only', () => {
    const s = fresh();
    expect(s.onRequest(sotw())).toEqual({ ok: false, error: expect.stringContaining('must carry node') });
    expect(s.onRequest(sotw({ node: { id: '' } }))).toMatchObject({ ok: false });
    expect(s.subscribedTypes()).toEqual([]);
    expect(s.onRequest(sotw({ node: NODE }))).toMatchObject({ ok: true, typeUrl: TYPE_SERVICE, outcome: { type: 'subscription' } });
    expect(s.onRequest(delta({ typeUrl: TYPE_ENDPOINT_GROUP }))).toMatchObject({ ok: true });
  });

  it.each([
    ['an unknown type_url', sotw({ typeUrl: 'skein.v1.Route' }), 'unknown type_url "skein.v1.Route"'],
    ['an unknown mode', sotw({ mode: 7 as typeof Mode.MODE_DELTA }), 'unknown mode 7'],
    ['a bad pattern', sotw({ resourceNames: ['web'] }), 'bad subscription "web"'],
    ['a bad delta pattern', delta({ resourceNamesSubscribe: ['a/b/c'] }), 'bad subscription "a/b/c"'],
    ['delta fields in SotW', sotw({ resourceNamesSubscribe: ['*'] }), 'state-of-the-world request carries resource_names only'],
    ['resource_names in delta', delta({ resourceNames: ['*'] }), 'delta request carries resource_names_subscribe'],
    ['a pattern in initial versions', delta({ initialResourceVersions: { 'a/*': 'v' } }), 'bad initial_resource_versions name "a/*"'],
  ])('rejects %s', (_label, request, error) => {
    const s = fresh();
    request.node = NODE;
    expect(s.onRequest(request)).toEqual({ ok: false, error: expect.stringContaining(error) });
    expect(s.node).toBeUndefined();
  });

  it('rejects a switch of mode for a type and keeps the state', () => {
    const s = subscriber(sotw());
    const result = s.onRequest(delta({ resourceNamesSubscribe: ['*'] }));
    expect(result).toEqual({ ok: false, error: expect.stringContaining('subscribed in STATE_OF_THE_WORLD mode') });
    expect(s.toJSON().types[TYPE_SERVICE]!.mode).toBe('sotw');
  });
});

describe('SubscriberState: state of the world', () => {
  it('sends every resource of a wildcard subscription, then nothing until ACKed and changed', () => {
    const s = subscriber(sotw());
    const snap = snapshotOf(ALL);
    const first = s.nextResponse(TYPE_SERVICE, snap)!;
    expect(first).toMatchObject({ typeUrl: TYPE_SERVICE, versionInfo: snap.typeVersions.get(TYPE_SERVICE), nonce: '1', mode: Mode.MODE_STATE_OF_THE_WORLD, controlPlane: 'cp-1', removedResources: [] });
    expect(names(first)).toEqual(ALL);
    expect(first.resources[0]).toBe(snap.resources.get(TYPE_SERVICE)!.get('default/api'));
    expect(s.nextResponse(TYPE_SERVICE, snap)).toBeUndefined(); // awaiting ACK
    expect(ack(s, first)).toMatchObject({ ok: true, outcome: { type: 'ack', nonce: '1', version: first.versionInfo } });
    expect(s.nextResponse(TYPE_SERVICE, snap)).toBeUndefined(); // holds everything
    expect(s.toJSON().types[TYPE_SERVICE]).toMatchObject({ ackedVersion: first.versionInfo, synced: true, pendingNonce: null });
  });

  it('scopes to a namespace and ignores changes elsewhere', () => {
    const s = subscriber(sotw({ resourceNames: ['default/*'] }));
    const snap1 = snapshotOf(ALL);
    const first = s.nextResponse(TYPE_SERVICE, snap1)!;
    expect(names(first)).toEqual(['default/api', 'default/web']);
    ack(s, first, { resourceNames: ['default/*'] });
    const snap2 = snapshotOf(ALL, { 'shop/cart': '10.0.0.9' }, snap1);
    expect(s.nextResponse(TYPE_SERVICE, snap2)).toBeUndefined();
    const snap3 = snapshotOf(ALL, { 'default/web': '10.0.0.9' }, snap2);
    expect(names(s.nextResponse(TYPE_SERVICE, snap3))).toEqual(['default/api', 'default/web']);
  });

  it('answers a subscription to a namespace that does not exist with an empty set, once', () => {
    const s = subscriber(sotw({ resourceNames: ['nowhere/*'] }));
    const first = s.nextResponse(TYPE_SERVICE, snapshotOf(ALL))!;
    expect(first.resources).toEqual([]);
    ack(s, first, { resourceNames: ['nowhere/*'] });
    expect(s.nextResponse(TYPE_SERVICE, snapshotOf(ALL, { 'default/web': '10.0.0.9' }))).toBeUndefined();
  });

  it('sends on-demand names, and answers a changed name set even if no resource changed', () => {
    const s = subscriber(sotw({ resourceNames: ['shop/cart', 'default/web'] }));
    const snap = snapshotOf(ALL);
    const first = s.nextResponse(TYPE_SERVICE, snap)!;
    expect(names(first)).toEqual(['default/web', 'shop/cart']);
    ack(s, first, { resourceNames: ['shop/cart', 'default/web', 'default/missing'] });
    const second = s.nextResponse(TYPE_SERVICE, snap)!;
    expect(names(second)).toEqual(['default/web', 'shop/cart']);
    expect(second.versionInfo).toBe(first.versionInfo);
  });

  it('coalesces changes while a response awaits its ACK: only the newest state is sent', () => {
    const s = subscriber(sotw());
    const snap1 = snapshotOf(ALL);
    const first = s.nextResponse(TYPE_SERVICE, snap1)!;
    const snap2 = snapshotOf(ALL, { 'default/web': '10.0.0.2' }, snap1);
    const snap3 = snapshotOf(ALL, { 'default/web': '10.0.0.3' }, snap2);
    expect(s.nextResponse(TYPE_SERVICE, snap2)).toBeUndefined();
    expect(s.nextResponse(TYPE_SERVICE, snap3)).toBeUndefined();
    ack(s, first);
    const next = s.nextResponse(TYPE_SERVICE, snap3)!;
    expect(next.versionInfo).toBe(snap3.typeVersions.get(TYPE_SERVICE));
    expect(next.nonce).toBe('2');
  });

  it('records a NACK and does not resend the rejected version', () => {
    const s = subscriber(sotw());
    const snap1 = snapshotOf(ALL);
    const first = s.nextResponse(TYPE_SERVICE, snap1)!;
    const result = s.onRequest(sotw({ responseNonce: first.nonce, errorDetail: { message: 'bad port', resourceErrors: [{ name: 'default/web', message: 'port 0' }] } }));
    expect(result).toMatchObject({ ok: true, outcome: { type: 'nack' } });
    expect(s.nextResponse(TYPE_SERVICE, snap1)).toBeUndefined();
    const json = s.toJSON().types[TYPE_SERVICE]!;
    expect(json).toMatchObject({ ackedVersion: null, synced: false, pendingNonce: null, sentVersion: first.versionInfo });
    expect(json.lastNack).toEqual({ nonce: '1', version: first.versionInfo, message: 'bad port', resourceErrors: [{ name: 'default/web', message: 'port 0' }], at: expect.any(Number) });
    const snap2 = snapshotOf(ALL, { 'default/web': '10.0.0.2' }, snap1);
    expect(s.nextResponse(TYPE_SERVICE, snap2)?.versionInfo).toBe(snap2.typeVersions.get(TYPE_SERVICE));
  });

  it('ignores an answer to a stale nonce as an ACK', () => {
    const s = subscriber(sotw());
    const first = s.nextResponse(TYPE_SERVICE, snapshotOf(ALL))!;
    expect(s.onRequest(sotw({ responseNonce: '99' }))).toMatchObject({ ok: true, outcome: { type: 'stale', nonce: '99' } });
    expect(s.toJSON().types[TYPE_SERVICE]!.pendingNonce).toBe(first.nonce);
  });

  it('sends nothing to a reconnecting client whose version is current, everything otherwise', () => {
    const snap = snapshotOf(ALL);
    const current = snap.typeVersions.get(TYPE_SERVICE)!;
    const upToDate = subscriber(sotw({ versionInfo: current }));
    expect(upToDate.nextResponse(TYPE_SERVICE, snap)).toBeUndefined();
    expect(upToDate.toJSON().types[TYPE_SERVICE]!.synced).toBe(true);
    const behind = subscriber(sotw({ versionInfo: '0123456789abcdef' }));
    expect(names(behind.nextResponse(TYPE_SERVICE, snap))).toEqual(ALL);
  });

  it('numbers responses per stream with increasing nonces across types', () => {
    const s = subscriber(sotw());
    s.onRequest(sotw({ typeUrl: TYPE_ENDPOINT_GROUP }));
    const snap = snapshotOf(ALL);
    expect(s.nextResponse(TYPE_SERVICE, snap)!.nonce).toBe('1');
    expect(s.nextResponse(TYPE_ENDPOINT_GROUP, snap)!.nonce).toBe('2');
  });
});

describe('SubscriberState: delta', () => {
  it('sends everything first, then only what changed, and names what was removed', () => {
    const s = subscriber(delta({ resourceNamesSubscribe: ['*'] }));
    const snap1 = snapshotOf(ALL);
    const first = s.nextResponse(TYPE_SERVICE, snap1)!;
    expect(first).toMatchObject({ mode: Mode.MODE_DELTA, removedResources: [] });
    expect(names(first)).toEqual(ALL);
    ack(s, first);
    const snap2 = snapshotOf(['default/api', 'default/web'], { 'default/web': '10.0.0.2' }, snap1);
    const second = s.nextResponse(TYPE_SERVICE, snap2)!;
    expect(names(second)).toEqual(['default/web']);
    expect(second.removedResources).toEqual(['shop/cart']);
    ack(s, second);
    expect(s.nextResponse(TYPE_SERVICE, snap2)).toBeUndefined();
    expect(s.toJSON().types[TYPE_SERVICE]).toMatchObject({ synced: true, subscriptions: ['*'] });
  });

  it('answers an on-demand name that does not exist with a removal, once, and sends it when it appears', () => {
    const s = subscriber(delta({ resourceNamesSubscribe: ['default/web'] }));
    const snap1 = snapshotOf(['default/web']);
    ack(s, s.nextResponse(TYPE_SERVICE, snap1)!);
    s.onRequest(delta({ resourceNamesSubscribe: ['shop/cart'] }));
    const absent = s.nextResponse(TYPE_SERVICE, snap1)!;
    expect(absent.resources).toEqual([]);
    expect(absent.removedResources).toEqual(['shop/cart']);
    ack(s, absent);
    expect(s.nextResponse(TYPE_SERVICE, snapshotOf(['default/web', 'default/api']))).toBeUndefined();
    const appeared = s.nextResponse(TYPE_SERVICE, snapshotOf(ALL))!;
    expect(names(appeared)).toEqual(['shop/cart']);
  });

  it('answers the first subscription to an empty namespace with an empty response', () => {
    const s = subscriber(delta({ resourceNamesSubscribe: ['nowhere/*'] }));
    const first = s.nextResponse(TYPE_SERVICE, snapshotOf(ALL))!;
    expect(first).toMatchObject({ resources: [], removedResources: [] });
  });

  it('on reconnect, sends only what differs from initial_resource_versions', () => {
    const snap1 = snapshotOf(ALL);
    const held = Object.fromEntries([...snap1.resources.get(TYPE_SERVICE)!.values()].map((r) => [r.name, r.version]));
    const snap2 = snapshotOf(['default/api', 'default/web'], { 'default/web': '10.0.0.2' }, snap1);
    const s = subscriber(delta({ resourceNamesSubscribe: ['*'], initialResourceVersions: { ...held, 'other/gone': 'x' } }));
    const r = s.nextResponse(TYPE_SERVICE, snap2)!;
    expect(names(r)).toEqual(['default/web']);
    expect(r.removedResources).toEqual(['other/gone', 'shop/cart']);
  });

  it('on reconnect with nothing changed, sends nothing and counts the client as synced', () => {
    const snap = snapshotOf(ALL);
    const held = Object.fromEntries([...snap.resources.get(TYPE_SERVICE)!.values()].map((r) => [r.name, r.version]));
    const s = subscriber(delta({ resourceNamesSubscribe: ['default/*'], initialResourceVersions: held }));
    expect(s.nextResponse(TYPE_SERVICE, snap)).toBeUndefined();
    expect(s.toJSON().types[TYPE_SERVICE]).toMatchObject({ synced: true, ackedVersion: expect.any(String) });
  });

  it('forgets unsubscribed names without a removal, and resends them on resubscription', () => {
    const s = subscriber(delta({ resourceNamesSubscribe: ['default/*', 'shop/cart'] }));
    const snap = snapshotOf(ALL);
    ack(s, s.nextResponse(TYPE_SERVICE, snap)!);
    s.onRequest(delta({ resourceNamesUnsubscribe: ['shop/cart'] }));
    expect(s.nextResponse(TYPE_SERVICE, snap)).toBeUndefined();
    const later = snapshotOf(ALL.filter((n) => n !== 'shop/cart'), {}, snap);
    expect(s.nextResponse(TYPE_SERVICE, later)).toBeUndefined(); // no removal for a name no longer wanted
    s.onRequest(delta({ resourceNamesSubscribe: ['shop/cart'] }));
    expect(names(s.nextResponse(TYPE_SERVICE, snap))).toEqual(['shop/cart']);
  });

  it('does not resend a NACKed version, and sends the next one', () => {
    const s = subscriber(delta({ resourceNamesSubscribe: ['*'] }));
    const snap1 = snapshotOf(ALL);
    ack(s, s.nextResponse(TYPE_SERVICE, snap1)!);
    const snap2 = snapshotOf(ALL, { 'default/web': '10.0.0.2' }, snap1);
    const bad = s.nextResponse(TYPE_SERVICE, snap2)!;
    s.onRequest(delta({ responseNonce: bad.nonce, errorDetail: { message: 'rejected' } }));
    expect(s.nextResponse(TYPE_SERVICE, snap2)).toBeUndefined();
    const snap3 = snapshotOf(ALL, { 'default/web': '10.0.0.3', 'default/api': '10.0.0.4' }, snap2);
    expect(names(s.nextResponse(TYPE_SERVICE, snap3))).toEqual(['default/api', 'default/web']);
  });
});

describe('SubscriberState: work shared across subscribers', () => {
  it('delta: subscribers making the same step share the one computed set of changes', () => {
    const [x, y] = [subscriber(delta({ resourceNamesSubscribe: ['*'] })), subscriber(delta({ resourceNamesSubscribe: ['*'] }))];
    const snap1 = snapshotOf(ALL);
    for (const s of [x, y]) ack(s, s.nextResponse(TYPE_SERVICE, snap1)!);
    const snap2 = snapshotOf(ALL, { 'default/web': '10.0.0.2' }, snap1);
    const [rx, ry] = [x.nextResponse(TYPE_SERVICE, snap2)!, y.nextResponse(TYPE_SERVICE, snap2)!];
    expect(names(rx)).toEqual(['default/web']);
    expect(rx.resources).toBe(ry.resources);
    expect(rx.nonce).not.toBe('');
  });

  it('a full view goes out encoded once: every subscriber sent it gets the same bytes', () => {
    const subs = [subscriber(sotw()), subscriber(sotw()), subscriber(delta({ resourceNamesSubscribe: ['*'] }))];
    const snap = snapshotOf(ALL);
    const responses = subs.map((s) => s.nextResponse(TYPE_SERVICE, snap)!);
    const field = responses[0]!.encodedResources;
    expect(field).toBeInstanceOf(Uint8Array);
    for (const r of responses) expect(r.encodedResources).toBe(field);
    expect(pb.DiscoveryResponse.decode(encodeResponse(responses[2]!)).resources.map((r) => r.name)).toEqual(ALL);
    // A delta push of part of the view is encoded per response, as before.
    ack(subs[2]!, responses[2]!);
    const part = subs[2]!.nextResponse(TYPE_SERVICE, snapshotOf(ALL, { 'default/web': '10.0.0.2' }, snap))!;
    expect(part.encodedResources).toBeUndefined();
  });
});

describe('SubscriberState: toJSON', () => {
  it('shows the node without its token, and per-type progress', () => {
    const s = subscriber(sotw({ resourceNames: ['default/*'] }));
    s.nextResponse(TYPE_SERVICE, snapshotOf(ALL));
    const json = s.toJSON();
    expect(json.node).toEqual({ id: NODE.id, pod: 'web-1', namespace: 'default', nodeName: 'node-a', locality: { region: 'eu', zone: 'eu-1a' }, agentVersion: '0.1.0', adminAddress: '10.1.0.7:15000' });
    expect(JSON.stringify(json)).not.toContain('secret-token');
    expect(json.connectedAt).toBe(1000);
    expect(json.types[TYPE_SERVICE]).toMatchObject({ mode: 'sotw', subscriptions: ['default/*'], pendingNonce: '1', ackedVersion: null, synced: false });
  });
});

describe('SubscriberState: the Node locality', () => {
  const snap = snapshotOf(['default/web']);
  const resumeVersions = { 'default/web': snap.resources.get(TYPE_SERVICE)!.get('default/web')!.version };

  it('carries the known locality on every response, none when unknown', () => {
    const s = subscriber(delta({ resourceNamesSubscribe: ['*'] }));
    expect(s.nextResponse(TYPE_SERVICE, snap)!.nodeLocality).toBeUndefined();
    const t = subscriber(delta({ resourceNamesSubscribe: ['*'] }));
    t.setNodeLocality({ region: 'eu', zone: 'eu-1b' });
    expect(t.nextResponse(TYPE_SERVICE, snap)!.nodeLocality).toEqual({ region: 'eu', zone: 'eu-1b' });
  });

  it('delta resume: sends nothing when the claim matches, one empty response when it does not, and only once', () => {
    const same = subscriber(delta({ resourceNamesSubscribe: ['*'], initialResourceVersions: resumeVersions }));
    same.setNodeLocality({ region: 'eu', zone: 'eu-1a' });
    expect(same.nextResponse(TYPE_SERVICE, snap)).toBeUndefined();

    const moved = subscriber(delta({ resourceNamesSubscribe: ['*'], initialResourceVersions: resumeVersions }));
    moved.setNodeLocality({ region: 'eu', zone: 'eu-1c' });
    const told = moved.nextResponse(TYPE_SERVICE, snap)!;
    expect(told).toMatchObject({ resources: [], removedResources: [], nodeLocality: { region: 'eu', zone: 'eu-1c' } });
    ack(moved, told);
    expect(moved.nextResponse(TYPE_SERVICE, snap)).toBeUndefined();
  });

  it('SotW resume: a locality the client lacks makes the full set due again', () => {
    const first = subscriber(sotw());
    const response = first.nextResponse(TYPE_SERVICE, snap)!;
    const s = subscriber(sotw({ versionInfo: response.versionInfo }));
    expect(s.nextResponse(TYPE_SERVICE, snap)).toBeUndefined();
    s.setNodeLocality({ region: 'us', zone: 'us-1a' });
    expect(names(s.nextResponse(TYPE_SERVICE, snap))).toEqual(['default/web']);
  });
});
