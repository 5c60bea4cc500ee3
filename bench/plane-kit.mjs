// What the control-plane scenarios (bench/convergence.mjs, bench/churn.mjs) share: the
// control-plane process, its CPU, RSS and metrics, and the worker processes that hold the
// simulated subscribers (bench/subscriber-worker.mjs), driven in phases over IPC.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spawnProcess } from '../packages/testkit/dist/index.js';

const CONTROL_PLANE = fileURLToPath(new URL('../packages/control-plane/dist/bin/control-plane.js', import.meta.url));
const WORKER = fileURLToPath(new URL('./subscriber-worker.mjs', import.meta.url));
const CLK_TCK = 100; // USER_HZ: 100 on every Linux ABI Node supports

/** Subscribers per worker process: each is a gRPC channel with its own connection. */
export const SUBSCRIBERS_PER_WORKER = 500;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** CPU time (ms, user+system, all threads) of `pid`, from /proc/<pid>/stat. */
export function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** Resident set size (bytes) of `pid`, from VmRSS in /proc/<pid>/status. */
export function rssBytes(pid) {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : NaN;
}

/** The control plane's /metrics, the families the benchmark reads (summed over labels unless a label is given). */
export async function metrics(http) {
  const text = await (await fetch(`${http}/metrics`)).text();
  // NaN for a family this control plane does not have (an older build, in a before/after run).
  const sum = (name, label) => text.split('\n')
    .filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && (label === undefined || l.includes(label)))
    .reduce((total, l) => (Number.isNaN(total) ? 0 : total) + Number(l.slice(l.lastIndexOf(' ') + 1)), NaN);
  return {
    pushBytes: sum('skein_control_plane_push_bytes_total'),
    pushes: sum('skein_control_plane_pushes_total'),
    snapshots: sum('skein_control_plane_snapshots_published_total'),
    queued: sum('skein_control_plane_push_queue_streams'),
    inFlightBytes: sum('skein_control_plane_push_in_flight_bytes'),
    lagS: sum('skein_control_plane_push_lag_seconds', 'EndpointGroup'),
    heapUsed: sum('nodejs_heap_size_used_bytes'),
    external: sum('nodejs_external_memory_bytes'),
    subscribers: sum('skein_control_plane_subscribers'),
  };
}

export async function until(check, timeoutMs, what, intervalMs = 50) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Samples CPU time and RSS of `pid` every `intervalMs`, so a window can be split afterwards. */
export function sampler(pid, intervalMs = 10) {
  const take = () => [Date.now(), cpuMs(pid), rssBytes(pid)];
  const samples = [take()];
  const timer = setInterval(() => {
    try { samples.push(take()); } catch { /* exited */ }
  }, intervalMs);
  return {
    samples,
    /** CPU ms at the last sample taken at or before `t`. */
    at(t) {
      let value = samples[0][1];
      for (const [time, cpu] of samples) if (time <= t) value = cpu; else break;
      return value;
    },
    /** CPU ms used per wall second over the last `ms`. */
    rate(ms) {
      const now = samples.at(-1);
      const then = samples.findLast(([time]) => time <= now[0] - ms) ?? samples[0];
      return now[0] > then[0] ? ((now[1] - then[1]) * 1000) / (now[0] - then[0]) : Infinity;
    },
    /** Highest RSS sampled. */
    peakRss() {
      return Math.max(...samples.map((s) => s[2]).filter(Number.isFinite));
    },
    stop() {
      clearInterval(timer);
      try { samples.push(take()); } catch { /* exited */ }
    },
  };
}

/** Waits until the process has been quiet (under `maxRate` CPU ms/s over 400 ms), at most `timeoutMs`. */
export async function quiet(pid, timeoutMs, maxRate = 250) {
  const s = sampler(pid, 20);
  try {
    const deadline = Date.now() + timeoutMs;
    await sleep(400);
    while (s.rate(400) > maxRate && Date.now() < deadline) await sleep(100);
  } finally {
    s.stop();
  }
}

/**
 * The heap Node 20 and 22 give a process in a cgroup limited to 512 MiB (deploy/control-plane.yaml's
 * limit): 259 MiB, measured with v8.getHeapStatistics() inside such a cgroup. Unconstrained, on a
 * machine with 24 GiB, V8 would let the heap grow to 4 GiB before collecting it in earnest, and
 * RSS would show garbage no Pod ever holds.
 */
export const CP_POD_NODE_ARGS = '--max-heap-size=259';

/**
 * The control-plane binary on `--source files:<dir>`, ready (/readyz 200). SKEIN_BENCH_CPU_PROF=<dir>
 * runs it under `node --cpu-prof`, one profile per run in <dir>/<label>/ (written when it exits).
 * It runs with the V8 heap Node picks under the Deployment's 512 Mi memory limit (CP_POD_NODE_ARGS);
 * SKEIN_BENCH_CP_NODE_ARGS replaces those node flags ("" runs it unconstrained).
 */
export async function startPlane({ dir, label, track, readyTimeoutMs = 60_000 }) {
  const spawnedAt = Date.now();
  const prof = process.env.SKEIN_BENCH_CPU_PROF;
  const execArgv = [
    ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}/${label}`] : []),
    ...(process.env.SKEIN_BENCH_CP_NODE_ARGS ?? CP_POD_NODE_ARGS).split(' ').filter(Boolean),
  ];
  const plane = await spawnProcess(CONTROL_PLANE, [
    '--source', `files:${dir}`, '--listen-address', '127.0.0.1', '--grpc-port', '0', '--http-port', '0', '--shutdown-grace', '1s',
  ], { waitFor: 'listening', timeoutMs: readyTimeoutMs, ...(execArgv.length ? { execArgv } : {}) });
  track(plane.child);
  const http = `http://127.0.0.1:${plane.listening.httpPort}`;
  await until(async () => (await fetch(`${http}/readyz`)).status === 200, readyTimeoutMs, '/readyz', 25);
  return { plane, pid: plane.child.pid, http, address: `127.0.0.1:${plane.listening.grpcPort}`, readyMs: Date.now() - spawnedAt };
}

/** When the control plane logged "snapshot published" for the first time at or after `t`. */
export function publishedAfter(lines, t) {
  for (const line of lines) {
    if (line.msg !== 'snapshot published') continue;
    const at = Date.parse(String(line.time));
    if (at >= t) return at;
  }
  return NaN;
}

/** A worker process of subscribers, with a small request/response layer over IPC. */
export class Worker {
  constructor(name, track) {
    this.name = name;
    this.child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    track(this.child);
    this.waiters = [];
    this.errors = [];
    this.exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.started = new Promise((resolve) => this.child.once('message', resolve));
    this.child.on('message', (message) => {
      if (message.type === 'error') this.errors.push(message.message);
      const index = this.waiters.findIndex((w) => w.match(message));
      if (index >= 0) this.waiters.splice(index, 1)[0].resolve(message);
    });
    this.child.once('exit', (code) => {
      for (const w of this.waiters.splice(0)) w.reject(new Error(`worker ${name} exited (${code})`));
    });
  }

  wait(match, timeoutMs, what) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`worker ${this.name}: no ${what} within ${timeoutMs} ms${this.errors.length ? `; errors: ${this.errors.slice(0, 3).join('; ')}` : ''}`));
      }, timeoutMs);
      const waiter = {
        match,
        resolve: (m) => { clearTimeout(timer); resolve(m); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
      this.waiters.push(waiter);
    });
  }

  request(message, match, timeoutMs, what) {
    const reply = this.wait(match, timeoutMs, what);
    this.child.send(message);
    return reply;
  }

  async close() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    try { this.child.send({ type: 'close' }); } catch { /* already gone */ }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Worker processes for `subscribers` subscribers of `mode` (split evenly, SUBSCRIBERS_PER_WORKER
 * at most each, 2 at least), plus one worker for `probes` SotW subscribers when asked.
 */
export class WorkerPool {
  constructor({ mode, subscribers, probes = 0, track }) {
    const count = Math.max(2, Math.ceil(subscribers / SUBSCRIBERS_PER_WORKER));
    const shares = Array.from({ length: count }, (_, w) => Math.floor(subscribers / count) + (w < subscribers % count ? 1 : 0));
    this.entries = shares.map((n, w) => ({ worker: new Worker(`w${w}`, track), delta: mode === 'delta' ? n : 0, sotw: mode === 'sotw' ? n : 0 }));
    if (probes > 0) this.entries.push({ worker: new Worker('probes', track), delta: 0, sotw: probes });
    this.mode = mode;
    this.subscribers = subscribers;
  }

  get workers() {
    return this.entries.filter(({ worker }) => worker.name !== 'probes').length;
  }

  /** Resolves once every worker process has started (its first message is 'ready'). */
  ready() {
    return Promise.all(this.entries.map(({ worker }) => Promise.race([
      worker.started,
      worker.exited.then((code) => { throw new Error(`worker ${worker.name} exited (${code}) before it was ready`); }),
    ])));
  }

  /** Announces a phase; resolves once every worker has it. */
  phase(name, need, extra = {}) {
    return Promise.all(this.entries.map(({ worker }) =>
      worker.request({ type: 'phase', name, need, ...extra }, (m) => m.type === 'phase-set' && m.name === name, 10_000, `phase ${name}`)));
  }

  /** Resolves with each worker's phase-done message once every subscriber completed phase `name`. */
  phaseDone(name, timeoutMs) {
    return Promise.all(this.entries.map(({ worker }) =>
      worker.wait((m) => m.type === 'phase-done' && m.name === name, timeoutMs, `${name} to complete`)));
  }

  connect(address, prefix) {
    this.entries.forEach(({ worker, delta, sotw }, w) => worker.child.send({ type: 'connect', address, delta, sotw, prefix: `${prefix}-${worker.name}-${w}` }));
  }

  /** Every worker's answer to `message` (replies of type `replyType`). */
  ask(message, replyType = message.type, timeoutMs = 60_000) {
    return Promise.all(this.entries.map(({ worker }) => worker.request(message, (m) => m.type === replyType, timeoutMs, replyType)));
  }

  /** Closes the probes' worker, if any; returns its report. */
  async dropProbes() {
    const entry = this.entries.find(({ worker }) => worker.name === 'probes');
    if (!entry) return [];
    const report = await entry.worker.request({ type: 'report' }, (m) => m.type === 'report', 30_000, 'report');
    await entry.worker.close();
    this.entries.splice(this.entries.indexOf(entry), 1);
    return report.subscribers;
  }

  errors() {
    return this.entries.flatMap(({ worker }) => worker.errors);
  }

  close() {
    return Promise.all(this.entries.map(({ worker }) => worker.close()));
  }
}
