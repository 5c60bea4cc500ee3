// DiscoveryStream against a fake call: backpressure, cleanup and fault isolation, deterministically.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { status as Status } from '@grpc/grpc-js';
import {
  encodeResponse, Mode, pb, TYPE_ENDPOINT_GROUP, TYPE_SERVICE, type DiscoveryRequestInit, type OutgoingResponse,
} from '@skein/protocol';
import type { MeshModel } from '../model/mesh-model.js';
import { buildSnapshot } from '../snapshot/snapshot.js';
import { MemorySnapshotCache, type SnapshotCache } from '../snapshot/snapshot-cache.js';
import { SubscriberRegistry } from '../snapshot/subscriber-registry.js';
import type { DiscoveryEvents, DiscoveryLogger } from './discovery-events.js';
import { DiscoveryStream, type DiscoveryCall, type DiscoveryStreamOptions } from './discovery-stream.js';
import { encodedResponseSize } from './response-size.js';
import { SendBudget } from './send-budget.js';

class FakeCall extends EventEmitter {
  readonly writes: OutgoingResponse[] = [];
  /** Each write's completion callback: gRPC calls it once the bytes left. */
  readonly written: Array<(() => void) | undefined> = [];
  readonly statuses: Array<{ code: number; details: string }> = [];
  writable = true;
  ended = false;

  constructor() {
    super();
    this.on('error', (status: { code: number; details: string }) => this.statuses.push(status));
  }

  getPeer(): string {
    return 'ipv4:10.9.9.9:5555';
  }

  write(response: OutgoingResponse, done?: () => void): boolean {
    this.writes.push(response);
    this.written.push(done);
    return this.writable;
  }

  end(): void {
    this.ended = true;
  }

  request(fields: DiscoveryRequestInit): void {
    this.emit('data', { ok: true, value: pb.DiscoveryRequest.create(fields) });
  }
}

const model = (ip: string): MeshModel => ({
  services: new Map([['default/web', { name: 'default/web', namespace: 'default', clusterIps: [ip], ports: [{ port: 80 }] }]]),
  endpointGroups: new Map([['default/web', { name: 'default/web', namespace: 'default', service: 'web', endpoints: [{ address: ip.replace('10.0', '10.1') }] }]]),
});

function setup(options: { cache?: SnapshotCache; events?: Partial<DiscoveryEvents>; admit?: DiscoveryStreamOptions['admit']; budget?: SendBudget } = {}) {
  const memory = new MemorySnapshotCache();
  const publish = (ip: string) => memory.set(buildSnapshot(model(ip), memory.current(), 0).snapshot);
  publish('10.0.0.1');
  const registry = new SubscriberRegistry();
  const call = new FakeCall();
  const logs: Array<{ level: string; msg: string }> = [];
  const log = (level: string) => (_obj: object, msg: string) => void logs.push({ level, msg });
  const logger: DiscoveryLogger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  const ended: DiscoveryStream[] = [];
  const open = (on: FakeCall, id: string) => new DiscoveryStream(on as unknown as DiscoveryCall, {
    id, cache: options.cache ?? memory, registry, controlPlaneId: 'cp', logger, events: options.events ?? {},
    now: () => 0, onEnd: (s) => ended.push(s), ...(options.admit ? { admit: options.admit } : {}),
    ...(options.budget ? { budget: options.budget } : {}),
  });
  const stream = open(call, '1');
  /** Another stream on the same cache, registry and budget. */
  const another = (id: string) => {
    const other = new FakeCall();
    return { call: other, stream: open(other, id) };
  };
  return { memory, publish, registry, call, logs, ended, stream, another };
}

const NODE = { id: 'n1' };

describe('DiscoveryStream', () => {
  it('writes nothing while gRPC is backed up, then only the newest state', () => {
    const t = setup();
    t.call.writable = false;
    t.call.request({ node: NODE, typeUrl: TYPE_SERVICE, mode: Mode.MODE_STATE_OF_THE_WORLD });
    t.call.request({ typeUrl: TYPE_ENDPOINT_GROUP, mode: Mode.MODE_DELTA, resourceNamesSubscribe: ['*'] });
    expect(t.call.writes.map((w) => w.typeUrl)).toEqual([TYPE_SERVICE]);
    t.publish('10.0.0.2');
    t.publish('10.0.0.3');
    expect(t.call.writes).toHaveLength(1);

    t.call.writable = true;
    t.call.emit('drain');
    expect(t.call.writes.map((w) => w.typeUrl)).toEqual([TYPE_SERVICE, TYPE_ENDPOINT_GROUP]);
    expect(t.call.writes[1]!.versionInfo).toBe(t.memory.current()!.typeVersions.get(TYPE_ENDPOINT_GROUP));

    const first = t.call.writes[0]!;
    t.call.request({ typeUrl: TYPE_SERVICE, mode: Mode.MODE_STATE_OF_THE_WORLD, responseNonce: first.nonce, versionInfo: first.versionInfo });
    expect(t.call.writes).toHaveLength(3);
    expect(t.call.writes[2]!.versionInfo).toBe(t.memory.current()!.typeVersions.get(TYPE_SERVICE));
  });

  it('releases its state and watcher exactly once when the call ends', () => {
    const closed: string[] = [];
    const t = setup({ events: { streamClosed: (e) => closed.push(e.reason) } });
    t.call.request({ node: NODE, typeUrl: TYPE_SERVICE });
    expect(t.registry.size).toBe(1);
    expect(t.memory.watcherCount).toBe(1);
    t.call.emit('cancelled', 'cancelled');
    t.call.emit('close');
    expect(t.registry.size).toBe(0);
    expect(t.memory.watcherCount).toBe(0);
    expect(closed).toEqual(['cancelled']);
    expect(t.ended).toEqual([t.stream]);
    t.publish('10.0.0.2');
    t.call.request({ typeUrl: TYPE_SERVICE });
    expect(t.call.writes).toHaveLength(1);
  });

  it('answers a client half-close with OK', () => {
    const closed: string[] = [];
    const t = setup({ events: { streamClosed: (e) => closed.push(e.reason) } });
    t.call.request({ node: NODE, typeUrl: TYPE_SERVICE });
    t.call.emit('end');
    expect(t.call.ended).toBe(true);
    expect(closed).toEqual(['client-closed']);
  });

  it('ends the stream with INVALID_ARGUMENT for an undecodable request', () => {
    const t = setup();
    t.call.emit('data', { ok: false, error: 'cannot decode DiscoveryRequest: index out of range' });
    expect(t.call.statuses).toEqual([{ code: Status.INVALID_ARGUMENT, details: 'cannot decode DiscoveryRequest: index out of range' }]);
  });

  it('survives a throwing event handler', () => {
    const t = setup({ events: { responseSent: () => { throw new Error('metrics bug'); } } });
    t.call.request({ node: NODE, typeUrl: TYPE_SERVICE });
    expect(t.call.writes).toHaveLength(1);
    expect(t.call.statuses).toEqual([]);
    expect(t.logs).toContainEqual({ level: 'warn', msg: 'discovery event handler threw' });
  });

  it('ends only this stream, with INTERNAL, on a bug below it', () => {
    const broken: SnapshotCache = { current: () => { throw new Error('cache bug'); }, watch: () => () => {} };
    const t = setup({ cache: broken });
    expect(() => t.call.request({ node: NODE, typeUrl: TYPE_SERVICE })).not.toThrow();
    expect(t.call.statuses).toEqual([{ code: Status.INTERNAL, details: 'internal error in the discovery server' }]);
    expect(t.logs).toContainEqual({ level: 'error', msg: 'discovery stream handler failed' });
    expect(t.registry.size).toBe(0);
  });

  it('ends a stream that floods requests while its identity is being checked', () => {
    const t = setup({ admit: () => new Promise(() => undefined) });
    for (let i = 0; i < 65; i++) t.call.request({ node: NODE, typeUrl: TYPE_SERVICE, mode: Mode.MODE_DELTA, resourceNamesSubscribe: ['*'] });
    expect(t.call.statuses).toEqual([{ code: Status.INVALID_ARGUMENT, details: 'more than 64 requests before the identity check finished' }]);
    expect(t.call.writes).toHaveLength(0);
    expect(t.ended).toHaveLength(1);
  });

  it('reports the exact encoded size of each response', () => {
    const sizes: number[] = [];
    const t = setup({ events: { responseSent: (e) => sizes.push(e.bytes) } });
    t.call.request({ node: NODE, typeUrl: TYPE_ENDPOINT_GROUP, mode: Mode.MODE_DELTA, resourceNamesSubscribe: ['*', 'default/gone'] });
    const response = t.call.writes[0]!;
    expect(response.removedResources).toEqual(['default/gone']);
    expect(sizes).toEqual([encodeResponse(response).length]);
    expect(encodedResponseSize({ ...response, resources: [], removedResources: [], mode: 0, nonce: '', versionInfo: '', controlPlane: '' }))
      .toBe(encodeResponse({ ...response, resources: [], removedResources: [], mode: 0, nonce: '', versionInfo: '', controlPlane: '' }).length);
    for (const nodeLocality of [{ region: 'eu', zone: 'eu-1a' }, { region: '', zone: '' }]) {
      expect(encodedResponseSize({ ...response, nodeLocality })).toBe(encodeResponse({ ...response, nodeLocality }).length);
    }
  });
});

describe('DiscoveryStream: the send budget', () => {
  /** Room for one response of the test model in flight; every response counts. */
  const budget = () => {
    const timers: Array<() => void> = [];
    const clock = { now: () => 0, setTimeout: (fn: () => void) => timers.push(fn), clearTimeout: () => {} };
    return new SendBudget({ maxBytes: 1, smallBytes: 0, holdLimitMs: 10_000, clock });
  };
  const subscribe = (call: FakeCall) => call.request({ node: NODE, typeUrl: TYPE_SERVICE, mode: Mode.MODE_DELTA, resourceNamesSubscribe: ['*'] });

  it('holds a response that does not fit until another one has left, then writes it', () => {
    const sent: string[] = [];
    const t = setup({ budget: budget(), events: { responseSent: (e) => sent.push(e.node.id) } });
    subscribe(t.call);
    const b = t.another('2');
    b.call.request({ node: { id: 'n2' }, typeUrl: TYPE_SERVICE, mode: Mode.MODE_DELTA, resourceNamesSubscribe: ['*'] });
    expect(t.call.writes).toHaveLength(1);
    expect(b.call.writes).toHaveLength(0);
    expect(sent).toEqual(['n1']);
    t.call.written[0]!();
    expect(b.call.writes.map((w) => w.typeUrl)).toEqual([TYPE_SERVICE]);
    expect(sent).toEqual(['n1', 'n2']);
  });

  it('keeps coalescing while it waits: one response, then the newest state after the ACK', () => {
    const t = setup({ budget: budget() });
    subscribe(t.call);
    const b = t.another('2');
    subscribe(b.call);
    t.publish('10.0.0.2');
    t.publish('10.0.0.3');
    t.call.written[0]!();
    expect(b.call.writes).toHaveLength(1);
    const first = b.call.writes[0]!;
    b.call.written[0]!();
    b.call.request({ typeUrl: TYPE_SERVICE, mode: Mode.MODE_DELTA, responseNonce: first.nonce });
    expect(b.call.writes).toHaveLength(2);
    expect(b.call.writes[1]!.versionInfo).toBe(t.memory.current()!.typeVersions.get(TYPE_SERVICE));
  });

  it('gives its share back and leaves the line when its stream ends', () => {
    const t = setup({ budget: budget() });
    subscribe(t.call);
    const b = t.another('2');
    subscribe(b.call);
    const c = t.another('3');
    subscribe(c.call);
    b.call.emit('cancelled');
    t.call.emit('cancelled'); // its write never completes: gRPC drops the callback of a cancelled call
    expect(c.call.writes).toHaveLength(1);
    expect(b.call.writes).toHaveLength(0);
  });
});
