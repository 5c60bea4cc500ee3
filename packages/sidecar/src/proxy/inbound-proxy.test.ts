import { createServer, Server, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect as connectH2, createServer as createH2Server } from 'node:http2';
import { connect, createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { curl, deadPort } from './fake-dataplane.test-helper.js';
import { InboundProxy, type InboundProxyOptions } from './inbound-proxy.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Listens on 127.0.0.1 (http, http2 and net servers are all net.Servers) and registers the close. */
async function listening(server: TcpServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => {
    if (server instanceof Server) server.closeAllConnections();
    server.close(() => resolve());
  }));
  return (server.address() as AddressInfo).port;
}

async function inbound(options: InboundProxyOptions): Promise<{ proxy: InboundProxy; port: number }> {
  const proxy = new InboundProxy(options);
  const port = await proxy.listen('127.0.0.1', 0);
  cleanups.push(() => proxy.close(500));
  return { proxy, port };
}

describe('InboundProxy', () => {
  it('forwards HTTP/1.1 to the app over keep-alive, with telemetry hooks', async () => {
    const seen: IncomingHttpHeaders[] = [];
    let connections = 0;
    const app = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(req.url === '/missing' ? 404 : 200).end(`app ${req.url}\n`);
    });
    app.on('connection', () => connections++);
    const appPort = await listening(app);
    const finished: Array<[string | undefined, number]> = [];
    const { port } = await inbound({
      appPort,
      onRequest: () => ({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }),
      onResponse: (req: IncomingMessage, res: ServerResponse) => finished.push([req.url, res.statusCode]),
    });
    const result = await curl(['-H', 'traceparent: 00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-01',
      `http://127.0.0.1:${port}/one`, `http://127.0.0.1:${port}/missing`]);
    expect(result.stdout).toBe('app /one\napp /missing\n');
    expect(seen[0]!.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(seen[0]!.host).toBe(`127.0.0.1:${port}`);
    expect(finished).toEqual([['/one', 200], ['/missing', 404]]);
    expect(connections).toBe(1);
  });

  it('answers 503 when the app is not listening', async () => {
    const { port } = await inbound({ appPort: await deadPort() });
    const result = await curl(['-i', `http://127.0.0.1:${port}/`]);
    expect(result.stdout).toMatch(/^HTTP\/1\.1 503/);
    expect(result.stdout).toMatch(/x-skein-error: SKEIN_ERR_CONNECT_FAILED/);
  });

  it('relays non-HTTP bytes as raw TCP', async () => {
    const echo = createTcpServer({ allowHalfOpen: true }, (socket) => socket.pipe(socket));
    const { port } = await inbound({ appPort: await listening(echo) });
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
      socket.on('error', reject);
      socket.end(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f])); // TLS-like record
    });
    expect(reply).toBe('\x16\x03\x01\x00\x05hello');
  });

  it('relays a protocol where the server speaks first', async () => {
    const smtp = createTcpServer((socket) => {
      socket.write('220 app ready\r\n');
      socket.on('data', (data) => socket.end(`250 got ${data.toString().trim()}\r\n`));
    });
    const { port } = await inbound({ appPort: await listening(smtp), detectTimeoutMs: 50 });
    const transcript = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        text += chunk;
        if (text === '220 app ready\r\n') socket.write('HELO client\r\n');
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(transcript).toBe('220 app ready\r\n250 got HELO client\r\n');
  });

  it('relays h2c to the app as TCP', async () => {
    const app = createH2Server();
    app.on('stream', (stream) => {
      stream.respond({ ':status': 200 });
      stream.end('h2 app\n');
    });
    const { port } = await inbound({ appPort: await listening(app) });
    const session = connectH2(`http://127.0.0.1:${port}`);
    const body = await new Promise<string>((resolve, reject) => {
      const stream = session.request({ ':path': '/' });
      let text = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => { text += chunk; });
      stream.on('end', () => resolve(text));
      stream.on('error', reject);
      stream.end();
    });
    session.close();
    expect(body).toBe('h2 app\n');
  });

  it('forwards a WebSocket to the app', async () => {
    const app = createServer();
    const wss = new WebSocketServer({ server: app });
    wss.on('connection', (socket) => socket.on('message', (data) => socket.send(`echo ${String(data)}`)));
    cleanups.push(() => {
      for (const client of wss.clients) client.terminate();
      wss.close();
    });
    const { port } = await inbound({ appPort: await listening(app) });
    const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
    const reply = await new Promise<string>((resolve, reject) => {
      socket.on('open', () => socket.send('hi'));
      socket.on('message', (data: Buffer) => resolve(data.toString()));
      socket.on('error', reject);
    });
    socket.close();
    expect(reply).toBe('echo hi');
  });
});
