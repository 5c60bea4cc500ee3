// Convergence, real processes on loopback: the control-plane binary on `--source files:<dir>`
// holding the benchmark world, N light subscribers (bench/light-client.mjs) in worker
// processes. Measures initial sync (everybody connects at once), then edits ONE EndpointSlice
// file at a time and measures how long until the last subscriber has it (and has ACKed it),
// how many bytes that cost, and the control plane's CPU and RSS.
import { TYPE_ENDPOINT_GROUP, TYPE_SERVICE } from '../packages/protocol/dist/index.js';
import { cpuMs, metrics, publishedAfter, quiet, rssBytes, sampler, sleep, startPlane, WorkerPool } from './plane-kit.mjs';
import { summarize } from './stats.mjs';
import { editSliceFile, WORLD } from './world.mjs';

/** Bounds: every wait below gives up after these, so a hang fails the run instead of stalling it. */
const LIMITS = { syncMs: 300_000, editMs: 30_000 };

/** Edits are numbered across the whole suite, so every write changes the file's content. */
let revision = 0;
export const nextRevision = () => ++revision;

/**
 * One convergence run on a fresh control plane. `mode`: how the N measured subscribers
 * subscribe; `probes`: extra SotW subscribers (their own worker) whose responses give the
 * full-state byte count next to the delta one; they leave before the edits.
 */
export async function convergenceRun({ dir, world = WORLD, mode, subscribers, probes, edits, firstService, idleMs, track }) {
  const result = { mode, subscribers, probes, edits: [] };
  const { plane, pid, http, address, readyMs } = await startPlane({ dir, label: `${mode}-${subscribers}`, track });
  const pool = new WorkerPool({ mode, subscribers, probes, track });
  try {
    result.readyMs = readyMs;
    result.workers = pool.workers;
    await quiet(pid, 5000);
    // Idle: what the files source's stat poll costs with nobody connected.
    if (idleMs > 0) {
      const cpu = cpuMs(pid);
      await sleep(idleMs);
      result.idleCpuMsPerS = ((cpuMs(pid) - cpu) * 1000) / idleMs;
      result.idleMs = idleMs;
    }
    result.rssBefore = rssBytes(pid);
    await pool.ready();

    // Initial sync: everybody connects at once (a control-plane restart).
    await pool.phase('initial', [TYPE_SERVICE, TYPE_ENDPOINT_GROUP]);
    const done = pool.phaseDone('initial', LIMITS.syncMs);
    const syncSampler = sampler(pid, 50);
    const connectAt = Date.now();
    pool.connect(address, `${mode}${subscribers}`);
    try {
      await done;
    } finally {
      syncSampler.stop();
    }
    result.initial = { connectAt, cpuMs: syncSampler.samples.at(-1)[1] - syncSampler.samples[0][1], peakRss: syncSampler.peakRss() };
    result.probeReport = await pool.dropProbes();
    await quiet(pid, 10_000);
    result.rssAfter = rssBytes(pid);
    result.metricsAfter = await metrics(http);

    // Edits: one EndpointSlice at a time, each once the previous one has converged and the
    // control plane is quiet again.
    let svc = firstService;
    for (let e = 1; e <= edits; e++) {
      svc = (svc + 97) % world.services;
      const name = `edit-${e}`;
      await pool.phase(name, [TYPE_ENDPOINT_GROUP]);
      const before = await metrics(http);
      const converged = pool.phaseDone(name, LIMITS.editMs);
      const cpu = sampler(pid);
      const writeAt = Date.now();
      editSliceFile(dir, svc, nextRevision(), world);
      let finished;
      try {
        finished = await converged;
      } finally {
        cpu.stop();
      }
      const lastAt = Math.max(...finished.map((m) => m.at));
      const publishedAt = publishedAfter(plane.lines, writeAt);
      await quiet(pid, 8000);
      const after = await metrics(http);
      result.edits.push({
        name, writeAt, publishedAt, lastAt, pushBytes: after.pushBytes - before.pushBytes, pushes: after.pushes - before.pushes,
        cpuMs: cpu.at(lastAt + 1) - cpu.at(writeAt),
        publishCpuMs: cpu.at(publishedAt) - cpu.at(writeAt),
        fanOutCpuMs: cpu.at(lastAt + 1) - cpu.at(publishedAt),
        cpuAfterMs: cpuMs(pid) - cpu.at(writeAt),
      });
    }
    result.rssEnd = rssBytes(pid);
    const reports = await pool.ask({ type: 'report' });
    result.subscriberReports = [...reports.flatMap((r) => r.subscribers), ...result.probeReport];
    result.workerErrors = pool.errors();
  } finally {
    await pool.close();
    await plane.stop('SIGTERM');
  }
  return analyze(result);
}

/** Turns raw timestamps into the numbers the report shows. */
function analyze(run) {
  // A subscriber that failed for good is counted (workerErrors), not measured.
  const all = run.subscriberReports.filter((s) => s.mode === run.mode && !s.id.includes('-probes-'));
  const measured = all.filter((s) => !s.failed);
  const probes = run.subscriberReports.filter((s) => s.id.includes('-probes-'));
  const inPhase = (s, phase, typeUrl) => s.responses.filter((r) => r.phase === phase && r.typeUrl === typeUrl);

  const syncMs = measured.map((s) => Math.max(
    inPhase(s, 'initial', TYPE_SERVICE)[0].at, inPhase(s, 'initial', TYPE_ENDPOINT_GROUP)[0].at) - run.initial.connectAt);

  // An edit is "clean" when no more than 300 ms of CPU ran after the last subscriber had it:
  // no file re-read ran on into the fan-out, so the fan-out window holds nothing but the push.
  const edits = run.edits.map((e) => ({ ...e, clean: e.cpuAfterMs - e.cpuMs < 300 && Number.isFinite(e.publishedAt) }));
  const clean = edits.filter((e) => e.clean);
  const endToEnd = [];
  const fanOut = [];
  let unexpected = 0;
  for (const edit of edits) {
    for (const s of measured) {
      const groups = inPhase(s, edit.name, TYPE_ENDPOINT_GROUP);
      if (groups.length === 0) continue; // its stream failed meanwhile (a worker error)
      endToEnd.push(groups[0].at - edit.writeAt);
      if (edit.clean) fanOut.push(groups[0].at - edit.publishedAt);
      unexpected += groups.length - 1 + inPhase(s, edit.name, TYPE_SERVICE).length;
    }
  }

  // Bytes as received: every response's encoded size.
  const bytesOf = (subs, phase, typeUrl) => {
    const sizes = subs.flatMap((s) => s.responses.filter((r) => r.typeUrl === typeUrl && phase(r.phase)).map((r) => r.bytes));
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
    initialSync: { ...summarize(syncMs), cpuMs: run.initial.cpuMs, retries: all.reduce((n, s) => n + s.retries, 0), failed: all.length - measured.length },
    change: {
      edits: edits.length,
      cleanEdits: clean.length,
      endToEnd: summarize(endToEnd),
      publish: summarize(edits.map((e) => e.publishedAt - e.writeAt)),
      fanOut: summarize(fanOut),
      cpuMs: summarize(edits.map((e) => e.cpuMs)),
      publishCpuMs: summarize(clean.map((e) => e.publishCpuMs)),
      fanOutCpuMs: summarize(clean.map((e) => e.fanOutCpuMs)),
      /** CPU of the fan-out per response written (µs), clean edits. */
      cpuPerPushUs: summarize(clean.map((e) => (1000 * e.fanOutCpuMs) / Math.max(1, e.pushes))),
      pushBytes: summarize(edits.map((e) => e.pushBytes)),
      unexpectedResponses: unexpected,
      raw: edits.map(({ name, writeAt, publishedAt, lastAt, cpuMs, publishCpuMs, fanOutCpuMs, cpuAfterMs, pushBytes, pushes, clean }) =>
        ({ name, publishMs: publishedAt - writeAt, convergeMs: lastAt - writeAt, cpuMs, publishCpuMs, fanOutCpuMs, cpuAfterMs, pushBytes, pushes, clean })),
    },
    bytes: {
      deltaChangeGroup: bytesOf(measured.filter((s) => s.mode === 'delta'), isEdit, TYPE_ENDPOINT_GROUP),
      // A SotW response after a change carries every EndpointGroup again: the full state.
      sotwChangeGroup: run.mode === 'sotw' ? bytesOf(sotw, isEdit, TYPE_ENDPOINT_GROUP) : fullGroup,
      initialGroup: bytesOf(measured, isInitial, TYPE_ENDPOINT_GROUP),
      initialService: bytesOf(measured, isInitial, TYPE_SERVICE),
    },
    rss: {
      before: run.rssBefore, after: run.rssAfter, end: run.rssEnd, peakSync: run.initial.peakRss,
      perSubscriber: (run.rssAfter - run.rssBefore) / run.subscribers,
      heapUsedAfter: run.metricsAfter.heapUsed, externalAfter: run.metricsAfter.external,
    },
    workerErrors: run.workerErrors,
  };
}
