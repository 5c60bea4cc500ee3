// HTTP/1.1 through the sidecar, real processes on 127.0.0.1: two backends answering 1 KiB, a
// control plane (files mode), the sidecar with a per-service listener, and autocannon (its own
// process, keep-alive, 32 connections) as the load. Contenders run alternately in one run:
//   direct         autocannon straight to one backend: the limit
//   tracing off    the sidecar with OTEL_SDK_DISABLED=true (metrics still on)
//   tracing on     the sidecar with always_on sampling, exporting OTLP/HTTP protobuf to a
//                  sink that answers 200 (in the backends' process)
// Reports requests/s, p50/p99 latency, and the sidecar's CPU per request (from /proc).
//
//   node bench/http-proxy.mjs [--seconds 5] [--rounds 5] [--only <name part>] [--no-write]
// Writes the "Tracing overhead" section of BENCHMARKS.md unless --no-write (or --only).
// SKEIN_BENCH_CPU_PROF=<dir> writes a CPU profile of each sidecar there;
// SKEIN_BENCH_SIDECAR_NODE_ARGS="--max-semi-space-size=16" passes node flags to the sidecars.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { autocannon, cpuSeconds, median, startBackends, startControlPlane, startSidecar } from './http-kit.mjs';
import { replaceSection } from './sections.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const SECONDS = option('--seconds', 5);
const ROUNDS = option('--rounds', 5);
const CONNECTIONS = 32;

/** autocannon in its own process; resolves with its JSON result. */
const load = (url, seconds) => autocannon(url, seconds, { connections: CONNECTIONS });

export async function runHttpProxy({ log = () => {} } = {}) {
  const children = new Set();
  const tmp = mkdtempSync(join(os.tmpdir(), 'skein-bench-http-'));
  try {
    const { port, sink } = await startBackends(children);
    const { plane, grpcAddress } = await startControlPlane(tmp, port);
    const contenders = {
      'direct (no proxy)': undefined,
      'sidecar, tracing off': { OTEL_SDK_DISABLED: 'true' },
      'sidecar, tracing on (always_on)': { OTEL_TRACES_SAMPLER: 'always_on', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink}`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' },
    };
    const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
    if (only !== undefined) for (const name of Object.keys(contenders)) if (!name.includes(only)) delete contenders[name];
    const results = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, env] of Object.entries(contenders)) {
        let sidecar;
        try {
          sidecar = env === undefined ? undefined : await startSidecar(grpcAddress, env);
          const url = sidecar?.url ?? `http://127.0.0.31:${port}/`;
          await load(url, 1); // warm-up: JIT, pools
          const pid = sidecar?.proc.child.pid;
          const cpuBefore = pid ? cpuSeconds(pid) : 0;
          const r = await load(url, SECONDS);
          const cpu = pid ? cpuSeconds(pid) - cpuBefore : NaN;
          const requests = r.requests.total;
          const rss = sidecar ? Number((await (await fetch(`${sidecar.admin}/metrics`)).text()).match(/^process_resident_memory_bytes (\d+)/m)?.[1] ?? NaN) : NaN;
          results[name].push({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx, cpuUsPerRequest: (cpu * 1e6) / requests, rssMiB: rss / 2 ** 20 });
          log(`round ${round + 1} ${name}: ${Math.round(r.requests.average)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms`);
        } finally {
          await sidecar?.proc.stop();
        }
      }
    }
    await plane.stop();
    return Object.entries(results).map(([name, runs]) => ({
      name, rounds: runs.length,
      rps: median(runs.map((r) => r.rps)), rpsMin: Math.min(...runs.map((r) => r.rps)), rpsMax: Math.max(...runs.map((r) => r.rps)), p50: median(runs.map((r) => r.p50)), p99: median(runs.map((r) => r.p99)),
      errors: runs.reduce((n, r) => n + r.errors, 0), cpuUsPerRequest: median(runs.map((r) => r.cpuUsPerRequest)), rssMiB: median(runs.map((r) => r.rssMiB)),
    }));
  } finally {
    for (const child of children) child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  }
}

export function renderHttpProxy(rows) {
  const off = rows.find((r) => r.name.includes('tracing off'));
  const on = rows.find((r) => r.name.includes('tracing on'));
  const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
  const lines = [
    '## Tracing overhead',
    '',
    `HTTP/1.1 through the sidecar's per-service listener, keep-alive, ${CONNECTIONS} connections, 1 KiB responses from two backends; autocannon in its own process, ${ROUNDS} alternating rounds of ${SECONDS} s per contender (medians). Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}. Regenerate: \`node bench/http-proxy.mjs\` (after \`pnpm run build\`).`,
    '',
    '| contender | req/s | rounds min – max | p50 | p99 | sidecar CPU per request | sidecar RSS | errors | vs tracing off |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.name} | ${fmt(r.rps)} | ${fmt(r.rpsMin)} – ${fmt(r.rpsMax)} | ${r.p50} ms | ${r.p99} ms | ${Number.isFinite(r.cpuUsPerRequest) ? `${fmt(r.cpuUsPerRequest)} µs` : '—'} | ${Number.isFinite(r.rssMiB) ? `${fmt(r.rssMiB)} MiB` : '—'} | ${r.errors} | ${off && r !== off && !r.name.startsWith('direct') ? `${fmt((r.rps / off.rps) * 100, 1)}%` : r === off ? '100%' : '—'} |`),
    '',
    on && off ? `Tracing on costs **${fmt((1 - on.rps / off.rps) * 100, 1)}%** of throughput (goal: at most 15%) and ${fmt(on.cpuUsPerRequest - off.cpuUsPerRequest)} µs of sidecar CPU per request.` : '',
    '',
    '- *Tracing on*: every request gets a CLIENT span (HTTP semantic-convention and `skein.*` attributes), its `traceparent` goes to the endpoint, spans are batched (our bounded queue) and exported as OTLP/HTTP protobuf to a local sink that answers 200 at once (in its own process, as a collector would be). *Tracing off*: `OTEL_SDK_DISABLED=true`; request metrics stay on in both.',
    '- What is ours on the request path, because OpenTelemetry\'s general-purpose parts cost several µs each per request here: the span object (`LightTracer`: the API\'s Span and the SDK\'s ReadableSpan in one object; the SDK\'s samplers and resource as they are), attributes that a destination\'s or an endpoint\'s requests share, set and encoded once, the OTLP protobuf encoder, which encodes each span the moment it ends so that the batch waits as bytes (plugged into OpenTelemetry\'s own HTTP and gRPC export transports), and, under the default propagators, the `traceparent` header read and written by the proxy itself (`trace-context.ts`): the composite extract and inject with their Context copies cost ~9 µs per request here (A/B of 2026-11-24: tracing on went from 72–74% of tracing off to 80–86%).',
    '- Where the rest goes (profiles and ablations of 2026-11-24, `SKEIN_BENCH_CPU_PROF=<dir> node bench/http-proxy.mjs --only sidecar`): the tracing functions (span start, `traceparent`, attributes, encoding, export) take ~3 µs per request of the sidecar\'s event loop and the export\'s socket writes ~1 µs more; the rest is spread thinly over the proxy\'s own code. Ablations, each against tracing off in the same run (3–5 rounds each; the same contender moves by up to ±4 points between runs): `always_off` sampling (ids and `traceparent` only) −6 to −8%; spans recorded but not encoded −10 to −13%; encoded but not exported −9 to −13%; everything −14 to −22%. Export batches of 1,024 or 2,048 spans instead of 512 made no measurable difference.',
    '- The load generator, the backends and the collector sink share the same 2 cores, so the extra work of the exports (in the sidecar, the kernel and the sink) shows in throughput as well as in the sidecar\'s own CPU. On the same code, two runs of this bench alone gave 13.8% and 16.9%, and the full `pnpm bench` of 2026-11-24 00:18 UTC 21.8%: one run\'s figure moves by several points.',
    '- Rounds alternate contenders, so drift on the machine hits all of them; the spread of the rounds (min – max) shows how much one figure can move: compare medians only when their spreads do not overlap much.',
    '- CPU per request is the sidecar process\'s utime + stime (from `/proc/<pid>/stat`) over the timed run ÷ requests served; the load generator and the backends run in their own processes on the same 2 cores, so absolute figures are lower than on a dedicated machine, and ratios are what to compare.',
  ];
  return lines.join('\n');
}

/** `pnpm bench`'s entry: run, write the section, return the markdown. */
export async function httpProxySuite({ log = () => {} } = {}) {
  const section = renderHttpProxy(await runHttpProxy({ log }));
  replaceSection('Tracing overhead', section, 'Pick');
  return section;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await runHttpProxy({ log: (line) => console.error(line) });
  const section = renderHttpProxy(rows);
  console.log(section);
  if (!args.includes('--no-write') && !args.includes('--only')) console.error(`wrote ${replaceSection('Tracing overhead', section, 'Pick')}`);
}
