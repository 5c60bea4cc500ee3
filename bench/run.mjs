// `pnpm bench`: the control-plane benchmark suite. Runs after `pnpm run build` and imports
// the built dist files. Prints a markdown report and writes it into BENCHMARKS.md (the
// control-plane section is replaced; other sections stay). Raw numbers of the last run go to
// bench/.bench-out/last-run.json (git-ignored). When bench/before.json exists (the raw numbers
// of an earlier run, plus a `label`), the section opens with a before/after table against it:
// to compare with another run, copy its last-run.json there and give it a label.
//
//   1. Snapshot build, in-process: full translation + snapshot (baseline) vs the incremental
//      path after one EndpointSlice change.
//   0. Pick microbenchmark (bench/pick.mjs, ~10 s): writes its own "Pick" section.
//   0b. HTTP/1.1 through the sidecar with tracing on and off (bench/http-proxy.mjs, ~2 min):
//      writes its own "Tracing overhead" section.
//   0c. HTTP/1.1 proxying: the sidecar next to nginx, HAProxy and a naive Node proxy
//      (bench/http-peers.mjs, ~3.5 min; installs nginx-light, haproxy and wrk with apt-get
//      when missing): writes its own "HTTP/1.1 proxying" section.
//   0d. gRPC unary through the sidecar's h2c listener vs direct grpc-js, and library mode
//      (mesh.dispatcher, mesh.fetch) vs plain undici (bench/grpc-library.mjs, ~3 min): writes
//      its own "gRPC unary through the sidecar" and "Library mode" sections.
//   2. Convergence, real processes on 127.0.0.1: the control-plane binary on a manifest
//      directory, N subscribers in worker processes; delta subscribers measured against a
//      state-of-the-world baseline with the same N in the same run.
//
// Environment: SKEIN_BENCH_SUBSCRIBERS (default "100,500") lists the subscriber counts;
// SKEIN_BENCH_CPU_PROF=<dir> writes a CPU profile of each control plane (see convergence.mjs).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convergenceRun } from './convergence.mjs';
import { grpcLibrarySuite } from './grpc-library.mjs';
import { httpPeersSuite } from './http-peers.mjs';
import { httpProxySuite } from './http-proxy.mjs';
import { pickSuite } from './pick.mjs';
import { writeWorld, WORLD } from './world.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const benchDir = fileURLToPath(new URL('.', import.meta.url));
const startedAt = Date.now();
/** The whole suite gives up after this: a hang must not outlive CI's patience. */
const SUITE_LIMIT_MS = 19 * 60_000;
const EDITS_PER_RUN = 3;
/** Long enough to hold at least one of the files source's safety-net polls (every 5 s while watching). */
const IDLE_MS = 10_000;
const BEFORE = join(benchDir, 'before.json');

const counts = (process.env.SKEIN_BENCH_SUBSCRIBERS ?? '100,500').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
if (counts.length === 0) throw new Error('SKEIN_BENCH_SUBSCRIBERS: expected a list of positive integers such as "100,500"');

// --- cleanup: child processes and the temporary directory go away whatever happens --------
const children = new Set();
const track = (child) => {
  children.add(child);
  child.once('exit', () => children.delete(child));
};
let tmp;
function cleanup() {
  for (const child of children) {
    try { child.kill('SIGKILL'); } catch { /* gone */ }
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.error(`bench: ${signal}, cleaning up`);
    cleanup();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}
setTimeout(() => {
  console.error(`bench: suite exceeded ${SUITE_LIMIT_MS / 1000} s, giving up`);
  cleanup();
  process.exit(1);
}, SUITE_LIMIT_MS).unref();

const log = (text) => console.error(`[bench ${((Date.now() - startedAt) / 1000).toFixed(1).padStart(5)} s] ${text}`);

// --- scenario 1 ----------------------------------------------------------------------------
function snapshotBuild() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', join(benchDir, 'snapshot-build.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
    track(child);
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`snapshot-build.mjs exited with ${code ?? signal}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1)));
    });
  });
}

// --- formatting ---------------------------------------------------------------------------
const ms = (v) => (Number.isFinite(v) ? (v >= 100 ? `${Math.round(v)} ms` : `${v.toFixed(1)} ms`) : 'n/a');
const sec = (v) => (Number.isFinite(v) ? `${(v / 1000).toFixed(2)} s` : 'n/a');
const msOrS = (v) => (Number.isFinite(v) && v >= 1000 ? sec(v) : ms(v));
const mb = (v) => (Number.isFinite(v) ? `${(v / 1024 / 1024).toFixed(1)} MiB` : 'n/a');
const kb = (v) => (Number.isFinite(v) ? `${(v / 1024).toFixed(1)} KiB` : 'n/a');
const bytes = (v) => (Number.isFinite(v) ? (v >= 1024 * 1024 ? mb(v) : v >= 10 * 1024 ? kb(v) : `${Math.round(v).toLocaleString('en-US')} B`) : 'n/a');
const int = (v) => v.toLocaleString('en-US');
const table = (head, rows) => [
  `| ${head.join(' | ')} |`,
  `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
  ...rows.map((r) => `| ${r.join(' | ')} |`),
].join('\n');

function renderSnapshot(s) {
  const f = s.full;
  const inc = s.incremental;
  return `### 1. Snapshot build (in-process)

${int(s.objects)} objects loaded into a \`ClusterState\` in ${ms(s.loadMs)}; the snapshot holds ${int(s.resources['skein.v1.Service'])} Services and ${int(s.resources['skein.v1.EndpointGroup'])} EndpointGroups, ${mb(s.encodedBytes)} encoded. Wall time per build, median and p99 over ${f.totalMs.n} full and ${inc.totalMs.n} incremental builds (after 3 warm-ups).

${table(['path', 'median', 'p99'], [
    ['**baseline: full** `buildMeshModel` + `buildSnapshot(model)` from scratch', `**${ms(f.totalMs.median)}**`, ms(f.totalMs.p99)],
    ['&nbsp;&nbsp;of which `buildMeshModel`', ms(f.modelMs.median), ms(f.modelMs.p99)],
    ['&nbsp;&nbsp;of which `buildSnapshot`', ms(f.snapshotMs.median), ms(f.snapshotMs.p99)],
    ['**incremental** after one EndpointSlice change: `takeChanges` + `updateMeshModel` + `buildSnapshot(model, previous)`', `**${ms(inc.totalMs.median)}**`, ms(inc.totalMs.p99)],
    ['&nbsp;&nbsp;of which `takeChanges` + `updateMeshModel`', ms(inc.modelMs.median), ms(inc.modelMs.p99)],
    ['&nbsp;&nbsp;of which `buildSnapshot(model, previous)`', ms(inc.snapshotMs.median), ms(inc.snapshotMs.p99)],
    ['(not in the total) `ClusterState.apply` of the changed slice', ms(inc.applyMs.median), ms(inc.applyMs.p99)],
  ])}

Incremental vs full: ${(f.totalMs.median / inc.totalMs.median).toFixed(1)}× faster at the median; \`buildSnapshot\` is ${Math.round((100 * inc.snapshotMs.median) / inc.totalMs.median)}% of the incremental path and costs ${Math.round((100 * inc.snapshotMs.median) / f.snapshotMs.median)}% of a from-scratch \`buildSnapshot\`.

Heap used after a forced GC: ClusterState ${mb(s.heap.state)}, mesh model + snapshot ${mb(s.heap.modelSnapshot)} (together ${mb(s.heap.stateModelSnapshot)}).`;
}

function renderConvergence(runs, world) {
  const first = runs[0];
  const byCount = [...new Set(runs.map((r) => r.subscribers))];
  const label = (r) => (r.mode === 'sotw' ? 'SotW (baseline)' : '**delta**');
  const syncRows = runs.map((r) => [
    int(r.subscribers), label(r), `${sec(r.initialSync.median)} / ${sec(r.initialSync.max)}`, sec(r.initialSync.cpuMs),
    `${mb(r.rss.before)} → ${mb(r.rss.after)}`, mb(r.rss.perSubscriber), mb(r.rss.end),
  ]);
  const editRows = runs.map((r) => {
    const c = r.change;
    return [
      int(r.subscribers), label(r), msOrS(c.publish.median),
      `${ms(c.fanOut.median)} / ${ms(c.fanOut.p99)} / ${ms(c.fanOut.max)}`,
      `${msOrS(c.endToEnd.median)} / ${msOrS(c.endToEnd.p99)} / ${msOrS(c.endToEnd.max)}`,
      `${msOrS(c.publishCpuMs.median)} / ${ms(c.fanOutCpuMs.median)}`,
      bytes(c.pushBytes.median / r.subscribers),
      c.unexpectedResponses === 0 ? `${c.edits} (${c.cleanEdits})` : `${c.edits} (${c.cleanEdits}), ${c.unexpectedResponses} unexpected`,
    ];
  });
  const delta = runs.find((r) => r.mode === 'delta' && Number.isFinite(r.bytes.deltaChangeGroup));
  const sotwFull = runs.map((r) => r.bytes.sotwChangeGroup).find(Number.isFinite);
  const fanOutNotes = byCount.map((n) => {
    const d = runs.find((r) => r.subscribers === n && r.mode === 'delta');
    const s = runs.find((r) => r.subscribers === n && r.mode === 'sotw');
    if (!d || !s) return undefined;
    return `${int(n)} subscribers: delta fan-out ${ms(d.change.fanOut.max)} (max) and ${ms(d.change.fanOutCpuMs.median)} CPU vs SotW ${ms(s.change.fanOut.max)} and ${ms(s.change.fanOutCpuMs.median)}`;
  }).filter(Boolean);
  const editShare = runs.map((r) => r.change.publish.median / r.change.endToEnd.median).filter(Number.isFinite);

  return `### 2. Convergence (control-plane binary on \`--source files:\`, subscribers in worker processes, 127.0.0.1)

The world as YAML: \`nodes.yaml\` plus one file per Service (Service + EndpointSlice), ${int(world.services + 1)} files. The control plane was ready ${sec(first.readyMs)} after spawn and, with nobody connected, burnt ${Number.isFinite(first.idleCpuMsPerS) ? `${first.idleCpuMsPerS.toFixed(1)} ms` : 'n/a'} of CPU per second idle over ${sec(first.idleMs ?? NaN)}: the files source's stat poll (every 5 s while its watchers see everything; 800 ms in the *before* run), plus, once, a re-read of the files it first read less than 2 s after they were written (the world is written just before the control plane starts; a re-read parses only text that changed).

**Initial sync and memory** (everybody connects at once, both types, wildcard):

${table(['subscribers', 'mode', 'initial sync p50 / max', 'CP CPU for the sync', 'CP RSS before → after', 'RSS per subscriber', 'CP RSS at the end'], syncRows)}

**One EndpointSlice edited** (p50 / p99 / max across subscribers × edits):

${table(['subscribers', 'mode', 'write → published (p50)', 'published → subscriber', 'write → subscriber (end to end)', 'CP CPU: publish / fan-out (p50 per edit)', 'bytes per subscriber per change', 'edits (clean)'], editRows)}

**Bytes on the wire** (encoded DiscoveryResponse as received):

${table(['response', 'bytes'], [
    ['delta EndpointGroup response after the edit (the one changed resource)', delta ? bytes(delta.bytes.deltaChangeGroup) : 'n/a'],
    ['SotW EndpointGroup response after the edit (every group again) — baseline', bytes(sotwFull)],
    ['initial EndpointGroup response (full state, either mode)', bytes(first.bytes.initialGroup)],
    ['initial Service response (full state, either mode)', bytes(first.bytes.initialService)],
  ])}
${delta && Number.isFinite(sotwFull) ? `\nA change costs each delta subscriber ${(sotwFull / delta.bytes.deltaChangeGroup).toFixed(0)}× fewer bytes than a SotW push. ` : '\n'}${fanOutNotes.length ? `Fan-out, ${fanOutNotes.join('; ')}.` : ''}
From write to published takes ${Math.round(100 * Math.min(...editShare))}–${Math.round(100 * Math.max(...editShare))}% of the end-to-end time (median edit), whatever the mode: see "write → published" in *How to read this*.`;
}

/** The before/after table against bench/before.json: the numbers these changes are about. */
function renderComparison(report, before) {
  const rows = [];
  const change = (was, is) => {
    if (!Number.isFinite(was) || !Number.isFinite(is) || is <= 0) return 'n/a';
    const ratio = was / is;
    return ratio >= 1.1 ? `**${ratio >= 10 ? Math.round(ratio) : ratio.toFixed(1)}× less**` : ratio <= 0.9 ? `${(1 / ratio).toFixed(1)}× more` : '≈ same';
  };
  const row = (label, was, is, format) => rows.push([label, format(was), format(is), change(was, is)]);
  const s0 = before.snapshot;
  const s1 = report.snapshot;
  row('snapshot build, full from scratch (median)', s0.full.totalMs.median, s1.full.totalMs.median, ms);
  row('snapshot build, incremental after one EndpointSlice change (median)', s0.incremental.totalMs.median, s1.incremental.totalMs.median, ms);
  row('&nbsp;&nbsp;of which `buildSnapshot(model, previous)` (median)', s0.incremental.snapshotMs.median, s1.incremental.snapshotMs.median, ms);
  row('&nbsp;&nbsp;the same, p99', s0.incremental.snapshotMs.p99, s1.incremental.snapshotMs.p99, ms);
  row(`loading ${int(s1.objects)} objects into the \`ClusterState\``, s0.loadMs, s1.loadMs, ms);
  const c0 = before.convergence[0];
  const c1 = report.convergence[0];
  row('control plane ready after spawn (1,001 files)', c0.readyMs, c1.readyMs, sec);
  row('control plane CPU while idle, per second', c0.idleCpuMsPerS, c1.idleCpuMsPerS, (v) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : 'n/a'));
  for (const after of report.convergence) {
    const then = before.convergence.find((r) => r.subscribers === after.subscribers && r.mode === after.mode);
    if (!then) continue;
    const who = `${int(after.subscribers)} ${after.mode === 'sotw' ? 'SotW' : 'delta'}`;
    row(`${who}: one edit, write → published (p50)`, then.change.publish.median, after.change.publish.median, msOrS);
    row(`${who}: one edit, control-plane CPU until published (p50)`, then.change.publishCpuMs.median, after.change.publishCpuMs.median, msOrS);
    row(`${who}: one edit, write → subscriber (p50 / max)`, then.change.endToEnd.median, after.change.endToEnd.median, msOrS);
    rows[rows.length - 1][1] += ` / ${msOrS(then.change.endToEnd.max)}`;
    rows[rows.length - 1][2] += ` / ${msOrS(after.change.endToEnd.max)}`;
  }
  const date = new Date(before.startedAt).toISOString().slice(0, 16).replace('T', ' ');
  return `### Before and after

*Before*: ${before.label ?? `the run of ${date} UTC`} (raw numbers in \`bench/before.json\`; its whole report is kept at the end of this file). Same machine and world; the rows are the numbers the change is about. Each is one run's median or max, so expect noise of ±30% between runs on anything under ~100 ms or involving hundreds of subscribers.

${table(['', 'before', 'after', 'change'], rows)}`;
}

function render(report) {
  const cpus = os.cpus();
  const date = new Date(report.startedAt).toISOString().slice(0, 16).replace('T', ' ');
  return `## Control plane

<!-- bench/run.mjs writes this section, up to the end marker; edit the script, not the numbers. -->

\`pnpm bench\` (= \`pnpm run build && node bench/run.mjs\`; \`SKEIN_BENCH_SUBSCRIBERS=100,500,1000\` adds runs) on ${date} UTC · ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${mb(os.totalmem())} RAM · Linux ${os.release()} · Node ${process.version} · suite took ${sec(report.durationMs)}.

World: ${int(WORLD.services)} Services (${WORLD.namespaces} namespaces, 2 ports each), one EndpointSlice of ${WORLD.endpointsPerService} endpoints each (${int(WORLD.services * WORLD.endpointsPerService)} endpoints) on ${WORLD.nodes} Nodes in ${WORLD.zones.length} zones.

#### How to read this

- One run on one machine. Compare rows **within this run** (each scenario carries its baseline: full build for the incremental one, state-of-the-world subscribers for delta ones); numbers from other machines or days are not comparable, except in *Before and after*, which sets this run against an earlier one on the same machine. Tests never assert timings; this file is where speed is tracked.
- **Snapshot build**: wall time (\`performance.now()\`) of the library calls on the built \`dist\`, in a child process started with \`--expose-gc\`; heap is \`heapUsed\` after forced GCs.
- **Convergence**: every subscriber is its own gRPC channel and TCP connection (one sidecar), spread over ${Math.min(...report.convergence.map((r) => r.workers))}–${Math.max(...report.convergence.map((r) => r.workers))} worker processes that ACK at once. Workers share the ${cpus.length} cores with the control plane, so client-side decoding is inside the times (it matters for SotW). Each run starts a fresh control plane.
- *Initial sync*: from the moment the workers start connecting until a subscriber holds its first response of both types. *RSS before* is read once the control plane is ready and quiet, *after* once every subscriber has synced and it is quiet again; RSS includes GC slack and freed-but-kept buffers, so *per subscriber* (= after − before, ÷ N) is an upper bound. With hundreds of subscribers connecting at once on ${cpus.length} cores, initial sync is the noisiest number here: expect up to 2× between runs.
- *Edit*: ${EDITS_PER_RUN} edits per run, each rewriting ONE EndpointSlice file (temp file + rename), the next one only after the previous one converged and the control plane went quiet. *write → published* ends at the control plane's \`snapshot published\` log line: it holds the files source (50 ms debounce, then it reads the file its watcher named), the publisher's 100 ms debounce and the build. *published → subscriber* is the fan-out; *write → subscriber* the end-to-end latency.
- *CPU* is utime+stime of the control plane from \`/proc/<pid>/stat\` (10 ms ticks), sampled every 10 ms and split at the publish time; per-edit medians. An edit is *clean* when the control plane did less than 300 ms of CPU after the last subscriber had the change, i.e. no file re-read ran on into the fan-out (the *before* run's files source re-read every file, and when its stat poll saw the edit first, that ran during the fan-out); fan-out latency and CPU come from clean edits only.
- *Bytes*: the DiscoveryResponse re-encoded by two sampled subscribers per worker (all get the same resources); *bytes per subscriber per change* is the control plane's own count (\`skein_control_plane_push_bytes_total\`) ÷ N. A delta run also has 2 SotW probe subscribers, for the full-state size; they leave before the edits.

${report.before ? `${renderComparison(report, report.before)}\n\n` : ''}${renderSnapshot(report.snapshot)}

${renderConvergence(report.convergence, WORLD)}
`;
}

const BEGIN = '## Control plane';
const END = '<!-- end of control-plane section -->';

function writeBenchmarks(section) {
  const file = join(root, 'BENCHMARKS.md');
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text = '# Skein benchmarks\n\nSpeed and memory goals live here, each measured next to a baseline in the same run. Regenerate a section with the command it names.\n\n';
  }
  const block = `${section.trimEnd()}\n\n${END}\n`;
  const start = text.indexOf(BEGIN);
  if (start < 0) {
    text = `${text.trimEnd()}\n\n${block}`;
  } else {
    const endMarker = text.indexOf(END, start);
    const nextSection = text.slice(start + BEGIN.length).search(/^## /m);
    const stop = endMarker >= 0 ? endMarker + END.length + 1 : nextSection >= 0 ? start + BEGIN.length + nextSection : text.length;
    text = `${text.slice(0, start)}${block}${text.slice(stop).replace(/^\n*/, '\n')}`.trimEnd() + '\n';
  }
  writeFileSync(file, text);
  return file;
}

// --- main ---------------------------------------------------------------------------------
async function main() {
  // Its own section of BENCHMARKS.md (bench/pick.mjs writes it; `node bench/pick.mjs` runs it alone).
  log('0. pick microbenchmark (10,000 endpoints, child process per picker)');
  await pickSuite({ track, log });

  // Its own section too (`node bench/http-proxy.mjs` runs it alone): tracing on vs off.
  log('0b. HTTP/1.1 through the sidecar: direct, tracing off, tracing on (~2 min)');
  await httpProxySuite({ log });

  // Its own section too (`node bench/http-peers.mjs` runs it alone): the sidecar vs its peers.
  log('0c. HTTP/1.1 proxying: direct, sidecar, nginx, HAProxy, naive Node proxy (~3.5 min)');
  await httpPeersSuite({ track, log });

  // Their own sections too (`node bench/grpc-library.mjs` runs them alone).
  log('0d. gRPC unary through the sidecar vs direct grpc-js; library mode vs plain undici (~3 min)');
  await grpcLibrarySuite({ track, log });

  log('1. snapshot build (in-process)');
  const snapshot = await snapshotBuild();
  log(`   full ${ms(snapshot.full.totalMs.median)}, incremental ${ms(snapshot.incremental.totalMs.median)}`);

  tmp = mkdtempSync(join(os.tmpdir(), 'skein-bench-'));
  writeWorld(tmp, WORLD);
  const convergence = [];
  let firstService = 0;
  for (const subscribers of counts) {
    for (const mode of ['delta', 'sotw']) {
      const workers = subscribers >= 400 ? 4 : 2;
      log(`2. convergence: ${subscribers} ${mode} subscribers in ${workers} workers`);
      const run = await convergenceRun({
        dir: tmp, mode, subscribers, workers, probes: mode === 'delta' ? 2 : 0, edits: EDITS_PER_RUN,
        firstService: firstService++, idleMs: convergence.length === 0 ? IDLE_MS : 0, track,
      });
      if (run.workerErrors.length > 0) log(`   subscriber errors: ${run.workerErrors.slice(0, 3).join('; ')}`);
      log(`   sync max ${sec(run.initialSync.max)}, edit end-to-end p50 ${ms(run.change.endToEnd.median)}, fan-out max ${ms(run.change.fanOut.max)}`);
      convergence.push(run);
    }
  }

  const report = { startedAt, durationMs: Date.now() - startedAt, snapshot, convergence };
  const before = existsSync(BEFORE) ? JSON.parse(readFileSync(BEFORE, 'utf8')) : undefined;
  const markdown = render({ ...report, before });
  const out = join(benchDir, '.bench-out');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'last-run.json'), JSON.stringify(report, null, 2) + '\n');
  const file = writeBenchmarks(markdown);
  console.log(markdown);
  log(`wrote ${file}`);
}

try {
  await main();
} catch (err) {
  console.error(`bench failed: ${err.stack ?? err}`);
  process.exitCode = 1;
} finally {
  cleanup();
}
