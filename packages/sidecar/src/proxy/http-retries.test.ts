// Opt-in retries (`skein.io/retries`), the retry budget and the overall timeout
// (`skein.io/timeout`) of the HTTP forwarder, against in-process endpoints that answer 503,
// reset the connection, hang, or answer 200.
import { createServer, request, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noopLogger } from '../logger.js';
import { ClusterStats } from './cluster-stats.js';
import { FakeDataplane, waitFor, type Endpoint, type RequestPolicy } from './fake-dataplane.test-helper.js';
import { HttpForwarder } from './http-forwarder.js';

interface Backend extends Endpoint {
  readonly server: Server;
  total: number;
  /** Responses held by a hanging backend, until released. */
  readonly held: ServerResponse[];
  /** Requests whose connection closed (seen by the backend). */
  closed: number;
}

type Behaviour = 'ok' | '503' | 'reset' | 'hang';

async function backend(behaviour: Behaviour, name: string): Promise<Backend> {
  const b = { total: 0, held: [] as ServerResponse[], closed: 0 } as Backend & { server: Server; address: string; port: number };
  const server = createServer((req, res) => {
    b.total++;
    req.socket.once('close', () => b.closed++);
    req.resume();
    if (behaviour === 'ok') res.end(`ok ${name}`);
    else if (behaviour === '503') res.writeHead(503, { 'content-type': 'text/plain' }).end(`unavailable ${name}`);
    else if (behaviour === 'reset') req.socket.destroy();
    else b.held.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  Object.assign(b, { server, address: '127.0.0.1', port: (server.address() as AddressInfo).port });
  return b;
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

describe('HttpForwarder: retries, retry budget, timeouts', () => {
  const dataplane = new FakeDataplane();
  const forwarder = new HttpForwarder({ dataplane, stats: new ClusterStats(), logger: noopLogger, connectTimeoutMs: 1000, maxConnectRetries: 2 });
  const backends: Backend[] = [];
  let front: Server;
  let frontPort: number;

  const start = async (behaviour: Behaviour, name: string): Promise<Backend> => {
    const b = await backend(behaviour, name);
    backends.push(b);
    return b;
  };

  /** Sends `method` for `host` (a FakeDataplane service on port 80) through the forwarder. */
  const send = (host: string, method = 'GET', body?: string): Promise<Reply> => new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host, 'x-target': host };
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const req = request({ host: '127.0.0.1', port: frontPort, method, path: '/', headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });

  const service = (host: string, endpoints: readonly Backend[], policy?: RequestPolicy): void => {
    dataplane.set(host, 80, endpoints, policy);
  };
  const reportsFor = (host: string): string[] => dataplane.reports
    .filter((r) => r.service === `demo/${host.split('.')[0]}`)
    .map((r) => `${r.target} ${r.outcome}`);

  beforeAll(async () => {
    front = createServer((req, res) => {
      const host = req.headers['x-target'] as string;
      const destination = dataplane.resolve(host, 80);
      if (destination.type === 'reject') throw new Error(`unknown ${host}`);
      forwarder.forward(req, res, { destination, what: `${host}:80`, path: req.url ?? '/' });
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    frontPort = (front.address() as AddressInfo).port;
  });

  afterAll(async () => {
    forwarder.close();
    for (const server of [front, ...backends.map((b) => b.server)]) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  const key = (b: Backend): string => `${b.address}:${b.port}`;

  it('retries a GET answered 503 on another endpoint when retries is set', async () => {
    const bad = await start('503', 'bad');
    const good = await start('ok', 'good');
    service('retry.demo', [bad, good], { retries: 1 });
    const reply = await send('retry.demo');
    expect(reply).toMatchObject({ status: 200, body: 'ok good' });
    expect([bad.total, good.total]).toEqual([1, 1]);
    expect(reportsFor('retry.demo')).toEqual([`${key(bad)} http-5xx`, `${key(good)} success`]);
    expect(forwarder.budget('demo/retry')).toMatchObject({ active: 0, retrying: 0, exhausted: 0 });
  });

  it('retries a GET whose connection is reset before any response byte', async () => {
    const reset = await start('reset', 'reset');
    const good = await start('ok', 'good2');
    service('reset.demo', [reset, good], { retries: 2 });
    const reply = await send('reset.demo');
    expect(reply).toMatchObject({ status: 200, body: 'ok good2' });
    expect(reportsFor('reset.demo')).toEqual([`${key(reset)} reset`, `${key(good)} success`]);
  });

  it('passes a 503 through when retries is unset, or when no other endpoint is left', async () => {
    const bad = await start('503', 'bad');
    const good = await start('ok', 'good');
    service('noretry.demo', [bad, good]);
    const reply = await send('noretry.demo');
    expect(reply).toMatchObject({ status: 503, body: 'unavailable bad' });
    expect([bad.total, good.total]).toEqual([1, 0]);

    const only = await start('503', 'only');
    service('single.demo', [only], { retries: 3 });
    expect(await send('single.demo')).toMatchObject({ status: 503, body: 'unavailable only' });
    expect(only.total).toBe(1);
  });

  it('never retries a POST on 5xx (with or without a body)', async () => {
    const bad = await start('503', 'bad');
    const good = await start('ok', 'good');
    service('post.demo', [bad, good], { retries: 2 });
    expect(await send('post.demo', 'POST', 'payload')).toMatchObject({ status: 503, body: 'unavailable bad' });
    expect(await send('post.demo', 'POST')).toMatchObject({ status: 200 }); // round robin: the good one
    expect(await send('post.demo', 'POST')).toMatchObject({ status: 503, body: 'unavailable bad' });
    // A GET with a body is not retried either (the body is not buffered).
    expect(await send('post.demo', 'GET', 'body')).toMatchObject({ status: 200 });
    expect(await send('post.demo', 'GET', 'body')).toMatchObject({ status: 503 });
    expect(bad.total).toBe(3);
  });

  it('stops retrying once retries exceed the budget (at least 3, else 20% of active requests)', async () => {
    const bad = await start('503', 'bad');
    const hang = await start('hang', 'hang');
    service('budget.demo', [bad, hang], { retries: 1 });
    const budget = forwarder.budget('demo/budget');
    // Each request goes to `bad` first (each retry picks `hang`, so round robin returns to
    // `bad`), and its retry is held by `hang`: three retries in flight fill the budget.
    const pending: Array<Promise<Reply>> = [];
    for (let i = 1; i <= 3; i++) {
      pending.push(send('budget.demo'));
      await waitFor(() => hang.held.length === i, `retry ${i} held`);
    }
    expect(budget).toMatchObject({ active: 3, retrying: 3, exhausted: 0 });
    expect(await send('budget.demo')).toMatchObject({ status: 503, body: 'unavailable bad' });
    expect(budget.exhausted).toBe(1);
    for (const res of hang.held) res.end('ok hang');
    const replies = await Promise.all(pending);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    await waitFor(() => budget.active === 0, 'requests finished');
    expect(budget).toMatchObject({ active: 0, retrying: 0, exhausted: 1 });
  });

  it('answers 504 SKEIN_ERR_TIMEOUT after timeoutMs and closes the upstream connection', async () => {
    const hang = await start('hang', 'slow');
    service('slow.demo', [hang], { timeoutMs: 150 });
    const reply = await send('slow.demo');
    expect(reply.status).toBe(504);
    expect(reply.headers['x-skein-error']).toBe('SKEIN_ERR_TIMEOUT');
    expect(reply.body).toBe('skein: upstream request to slow.demo:80 timed out after 150 ms\n');
    await waitFor(() => hang.closed === 1, 'upstream connection closed');
    expect(reportsFor('slow.demo')).toEqual([`${key(hang)} timeout`]);
    expect(forwarder.budget('demo/slow').active).toBe(0);
  });

  it('clears the overall timer when the response completes in time', async () => {
    const good = await start('ok', 'fast');
    service('warm.demo', [good]);
    service('fast.demo', [good], { timeoutMs: 60_000 });
    // Warm the pooled connection first, so only the request's own timer could differ.
    await send('warm.demo');
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    expect(await send('fast.demo')).toMatchObject({ status: 200, body: 'ok fast' });
    await waitFor(() => forwarder.budget('demo/fast').active === 0, 'request finished');
    expect(timers()).toBe(before);
  });
});
