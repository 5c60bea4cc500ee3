// Bodies must stream through the proxy with backpressure, never be buffered. The client and the
// endpoint run in a child process, so this process's memory is the proxy's (plus vitest's).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDataplane } from './fake-dataplane.test-helper.js';
import { OutboundProxy } from './outbound-proxy.js';

const SIZE = 100 * 1024 * 1024;

// Endpoint (/count consumes an upload, /bytes streams the body) and a client that, for each size
// read on stdin, uploads and then downloads that many bytes through the proxy, with backpressure.
const CHILD = `
import http from 'node:http';
import { createInterface } from 'node:readline';
const SIZE = ${SIZE};
const proxyPort = Number(process.env.PROXY_PORT);
const chunk = Buffer.alloc(64 * 1024, 120);
let size = SIZE;
// Readers slower than writers, so a proxy that ignored backpressure would pile up the difference.
const slow = (stream) => { stream.pause(); setTimeout(() => stream.resume(), 1); };
const pump = (out, done) => {
  let left = size;
  const write = () => {
    while (left > 0) {
      left -= chunk.length;
      if (!out.write(chunk)) { out.once('drain', write); return; }
    }
    done();
  };
  write();
};
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/count')) {
    let n = 0;
    req.on('data', (c) => { n += c.length; slow(req); });
    req.on('end', () => res.end(String(n)));
    return;
  }
  res.writeHead(200, { 'content-length': String(size) });
  pump(res, () => res.end());
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
createInterface({ input: process.stdin }).on('line', async (line) => {
  size = Number(line);
  const up = await new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxyPort, method: 'POST', path: 'http://big.demo/count',
      headers: { host: 'big.demo', 'content-length': String(size) } }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(Number(body)));
    });
    req.on('error', reject);
    pump(req, () => req.end());
  });
  const down = await new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: proxyPort, path: 'http://big.demo/bytes', headers: { host: 'big.demo' } }, (res) => {
      let n = 0;
      res.on('data', (c) => { n += c.length; slow(res); });
      res.on('end', () => resolve(n));
    }).on('error', reject);
  });
  console.log(JSON.stringify({ up, down }));
});
`;

describe('OutboundProxy: streaming', () => {
  const dataplane = new FakeDataplane();
  let proxy: OutboundProxy;
  let child: ChildProcess;
  let lines: AsyncIterator<string>;

  beforeAll(async () => {
    proxy = new OutboundProxy({ dataplane });
    const port = await proxy.listen('127.0.0.1', 0);
    child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], { env: { ...process.env, PROXY_PORT: String(port) }, stdio: ['pipe', 'pipe', 'inherit'] });
    lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const { port: backendPort } = JSON.parse((await lines.next()).value as string) as { port: number };
    dataplane.set('big.demo', 80, [{ address: '127.0.0.1', port: backendPort }]);
  });

  afterAll(async () => {
    child.kill();
    await proxy.close(1000);
  });

  it('moves a 100 MB upload and a 100 MB download without growing its memory', async () => {
    // Collect garbage before every sample, so what is measured is what the proxy holds on to
    // (a buffering proxy would hold up to 100 MB), not how far V8 lets garbage pile up.
    const gc = collector();
    // Warm up first, so code compiled on first use does not count as growth.
    child.stdin!.write(`${1024 * 1024}\n`);
    await lines.next();
    gc();
    const before = process.memoryUsage();
    let peakRss = before.rss;
    let peakLive = before.heapUsed + before.arrayBuffers;
    const sampler = setInterval(() => {
      gc();
      const now = process.memoryUsage();
      peakRss = Math.max(peakRss, now.rss);
      peakLive = Math.max(peakLive, now.heapUsed + now.arrayBuffers);
    }, 10);
    child.stdin!.write(`${SIZE}\n`);
    const result = JSON.parse((await lines.next()).value as string) as { up: number; down: number };
    clearInterval(sampler);
    expect(result).toEqual({ up: SIZE, down: SIZE });
    const mb = (bytes: number): number => bytes / 1024 / 1024;
    expect(mb(peakLive - before.heapUsed - before.arrayBuffers)).toBeLessThan(8);
    expect(mb(peakRss - before.rss)).toBeLessThan(30);
    const counters = Object.values(proxy.stats()['demo/big']!)[0]!;
    expect(counters).toMatchObject({ active: 0, total: 4, errors: 0, connectFailures: 0 });
  });
});

/** V8's gc() without starting node with --expose-gc. */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
