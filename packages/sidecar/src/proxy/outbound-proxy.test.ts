import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { connect } from 'node:net';
import { startBackend, type FakeBackend } from '@skein/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl, deadPort, FakeDataplane, rawExchange, waitFor } from './fake-dataplane.test-helper.js';
import { OutboundProxy } from './outbound-proxy.js';

async function listen(server: Server, address = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  return (server.address() as AddressInfo).port;
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('OutboundProxy: HTTP/1.1 absolute-form', () => {
  const dataplane = new FakeDataplane();
  const backends: FakeBackend[] = [];
  let proxy: OutboundProxy;
  let port: number;
  let proxyUrl: string;
  let headerEcho: Server;
  let echoPort: number;
  let seenHeaders: IncomingHttpHeaders | undefined;

  beforeAll(async () => {
    for (const [i, name] of ['a', 'b', 'c'].entries()) backends.push(await startBackend(name, `127.0.0.${i + 2}`));
    dataplane.set('web.demo', 80, backends);
    headerEcho = createServer((req, res) => {
      seenHeaders = req.headers;
      res.writeHead(200, { connection: 'x-hop', 'x-hop': 'secret', 'proxy-authenticate': 'Basic', 'x-end': 'kept' });
      res.end('ok');
    });
    echoPort = await listen(headerEcho);
    dataplane.set('headers.demo', 80, [{ address: '127.0.0.1', port: echoPort }]);
    proxy = new OutboundProxy({ dataplane });
    port = await proxy.listen('127.0.0.1', 0);
    proxyUrl = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await proxy.close(1000);
    await Promise.all(backends.map((b) => b.close()));
    await closeServer(headerEcho);
  });

  it('spreads 90 requests for a service name evenly over its 3 endpoints', async () => {
    const before = backends.map((b) => b.total());
    const urls = Array.from({ length: 90 }, () => 'http://web.demo/');
    const result = await curl(['-x', proxyUrl, '-w', '%{http_code}\\n', ...urls.flatMap((url) => ['-o', '/dev/null', url])]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual(Array(90).fill('200'));
    expect(backends.map((b, i) => b.total() - before[i]!)).toEqual([30, 30, 30]);
    // The Host header reaches the endpoint as the client sent it.
    expect(backends[0]!.hosts.at(-1)).toBe('web.demo');
    const stats = proxy.stats()['demo/web']!;
    expect(Object.keys(stats).sort()).toEqual(backends.map((b) => `${b.address}:${b.port}`).sort());
    expect(Object.values(stats).every((c) => c.active === 0 && c.total >= 30 && c.errors === 0)).toBe(true);
  });

  it('reuses keep-alive connections to an endpoint', async () => {
    const one = await startBackend('solo');
    dataplane.set('solo.demo', 8080, [one]);
    const urls = Array.from({ length: 20 }, () => 'http://solo.demo:8080/');
    const result = await curl(['-x', proxyUrl, ...urls.flatMap((url) => ['-o', '/dev/null', url])]);
    expect(result.code).toBe(0);
    expect(one.total()).toBe(20);
    expect(one.connections()).toBe(1);
    await one.close();
  });

  it('answers 503 naming the host for an unknown name, with x-skein-error', async () => {
    const result = await curl(['-x', proxyUrl, '-i', 'http://nope.demo/']);
    expect(result.stdout).toMatch(/^HTTP\/1\.1 503/);
    expect(result.stdout).toMatch(/x-skein-error: SKEIN_ERR_UNKNOWN_SERVICE/i);
    expect(result.stdout).toContain('skein: unknown service "nope.demo"');
  });

  it('waits once for an on-demand name, then routes it', async () => {
    const late = await startBackend('late');
    dataplane.later('late.demo', 80, [late]);
    const result = await curl(['-x', proxyUrl, 'http://late.demo/']);
    expect(result.stdout).toBe('late\n');
    expect(dataplane.whenKnownCalls).toContain('late.demo');
    await late.close();
  });

  it('passes a request for an IP address straight through (direct)', async () => {
    const b = backends[1]!;
    const result = await curl(['-x', proxyUrl, `http://${b.address}:${b.port}/`]);
    expect(result.stdout).toBe('b\n');
    expect(proxy.stats().passthrough?.[`${b.address}:${b.port}`]?.total).toBe(1);
  });

  it('strips hop-by-hop headers both ways and adds none', async () => {
    const result = await curl(['-x', proxyUrl, '-i', '-U', 'user:pw', '-H', 'Connection: keep-alive, x-drop', '-H', 'x-drop: 1',
      '-H', 'x-keep: 2', '-H', 'TE: trailers', 'http://headers.demo/']);
    expect(seenHeaders).toBeDefined();
    expect(seenHeaders!['proxy-authorization']).toBeUndefined();
    expect(seenHeaders!['x-drop']).toBeUndefined();
    expect(seenHeaders!.te).toBeUndefined();
    expect(seenHeaders!['x-keep']).toBe('2');
    expect(seenHeaders!.host).toBe('headers.demo');
    expect(seenHeaders!['x-forwarded-for']).toBeUndefined();
    expect(seenHeaders!.via).toBeUndefined();
    expect(result.stdout).toMatch(/x-end: kept/i);
    expect(result.stdout).not.toMatch(/x-hop:/i);
    expect(result.stdout).not.toMatch(/proxy-authenticate/i);
  });

  it('retries a connect failure on another endpoint, so no request fails', async () => {
    const dead = { address: '127.0.0.9', port: await deadPort('127.0.0.9') };
    const live = [await startBackend('r1'), await startBackend('r2')];
    dataplane.set('retry.demo', 80, [dead, ...live]);
    const urls = Array.from({ length: 30 }, () => 'http://retry.demo/');
    const result = await curl(['-x', proxyUrl, '-w', '%{http_code}\\n', ...urls.flatMap((url) => ['-o', '/dev/null', url])]);
    expect(result.stdout.trim().split('\n')).toEqual(Array(30).fill('200'));
    expect(live[0]!.total() + live[1]!.total()).toBe(30);
    const counters = proxy.stats()['demo/retry']![`127.0.0.9:${dead.port}`]!;
    expect(counters.connectFailures).toBeGreaterThan(0);
    expect(counters.active).toBe(0);
    expect(dataplane.reports.some((r) => r.service === 'demo/retry' && r.outcome === 'connect-error')).toBe(true);
    await Promise.all(live.map((b) => b.close()));
  });

  it('answers 503 with a clear body when every endpoint refuses', async () => {
    dataplane.set('dead.demo', 80, [{ address: '127.0.0.9', port: await deadPort('127.0.0.9') }, { address: '127.0.0.10', port: await deadPort('127.0.0.10') }]);
    const result = await curl(['-x', proxyUrl, '-i', 'http://dead.demo/']);
    expect(result.stdout).toMatch(/^HTTP\/1\.1 503/);
    expect(result.stdout).toMatch(/x-skein-error: SKEIN_ERR_CONNECT_FAILED/i);
    expect(result.stdout).toMatch(/cannot connect to "dead\.demo:80".*ECONNREFUSED/);
  });

  it('answers 502 when the endpoint drops the connection before responding', async () => {
    const rude = createServer((req) => req.socket.destroy());
    dataplane.set('rude.demo', 80, [{ address: '127.0.0.1', port: await listen(rude) }]);
    const result = await curl(['-x', proxyUrl, '-i', 'http://rude.demo/']);
    expect(result.stdout).toMatch(/^HTTP\/1\.1 502/);
    expect(result.stdout).toContain('failed before responding');
    await closeServer(rude);
  });

  it('resets the client when the endpoint dies mid-response (never hangs)', async () => {
    const partial = createServer((_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('x'.repeat(100), () => res.socket?.destroy());
    });
    dataplane.set('partial.demo', 80, [{ address: '127.0.0.1', port: await listen(partial) }]);
    const result = await curl(['-x', proxyUrl, 'http://partial.demo/']);
    expect(result.code).not.toBe(0); // curl: transfer closed with outstanding data
    await closeServer(partial);
  });

  it('refuses to loop back to itself', async () => {
    const result = await curl(['-x', proxyUrl, '-i', `http://127.0.0.1:${port}/`]);
    expect(result.stdout).toMatch(/^HTTP\/1\.1 508/);
  });

  it('routes an origin-form request by its Host header', async () => {
    const result = await curl(['-H', 'Host: web.demo', `${proxyUrl}/`]);
    expect(['a\n', 'b\n', 'c\n']).toContain(result.stdout);
  });

  it.each([
    ['a garbled request line', 'GARBAGE\r\n\r\n', /cannot parse the HTTP request/],
    ['origin-form without Host', 'GET / HTTP/1.1\r\n\r\n', /without a Host header/],
    ['an unparsable absolute-form target', 'GET http://bad host/ HTTP/1.1\r\nHost: x\r\n\r\n', /cannot parse/],
    ['an https absolute-form target', 'GET https://web.demo/ HTTP/1.1\r\nHost: web.demo\r\nConnection: close\r\n\r\n', /tunnelled with CONNECT/],
    ['a CONNECT without a port', 'CONNECT web.demo HTTP/1.1\r\nHost: web.demo\r\n\r\n', /is not host:port/],
  ])('answers 400 to %s', async (_name, bytes, message) => {
    const response = await rawExchange(port, bytes);
    expect(response).toMatch(/^HTTP\/1\.1 400/);
    expect(response).toMatch(message);
  });

  it('forwards HTTP/1.1 trailers', async () => {
    const trailing = createServer((_req, res) => {
      res.writeHead(200, { 'transfer-encoding': 'chunked', trailer: 'x-checksum' });
      res.write('body');
      res.addTrailers({ 'x-checksum': 'abc' });
      res.end();
    });
    dataplane.set('trailers.demo', 80, [{ address: '127.0.0.1', port: await listen(trailing) }]);
    const trailers = await new Promise<NodeJS.Dict<string>>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: 'http://trailers.demo/', headers: { host: 'trailers.demo' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.trailers));
      });
      req.on('error', reject);
      req.end();
    });
    expect(trailers['x-checksum']).toBe('abc');
    await closeServer(trailing);
  });

  it('aborts the upstream request when the client disconnects mid-upload', async () => {
    let upstreamClosed: (complete: boolean) => void;
    const closed = new Promise<boolean>((resolve) => { upstreamClosed = resolve; });
    const sink = createServer((req, res) => {
      req.resume();
      req.on('close', () => upstreamClosed(req.complete));
      res.on('close', () => undefined);
    });
    dataplane.set('sink.demo', 80, [{ address: '127.0.0.1', port: await listen(sink) }]);
    const client: Socket = connect({ host: '127.0.0.1', port });
    client.on('error', () => undefined);
    client.write('POST http://sink.demo/upload HTTP/1.1\r\nHost: sink.demo\r\nContent-Length: 10000000\r\n\r\n');
    client.write(Buffer.alloc(256 * 1024, 1));
    await waitFor(() => (proxy.stats()['demo/sink'] && Object.values(proxy.stats()['demo/sink']!)[0]!.active === 1) === true, 'upload in flight');
    client.destroy();
    expect(await closed).toBe(false);
    await waitFor(() => Object.values(proxy.stats()['demo/sink']!)[0]!.active === 0, 'active back to 0');
    await closeServer(sink);
  });
});
