// Churn, real processes on loopback: N delta subscribers synced, then EndpointSlice edits at a
// steady rate (each rewrites one Service's file, moving one endpoint) for a while. Measures
// whether pushes coalesce (pushes per subscriber vs changes), whether a backlog grows (the
// send queue, the age of the oldest change some subscriber has not ACKed, sampled every
// second), the control plane's RSS over time (flat?) and CPU, and, per edit and subscriber,
// the delay from the write to the push that carried it.
import { TYPE_ENDPOINT_GROUP, TYPE_SERVICE } from '../packages/protocol/dist/index.js';
import { nextRevision } from './convergence.mjs';
import { cpuMs, metrics, quiet, rssBytes, sampler, sleep, startPlane, until, WorkerPool } from './plane-kit.mjs';
import { percentile } from './stats.mjs';
import { editSliceFile, WORLD } from './world.mjs';

/** Delay percentiles from a histogram [[ms, count]...]. */
function histogramStats(entries) {
  const sorted = [...entries].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((n, [, c]) => n + c, 0);
  const at = (p) => {
    const rank = Math.max(1, Math.ceil((p / 100) * total));
    let seen = 0;
    for (const [ms, count] of sorted) if ((seen += count) >= rank) return ms;
    return NaN;
  };
  return { n: total, median: at(50), p99: at(99), max: sorted.length ? sorted.at(-1)[0] : NaN };
}

/**
 * One churn run on a fresh control plane: `subscribers` delta subscribers, `ratePerS` edits per
 * second for `seconds`, each to the next Service in turn (a Service is edited again only after
 * every other one was).
 */
export async function churnRun({ dir, world = WORLD, format = 'yaml', subscribers, ratePerS, seconds, firstService = 0, track }) {
  const { plane, pid, http, address } = await startPlane({ dir, label: `churn-${subscribers}-${ratePerS}`, track });
  const pool = new WorkerPool({ mode: 'delta', subscribers, track });
  const series = [];
  const edits = [];
  try {
    await quiet(pid, 5000);
    await pool.ready();
    await pool.phase('initial', [TYPE_SERVICE, TYPE_ENDPOINT_GROUP]);
    const synced = pool.phaseDone('initial', 300_000);
    pool.connect(address, `churn${subscribers}`);
    await synced;
    await quiet(pid, 10_000);
    await pool.phase('churn', [], { churn: true });

    const before = await metrics(http);
    const workersCpu = () => pool.entries.reduce((n, { worker }) => n + cpuMs(worker.child.pid), 0);
    const startWorkersCpu = workersCpu();
    const startCpu = cpuMs(pid);
    const startRss = rssBytes(pid);
    const startedAt = Date.now();
    const total = Math.round(ratePerS * seconds);
    // Sampled every second while edits go on and until the last one is everywhere.
    let sampling = true;
    const sampleLoop = (async () => {
      let last = { at: startedAt, cpu: startCpu };
      while (sampling) {
        await sleep(1000);
        const at = Date.now();
        const cpu = cpuMs(pid);
        const m = await metrics(http).catch(() => undefined);
        series.push({
          t: (at - startedAt) / 1000, rss: rssBytes(pid), cores: (cpu - last.cpu) / (at - last.at),
          queued: m?.queued ?? NaN, inFlightBytes: m?.inFlightBytes ?? NaN, lagS: m?.lagS ?? NaN,
          pushes: (m?.pushes ?? NaN) - before.pushes, edits: edits.length,
        });
        last = { at, cpu };
      }
    })();
    const cpu = sampler(pid, 100);
    for (let k = 0; k < total; k++) {
      const due = startedAt + (k * 1000) / ratePerS;
      if (due > Date.now()) await sleep(due - Date.now());
      const service = (firstService + k) % world.services;
      const revision = nextRevision();
      edits.push([service, revision, Date.now()]);
      editSliceFile(dir, service, revision, world, format);
    }
    const endedAt = Date.now();
    const workersCpuMs = workersCpu() - startWorkersCpu;
    // The last edits reach the snapshot within both debounces' longest waits (250 ms + 500 ms);
    // then done when nobody lags any more (every subscriber ACKed every change), at most 30 s later.
    await sleep(1500);
    await until(async () => (await metrics(http)).lagS === 0, 30_000, 'every subscriber to hold the last edit', 100).catch(() => undefined);
    const drainedAt = Date.now();
    cpu.stop();
    sampling = false;
    await sampleLoop;
    const after = await metrics(http);
    const reports = await pool.ask({ type: 'churn-report', edits }, 'churn-report', 120_000);

    const histogram = new Map();
    for (const r of reports) for (const [ms, n] of r.histogram) histogram.set(ms, (histogram.get(ms) ?? 0) + n);
    const perSubscriber = reports.flatMap((r) => r.responses);
    const during = series.filter((s) => s.t * 1000 <= endedAt - startedAt);
    const rssDuring = during.map((s) => s.rss);
    const third = Math.max(1, Math.floor(rssDuring.length / 3));
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const cpuMsDuring = cpu.at(endedAt) - startCpu;
    const pushes = after.pushes - before.pushes;
    return {
      subscribers, ratePerS, seconds, workers: pool.workers,
      edits: edits.length, editSeconds: (endedAt - startedAt) / 1000, drainMs: drainedAt - endedAt,
      snapshots: after.snapshots - before.snapshots,
      pushes, pushBytes: after.pushBytes - before.pushBytes,
      pushesPerSubscriber: { median: percentile(perSubscriber, 50), min: Math.min(...perSubscriber), max: Math.max(...perSubscriber) },
      delay: histogramStats([...histogram]), missed: reports.reduce((n, r) => n + r.missed, 0),
      queue: { max: Math.max(...series.map((s) => s.queued)) },
      inFlight: { max: Math.max(...series.map((s) => s.inFlightBytes)) },
      lag: { max: Math.max(...during.map((s) => s.lagS)), first: mean(during.slice(0, third).map((s) => s.lagS)), last: mean(during.slice(-third).map((s) => s.lagS)) },
      rss: {
        synced: startRss, min: Math.min(...rssDuring), max: Math.max(...rssDuring), peak: cpu.peakRss(),
        firstThird: mean(rssDuring.slice(0, third)), lastThird: mean(rssDuring.slice(-third)),
      },
      cpu: {
        coresMean: cpuMsDuring / (endedAt - startedAt), coresMax: Math.max(...during.map((s) => s.cores)),
        perPushUs: (1000 * cpuMsDuring) / Math.max(1, pushes),
        /** The subscribers' worker processes, together: the other side of the same 2 cores. */
        workersCoresMean: workersCpuMs / (endedAt - startedAt),
      },
      series,
      workerErrors: pool.errors(),
    };
  } finally {
    await pool.close();
    await plane.stop('SIGTERM');
  }
}
