import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from './process.js';
import { TcpService } from './tcp-service.js';

/** A TCP server that greets each connection with its name. */
async function greeter(name: string): Promise<{ server: Server; address: string; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.write(name);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}`, sockets };
}

/** Connects through the service; resolves with the greeting and the socket. */
function dial(address: string): Promise<{ greeting: string; socket: Socket }> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port: Number(port) });
    socket.once('data', (data) => resolve({ greeting: String(data), socket }));
    socket.once('error', reject);
  });
}

describe('TcpService', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('spreads connections over the backends, skips one that refuses, and closes clients of a backend that dies', async () => {
    const a = await greeter('a');
    const b = await greeter('b');
    const service = await TcpService.start({ backends: [a.address, b.address] });
    cleanups.push(() => new Promise((r) => b.server.close(r)), () => service.close());
    const first = await dial(service.address);
    const second = await dial(service.address);
    expect([first.greeting, second.greeting].sort()).toEqual(['a', 'b']);
    const onA = first.greeting === 'a' ? first.socket : second.socket;
    const closed = new Promise((resolve) => onA.once('close', resolve));
    for (const socket of a.sockets) socket.destroy();
    a.server.close();
    await closed;
    for (let i = 0; i < 3; i++) expect((await dial(service.address)).greeting).toBe('b');
    expect(service.connections.get(b.address)).toBe(4);
    for (const { socket } of [first, second]) socket.destroy();
  });

  it('cuts connections to a backend taken out of the list', async () => {
    const a = await greeter('a');
    const service = await TcpService.start({ backends: [a.address] });
    cleanups.push(() => new Promise((r) => a.server.close(r)), () => service.close());
    const { socket } = await dial(service.address);
    let closed = false;
    socket.once('close', () => {
      closed = true;
    });
    service.setBackends([]);
    await eventually(() => closed);
  });
});
