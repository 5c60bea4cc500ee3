// CONNECT tunnels through the sidecar (issue 6: "CONNECT / TCP tunnel: ≥ 0.75× direct
// throughput"): HTTP/1.1 keep-alive requests for 1 KiB inside 32 tunnels opened with
// `CONNECT web.demo:80` on the sidecar's outbound port, against the same requests sent straight
// to one backend. Real processes on loopback; the load generator is bench/raw-load.mjs in its own
// process (wrk and autocannon cannot open a tunnel), the same code for both contenders, which
// alternate for --rounds rounds. Reports req/s, p50/p99/p99.9, the proxy's CPU per request; a bare node:net relay runs as the
// baseline of what any Node proxy pays to move the bytes.
//
//   node bench/tunnel.mjs [--seconds 5] [--rounds 4] [--no-write] [--smoke]
// Writes the "CONNECT tunnel" section of BENCHMARKS.md unless --no-write or --smoke.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, median, startBackends, startControlPlane, startSidecar } from './http-kit.mjs';
import { int, times, us } from './report-kit.mjs';
import { replaceSection } from './sections.mjs';

const args = process.argv.slice(2);
const SMOKE = args.includes('--smoke');
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const SECONDS = SMOKE ? 1 : option('--seconds', 5);
const ROUNDS = SMOKE ? 1 : option('--rounds', 4);
const CONNECTIONS = 32;
const GOAL = 0.75;
const LOAD = fileURLToPath(new URL('./raw-load.mjs', import.meta.url));

/** bench/raw-load.mjs in its own process; resolves with its JSON line. */
function rawLoad(host, port, seconds, connect) {
  const argv = [LOAD, '--host', host, '--port', String(port), '--seconds', String(seconds), '--connections', String(CONNECTIONS)];
  if (connect) argv.push('--connect', connect);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => { out += chunk; });
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`raw-load exited with ${code}`))));
  });
}

/**
 * The baseline: a bare node:net relay to one backend (pipe both ways, nothing else), in its own
 * process: the least any Node proxy pays per byte moved. Resolves with { child, port }.
 */
async function startRelay(children, backendPort) {
  const code = `
    const net = require('node:net');
    const server = net.createServer({ noDelay: true }, (client) => {
      const up = net.connect({ host: '127.0.0.31', port: ${backendPort}, noDelay: true });
      client.pipe(up); up.pipe(client);
      client.on('error', () => up.destroy()); up.on('error', () => client.destroy());
    });
    server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  const port = await new Promise((resolve, reject) => {
    child.stdout.once('data', (chunk) => resolve(Number(String(chunk))));
    child.once('exit', (c) => reject(new Error(`relay exited with ${c}`)));
  });
  return { child, port };
}

export async function runTunnel({ log = () => {} } = {}) {
  const children = new Set();
  const tmp = mkdtempSync(join(os.tmpdir(), 'skein-bench-tunnel-'));
  try {
    const { port } = await startBackends(children);
    const { plane, grpcAddress } = await startControlPlane(tmp, port);
    const relay = await startRelay(children, port);
    const rows = { 'direct (no proxy)': [], 'sidecar, CONNECT tunnel': [], 'baseline: bare node:net relay (pipe)': [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of Object.keys(rows)) {
        const sidecar = name.startsWith('sidecar') ? await startSidecar(grpcAddress, { OTEL_SDK_DISABLED: 'true' }) : undefined;
        try {
          const [host, target, connect] = sidecar ? ['127.0.0.1', sidecar.proc.listening.outboundPort, 'web.demo:80']
            : name.startsWith('baseline') ? ['127.0.0.1', relay.port, undefined] : ['127.0.0.31', port, undefined];
          if (!SMOKE) await rawLoad(host, target, 1, connect); // warm-up: JIT, connections
          const pid = sidecar?.proc.child.pid ?? (name.startsWith('baseline') ? relay.child.pid : undefined);
          const before = pid ? cpuSeconds(pid) : 0;
          const r = await rawLoad(host, target, SECONDS, connect);
          const cpu = pid ? cpuSeconds(pid) - before : NaN;
          rows[name].push({ ...r, cpuUsPerRequest: (cpu * 1e6) / r.requests });
          log(`round ${round + 1} ${name}: ${Math.round(r.rps)} req/s, p50 ${us(r.p50Us)}, p99 ${us(r.p99Us)}, errors ${r.errors}`);
        } finally {
          await sidecar?.proc.stop();
        }
      }
    }
    await plane.stop();
    return Object.entries(rows).map(([name, runs]) => ({
      name, rps: median(runs.map((r) => r.rps)), rpsMin: Math.min(...runs.map((r) => r.rps)), rpsMax: Math.max(...runs.map((r) => r.rps)),
      p50Us: median(runs.map((r) => r.p50Us)), p99Us: median(runs.map((r) => r.p99Us)), p999Us: median(runs.map((r) => r.p999Us)),
      errors: runs.reduce((n, r) => n + r.errors, 0), cpuUsPerRequest: median(runs.map((r) => r.cpuUsPerRequest)),
      ratios: runs.map((r, i) => r.rps / rows['direct (no proxy)'][i].rps),
    }));
  } finally {
    for (const child of children) child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  }
}

export function renderTunnel(rows) {
  const [direct, tunnel, relay] = rows;
  const ratio = tunnel.rps / direct.rps;
  const ratios = tunnel.ratios;
  return [
    '## CONNECT tunnel',
    '',
    `HTTP/1.1 keep-alive GETs for 1 KiB inside ${CONNECTIONS} tunnels (\`CONNECT web.demo:80\` on the sidecar's outbound port, balanced per tunnel over two backends) vs the same requests straight to one backend; load from \`bench/raw-load.mjs\` in its own process, ${ROUNDS} alternating rounds of ${SECONDS} s (medians). ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC. Regenerate: \`node bench/tunnel.mjs\` (after \`pnpm run build\`).`,
    '',
    '| contender | req/s | rounds min – max | p50 | p99 | p99.9 | proxy CPU per request | errors | vs direct |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.name} | ${int(r.rps)} | ${int(r.rpsMin)} – ${int(r.rpsMax)} | ${us(r.p50Us)} | ${us(r.p99Us)} | ${us(r.p999Us)} | ${Number.isFinite(r.cpuUsPerRequest) ? us(r.cpuUsPerRequest) : '—'} | ${r.errors} | ${r === direct ? '1×' : times(r.rps / direct.rps)} |`),
    '',
    `Tunnel throughput is **${times(ratio)} direct** (goal ≥ ${GOAL}×: ${ratio >= GOAL ? 'met' : 'not met'}; per round ${ratios.map((x) => times(x)).join(', ')}); the bare relay does ${times(relay.rps / direct.rps)} direct, the tunnel ${times(tunnel.rps / relay.rps)} the bare relay.`,
    '',
    '- The bare relay is the floor for a proxy written on node:net streams: the tunnel is measured against it to tell the sidecar\'s own cost from Node\'s.',
    '- After the CONNECT answer the sidecar only pipes bytes (node `net` sockets, `pipe`), so the cost per request is two extra socket reads and writes, in the kernel and in the sidecar\'s event loop; CPU per request divides the sidecar\'s utime + stime over the timed run by the requests served.',
    '- The load generator, the backends and the sidecar share the 2 cores: when the direct run saturates the generator and the backend, a tunnel\'s extra hop takes CPU they would have used, which is part of what the ratio shows.',
  ].join('\n');
}

/** `pnpm bench`'s entry: run, write the section, return the markdown. */
export async function tunnelSuite({ log = () => {} } = {}) {
  const section = renderTunnel(await runTunnel({ log }));
  replaceSection('CONNECT tunnel', section, 'HTTP/1.1 proxying');
  return section;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await runTunnel({ log: (line) => console.error(line) });
  const section = renderTunnel(rows);
  console.log(section);
  if (SMOKE && rows.some((r) => !(r.rps > 0) || r.errors > 0)) process.exit(1);
  if (!args.includes('--no-write') && !SMOKE) console.error(`wrote ${replaceSection('CONNECT tunnel', section, 'HTTP/1.1 proxying')}`);
}
