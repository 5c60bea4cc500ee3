// MeshDispatcher with hashing and least-request pickers: the request hash comes from the
// request's header or cookie, and least-request counts return to zero after requests end.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeastRequestPicker } from '../balancer/least-request.js';
import { RingHashPicker } from '../balancer/ring-hash.js';
import type { Dataplane, Destination, HashKeySource, Picker } from '../dataplane.js';
import { waitFor } from '../proxy/fake-dataplane.test-helper.js';
import { MeshDispatcher } from './mesh-dispatcher.js';

interface Backend { readonly name: string; readonly port: number; readonly server: Server; readonly held: ServerResponse[] }

async function startBackend(name: string): Promise<Backend> {
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    if (req.url === '/hold') {
      held.push(res);
      res.writeHead(200);
      res.write('held');
      return;
    }
    res.end(name);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { name, port: (server.address() as AddressInfo).port, server, held };
}

function dataplaneOf(picker: Picker, hashKey?: HashKeySource): Dataplane {
  const destination: Destination = { type: 'service', service: 'demo/web', servicePort: 80, portName: 'http', appProtocol: 'http', picker, ...(hashKey ? { hashKey } : {}) };
  return {
    ready: true,
    resolve: () => destination,
    whenKnown: () => Promise.resolve(),
    report: () => undefined,
    onChange: () => () => undefined,
  };
}

describe('MeshDispatcher: hashing and least request', () => {
  const backends: Backend[] = [];
  beforeAll(async () => {
    for (const name of ['a', 'b', 'c', 'd', 'e']) backends.push(await startBackend(name));
  });
  afterAll(async () => {
    for (const b of backends) {
      b.server.closeAllConnections();
      await new Promise((resolve) => b.server.close(resolve));
    }
  });
  const endpoints = (): Array<{ address: string; port: number; weight: number }> => backends.map((b) => ({ address: '127.0.0.1', port: b.port, weight: 1 }));
  const users = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];

  it.each<[string, HashKeySource, (user: string) => Record<string, string> | string[]]>([
    ['a header (record)', { type: 'header', name: 'x-user' }, (user) => ({ 'X-User': user })],
    ['a cookie (flat list)', { type: 'cookie', name: 'sid' }, (user) => ['cookie', `a=1; sid=${user}`]],
  ])('keeps each user on one endpoint by %s', async (_label, hashKey, headers) => {
    const dispatcher = new MeshDispatcher({ dataplane: dataplaneOf(new RingHashPicker(endpoints(), Math.random), hashKey) });
    try {
      const seen = new Map(users.map((u) => [u, new Set<string>()]));
      for (let i = 0; i < 30; i++) {
        for (const user of users) {
          const res = await request('http://web.demo/', { dispatcher, headers: headers(user) });
          seen.get(user)!.add(await res.body.text());
        }
      }
      for (const user of users) expect(seen.get(user)!.size, user).toBe(1);
      expect(new Set([...seen.values()].map((s) => [...s][0])).size).toBeGreaterThan(1);
    } finally {
      await dispatcher.close();
    }
  });

  it('counts least-request attempts and returns to zero after completion and abort', async () => {
    const picker = new LeastRequestPicker(endpoints(), Math.random);
    const total = (): number => backends.reduce((sum, b) => sum + picker.outstandingOf(`127.0.0.1:${b.port}`), 0);
    const dispatcher = new MeshDispatcher({ dataplane: dataplaneOf(picker) });
    try {
      await Promise.all(Array.from({ length: 10 }, async () => (await request('http://web.demo/', { dispatcher })).body.text()));
      expect(total()).toBe(0);
      const controllers = Array.from({ length: 4 }, () => new AbortController());
      const pending = controllers.map((c) => request('http://web.demo/hold', { dispatcher, signal: c.signal }).then((r) => r.body.text()).catch(() => 'aborted'));
      await waitFor(() => backends.reduce((n, b) => n + b.held.length, 0) === 4, 'four held requests');
      expect(total()).toBe(4);
      for (const c of controllers.slice(0, 2)) c.abort();
      for (const b of backends) for (const res of b.held.splice(0)) res.end();
      await Promise.all(pending);
      await waitFor(() => total() === 0, 'outstanding back to zero');
    } finally {
      await dispatcher.close();
    }
  });
});
