// XdsClient against a scripted discovery server: the protocol details a real control plane
// cannot be made to show (invalid resources, dropped streams at chosen moments).
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { status as Status } from '@grpc/grpc-js';
import {
  encodeResource, Mode, TYPE_ENDPOINT_GROUP, TYPE_SERVICE,
  type EncodedResource, type EndpointGroupInit, type ServiceInit,
} from '@skein/protocol';
import { eventually, FakeDiscoveryServer } from '@skein/testkit';
import type { NodeIdentity } from '../identity.js';
import { MeshConfig } from './mesh-config.js';
import { XdsClient, type DiscoveryScope } from './xds-client.js';

const identity: NodeIdentity = {
  id: 'client-1.demo', podName: 'client-1', namespace: 'demo', podIp: '10.1.0.5', nodeName: 'node-a',
  zone: 'zone-a', region: 'region-1', labels: { app: 'client' }, token: 'secret-token', adminAddress: '10.1.0.5:15000',
};

const svc = (name: string): EncodedResource => encodeResource(TYPE_SERVICE, name, {
  name, namespace: name.split('/')[0], clusterIps: ['10.96.0.10'], ports: [{ name: 'http', port: 80 }],
} satisfies ServiceInit);
const group = (name: string, ...addresses: string[]): EncodedResource => encodeResource(TYPE_ENDPOINT_GROUP, name, {
  name, namespace: name.split('/')[0], service: name.split('/')[1],
  endpoints: addresses.map((address) => ({ address, ready: true, ports: [{ name: 'http', port: 8080 }] })),
} satisfies EndpointGroupInit);

describe('XdsClient (scripted server)', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(scope: DiscoveryScope = 'all'): Promise<{ server: FakeDiscoveryServer; config: MeshConfig; client: XdsClient }> {
    const server = new FakeDiscoveryServer();
    await server.start();
    cleanups.push(() => server.stop());
    const config = new MeshConfig();
    const client = new XdsClient({ address: server.address, identity, config, scope, backoff: { initialMs: 20, maxMs: 200 } });
    cleanups.push(() => client.close());
    client.start();
    await eventually(() => server.of(0).length === 2);
    return { server, config, client };
  }

  /** Sends a good Service and EndpointGroup for demo/web and waits for both ACKs. */
  async function serveWeb(server: FakeDiscoveryServer, call = 0): Promise<void> {
    for (const nonce of [server.send(call, TYPE_SERVICE, [svc('demo/web')]), server.send(call, TYPE_ENDPOINT_GROUP, [group('demo/web', '10.0.0.1')])]) {
      expect((await server.answerTo(nonce)).errorDetail).toBeFalsy();
    }
  }

  it('opens with the node and a delta wildcard subscription for both types, then ACKs and becomes ready', async () => {
    const { server, config, client } = await setup();
    const [first, second] = server.of(0);
    expect(first!.node).toMatchObject({
      id: 'client-1.demo', podName: 'client-1', namespace: 'demo', nodeName: 'node-a',
      locality: { zone: 'zone-a', region: 'region-1' }, labels: { app: 'client' }, token: '',
      adminAddress: '10.1.0.5:15000',
    });
    // The token travels in call metadata (checked before any request), not in the Node.
    expect(server.calls[0]!.metadata.get('authorization')).toEqual(['Bearer secret-token']);
    expect(first!.node!.agentVersion).not.toBe('');
    expect(second!.node).toBeFalsy();
    expect([first!.typeUrl, second!.typeUrl]).toEqual([TYPE_SERVICE, TYPE_ENDPOINT_GROUP]);
    for (const request of [first!, second!]) {
      expect(request.mode).toBe(Mode.MODE_DELTA);
      expect(request.resourceNamesSubscribe).toEqual(['*']);
    }
    expect(config.ready).toBe(false);
    await serveWeb(server);
    expect(config.ready).toBe(true);
    expect(config.endpointGroup('demo/web')?.endpoints[0]?.address).toBe('10.0.0.1');
    expect(client.status()).toMatchObject({ connected: true, controlPlane: 'fake-1', acked: { [TYPE_SERVICE]: 'snap-1', [TYPE_ENDPOINT_GROUP]: 'snap-2' } });
  });

  it('NACKs an invalid resource with its name and reason, keeps its previous version and applies the rest', async () => {
    const { server, config, client } = await setup();
    await serveWeb(server);
    const goodVersion = config.versions(TYPE_ENDPOINT_GROUP)['demo/web'];
    const nonce = server.send(0, TYPE_ENDPOINT_GROUP, [group('demo/web', 'not-an-ip'), group('demo/api', '10.0.0.9')]);
    const nack = await server.answerTo(nonce);
    expect(nack.errorDetail?.message).toContain('demo/web');
    expect(nack.errorDetail?.resourceErrors).toEqual([{ name: 'demo/web', message: 'endpoint "not-an-ip": address is not an IP address' }]);
    expect(config.endpointGroup('demo/web')?.endpoints.map((e) => e.address)).toEqual(['10.0.0.1']);
    expect(config.versions(TYPE_ENDPOINT_GROUP)['demo/web']).toBe(goodVersion);
    expect(config.endpointGroup('demo/api')?.endpoints[0]?.address).toBe('10.0.0.9');
    const status = client.status();
    expect(status.acked[TYPE_ENDPOINT_GROUP]).toBe('snap-2');
    expect(status.lastNack).toMatchObject({ typeUrl: TYPE_ENDPOINT_GROUP, resources: [{ name: 'demo/web' }] });
    // The stream goes on: a later good version is applied and ACKed.
    const fixed = server.send(0, TYPE_ENDPOINT_GROUP, [group('demo/web', '10.0.0.2')]);
    expect((await server.answerTo(fixed)).errorDetail).toBeFalsy();
    expect(config.endpointGroup('demo/web')?.endpoints[0]?.address).toBe('10.0.0.2');
  });

  it('after a dropped stream keeps the config, reconnects and resumes with the versions it holds', async () => {
    const { server, config, client } = await setup();
    await serveWeb(server);
    const held = { services: config.versions(TYPE_SERVICE), groups: config.versions(TYPE_ENDPOINT_GROUP) };
    server.calls[0]!.emit('error', { code: Status.UNAVAILABLE, details: 'replica going away' });
    await eventually(() => server.of(1).length === 2);
    expect(config.ready).toBe(true);
    expect(config.services().has('demo/web')).toBe(true);
    const [first, second] = server.of(1);
    expect(first!.node?.id).toBe('client-1.demo');
    expect(first!.initialResourceVersions).toEqual(held.services);
    expect(second!.initialResourceVersions).toEqual(held.groups);
    expect(client.status()).toMatchObject({ reconnects: 1, lastError: expect.stringContaining('replica going away') });
    // The new replica sends only what changed: a removal.
    expect((await server.answerTo(server.send(1, TYPE_SERVICE, [], ['demo/web']))).errorDetail).toBeFalsy();
    expect(config.services().has('demo/web')).toBe(false);
  });

  it('on-demand scope subscribes a wanted name for both types and marks it answered, present or absent', async () => {
    const { server, config } = await setup('on-demand');
    expect(server.of(0).map((r) => r.resourceNamesSubscribe)).toEqual([[], []]);
    server.send(0, TYPE_SERVICE, []);
    server.send(0, TYPE_ENDPOINT_GROUP, []);
    await eventually(() => config.ready);
    config.want('demo/web');
    config.want('demo/gone');
    const subscribes = await eventually(() => {
      const found = server.of(0).filter((r) => r.resourceNamesSubscribe.length > 0 && !r.responseNonce);
      return found.length === 2 ? found : undefined;
    });
    expect(subscribes.map((r) => [r.typeUrl, r.resourceNamesSubscribe])).toEqual([
      [TYPE_SERVICE, ['demo/web', 'demo/gone']], [TYPE_ENDPOINT_GROUP, ['demo/web', 'demo/gone']],
    ]);
    expect(config.answered('demo/web')).toBe(false);
    server.send(0, TYPE_SERVICE, [svc('demo/web')], ['demo/gone']);
    server.send(0, TYPE_ENDPOINT_GROUP, [group('demo/web', '10.0.0.1')], ['demo/gone']);
    await eventually(() => config.answered('demo/web') && config.answered('demo/gone'));
    expect(config.services().has('demo/web')).toBe(true);
    expect(config.services().has('demo/gone')).toBe(false);
  });

  it('namespace scope subscribes its namespace and asks only for names outside it', async () => {
    const { server, config } = await setup('namespace');
    expect(server.of(0)[0]!.resourceNamesSubscribe).toEqual(['demo/*']);
    await serveWeb(server);
    config.want('demo/other');
    config.want('shop/cart');
    const subscribe = await eventually(() => server.of(0).find((r) => r.resourceNamesSubscribe.length > 0 && r !== server.of(0)[0] && r !== server.of(0)[1]));
    expect(subscribe.resourceNamesSubscribe).toEqual(['shop/cart']);
    expect(config.answered('demo/other')).toBe(true);
  });

  it('keeps retrying a refused address without throwing, keeps the config, and close() ends everything', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const config = new MeshConfig();
    config.apply(TYPE_SERVICE, { resources: [{ name: 'demo/web', version: svc('demo/web').version, body: svc('demo/web').body }], removed: [], replace: true });
    config.markReady();
    const client = new XdsClient({ address: `127.0.0.1:${port}`, identity, config, backoff: { initialMs: 10, maxMs: 50 } });
    client.start();
    await eventually(() => client.status().reconnects >= 3);
    expect(client.status()).toMatchObject({ connected: false, lastError: expect.stringContaining('UNAVAILABLE') });
    expect(config.ready).toBe(true);
    expect(config.services().has('demo/web')).toBe(true);
    await client.close();
    const reconnects = client.status().reconnects;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(client.status().reconnects).toBe(reconnects);
  });

  it('close() ends the stream and the channel, leaving no socket or timer behind', async () => {
    const server = new FakeDiscoveryServer();
    await server.start();
    cleanups.push(() => server.stop());
    const handles = (): string[] => process.getActiveResourcesInfo().filter((h) => h !== 'PipeWrap').sort();
    const before = handles();
    const client = new XdsClient({ address: server.address, identity, config: new MeshConfig(), backoff: { initialMs: 10, maxMs: 50 } });
    client.start();
    await eventually(() => server.of(0).length === 2);
    expect(handles().length).toBeGreaterThan(before.length);
    await client.close();
    await eventually(() => JSON.stringify(handles()) === JSON.stringify(before));
    expect(client.status().connected).toBe(false);
  });

  it('refuses an identity without an id, and scope "namespace" without a namespace', () => {
    const config = new MeshConfig();
    expect(() => new XdsClient({ address: 'x:1', identity: { ...identity, id: '' }, config })).toThrow(/non-empty id/);
    expect(() => new XdsClient({ address: 'x:1', identity: { ...identity, namespace: '' }, config, scope: 'namespace' })).toThrow(/namespace/);
  });
});
