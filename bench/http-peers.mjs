// HTTP/1.1 keep-alive proxying of 1 KiB responses over two backends (127.0.0.31/32): the Skein
// sidecar next to its peers, real processes on loopback, contenders in alternating rounds:
//   direct       the load generator straight to one backend: the limit
//   sidecar      per-service listener, OTEL_SDK_DISABLED=true (as in http-proxy.mjs)
//   nginx        Debian nginx-light, one worker, upstream keepalive, round robin, access_log off
//   HAProxy      Debian haproxy, nbthread 1, http-reuse always, roundrobin
//   naive        node:http server + http.request with a keep-alive Agent, ~20 lines below
// Each round per contender: a fresh proxy, 1 s warm-up, a throughput run (req/s, latency, proxy
// CPU per request), a fixed-rate run (added latency over direct; after the throughput run, so
// the JIT has finished), then peak RSS (VmHWM).
// Load: wrk (one thread, 32 connections) when it is there or installable, else autocannon.
// nginx, HAProxy and wrk are installed with apt-get when missing (as root); a contender that
// cannot be had is skipped with its reason, never the whole run.
//
//   node bench/http-peers.mjs [--seconds 5] [--rounds 4] [--rate 2000] [--fixed-seconds 4]
//                             [--only <name part>] [--no-write] [--smoke]
// Writes the "HTTP/1.1 proxying" section of BENCHMARKS.md unless --no-write, --only or --smoke.
// --smoke: one round, 1 s per run, no warm-up, no writing; exits 1 if a contender failed.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AUTOCANNON, autocannon, ensureCommand, eventually, firstLine, freePort, processTree, startBackends, startControlPlane,
  startProcess, startSidecar, treeCpuSeconds, treePeakRssBytes, wrk,
} from './http-kit.mjs';
import { int, mib, paired, stat, times, us, verdict } from './report-kit.mjs';
import { replaceSection } from './sections.mjs';

const TITLE = 'HTTP/1.1 proxying';
const CONNECTIONS = 32;
export const DEFAULTS = { seconds: 5, rounds: 4, rate: 2000, fixedSeconds: 4, warmup: 1, only: undefined };
/** The issue's goals for the sidecar. */
const GOALS = { vsHaproxy: 0.6, vsNaive: 2, addedP50Us: 80, addedP99Us: 1000, cpuUs: 120 };

// --- the proxies ---------------------------------------------------------------------------

const NAIVE = `
const http = require('node:http');
const port = Number(process.argv[1]);
const hosts = ['127.0.0.31', '127.0.0.32'];
const agent = new http.Agent({ keepAlive: true });
let next = 0;
const server = http.createServer((req, res) => {
  const upstream = http.request({ host: hosts[next++ % hosts.length], port, method: req.method, path: req.url, headers: req.headers, agent }, (up) => {
    res.writeHead(up.statusCode, up.headers);
    up.pipe(res);
  });
  upstream.on('error', () => { if (!res.headersSent) res.writeHead(502); res.end(); });
  req.pipe(upstream);
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
`;

const nginxConf = (dir, listen, port) => `${process.getuid?.() === 0 ? 'user root root;\n' : ''}daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  upstream backends {
    server 127.0.0.31:${port};
    server 127.0.0.32:${port};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${listen};
    location / {
      proxy_pass http://backends;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;

const haproxyConf = (listen, port) => `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  http-reuse always
listen web
  bind 127.0.0.1:${listen}
  balance roundrobin
  server b1 127.0.0.31:${port}
  server b2 127.0.0.32:${port}
`;

const CONTENDERS = [
  { key: 'direct', name: 'direct (no proxy)', start: async (ctx) => ({ url: `http://127.0.0.31:${ctx.port}/`, pid: undefined, stop: async () => {} }) },
  {
    key: 'sidecar', name: 'Skein sidecar (tracing off)',
    start: async (ctx) => {
      const s = await startSidecar(ctx.grpcAddress, { OTEL_SDK_DISABLED: 'true' }); // stops it if it never gets ready
      ctx.track(s.proc.child);
      return { url: s.url, pid: s.proc.child.pid, stop: () => s.proc.stop() };
    },
  },
  {
    key: 'nginx', name: 'nginx (1 worker)', command: 'nginx', pkg: 'nginx-light',
    start: async (ctx) => {
      const dir = mkdtempSync(join(ctx.tmp, 'nginx-'));
      const listen = await freePort();
      writeFileSync(join(dir, 'nginx.conf'), nginxConf(dir, listen, ctx.port));
      return startProcess(ctx, 'nginx', ctx.paths.nginx, ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], `http://127.0.0.1:${listen}/`);
    },
  },
  {
    key: 'haproxy', name: 'HAProxy (nbthread 1)', command: 'haproxy', pkg: 'haproxy',
    start: async (ctx) => {
      const cfg = join(ctx.tmp, 'haproxy.cfg');
      const listen = await freePort();
      writeFileSync(cfg, haproxyConf(listen, ctx.port));
      return startProcess(ctx, 'haproxy', ctx.paths.haproxy, ['-f', cfg, '-db'], `http://127.0.0.1:${listen}/`);
    },
  },
  {
    key: 'naive', name: 'naive Node proxy',
    start: (ctx) => startProcess(ctx, 'naive proxy', process.execPath, ['-e', NAIVE, String(ctx.port)], (output) => eventually(() => {
      const port = output().match(/"port":(\d+)/)?.[1];
      return port && `http://127.0.0.1:${port}/`;
    }, 15_000, 20)),
  },
];

// --- a run ---------------------------------------------------------------------------------

/**
 * Runs every contender `rounds` times, alternating, and returns the raw rounds with what was
 * skipped and why. `track(child)` is called for every process started (for the caller's cleanup).
 */
export async function runHttpPeers({ track = () => {}, log = () => {}, ...options } = {}) {
  const o = { ...DEFAULTS, ...options };
  const startedAt = Date.now();
  const live = new Set();
  const trackAll = (child) => {
    live.add(child);
    child.once('exit', () => live.delete(child));
    track(child);
  };
  const tmp = mkdtempSync(join(os.tmpdir(), 'skein-bench-peers-'));
  // On the way out, however it comes (a signal handler's process.exit too): kill the process
  // trees we started (nginx's worker outlives a SIGKILLed master) and remove the temp dir.
  const cleanup = () => {
    for (const child of live) for (const pid of processTree(child.pid)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    rmSync(tmp, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  try {
    const tools = {};
    for (const [command, pkg] of [['wrk', 'wrk'], ['nginx', 'nginx-light'], ['haproxy', 'haproxy']]) {
      tools[command] = ensureCommand(command, pkg, log);
      if (tools[command].reason) log(`${command}: ${command === 'wrk' ? 'load from autocannon instead' : 'skipped'}, ${tools[command].reason}`);
    }
    const loader = tools.wrk.path ? 'wrk' : 'autocannon';
    const load = async (url, seconds, rate) => {
      if (loader === 'wrk') return wrk(tools.wrk.path, url, seconds, { connections: CONNECTIONS, rate, dir: tmp, track: trackAll });
      const r = await autocannon(url, seconds, { connections: CONNECTIONS, rate, track: trackAll });
      return { requests: r.requests.total, rps: r.requests.total / r.duration, errors: r.errors + r.non2xx, p50: r.latency.p50 * 1000, p99: r.latency.p99 * 1000, p999: r.latency.p99_9 * 1000 };
    };
    const backends = new Set();
    const { port } = await startBackends(backends);
    for (const child of backends) trackAll(child);
    mkdirSync(join(tmp, 'plane'));
    const { plane, grpcAddress } = await startControlPlane(join(tmp, 'plane'), port);
    trackAll(plane.child);
    const ctx = { tmp, port, grpcAddress, track: trackAll, paths: { nginx: tools.nginx.path, haproxy: tools.haproxy.path } };

    const contenders = CONTENDERS.filter((c) => o.only === undefined || c.key === 'direct' || c.name.toLowerCase().includes(o.only.toLowerCase()))
      .map((c) => ({ key: c.key, name: c.name, skipped: c.command && tools[c.command].reason ? `${c.command}: skipped, ${tools[c.command].reason}` : undefined, rounds: [], failures: [] }));
    for (let round = 0; round < o.rounds; round++) {
      for (const c of contenders) {
        if (c.skipped) continue;
        let proxy;
        try {
          proxy = await CONTENDERS.find((x) => x.key === c.key).start(ctx);
          if (o.warmup > 0) await load(proxy.url, o.warmup); // JIT, pools, upstream connections
          const pids = proxy.pid ? processTree(proxy.pid) : [];
          // Throughput first: its requests finish the JIT's work, so the fixed-rate run that
          // follows measures a warm process, as a sidecar that has been up for a while is.
          let cpu = treeCpuSeconds(pids);
          const max = await load(proxy.url, o.seconds);
          const maxCpu = treeCpuSeconds(pids) - cpu;
          cpu = treeCpuSeconds(pids);
          const fixed = await load(proxy.url, o.fixedSeconds, o.rate);
          const fixedCpu = treeCpuSeconds(pids) - cpu;
          const rss = pids.length ? treePeakRssBytes(processTree(proxy.pid)) : NaN;
          c.rounds.push({
            round, rps: max.rps, p50: max.p50, p99: max.p99, p999: max.p999, errors: max.errors + fixed.errors,
            cpuUs: pids.length ? (maxCpu * 1e6) / max.requests : NaN, rssBytes: rss,
            fixed: { rps: fixed.rps, p50: fixed.p50, p99: fixed.p99, p999: fixed.p999, cpuUs: pids.length ? (fixedCpu * 1e6) / fixed.requests : NaN },
          });
          log(`round ${round + 1} ${c.name}: ${Math.round(max.rps)} req/s, p50 ${max.p50} µs, p99 ${max.p99} µs; at ${Math.round(fixed.rps)} req/s p50 ${fixed.p50} µs, p99 ${fixed.p99} µs`);
        } catch (err) {
          c.failures.push(`round ${round + 1}: ${err.message}`);
          log(`round ${round + 1} ${c.name}: failed: ${err.message}`);
        } finally {
          await proxy?.stop().catch(() => {});
        }
      }
    }
    await plane.stop();
    const versions = {
      node: process.version,
      nginx: tools.nginx.path ? firstLine(tools.nginx.path, ['-v']).replace(/^nginx version: (nginx\/)?/, '') : undefined,
      haproxy: tools.haproxy.path ? firstLine(tools.haproxy.path, ['-v']).replace(/^HAProxy version /, '').split(' ')[0] : undefined,
      loader: loader === 'wrk' ? firstLine(tools.wrk.path, ['-v']).split(' ').slice(0, 2).join(' ') : `autocannon ${JSON.parse(readFileSync(join(AUTOCANNON, '../package.json'), 'utf8')).version}`,
    };
    const loaderNote = tools.wrk.reason && `wrk: load from autocannon instead, ${tools.wrk.reason}`;
    return { options: o, loader, loaderNote, versions, contenders, startedAt, durationMs: Date.now() - startedAt };
  } finally {
    cleanup();
    process.off('exit', cleanup);
  }
}

// --- the report ----------------------------------------------------------------------------

const cores = (v) => (Number.isFinite(v) ? v.toFixed(2) : '—');

export function renderHttpPeers(report) {
  const { options: o, contenders, versions, loader } = report;
  const by = (key) => contenders.find((c) => c.key === key && c.rounds.length > 0);
  const direct = by('direct');
  const haproxy = by('haproxy');
  const naive = by('naive');
  const sidecar = by('sidecar');
  const cpus = os.cpus();
  const date = new Date(report.startedAt).toISOString().slice(0, 16).replace('T', ' ');
  const rowOf = (c) => {
    if (c.rounds.length === 0) return [c.name, c.skipped ?? `failed: ${c.failures[0] ?? '?'}`, ...Array(10).fill('')];
    const rps = stat(c.rounds, (r) => r.rps);
    const ratio = (ref) => (ref && Number.isFinite(rps.median) ? times(rps.median / stat(ref.rounds, (r) => r.rps).median) : '—');
    return [
      c.key === 'sidecar' ? `**${c.name}**` : c.name, int(rps.median), `${int(rps.min)} – ${int(rps.max)}`,
      us(stat(c.rounds, (r) => r.p50).median), us(stat(c.rounds, (r) => r.p99).median), us(stat(c.rounds, (r) => r.p999).median),
      us(stat(c.rounds, (r) => r.cpuUs).median), cores(stat(c.rounds, (r) => (r.rps * r.cpuUs) / 1e6).median), mib(stat(c.rounds, (r) => r.rssBytes).median), ratio(haproxy), ratio(naive),
      `${c.rounds.reduce((n, r) => n + r.errors, 0)}${c.failures.length ? ` (${c.failures.length} rounds failed)` : ''}`,
    ];
  };
  const fixedRow = (c) => {
    if (c.rounds.length === 0) return [c.name, c.skipped ?? 'failed', ...Array(6).fill('')];
    const added = (f) => {
      const s = stat(paired(c, direct, (r, d) => f(r.fixed) - f(d.fixed)), (x) => x);
      return c === direct ? '—' : `${us(s.median)} (${us(s.min)} – ${us(s.max)})`;
    };
    return [
      c.key === 'sidecar' ? `**${c.name}**` : c.name, int(stat(c.rounds, (r) => r.fixed.rps).median),
      us(stat(c.rounds, (r) => r.fixed.p50).median), us(stat(c.rounds, (r) => r.fixed.p99).median), us(stat(c.rounds, (r) => r.fixed.p999).median),
      added((f) => f.p50), added((f) => f.p99), us(stat(c.rounds, (r) => r.fixed.cpuUs).median),
    ];
  };

  const goals = [];
  if (sidecar) {
    const rps = (c) => stat(c.rounds, (r) => r.rps).median;
    const ratioGoal = (ref, key, refName, goal) => {
      if (!ref) return [`sidecar throughput ≥ ${goal}× ${refName}`, '—', '—', `not measured (${contenders.find((c) => c.key === key)?.skipped ?? `${refName} not measured`})`];
      const value = rps(sidecar) / rps(ref);
      const rounds = paired(sidecar, ref, (a, b) => a.rps / b.rps);
      return [`sidecar throughput ≥ ${goal}× ${refName}`, times(value), `${times(Math.min(...rounds))} – ${times(Math.max(...rounds))}`, verdict(value, rounds, (x) => x >= goal)];
    };
    goals.push(ratioGoal(haproxy, 'haproxy', 'HAProxy', GOALS.vsHaproxy), ratioGoal(naive, 'naive', 'the naive proxy', GOALS.vsNaive));
    for (const [label, field, goal] of [['p50', 'p50', GOALS.addedP50Us], ['p99', 'p99', GOALS.addedP99Us]]) {
      const rounds = paired(sidecar, direct, (r, d) => r.fixed[field] - d.fixed[field]);
      const s = stat(rounds, (x) => x);
      goals.push([`added latency at ${int(o.rate)} req/s, ${label}, over direct ≤ ${us(goal)}`, us(s.median), `${us(s.min)} – ${us(s.max)}`,
        loader === 'wrk' ? verdict(s.median, rounds, (x) => x <= goal) : 'not judged (autocannon: 1 ms latency resolution)']);
    }
    for (const [label, f] of [['at saturation (throughput run)', (r) => r.cpuUs], [`at ${int(o.rate)} req/s`, (r) => r.fixed.cpuUs]]) {
      const s = stat(sidecar.rounds, f);
      goals.push([`sidecar CPU per request ${label} ≤ ${GOALS.cpuUs} µs`, us(s.median), `${us(s.min)} – ${us(s.max)}`, verdict(s.median, sidecar.rounds.map(f), (x) => x <= GOALS.cpuUs)]);
    }
  }
  // The peers' own added latency, for scale next to the latency goals.
  const scale = [by('nginx'), haproxy].filter(Boolean).map((c) => {
    const added = (field) => us(stat(paired(c, direct, (r, d) => r.fixed[field] - d.fixed[field]), (x) => x).median);
    return `${c.name.split(' ')[0]} added ${added('p50')} p50 and ${added('p99')} p99`;
  });
  const table = (head, rows, left = [0]) => [head, head.map((_, i) => (left.includes(i) ? '---' : '---:')), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
  const notes = [report.loaderNote, ...contenders.flatMap((c) => [c.skipped, ...c.failures.map((f) => `${c.name} failed in ${f}`)])].filter(Boolean);

  return [
    `## ${TITLE}`,
    '',
    '<!-- bench/http-peers.mjs writes this section, up to the end marker; edit the script, not the numbers. -->',
    '',
    `\`node bench/http-peers.mjs\` (after \`pnpm run build\`; \`pnpm bench\` runs it too) on ${date} UTC · ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM · Linux ${os.release()} · Node ${versions.node} · nginx ${versions.nginx ?? '(skipped)'} · HAProxy ${versions.haproxy ?? '(skipped)'} · load: ${versions.loader} · took ${Math.round(report.durationMs / 1000)} s.`,
    '',
    `HTTP/1.1, keep-alive, ${CONNECTIONS} connections from ${loader === 'wrk' ? 'wrk (one thread)' : 'autocannon'} in its own process, 1 KiB responses from two Node backends (127.0.0.31 and .32, one process); every proxy balances over both, *direct* goes to one. ${o.rounds} alternating rounds per contender; each round starts a fresh proxy, ${o.warmup > 0 ? `warms it up for ${o.warmup} s, ` : ''}runs ${o.seconds} s flat out and then ${o.fixedSeconds} s at a fixed ${int(o.rate)} req/s (so the fixed-rate run sees a warm JIT). Medians over the rounds.`,
    '',
    ...(notes.length ? [...notes.map((n) => `- **${n}**`), ''] : []),
    `**Goals** (from the performance issue) for the sidecar: throughput ≥ ${GOALS.vsHaproxy}× HAProxy and ≥ ${GOALS.vsNaive}× the naive proxy; added latency at a fixed rate ≤ ${GOALS.addedP50Us} µs p50 and ≤ ${us(GOALS.addedP99Us)} p99 over direct; CPU ≤ ${GOALS.cpuUs} µs per request.`,
    '',
    ...(goals.length ? [table(['goal', 'measured (median)', 'rounds min – max', 'verdict'], goals, [0, 3]), ''] : ['The sidecar was not measured in this run.', '']),
    ...(scale.length && direct ? [`For scale, at the same fixed rate in this run: ${scale.join('; ')} over direct (medians of the rounds).`, ''] : []),
    `**Flat out** (${o.seconds} s per round):`,
    '',
    table(['contender', 'req/s', 'rounds min – max', 'p50', 'p99', 'p99.9', 'proxy CPU per request', 'proxy cores busy', 'proxy peak RSS', 'vs HAProxy', 'vs naive', 'errors'], contenders.map(rowOf)),
    '',
    `**Fixed rate**, ${int(o.rate)} req/s for ${o.fixedSeconds} s per round (added = contender − direct in the same round; median and min – max over rounds):`,
    '',
    table(['contender', 'req/s achieved', 'p50', 'p99', 'p99.9', 'added p50', 'added p99', 'proxy CPU per request'], contenders.map(fixedRow)),
    '',
    '#### How to read this',
    '',
    `- Everything shares the same ${cpus.length} cores: the load generator, the backends' Node process and the proxy. A proxy's throughput here is what is left once the load generator and the backends have had their share, so ratios of req/s between proxies are compressed towards 1 compared with a proxy on cores of its own; *proxy CPU per request* is each proxy's own cost and compares them more directly.`,
    '- *Proxy cores busy* = req/s × CPU per request. Every proxy here handles requests on one thread (an event loop or one worker; a Node process\'s GC threads count too), so one near 1.00 was at its own limit, and one well below it was held back by the shared cores (load generator, backends), not by itself.',
    '- *Proxy CPU per request*: utime + stime from `/proc/<pid>/stat` over the timed run, summed over the proxy\'s process tree (nginx: master + worker; all threads of each), ÷ requests served. `/proc` counts 10 ms ticks. *Peak RSS*: `VmHWM` from `/proc/<pid>/status`, summed over the same processes (pages nginx\'s master and worker share count twice), read at the end of the round; the Node processes\' include start-up.',
    '- Where the sidecar\'s time goes (`perf record` of the sidecar at saturation, 2026-11-23): ~45% in the node binary (V8 builtins — property-access inline caches, calls, write barriers, GC — and node\'s C++ glue), ~25% in the kernel (reads and writes on two loopback connections per request: the `writev` of the response to the client and the request\'s write to the endpoint alone are ~20 µs of the ~50 µs), ~22% in JIT-compiled JavaScript (ours and undici\'s). nginx and HAProxy make the same system calls and little else: 12–14 µs per request in all. What stands between the sidecar and 0.6× HAProxy is the runtime cost of a request in Node (~25 µs over the system calls, spread thin: no single function above ~3%); the undici upstream and fewer allocations per request took the sidecar from 92 to ~50 µs.',
    '- At a fixed rate each request pays its own wake-ups (epoll, scheduler, no batching of reads and writes), so CPU per request is about 3× the saturated figure for every proxy here (HAProxy 14 → 47 µs, the sidecar ~50 → ~155 µs in the run of 2026-11-23 20:36), and one extra loopback hop on this VM adds 100–170 µs at p50 even through nginx or HAProxy: the 80 µs goal is below what the hop itself costs here.',
    `- Configs: nginx \`worker_processes 1\`, \`upstream\` with \`keepalive 64\`, \`proxy_http_version 1.1\`, \`access_log off\`, \`keepalive_requests 1000000\` both ways; HAProxy \`nbthread 1\`, \`mode http\`, \`http-reuse always\`, \`balance roundrobin\`; the naive proxy is \`http.createServer\` + \`http.request\` with \`new http.Agent({ keepAlive: true })\`, piping bodies, round robin (its code is in \`bench/http-peers.mjs\`); the sidecar runs with \`OTEL_SDK_DISABLED=true\` (request metrics on), its per-service listener for \`web.demo:80\` fed by a control plane in files mode, as in *Tracing overhead*.`,
    loader === 'wrk'
      ? `- Latency is wrk's, from writing a request to reading its response, in µs. The fixed rate comes from wrk's Lua \`delay()\` handing out send slots every 1/${int(o.rate)} s across the ${CONNECTIONS} connections; wrk's timers tick in ms, so requests leave in small bunches each ms. Latency is not corrected for coordinated omission: a stall longer than the slack of ${CONNECTIONS} connections would delay sends rather than show up in full.`
      : '- Latency is autocannon\'s, in whole ms: too coarse for the µs goals. autocannon\'s `-R` sends each second\'s requests as fast as it can at the start of the second, so the fixed-rate run is bursty.',
    '- Rounds alternate contenders, so drift on the machine hits all of them; the spread of the rounds shows how much one figure can move: compare medians only when their spreads do not overlap much.',
  ].join('\n');
}

/** `pnpm bench`'s entry: run, write the section after "Tracing overhead", return the markdown. */
export async function httpPeersSuite({ track, log = () => {} } = {}) {
  const report = await runHttpPeers({ track, log });
  const section = renderHttpPeers(report);
  replaceSection(TITLE, section, 'Tracing overhead');
  return section;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const value = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const number = (name, fallback) => (value(name) === undefined ? fallback : Number(value(name)));
  const smoke = args.includes('--smoke');
  const options = smoke
    ? { rounds: 1, seconds: 1, fixedSeconds: 1, warmup: 0, rate: number('--rate', DEFAULTS.rate), only: value('--only') }
    : { rounds: number('--rounds', DEFAULTS.rounds), seconds: number('--seconds', DEFAULTS.seconds), fixedSeconds: number('--fixed-seconds', DEFAULTS.fixedSeconds), rate: number('--rate', DEFAULTS.rate), only: value('--only') };
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      console.error(`http-peers: ${signal}, cleaning up`);
      process.exit(signal === 'SIGINT' ? 130 : 143); // the 'exit' handlers kill the children
    });
  }
  const report = await runHttpPeers({ ...options, log: (line) => console.error(line) });
  const section = renderHttpPeers(report);
  console.log(section);
  if (!smoke && !args.includes('--no-write') && options.only === undefined) console.error(`wrote ${replaceSection(TITLE, section, 'Tracing overhead')}`);
  const failed = report.contenders.filter((c) => !c.skipped && (c.failures.length > 0 || c.rounds.some((r) => r.errors > 0)));
  if (smoke && failed.length > 0) {
    console.error(`http-peers --smoke: ${failed.map((c) => c.name).join(', ')} failed or had errors`);
    process.exitCode = 1;
  }
}
