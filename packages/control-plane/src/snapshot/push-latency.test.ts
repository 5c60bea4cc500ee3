// Push latency bookkeeping: a source event's time travels publisher -> snapshot -> subscriber
// and comes out once, on the ACK of the first version that carries it to that subscriber.
import { describe, expect, it } from 'vitest';
import {
  Mode, pb, TYPE_ENDPOINT_GROUP, TYPE_SERVICE, type DiscoveryRequestInit, type EndpointGroupInit, type OutgoingResponse,
  type ServiceInit,
} from '@skein/protocol';
import type { MeshModel } from '../model/mesh-model.js';
import { SnapshotPublisher, type Clock } from './publisher.js';
import { buildSnapshot, type Snapshot } from './snapshot.js';
import { MemorySnapshotCache } from './snapshot-cache.js';
import { SubscriberRegistry } from './subscriber-registry.js';
import { SubscriberState } from './subscriber.js';

const svc = (name: string, ip: string): ServiceInit => ({ name, namespace: name.split('/')[0], clusterIps: [ip], ports: [{ port: 80 }] });
const group = (name: string, address: string): EndpointGroupInit => {
  const [ns, short] = name.split('/') as [string, string];
  return { name, namespace: ns, service: short, endpoints: [{ address }] };
};

/** A model with one Service and EndpointGroup per entry: name -> [ClusterIP, endpoint]. */
function model(entries: Record<string, [string, string]>): MeshModel {
  return {
    services: new Map(Object.entries(entries).map(([n, [ip]]) => [n, svc(n, ip)])),
    endpointGroups: new Map(Object.entries(entries).map(([n, [, address]]) => [n, group(n, address)])),
  };
}

const NODE = { id: 'client-1.demo', podName: 'client-1', namespace: 'demo', token: 'never-shown' };
const req = (fields: DiscoveryRequestInit) => pb.DiscoveryRequest.create(fields);

/** A subscriber on a clock the test moves; subscribed (delta) to `names` of both types at `time`. */
function subscriber(time: { now: number }, names = ['*']): SubscriberState {
  const s = new SubscriberState({ controlPlaneId: 'cp', now: () => time.now });
  for (const typeUrl of [TYPE_SERVICE, TYPE_ENDPOINT_GROUP]) {
    expect(s.onRequest(req({ node: NODE, typeUrl, mode: Mode.MODE_DELTA, resourceNamesSubscribe: names }))).toMatchObject({ ok: true });
  }
  return s;
}

const answer = (s: SubscriberState, r: OutgoingResponse, error?: string) =>
  s.onRequest(req({ typeUrl: r.typeUrl, mode: r.mode, responseNonce: r.nonce, ...(error ? { errorDetail: { message: error } } : {}) }));

/** The ACK outcome's push latency, or 'nack'/'not-ack'. */
function ackLatency(s: SubscriberState, r: OutgoingResponse): number | undefined | string {
  const result = answer(s, r);
  return result.ok && result.outcome.type === 'ack' ? result.outcome.sinceEventMs : 'not-ack';
}

/** Publishes `next` (as if from a source event seen at `eventAt`) and tells the subscribers. */
function publish(previous: Snapshot | undefined, next: MeshModel, at: number, eventAt: number | undefined, subs: SubscriberState[]): Snapshot {
  const { snapshot } = buildSnapshot(next, previous, at, eventAt);
  for (const s of subs) s.noteSnapshot(snapshot);
  return snapshot;
}

describe('buildSnapshot: event times', () => {
  it('stamps only the types whose version changed, and nothing without an event time', () => {
    const first = buildSnapshot(model({ 'demo/web': ['10.0.0.1', '10.1.0.1'] }), undefined, 0).snapshot;
    expect(first.eventTimes).toBeUndefined();
    const endpointsMoved = buildSnapshot(model({ 'demo/web': ['10.0.0.1', '10.1.0.2'] }), first, 10, 7).snapshot;
    expect([...endpointsMoved.eventTimes!]).toEqual([[TYPE_ENDPOINT_GROUP, 7]]);
    const same = buildSnapshot(model({ 'demo/web': ['10.0.0.1', '10.1.0.2'] }), endpointsMoved, 20, 15);
    expect(same.snapshot).toBe(endpointsMoved);
  });
});

describe('SnapshotPublisher: event times', () => {
  it('carries the oldest event time of a burst into the snapshot it builds, once', () => {
    let time = 100;
    const timers: Array<() => void> = [];
    const clock: Clock = { now: () => time, setTimeout: (fn) => timers.push(fn), clearTimeout: () => undefined };
    const cache = new MemorySnapshotCache();
    let ip = '10.1.0.1';
    const publisher = new SnapshotPublisher({ clock, cache, build: () => model({ 'demo/web': ['10.0.0.1', ip] }) });
    publisher.flush();
    expect(cache.current()!.eventTimes).toBeUndefined();
    ip = '10.1.0.2';
    publisher.notify(90);
    publisher.notify(80);
    publisher.notify(95);
    publisher.notify(); // an event without a time changes nothing
    time = 200;
    publisher.flush();
    expect(cache.current()!.eventTimes!.get(TYPE_ENDPOINT_GROUP)).toBe(80);
    ip = '10.1.0.3';
    publisher.flush(); // a build no event asked for: no time
    expect(cache.current()!.eventTimes).toBeUndefined();
  });
});

describe('SubscriberState: push latency', () => {
  it('measures from the event to the ACK of the first response carrying it, once per version', () => {
    const time = { now: 1_000 };
    const s = subscriber(time);
    let snap = publish(undefined, model({ 'demo/web': ['10.0.0.1', '10.1.0.1'] }), 1_000, undefined, [s]);
    for (const typeUrl of [TYPE_SERVICE, TYPE_ENDPOINT_GROUP] as const) {
      expect(ackLatency(s, s.nextResponse(typeUrl, snap)!)).toBeUndefined(); // the first response carries no event
    }
    snap = publish(snap, model({ 'demo/web': ['10.0.0.1', '10.1.0.2'] }), 1_150, 1_100, [s]);
    const change = s.nextResponse(TYPE_ENDPOINT_GROUP, snap)!;
    expect(s.nextResponse(TYPE_SERVICE, snap)).toBeUndefined(); // Services did not change
    time.now = 1_180;
    expect(ackLatency(s, change)).toBe(80);
    expect(s.nextResponse(TYPE_ENDPOINT_GROUP, snap)).toBeUndefined();
  });

  it('keeps the oldest event while a response awaits its ACK (coalesced versions)', () => {
    const time = { now: 0 };
    const s = subscriber(time);
    let snap = publish(undefined, model({ 'demo/web': ['10.0.0.1', '10.1.0.1'] }), 0, undefined, [s]);
    answer(s, s.nextResponse(TYPE_ENDPOINT_GROUP, snap)!);
    snap = publish(snap, model({ 'demo/web': ['10.0.0.1', '10.1.0.2'] }), 120, 100, [s]);
    const pending = s.nextResponse(TYPE_ENDPOINT_GROUP, snap)!;
    snap = publish(snap, model({ 'demo/web': ['10.0.0.1', '10.1.0.3'] }), 220, 200, [s]);
    snap = publish(snap, model({ 'demo/web': ['10.0.0.1', '10.1.0.4'] }), 320, 300, [s]);
    expect(s.nextResponse(TYPE_ENDPOINT_GROUP, snap)).toBeUndefined(); // one response in flight per type
    time.now = 350;
    expect(ackLatency(s, pending)).toBe(250); // from the event at 100
    const coalesced = s.nextResponse(TYPE_ENDPOINT_GROUP, snap)!;
    time.now = 400;
    expect(ackLatency(s, coalesced)).toBe(200); // the oldest of 200 and 300
  });

  it('ignores changes the subscriber does not see and events older than its subscription', () => {
    const time = { now: 500 };
    const s = subscriber(time, ['demo/*']);
    let snap = publish(undefined, model({ 'demo/web': ['10.0.0.1', '10.1.0.1'], 'shop/cart': ['10.0.0.2', '10.1.1.1'] }), 500, 400, [s]);
    const initial = s.nextResponse(TYPE_ENDPOINT_GROUP, snap)!;
    expect(ackLatency(s, initial)).toBeUndefined(); // the event at 400 predates the subscription
    snap = publish(snap, model({ 'demo/web': ['10.0.0.1', '10.1.0.1'], 'shop/cart': ['10.0.0.2', '10.1.1.2'] }), 620, 600, [s]);
    expect(s.nextResponse(TYPE_ENDPOINT_GROUP, snap)).toBeUndefined(); // another namespace
    snap = publish(snap, model({ 'demo/web': ['10.0.0.1', '10.1.0.2'], 'shop/cart': ['10.0.0.2', '10.1.1.2'] }), 720, 700, [s]);
    const mine = s.nextResponse(TYPE_ENDPOINT_GROUP, snap)!;
    time.now = 750;
    expect(ackLatency(s, mine)).toBe(50); // not 150: the change at 600 was never for this subscriber
  });

  it('does not measure a NACKed version, and counts the subscriber as NACKing until it ACKs', () => {
    const time = { now: 0 };
    const s = subscriber(time);
    const registry = new SubscriberRegistry();
    registry.add(s);
    let snap = publish(undefined, model({ 'demo/web': ['10.0.0.1', '10.1.0.1'] }), 0, undefined, [s]);
    answer(s, s.nextResponse(TYPE_ENDPOINT_GROUP, snap)!);
    snap = publish(snap, model({ 'demo/web': ['10.0.0.1', '10.1.0.2'] }), 120, 100, [s]);
    const rejected = s.nextResponse(TYPE_ENDPOINT_GROUP, snap)!;
    expect(answer(s, rejected, 'bad endpoint')).toMatchObject({ ok: true, outcome: { type: 'nack' } });
    expect(s.isNacking(TYPE_ENDPOINT_GROUP)).toBe(true);
    expect(registry.countNacking(TYPE_ENDPOINT_GROUP)).toBe(1);
    expect(registry.countNacking(TYPE_SERVICE)).toBe(0);
    snap = publish(snap, model({ 'demo/web': ['10.0.0.1', '10.1.0.3'] }), 220, 200, [s]);
    const fixed = s.nextResponse(TYPE_ENDPOINT_GROUP, snap)!;
    time.now = 260;
    expect(ackLatency(s, fixed)).toBe(60);
    expect(registry.countNacking(TYPE_ENDPOINT_GROUP)).toBe(0);
  });
});

describe('SubscriberState: the oldest change not yet ACKed (push lag)', () => {
  it('is the oldest timed change until the version carrying it is ACKed', () => {
    const time = { now: 0 };
    const s = subscriber(time);
    let snap = publish(undefined, model({ 'demo/web': ['10.0.0.1', '10.1.0.1'] }), 0, undefined, [s]);
    answer(s, s.nextResponse(TYPE_ENDPOINT_GROUP, snap)!);
    expect(s.oldestUnackedChange(TYPE_ENDPOINT_GROUP)).toBeUndefined();
    time.now = 10;
    snap = publish(snap, model({ 'demo/web': ['10.0.0.1', '10.1.0.2'] }), 10, 7, [s]);
    expect(s.oldestUnackedChange(TYPE_ENDPOINT_GROUP)).toBe(7);
    const carrying = s.nextResponse(TYPE_ENDPOINT_GROUP, snap)!;
    time.now = 20;
    snap = publish(snap, model({ 'demo/web': ['10.0.0.1', '10.1.0.3'] }), 20, 15, [s]);
    expect(s.oldestUnackedChange(TYPE_ENDPOINT_GROUP)).toBe(7);
    answer(s, carrying);
    expect(s.oldestUnackedChange(TYPE_ENDPOINT_GROUP)).toBe(15);
    answer(s, s.nextResponse(TYPE_ENDPOINT_GROUP, snap)!);
    expect(s.oldestUnackedChange(TYPE_ENDPOINT_GROUP)).toBeUndefined();
    expect(s.oldestUnackedChange(TYPE_SERVICE)).toBeUndefined();
  });

  it('is, over a registry, the oldest of any subscriber', () => {
    const time = { now: 0 };
    const [a, b] = [subscriber(time), subscriber(time)];
    const registry = new SubscriberRegistry();
    registry.add(a);
    registry.add(b);
    let snap = publish(undefined, model({ 'demo/web': ['10.0.0.1', '10.1.0.1'] }), 0, undefined, [a, b]);
    for (const s of [a, b]) answer(s, s.nextResponse(TYPE_ENDPOINT_GROUP, snap)!);
    expect(registry.oldestUnackedChange(TYPE_ENDPOINT_GROUP)).toBeUndefined();
    snap = publish(snap, model({ 'demo/web': ['10.0.0.1', '10.1.0.2'] }), 10, 7, [a, b]);
    answer(a, a.nextResponse(TYPE_ENDPOINT_GROUP, snap)!);
    expect(registry.oldestUnackedChange(TYPE_ENDPOINT_GROUP)).toBe(7);
    registry.remove(b);
    expect(registry.oldestUnackedChange(TYPE_ENDPOINT_GROUP)).toBeUndefined();
  });
});
