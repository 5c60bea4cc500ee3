// The HTTP/1.1 forwarder's upstream leg on undici: what node's http client did for it and undici
// does differently (Expect, interim responses, header checks, connection reuse), kept as before.
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noopLogger } from '../logger.js';
import { ClusterStats } from './cluster-stats.js';
import { deadPort, FakeDataplane, rawExchange, waitFor } from './fake-dataplane.test-helper.js';
import { HttpForwarder } from './http-forwarder.js';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** 1 for the first request on its connection. */
  readonly nth: number;
}

type Handler = (req: IncomingMessage, res: ServerResponse, nth: number) => void;

interface Backend {
  readonly server: Server;
  readonly address: string;
  readonly port: number;
  readonly seen: Seen[];
  connections: number;
  handle: Handler;
}

/** A backend that records each request (body read whole) and answers with `handle`. */
async function backend(handle: Handler): Promise<Backend> {
  const served = new WeakMap<Socket, number>();
  const b = { seen: [] as Seen[], connections: 0, handle } as Backend & { server: Server; address: string; port: number };
  const server = createServer((req, res) => {
    const nth = (served.get(req.socket) ?? 0) + 1;
    served.set(req.socket, nth);
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      b.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, nth });
      b.handle(req, res, nth);
    });
  });
  server.on('connection', () => b.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  Object.assign(b, { server, address: '127.0.0.1', port: (server.address() as AddressInfo).port });
  return b;
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Sends `method` through the front on `port` to the service `host`, on a connection of its own. */
function send(port: number, host: string, options: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'x-target': host, ...options.headers };
    if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
    const req = request({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: '/', headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A server in front of `forwarder` that sends each request to the service its x-target names. */
async function front(dataplane: FakeDataplane, forwarder: HttpForwarder): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const host = req.headers['x-target'] as string;
    const destination = dataplane.resolve(host, 80);
    if (destination.type === 'reject') throw new Error(`unknown ${host}`);
    forwarder.forward(req, res, { destination, what: `${host}:80`, path: req.url ?? '/' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('HttpForwarder: the upstream leg', () => {
  const dataplane = new FakeDataplane();
  const forwarder = new HttpForwarder({ dataplane, stats: new ClusterStats(), logger: noopLogger, connectTimeoutMs: 1000, maxConnectRetries: 2 });
  const servers: Server[] = [];
  let port: number;

  const start = async (host: string, handle: Handler): Promise<Backend> => {
    const b = await backend(handle);
    servers.push(b.server);
    dataplane.set(host, 80, [b]);
    return b;
  };
  const outcomes = (host: string): string[] => dataplane.reports.filter((r) => r.service === `demo/${host.split('.')[0]}`).map((r) => r.outcome);

  beforeAll(async () => {
    const f = await front(dataplane, forwarder);
    servers.push(f.server);
    port = f.port;
  });

  afterAll(async () => {
    forwarder.close();
    await Promise.all(servers.map(closeServer));
  });

  it('sends a bodiless request again when a reused keep-alive connection is lost under it, and nothing else', async () => {
    // Every connection serves one request and then dies on the next: the keep-alive race, every time.
    const racy = await start('racy.demo', (req, res, nth) => {
      if (nth > 1) req.socket.destroy();
      else res.end('ok');
    });
    expect(await send(port, 'racy.demo')).toMatchObject({ status: 200, body: 'ok' });
    expect(await send(port, 'racy.demo')).toMatchObject({ status: 200, body: 'ok' });
    expect(racy.seen.map((s) => s.nth)).toEqual([1, 2, 1]);
    expect(racy.connections).toBe(2);
    // A body is not kept, so a request with one is not sent again. (undici's pool reopens its
    // first connection slot before reusing later ones: the GET makes the POST's connection.)
    expect(await send(port, 'racy.demo')).toMatchObject({ status: 200, body: 'ok' });
    const post = await send(port, 'racy.demo', { method: 'POST', body: 'payload' });
    expect(post.status).toBe(502);
    expect(post.headers['x-skein-error']).toBe('SKEIN_ERR_UPSTREAM_FAILED');
    expect(post.body).toMatch(/failed before responding: ECONNRESET/);
    expect(racy.seen.map((s) => `${s.method} ${s.nth}`)).toEqual(['GET 1', 'GET 2', 'GET 1', 'GET 1', 'POST 2']);
    expect(outcomes('racy.demo')).toEqual(['success', 'success', 'success', 'reset']);

    // A new connection that fails is the endpoint failing, not the race.
    const rude = await start('rude.demo', (req) => req.socket.destroy());
    expect((await send(port, 'rude.demo')).status).toBe(502);
    expect(rude.seen.length).toBe(1);
  });

  it('sends a request body to the next endpoint whole after a connect failure', async () => {
    const live = await backend((_req, res) => res.end('stored'));
    servers.push(live.server);
    const dead = await deadPort();
    dataplane.set('upload.demo', 80, [{ address: '127.0.0.1', port: dead }, live]);
    const body = 'x'.repeat(200 * 1024);
    expect(await send(port, 'upload.demo', { method: 'POST', body })).toMatchObject({ status: 200, body: 'stored' });
    expect(live.seen.map((s) => s.body.length)).toEqual([body.length]);
    expect(outcomes('upload.demo')).toEqual(['connect-error', 'success']);
    // Nothing is kept for an endpoint that could not be reached.
    expect(forwarder.pools.peek(`127.0.0.1:${dead}`)).toBeUndefined();
  });

  it('streams a chunked upload of unknown length', async () => {
    const sink = await start('chunked.demo', (_req, res) => res.end('done'));
    const reply = await new Promise<Reply>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'PUT', path: '/up', headers: { 'x-target': 'chunked.demo' }, agent: false }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      });
      req.on('error', reject);
      req.write('first,');
      setTimeout(() => req.end('second'), 20);
    });
    expect(reply).toMatchObject({ status: 200, body: 'done' });
    expect(sink.seen[0]).toMatchObject({ method: 'PUT', url: '/up', body: 'first,second' });
    expect(sink.seen[0]!.headers['transfer-encoding']).toBe('chunked');
  });

  it('lets node answer Expect: 100-continue and sends the body on without the expectation', async () => {
    const sink = await start('expect.demo', (_req, res) => res.end('accepted'));
    const reply = await new Promise<Reply & { continued: boolean }>((resolve, reject) => {
      let continued = false;
      const req = request({
        host: '127.0.0.1', port, method: 'POST', path: '/', agent: false,
        headers: { 'x-target': 'expect.demo', expect: '100-continue', 'content-length': '5' },
      }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, continued }));
      });
      req.on('continue', () => {
        continued = true;
        req.end('hello');
      });
      req.on('error', reject);
    });
    expect(reply).toMatchObject({ status: 200, body: 'accepted', continued: true });
    expect(sink.seen[0]!.body).toBe('hello');
    expect(sink.seen[0]!.headers.expect).toBeUndefined();
  });

  it('skips interim responses (103 Early Hints) and relays the final one', async () => {
    await start('hints.demo', (_req, res) => {
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
      res.end('final');
    });
    expect(await send(port, 'hints.demo')).toMatchObject({ status: 200, body: 'final' });
  });

  it('relays status text, header case and repeated headers as the endpoint sent them', async () => {
    await start('raw.demo', (_req, res) => {
      res.writeHead(201, 'Made It', ['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'X-CaSe', 'v', 'Content-Length', '2']);
      res.end('ok');
    });
    const response = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: raw.demo\r\nx-target: raw.demo\r\nConnection: close\r\n\r\n');
    expect(response).toMatch(/^HTTP\/1\.1 201 Made It\r\n/);
    expect(response).toContain('\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-CaSe: v\r\n');
    expect(response.endsWith('\r\n\r\nok')).toBe(true);
  });

  it('answers an HTTP/1.0 client without chunked framing and closes its connection', async () => {
    const sink = await start('old.demo', (_req, res) => {
      res.write('hello ');
      setTimeout(() => res.end('world'), 10);
    });
    const response = await rawExchange(port, 'GET /old HTTP/1.0\r\nx-target: old.demo\r\n\r\n');
    expect(response).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(response).not.toMatch(/transfer-encoding/i);
    expect(response.endsWith('\r\n\r\nhello world')).toBe(true);
    // No Host from the client: the endpoint's address, as node's client sent.
    expect(sink.seen[0]!.headers.host).toBe(`127.0.0.1:${(sink.server.address() as AddressInfo).port}`);
  });

  it.each([
    ['two Host headers', 'GET / HTTP/1.1\r\nHost: a.demo\r\nHost: b.demo\r\nx-target: bad.demo\r\nConnection: close\r\n\r\n', /more than one Host header/],
    ['an asterisk-form target', 'OPTIONS * HTTP/1.1\r\nHost: bad.demo\r\nx-target: bad.demo\r\nConnection: close\r\n\r\n', /asterisk-form/],
  ])('answers 400 to a request undici cannot send: %s', async (_name, bytes, message) => {
    const sink = await start('bad.demo', (_req, res) => res.end('reached'));
    const response = await rawExchange(port, bytes);
    expect(response).toMatch(/^HTTP\/1\.1 400/);
    expect(response).toMatch(/x-skein-error: SKEIN_ERR_BAD_REQUEST/i);
    expect(response).toMatch(message);
    expect(sink.seen).toEqual([]);
    expect(await send(port, 'bad.demo')).toMatchObject({ status: 200, body: 'reached' });
  });
});

describe('HttpForwarder: connections per endpoint', () => {
  const dataplane = new FakeDataplane();
  const stats = new ClusterStats();
  const forwarder = new HttpForwarder({ dataplane, stats, logger: noopLogger, connectTimeoutMs: 1000, maxConnectRetries: 0, connectionsPerEndpoint: 1 });
  const held: ServerResponse[] = [];
  let b: Backend;
  let f: { server: Server; port: number };

  beforeAll(async () => {
    b = await backend((_req, res) => held.push(res));
    dataplane.set('one.demo', 80, [b]);
    f = await front(dataplane, forwarder);
  });

  afterAll(async () => {
    forwarder.close();
    await Promise.all([closeServer(b.server), closeServer(f.server)]);
  });

  it('keeps the connection when a request that waited for it is abandoned, and drops an idle pool', async () => {
    const key = `${b.address}:${b.port}`;
    const first = send(f.port, 'one.demo');
    await waitFor(() => held.length === 1, 'first request held');
    expect(forwarder.poolFull({ address: b.address, port: b.port, key })).toBe(true);
    const waiting = request({ host: '127.0.0.1', port: f.port, path: '/', headers: { 'x-target': 'one.demo' }, agent: false });
    waiting.on('error', () => undefined);
    waiting.end();
    await waitFor(() => stats.counters('demo/one', key).pending === 1, 'second request pending');
    waiting.destroy();
    await waitFor(() => stats.counters('demo/one', key).pending === 0, 'abandoned request uncounted');

    held.shift()!.end('one');
    expect((await first).body).toBe('one');
    const third = send(f.port, 'one.demo');
    await waitFor(() => held.length === 1, 'third request held');
    held.shift()!.end('three');
    expect((await third).body).toBe('three');
    // The abandoned request never reached the endpoint, and its connection served the next one.
    expect(b.seen.length).toBe(2);
    expect(b.connections).toBe(1);
    expect(stats.counters('demo/one', key)).toMatchObject({ active: 0, pending: 0, total: 3 });

    // The endpoint closes the idle connection: nothing is left of its pool.
    expect(forwarder.pools.peek(key)).toBeDefined();
    b.server.closeIdleConnections();
    await waitFor(() => forwarder.pools.peek(key) === undefined, 'idle pool dropped');
  });
});
