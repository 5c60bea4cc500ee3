import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readyUrl, waitReady } from './wait-ready.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A sidecar admin API stand-in: /ready answers 503 until `readyAfterMs` has passed. */
async function sidecarAdmin(readyAfterMs: number): Promise<string> {
  const start = Date.now();
  const server = createServer((req, res) => {
    if (req.url !== '/ready') return void res.writeHead(404).end();
    if (Date.now() - start >= readyAfterMs) res.writeHead(200).end('ready\n');
    else res.writeHead(503).end('not ready: no config applied yet\n');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('waitReady', () => {
  it('builds the /ready URL from host:port or a URL', () => {
    expect(readyUrl('127.0.0.1:15000')).toBe('http://127.0.0.1:15000/ready');
    expect(readyUrl('http://10.0.0.1:15000/')).toBe('http://10.0.0.1:15000/ready');
  });

  it('returns once the sidecar turns ready', async () => {
    const admin = await sidecarAdmin(300);
    const result = await waitReady({ admin, timeoutMs: 5000, intervalMs: 50 });
    expect(result.ready).toBe(true);
    expect(result.attempts).toBeGreaterThan(1);
    expect(result.elapsedMs).toBeGreaterThanOrEqual(250);
  });

  it('gives up after the timeout with the last answer', async () => {
    const admin = await sidecarAdmin(60_000);
    const result = await waitReady({ admin, timeoutMs: 300, intervalMs: 50 });
    expect(result).toMatchObject({ ready: false, last: 'HTTP 503: not ready: no config applied yet' });
    expect(result.elapsedMs).toBeLessThan(2000);
  });

  it('keeps trying while nothing listens yet, and says so', async () => {
    let clock = 0;
    const result = await waitReady({
      admin: '127.0.0.1:9', timeoutMs: 1000, intervalMs: 250,
      now: () => clock,
      sleep: async (ms) => { clock += ms; },
      fetch: async () => { throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:9') }); },
    });
    expect(result).toEqual({ ready: false, attempts: 5, elapsedMs: 1000, last: 'connect ECONNREFUSED 127.0.0.1:9' });
  });
});
