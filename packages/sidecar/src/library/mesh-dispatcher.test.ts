// MeshDispatcher against real HTTP backends on 127.0.0.x, with a StaticDataplane as the brain.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { fetch, request, type Dispatcher } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, type FakeBackend } from '@skein/testkit';
import type { AttemptOutcome, Dataplane, Destination } from '../dataplane.js';
import { unknownServiceError } from '../errors.js';
import { MeshDispatcher } from './mesh-dispatcher.js';
import { MeshError } from './mesh-error.js';
import { StaticDataplane } from './static-dataplane.js';

/** A port on 127.0.0.1 with nothing listening (connects are refused). */
async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const at = (b: FakeBackend): { address: string; port: number } => ({ address: b.address, port: b.port });

describe('MeshDispatcher', () => {
  const backends: FakeBackend[] = [];
  let a: FakeBackend, b: FakeBackend, c: FakeBackend;
  let dead: number;
  const reports: Array<{ target: string; outcome: AttemptOutcome }> = [];
  let dataplane: StaticDataplane;
  let dispatcher: MeshDispatcher;

  beforeAll(async () => {
    [a, b, c] = await Promise.all([startBackend('a', '127.0.0.11'), startBackend('b', '127.0.0.12'), startBackend('c', '127.0.0.13')]);
    backends.push(a, b, c);
    dead = await refusedPort();
  });
  afterAll(async () => {
    await Promise.all(backends.map((x) => x.close()));
  });
  afterEach(async () => {
    await dispatcher.close();
    reports.length = 0;
    for (const x of backends) {
      x.hits.clear();
      x.hosts.length = 0;
    }
  });

  const setup = (entries: ConstructorParameters<typeof StaticDataplane>[0], options: ConstructorParameters<typeof StaticDataplane>[1] = {}): void => {
    dataplane = new StaticDataplane(entries, { ...options, onReport: (_s, target, outcome) => reports.push({ target: target.key, outcome }) });
    dispatcher = new MeshDispatcher({ dataplane });
  };

  it('balances undici.request over the endpoints and keeps the Host the app used', async () => {
    setup({ 'web.demo:80': { endpoints: [at(a), at(b), at(c)] } });
    for (let i = 0; i < 30; i++) {
      const res = await request('http://web.demo/hello', { dispatcher });
      expect(res.statusCode).toBe(200);
      await res.body.text();
    }
    expect([a.total(), b.total(), c.total()]).toEqual([10, 10, 10]);
    expect(new Set([...a.hosts, ...b.hosts, ...c.hosts])).toEqual(new Set(['web.demo']));
    expect(reports.every((r) => r.outcome === 'success')).toBe(true);
    // Keep-alive: one pool per endpoint, connections reused.
    expect(dispatcher.poolKeys().sort()).toEqual(['http://127.0.0.11:' + a.port, 'http://127.0.0.12:' + b.port, 'http://127.0.0.13:' + c.port].sort());
    expect(a.connections()).toBe(1);
  });

  it('works as fetch(url, { dispatcher }) with a non-default port in the Host header', async () => {
    setup({ 'web.demo:8080': { endpoints: [at(a)] } });
    const res = await fetch('http://web.demo:8080/', { dispatcher });
    expect(await res.text()).toBe('a\n');
    expect(a.hosts).toEqual(['web.demo:8080']);
  });

  it('keeps a Host header the app set itself', async () => {
    setup({ 'web.demo:80': { endpoints: [at(a)] } });
    const res = await request('http://web.demo/', { dispatcher, headers: { Host: 'custom.example' } });
    await res.body.text();
    expect(a.hosts).toEqual(['custom.example']);
  });

  it('streams a request body to the endpoint and the response back', async () => {
    setup({ 'web.demo:80': { endpoints: [at(b)] } });
    const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(16 * 1024, String(i % 10)));
    const res = await request('http://web.demo/count', { dispatcher, method: 'POST', body: Readable.from(chunks) });
    expect(await res.body.text()).toBe(`${64 * 16 * 1024}\n`);
    const echoed = await fetch('http://web.demo/echo', {
      dispatcher, method: 'POST', duplex: 'half',
      body: new ReadableStream({ start(controller) { controller.enqueue(new TextEncoder().encode('hello ')); controller.enqueue(new TextEncoder().encode('mesh')); controller.close(); } }),
    });
    expect(await echoed.text()).toBe('hello mesh');
  });

  it('retries a refused connect on another endpoint, body included, and reports it', async () => {
    setup({ 'web.demo:80': { endpoints: [{ address: '127.0.0.1', port: dead }, at(a), at(b)] } });
    for (let i = 0; i < 6; i++) {
      const res = await request('http://web.demo/echo', { dispatcher, method: 'POST', body: Readable.from([Buffer.from(`body ${i}`)]) });
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe(`body ${i}`);
    }
    expect(a.total() + b.total()).toBe(6);
    // Round robin meets the dead endpoint once per cycle of three picks (no ejection here).
    const failures = reports.filter((r) => r.outcome === 'connect-error');
    expect(failures.length).toBe(3);
    expect(new Set(failures.map((r) => r.target))).toEqual(new Set([`127.0.0.1:${dead}`]));
  });

  it('gives up after two retries with the connect error', async () => {
    const ports = [await refusedPort(), await refusedPort(), await refusedPort(), await refusedPort()];
    setup({ 'web.demo:80': { endpoints: ports.map((port) => ({ address: '127.0.0.1', port })) } });
    const error = await request('http://web.demo/', { dispatcher }).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('ECONNREFUSED');
    expect(reports.filter((r) => r.outcome === 'connect-error')).toHaveLength(3);
  });

  it('fails a refused destination with the mesh error code (fetch: TypeError with cause)', async () => {
    setup({ 'web.demo:80': { endpoints: [] } }, { outboundPolicy: 'registry-only' });
    const refused = await request('http://web.demo/', { dispatcher }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MeshError);
    expect(refused).toMatchObject({ code: 'SKEIN_ERR_NO_ENDPOINT', status: 503 });
    const outside = await fetch('http://example.invalid/', { dispatcher }).catch((e: unknown) => e);
    expect(outside).toBeInstanceOf(TypeError);
    expect((outside as TypeError).cause).toMatchObject({ code: 'SKEIN_ERR_NOT_IN_REGISTRY', status: 403 });
  });

  it('passes direct destinations through to host:port as given', async () => {
    setup({ 'ext.demo:80': { direct: { host: c.address, port: c.port } } });
    const res = await request(`http://${a.address}:${a.port}/`, { dispatcher });
    expect(await res.body.text()).toBe('a\n');
    expect(a.hosts).toEqual([`${a.address}:${a.port}`]);
    const ext = await request('http://ext.demo/', { dispatcher });
    expect(await ext.body.text()).toBe('c\n');
    expect(c.hosts).toEqual(['ext.demo']);
  });

  it('serves controller-style handlers (undici 7 API) as well as legacy ones', async () => {
    setup({ 'web.demo:80': { endpoints: [{ address: '127.0.0.1', port: dead }, at(a)] } });
    // compose() hands the dispatcher a controller-style handler wrapping request()'s legacy one.
    const composed = dispatcher.compose((dispatch) => (opts, handler) => dispatch(opts, handler));
    const res = await request('http://web.demo/', { dispatcher: composed });
    expect(await res.body.text()).toBe('a\n');
    const seen: string[] = [];
    const body = await new Promise<string>((resolve, reject) => {
      let text = '';
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: () => seen.push('start'),
        onResponseStart: (_c, status, headers) => seen.push(`status ${status} ${String(headers['x-backend'])}`),
        onResponseData: (_c, chunk) => { text += chunk.toString(); },
        onResponseEnd: () => resolve(text),
        onResponseError: (_c, error) => reject(error),
      };
      dispatcher.dispatch({ origin: 'http://web.demo', path: '/', method: 'GET' }, handler);
    });
    expect(body).toBe('a\n');
    expect(seen).toEqual(['start', 'status 200 a']);
  });

  it('closes the pool of an endpoint that left, after its in-flight request finishes', async () => {
    setup({ 'web.demo:80': { endpoints: [at(a), at(b)] } });
    // A large response read slowly: still in flight when b leaves the config.
    const first = await request('http://web.demo/', { dispatcher });
    await first.body.text();
    const slow = await request('http://web.demo/bytes?n=4000000', { dispatcher });
    expect(slow.headers['x-backend']).toBe('b');
    dataplane.set('web.demo:80', { endpoints: [at(a)] });
    expect(dispatcher.poolKeys()).toEqual([`http://127.0.0.11:${a.port}`]);
    expect((await slow.body.arrayBuffer()).byteLength).toBe(4_000_000);
    const next = await request('http://web.demo/', { dispatcher });
    expect(await next.body.text()).toBe('a\n');
  });

  it('waits for an on-demand name the control plane has not answered yet', async () => {
    const backing = new StaticDataplane();
    let known = false;
    const listeners = new Set<() => void>();
    const onDemand: Dataplane = {
      ready: true,
      resolve: (host, port): Destination => known ? backing.resolve(host, port) : { type: 'reject', error: unknownServiceError(host, true) },
      whenKnown: () => new Promise((resolve) => listeners.add(resolve)),
      report: () => undefined,
      onChange: (listener) => backing.onChange(listener),
    };
    dispatcher = new MeshDispatcher({ dataplane: onDemand });
    const pending = request('http://cart.shop/', { dispatcher });
    // The Service arrives first, its endpoints a moment later (separate resources).
    setTimeout(() => {
      known = true;
      backing.set('cart.shop:80', { endpoints: [] });
      for (const wake of listeners) wake();
    }, 30);
    setTimeout(() => backing.set('cart.shop:80', { endpoints: [at(c)] }), 80);
    const res = await pending;
    expect(await res.body.text()).toBe('c\n');
  });

  it('refuses requests once closed', async () => {
    setup({ 'web.demo:80': { endpoints: [at(a)] } });
    await dispatcher.close();
    await expect(request('http://web.demo/', { dispatcher })).rejects.toMatchObject({ code: 'SKEIN_ERR_CLOSED' });
  });
});
