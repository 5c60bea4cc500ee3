// Integration: a real DiscoveryServer on 127.0.0.1 and real protocol clients over sockets.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { credentials, makeGenericClientConstructor, status as Status, type ClientDuplexStream, type StatusObject } from '@grpc/grpc-js';
import {
  discoveryService, Mode, TYPE_ENDPOINT_GROUP, TYPE_SERVICE, type EndpointGroupInit, type ServiceInit,
} from '@skein/protocol';
import { DiscoveryTestClient, decodeResources } from '@skein/testkit';
import type { MeshModel } from '../model/mesh-model.js';
import { buildSnapshot } from '../snapshot/snapshot.js';
import { MemorySnapshotCache } from '../snapshot/snapshot-cache.js';
import { SubscriberRegistry } from '../snapshot/subscriber-registry.js';
import type { DiscoveryLogger, StreamEndReason } from './discovery-events.js';
import { DiscoveryServer } from './discovery-server.js';

const svc = (name: string, ip: string): ServiceInit => ({ name, namespace: name.split('/')[0], clusterIps: [ip], ports: [{ name: 'http', port: 80 }] });
const group = (name: string, ...addresses: string[]): EndpointGroupInit => ({
  name, namespace: name.split('/')[0], service: name.split('/')[1],
  endpoints: addresses.map((address) => ({ address, ready: true, serving: true, ports: [{ name: 'http', port: 8080 }] })),
});

/** Services default/web, default/api, shop/cart; `ips` changes a ClusterIP. */
function model(ips: Record<string, string> = {}, without: string[] = []): MeshModel {
  const names = ['default/web', 'default/api', 'shop/cart'].filter((n) => !without.includes(n));
  return {
    services: new Map(names.map((n, i) => [n, svc(n, ips[n] ?? `10.0.0.${i + 1}`)])),
    endpointGroups: new Map(names.map((n, i) => [n, group(n, `10.1.0.${i + 1}`)])),
  };
}

const node = (id: string) => ({ id, podName: id, namespace: 'default', nodeName: 'node-a', locality: { zone: 'z1' }, token: 'tok' });

describe('DiscoveryServer', () => {
  let cache: MemorySnapshotCache;
  let registry: SubscriberRegistry;
  let server: DiscoveryServer;
  let address: string;
  let clients: DiscoveryTestClient[];
  let closed: StreamEndReason[];
  let logs: Array<{ level: string; msg: string; obj: object }>;
  let rejected: string[];

  const publish = (m: MeshModel): void => {
    cache.set(buildSnapshot(m, cache.current(), Date.now()).snapshot);
  };
  const connect = (id: string | undefined): DiscoveryTestClient => {
    const client = DiscoveryTestClient.connect(address, id === undefined ? undefined : node(id));
    clients.push(client);
    return client;
  };

  beforeEach(async () => {
    cache = new MemorySnapshotCache();
    registry = new SubscriberRegistry();
    closed = [];
    logs = [];
    rejected = [];
    clients = [];
    const log = (level: string) => (obj: object, msg: string) => void logs.push({ level, msg, obj });
    const logger: DiscoveryLogger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
    publish(model());
    server = new DiscoveryServer({
      cache, registry, controlPlaneId: 'cp-test', maxReceiveMessageBytes: 64 * 1024, logger,
      events: { streamClosed: (e) => closed.push(e.reason), requestRejected: (e) => rejected.push(e.reason) },
    });
    address = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
  });

  afterEach(async () => {
    for (const client of clients) client.close();
    await server.shutdown(1000);
  });

  it('serves SotW and delta subscriptions with the subscribed resources', async () => {
    const sotw = connect('sotw');
    sotw.subscribe(TYPE_SERVICE, { mode: 'sotw', names: ['default/*'] });
    const services = await sotw.next(TYPE_SERVICE);
    expect(services).toMatchObject({ mode: Mode.MODE_STATE_OF_THE_WORLD, controlPlane: 'cp-test', versionInfo: expect.any(String) });
    const decoded = decodeResources(TYPE_SERVICE, services);
    expect([...decoded.keys()]).toEqual(['default/api', 'default/web']);
    expect(decoded.get('default/web')!.body.clusterIps).toEqual(['10.0.0.1']);

    const delta = connect('delta');
    delta.subscribe(TYPE_ENDPOINT_GROUP, { mode: 'delta' });
    const groups = await delta.next(TYPE_ENDPOINT_GROUP);
    expect(groups.mode).toBe(Mode.MODE_DELTA);
    expect([...decodeResources(TYPE_ENDPOINT_GROUP, groups).keys()]).toEqual(['default/api', 'default/web', 'shop/cart']);
    expect(decodeResources(TYPE_ENDPOINT_GROUP, groups).get('shop/cart')!.body.endpoints[0]!.address).toBe('10.1.0.3');

    const unknown = connect('nowhere');
    unknown.subscribe(TYPE_SERVICE, { mode: 'sotw', names: ['nowhere/*'] });
    expect((await unknown.next(TYPE_SERVICE)).resources).toEqual([]);
  });

  it('gives every stream its own response, written at the same time as others (the serializer reuses one buffer)', async () => {
    const scopes = [['default/*'], ['shop/*'], []];
    const subs = scopes.map((names, i) => {
      const client = connect(`s${i}`);
      client.subscribe(TYPE_SERVICE, { mode: 'sotw', names });
      client.subscribe(TYPE_ENDPOINT_GROUP, { mode: 'sotw', names });
      return client;
    });
    const expected = [['default/api', 'default/web'], ['shop/cart'], ['default/api', 'default/web', 'shop/cart']];
    for (const [i, client] of subs.entries()) {
      for (const typeUrl of [TYPE_SERVICE, TYPE_ENDPOINT_GROUP] as const) {
        const response = await client.next(typeUrl);
        expect([...decodeResources(typeUrl, response).keys()]).toEqual(expected[i]);
        client.ack(response);
      }
    }
    publish(model({ 'shop/cart': '10.0.0.77', 'default/web': '10.0.0.78' }));
    const changed = await Promise.all(subs.map((client) => client.next(TYPE_SERVICE)));
    expect(changed.map((r) => [...decodeResources(TYPE_SERVICE, r).values()].map((x) => x.body.clusterIps[0]))).toEqual([
      ['10.0.0.2', '10.0.0.78'], ['10.0.0.77'], ['10.0.0.2', '10.0.0.78', '10.0.0.77'],
    ]);
  });

  it('delivers a change as a delta carrying only the changed resource', async () => {
    const client = connect('delta');
    client.subscribe(TYPE_SERVICE, { mode: 'delta' });
    client.ack(await client.next(TYPE_SERVICE));
    publish(model({ 'shop/cart': '10.0.0.99' }));
    const change = await client.next(TYPE_SERVICE);
    expect(change.resources.map((r) => r.name)).toEqual(['shop/cart']);
    expect(change.removedResources).toEqual([]);
    client.ack(change);
    publish(model({ 'shop/cart': '10.0.0.99' }, ['default/api']));
    const removal = await client.next(TYPE_SERVICE);
    expect(removal).toMatchObject({ resources: [], removedResources: ['default/api'] });
  });

  it('shows a NACK in the registry and does not resend the rejected version', async () => {
    const client = connect('nacker');
    client.subscribe(TYPE_SERVICE, { mode: 'delta' });
    client.ack(await client.next(TYPE_SERVICE));
    publish(model({ 'default/web': '10.0.0.50' }));
    const rejectedResponse = await client.next(TYPE_SERVICE);
    client.nack(rejectedResponse, 'cannot apply', [{ name: 'default/web', message: 'bad address' }]);
    publish(model({ 'default/web': '10.0.0.50', 'default/api': '10.0.0.60' }));
    // Had the server resent the rejected version, it would arrive first.
    const next = await client.next(TYPE_SERVICE);
    expect(next.resources.map((r) => r.name)).toEqual(['default/api']);
    const [entry] = registry.toJSON();
    expect(entry!.node!.id).toBe('nacker');
    expect(entry!.types[TYPE_SERVICE]!.lastNack).toMatchObject({
      nonce: rejectedResponse.nonce, message: 'cannot apply', resourceErrors: [{ name: 'default/web', message: 'bad address' }],
    });
    expect(JSON.stringify(registry.toJSON())).not.toContain('tok');
  });

  it('sends a reconnecting client only what changed since the versions it holds', async () => {
    const first = connect('sidecar');
    first.subscribe(TYPE_SERVICE, { mode: 'delta' });
    const all = await first.next(TYPE_SERVICE);
    const held = Object.fromEntries(all.resources.map((r) => [r.name!, r.version!]));
    first.close();
    publish(model({ 'default/api': '10.0.0.77' }));

    const again = connect('sidecar');
    again.subscribe(TYPE_SERVICE, { mode: 'delta', initialVersions: held });
    const diff = await again.next(TYPE_SERVICE);
    expect(diff.resources.map((r) => r.name)).toEqual(['default/api']);
  });

  it('refuses a stream whose first request has no node, with a clear status', async () => {
    const client = connect(undefined);
    client.subscribe(TYPE_SERVICE, { mode: 'sotw' });
    const status = await client.status;
    expect(status.code).toBe(Status.INVALID_ARGUMENT);
    expect(status.details).toContain('first request of a stream must carry node');
    expect(rejected).toHaveLength(1);
    await expect(client.next(TYPE_SERVICE, 100)).rejects.toThrow('stream ended');
  });

  it('ends a stream that sends garbage bytes, and keeps serving the others', async () => {
    const healthy = connect('healthy');
    healthy.subscribe(TYPE_SERVICE, { mode: 'delta' });
    healthy.ack(await healthy.next(TYPE_SERVICE));

    const Raw = makeGenericClientConstructor({
      stream: { ...discoveryService.stream, requestSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b },
    }, 'raw');
    const raw = new Raw(address, credentials.createInsecure());
    const call = (raw as unknown as { stream(): ClientDuplexStream<Buffer, Buffer> }).stream();
    const status = new Promise<StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => {});
    call.write(Buffer.from([0x0a, 0xff, 0xff, 0x03, 0x01]));
    expect((await status).code).toBe(Status.INVALID_ARGUMENT);
    expect((await status).details).toContain('cannot decode DiscoveryRequest');
    raw.close();

    publish(model({ 'default/web': '10.0.0.8' }));
    expect((await healthy.next(TYPE_SERVICE)).resources.map((r) => r.name)).toEqual(['default/web']);
    expect(logs.some((l) => l.level === 'warn' && l.msg === 'discovery request rejected')).toBe(true);
  });

  it('ends a stream that sends a message over the size limit, and keeps serving the others', async () => {
    const healthy = connect('healthy');
    healthy.subscribe(TYPE_SERVICE, { mode: 'delta' });
    healthy.ack(await healthy.next(TYPE_SERVICE));

    const big = connect('big');
    big.subscribe(TYPE_SERVICE, { mode: 'delta', names: ['default/web'] });
    big.ack(await big.next(TYPE_SERVICE));
    expect(registry.size).toBe(2);
    big.subscribe(TYPE_SERVICE, { mode: 'delta', names: Array.from({ length: 5000 }, (_, i) => `default/name-${i}`) });
    expect((await big.status).code).toBe(Status.RESOURCE_EXHAUSTED);
    await vi.waitFor(() => expect(registry.size).toBe(1));
    expect(cache.watcherCount).toBe(1);

    publish(model({ 'default/web': '10.0.0.8' }));
    expect((await healthy.next(TYPE_SERVICE)).resources.map((r) => r.name)).toEqual(['default/web']);
  });

  it('shuts down cleanly: streams end with UNAVAILABLE and nothing is left behind', async () => {
    const a = connect('a');
    a.subscribe(TYPE_SERVICE, { mode: 'sotw' });
    a.ack(await a.next(TYPE_SERVICE));
    const b = connect('b');
    b.subscribe(TYPE_ENDPOINT_GROUP, { mode: 'delta' });
    await b.next(TYPE_ENDPOINT_GROUP);
    await server.shutdown(5000);
    for (const client of [a, b]) {
      const status = await client.status;
      expect(status).toMatchObject({ code: Status.UNAVAILABLE, details: 'control plane shutting down' });
    }
    expect(registry.size).toBe(0);
    expect(cache.watcherCount).toBe(0);
    expect(server.streamCount).toBe(0);
    expect(closed).toEqual(['shutdown', 'shutdown']);
  });
});
