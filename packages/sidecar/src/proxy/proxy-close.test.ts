// Graceful close: stop accepting, finish what is in flight, close idle keep-alive connections,
// destroy what outlives the grace period, and leave no sockets, servers or timers behind.
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHook } from 'node:async_hooks';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { FakeDataplane, waitFor } from './fake-dataplane.test-helper.js';
import { OutboundProxy } from './outbound-proxy.js';

/**
 * Tracks TCP sockets and servers created from now on, and timers the proxy's own modules
 * create, until each is destroyed (closed, cleared or fired).
 */
function trackHandles(): { alive(): string[]; stop(): void } {
  const live = new Map<number, string>();
  const hook = createHook({
    init(id, type) {
      if (type === 'TCPWRAP' || type === 'TCPSERVERWRAP') {
        live.set(id, type);
      } else if (type === 'Timeout') {
        const site = new Error().stack!.split('\n').slice(2, 10).find((line) => line.includes('/src/proxy/'));
        if (site !== undefined && !site.includes('.test')) live.set(id, `Timeout ${site.trim()}`);
      }
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return { alive: () => [...live.values()], stop: () => hook.disable() };
}

function get(port: number, path: string, agent: Agent): Promise<{ status: number; connection: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers: { host: new URL(path).host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('OutboundProxy.close', () => {
  it('drains an in-flight request, closes idle connections and leaves no open handles', async () => {
    const tracked = trackHandles();
    let release: (() => void) | undefined;
    const held: ServerResponse[] = [];
    const app = createServer((req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/slow') {
        held.push(res);
        release?.();
        return;
      }
      res.end('fast\n');
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const dataplane = new FakeDataplane().set('app.demo', 80, [{ address: '127.0.0.1', port: (app.address() as AddressInfo).port }]);
    // A connect timer left running would outlive the handle check below.
    const proxy = new OutboundProxy({ dataplane, connectTimeoutMs: 60_000 });
    const port = await proxy.listen('127.0.0.1', 0);

    // An idle keep-alive connection, and a request that is still waiting for its response.
    const idleAgent = new Agent({ keepAlive: true });
    expect((await get(port, 'http://app.demo/fast', idleAgent)).body).toBe('fast\n');
    const idleSocket = Object.values(idleAgent.freeSockets)[0]![0]! as Socket;
    const idleClosed = new Promise((resolve) => idleSocket.once('close', resolve));
    const busyAgent = new Agent({ keepAlive: true });
    const arrived = new Promise<void>((resolve) => { release = resolve; });
    const slow = get(port, 'http://app.demo/slow', busyAgent);
    await arrived;

    const closed = proxy.close(10_000);
    await idleClosed;
    const refused = await new Promise<boolean>((resolve) => {
      const probe = connect({ host: '127.0.0.1', port });
      probe.on('connect', () => { probe.destroy(); resolve(false); });
      probe.on('error', () => resolve(true));
    });
    expect(refused).toBe(true);

    held[0]!.end('slow\n');
    expect(await slow).toEqual({ status: 200, connection: 'close', body: 'slow\n' });
    await closed;

    idleAgent.destroy();
    busyAgent.destroy();
    app.closeAllConnections();
    await new Promise<void>((resolve) => app.close(() => resolve()));
    await waitFor(() => tracked.alive().length === 0, 'handles').catch(() => expect(tracked.alive()).toEqual([]));
    tracked.stop();
  });

  it('destroys a tunnel that outlives the grace period', async () => {
    const upstream = createServer();
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const sockets: Socket[] = [];
    upstream.on('connection', (socket: Socket) => sockets.push(socket));
    const dataplane = new FakeDataplane().set('tcp.demo', 443, [{ address: '127.0.0.1', port: (upstream.address() as AddressInfo).port }]);
    const proxy = new OutboundProxy({ dataplane });
    const port = await proxy.listen('127.0.0.1', 0);
    const tunnel = connect({ host: '127.0.0.1', port });
    tunnel.on('error', () => undefined);
    const established = new Promise<string>((resolve) => tunnel.once('data', (data: Buffer) => resolve(data.toString())));
    tunnel.write('CONNECT tcp.demo:443 HTTP/1.1\r\nHost: tcp.demo:443\r\n\r\n');
    expect(await established).toMatch(/^HTTP\/1\.1 200/);
    const tunnelClosed = new Promise((resolve) => tunnel.once('close', resolve));
    await proxy.close(50);
    await tunnelClosed;
    await waitFor(() => sockets.every((s) => s.destroyed), 'upstream leg closed');
    expect(Object.values(proxy.stats()['demo/tcp']!)[0]!.active).toBe(0);
    upstream.closeAllConnections();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  });
});
