import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { classify, sniffProtocol, type SniffResult } from './protocol-sniff.js';

describe('classify', () => {
  it.each([
    ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'h2'],
    ['PRI * HTTP/2.0\r\n', undefined],
    ['GET / HTTP/1.1\r\n', 'http1'],
    ['CONNECT web.demo:443 HTTP/1.1', 'http1'],
    ['M-SEARCH * HTTP/1.1', 'http1'],
    ['POS', undefined],
    ['P', undefined],
    ['get / HTTP/1.1', 'other'],
    [' GET', 'other'],
    ['\x16\x03\x01', 'other'],
    ['ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'other'],
  ])('%j -> %s', (bytes, expected) => {
    expect(classify(Buffer.from(bytes, 'latin1'))).toBe(expected);
  });
});

describe('sniffProtocol', () => {
  async function sniffed(send: (socket: Socket) => void, timeoutMs = 5000, sends = true): Promise<{ result: SniffResult; replayed: string }> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
    client.on('error', () => undefined);
    const [socket] = await new Promise<[Socket]>((resolve) => server.once('connection', (s: Socket) => resolve([s])));
    const result = await new Promise<SniffResult>((resolve) => {
      sniffProtocol(socket, timeoutMs, resolve);
      send(client);
    });
    // The bytes read for the decision are unshifted: the next reader sees them first.
    const replayed = await new Promise<string>((resolve) => {
      if (result === 'closed' || !sends) resolve('');
      else socket.once('data', (data: Buffer) => resolve(data.toString('latin1')));
      socket.resume();
    });
    client.destroy();
    socket.destroy();
    server.close();
    return { result, replayed };
  }

  it('decides across split writes and replays the bytes', async () => {
    const { result, replayed } = await sniffed((client) => {
      client.write('PRI * HTTP/2.0\r\n');
      setTimeout(() => client.write('\r\nSM\r\n\r\n'), 20);
    });
    expect(result).toBe('h2');
    expect(replayed).toBe('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  });

  it('calls a silent connection "other" after the timeout', async () => {
    expect((await sniffed(() => undefined, 20, false)).result).toBe('other');
  });

  it('reports a connection closed before any byte', async () => {
    expect((await sniffed((client) => client.end())).result).toBe('closed');
  });
});
