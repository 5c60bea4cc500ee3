// Circuit breaking of the HTTP/1.1 forwarder: per-endpoint limits of active and pending
// requests, overflow to another endpoint, 503 SKEIN_ERR_OVERFLOW when every endpoint is full,
// and counters that return to 0 when requests finish or are aborted.
import { createServer, request, type ClientRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noopLogger } from '../logger.js';
import { ClusterStats } from './cluster-stats.js';
import { FakeDataplane, waitFor } from './fake-dataplane.test-helper.js';
import { HttpForwarder } from './http-forwarder.js';
import { OutboundProxy } from './outbound-proxy.js';

interface Holding {
  readonly server: Server;
  readonly address: string;
  readonly port: number;
  readonly name: string;
  /** Requests received and not yet answered. */
  readonly held: ServerResponse[];
  total: number;
  /** Answers every held request. */
  release(): void;
}

/** A backend that holds every request until released. */
async function holding(name: string, address: string): Promise<Holding> {
  const held: ServerResponse[] = [];
  const b = { held, total: 0, name } as unknown as Holding & { total: number };
  const server = createServer((req, res) => {
    b.total++;
    req.resume();
    held.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  Object.assign(b, {
    server, address, port: (server.address() as AddressInfo).port,
    release: () => {
      for (const res of held.splice(0)) res.end(name);
    },
  });
  return b;
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

interface Sent {
  readonly req: ClientRequest;
  readonly reply: Promise<{ status: number; error?: string; body: string }>;
}

/** Sends GET `url` through the proxy on `port` (absolute-form), on its own connection. */
function send(port: number, url: string): Sent {
  const req = request({ host: '127.0.0.1', port, path: url, agent: false });
  const reply = new Promise<{ status: number; error?: string; body: string }>((resolve, reject) => {
    req.on('response', (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, error: res.headers['x-skein-error'] as string | undefined, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  req.end();
  return { req, reply };
}

describe('OutboundProxy: circuit breaking', () => {
  const dataplane = new FakeDataplane();
  let a: Holding;
  let b: Holding;
  let proxy: OutboundProxy;
  let port: number;

  beforeAll(async () => {
    a = await holding('a', '127.0.0.2');
    b = await holding('b', '127.0.0.3');
    dataplane.set('held.demo', 80, [a, b]);
    proxy = new OutboundProxy({ dataplane, maxRequestsPerEndpoint: 2 });
    port = await proxy.listen('127.0.0.1', 0);
  });

  afterAll(async () => {
    await proxy.close(500);
    await Promise.all([closeServer(a.server), closeServer(b.server)]);
  });

  const counters = (): Array<{ active: number; pending: number; overflows: number }> => {
    const stats = proxy.stats()['demo/held'] ?? {};
    return [a, b].map((e) => stats[`${e.address}:${e.port}`] ?? { active: 0, pending: 0, overflows: 0 });
  };

  it('sends a request for a full endpoint to the other one, and answers 503 SKEIN_ERR_OVERFLOW when both are full', async () => {
    // The picker is a round robin over [a, b]: fill a with 2 held requests while b's finish.
    const toA = [send(port, 'http://held.demo/')];
    await waitFor(() => a.held.length === 1, 'first request on a');
    const done = send(port, 'http://held.demo/');
    await waitFor(() => b.held.length === 1, 'second request on b');
    b.release();
    expect((await done.reply).body).toBe('b');
    toA.push(send(port, 'http://held.demo/'));
    await waitFor(() => a.held.length === 2, 'a full');
    const done2 = send(port, 'http://held.demo/');
    await waitFor(() => b.held.length === 1, 'fourth request on b');
    b.release();
    expect((await done2.reply).body).toBe('b');
    await waitFor(() => counters()[1]!.active === 0, 'b idle');

    // The picker offers a, which is full: the request goes to b instead.
    const overflowed = send(port, 'http://held.demo/');
    await waitFor(() => b.held.length === 1, 'overflowed request on b');
    expect(a.held.length).toBe(2);
    expect(counters().map((c) => c.overflows)).toEqual([1, 0]);
    // The round robin offers a again (overflowing to b), then b for this 503 (overflowing to a).
    const toB = [overflowed, send(port, 'http://held.demo/')];
    await waitFor(() => b.held.length === 2, 'b full');
    expect(counters().map((c) => c.active)).toEqual([2, 2]);

    const rejected = await send(port, 'http://held.demo/').reply;
    expect(rejected.status).toBe(503);
    expect(rejected.error).toBe('SKEIN_ERR_OVERFLOW');
    expect(rejected.body).toBe('skein: every endpoint of held.demo:80 is at its request limit\n');
    expect(counters().map((c) => c.overflows)).toEqual([3, 1]);
    // Overflow is not an endpoint failure: nothing reaches outlier detection but successes.
    expect(dataplane.reports.filter((r) => r.outcome !== 'success')).toEqual([]);

    a.release();
    b.release();
    expect((await Promise.all(toA.map((s) => s.reply))).map((r) => r.body)).toEqual(['a', 'a']);
    expect((await Promise.all(toB.map((s) => s.reply))).map((r) => r.body)).toEqual(['b', 'b']);
    await waitFor(() => counters().every((c) => c.active === 0 && c.pending === 0), 'counters back to 0');
  });

  it('frees the place of an aborted request', async () => {
    const sent = [0, 1, 2, 3].map(() => send(port, 'http://held.demo/'));
    await waitFor(() => a.held.length === 2 && b.held.length === 2, 'both endpoints full');
    for (const s of sent) {
      s.reply.catch(() => undefined);
      s.req.destroy();
    }
    await waitFor(() => counters().every((c) => c.active === 0 && c.pending === 0), 'counters back to 0 after aborts');
    a.held.splice(0);
    b.held.splice(0);
    const again = send(port, 'http://held.demo/');
    await waitFor(() => a.held.length + b.held.length === 1, 'a new request admitted');
    a.release();
    b.release();
    expect((await again.reply).status).toBe(200);
    await waitFor(() => counters().every((c) => c.active === 0), 'counters back to 0');
  });
});

describe('HttpForwarder: pending-request limit', () => {
  const dataplane = new FakeDataplane();
  const stats = new ClusterStats();
  // One connection per endpoint, so the second request waits in the pool and the third overflows.
  const forwarder = new HttpForwarder({ dataplane, stats, logger: noopLogger, connectTimeoutMs: 1000, maxConnectRetries: 2, maxPendingPerEndpoint: 1, connectionsPerEndpoint: 1 });
  let a: Holding;
  let front: Server;
  let frontPort: number;

  beforeAll(async () => {
    a = await holding('a', '127.0.0.1');
    dataplane.set('one.demo', 80, [a]);
    front = createServer((req, res) => {
      const destination = dataplane.resolve('one.demo', 80);
      if (destination.type !== 'service') throw new Error('one.demo is not a service');
      forwarder.forward(req, res, { destination, what: 'one.demo:80', path: '/' });
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    frontPort = (front.address() as AddressInfo).port;
  });

  afterAll(async () => {
    forwarder.close();
    await Promise.all([closeServer(a.server), closeServer(front)]);
  });

  it('queues up to the limit, then answers 503 SKEIN_ERR_OVERFLOW; pending returns to 0', async () => {
    const key = `${a.address}:${a.port}`;
    const c = (): { active: number; pending: number; overflows: number } => stats.counters('demo/one', key);
    const first = send(frontPort, '/');
    await waitFor(() => a.held.length === 1, 'first request held');
    const second = send(frontPort, '/');
    await waitFor(() => c().pending === 1, 'second request pending');
    expect(c().active).toBe(2);
    const third = await send(frontPort, '/').reply;
    expect(third.status).toBe(503);
    expect(third.error).toBe('SKEIN_ERR_OVERFLOW');
    expect(c().overflows).toBe(1);

    a.release();
    await waitFor(() => a.held.length === 1, 'second request reaches the endpoint');
    expect(c().pending).toBe(0);
    a.release();
    expect((await first.reply).body).toBe('a');
    expect((await second.reply).body).toBe('a');
    await waitFor(() => c().active === 0 && c().pending === 0, 'counters back to 0');

    // An aborted pending request leaves the pool's queue and the counters.
    const holder = send(frontPort, '/');
    await waitFor(() => a.held.length === 1, 'holder held');
    const queued = send(frontPort, '/');
    queued.reply.catch(() => undefined);
    await waitFor(() => c().pending === 1, 'queued request pending');
    queued.req.destroy();
    await waitFor(() => c().pending === 0 && c().active === 1, 'aborted pending request uncounted');
    a.release();
    expect((await holder.reply).status).toBe(200);
    await waitFor(() => c().active === 0, 'counters back to 0');
  });
});
