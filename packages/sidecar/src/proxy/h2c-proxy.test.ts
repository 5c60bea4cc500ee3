import { connect as connectH2, constants, createServer as createH2Server, type Http2Server, type IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { startBackend, type FakeBackend } from '@skein/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl, FakeDataplane, rawExchange } from './fake-dataplane.test-helper.js';
import { ServiceListener } from './h2c-proxy.js';
import { OutboundProxy } from './outbound-proxy.js';

interface H2Backend { server: Http2Server; port: number; served: number; cancelled: number; sessions: number }

async function startH2Backend(name: string, address: string): Promise<H2Backend> {
  const backend: H2Backend = { server: createH2Server(), port: 0, served: 0, cancelled: 0, sessions: 0 };
  backend.server.on('session', () => { backend.sessions++; });
  backend.server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    if (headers[':path'] === '/hang') {
      stream.on('close', () => {
        if (stream.rstCode === constants.NGHTTP2_CANCEL) backend.cancelled++;
      });
      return;
    }
    backend.served++;
    if (headers[':path'] === '/trailers') {
      stream.respond({ ':status': 200, 'x-backend': name }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'abc' }));
      stream.end(`${name}\n`);
      return;
    }
    stream.respond({ ':status': 200, 'x-backend': name, 'x-authority': String(headers[':authority']) });
    stream.end(`${name}\n`);
  });
  await new Promise<void>((resolve) => backend.server.listen(0, address, resolve));
  backend.port = (backend.server.address() as AddressInfo).port;
  return backend;
}

describe('h2c: prior knowledge on the outbound port, and service listeners', () => {
  const dataplane = new FakeDataplane();
  const h2: H2Backend[] = [];
  const h1: FakeBackend[] = [];
  let proxy: OutboundProxy;
  let port: number;
  let listener: ServiceListener;
  let listenerPort: number;

  beforeAll(async () => {
    for (const [i, name] of ['x', 'y', 'z'].entries()) h2.push(await startH2Backend(name, `127.0.0.${i + 2}`));
    dataplane.set('h2.demo', 80, h2.map((b, i) => ({ address: `127.0.0.${i + 2}`, port: b.port })));
    for (const [i, name] of ['a', 'b'].entries()) h1.push(await startBackend(name, `127.0.0.${i + 2}`));
    dataplane.set('web.demo', 80, h1);
    proxy = new OutboundProxy({ dataplane });
    port = await proxy.listen('127.0.0.1', 0);
    listener = new ServiceListener({ dataplane, host: 'web.demo', port: 80 });
    listenerPort = await listener.listen('127.0.0.1', 0);
  });

  afterAll(async () => {
    await Promise.all([proxy.close(1000), listener.close(1000)]);
    await Promise.all(h1.map((b) => b.close()));
    for (const b of h2) b.server.close();
  });

  it('balances every request of one multiplexed connection, by :authority', async () => {
    const session = connectH2(`http://127.0.0.1:${port}`);
    const bodies = await Promise.all(Array.from({ length: 30 }, () => new Promise<string>((resolve, reject) => {
      const stream = session.request({ ':path': '/', ':authority': 'h2.demo' });
      let body = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => { body += chunk; });
      stream.on('end', () => resolve(body));
      stream.on('error', reject);
      stream.end();
    })));
    session.close();
    expect(h2.map((b) => b.served)).toEqual([10, 10, 10]);
    expect(bodies.filter((b) => b === 'x\n')).toHaveLength(10);
    // One pooled session per endpoint carried all of its streams.
    expect(h2.map((b) => b.sessions)).toEqual([1, 1, 1]);
  });

  it('serves curl --http2-prior-knowledge', async () => {
    // One URL per run: curl 7.88 fails reusing a prior-knowledge connection (even to node directly).
    const result = await curl(['--http2-prior-knowledge', '--connect-to', `h2.demo:80:127.0.0.1:${port}`, 'http://h2.demo/']);
    expect(result.stdout).toMatch(/^[xyz]\n$/);
  });

  it('forwards response trailers and keeps :authority as sent', async () => {
    const session = connectH2(`http://127.0.0.1:${port}`);
    const { headers, trailers } = await new Promise<{ headers: IncomingHttpHeaders; trailers: IncomingHttpHeaders }>((resolve, reject) => {
      const stream = session.request({ ':path': '/trailers', ':authority': 'h2.demo' });
      let headers: IncomingHttpHeaders = {};
      stream.on('response', (h) => { headers = h; });
      stream.on('trailers', (t) => resolve({ headers, trailers: t }));
      stream.on('error', reject);
      stream.resume();
      stream.end();
    });
    expect(headers[':status']).toBe(200);
    expect(trailers['x-checksum']).toBe('abc');
    const authority = await new Promise<string | string[] | undefined>((resolve) => {
      const stream = session.request({ ':path': '/', ':authority': 'h2.demo' });
      stream.on('response', (h) => resolve(h['x-authority']));
      stream.resume();
      stream.end();
    });
    expect(authority).toBe('h2.demo');
    session.close();
  });

  it('cancels the endpoint stream when the client resets its stream', async () => {
    const session = connectH2(`http://127.0.0.1:${port}`);
    const stream = session.request({ ':path': '/hang', ':authority': 'h2.demo' });
    stream.on('error', () => undefined);
    stream.end();
    await waitUntil(() => Object.values(proxy.stats()['demo/h2']!).some((c) => c.active > 0));
    stream.close(constants.NGHTTP2_CANCEL);
    await waitUntil(() => h2.reduce((n, b) => n + b.cancelled, 0) === 1);
    await waitUntil(() => Object.values(proxy.stats()['demo/h2']!).every((c) => c.active === 0));
    session.close();
  });

  it('answers an h2 request for an unknown name with 503 text', async () => {
    const result = await curl(['--http2-prior-knowledge', '-i', '--connect-to', `nope.demo:80:127.0.0.1:${port}`, 'http://nope.demo/']);
    expect(result.stdout).toMatch(/^HTTP\/2 503/);
    expect(result.stdout).toMatch(/x-skein-error: SKEIN_ERR_UNKNOWN_SERVICE/);
    expect(result.stdout).toContain('unknown service "nope.demo"');
  });

  it('routes HTTP/1.1 on a service listener to its service, whatever the Host', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add((await curl([`http://127.0.0.1:${listenerPort}/`])).stdout);
    expect(seen).toEqual(new Set(['a\n', 'b\n']));
    expect(h1[0]!.hosts.at(-1)).toBe(`127.0.0.1:${listenerPort}`);
    expect(Object.keys(listener.stats()['demo/web']!)).toHaveLength(2);
  });

  it('refuses CONNECT on a service listener', async () => {
    const response = await rawExchange(listenerPort, 'CONNECT web.demo:80 HTTP/1.1\r\nHost: web.demo:80\r\n\r\n');
    expect(response).toMatch(/^HTTP\/1\.1 405 /);
  });
});

async function waitUntil(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !predicate(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(predicate()).toBe(true);
}
