// Two scenarios of the performance issue, real processes on loopback, contenders in alternating
// rounds, each in a fresh load process that warms up first and then runs flat out:
//
// gRPC unary through the sidecar: two grpc-js servers (unary echo of 64 bytes, a hand-made
// service definition with raw-buffer serializers, 127.0.0.41 and .42, one process); the load is a
// grpc-js client in its own process keeping N calls in flight.
//   direct grpc-js   the client's channel straight to one server: the limit
//   sidecar (h2c)    the client's channel to the sidecar's per-service listener for Service
//                    echo.demo:50051 (appProtocol kubernetes.io/h2c), which balances per call
//                    over both servers; OTEL_SDK_DISABLED=true as in the HTTP scenarios
// Reports calls/s, p50/p99, the sidecar's CPU per call and peak RSS, ratio vs direct.
//
// Library mode: N request loops in one load process against the two 1 KiB HTTP backends.
//   undici request, Agent     undici.request() over an Agent, round robin over the two backends
//   mesh.dispatcher           undici.request('http://web.demo/', { dispatcher: mesh.dispatcher })
//   undici fetch, Agent       undici.fetch() over an Agent, round robin
//   mesh.fetch                mesh.fetch('http://web.demo/')
// createMesh({ controlPlane }) against a real control plane in files mode. Reports req/s,
// p50/p99, the load process's CPU per request, ratio vs its plain-undici counterpart, added p50.
//
//   node bench/grpc-library.mjs [--seconds 5] [--rounds 3] [--concurrency 32] [--only grpc|library]
//                               [--no-write] [--smoke]
// Writes the "gRPC unary through the sidecar" and "Library mode" sections of BENCHMARKS.md
// unless --no-write, --only or --smoke. --smoke: one round, 1 s per contender, no writing;
// exits 1 if a contender failed or had errors.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { root, startBackends, startControlPlane, startListenerSidecar, treeCpuSeconds, treePeakRssBytes } from './http-kit.mjs';
import { GRPC_TITLE, LIBRARY_TITLE, renderGrpc, renderLibrary } from './grpc-library-report.mjs';
import { replaceSection } from './sections.mjs';

export const DEFAULTS = { seconds: 5, rounds: 3, warmup: 1, serialSeconds: 2, concurrency: 32 };
/** The issue's goals. */

const sidecarRequire = createRequire(join(root, 'packages/sidecar/package.json'));
const GRPC_JS = sidecarRequire.resolve('@grpc/grpc-js');
const UNDICI = sidecarRequire.resolve('undici');
const versionOf = (name) => JSON.parse(readFileSync(sidecarRequire.resolve(`${name}/package.json`), 'utf8')).version;

// --- child processes -------------------------------------------------------------------------

/** The echo service, shared by the servers and the load (raw buffers: no protobuf work on either side). */
const ECHO_DEF = `const raw = (b) => b;
const def = { echo: { path: '/skein.bench.Echo/Echo', requestStream: false, responseStream: false,
  requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw } };`;

const GRPC_SERVERS = `
const grpc = require(JSON.parse(process.argv[1]));
${ECHO_DEF}
const serve = (host, port) => new Promise((resolve, reject) => {
  const server = new grpc.Server();
  server.addService(def, { echo: (call, callback) => callback(null, call.request) });
  server.bindAsync(host + ':' + port, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
});
(async () => {
  const port = await serve('127.0.0.41', 0);
  await serve('127.0.0.42', port);
  console.log(JSON.stringify({ port }));
})();`;

/** What both load processes share: N loops of \`once()\` until a deadline, latencies in µs, own CPU. */
const LOOPS = `
async function measure(once, ms, concurrency) {
  const latencies = [];
  let errors = 0;
  let firstError;
  const end = performance.now() + ms;
  const loop = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      try { await once(); latencies.push((performance.now() - t) * 1000); } catch (err) { errors++; firstError ??= String(err?.message ?? err); }
    }
  };
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, loop));
  const seconds = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  const at = (p) => latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil((p / 100) * latencies.length) - 1))];
  return { requests: latencies.length, rps: latencies.length / seconds, p50: at(50), p99: at(99), errors, firstError,
    cpuUs: (used.user + used.system) / latencies.length };
}
async function probe(once) {
  const until = Date.now() + 15000;
  for (;;) {
    try { return await once(); } catch (err) { if (Date.now() > until) throw err; await new Promise((r) => setTimeout(r, 50)); }
  }
}`;

const GRPC_LOAD = `
const o = JSON.parse(process.argv[1]);
const grpc = require(o.grpcJs);
${ECHO_DEF}
${LOOPS}
const Client = grpc.makeGenericClientConstructor(def, 'Echo');
const client = new Client(o.target, grpc.credentials.createInsecure());
const message = Buffer.alloc(64, 'x');
const once = () => new Promise((resolve, reject) => client.echo(message, (err, res) => (err ? reject(err) : resolve(res))));
(async () => {
  await probe(once);
  if (o.warmup > 0) await measure(once, o.warmup * 1000, o.concurrency);
  console.log('measuring');
  console.log(JSON.stringify(await measure(once, o.seconds * 1000, o.concurrency)));
  client.close();
  process.exit(0);
})().catch((err) => { console.error(err); process.exit(1); });`;

const LIBRARY_LOAD = `
const o = JSON.parse(process.argv[1]);
const undici = await import(o.undici);
${LOOPS}
const origins = ['http://127.0.0.31:' + o.port + '/', 'http://127.0.0.32:' + o.port + '/'];
let next = 0;
let mesh;
let agent;
let once;
const ok = (status) => { if (status !== 200) throw new Error('status ' + status); };
if (o.mode.startsWith('mesh')) {
  const { createMesh } = await import(o.sidecar);
  mesh = createMesh({ controlPlane: o.controlPlane, namespace: 'demo' });
  await mesh.ready();
} else {
  agent = new undici.Agent();
}
if (o.mode === 'undici-request') once = async () => { const r = await undici.request(origins[next++ & 1], { dispatcher: agent }); await r.body.arrayBuffer(); ok(r.statusCode); };
if (o.mode === 'mesh-dispatcher') once = async () => { const r = await undici.request('http://web.demo/', { dispatcher: mesh.dispatcher }); await r.body.arrayBuffer(); ok(r.statusCode); };
if (o.mode === 'undici-fetch') once = async () => { const r = await undici.fetch(origins[next++ & 1], { dispatcher: agent }); await r.arrayBuffer(); ok(r.status); };
if (o.mode === 'mesh-fetch') once = async () => { const r = await mesh.fetch('http://web.demo/'); await r.arrayBuffer(); ok(r.status); };
await probe(once);
if (o.warmup > 0) await measure(once, o.warmup * 1000, o.concurrency);
console.log('measuring');
const flat = await measure(once, o.seconds * 1000, o.concurrency);
const serial = await measure(once, o.serialSeconds * 1000, 1);
console.log(JSON.stringify({ ...flat, serial: { rps: serial.rps, p50: serial.p50, p99: serial.p99, cpuUs: serial.cpuUs }, errors: flat.errors + serial.errors }));
await (mesh ?? agent).close();
process.exit(0);`;

/**
 * Runs `code` in a child node process with one JSON argument; `onLine(line)` sees each line it
 * prints. Resolves with its last JSON line once it exits 0, else rejects with its last output.
 */
function runChild(ctx, what, code, arg, { module = false, onLine = () => {} } = {}) {
  const child = spawn(process.execPath, [...(module ? ['--input-type=module'] : []), '-e', code, JSON.stringify(arg ?? null)], { stdio: ['ignore', 'pipe', 'pipe'] });
  ctx.track(child);
  const lines = [];
  let partial = '';
  let err = '';
  child.stdout.on('data', (d) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop();
    for (const line of parts) {
      lines.push(line);
      onLine(line);
    }
  });
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => child.once('exit', (exit, signal) => {
    const line = [...lines, partial].findLast((l) => l.startsWith('{'));
    if (exit !== 0 || !line) reject(new Error(`${what} exited (${exit ?? signal}): ${(err || lines.join('\n')).trim().split('\n').slice(-3).join(' / ')}`));
    else resolve(JSON.parse(line));
  }));
}

/** The echo Service and its EndpointSlice (both servers), port named and declared h2c. */
const echoManifest = (port) => `apiVersion: v1
kind: Service
metadata: { name: echo, namespace: demo }
spec:
  clusterIP: 10.96.0.11
  ports: [{ name: grpc, port: 50051, targetPort: ${port}, appProtocol: kubernetes.io/h2c }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: echo-1, namespace: demo, labels: { kubernetes.io/service-name: echo } }
addressType: IPv4
ports: [{ name: grpc, port: ${port}, protocol: TCP, appProtocol: kubernetes.io/h2c }]
endpoints:
  - addresses: [127.0.0.41]
    conditions: { ready: true }
  - addresses: [127.0.0.42]
    conditions: { ready: true }
`;

// --- the runs --------------------------------------------------------------------------------

const GRPC_CONTENDERS = [
  { key: 'direct', name: 'direct grpc-js (one server)' },
  { key: 'sidecar', name: 'through the sidecar (h2c listener, both servers)' },
];
const LIBRARY_CONTENDERS = [
  { key: 'undici-request', name: 'undici `request()`, Agent, round robin', ref: 'undici-request' },
  { key: 'mesh-dispatcher', name: '`request()` with `mesh.dispatcher`', ref: 'undici-request' },
  { key: 'undici-fetch', name: 'undici `fetch()`, Agent, round robin', ref: 'undici-fetch' },
  { key: 'mesh-fetch', name: '`mesh.fetch()`', ref: 'undici-fetch' },
];

/** Runs `round(contender, round)` for every contender in alternating rounds, collecting failures. */
async function alternate(contenders, o, log, round) {
  const out = contenders.map((c) => ({ ...c, rounds: [], failures: [] }));
  for (let r = 0; r < o.rounds; r++) {
    for (const c of out) {
      try {
        const result = await round(c, r);
        c.rounds.push({ round: r, ...result });
        log(`round ${r + 1} ${c.name}: ${Math.round(result.rps)}/s, p50 ${Math.round(result.p50)} µs, p99 ${Math.round(result.p99)} µs${result.errors ? `, ${result.errors} errors (${result.firstError})` : ''}`);
      } catch (err) {
        c.failures.push(`round ${r + 1}: ${err.message}`);
        log(`round ${r + 1} ${c.name}: failed: ${err.message}`);
      }
    }
  }
  return out;
}

/** Children and the temporary directory, cleaned up whatever happens. */
function context(track) {
  const children = new Set();
  const ctx = {
    tmp: mkdtempSync(join(os.tmpdir(), 'skein-bench-grpc-lib-')),
    track: (child) => {
      children.add(child);
      track?.(child);
      child.once('exit', () => children.delete(child));
    },
    cleanup: () => {
      for (const child of children) {
        try { child.kill('SIGKILL'); } catch { /* gone */ }
      }
      rmSync(ctx.tmp, { recursive: true, force: true });
    },
  };
  process.on('exit', ctx.cleanup);
  return ctx;
}

export async function runGrpc({ track, log = () => {}, ...options } = {}) {
  const o = { ...DEFAULTS, ...options };
  const startedAt = Date.now();
  const ctx = context(track);
  try {
    let ready;
    const listening = new Promise((resolve) => (ready = resolve));
    const servers = runChild(ctx, 'grpc servers', GRPC_SERVERS, GRPC_JS, { onLine: (line) => ready(JSON.parse(line)) });
    const { port } = await Promise.race([listening, servers]);
    writeFileSync(join(ctx.tmp, 'echo.yaml'), echoManifest(port));
    const { plane, grpcAddress } = await startControlPlane(ctx.tmp, port);
    try {
      const contenders = await alternate(GRPC_CONTENDERS, o, log, async (c) => {
        const sidecar = c.key === 'sidecar' ? await startListenerSidecar(grpcAddress, 'echo.demo:50051=0', { OTEL_SDK_DISABLED: 'true' }) : undefined;
        try {
          const target = sidecar ? `127.0.0.1:${sidecar.port}` : `127.0.0.41:${port}`;
          // The sidecar's CPU over the timed run only: from the load's "measuring" line to its exit.
          const pid = sidecar?.proc.child.pid;
          let cpu0 = NaN;
          const result = await runChild(ctx, 'grpc load', GRPC_LOAD, { grpcJs: GRPC_JS, target, seconds: o.seconds, warmup: o.warmup, concurrency: o.concurrency }, {
            onLine: (line) => { if (line === 'measuring' && pid) cpu0 = treeCpuSeconds([pid]); },
          });
          const cpu = pid ? treeCpuSeconds([pid]) - cpu0 : NaN;
          return { ...result, proxyCpuUs: (cpu * 1e6) / result.requests, rssBytes: pid ? treePeakRssBytes([pid]) : NaN };
        } finally {
          await sidecar?.proc.stop();
        }
      });
      return { options: o, contenders, startedAt, durationMs: Date.now() - startedAt, versions: { node: process.version, grpcJs: versionOf('@grpc/grpc-js') } };
    } finally {
      await plane.stop();
    }
  } finally {
    ctx.cleanup();
    process.off('exit', ctx.cleanup);
  }
}

export async function runLibrary({ track, log = () => {}, ...options } = {}) {
  const o = { ...DEFAULTS, ...options };
  const startedAt = Date.now();
  const ctx = context(track);
  try {
    const children = new Set();
    const { port } = await startBackends(children);
    for (const child of children) ctx.track(child);
    const { plane, grpcAddress } = await startControlPlane(ctx.tmp, port);
    try {
      const sidecar = pathToFileURL(join(root, 'packages/sidecar/dist/index.js')).href;
      const contenders = await alternate(LIBRARY_CONTENDERS, o, log, (c) => runChild(ctx, `${c.key} load`, LIBRARY_LOAD, {
        mode: c.key, port, controlPlane: grpcAddress, undici: pathToFileURL(UNDICI).href, sidecar, seconds: o.seconds, serialSeconds: o.serialSeconds, warmup: o.warmup, concurrency: o.concurrency,
      }, { module: true }));
      return { options: o, contenders, startedAt, durationMs: Date.now() - startedAt, versions: { node: process.version, undici: versionOf('undici') } };
    } finally {
      await plane.stop();
    }
  } finally {
    ctx.cleanup();
    process.off('exit', ctx.cleanup);
  }
}

// --- entry points ----------------------------------------------------------------------------

/** `pnpm bench`'s entry: runs both scenarios, writes their sections after "HTTP/1.1 proxying", returns the markdown. */
export async function grpcLibrarySuite({ track, log = () => {}, ...options } = {}) {
  const grpc = renderGrpc(await runGrpc({ track, log, ...options }));
  replaceSection(GRPC_TITLE, grpc, 'HTTP/1.1 proxying');
  const library = renderLibrary(await runLibrary({ track, log, ...options }));
  replaceSection(LIBRARY_TITLE, library, GRPC_TITLE);
  return `${grpc}\n\n${library}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const value = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const number = (name, fallback) => (value(name) === undefined ? fallback : Number(value(name)));
  const smoke = args.includes('--smoke');
  const only = value('--only');
  const options = smoke
    ? { rounds: 1, seconds: 1, serialSeconds: 1, warmup: 0, concurrency: number('--concurrency', DEFAULTS.concurrency) }
    : { rounds: number('--rounds', DEFAULTS.rounds), seconds: number('--seconds', DEFAULTS.seconds), concurrency: number('--concurrency', DEFAULTS.concurrency) };
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      console.error(`grpc-library: ${signal}, cleaning up`);
      process.exit(signal === 'SIGINT' ? 130 : 143); // the 'exit' handlers kill the children
    });
  }
  const write = !smoke && !args.includes('--no-write') && only === undefined;
  const log = (line) => console.error(line);
  const reports = [];
  if (only === undefined || only === 'grpc') {
    const report = await runGrpc({ ...options, log });
    const section = renderGrpc(report);
    console.log(`${section}\n`);
    if (write) console.error(`wrote ${replaceSection(GRPC_TITLE, section, 'HTTP/1.1 proxying')}`);
    reports.push(report);
  }
  if (only === undefined || only === 'library') {
    const report = await runLibrary({ ...options, log });
    const section = renderLibrary(report);
    console.log(section);
    if (write) console.error(`wrote ${replaceSection(LIBRARY_TITLE, section, GRPC_TITLE)}`);
    reports.push(report);
  }
  const failed = reports.flatMap((r) => r.contenders).filter((c) => c.failures.length > 0 || c.rounds.some((r) => r.errors > 0));
  if (smoke && failed.length > 0) {
    console.error(`grpc-library --smoke: ${failed.map((c) => c.name).join(', ')} failed or had errors`);
    process.exitCode = 1;
  }
}
