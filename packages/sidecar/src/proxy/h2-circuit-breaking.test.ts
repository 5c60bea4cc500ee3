// Circuit breaking of h2c streams: at most `maxRequestsPerEndpoint` streams in flight per
// endpoint; a stream for a full endpoint goes to another one; when all are full it is answered
// 503 SKEIN_ERR_OVERFLOW (gRPC: UNAVAILABLE). Counters return to 0.
import { connect, createServer, type ClientHttp2Session, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDataplane, waitFor } from './fake-dataplane.test-helper.js';
import { OutboundProxy } from './outbound-proxy.js';

interface Holding {
  readonly name: string;
  readonly server: Http2Server;
  readonly address: string;
  readonly port: number;
  readonly held: ServerHttp2Stream[];
}

async function holding(name: string, address: string): Promise<Holding> {
  const server = createServer();
  const held: ServerHttp2Stream[] = [];
  server.on('stream', (stream) => {
    stream.on('error', () => undefined);
    held.push(stream);
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  return { name, server, address, port: (server.address() as AddressInfo).port, held };
}

function release(b: Holding): void {
  for (const stream of b.held.splice(0)) {
    if (stream.closed) continue;
    stream.respond({ ':status': 200 });
    stream.end(b.name);
  }
}

function get(session: ClientHttp2Session, headers: Record<string, string> = {}): Promise<{ status: number; error?: string; grpcStatus?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'GET', ':path': '/', ':authority': 'held.demo', ...headers });
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => {
      stream.on('data', (chunk: string) => (body += chunk));
      stream.on('end', () => resolve({ status: Number(h[':status']), error: h['x-skein-error'] as string | undefined, grpcStatus: h['grpc-status'] as string | undefined, body }));
    });
    stream.on('error', reject);
  });
}

describe('OutboundProxy: circuit breaking of h2c streams', () => {
  const dataplane = new FakeDataplane();
  let a: Holding;
  let b: Holding;
  let proxy: OutboundProxy;
  let session: ClientHttp2Session;

  beforeAll(async () => {
    a = await holding('a', '127.0.0.2');
    b = await holding('b', '127.0.0.3');
    dataplane.set('held.demo', 80, [a, b]);
    proxy = new OutboundProxy({ dataplane, maxRequestsPerEndpoint: 1 });
    const port = await proxy.listen('127.0.0.1', 0);
    session = connect(`http://127.0.0.1:${port}`);
  });

  afterAll(async () => {
    session.close();
    await proxy.close(200);
    for (const s of [a, b]) await new Promise((resolve) => s.server.close(resolve));
  });

  const counters = (): Array<{ active: number; overflows: number }> => {
    const stats = proxy.stats()['demo/held'] ?? {};
    return [a, b].map((e) => stats[`${e.address}:${e.port}`] ?? { active: 0, overflows: 0 });
  };

  it('overflows to the free endpoint, then answers 503 SKEIN_ERR_OVERFLOW when all are full', async () => {
    const first = get(session);
    const second = get(session);
    await waitFor(() => a.held.length === 1 && b.held.length === 1, 'one stream held on each endpoint');
    expect(counters().map((c) => c.active)).toEqual([1, 1]);

    const rejected = await get(session);
    expect(rejected).toMatchObject({ status: 503, error: 'SKEIN_ERR_OVERFLOW' });
    expect(rejected.body).toBe('skein: every endpoint of held.demo:80 is at its request limit\n');
    const grpc = await get(session, { 'content-type': 'application/grpc' });
    expect(grpc).toMatchObject({ status: 200, grpcStatus: '14', error: 'SKEIN_ERR_OVERFLOW' });
    expect(counters().reduce((n, c) => n + c.overflows, 0)).toBe(4);
    expect(dataplane.reports.filter((r) => r.outcome !== 'success')).toEqual([]);

    release(a);
    release(b);
    expect((await Promise.all([first, second])).map((r) => r.body).sort()).toEqual(['a', 'b']);
    await waitFor(() => counters().every((c) => c.active === 0), 'counters back to 0');
    // With one endpoint busy, the next stream goes to the other whichever the picker offers.
    const held = get(session);
    await waitFor(() => a.held.length + b.held.length === 1, 'one held');
    const busy = a.held.length === 1 ? a : b;
    const free = busy === a ? b : a;
    const next = get(session);
    await waitFor(() => free.held.length === 1, 'the next stream on the free endpoint');
    release(a);
    release(b);
    expect((await Promise.all([held, next])).map((r) => r.body).sort()).toEqual(['a', 'b']);
  });
});
