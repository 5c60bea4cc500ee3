// `pnpm bench`: the whole benchmark suite. Runs after `pnpm run build` and imports the built
// dist files. Each part writes its own section of BENCHMARKS.md (the other sections stay), and
// each can run alone with `node bench/<script>.mjs`:
//
//   0. Pick microbenchmark (bench/pick.mjs, ~10 s): the "Pick" section.
//   0b. HTTP/1.1 through the sidecar with tracing on and off (bench/http-proxy.mjs, ~2 min):
//      the "Tracing overhead" section.
//   0c. HTTP/1.1 proxying: the sidecar next to nginx, HAProxy and a naive Node proxy
//      (bench/http-peers.mjs, ~3.5 min; installs nginx-light, haproxy and wrk with apt-get
//      when missing): the "HTTP/1.1 proxying" section.
//   0d. gRPC unary through the sidecar's h2c listener vs direct grpc-js, and library mode
//      (mesh.dispatcher, mesh.fetch) vs plain undici (bench/grpc-library.mjs, ~3 min): the
//      "gRPC unary through the sidecar" and "Library mode" sections.
//   0e. CONNECT tunnels through the sidecar vs direct and a bare node:net relay
//      (bench/tunnel.mjs, ~1 min): the "CONNECT tunnel" section.
//   0f. Sidecar memory with the 1,000-Service world loaded, idle and under load, three heap
//      settings (bench/sidecar-memory.mjs, ~1.5 min): the "Sidecar memory" section.
//   1-3. The control plane (bench/control-plane.mjs, ~6 min): snapshot build; convergence with
//      100, 1,000 and 5,000 light subscribers in worker processes (SotW baseline at 100);
//      churn at 1,000 × 100 edits/s and 2,000 × 30 edits/s. Raw numbers of the last run go to
//      bench/.bench-out/last-run.json (git-ignored); when bench/before.json exists (an earlier
//      run's raw numbers, plus a `label`), the section opens with a before/after table.
//
// Environment: see bench/control-plane.mjs (SKEIN_BENCH_SUBSCRIBERS, SKEIN_BENCH_SOTW,
// SKEIN_BENCH_CHURN, SKEIN_BENCH_CHURN_SECONDS, SKEIN_BENCH_CPU_PROF).
import { controlPlaneSuite } from './control-plane.mjs';
import { grpcLibrarySuite } from './grpc-library.mjs';
import { httpPeersSuite } from './http-peers.mjs';
import { httpProxySuite } from './http-proxy.mjs';
import { pickSuite } from './pick.mjs';
import { sidecarMemorySuite } from './sidecar-memory.mjs';
import { tunnelSuite } from './tunnel.mjs';

const startedAt = Date.now();
/** The whole suite gives up after this: a hang must not outlive CI's patience. */
const SUITE_LIMIT_MS = 19 * 60_000;

// --- cleanup: child processes go away whatever happens -------------------------------------
const children = new Set();
const track = (child) => {
  children.add(child);
  child.once('exit', () => children.delete(child));
};
function cleanup() {
  for (const child of children) {
    try { child.kill('SIGKILL'); } catch { /* gone */ }
  }
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

async function main() {
  log('0. pick microbenchmark (10,000 endpoints, child process per picker)');
  await pickSuite({ track, log });

  log('0b. HTTP/1.1 through the sidecar: direct, tracing off, tracing on (~2 min)');
  await httpProxySuite({ log });

  log('0c. HTTP/1.1 proxying: direct, sidecar, nginx, HAProxy, naive Node proxy (~3.5 min)');
  await httpPeersSuite({ track, log });

  log('0d. gRPC unary through the sidecar vs direct grpc-js; library mode vs plain undici (~3 min)');
  await grpcLibrarySuite({ track, log });

  log('0e. CONNECT tunnels: direct, sidecar tunnel, bare node:net relay (~1 min)');
  await tunnelSuite({ log });

  log('0f. sidecar memory: 1,000 Services loaded, idle and under load (~1.5 min)');
  await sidecarMemorySuite({ log });

  // Last, so that its section can give the whole suite's duration.
  log('1-3. control plane: snapshot build, convergence, churn (~6 min)');
  console.log(await controlPlaneSuite({ track, log, suiteStartedAt: startedAt }));
}

try {
  await main();
} catch (err) {
  console.error(`bench failed: ${err.stack ?? err}`);
  process.exitCode = 1;
} finally {
  cleanup();
}
