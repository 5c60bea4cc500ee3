// The "Control plane" section of BENCHMARKS.md, from the raw numbers bench/control-plane.mjs
// collects (also kept in bench/.bench-out/last-run.json, and in bench/before.json for an
// earlier run): snapshot build, convergence, churn, the issue's goals, and before/after.
import os from 'node:os';
import { WORLD } from './world.mjs';

export const ms = (v) => (Number.isFinite(v) ? (v >= 100 ? `${Math.round(v)} ms` : `${v.toFixed(1)} ms`) : 'n/a');
export const sec = (v) => (Number.isFinite(v) ? `${(v / 1000).toFixed(2)} s` : 'n/a');
const msOrS = (v) => (Number.isFinite(v) && v >= 1000 ? sec(v) : ms(v));
const mb = (v) => (Number.isFinite(v) ? `${(v / 1024 / 1024).toFixed(1)} MiB` : 'n/a');
const kb = (v) => (Number.isFinite(v) ? `${(v / 1024).toFixed(1)} KiB` : 'n/a');
const bytes = (v) => (Number.isFinite(v) ? (v >= 1024 * 1024 ? mb(v) : v >= 10 * 1024 ? kb(v) : `${Math.round(v).toLocaleString('en-US')} B`) : 'n/a');
const int = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');
const cores = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}` : 'n/a');
/** Seconds with 1-2 decimals; 'n/a' for a number the run did not have (null once through JSON). */
const secs = (v, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const table = (head, rows) => [
  `| ${head.join(' | ')} |`,
  `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
  ...rows.map((r) => `| ${r.join(' | ')} |`),
].join('\n');
const label = (r) => (r.mode === 'sotw' ? 'SotW (baseline)' : '**delta**');

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

Incremental vs full: ${(f.totalMs.median / inc.totalMs.median).toFixed(1)}× faster at the median. Heap used after a forced GC: ClusterState ${mb(s.heap.state)}, mesh model + snapshot ${mb(s.heap.modelSnapshot)} (together ${mb(s.heap.stateModelSnapshot)}).`;
}

function renderConvergence(runs, s) {
  const first = runs[0];
  const syncRows = runs.map((r) => [
    int(r.subscribers), label(r), `${sec(r.initialSync.median)} / ${sec(r.initialSync.max)}`,
    `${int(r.initialSync.retries ?? NaN)} / ${int(r.initialSync.failed ?? NaN)}`, sec(r.initialSync.cpuMs),
    `${mb(r.rss.before)} → ${mb(r.rss.peakSync)} → ${mb(r.rss.after)}`, kb(r.rss.perSubscriber), mb(r.rss.heapUsedAfter),
  ]);
  const editRows = runs.map((r) => {
    const c = r.change;
    return [
      int(r.subscribers), label(r), msOrS(c.publish.median),
      `${ms(c.fanOut.median)} / ${ms(c.fanOut.p99)} / ${ms(c.fanOut.max)}`,
      `${msOrS(c.endToEnd.median)} / ${msOrS(c.endToEnd.p99)} / ${msOrS(c.endToEnd.max)}`,
      `${msOrS(c.publishCpuMs.median)} / ${ms(c.fanOutCpuMs.median)}`,
      Number.isFinite(c.cpuPerPushUs?.median) ? `${Math.round(c.cpuPerPushUs.median)} µs` : 'n/a',
      bytes(c.pushBytes.median / r.subscribers),
      c.unexpectedResponses === 0 ? `${c.edits} (${c.cleanEdits})` : `${c.edits} (${c.cleanEdits}), ${c.unexpectedResponses} unexpected`,
    ];
  });
  const delta = runs.find((r) => r.mode === 'delta' && Number.isFinite(r.bytes.deltaChangeGroup));
  const sotwFull = runs.map((r) => r.bytes.sotwChangeGroup).find(Number.isFinite);
  const a = s.anatomy;
  const anatomy = delta && a ? `\n\nWhat the ${bytes(delta.bytes.deltaChangeGroup)} of a one-endpoint delta push are: the changed EndpointGroup as a \`Resource\` (${bytes(a.resource)}: name and version ${a.nameAndVersion} B, body ${bytes(a.body)}), plus ${Math.round(delta.bytes.deltaChangeGroup - a.resource - 3)} B of response fields (type URL, version, nonce, mode, replica id). ${bodyAnatomy(a)} ${a.resource > 1000 ? 'Payload alone is over 1 KB' : 'Payload alone is under 1 KB'}: the response fields are ${Math.round((100 * (delta.bytes.deltaChangeGroup - a.resource)) / delta.bytes.deltaChangeGroup)}% of it.` : '';
  return `### 2. Convergence (control-plane binary on \`--source files:\`, light subscribers in worker processes, 127.0.0.1)

The world as YAML: \`nodes.yaml\` plus one file per Service (Service + EndpointSlice), ${int(WORLD.services + 1)} files. The control plane was ready ${sec(first.readyMs)} after spawn and, with nobody connected, burnt ${Number.isFinite(first.idleCpuMsPerS) ? `${first.idleCpuMsPerS.toFixed(1)} ms` : 'n/a'} of CPU per second idle over ${sec(first.idleMs ?? NaN)}.

**Initial sync and memory** (everybody connects at once, both types, wildcard):

${table(['subscribers', 'mode', 'initial sync p50 / max', 'connections retried / failed', 'CP CPU for the sync', 'CP RSS before → peak during sync → after', 'RSS per subscriber', 'CP heap used after'], syncRows)}

**One EndpointSlice edited** (p50 / p99 / max across subscribers × edits):

${table(['subscribers', 'mode', 'write → published (p50)', 'published → subscriber ACKs', 'write → subscriber ACKs (end to end)', 'CP CPU: publish / fan-out (p50 per edit)', 'CP CPU per push', 'bytes per subscriber per change', 'edits (clean)'], editRows)}

**Bytes on the wire** (DiscoveryResponse as received):

${table(['response', 'bytes'], [
    ['delta EndpointGroup response after the edit (the one changed resource)', delta ? bytes(delta.bytes.deltaChangeGroup) : 'n/a'],
    ['SotW EndpointGroup response after the edit (every group again) — baseline', bytes(sotwFull)],
    ['initial EndpointGroup response (full state, either mode)', bytes(first.bytes.initialGroup)],
    ['initial Service response (full state, either mode)', bytes(first.bytes.initialService)],
  ])}
${delta && Number.isFinite(sotwFull) ? `\nA change costs each delta subscriber ${(sotwFull / delta.bytes.deltaChangeGroup).toFixed(0)}× fewer bytes than a SotW push. ` : ''}SotW runs only at small N: at thousands of subscribers each change would send every one of them the ${bytes(sotwFull)} full state again (${bytes(sotwFull * 5000)} at 5,000), which is what delta exists to avoid.${anatomy}`;
}

function renderChurn(runs) {
  if (runs.length === 0) return '';
  const rows = runs.map((r) => [
    int(r.subscribers), `${r.ratePerS}/s × ${r.editSeconds.toFixed(0)} s`, `${int(r.edits)} → ${int(r.snapshots)}`,
    `${int(r.pushesPerSubscriber.median)} (${int(r.pushesPerSubscriber.min)}–${int(r.pushesPerSubscriber.max)})`,
    `${msOrS(r.delay.median)} / ${msOrS(r.delay.p99)} / ${msOrS(r.delay.max)}`, int(r.missed),
    `${int(r.queue.max)} / ${mb(r.inFlight.max)}`, `${secs(r.lag.max)} s (${secs(r.lag.first)} → ${secs(r.lag.last)})`,
    `${mb(r.rss.synced)}; ${mb(r.rss.min)}–${mb(r.rss.max)} (${mb(r.rss.firstThird)} → ${mb(r.rss.lastThird)})`,
    `${cores(r.cpu.coresMean)} / ${cores(r.cpu.coresMax)}`, cores(r.cpu.workersCoresMean), `${Math.round(r.cpu.perPushUs)} µs`,
  ]);
  const series = runs.map((r) => `${int(r.subscribers)} at ${r.ratePerS}/s, RSS each second: ${r.series.map((p) => (p.rss / 2 ** 20).toFixed(0)).join(' ')} MiB; push lag: ${r.series.map((p) => secs(p.lagS, 1)).join(' ')} s.`);
  return `

### 3. Churn (EndpointSlice edits at a steady rate, delta subscribers)

${table(['subscribers', 'edits', 'edits → snapshots built', 'pushes per subscriber (min–max)', 'write → subscriber ACKs p50 / p99 / max', 'edits a subscriber never got', 'max send queue (streams / bytes)', 'push lag max (first → last third)', 'CP RSS synced; during (first → last third)', 'CP cores mean / max 1 s', 'subscriber workers: cores', 'CP CPU ÷ pushes'], rows)}

${series.join('\n')}`;
}

/** What an EndpointGroup body is made of; runs before shared_ports have no `sharedPortsBytes`. */
function bodyAnatomy(a) {
  const each = `The body is ${a.endpoints} endpoints of ${Math.round(a.endpointsBytes / a.endpoints)} B each`;
  if (a.sharedPortsBytes > 0) {
    return `${each}, with no ports of their own, and ${a.sharedPortsBytes} B of the two named ports every endpoint has, written once on the group (\`shared_ports\`, ${Math.round((100 * a.sharedPortsBytes) / a.body)}% of the body).`;
  }
  return `${each}, of which ${Math.round(a.portsBytes / a.endpoints)} B are the two named ports, the same on every endpoint of the group (${Math.round((100 * a.portsBytes) / a.body)}% of the body).`;
}

/** The issue's control-plane goals, met or not, from this run. */
function renderGoals(report) {
  const conv = (n) => report.convergence.find((r) => r.mode === 'delta' && r.subscribers === n);
  const churn = (n, rate) => report.churn.find((r) => r.subscribers === n && r.ratePerS === rate);
  const yes = (ok) => (ok === undefined ? 'not measured' : ok ? '**met**' : '**not met**');
  const rows = [];
  const c1000 = conv(1000);
  rows.push(['1,000 subscribers, one change → every subscriber ACKed, p99 ≤ 250 ms',
    c1000 ? `write → ACK p99 ${ms(c1000.change.endToEnd.p99)} (published → ACK p99 ${ms(c1000.change.fanOut.p99)})` : 'n/a',
    yes(c1000 && c1000.change.endToEnd.p99 <= 250)]);
  const k2 = churn(2000, 30);
  rows.push(['2,000 subscribers under 30 changes/s: p99 ≤ 1 s, RSS ≤ 512 MB, CPU ≤ 1 core',
    k2 ? `p99 ${msOrS(k2.delay.p99)}, RSS max ${mb(k2.rss.max)}, ${cores(k2.cpu.coresMean)} cores mean (${cores(k2.cpu.coresMax)} max over 1 s)` : 'n/a',
    yes(k2 && k2.delay.p99 <= 1000 && k2.rss.max <= 512e6 && k2.cpu.coresMean <= 1)]);
  const c5000 = conv(5000);
  rows.push(['5,000 subscribers held on one process',
    c5000 ? `synced in ${sec(c5000.initialSync.max)}, RSS ${mb(c5000.rss.after)} (peak ${mb(c5000.rss.peakSync)}), ${c5000.workerErrors.length} subscriber errors` : 'n/a',
    yes(c5000 && c5000.workerErrors.length === 0)]);
  const d = report.convergence.find((r) => r.mode === 'delta' && Number.isFinite(r.bytes.deltaChangeGroup));
  rows.push(['delta bytes per client for a one-endpoint change ≤ 1 KB', d ? bytes(d.bytes.deltaChangeGroup) : 'n/a', yes(d && d.bytes.deltaChangeGroup <= 1000)]);
  rows.push(['`pnpm bench` under 15 minutes', `${sec(report.suiteMs)} (control plane: ${sec(report.durationMs)})`, yes(Number.isFinite(report.suiteMs) ? report.suiteMs <= 15 * 60_000 : undefined)]);
  return `### Goals (issue 6)

${table(['goal', 'this run', ''], rows)}`;
}

/** The before/after table against bench/before.json: the numbers this change is about. */
function renderComparison(report, before) {
  const rows = [];
  const change = (was, is) => {
    if (!Number.isFinite(was) || !Number.isFinite(is) || is <= 0) return 'n/a';
    const ratio = was / is;
    return ratio >= 1.1 ? `**${ratio >= 10 ? Math.round(ratio) : ratio.toFixed(1)}× less**` : ratio <= 0.9 ? `${(1 / ratio).toFixed(1)}× more` : '≈ same';
  };
  const row = (text, was, is, format) => rows.push([text, format(was), format(is), change(was, is)]);
  for (const after of report.convergence) {
    const then = before.convergence.find((r) => r.subscribers === after.subscribers && r.mode === after.mode);
    if (!then) continue;
    const who = `${int(after.subscribers)} ${after.mode === 'sotw' ? 'SotW' : 'delta'}`;
    row(`${who}: CP RSS peak during the initial sync`, then.rss.peakSync, after.rss.peakSync, mb);
    row(`${who}: CP RSS per subscriber once synced`, then.rss.perSubscriber, after.rss.perSubscriber, kb);
    row(`${who}: initial sync, last subscriber`, then.initialSync.max, after.initialSync.max, sec);
    row(`${who}: CP CPU for the initial sync`, then.initialSync.cpuMs, after.initialSync.cpuMs, sec);
    row(`${who}: one edit, published → subscriber ACKs (p99)`, then.change.fanOut.p99, after.change.fanOut.p99, ms);
    row(`${who}: one edit, CP CPU of the fan-out (p50)`, then.change.fanOutCpuMs.median, after.change.fanOutCpuMs.median, ms);
  }
  for (const after of report.churn) {
    const then = (before.churn ?? []).find((r) => r.subscribers === after.subscribers && r.ratePerS === after.ratePerS);
    if (!then) continue;
    const who = `churn ${int(after.subscribers)} at ${after.ratePerS}/s`;
    row(`${who}: write → subscriber ACKs (p99)`, then.delay.p99, after.delay.p99, msOrS);
    row(`${who}: CP RSS max`, then.rss.max, after.rss.max, mb);
    row(`${who}: CP cores (mean)`, then.cpu.coresMean, after.cpu.coresMean, cores);
  }
  return `### Before and after

*Before*: ${before.label} (raw numbers in \`bench/before.json\`). Same machine, world and benchmark code; the rows are the numbers this change is about. Each is one run's median, p99 or max: expect ±30% between runs on anything under ~100 ms or involving thousands of subscribers on 2 cores.

${table(['', 'before', 'after', 'change'], rows)}`;
}

export function renderControlPlane(report) {
  const cpus = os.cpus();
  const date = new Date(report.startedAt).toISOString().slice(0, 16).replace('T', ' ');
  const counts = report.convergence.map((r) => r.workers);
  return `## Control plane

<!-- bench/control-plane.mjs writes this section, up to the end marker; edit the script, not the numbers. -->

\`pnpm bench\` (= \`pnpm run build && node bench/run.mjs\`; \`node bench/control-plane.mjs\` runs this section alone; \`SKEIN_BENCH_SUBSCRIBERS=100,1000,5000\`, \`SKEIN_BENCH_SOTW=100\`, \`SKEIN_BENCH_CHURN=1000@100,2000@30\` and \`SKEIN_BENCH_CHURN_SECONDS=30\` choose the runs) on ${date} UTC · ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${mb(os.totalmem())} RAM · Linux ${os.release()} · Node ${process.version} · this section took ${sec(report.durationMs)}${Number.isFinite(report.suiteMs) ? `, the whole suite ${sec(report.suiteMs)}` : ''}.

World: ${int(WORLD.services)} Services (${WORLD.namespaces} namespaces, 2 ports each), one EndpointSlice of ${WORLD.endpointsPerService} endpoints each (${int(WORLD.services * WORLD.endpointsPerService)} endpoints) on ${WORLD.nodes} Nodes in ${WORLD.zones.length} zones.

#### How to read this

- One run on one machine. Compare rows **within this run** (each scenario carries its baseline: full build for the incremental one, state-of-the-world subscribers for delta ones); numbers from other machines or days are not comparable, except in *Before and after*, which sets this run against an earlier one on the same machine. Tests never assert timings; this file is where speed is tracked.
- **Snapshot build**: wall time (\`performance.now()\`) of the library calls on the built \`dist\`, in a child process started with \`--expose-gc\`; heap is \`heapUsed\` after forced GCs.
- **Subscribers** are light clients of the protocol (\`bench/light-client.mjs\`): each its own gRPC channel and TCP connection (one sidecar), ${Math.min(...counts)}–${Math.max(...counts)} worker processes of up to 500, both types with wildcard, an ACK written as soon as a response arrives; they scan responses without decoding them, so the times are the control plane's, not a sidecar's apply. Workers share the ${cpus.length} cores with the control plane. Each run starts a fresh control plane.
- The control plane runs as in its Deployment (512 Mi memory limit): with \`--max-heap-size=259\`, the V8 heap Node picks under that limit (\`SKEIN_BENCH_CP_NODE_ARGS\` replaces the flags; \`""\` runs it unconstrained, when V8 on this 24 GiB machine lets garbage pile up to ~4 GiB before a full collection and RSS shows it: in the run of 2026-11-23 22:22 UTC the 2,000 × 30/s churn then peaked at 530 MiB instead of ~325 MiB).
- *Initial sync*: from the moment the workers start connecting until a subscriber holds its first response of both types. A connection the control plane did not accept in time (thousands at once overflow the listen backlog: Node's default of 511 pending connections, which grpc-js does not let us raise) ends UNAVAILABLE; the subscriber opens it again after a jittered, doubling delay (250 ms × 2ⁿ at most), as a sidecar does, up to 8 times, and is *failed* after that. *RSS before* is read once the control plane is ready and quiet, *peak* is the highest RSS sampled (every 50 ms) during the sync, *after* once every subscriber has synced and the control plane is quiet again, without a forced GC; *per subscriber* = (after − before) ÷ N, so freed-but-kept memory (GC slack, the allocator's free lists after the sync's large buffers) is inside it, spread over N. *Heap used* is \`nodejs_heap_size_used_bytes\`, unforced.
- *Edit*: ${report.editsPerRun} edits per run, each rewriting ONE EndpointSlice file (temp file + rename), the next one only after the previous one converged and the control plane went quiet. *write → published* ends at the control plane's \`snapshot published\` log line: it holds the files source (50 ms debounce, then it reads the file its watcher named), the publisher's debounce (none for an edit after a quiet spell: its leading edge builds at once; 100 ms with \`--debounce-leading false\`) and the build. *published → subscriber ACKs* is the fan-out: the time a subscriber had the push and wrote its ACK; *write → subscriber* is the end-to-end latency.
- *CPU* is utime+stime of the control plane from \`/proc/<pid>/stat\` (10 ms ticks), sampled every 10 ms and split at the publish time; per-edit medians; *per push* is the fan-out's CPU ÷ responses written (\`skein_control_plane_pushes_total\`). An edit is *clean* when the control plane did less than 300 ms of CPU after the last subscriber had the change; fan-out latency and CPU come from clean edits only.
- *Bytes*: every response's size as received; *bytes per subscriber per change* is the control plane's own count (\`skein_control_plane_push_bytes_total\`) ÷ N. A delta run also has 2 SotW probe subscribers, for the full-state size; they leave before the edits.
- **Churn**: after the initial sync, edits at a steady rate, each to the next Service in turn (so a Service is edited again only after all others). *Edits → snapshots built* shows the debouncing (files source 50 ms, at most 250 ms; publisher at once after a quiet spell, then 100 ms, at most 500 ms: under a steady stream the publisher builds about twice a second). A subscriber's *pushes* vs the edits shows the coalescing. *write → subscriber ACKs* is measured per edit and subscriber (the worker recognizes each edit by the address it moved); it includes both debounces. *Send queue* and *push lag* are the control plane's \`skein_control_plane_push_queue_streams\`, \`…_push_in_flight_bytes\` and \`…_push_lag_seconds\` (the age of the oldest change some subscriber has not ACKed), sampled every second: a backlog would show as a lag growing from the first third of the run to the last. *Cores* = CPU seconds per second.

${report.before ? `${renderComparison(report, report.before)}\n\n` : ''}${renderGoals(report)}

${renderSnapshot(report.snapshot)}

${renderConvergence(report.convergence, report.snapshot)}${renderChurn(report.churn)}
`;
}
