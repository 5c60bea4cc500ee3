// The sidecar process over its life and at its edges: graceful drain on SIGTERM, WebSocket
// through the outbound proxy, the outbound policy, malformed input on the proxy port, and the
// command line (--help, missing discovery flags).
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer, type RawData } from 'ws';
import { eventually, startBackend, type FakeBackend } from '@skein/testkit';
import { ManifestDir, nodesYaml, startControlPlaneProcess, type ControlPlaneProcess } from './support/control-plane.js';
import { curl, podYaml, sidecarBin, startSidecarProcess, type SidecarProcess } from './support/sidecar.js';

const run = promisify(execFile);

/**
 * A pod whose GET /slow is answered only when the test calls `release()` (a slow backend
 * without a clock: the test decides when "later" is); GET / answers at once.
 */
interface SlowBackend {
  readonly port: number;
  /** Resolves once a /slow request has reached the backend. */
  readonly arrived: Promise<void>;
  release(): void;
  close(): Promise<void>;
}

async function startSlowBackend(address: string): Promise<SlowBackend> {
  let arrive!: () => void;
  const arrived = new Promise<void>((resolve) => { arrive = resolve; });
  const held: ServerResponse[] = [];
  let released = false;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    if (req.url !== '/slow') {
      res.end('slow-1\n');
      return;
    }
    arrive();
    if (released) res.end('slow done\n');
    else held.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    arrived,
    release() {
      released = true;
      for (const res of held.splice(0)) res.end('slow done\n');
    },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** A WebSocket pod: greets each client with its name, then echoes every message back. */
async function startChat(address: string): Promise<{ server: WebSocketServer; port: number; requests: IncomingMessage[] }> {
  const requests: IncomingMessage[] = [];
  const server = new WebSocketServer({ host: address, port: 0 });
  server.on('connection', (socket, request) => {
    requests.push(request);
    socket.send('hello from chat-1');
    socket.on('message', (data: RawData, isBinary: boolean) => socket.send(data, { binary: isBinary }));
  });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  return { server, port: (server.address() as AddressInfo).port, requests };
}

/**
 * A ws client through the sidecar's outbound proxy. ws has no HTTP-proxy support, so the
 * connection goes to the proxy port and the request line is rewritten to absolute-form
 * (`GET http://chat.demo/room HTTP/1.1`) before node's http client writes the head.
 */
function webSocketVia(proxyPort: number, url: string): WebSocket {
  return new WebSocket(url, {
    createConnection: () => connect(proxyPort, '127.0.0.1'),
    finishRequest: (req) => {
      req.path = url.replace(/^ws:/, 'http:');
      req.end();
    },
  });
}

/** Collects messages in arrival order and waits for the n-th one. */
function inbox(socket: WebSocket): (n: number) => Promise<RawData> {
  const messages: RawData[] = [];
  const waiters: Array<() => void> = [];
  socket.on('message', (data: RawData) => {
    messages.push(data);
    for (const wake of waiters.splice(0)) wake();
  });
  const nth = async (n: number): Promise<RawData> => {
    while (messages.length <= n) await new Promise<void>((resolve) => waiters.push(resolve));
    return messages[n]!;
  };
  return nth;
}

/** Writes `bytes` to a fresh connection to `port` and returns everything read until the peer closes. */
function rawExchange(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(15_000, () => socket.destroy(new Error('no answer within 15 s')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('error', reject);
    socket.once('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.write(bytes);
  });
}

/** True when a TCP connection to `port` is refused (nothing listening). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

const portOf = (proxy: string): number => Number(new URL(proxy).port);

const ready = (sidecar: SidecarProcess) => eventually(async () => (await fetch(`${sidecar.admin}/ready`)).status === 200);

describe('skein-sidecar lifecycle and edges', () => {
  const dir = new ManifestDir();
  let slow: SlowBackend;
  let chat: Awaited<ReturnType<typeof startChat>>;
  let outside: FakeBackend;
  let plane: ControlPlaneProcess;
  let sidecar: SidecarProcess;

  beforeAll(async () => {
    [slow, chat, outside] = await Promise.all([startSlowBackend('127.0.0.41'), startChat('127.0.0.42'), startBackend('outside', '127.0.0.61')]);
    dir.write('nodes.yaml', nodesYaml);
    dir.write('slow.yaml', `
apiVersion: v1
kind: Service
metadata: { name: slow, namespace: demo }
spec:
  clusterIP: 10.96.0.41
  selector: { app: slow }
  ports: [{ name: http, port: 80, targetPort: http }]
---${podYaml('slow-1', '127.0.0.41', slow.port, 'node-a', 'app: slow')}`);
    dir.write('chat.yaml', `
apiVersion: v1
kind: Service
metadata: { name: chat, namespace: demo }
spec:
  clusterIP: 10.96.0.42
  selector: { app: chat }
  ports: [{ name: http, port: 80, targetPort: http }]
---${podYaml('chat-1', '127.0.0.42', chat.port, 'node-a', 'app: chat')}`);
    plane = await startControlPlaneProcess(['--source', `files:${dir.path}`]);
    sidecar = await startSidecarProcess(['--control-plane', plane.grpcAddress]);
    await ready(sidecar);
  });

  afterAll(async () => {
    await sidecar?.stop();
    await plane?.stop();
    chat?.server.close();
    for (const client of chat?.server.clients ?? []) client.terminate();
    await Promise.all([slow?.close(), outside?.close()]);
    dir.cleanup();
  });

  it('drains on SIGTERM: the in-flight request completes, new connections are refused, exit 0', async () => {
    const draining = await startSidecarProcess(['--control-plane', plane.grpcAddress, '--drain', '30s']);
    await ready(draining);
    const inflight = curl(draining.proxy, 'http://slow.demo/slow');
    await slow.arrived;

    const exited = draining.stop('SIGTERM');
    await draining.waitForLine((line) => line.msg === 'draining');
    await eventually(() => refused(portOf(draining.proxy)));

    slow.release();
    expect(await inflight).toEqual({ status: 200, body: 'slow done\n' });
    expect(await exited).toBe(0);
  });

  it('carries a WebSocket through the outbound proxy, messages both ways', async () => {
    const socket = webSocketVia(portOf(sidecar.proxy), 'ws://chat.demo/room?user=ada');
    const nth = inbox(socket);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      });
      expect(chat.requests.at(-1)?.url).toBe('/room?user=ada');
      expect(chat.requests.at(-1)?.headers.host).toBe('chat.demo');

      expect((await nth(0)).toString()).toBe('hello from chat-1');
      socket.send('one');
      socket.send('two');
      socket.send(Buffer.from([0, 1, 2, 255]), { binary: true });
      expect((await nth(1)).toString()).toBe('one');
      expect((await nth(2)).toString()).toBe('two');
      expect([...(await nth(3)) as Buffer]).toEqual([0, 1, 2, 255]);
    } finally {
      const closed = new Promise<number>((resolve) => socket.once('close', (code: number) => resolve(code)));
      socket.close(1000, 'bye');
      expect(await closed).toBe(1000);
    }
  });

  it('registry-only refuses hosts outside the mesh with a 403 naming the host; allow-any passes them through', async () => {
    const strict = await startSidecarProcess(['--control-plane', plane.grpcAddress, '--outbound-policy', 'registry-only']);
    try {
      await ready(strict);
      const refusedHost = await curl(strict.proxy, 'http://example.invalid/');
      expect(refusedHost.status).toBe(403);
      expect(refusedHost.body).toContain('example.invalid');
      const refusedIp = await curl(strict.proxy, `http://127.0.0.61:${outside.port}/`);
      expect(refusedIp.status).toBe(403);
      expect(refusedIp.body).toContain('127.0.0.61');
      expect(await curl(strict.proxy, 'http://slow.demo/')).toEqual({ status: 200, body: 'slow-1\n' });
    } finally {
      expect(await strict.stop()).toBe(0);
    }
    const before = outside.total();
    expect(await curl(sidecar.proxy, `http://127.0.0.61:${outside.port}/`)).toEqual({ status: 200, body: 'outside\n' });
    expect(outside.total()).toBe(before + 1);
  });

  it.each([
    ['a garbage request line', 'GARBAGE\r\n\r\n'],
    ['lower-case noise', 'hello there\r\n\r\n'],
    ['a TLS ClientHello', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x2e, 0x01, 0x00, 0x00, 0x2a, 0x03, 0x03, 0x0d, 0x0a, 0x0d, 0x0a])],
    ['an absolute-form target without a host', 'GET http:///path HTTP/1.1\r\nConnection: close\r\n\r\n'],
    ['an absolute-form target with an empty host', 'GET http://:80/ HTTP/1.1\r\nConnection: close\r\n\r\n'],
    ['an origin-form request without Host', 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n'],
  ])('answers %s with 400 and keeps serving', async (_what, bytes) => {
    const answer = await rawExchange(portOf(sidecar.proxy), bytes);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer.toLowerCase()).toContain('x-skein-error: skein_err_bad_request');
    expect(await curl(sidecar.proxy, 'http://slow.demo/')).toEqual({ status: 200, body: 'slow-1\n' });
  });
});

describe('skein-sidecar command line', () => {
  /** The environment minus every SKEIN_* and POD_* variable, so only the flags given count. */
  const cleanEnv = (): NodeJS.ProcessEnv =>
    Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(SKEIN_|POD_|NODE_NAME$)/.test(key)));

  it('--help documents every flag with its environment variable', async () => {
    const { stdout } = await run(process.execPath, [sidecarBin, '--help'], { env: cleanEnv() });
    // One entry per option; commander wraps descriptions onto indented continuation lines.
    const entries = stdout.split('\n').reduce<string[]>((acc, line) => {
      if (/^ {2}(-\w, )?--/.test(line)) acc.push(line.trim());
      else if (acc.length > 0 && /^ {10,}\S/.test(line)) acc[acc.length - 1] += ` ${line.trim()}`;
      return acc;
    }, []);
    const envOf = Object.fromEntries(entries.filter((e) => !e.startsWith('-h, --help')).map((e) => [
      /^--([\w-]+)/.exec(e)![1], /\benv: ([A-Z_]+)\)$/.exec(e)?.[1] ?? 'MISSING',
    ]));
    expect(envOf).toEqual({
      'control-plane': 'SKEIN_CONTROL_PLANE', 'snapshot-url': 'SKEIN_SNAPSHOT_URL',
      'token-file': 'SKEIN_TOKEN_FILE', token: 'SKEIN_TOKEN',
      namespace: 'POD_NAMESPACE', 'pod-name': 'POD_NAME', 'pod-ip': 'POD_IP', 'node-name': 'NODE_NAME',
      zone: 'SKEIN_ZONE', region: 'SKEIN_REGION',
      'outbound-address': 'SKEIN_OUTBOUND_ADDRESS', 'outbound-port': 'SKEIN_OUTBOUND_PORT',
      'admin-address': 'SKEIN_ADMIN_ADDRESS', 'admin-port': 'SKEIN_ADMIN_PORT',
      'inbound-port': 'SKEIN_INBOUND_PORT', 'app-port': 'SKEIN_APP_PORT',
      'outbound-policy': 'SKEIN_OUTBOUND_POLICY', 'discovery-scope': 'SKEIN_DISCOVERY_SCOPE',
      'cache-file': 'SKEIN_CACHE_FILE', 'cluster-domain': 'SKEIN_CLUSTER_DOMAIN',
      'service-listener': 'SKEIN_SERVICE_LISTENERS', drain: 'SKEIN_DRAIN', 'log-level': 'SKEIN_LOG_LEVEL',
    });
  });

  it('exits non-zero with a clear message when it has no control plane, snapshot URL or cache file', async () => {
    const failure = await run(process.execPath, [sidecarBin, '--outbound-port', '0', '--admin-port', '0'], { env: cleanEnv() })
      .then(() => undefined, (error: unknown) => error as { code: number; stdout: string; stderr: string });
    expect(failure).toBeDefined();
    expect(failure!.code).not.toBe(0);
    expect(failure!.stderr.split('\n')[0]).toBe('error: give --control-plane <host:port> (or --snapshot-url, or at least --cache-file)');
    expect(failure!.stdout).not.toContain('listening');
  });
});
