// The outbound proxy over the real data plane: the Service's load-balancer policy picks the
// picker, hash keys (header, cookie) keep a client on one endpoint, least-request counts
// return to zero after requests end (aborts included).
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LoadBalancer, type EndpointGroupInit, type MeshPolicy, type ServiceInit } from '@skein/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LeastRequestPicker } from '../balancer/least-request.js';
import { createDataplane, type CoreDataplane } from '../dataplane-core.js';
import { StaticConfig } from '../mesh-config.test-helper.js';
import { waitFor } from './fake-dataplane.test-helper.js';
import { OutboundProxy } from './outbound-proxy.js';

interface Backend {
  readonly name: string;
  readonly port: number;
  readonly server: Server;
  /** Requests held open (path /hold) until released. */
  readonly held: ServerResponse[];
}

async function startBackend(name: string): Promise<Backend> {
  const held: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/hold') {
      held.push(res);
      res.writeHead(200);
      res.write('held\n');
      return;
    }
    res.end(name);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { name, port: (server.address() as AddressInfo).port, server, held };
}

const SERVICES: Array<[string, MeshPolicy]> = [
  ['header', { loadBalancer: LoadBalancer.LOAD_BALANCER_RING_HASH, hashKey: { header: 'X-User' } }],
  ['cookie', { loadBalancer: LoadBalancer.LOAD_BALANCER_MAGLEV, hashKey: { cookie: 'session' } }],
  ['least', { loadBalancer: LoadBalancer.LOAD_BALANCER_LEAST_REQUEST }],
];

describe('OutboundProxy: load-balancer policies over the data plane', () => {
  const backends: Backend[] = [];
  let dataplane: CoreDataplane;
  let proxy: OutboundProxy;
  let proxyPort: number;

  beforeAll(async () => {
    for (const name of ['a', 'b', 'c', 'd', 'e']) backends.push(await startBackend(name));
    const services: ServiceInit[] = [];
    const groups: EndpointGroupInit[] = [];
    for (const [name, policy] of SERVICES) {
      const key = `demo/${name}`;
      services.push({ name: key, namespace: 'demo', clusterIps: [], ports: [{ name: 'http', port: 80, targetPortName: 'http' }], policy });
      groups.push({
        name: key, namespace: 'demo', service: name,
        endpoints: backends.map((b) => ({ address: '127.0.0.1', ready: true, serving: true, ports: [{ name: 'http', port: b.port }] })),
      });
    }
    dataplane = createDataplane(new StaticConfig(services, groups), { namespace: 'demo' });
    proxy = new OutboundProxy({ dataplane });
    proxyPort = await proxy.listen('127.0.0.1', 0);
  });

  afterAll(async () => {
    await proxy.close(100);
    dataplane.close();
    for (const b of backends) {
      b.server.closeAllConnections();
      await new Promise((resolve) => b.server.close(resolve));
    }
  });

  function send(url: string, headers: Record<string, string> = {}): Promise<{ body: string; setCookie: string[] }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: proxyPort, path: url, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ body, setCookie: res.headers['set-cookie'] ?? [] }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  const get = async (url: string, headers: Record<string, string> = {}): Promise<string> => (await send(url, headers)).body;

  /** Sends 30 requests per user and returns, per user, the set of backends that answered. */
  async function spread(url: string, users: readonly string[], headers: (user: string) => Record<string, string>): Promise<Map<string, Set<string>>> {
    const seen = new Map<string, Set<string>>(users.map((u) => [u, new Set<string>()]));
    for (let i = 0; i < 30; i++) {
      const answers = await Promise.all(users.map((user) => get(url, headers(user))));
      answers.forEach((answer, j) => seen.get(users[j]!)!.add(answer));
    }
    return seen;
  }

  const users = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];

  it('ring hash on a header keeps each user on one endpoint while users spread', async () => {
    const seen = await spread('http://header.demo/', users, (user) => ({ 'x-user': user }));
    for (const user of users) expect(seen.get(user)!.size, user).toBe(1);
    const used = new Set([...seen.values()].map((s) => [...s][0]));
    expect(used.size).toBeGreaterThan(1);
  });

  it('maglev on a cookie keeps each session on one endpoint while sessions spread', async () => {
    const seen = await spread('http://cookie.demo/', users, (user) => ({ cookie: `theme=dark; session=${user}; lang=en` }));
    for (const user of users) expect(seen.get(user)!.size, user).toBe(1);
    expect(new Set([...seen.values()].map((s) => [...s][0])).size).toBeGreaterThan(1);
    // Without the cookie the picker chooses at random: requests still succeed.
    expect(backends.map((b) => b.name)).toContain(await get('http://cookie.demo/'));
  });

  it('a client without the hash cookie gets one, which keeps its next requests on one endpoint', async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, () => send('http://cookie.demo/', { cookie: 'theme=dark' })));
    const values = clients.map(({ setCookie }) => {
      expect(setCookie).toHaveLength(1);
      expect(setCookie[0]).toMatch(/^session=[0-9a-f]{16}; Path=\/; HttpOnly$/);
      return setCookie[0]!.split(';')[0]!;
    });
    expect(new Set(values).size).toBe(values.length);
    const seen = await spread('http://cookie.demo/', values, (cookie) => ({ cookie: `theme=dark; ${cookie}` }));
    for (const value of values) expect(seen.get(value)!.size, value).toBe(1);
    expect(new Set([...seen.values()].map((s) => [...s][0])).size).toBeGreaterThan(1);
    // A client that has the cookie is not sent another one.
    expect((await send('http://cookie.demo/', { cookie: values[0]! })).setCookie).toEqual([]);
  });

  it('least request counts outstanding requests and returns to zero when they end or abort', async () => {
    const destination = dataplane.resolve('least.demo', 80);
    if (destination.type !== 'service') throw new Error('least.demo did not resolve to a service');
    const picker = destination.picker as LeastRequestPicker;
    const total = (): number => backends.reduce((sum, b) => sum + picker.outstandingOf(`127.0.0.1:${b.port}`), 0);
    // Completed requests leave nothing behind.
    await Promise.all(Array.from({ length: 20 }, () => get('http://least.demo/')));
    expect(total()).toBe(0);
    // Held requests count while in flight, and spread (power of two choices) over endpoints.
    const clients = Array.from({ length: 6 }, () => {
      const req = request({ host: '127.0.0.1', port: proxyPort, path: 'http://least.demo/hold' });
      req.on('error', () => undefined);
      req.end();
      return req;
    });
    await waitFor(() => total() === 6, 'six outstanding requests');
    expect(Math.max(...backends.map((b) => b.held.length))).toBeLessThan(6);
    // Half finish normally, half are aborted by their clients.
    for (const b of backends) for (const res of b.held.splice(0, 1)) res.end();
    for (const req of clients.slice(0, 3)) req.destroy();
    for (const b of backends) for (const res of b.held.splice(0)) res.end();
    await waitFor(() => total() === 0, 'outstanding requests back to zero');
  });
});
