// The markdown of bench/grpc-library.mjs: its two BENCHMARKS.md sections, goals and verdicts.
import os from 'node:os';
import { int, mib, paired, stat, times, us, verdict } from './report-kit.mjs';

export const GRPC_TITLE = 'gRPC unary through the sidecar';
export const LIBRARY_TITLE = 'Library mode';
const GOALS = { grpcVsDirect: 0.6, libraryVsUndici: 0.95, libraryAddedP50Us: 10 };

const range = (s, f) => `${f(s.min)} – ${f(s.max)}`;
const table = (head, rows, left = [0]) => [head, head.map((_, i) => (left.includes(i) ? '---' : '---:')), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');

function ratioGoal(label, c, ref, goal) {
  if (!c?.rounds.length || !ref?.rounds.length) return [label, '—', '—', 'not measured'];
  const value = stat(c.rounds, (r) => r.rps).median / stat(ref.rounds, (r) => r.rps).median;
  const rounds = paired(c, ref, (a, b) => a.rps / b.rps);
  return [label, times(value), range(stat(rounds, (x) => x), times), verdict(value, rounds, (x) => x >= goal)];
}

const errorsOf = (c) => `${c.rounds.reduce((n, r) => n + r.errors, 0)}${c.failures.length ? ` (${c.failures.length} rounds failed)` : ''}`;
const machine = (report) => {
  const cpus = os.cpus();
  const date = new Date(report.startedAt).toISOString().slice(0, 16).replace('T', ' ');
  return `${date} UTC · ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM · Linux ${os.release()} · Node ${report.versions.node}`;
};
const failureNotes = (contenders) => contenders.flatMap((c) => c.failures.map((f) => `- **${c.name} failed in ${f}**`));

export function renderGrpc(report) {
  const { options: o, contenders } = report;
  const direct = contenders.find((c) => c.key === 'direct');
  const sidecar = contenders.find((c) => c.key === 'sidecar');
  const row = (c) => {
    if (c.rounds.length === 0) return [c.name, `failed: ${c.failures[0] ?? '?'}`, ...Array(8).fill('')];
    const rps = stat(c.rounds, (r) => r.rps);
    const vs = c === direct ? '1.00×' : times(rps.median / stat(direct?.rounds ?? [], (r) => r.rps).median);
    return [c.key === 'sidecar' ? `**${c.name}**` : c.name, int(rps.median), range(rps, int), us(stat(c.rounds, (r) => r.p50).median), us(stat(c.rounds, (r) => r.p99).median),
      us(stat(c.rounds, (r) => r.proxyCpuUs).median), mib(stat(c.rounds, (r) => r.rssBytes).median), us(stat(c.rounds, (r) => r.cpuUs).median), vs, errorsOf(c)];
  };
  const added = (field) => stat(paired(sidecar ?? { rounds: [] }, direct, (a, b) => a[field] - b[field]), (x) => x);
  return [
    `## ${GRPC_TITLE}`,
    '',
    '<!-- bench/grpc-library.mjs writes this section, up to the end marker; edit the script, not the numbers. -->',
    '',
    `\`node bench/grpc-library.mjs --only grpc\` (after \`pnpm run build\`; \`pnpm bench\` runs it too) on ${machine(report)} · @grpc/grpc-js ${report.versions.grpcJs} · took ${Math.round(report.durationMs / 1000)} s.`,
    '',
    `gRPC unary calls echoing 64 bytes (a hand-made service definition with raw-buffer serializers, so no protobuf work) to two grpc-js servers in one process (127.0.0.41 and .42). The load is a grpc-js client (one channel) in its own process keeping ${o.concurrency} calls in flight. *Direct*: the channel goes to one server. *Sidecar*: it goes to the sidecar's per-service listener for \`echo.demo:50051\` (\`appProtocol: kubernetes.io/h2c\`, h2c by prior knowledge), which balances per call over both servers; \`OTEL_SDK_DISABLED=true\` (metrics on). ${o.rounds} alternating rounds; each starts a fresh sidecar and load process, warms up for ${o.warmup} s and measures ${o.seconds} s. Medians over the rounds.`,
    '',
    ...failureNotes(contenders),
    `**Goal** (from the performance issue): calls/s through the sidecar ≥ ${GOALS.grpcVsDirect}× direct grpc-js.`,
    '',
    table(['goal', 'measured (median)', 'rounds min – max', 'verdict'], [ratioGoal(`sidecar calls/s ≥ ${GOALS.grpcVsDirect}× direct`, sidecar, direct, GOALS.grpcVsDirect)], [0, 3]),
    '',
    table(['contender', 'calls/s', 'rounds min – max', 'p50', 'p99', 'sidecar CPU per call', 'sidecar peak RSS', 'client CPU per call', 'vs direct', 'errors'], contenders.map(row)),
    '',
    sidecar?.rounds.length && direct?.rounds.length ? `Latency added by the sidecar at this concurrency (sidecar − direct in the same round, median of rounds): p50 ${us(added('p50').median)}, p99 ${us(added('p99').median)}. This is latency under saturation with ${o.concurrency} calls queued, not the cost of one hop at low load.` : '',
    '',
    '#### How to read this',
    '',
    `- Everything shares the same ${os.cpus().length} cores: the grpc-js client, the servers' process and the sidecar. Direct runs two processes (client, servers), the sidecar run three, and in Node the grpc-js client itself is expensive per call, so a ratio here says what is left for the sidecar after the others have had their share, not what it could do on a core of its own; *sidecar CPU per call* is its own cost.`,
    '- *Sidecar CPU per call*: utime + stime of the sidecar from `/proc/<pid>/stat` (10 ms ticks) between the load process starting its timed run and its exit, ÷ calls. *Client CPU per call*: `process.cpuUsage()` of the load process over the timed run. *Peak RSS*: `VmHWM` of the sidecar at the end of the round, including start-up.',
    '- Latency is the client\'s, per call, from issuing it to its callback (`performance.now()`), p50 and p99 over all calls of the timed run.',
    '- Rounds alternate contenders, so drift on the machine hits both; compare medians only when the rounds\' spreads do not overlap much.',
  ].join('\n');
}

export function renderLibrary(report) {
  const { options: o, contenders } = report;
  const by = (key) => contenders.find((c) => c.key === key);
  const row = (c) => {
    if (c.rounds.length === 0) return [c.name, `failed: ${c.failures[0] ?? '?'}`, ...Array(11).fill('')];
    const ref = by(c.ref);
    const rps = stat(c.rounds, (r) => r.rps);
    const addedP50 = stat(paired(c, ref, (a, b) => a.p50 - b.p50), (x) => x);
    const addedSerial = stat(paired(c, ref, (a, b) => a.serial.p50 - b.serial.p50), (x) => x);
    return [c.ref === c.key ? c.name : `**${c.name}**`, int(rps.median), range(rps, int), us(stat(c.rounds, (r) => r.p50).median), us(stat(c.rounds, (r) => r.p99).median),
      us(stat(c.rounds, (r) => r.cpuUs).median), c === ref ? '1.00×' : times(rps.median / stat(ref?.rounds ?? [], (r) => r.rps).median),
      c === ref ? '—' : `${us(addedP50.median)} (${range(addedP50, us)})`,
      int(stat(c.rounds, (r) => r.serial.rps).median), us(stat(c.rounds, (r) => r.serial.p50).median), us(stat(c.rounds, (r) => r.serial.p99).median),
      c === ref ? '—' : `${us(addedSerial.median)} (${range(addedSerial, us)})`, errorsOf(c)];
  };
  const goals = [];
  for (const [meshKey, refKey, what] of [['mesh-dispatcher', 'undici-request', '`mesh.dispatcher`'], ['mesh-fetch', 'undici-fetch', '`mesh.fetch`']]) {
    const c = by(meshKey);
    const ref = by(refKey);
    goals.push(ratioGoal(`${what} throughput ≥ ${GOALS.libraryVsUndici}× plain undici`, c, ref, GOALS.libraryVsUndici));
    for (const [where, f] of [['1 request in flight', (r) => r.serial.p50], [`${o.concurrency} in flight (saturated)`, (r) => r.p50]]) {
      const rounds = c?.rounds.length && ref?.rounds.length ? paired(c, ref, (a, b) => f(a) - f(b)) : [];
      const s = stat(rounds, (x) => x);
      goals.push([`${what} added p50 ≤ ${GOALS.libraryAddedP50Us} µs, ${where}`, us(s.median), range(s, us), verdict(s.median, rounds, (x) => x <= GOALS.libraryAddedP50Us)]);
    }
  }
  return [
    `## ${LIBRARY_TITLE}`,
    '',
    '<!-- bench/grpc-library.mjs writes this section, up to the end marker; edit the script, not the numbers. -->',
    '',
    `\`node bench/grpc-library.mjs --only library\` (after \`pnpm run build\`; \`pnpm bench\` runs it too) on ${machine(report)} · undici ${report.versions.undici} · took ${Math.round(report.durationMs / 1000)} s.`,
    '',
    `HTTP/1.1 GETs of 1 KiB from the two Node backends (127.0.0.31 and .32, one process, as in *HTTP/1.1 proxying*), made in-process by ${o.concurrency} concurrent request loops in one load process. Plain undici goes round robin over the two backends' URLs through one \`Agent\`; library mode asks for \`http://web.demo/\` and lets \`createMesh({ controlPlane })\` (a real control plane in files mode, the sidecar's undici) pick the endpoint. Each loop reads the whole body before its next request. ${o.rounds} alternating rounds; each starts a fresh load process, waits for \`mesh.ready()\` where it applies, warms up for ${o.warmup} s, measures ${o.seconds} s with ${o.concurrency} loops (flat out) and then ${o.serialSeconds} s with one loop (one request in flight: the latency of one request without queueing). Medians over the rounds; *added p50* and ratios are against the plain-undici contender of the same API in the same round.`,
    '',
    ...failureNotes(contenders),
    `**Goals** (from the performance issue): library mode throughput ≥ ${GOALS.libraryVsUndici}× plain undici and ≤ ${GOALS.libraryAddedP50Us} µs added p50.`,
    '',
    table(['goal', 'measured (median)', 'rounds min – max', 'verdict'], goals, [0, 3]),
    '',
    table(['contender', 'req/s', 'rounds min – max', 'p50', 'p99', 'load CPU per request', 'vs plain undici', 'added p50 (rounds min – max)', '1 in flight: req/s', 'p50', 'p99', 'added p50 (rounds min – max)', 'errors'], contenders.map(row)),
    '',
    '#### How to read this',
    '',
    `- The load process and the backends' process share the same ${os.cpus().length} cores, and the load process is one event loop: its throughput is set by its own CPU per request, so *load CPU per request* (\`process.cpuUsage()\` over the timed run ÷ requests) is the cost library mode adds to an app, and the ratio of req/s is the same cost seen from outside.`,
    `- Latency is per request, from calling \`request()\`/\`fetch()\` to having read the body (\`performance.now()\`), with ${o.concurrency} requests in flight it is at saturation, so that *added p50* includes queueing behind the other loops' extra CPU (about ${o.concurrency} × the added CPU per request), not only the time of one pick; with one request in flight it is the added time of one request. *Added p50* is the difference of the two contenders' p50 in the same round. Timer resolution and scheduling noise on a shared 2-core machine are a few µs, the size of the goal, so read the 1-in-flight figure with its rounds' spread.`,
    '- Rounds alternate contenders, so drift on the machine hits all of them; compare medians only when the rounds\' spreads do not overlap much.',
  ].join('\n');
}
