// Scenario 2, real processes on loopback: the control-plane binary on `--source files:<dir>`
// holding the benchmark world, N subscribers in a few worker processes. Measures initial
// sync, then edits ONE EndpointSlice file at a time and measures how long until the last
// subscriber has it, how many bytes that cost, and the control plane's CPU and RSS.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spawnProcess } from '../packages/testkit/dist/index.js';
import { TYPE_ENDPOINT_GROUP, TYPE_SERVICE } from '../packages/protocol/dist/index.js';
import { summarize } from './stats.mjs';
import { editSliceFile, WORLD } from './world.mjs';

const CONTROL_PLANE = fileURLToPath(new URL('../packages/control-plane/dist/bin/control-plane.js', import.meta.url));
const WORKER = fileURLToPath(new URL('./subscriber-worker.mjs', import.meta.url));
const CLK_TCK = 100; // USER_HZ: 100 on every Linux ABI Node supports

/** Bounds: every wait below gives up after these, so a hang fails the run instead of stalling it. */
const LIMITS = { readyMs: 60_000, syncMs: 90_000, editMs: 30_000, zeroEditMs: 10_000 };

/**
 * SKEIN_BENCH_CPU_PROF=<dir> runs each control plane under `node --cpu-prof`, one profile per
 * run in <dir>/<mode>-<N>/ (written when it exits), to see where its time goes. spawnProcess
 * runs `node <script> ...args`, so the flags go in front of the script (NODE_OPTIONS refuses them).
 */
function profileFlags(mode, subscribers) {
  const dir = process.env.SKEIN_BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}/${mode}-${subscribers}`] : [];
}

/** Edits are numbered across the whole suite, so every write changes the file's content. */
let revision = 0;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

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

async function metrics(http) {
  const text = await (await fetch(`${http}/metrics`)).text();
  const sum = (name) => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((total, l) => total + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return { pushBytes: sum('skein_control_plane_push_bytes_total'), snapshots: sum('skein_control_plane_snapshots_published_total') };
}

async function until(check, timeoutMs, what, intervalMs = 50) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** A worker process of subscribers, with a small request/response layer over IPC. */
class Worker {
  constructor(name, track) {
    this.name = name;
    this.child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    track(this.child);
    this.waiters = [];
    this.errors = [];
    this.exited = new Promise((resolve) => this.child.once('exit', resolve));
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
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Samples the CPU time of `pid` every `intervalMs`, so a window can be split afterwards. */
function cpuSampler(pid, intervalMs = 10) {
  const samples = [[Date.now(), cpuMs(pid)]];
  const timer = setInterval(() => samples.push([Date.now(), cpuMs(pid)]), intervalMs);
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
    stop() {
      clearInterval(timer);
      samples.push([Date.now(), cpuMs(pid)]);
    },
  };
}

/** Waits until the process has been quiet (under `maxRate` CPU ms/s over 400 ms), at most `timeoutMs`. */
async function quiet(pid, timeoutMs, maxRate = 250) {
  const sampler = cpuSampler(pid, 20);
  try {
    const deadline = Date.now() + timeoutMs;
    await sleep(400);
    while (sampler.rate(400) > maxRate && Date.now() < deadline) await sleep(100);
  } finally {
    sampler.stop();
  }
}

/** When the control plane logged "snapshot published" for the first time at or after `t`. */
function publishedAfter(lines, t) {
  for (const line of lines) {
    if (line.msg !== 'snapshot published') continue;
    const at = Date.parse(String(line.time));
    if (at >= t) return at;
  }
  return NaN;
}

/**
 * One convergence run on a fresh control plane.
 * `mode`: how the N measured subscribers subscribe; `probes`: extra SotW subscribers (their
 * own worker) whose responses give the full-state byte count next to the delta one.
 */
export async function convergenceRun({ dir, mode, subscribers, workers, probes, edits, firstService, idleMs, track }) {
  const result = { mode, subscribers, workers, probes, edits: [] };
  const spawnedAt = Date.now();
  const args = [
    '--source', `files:${dir}`, '--listen-address', '127.0.0.1', '--grpc-port', '0', '--http-port', '0',
    '--shutdown-grace', '1s',
  ];
  const [script, ...argv] = [...profileFlags(mode, subscribers), CONTROL_PLANE, ...args];
  const plane = await spawnProcess(script, argv, { waitFor: 'listening', timeoutMs: LIMITS.readyMs });
  track(plane.child);
  const pool = [];
  try {
    const pid = plane.child.pid;
    const http = `http://127.0.0.1:${plane.listening.httpPort}`;
    const address = `127.0.0.1:${plane.listening.grpcPort}`;
    await until(async () => (await fetch(`${http}/readyz`)).status === 200, LIMITS.readyMs, '/readyz', 25);
    result.readyMs = Date.now() - spawnedAt;
    result.startCpuMs = cpuMs(pid);
    await quiet(pid, 5000);

    // Idle: what the files source's stat poll costs with nobody connected.
    if (idleMs > 0) {
      const cpu = cpuMs(pid);
      await sleep(idleMs);
      result.idleCpuMsPerS = ((cpuMs(pid) - cpu) * 1000) / idleMs;
      result.idleMs = idleMs;
    }
    result.rssBefore = rssBytes(pid);

    // Workers: the measured subscribers split evenly, plus one worker for the SotW probes.
    const shares = Array.from({ length: workers }, (_, w) => Math.floor(subscribers / workers) + (w < subscribers % workers ? 1 : 0));
    shares.forEach((n, w) => pool.push({ worker: new Worker(`w${w}`, track), delta: mode === 'delta' ? n : 0, sotw: mode === 'sotw' ? n : 0 }));
    if (probes > 0) pool.push({ worker: new Worker('probes', track), delta: 0, sotw: probes });
    await Promise.all(pool.map(({ worker }) => worker.wait((m) => m.type === 'ready', 10_000, 'start')));

    const phase = (name, need) => Promise.all(pool.map(({ worker }) =>
      worker.request({ type: 'phase', name, need }, (m) => m.type === 'phase-set' && m.name === name, 5000, `phase ${name}`)));
    const phaseDone = (name, timeoutMs) => Promise.all(pool.map(({ worker }) =>
      worker.wait((m) => m.type === 'phase-done' && m.name === name, timeoutMs, `${name} to complete`)));

    // Initial sync: everybody connects at once (a control-plane restart).
    await phase('initial', [TYPE_SERVICE, TYPE_ENDPOINT_GROUP]);
    let done = phaseDone('initial', LIMITS.syncMs);
    let cpu = cpuMs(pid);
    const connectAt = Date.now();
    const deadlineMs = connectAt + 10 * 60_000;
    pool.forEach(({ worker, delta, sotw }, w) => worker.child.send({ type: 'connect', address, delta, sotw, prefix: `${mode}${subscribers}-${worker.name}-${w}`, deadlineMs }));
    await done;
    result.initial = { connectAt, cpuMs: cpuMs(pid) - cpu };
    // The probes have received their full state-of-the-world responses: their bytes are all we
    // need from them, so they leave before the edits, which then measure the N subscribers alone.
    const probeWorker = pool.find(({ worker }) => worker.name === 'probes');
    if (probeWorker) {
      result.probeReport = (await probeWorker.worker.request({ type: 'report' }, (m) => m.type === 'report', 30_000, 'report')).subscribers;
      await probeWorker.worker.close();
      pool.splice(pool.indexOf(probeWorker), 1);
    }
    await quiet(pid, 10_000);
    result.rssAfter = rssBytes(pid);

    // Edits: one EndpointSlice at a time, each once the previous one has converged and the
    // control plane is quiet again.
    let svc = firstService;
    for (let e = 1; e <= edits; e++) {
      svc = (svc + 97) % WORLD.services;
      const name = `edit-${e}`;
      await phase(name, [TYPE_ENDPOINT_GROUP]);
      const before = await metrics(http);
      done = phaseDone(name, LIMITS.editMs);
      const sampler = cpuSampler(pid);
      const writeAt = Date.now();
      editSliceFile(dir, svc, ++revision, WORLD);
      let finished;
      try {
        finished = await done;
      } finally {
        sampler.stop();
      }
      const lastAt = Math.max(...finished.map((m) => m.at));
      const publishedAt = publishedAfter(plane.lines, writeAt);
      await quiet(pid, 8000);
      const after = await metrics(http);
      result.edits.push({
        name, writeAt, publishedAt, lastAt, pushBytes: after.pushBytes - before.pushBytes,
        cpuMs: sampler.at(lastAt + 1) - sampler.at(writeAt),
        publishCpuMs: sampler.at(publishedAt) - sampler.at(writeAt),
        fanOutCpuMs: sampler.at(lastAt + 1) - sampler.at(publishedAt),
        cpuAfterMs: cpuMs(pid) - sampler.at(writeAt),
      });
    }
    result.rssEnd = rssBytes(pid);

    const reports = await Promise.all(pool.map(({ worker }) =>
      worker.request({ type: 'report' }, (m) => m.type === 'report', 30_000, 'report')));
    result.subscriberReports = [...reports.flatMap((r) => r.subscribers), ...(result.probeReport ?? [])];
    result.workerErrors = pool.flatMap(({ worker }) => worker.errors);
  } finally {
    await Promise.all(pool.map(({ worker }) => worker.close()));
    await plane.stop('SIGTERM');
  }
  return analyze(result);
}

/** Turns raw timestamps into the numbers the report shows. */
function analyze(run) {
  const measured = run.subscriberReports.filter((s) => s.mode === run.mode && !s.id.includes('-probes-'));
  const probes = run.subscriberReports.filter((s) => s.id.includes('-probes-'));
  const inPhase = (s, phase, typeUrl) => s.responses.filter((r) => r.phase === phase && r.typeUrl === typeUrl);

  const syncMs = measured.map((s) => Math.max(
    inPhase(s, 'initial', TYPE_SERVICE)[0].at, inPhase(s, 'initial', TYPE_ENDPOINT_GROUP)[0].at) - run.initial.connectAt);

  // An edit is "clean" when no more than 300 ms of CPU ran after the last subscriber had it:
  // no file re-read ran on into the fan-out (the baseline's full re-read did when its stat poll
  // saw the edit first), so the fan-out window holds nothing but the push.
  const edits = run.edits.map((e) => ({ ...e, clean: e.cpuAfterMs - e.cpuMs < 300 && Number.isFinite(e.publishedAt) }));
  const clean = edits.filter((e) => e.clean);
  const endToEnd = [];
  const fanOut = [];
  let unexpected = 0;
  for (const edit of edits) {
    for (const s of measured) {
      const groups = inPhase(s, edit.name, TYPE_ENDPOINT_GROUP);
      endToEnd.push(groups[0].at - edit.writeAt);
      if (edit.clean) fanOut.push(groups[0].at - edit.publishedAt);
      unexpected += groups.length - 1 + inPhase(s, edit.name, TYPE_SERVICE).length;
    }
  }

  // Bytes, from the subscribers that re-encoded what they received.
  const bytesOf = (subs, phase, typeUrl) => {
    const sizes = subs.flatMap((s) => s.responses.filter((r) => r.bytes !== undefined && r.typeUrl === typeUrl && phase(r.phase)).map((r) => r.bytes));
    return sizes.length ? summarize(sizes).median : NaN;
  };
  const isEdit = (p) => p.startsWith('edit-');
  const isInitial = (p) => p === 'initial';
  const sotw = run.mode === 'sotw' ? measured : probes;
  const fullGroup = bytesOf(sotw, isInitial, TYPE_ENDPOINT_GROUP);

  return {
    mode: run.mode,
    subscribers: run.subscribers,
    workers: run.workers,
    probes: run.probes,
    readyMs: run.readyMs,
    idleCpuMsPerS: run.idleCpuMsPerS,
    idleMs: run.idleMs,
    initialSync: { ...summarize(syncMs), cpuMs: run.initial.cpuMs },
    change: {
      edits: edits.length,
      cleanEdits: clean.length,
      endToEnd: summarize(endToEnd),
      publish: summarize(edits.map((e) => e.publishedAt - e.writeAt)),
      fanOut: summarize(fanOut),
      cpuMs: summarize(edits.map((e) => e.cpuMs)),
      publishCpuMs: summarize(clean.map((e) => e.publishCpuMs)),
      fanOutCpuMs: summarize(clean.map((e) => e.fanOutCpuMs)),
      pushBytes: summarize(edits.map((e) => e.pushBytes)),
      unexpectedResponses: unexpected,
      raw: edits.map(({ name, writeAt, publishedAt, lastAt, cpuMs, publishCpuMs, fanOutCpuMs, cpuAfterMs, pushBytes, clean }) =>
        ({ name, publishMs: publishedAt - writeAt, convergeMs: lastAt - writeAt, cpuMs, publishCpuMs, fanOutCpuMs, cpuAfterMs, pushBytes, clean })),
    },
    bytes: {
      deltaChangeGroup: bytesOf(measured.filter((s) => s.mode === 'delta'), isEdit, TYPE_ENDPOINT_GROUP),
      // A SotW response after a change carries every EndpointGroup again: the full state.
      sotwChangeGroup: run.mode === 'sotw' ? bytesOf(sotw, isEdit, TYPE_ENDPOINT_GROUP) : fullGroup,
      initialGroup: bytesOf(measured, isInitial, TYPE_ENDPOINT_GROUP),
      initialService: bytesOf(measured, isInitial, TYPE_SERVICE),
    },
    rss: { before: run.rssBefore, after: run.rssAfter, end: run.rssEnd, perSubscriber: (run.rssAfter - run.rssBefore) / run.subscribers },
    workerErrors: run.workerErrors,
  };
}
