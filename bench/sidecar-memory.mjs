// Sidecar memory (issue 6: "≤ 64 MB idle, ≤ 128 MB at load with 1,000 Services × 10 endpoints
// loaded"): the skein-sidecar process subscribed to the benchmark world (1,000 Services, 10,000
// endpoints, bench/world.mjs) plus web.demo, idle and then under HTTP/1.1 load through its
// per-service listener (autocannon, 32 connections, 1 KiB responses); next to the same sidecar
// with only web.demo in its config (the baseline: what the process costs before any config).
// Reads RSS from /proc (VmRSS now, VmHWM peak) and the V8 heap from the sidecar's /metrics.
//
//   node bench/sidecar-memory.mjs [--seconds 5] [--no-write] [--smoke]
// Writes the "Sidecar memory" section of BENCHMARKS.md unless --no-write or --smoke.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { autocannon, eventually, startBackends, startControlPlane, startSidecar } from './http-kit.mjs';
import { int, mib } from './report-kit.mjs';
import { replaceSection } from './sections.mjs';
import { WORLD, writeWorld } from './world.mjs';

const args = process.argv.slice(2);
const SMOKE = args.includes('--smoke');
const SECONDS = SMOKE ? 1 : Number(args.includes('--seconds') ? args[args.indexOf('--seconds') + 1] : 5);
const IDLE_MS = SMOKE ? 500 : 5000;
const GOALS = { idle: 64 * 2 ** 20, load: 128 * 2 ** 20 };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const status = (pid, field) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN) * 1024;

async function metric(admin, name, label = '') {
  const text = await (await fetch(`${admin}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${label}`));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** One sidecar on the control plane serving `dir`: idle once its config is in, then under load. */
async function measure(name, grpcAddress, services) {
  const sidecar = await startSidecar(grpcAddress, { OTEL_SDK_DISABLED: 'true' });
  try {
    const pid = sidecar.proc.child.pid;
    await eventually(async () => (await metric(sidecar.admin, 'skein_sidecar_xds_resources', '{type="skein.v1.Service"}')) >= services, 60_000, 100);
    await sleep(IDLE_MS);
    const idle = { rss: status(pid, 'VmRSS'), heap: await metric(sidecar.admin, 'nodejs_heap_size_used_bytes') };
    const r = await autocannon(sidecar.url, SECONDS, { connections: 32 });
    const load = { rss: status(pid, 'VmRSS'), peak: status(pid, 'VmHWM'), heap: await metric(sidecar.admin, 'nodejs_heap_size_used_bytes'), rps: r.requests.average, errors: r.errors + r.non2xx };
    return { name, services, idle, load };
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
        const row = await measure(world ? `${int(WORLD.services)} Services × ${WORLD.endpointsPerService} endpoints (+ web.demo)` : 'baseline: web.demo only (1 Service, 2 endpoints)', grpcAddress, services);
        log(`${row.name}: idle ${mib(row.idle.rss)}, under load ${mib(row.load.rss)} (peak ${mib(row.load.peak)})`);
        rows.push(row);
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
  const loaded = rows[rows.length - 1];
  const met = (v, goal) => (v <= goal ? 'met' : 'not met');
  return [
    '## Sidecar memory',
    '',
    `The \`skein-sidecar\` process (tracing off, metrics on) idle ${IDLE_MS / 1000} s after its config is in, then under ${SECONDS} s of HTTP/1.1 load through its per-service listener (autocannon, 32 connections, 1 KiB). ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC. Regenerate: \`node bench/sidecar-memory.mjs\` (after \`pnpm run build\`).`,
    '',
    '| config | RSS idle | V8 heap used idle | RSS after load | peak RSS | V8 heap used after load | req/s | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.name} | ${mib(r.idle.rss)} | ${mib(r.idle.heap)} | ${mib(r.load.rss)} | ${mib(r.load.peak)} | ${mib(r.load.heap)} | ${int(r.load.rps)} | ${r.load.errors} |`),
    '',
    `With the world loaded: idle **${mib(loaded.idle.rss)}** (goal ≤ 64 MiB: ${met(loaded.idle.rss, GOALS.idle)}), peak under load **${mib(loaded.load.peak)}** (goal ≤ 128 MiB: ${met(loaded.load.peak, GOALS.load)}).`,
    '',
    '- RSS is the whole process (V8 heap, code, Node\'s own buffers, socket buffers, freed memory the allocator keeps); the V8 heap used is `nodejs_heap_size_used_bytes` from the sidecar\'s /metrics at the same moment. The baseline row is what the process needs with nothing to route; the difference is the config and the data plane\'s tables.',
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
