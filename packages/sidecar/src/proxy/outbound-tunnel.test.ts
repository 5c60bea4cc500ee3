import { createHash, randomBytes } from 'node:crypto';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { startBackend, type FakeBackend } from '@skein/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { curl, deadPort, FakeDataplane, rawExchange } from './fake-dataplane.test-helper.js';
import { OutboundProxy } from './outbound-proxy.js';

describe('OutboundProxy: CONNECT and Upgrade', () => {
  const dataplane = new FakeDataplane();
  const backends: FakeBackend[] = [];
  let wsServer: Server;
  let wss: WebSocketServer;
  let proxy: OutboundProxy;
  let port: number;
  let proxyUrl: string;

  beforeAll(async () => {
    for (const [i, name] of ['a', 'b', 'c'].entries()) backends.push(await startBackend(name, `127.0.0.${i + 2}`));
    dataplane.set('web.demo', 80, backends);
    wsServer = createServer((_req, res) => res.writeHead(426).end('upgrade required\n'));
    wss = new WebSocketServer({ server: wsServer, path: '/echo' });
    wss.on('connection', (socket) => socket.on('message', (data, binary) => socket.send(data, { binary })));
    await new Promise<void>((resolve) => wsServer.listen(0, '127.0.0.1', resolve));
    dataplane.set('chat.demo', 80, [{ address: '127.0.0.1', port: (wsServer.address() as AddressInfo).port }]);
    proxy = new OutboundProxy({ dataplane });
    port = await proxy.listen('127.0.0.1', 0);
    proxyUrl = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await proxy.close(1000);
    await Promise.all(backends.map((b) => b.close()));
    for (const client of wss.clients) client.terminate();
    wss.close();
    wsServer.closeAllConnections();
    await new Promise<void>((resolve) => wsServer.close(() => resolve()));
  });

  it('tunnels curl -p through CONNECT, balancing per connection', async () => {
    const before = backends.map((b) => b.total());
    for (let i = 0; i < 6; i++) {
      const result = await curl(['-p', '-x', proxyUrl, 'http://web.demo/']);
      expect(result.stdout).toMatch(/^[abc]\n$/);
    }
    expect(backends.map((b, i) => b.total() - before[i]!)).toEqual([2, 2, 2]);
    await waitActiveZero(proxy, 'demo/web');
  });

  it('answers CONNECT to an unknown name with the error status line and closes', async () => {
    const response = await rawExchange(port, 'CONNECT nope.demo:443 HTTP/1.1\r\nHost: nope.demo:443\r\n\r\n');
    expect(response).toMatch(/^HTTP\/1\.1 503 /);
    expect(response).toMatch(/x-skein-error: SKEIN_ERR_UNKNOWN_SERVICE/);
    expect(response).toContain('unknown service "nope.demo"');
  });

  it('retries a CONNECT on another endpoint when one is dead, and fails clearly when all are', async () => {
    const dead = { address: '127.0.0.9', port: await deadPort('127.0.0.9') };
    dataplane.set('half.demo', 80, [dead, backends[0]!]);
    for (let i = 0; i < 3; i++) expect((await curl(['-p', '-x', proxyUrl, 'http://half.demo/'])).stdout).toBe('a\n');
    dataplane.set('gone.demo', 80, [dead]);
    const response = await rawExchange(port, 'CONNECT gone.demo:80 HTTP/1.1\r\nHost: gone.demo:80\r\n\r\n');
    expect(response).toMatch(/^HTTP\/1\.1 503 /);
    expect(response).toMatch(/cannot connect to "gone\.demo:80".*ECONNREFUSED/);
  });

  it('relays a WebSocket routed by Host (origin-form upgrade)', async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/echo`, { headers: { host: 'chat.demo' } });
    const reply = await new Promise<string>((resolve, reject) => {
      socket.on('open', () => socket.send('hello through skein'));
      socket.on('message', (data: Buffer) => resolve(data.toString()));
      socket.on('error', reject);
    });
    expect(reply).toBe('hello through skein');
    socket.close();
    await new Promise((resolve) => socket.on('close', resolve));
    await waitActiveZero(proxy, 'demo/chat');
  });

  it('relays a WebSocket upgrade sent in absolute-form', async () => {
    const key = randomBytes(16).toString('base64');
    const { response, socket } = await new Promise<{ response: IncomingMessage; socket: Socket }>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1', port, path: 'http://chat.demo/echo',
        headers: { host: 'chat.demo', connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': key },
      });
      req.on('upgrade', (res: IncomingMessage, sock: Socket) => resolve({ response: res, socket: sock }));
      req.on('error', reject);
      req.end();
    });
    expect(response.statusCode).toBe(101);
    expect(response.headers['sec-websocket-accept']).toBe(createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64'));
    // One masked text frame out (RFC 6455 §5.2), the unmasked echo back.
    const payload = Buffer.from('ping');
    const mask = randomBytes(4);
    const frame = Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, payload.map((byte, i) => byte ^ mask[i % 4]!)]);
    const echoed = new Promise<Buffer>((resolve) => socket.once('data', resolve));
    socket.write(frame);
    expect((await echoed).subarray(2).toString()).toBe('ping');
    socket.destroy();
  });

  it('relays an endpoint declining an upgrade as a normal response', async () => {
    // The fake backends do not upgrade: node answers the request normally.
    const response = await rawExchange(port, 'GET http://web.demo/ HTTP/1.1\r\nHost: web.demo\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    expect(response).toMatch(/^HTTP\/1\.1 200 /);
    expect(response).toMatch(/\r\n\r\n[abc]\n$/);
  });
});

async function waitActiveZero(proxy: OutboundProxy, service: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const targets = proxy.stats()[service];
    if (targets && Object.values(targets).every((c) => c.active === 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${service} still has active tunnels: ${JSON.stringify(proxy.stats()[service])}`);
}
