// Sidecar memory (issue 6: "≤ 64 MB idle, ≤ 128 MB at load with 1,000 Services × 10 endpoints
// loaded"): the skein-sidecar process subscribed to the benchmark world (1,000 Services, 10,000
// endpoints, bench/world.mjs) plus web.demo, idle and then under HTTP/1.1 load through its
// per-service listener (autocannon, 32 connections, 1 KiB responses); next to the same sidecar
// with only web.demo in its config (the baseline: what the process costs before any config).
// Each config runs three ways: Node's defaults on this (unconstrained) machine; as in a Pod with
// the injected sidecar's 256 Mi memory limit, from which Node sizes V8's heap (POD_NODE_ARGS);
// and that plus a 4 MiB semi-space, which trades memory for GC time (SEMI_SPACE_ARGS).
// Reads RSS from /proc (VmRSS, RssAnon; VmHWM and 20 ms samples for peaks) and the V8 heap from
// the sidecar's /metrics.
//
//   node bench/sidecar-memory.mjs [--seconds 5] [--no-write] [--smoke]
// Writes the "Sidecar memory" section of BENCHMARKS.md unless --no-write or --smoke.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { autocannon, cpuSeconds, eventually, startBackends, startControlPlane, startSidecar } from './http-kit.mjs';
import { int, mib } from './report-kit.mjs';
import { replaceSection } from './sections.mjs';
import { WORLD, writeWorld } from './world.mjs';

const args = process.argv.slice(2);
const SMOKE = args.includes('--smoke');
const SECONDS = SMOKE ? 1 : Number(args.includes('--seconds') ? args[args.indexOf('--seconds') + 1] : 5);
const IDLE_MS = SMOKE ? 500 : 5000;
const GOALS = { idle: 64 * 2 ** 20, load: 128 * 2 ** 20 };
/**
 * The heap Node 20 and 22 give a process whose cgroup memory limit is 256 MiB (the injected
 * sidecar's limit, docs/install.md): Node sizes V8 from the constrained memory, which gives a
 * 259 MiB heap limit and a 1 MiB semi-space (measured with v8.getHeapStatistics() and
 * getHeapSpaceStatistics() inside such a cgroup; `--max-heap-size=259` gives the same split).
 * Without it the bench measures a 4 GiB heap with 16 MiB semi-spaces that no Pod has.
 */
export const POD_NODE_ARGS = '--max-heap-size=259';
/** The alternative for Pods: a larger young generation, fewer scavenges and promotions, more memory. */
export const SEMI_SPACE_ARGS = '--max-semi-space-size=4';
const VARIANTS = [
  { label: 'no memory limit', nodeArgs: '' },
  { label: 'Pod, 256 Mi limit', nodeArgs: POD_NODE_ARGS },
  { label: 'Pod, 256 Mi limit, 4 MiB semi-space', nodeArgs: `${POD_NODE_ARGS} ${SEMI_SPACE_ARGS}` },
];
const SAMPLE_MS = 20;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** VmRSS, RssAnon (what page sharing cannot take off: heap, malloc, stacks) and VmHWM of `pid`, in bytes. */
function memory(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => Number(text.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), hwm: kb('VmHWM') };
}

/** Samples `pid` every SAMPLE_MS; `stop()` returns the highest VmRSS and RssAnon seen. */
function sampler(pid) {
  const peak = { rss: 0, anon: 0 };
  const timer = setInterval(() => {
    try {
      const m = memory(pid);
      peak.rss = Math.max(peak.rss, m.rss);
      peak.anon = Math.max(peak.anon, m.anon);
    } catch { /* exited */ }
  }, SAMPLE_MS);
  return { stop: () => (clearInterval(timer), peak) };
}

async function metric(admin, name, label = '') {
  const text = await (await fetch(`${admin}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${label} `));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** Runs `fn` with SKEIN_BENCH_SIDECAR_NODE_ARGS extended by `nodeArgs` (http-kit passes it to the sidecar's node). */
async function withNodeArgs(nodeArgs, fn) {
  const before = process.env.SKEIN_BENCH_SIDECAR_NODE_ARGS;
  process.env.SKEIN_BENCH_SIDECAR_NODE_ARGS = [before ?? '', nodeArgs].join(' ').trim();
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env.SKEIN_BENCH_SIDECAR_NODE_ARGS;
    else process.env.SKEIN_BENCH_SIDECAR_NODE_ARGS = before;
  }
}

/** One sidecar on the control plane at `grpcAddress`: idle once its config is in, then under load. */
async function measure(name, variant, grpcAddress, services) {
  const sidecar = await withNodeArgs(variant.nodeArgs, () => startSidecar(grpcAddress, { OTEL_SDK_DISABLED: 'true' }));
  try {
    const pid = sidecar.proc.child.pid;
    // Both types: the EndpointGroups arrive last and are most of the config.
    await eventually(async () => (await metric(sidecar.admin, 'skein_sidecar_xds_resources', '{type="skein.v1.EndpointGroup"}')) >= services, 60_000, 100);
    await sleep(IDLE_MS);
    const at = memory(pid);
    const idle = { rss: at.rss, anon: at.anon, heap: await metric(sidecar.admin, 'nodejs_heap_size_used_bytes'), startPeak: at.hwm };
    const sampling = sampler(pid);
    const cpuBefore = cpuSeconds(pid);
    const r = await autocannon(sidecar.url, SECONDS, { connections: 32 });
    const cpu = cpuSeconds(pid) - cpuBefore;
    const sampled = sampling.stop();
    const after = memory(pid);
    // VmHWM is exact when the load set a new high; otherwise the samples say how high the load went.
    const load = {
      rss: after.rss, anon: after.anon, heap: await metric(sidecar.admin, 'nodejs_heap_size_used_bytes'),
      peak: after.hwm > at.hwm ? after.hwm : sampled.rss, peakAnon: sampled.anon,
      rps: r.requests.average, cpuUs: (cpu / r.requests.total) * 1e6, errors: r.errors + r.non2xx,
    };
    return { name, variant, services, idle, load };
  } finally {
    await sidecar.proc.stop();
  }
}

export async function runSidecarMemory({ log = () => {} } = {}) {
  const children = new Set();
  const rows = [];
  for (const world of [false, true]) {
    const tmp = mkdtempSync(join(os.tmpdir(), 'skein-bench-memory-'));
    try {
      const { port } = await startBackends(children);
      if (world) writeWorld(tmp);
      const { plane, grpcAddress } = await startControlPlane(tmp, port);
      try {
        const services = world ? WORLD.services + 1 : 1;
        const name = world ? `${int(WORLD.services)} Services × ${WORLD.endpointsPerService} endpoints (+ web.demo)` : 'baseline: web.demo only (1 Service, 2 endpoints)';
        for (const variant of VARIANTS) {
          const row = await measure(name, variant, grpcAddress, services);
          log(`${row.name} [${variant.label}]: idle ${mib(row.idle.rss)} (anon ${mib(row.idle.anon)}), start-up peak ${mib(row.idle.startPeak)}, under load peak ${mib(row.load.peak)}, ${Math.round(row.load.cpuUs)} µs CPU/request`);
          rows.push(row);
        }
      } finally {
        await plane.stop();
      }
    } finally {
      for (const child of children) child.kill('SIGKILL');
      children.clear();
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return rows;
}

export function renderSidecarMemory(rows) {
  const loaded = rows.filter((r) => r.services > 1);
  const met = (v, goal) => (v <= goal ? 'met' : 'not met');
  const flags = (r) => (r.variant.nodeArgs ? ` (\`${r.variant.nodeArgs}\`)` : '');
  return [
    '## Sidecar memory',
    '',
    `The \`skein-sidecar\` process (tracing off, metrics on) idle ${IDLE_MS / 1000} s after its config is in, then under ${SECONDS} s of HTTP/1.1 load through its per-service listener (autocannon, 32 connections, 1 KiB). Each config three ways: Node's defaults on this machine (no memory limit: a 4 GiB heap, 16 MiB semi-spaces); as in a Pod with the injected 256 Mi limit (\`${POD_NODE_ARGS}\`: the heap Node derives from that cgroup limit, with 1 MiB semi-spaces); and that plus \`${SEMI_SPACE_ARGS}\`. ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC. Regenerate: \`node bench/sidecar-memory.mjs\` (after \`pnpm run build\`).`,
    '',
    '| config | V8 heap | RSS idle | of it anonymous | V8 heap used idle | start-up peak RSS | RSS after load | peak RSS under load | of it anonymous | V8 heap used after load | req/s | CPU per request | errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.name} | ${r.variant.label}${flags(r)} | ${mib(r.idle.rss)} | ${mib(r.idle.anon)} | ${mib(r.idle.heap)} | ${mib(r.idle.startPeak)} | ${mib(r.load.rss)} | ${mib(r.load.peak)} | ${mib(r.load.peakAnon)} | ${mib(r.load.heap)} | ${int(r.load.rps)} | ${Number.isFinite(r.load.cpuUs) ? `${Math.round(r.load.cpuUs)} µs` : '—'} | ${r.load.errors} |`),
    '',
    'With the world loaded:',
    ...loaded.map((r) => `- ${r.variant.label}: idle **${mib(r.idle.rss)}** (goal ≤ 64 MiB: ${met(r.idle.rss, GOALS.idle)}), peak under load **${mib(r.load.peak)}** (goal ≤ 128 MiB: ${met(r.load.peak, GOALS.load)}), start-up peak ${mib(r.idle.startPeak)}.`),
    '',
    '- RSS is the whole process. Its anonymous part is the V8 heap, malloc and stacks: what this sidecar alone costs. The rest is file-backed, mostly the pages of the `node` binary it touched (~45 MiB on Node 20, ~52 MiB on Node 22, ~36 MiB for `node -e ""`); those pages are page cache, shared by every process that runs the same binary on the node.',
    '- The V8 heap used is `nodejs_heap_size_used_bytes` from the sidecar\'s /metrics at the same moment; it counts garbage not yet collected (V8 collects the old generation lazily), so it overstates what the config holds. Start-up peak is VmHWM before the load (loading the config included); the peak under load is VmHWM if the load set a new high, else the highest of 20 ms samples. CPU per request is the sidecar\'s user + system time over the requests of the load run. The baseline rows are what the process needs with nothing to route; the difference is the config and the data plane\'s tables.',
    `- In a Pod the 1 MiB semi-spaces keep the young generation small, but a request's objects then often outlive a scavenge: more scavenges, promotions and old-generation collections, so more CPU per request. \`${SEMI_SPACE_ARGS}\` (allowed in NODE_OPTIONS) buys that CPU back for some memory; the rows above show both sides.`,
  ].join('\n');
}

export async function sidecarMemorySuite({ log = () => {} } = {}) {
  const section = renderSidecarMemory(await runSidecarMemory({ log }));
  replaceSection('Sidecar memory', section, 'CONNECT tunnel');
  return section;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await runSidecarMemory({ log: (line) => console.error(line) });
  const section = renderSidecarMemory(rows);
  console.log(section);
  if (SMOKE && rows.some((r) => r.load.errors > 0 || !(r.load.rps > 0))) process.exit(1);
  if (!args.includes('--no-write') && !SMOKE) console.error(`wrote ${replaceSection('Sidecar memory', section, 'CONNECT tunnel')}`);
}
