// Integration: a real DiscoveryServer with an authenticator and a Node locality lookup, and
// real protocol clients over sockets.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { status as Status } from '@grpc/grpc-js';
import { TYPE_ENDPOINT_GROUP, TYPE_SERVICE, type Node, type ServiceInit } from '@skein/protocol';
import { DiscoveryTestClient } from '@skein/testkit';
import type { AuthClaim, AuthDecision, StreamAuthenticator } from '../auth/stream-auth.js';
import { buildSnapshot } from '../snapshot/snapshot.js';
import { MemorySnapshotCache } from '../snapshot/snapshot-cache.js';
import { SubscriberRegistry } from '../snapshot/subscriber-registry.js';
import type { DiscoveryLogger, DiscoveryEvents } from './discovery-events.js';
import { CONTROL_PLANE_HEADER, DiscoveryServer } from './discovery-server.js';

const svc = (name: string): ServiceInit => ({ name, namespace: 'shop', clusterIps: ['10.0.0.1'], ports: [{ name: 'http', port: 80 }] });
const node = (pod: string, extra: Partial<Node> = {}): Node => ({ id: `${pod}.shop`, podName: pod, namespace: 'shop', nodeName: 'node-a', ...extra });

/** Admits token "good" for pod web-1 only; "slow" waits for release(); "down" cannot be checked. */
class ScriptedAuthenticator implements StreamAuthenticator {
  readonly mode = 'scripted';
  readonly seen: Array<{ token: string | undefined; claim: AuthClaim }> = [];
  private releases: Array<() => void> = [];

  release(): void {
    for (const release of this.releases.splice(0)) release();
  }

  async authenticate(token: string | undefined, claim: AuthClaim): Promise<AuthDecision> {
    this.seen.push({ token, claim });
    if (token === 'slow') await new Promise<void>((resolve) => this.releases.push(resolve));
    if (token === 'down') return { type: 'refuse', status: 'unavailable', reason: 'review-failed', message: 'cannot review the token: 503' };
    if (token !== 'good' && token !== 'slow') return { type: 'refuse', status: 'unauthenticated', reason: token ? 'invalid-token' : 'no-token', message: 'the token is not valid' };
    if (claim.pod !== 'web-1') return { type: 'refuse', status: 'permission-denied', reason: 'pod-mismatch', message: `the token is for pod "shop/web-1", the node claims pod "shop/${claim.pod}"` };
    return { type: 'allow', subject: 'system:serviceaccount:shop:web pod shop/web-1' };
  }
}

describe('DiscoveryServer with authentication and Node localities', () => {
  let cache: MemorySnapshotCache;
  let registry: SubscriberRegistry;
  let server: DiscoveryServer;
  let auth: ScriptedAuthenticator;
  let address: string;
  let clients: DiscoveryTestClient[];
  let refused: Array<Parameters<DiscoveryEvents['authRefused']>[0]>;
  let logs: Array<{ level: string; msg: string; obj: object }>;
  const localities = new Map([['node-a', { region: 'eu', zone: 'eu-1a' }]]);

  const connect = (n: Node | undefined, token?: string): DiscoveryTestClient => {
    const client = DiscoveryTestClient.connect(address, n, token === undefined ? {} : { token });
    clients.push(client);
    return client;
  };

  beforeEach(async () => {
    cache = new MemorySnapshotCache();
    cache.set(buildSnapshot({ services: new Map([['shop/web', svc('shop/web')], ['shop/cart', svc('shop/cart')]]), endpointGroups: new Map() }, undefined, 0).snapshot);
    registry = new SubscriberRegistry();
    auth = new ScriptedAuthenticator();
    clients = [];
    refused = [];
    logs = [];
    const log = (level: string) => (obj: object, msg: string) => void logs.push({ level, msg, obj });
    const logger: DiscoveryLogger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
    server = new DiscoveryServer({
      cache, registry, controlPlaneId: 'cp-a', logger, authenticator: auth,
      localityOf: (name) => localities.get(name), events: { authRefused: (e) => refused.push(e) },
    });
    address = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
  });

  afterEach(async () => {
    for (const client of clients) client.close();
    await server.shutdown(1000);
  });

  it('admits a stream whose metadata token proves its pod, and names the replica in the headers', async () => {
    const client = connect(node('web-1'), 'good');
    client.subscribe(TYPE_SERVICE, { mode: 'delta' });
    const response = await client.next(TYPE_SERVICE);
    expect(response.resources.map((r) => r.name)).toEqual(['shop/cart', 'shop/web']);
    expect((await client.headers).get(CONTROL_PLANE_HEADER)).toEqual(['cp-a']);
    expect(auth.seen).toEqual([{ token: 'good', claim: { pod: 'web-1', namespace: 'shop', nodeName: 'node-a' } }]);
    expect(logs.find((l) => l.msg === 'subscriber connected')?.obj).toMatchObject({ auth: 'system:serviceaccount:shop:web pod shop/web-1' });
  });

  it('falls back to the Node\'s token field when the metadata has none', async () => {
    const client = connect(node('web-1', { token: 'good' }));
    client.subscribe(TYPE_SERVICE, { mode: 'delta' });
    await client.next(TYPE_SERVICE);
    expect(auth.seen[0]!.token).toBe('good');
  });

  it('refuses with UNAUTHENTICATED, PERMISSION_DENIED or UNAVAILABLE, logs the claimed pod and never registers the stream', async () => {
    const cases: Array<[string | undefined, string, number, string]> = [
      [undefined, 'web-1', Status.UNAUTHENTICATED, 'no-token'],
      ['forged', 'web-1', Status.UNAUTHENTICATED, 'invalid-token'],
      ['good', 'payments-0', Status.PERMISSION_DENIED, 'pod-mismatch'],
      ['down', 'web-1', Status.UNAVAILABLE, 'review-failed'],
    ];
    for (const [token, pod, code, reason] of cases) {
      const client = connect(node(pod), token);
      client.subscribe(TYPE_SERVICE, { mode: 'delta' });
      const status = await client.status;
      expect({ code: status.code, reason: refused.at(-1)?.reason }).toEqual({ code, reason });
      expect(client.pending).toHaveLength(0);
    }
    expect((await clients[2]!.status).details).toBe('the token is for pod "shop/web-1", the node claims pod "shop/payments-0"');
    expect(refused[2]).toMatchObject({ pod: 'shop/payments-0', reason: 'pod-mismatch' });
    const lines = logs.filter((l) => l.msg.startsWith('discovery stream refused'));
    expect(lines.map((l) => l.level)).toEqual(['warn', 'warn', 'warn', 'error']);
    expect(lines[1]).toMatchObject({ msg: 'discovery stream refused for pod shop/web-1: the token is not valid', obj: { pod: 'shop/web-1', reason: 'invalid-token' } });
    expect(JSON.stringify(logs)).not.toContain('forged');
    expect(registry.size).toBe(0);
  });

  it('holds requests that arrive during the check, sends nothing before it, then answers them in order', async () => {
    const client = connect(node('web-1'), 'slow');
    client.subscribe(TYPE_SERVICE, { mode: 'delta' });
    client.subscribe(TYPE_ENDPOINT_GROUP, { mode: 'delta' });
    await expect(client.next(undefined, 200)).rejects.toThrow('no discovery response within 200 ms');
    expect(registry.size).toBe(0);
    auth.release();
    expect((await client.next(TYPE_SERVICE)).resources).toHaveLength(2);
    expect((await client.next(TYPE_ENDPOINT_GROUP)).resources).toHaveLength(0);
    expect(registry.size).toBe(1);
  });

  it('sends the subscriber its Node\'s locality, and on a resumed stream only when it does not hold it', async () => {
    const first = connect(node('web-1'), 'good');
    first.subscribe(TYPE_SERVICE, { mode: 'delta' });
    const all = await first.next(TYPE_SERVICE);
    expect(all.nodeLocality).toMatchObject({ region: 'eu', zone: 'eu-1a' });
    const held = Object.fromEntries(all.resources.map((r) => [r.name!, r.version!]));

    // Holds every resource and already claims the locality: nothing at all is sent.
    const resumed = connect(node('web-1', { locality: { region: 'eu', zone: 'eu-1a' } }), 'good');
    resumed.subscribe(TYPE_SERVICE, { mode: 'delta', initialVersions: held });
    await expect(resumed.next(TYPE_SERVICE, 300)).rejects.toThrow('no skein.v1.Service response within 300 ms');

    // Holds every resource but not the locality: one empty response carries it.
    const unaware = connect(node('web-1', { locality: { zone: 'flag-zone' } }), 'good');
    unaware.subscribe(TYPE_SERVICE, { mode: 'delta', initialVersions: held });
    const told = await unaware.next(TYPE_SERVICE);
    expect(told).toMatchObject({ resources: [], removedResources: [], nodeLocality: { region: 'eu', zone: 'eu-1a' } });

    // A Node the control plane does not know: no locality, nothing owed.
    const elsewhere = connect(node('web-1', { nodeName: 'node-z' }), 'good');
    elsewhere.subscribe(TYPE_SERVICE, { mode: 'delta', initialVersions: held });
    await expect(elsewhere.next(TYPE_SERVICE, 300)).rejects.toThrow('within 300 ms');
  });
});
