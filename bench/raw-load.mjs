// A closed-loop HTTP/1.1 load generator on raw sockets, for the CONNECT tunnel benchmark: wrk
// and autocannon cannot open a tunnel first. Each connection (optionally) sends
// `CONNECT <target>` and waits for the 200, then sends one GET at a time and reads the answer by
// its Content-Length. Parsing is a search for the header end and one number, so the generator
// costs far less per request than an HTTP client would, and the same code loads both contenders.
//
//   node bench/raw-load.mjs --host 127.0.0.1 --port 8080 --seconds 5 --connections 32 [--connect web.demo:80]
// Prints one JSON line: { requests, errors, rps, p50Us, p99Us, p999Us }.
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const HOST = arg('--host', '127.0.0.1');
const PORT = Number(arg('--port'));
const SECONDS = Number(arg('--seconds', '5'));
const CONNECTIONS = Number(arg('--connections', '32'));
const TUNNEL = arg('--connect');
const REQUEST = Buffer.from(`GET / HTTP/1.1\r\nHost: ${TUNNEL ?? `${HOST}:${PORT}`}\r\n\r\n`, 'latin1');
const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');
const LENGTH = /content-length:\s*(\d+)/i;

const latencies = new Float64Array(4_000_000);
let count = 0;
let errors = 0;
let running = true;

function connection() {
  return new Promise((resolve) => {
    const socket = net.connect(PORT, HOST);
    socket.setNoDelay(true);
    let pending = Buffer.alloc(0);
    let tunnelled = TUNNEL === undefined;
    let sentAt = 0;
    const send = () => {
      if (!running) {
        socket.end();
        return;
      }
      sentAt = performance.now();
      socket.write(REQUEST);
    };
    socket.on('connect', () => {
      if (tunnelled) send();
      else socket.write(`CONNECT ${TUNNEL} HTTP/1.1\r\nHost: ${TUNNEL}\r\n\r\n`);
    });
    socket.on('data', (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      for (;;) {
        const end = pending.indexOf(HEADER_END);
        if (end < 0) return;
        if (!tunnelled) {
          if (!pending.latin1Slice(0, 12).includes(' 200')) {
            errors++;
            socket.destroy();
            return;
          }
          tunnelled = true;
          pending = pending.subarray(end + 4);
          send();
          continue;
        }
        const head = pending.latin1Slice(0, end);
        const total = end + 4 + Number(LENGTH.exec(head)?.[1] ?? 0);
        if (pending.length < total) return;
        if (!head.startsWith('HTTP/1.1 200')) errors++;
        if (count < latencies.length) latencies[count] = performance.now() - sentAt;
        count++;
        pending = pending.subarray(total);
        send();
      }
    });
    socket.on('error', () => errors++);
    socket.on('close', resolve);
  });
}

const startedAt = performance.now();
const done = Promise.all(Array.from({ length: CONNECTIONS }, connection));
setTimeout(() => { running = false; }, SECONDS * 1000);
await done;
const elapsed = (performance.now() - startedAt) / 1000;
const sample = latencies.slice(0, Math.min(count, latencies.length)).sort();
const at = (q) => (sample.length ? sample[Math.min(sample.length - 1, Math.floor(q * sample.length))] * 1000 : NaN);
console.log(JSON.stringify({ requests: count, errors, rps: count / elapsed, p50Us: at(0.5), p99Us: at(0.99), p999Us: at(0.999) }));
