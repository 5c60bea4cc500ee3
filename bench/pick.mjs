// Pick microbenchmark: the cost of one `Picker.pick()` over 10,000 endpoints, for every picker,
// on the built dist (packages/sidecar/dist/balancer). Goal: ≤ 200 ns per pick and no
// allocation per pick. Baseline in the same run: a plain array index, `targets[i++ % n]`.
//
//   node bench/pick.mjs      (after `pnpm run build`) runs it alone and writes the "Pick"
//                            section of BENCHMARKS.md; `pnpm bench` runs it first (pickSuite).
//
// Each case runs in its own child process (`node --expose-gc bench/pick.mjs --case <name>`),
// so that no call site sees more than one picker class (megamorphic dispatch would slow the
// later cases) and heap numbers are not mixed. A case prints one JSON line.
import { spawn } from 'node:child_process';
import os from 'node:os';
import { join } from 'node:path';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { replaceSection } from './sections.mjs';
import { summarize } from './stats.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const self = fileURLToPath(import.meta.url);

const ENDPOINTS = 10_000;
const PICKS = 2_000_000;
const RUNS = 7;
const PROBE_PICKS = 100_000;
/** What the probe measures around zero picks: `memoryUsage()`'s result and the timer (measured: 448 B). */
const PROBE_OVERHEAD = 448;
const BUILDS = 5;
/** Distinct precomputed request hashes the hashing pickers cycle through (a power of two). */
const HASHES = 4096;
const GOAL_NS = 200;

/** The cases, in report order. `kind` is what the loop calls. */
const CASES = [
  { name: 'baseline', label: '**baseline**: `targets[i++ % n]` (array index)' },
  { name: 'round-robin', label: 'round-robin' },
  { name: 'random', label: 'random' },
  { name: 'least-request', label: 'least-request (pick only)' },
  { name: 'least-request-cycle', label: '&nbsp;&nbsp;least-request, pick + `started` + `finished`' },
  { name: 'ring-hash', label: 'ring-hash, precomputed key hash' },
  { name: 'maglev', label: 'maglev, precomputed key hash' },
  { name: 'hash-key', label: '(per request, not a pick) `hashKey` of a 36-char key' },
];

// --- child: one case ---------------------------------------------------------------------

async function runCase(name) {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
  const dist = (file) => join(root, 'packages/sidecar/dist/balancer', file);
  const { RoundRobinPicker, makeTarget } = await import(dist('round-robin.js'));
  const { RandomPicker } = await import(dist('random-picker.js'));
  const { LeastRequestPicker } = await import(dist('least-request.js'));
  const { RingHashPicker } = await import(dist('ring-hash.js'));
  const { MaglevPicker } = await import(dist('maglev.js'));
  const { hashKey } = await import(dist('hash-key.js'));

  const heapUsed = () => {
    globalThis.gc();
    globalThis.gc();
    return process.memoryUsage().heapUsed;
  };
  const endpoints = Array.from({ length: ENDPOINTS }, (_, i) => ({ address: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, port: 8080, weight: 1 }));
  const hashes = new Uint32Array(HASHES);
  const keys = Array.from({ length: HASHES }, (_, i) => `user-${String(i).padStart(4, '0')}-1b4e28ba-2fa1-11d2-883f`.slice(0, 36));
  for (let i = 0; i < HASHES; i++) hashes[i] = hashKey(keys[i]);

  const builders = {
    'baseline': () => endpoints.map((e) => makeTarget(e.address, e.port)),
    'round-robin': () => new RoundRobinPicker(endpoints, Math.random),
    'random': () => new RandomPicker(endpoints, Math.random),
    'least-request': () => new LeastRequestPicker(endpoints, Math.random),
    'least-request-cycle': () => new LeastRequestPicker(endpoints, Math.random),
    'ring-hash': () => new RingHashPicker(endpoints, Math.random),
    'maglev': () => new MaglevPicker(endpoints, Math.random),
    'hash-key': () => keys,
  };
  // One loop per case, each reading the result so that nothing is optimized away.
  const loops = {
    'baseline': (targets, count) => {
      const n = targets.length;
      let sink = 0;
      for (let i = 0; i < count; i++) sink = (sink + targets[i % n].port) | 0;
      return sink;
    },
    'hash-key': (k, count) => {
      let sink = 0;
      for (let i = 0; i < count; i++) sink ^= hashKey(k[i & (HASHES - 1)]);
      return sink;
    },
    'least-request-cycle': (picker, count) => {
      let sink = 0;
      for (let i = 0; i < count; i++) {
        const target = picker.pick().target;
        picker.started(target);
        picker.finished(target);
        sink = (sink + target.port) | 0;
      }
      return sink;
    },
    'ring-hash': (picker, count) => {
      let sink = 0;
      for (let i = 0; i < count; i++) sink = (sink + picker.pick(undefined, hashes[i & (HASHES - 1)]).target.port) | 0;
      return sink;
    },
    'maglev': (picker, count) => {
      let sink = 0;
      for (let i = 0; i < count; i++) sink = (sink + picker.pick(undefined, hashes[i & (HASHES - 1)]).target.port) | 0;
      return sink;
    },
  };
  const plain = (picker, count) => {
    let sink = 0;
    for (let i = 0; i < count; i++) sink = (sink + picker.pick().target.port) | 0;
    return sink;
  };
  const build = builders[name];
  const loop = loops[name] ?? plain;
  if (!build) throw new Error(`unknown case ${name}`);

  // Build: wall time of each build, and what one picker keeps on the heap.
  const buildMs = [];
  for (let i = 0; i < BUILDS; i++) {
    const t = performance.now();
    build();
    buildMs.push(performance.now() - t);
  }
  const heapEmpty = heapUsed();
  const subject = build();
  const retainedBytes = heapUsed() - heapEmpty;

  // GC events, by start time on the performance.now() timeline.
  const gcs = [];
  const observer = new PerformanceObserver((list) => { for (const e of list.getEntries()) gcs.push(e.startTime); });
  observer.observe({ entryTypes: ['gc'] });

  let sink = loop(subject, PICKS); // warm-up: optimized code from here on
  const nsPerPick = [];
  let gcCount = 0;
  let heapGrowth = 0;
  for (let run = 0; run < RUNS; run++) {
    globalThis.gc();
    const before = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    sink += loop(subject, PICKS);
    const t1 = performance.now();
    const after = process.memoryUsage().heapUsed;
    nsPerPick.push(((t1 - t0) * 1e6) / PICKS);
    heapGrowth = Math.max(heapGrowth, after - before);
    await new Promise((resolve) => setTimeout(resolve, 0)); // let the observer deliver this run's entries
    gcCount += gcs.filter((start) => start >= t0 && start <= t1).length;
  }
  // Allocation probe, once the code is stable: few enough picks that 16 B each would fit in the
  // young generation without a scavenge, so the heap growth is what they allocated (smallest of 3).
  let probeBytes = Infinity;
  let probeGcs = 0;
  for (let probe = 0; probe < 3; probe++) {
    globalThis.gc();
    const before = process.memoryUsage().heapUsed;
    const p0 = performance.now();
    sink += loop(subject, PROBE_PICKS);
    const p1 = performance.now();
    probeBytes = Math.min(probeBytes, process.memoryUsage().heapUsed - before);
    await new Promise((resolve) => setTimeout(resolve, 0));
    probeGcs += gcs.filter((start) => start >= p0 && start <= p1).length;
  }
  observer.disconnect();
  const retainedAfter = heapUsed() - heapEmpty;
  process.stdout.write(`${JSON.stringify({
    name, picks: PICKS, runs: RUNS, nsPerPick: summarize(nsPerPick), buildMs: summarize(buildMs),
    retainedBytes, retainedAfter, heapGrowth, gcCount, probePicks: PROBE_PICKS, probeBytes, probeGcs, sink: Number.isFinite(sink),
  })}\n`);
}

// --- parent: every case, then the report ---------------------------------------------------

function child(name, track) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--expose-gc', self, '--case', name], { stdio: ['ignore', 'pipe', 'inherit'] });
    track?.(proc);
    let out = '';
    proc.stdout.on('data', (d) => { out += d; });
    const timer = setTimeout(() => proc.kill('SIGKILL'), 120_000);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`pick.mjs --case ${name} exited with ${code ?? signal}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1)));
    });
  });
}

const ns = (v) => (Number.isFinite(v) ? `${v < 10 ? v.toFixed(1) : Math.round(v)} ns` : 'n/a');
const ms = (v) => (Number.isFinite(v) ? (v >= 100 ? `${Math.round(v)} ms` : `${v.toFixed(v < 1 ? 2 : 1)} ms`) : 'n/a');
const size = (v) => (Math.abs(v) >= 1024 * 1024 ? `${(v / 1024 / 1024).toFixed(1)} MiB` : Math.abs(v) >= 10 * 1024 ? `${(v / 1024).toFixed(0)} KiB` : `${Math.round(v).toLocaleString('en-US')} B`);
const table = (head, rows) => [
  `| ${head.join(' | ')} |`,
  `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
  ...rows.map((r) => `| ${r.join(' | ')} |`),
].join('\n');

/** Runs every case in its own child process, one after another. */
export async function runPick({ track, log = () => {} } = {}) {
  const startedAt = Date.now();
  const results = [];
  for (const c of CASES) {
    const r = await child(c.name, track);
    log(`   ${c.name}: ${ns(r.nsPerPick.median)} per pick, ${r.gcCount} GCs`);
    results.push(r);
  }
  return { startedAt, durationMs: Date.now() - startedAt, results };
}

export function renderPick(report) {
  const cpus = os.cpus();
  const date = new Date(report.startedAt).toISOString().slice(0, 16).replace('T', ' ');
  const byName = new Map(report.results.map((r) => [r.name, r]));
  const base = byName.get('baseline');
  const rows = CASES.map((c) => {
    const r = byName.get(c.name);
    const perPick = Math.max(0, r.probeBytes - PROBE_OVERHEAD) / r.probePicks;
    const isPicker = c.name !== 'baseline' && c.name !== 'hash-key';
    const meets = r.nsPerPick.median <= GOAL_NS && r.gcCount === 0 && perPick < 0.05 ? 'yes' : `**no**${r.nsPerPick.median <= GOAL_NS ? ' (allocates)' : ''}`;
    return [
      c.label, `**${ns(r.nsPerPick.median)}**`, `${ns(r.nsPerPick.min)} – ${ns(r.nsPerPick.max)}`,
      c.name === 'baseline' ? '1×' : `${(r.nsPerPick.median / base.nsPerPick.median).toFixed(1)}×`,
      c.name === 'hash-key' ? '—' : ms(r.buildMs.median), c.name === 'hash-key' ? '—' : size(r.retainedBytes),
      `${size(r.probeBytes)} → **${perPick < 0.05 ? '0' : perPick.toFixed(1)} B/pick**`, String(r.gcCount),
      isPicker ? meets : '—',
    ];
  });
  const pickers = report.results.filter((r) => !['baseline', 'hash-key'].includes(r.name));
  const allMeet = pickers.every((r) => r.nsPerPick.median <= GOAL_NS && r.gcCount === 0 && r.probeBytes - PROBE_OVERHEAD < 0.05 * r.probePicks);
  return `## Pick

<!-- bench/pick.mjs writes this section, up to the end marker; edit the script, not the numbers. -->

\`node bench/pick.mjs\` (after \`pnpm run build\`; \`pnpm bench\` runs it too) on ${date} UTC · ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores · Node ${process.version} · took ${(report.durationMs / 1000).toFixed(1)} s.

**Goal: ≤ ${GOAL_NS} ns per pick, no allocation per pick**, over ${ENDPOINTS.toLocaleString('en-US')} endpoints (weight 1). ${allMeet ? 'Every picker meets it.' : '**Not every picker meets it** (see the last column).'}

${table(['case', 'per pick (median)', 'min – max of runs', 'vs baseline', 'build (median)', 'heap kept by the picker', `heap growth over ${(PROBE_PICKS / 1000).toFixed(0)}k picks`, `GCs during ${(RUNS * PICKS / 1e6).toFixed(0)}M timed picks`, 'goal met'], rows)}

#### How to read this

- Each case runs alone in a child process (\`node --expose-gc\`) on the built \`packages/sidecar/dist/balancer\`, with \`Math.random\` as the random source; one warm-up of ${(PICKS / 1e6).toFixed(0)}M picks, then ${RUNS} timed runs of ${(PICKS / 1e6).toFixed(0)}M picks; *per pick* is the median run's wall time (\`performance.now()\`) ÷ ${(PICKS / 1e6).toFixed(0)}M, *min – max* the spread of the runs. The loop reads \`pick().target.port\` (the baseline reads \`targets[i % n].port\`), so loop overhead is in every row: compare with the baseline.
- *Allocation*, two ways. *Heap growth*: after the timed runs, a forced GC, then \`process.memoryUsage().heapUsed\` before and after ${PROBE_PICKS.toLocaleString('en-US')} picks (the smallest of 3 probes): few enough that even 16 B per pick fits in the young generation without a scavenge, so the growth is what the picks allocated; *B/pick* is that minus ${PROBE_OVERHEAD} B (what \`memoryUsage\` and the timer cost with no pick at all), ÷ ${PROBE_PICKS.toLocaleString('en-US')}. *GCs* counts \`PerformanceObserver('gc')\` entries that started inside the ${RUNS} timed runs: allocating per pick fills the young generation and triggers scavenges, which are also inside *per pick*.
- *Build* is one \`new …Picker(10,000 endpoints)\` (median of ${BUILDS}), done on endpoint changes only, never per request; *heap kept* is \`heapUsed\` after forced GCs with the picker alive, minus without. Ring hash over 10,000 endpoints has one virtual node each (ring ≥ 1,024 nodes: Envoy's default minimum); maglev's table has 65,537 slots.
- Pickers use the injected \`random()\` only to seed, at build time; per pick, random and least-request (and ring hash and maglev without a hash) draw integers from an xoshiro128** generator whose state is an \`Int32Array\` (\`balancer/fast-random.ts\`). Calling \`random()\` per pick used to cost 16 B a call: a double returned through a call is boxed as a HeapNumber.
- Ring hash and maglev pick with a request hash precomputed by \`hashKey\` (cycling through ${HASHES.toLocaleString('en-US')} of them); hashing the key is a separate per-request cost, shown in the last row. *least-request, pick + started + finished* is what one request costs the picker (two \`Map\` lookups by target key).
`;
}

/** Replaces the Pick section of BENCHMARKS.md (or puts it after the control-plane section); other sections stay. */
export function writePickSection(section) {
  return replaceSection('Pick', section, 'control-plane');
}

/** `pnpm bench`'s entry: run, write the section, return the markdown. */
export async function pickSuite(options) {
  const report = await runPick(options);
  const markdown = renderPick(report);
  return { report, markdown, file: writePickSection(markdown) };
}

if (process.argv[1] === self) {
  const at = process.argv.indexOf('--case');
  if (at >= 0) {
    await runCase(process.argv[at + 1]);
  } else {
    const { markdown, file } = await pickSuite({ log: (text) => console.error(text) });
    console.log(markdown);
    console.error(`wrote ${file}`);
  }
}
