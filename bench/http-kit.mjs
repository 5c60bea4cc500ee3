// What the HTTP benchmarks (http-proxy.mjs, http-peers.mjs) share: the two 1 KiB backends, the
// manifest and control plane that point the sidecar at them, the sidecar itself, the load
// generators (autocannon; wrk with a report and a fixed-rate script), what /proc says about a
// process tree (CPU, peak RSS), and Debian tools installed on demand.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));
const { spawnProcess, eventually } = await import(join(root, 'packages/testkit/dist/index.js'));
export { spawnProcess, eventually };

/** Linux USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s. */
const CLK_TCK = 100;
export const AUTOCANNON = join(root, 'node_modules/autocannon/autocannon.js');

/**
 * The backends (1 KiB answers on 127.0.0.31 and 127.0.0.32, same port; one child process) and
 * an OTLP sink that answers 200 (another), added to `children`; resolves with their ports.
 */
export async function startBackends(children) {
  const backends = spawnNode(children, `
    const http = require('node:http');
    const body = Buffer.alloc(1024, 'x');
    const serve = (host, port) => new Promise((resolve) => {
      const s = http.createServer((req, res) => { req.resume(); res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }); res.end(body); });
      s.keepAliveTimeout = 60000;
      s.listen(port, host, () => resolve(s.address().port));
    });
    (async () => {
      const port = await serve('127.0.0.31', 0);
      await serve('127.0.0.32', port);
      console.log(JSON.stringify({ port }));
    })();`);
  // Its own process, as a collector would be: reading the exports must not hold up the backends.
  const sink = spawnNode(children, `
    const http = require('node:http');
    const sink = http.createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(200, { 'content-type': 'application/x-protobuf' }); res.end(); }); });
    sink.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ sink: sink.address().port })));`);
  return { ...(await backends), ...(await sink) };
}

/** Runs `code` in a node child added to `children`; resolves with the JSON of its first line. */
async function spawnNode(children, code) {
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  const line = await new Promise((resolve, reject) => {
    child.stdout.once('data', (chunk) => resolve(String(chunk)));
    child.once('exit', (c) => reject(new Error(`bench child exited with ${c}`)));
  });
  return JSON.parse(line);
}

/** Service web.demo:80 with the two backends as its endpoints. */
export function manifest(port) {
  return `apiVersion: v1
kind: Service
metadata: { name: web, namespace: demo }
spec:
  clusterIP: 10.96.0.10
  ports: [{ name: http, port: 80, targetPort: ${port} }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: web-1, namespace: demo, labels: { kubernetes.io/service-name: web } }
addressType: IPv4
ports: [{ name: http, port: ${port}, protocol: TCP }]
endpoints:
  - addresses: [127.0.0.31]
    conditions: { ready: true }
  - addresses: [127.0.0.32]
    conditions: { ready: true }
`;
}

/** The control plane in files mode on `dir`, serving manifest(port); resolves with it and its gRPC address. */
export async function startControlPlane(dir, port) {
  writeFileSync(join(dir, 'web.yaml'), manifest(port));
  const plane = await spawnProcess(join(root, 'packages/control-plane/dist/bin/control-plane.js'), [
    '--source', `files:${dir}`, '--grpc-port', '0', '--http-port', '0', '--listen-address', '127.0.0.1', '--log-level', 'info']);
  return { plane, grpcAddress: `127.0.0.1:${plane.listening.grpcPort}` };
}

/**
 * The sidecar with a per-service listener for web.demo:80, once it is ready and proxies.
 * SKEIN_BENCH_CPU_PROF=<dir> profiles it; SKEIN_BENCH_SIDECAR_NODE_ARGS passes node flags.
 */
export async function startSidecar(grpcAddress, env) {
  const proc = await spawnSidecar(grpcAddress, 'web.demo:80=0', env);
  const port = Object.values(proc.listening.serviceListenerPorts)[0];
  const admin = `http://127.0.0.1:${proc.listening.adminPort}`;
  try {
    await eventually(async () => (await fetch(`${admin}/ready`)).ok && (await fetch(`http://127.0.0.1:${port}/`)).ok, 20_000, 50);
  } catch (err) {
    await proc.stop('SIGKILL');
    throw err;
  }
  return { proc, url: `http://127.0.0.1:${port}/`, admin };
}

/** The sidecar process (tracked by spawnProcess) with one per-service listener, e.g. 'web.demo:80=0'. */
function spawnSidecar(grpcAddress, listener, env) {
  return spawnProcess(join(root, 'packages/sidecar/dist/bin/sidecar.js'), [
    '--control-plane', grpcAddress, '--namespace', 'demo', '--pod-name', 'bench', '--pod-ip', '127.0.0.1',
    '--outbound-port', '0', '--admin-port', '0', '--admin-address', '127.0.0.1', '--service-listener', listener, '--log-level', 'info',
  ], { env: { ...process.env, ...env }, execArgv: [
    ...(process.env.SKEIN_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SKEIN_BENCH_CPU_PROF}`] : []),
    ...(process.env.SKEIN_BENCH_SIDECAR_NODE_ARGS ?? '').split(' ').filter(Boolean),
  ] });
}

/**
 * The sidecar with per-service listener `listener` (e.g. 'echo.demo:50051=0'), once its admin
 * /ready answers 200; nothing is sent through the listener, so the caller probes it in its own
 * protocol. Resolves with { proc, port, admin }.
 */
export async function startListenerSidecar(grpcAddress, listener, env) {
  const proc = await spawnSidecar(grpcAddress, listener, env);
  const admin = `http://127.0.0.1:${proc.listening.adminPort}`;
  try {
    await eventually(async () => (await fetch(`${admin}/ready`)).ok, 20_000, 50);
  } catch (err) {
    await proc.stop('SIGKILL');
    throw err;
  }
  return { proc, port: Object.values(proc.listening.serviceListenerPorts)[0], admin };
}

/** utime + stime of `pid` (all its threads) in seconds. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** `pid` and all its live descendants (from the ppid field of /proc/<pid>/stat). */
export function processTree(pid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch { /* exited meanwhile */ }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
  return tree;
}

/** utime + stime summed over `pids`, in seconds (a pid that has gone counts 0). */
export function treeCpuSeconds(pids) {
  let sum = 0;
  for (const pid of pids) {
    try { sum += cpuSeconds(pid); } catch { /* gone */ }
  }
  return sum;
}

/** VmHWM (peak resident set) summed over `pids`, in bytes. */
export function treePeakRssBytes(pids) {
  let sum = 0;
  for (const pid of pids) {
    try { sum += Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m)?.[1] ?? 0) * 1024; } catch { /* gone */ }
  }
  return sum;
}

/**
 * autocannon in its own process (keep-alive, `connections`, optionally `rate` requests/s overall);
 * resolves with its JSON result. `track(child)` sees the process, for cleanup.
 */
export function autocannon(url, seconds, { connections = 32, rate, track } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AUTOCANNON, '-c', String(connections), '-d', String(seconds), ...(rate ? ['-R', String(rate)] : []), '-j', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    track?.(child);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`autocannon exited with ${code}`))));
  });
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// --- proxies as child processes -----------------------------------------------------------

/** A free port on 127.0.0.1 (listen on 0, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Spawns `bin` (tracked with `ctx.track`); resolves with { url, pid, stop } once `url` answers 200
 * (`url` may be a function of the output so far that resolves to it), rejects with the end of its
 * output if it exits first.
 */
export async function startProcess(ctx, what, bin, args, url) {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  ctx.track(child);
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise((_, reject) => child.once('exit', (code, signal) => reject(new Error(`${what} exited (${code ?? signal}) before it answered: ${output.trim().split('\n').slice(-3).join(' / ')}`))));
  try {
    const address = typeof url === 'function' ? await Promise.race([url(() => output), exited]) : url;
    await Promise.race([eventually(async () => (await fetch(address)).ok, 15_000, 50), exited]);
    return { url: address, pid: child.pid, stop: () => stopTree(child) };
  } catch (err) {
    await stopTree(child);
    throw err;
  }
}

/** SIGTERM, then SIGKILL to whatever of its process tree is left after 5 s. */
export async function stopTree(child) {
  const pids = processTree(child.pid);
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  }
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
}

// --- wrk ----------------------------------------------------------------------------------

/**
 * wrk's Lua script: done() prints one JSON line (latencies in µs); with PACE_RATE set, delay()
 * hands out send slots every 1/PACE_RATE s across all connections of the thread (wrk's timers
 * have 1 ms granularity), which makes the run fixed-rate as long as a connection is free.
 */
const WRK_LUA = `
local rate = tonumber(os.getenv("PACE_RATE") or "")
if rate then
  local ffi = require("ffi")
  ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } skein_timespec; int clock_gettime(int clk, skein_timespec *tp); ]]
  local ts = ffi.new("skein_timespec")
  local function now_ms() ffi.C.clock_gettime(1, ts); return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6 end
  local period = 1000 / rate
  local slot = nil
  function delay()
    local t = now_ms()
    if slot == nil or slot < t - 5 then slot = t end
    local d = slot - t
    slot = slot + period
    if d <= 0 then return 0 end
    return math.floor(d + 0.5)
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"durationUs":%d,"errors":%d,"non2xx":%d,"p50":%d,"p99":%d,"p999":%d,"max":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
`;

/**
 * wrk (`bin`, one thread, keep-alive) in its own process for `seconds`, at most `rate` requests/s
 * overall when given. Resolves with { requests, rps, errors, p50, p99, p999 }, latencies in µs.
 * Its Lua script is written into `dir`; `track(child)` sees the process, for cleanup.
 */
export function wrk(bin, url, seconds, { connections = 32, rate, dir, track } = {}) {
  const script = join(dir, 'skein-wrk.lua');
  writeFileSync(script, WRK_LUA);
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', '-s', script, url], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PACE_RATE: rate ? String(rate) : '' },
    });
    track?.(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.once('exit', (code, signal) => {
      const line = out.trim().split('\n').findLast((l) => l.startsWith('{'));
      if (code !== 0 || !line) return reject(new Error(`wrk exited with ${code ?? signal}: ${(err || out).trim().split('\n').at(-1)}`));
      const r = JSON.parse(line);
      resolve({ requests: r.requests, rps: r.requests / (r.durationUs / 1e6), errors: r.errors + r.non2xx, p50: r.p50, p99: r.p99, p999: r.p999 });
    });
  });
}

// --- tools from Debian ----------------------------------------------------------------------

const SBIN_PATH = `${process.env.PATH ?? ''}:/usr/local/sbin:/usr/sbin:/sbin`;
let aptUpdated = false;

/** The absolute path of `command` (also looked for in the sbin directories), or undefined. */
export function commandPath(command) {
  const r = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8', env: { ...process.env, PATH: SBIN_PATH } });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

/**
 * Makes `command` available, installing Debian package `pkg` quietly with apt-get when it is
 * missing and we are root (running `apt-get update` once if the first try fails). Returns
 * { path } or { reason } saying why it is not there; never throws.
 */
export function ensureCommand(command, pkg, log = () => {}) {
  const found = commandPath(command);
  if (found) return { path: found };
  if (process.getuid?.() !== 0) return { reason: `not installed (apt-get install ${pkg} needs root)` };
  if (!commandPath('apt-get')) return { reason: 'not installed and there is no apt-get' };
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', PATH: SBIN_PATH };
  const apt = (...a) => spawnSync('apt-get', a, { encoding: 'utf8', env, timeout: 300_000 });
  const install = () => apt('install', '-y', '-qq', '--no-install-recommends', '-o', 'Dpkg::Use-Pty=0', pkg);
  log(`${command}: not installed, apt-get install ${pkg}`);
  let r = install();
  if (r.status !== 0 && !aptUpdated) {
    aptUpdated = true;
    apt('update', '-qq');
    r = install();
  }
  const path = commandPath(command);
  if (r.status === 0 && path) return { path };
  if (r.status === 0) return { reason: `apt-get installed ${pkg} but there is still no ${command} on PATH` };
  const why = (r.error?.message ?? `${r.stderr ?? ''}`.trim().split('\n').filter(Boolean).at(-1)) || `exit code ${r.status}`;
  return { reason: `not installed and apt-get failed: ${why}` };
}

/** First line `command args` prints (stdout or stderr), e.g. its version. */
export function firstLine(bin, args) {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 10_000 });
  return `${r.stdout ?? ''}\n${r.stderr ?? ''}`.split('\n').map((l) => l.trim()).find(Boolean) ?? '?';
}
