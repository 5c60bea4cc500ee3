// The control-plane benchmarks: writes the "Control plane" section of BENCHMARKS.md.
//   1. Snapshot build, in-process (bench/snapshot-build.mjs): full translation + snapshot
//      (baseline) vs the incremental path after one EndpointSlice change.
//   2. Convergence (bench/convergence.mjs): the control-plane binary on a manifest directory,
//      N light subscribers in worker processes; initial sync, then single edits. Delta at every
//      N; state-of-the-world as the baseline at the small N only.
//   3. Churn (bench/churn.mjs): N delta subscribers under a steady rate of edits.
//
//   node bench/control-plane.mjs [--smoke] [--no-write]      (after pnpm run build)
// --smoke: a 50-Service world, a handful of subscribers, one edit, 3 s of churn; writes nothing
// and exits 1 unless every scenario produced its numbers (CI runs it so the scenarios cannot rot).
// Environment: SKEIN_BENCH_SUBSCRIBERS (default "100,1000,5000": delta runs),
// SKEIN_BENCH_SOTW (default "100": SotW baseline runs), SKEIN_BENCH_CHURN (default
// "1000@100,2000@30": subscribers@edits per second), SKEIN_BENCH_CHURN_SECONDS (default 30),
// SKEIN_BENCH_CPU_PROF=<dir> (a CPU profile of each control plane).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { churnRun } from './churn.mjs';
import { convergenceRun } from './convergence.mjs';
import { renderControlPlane, sec } from './control-plane-report.mjs';
import { WORLD, writeWorld } from './world.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const benchDir = fileURLToPath(new URL('.', import.meta.url));
const BEFORE = join(benchDir, 'before.json');
const EDITS_PER_RUN = 3;
/** Long enough to hold at least one of the files source's safety-net polls (every 5 s while watching). */
const IDLE_MS = 10_000;

const list = (name, fallback) => (process.env[name] ?? fallback).split(',').map((s) => s.trim()).filter(Boolean);
const positive = (name, fallback) => {
  const values = list(name, fallback).map(Number);
  if (values.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error(`${name}: expected a list of positive integers such as "${fallback}"`);
  return values;
};

/** The runs to do: from the environment, or the smoke set. */
function plan(smoke) {
  if (smoke) {
    return { world: { ...WORLD, services: 50 }, delta: [6], sotw: [4], churn: [{ subscribers: 6, ratePerS: 20 }], churnSeconds: 3, edits: 1, idleMs: 0 };
  }
  const churn = list('SKEIN_BENCH_CHURN', '1000@100,2000@30').map((entry) => {
    const [subscribers, ratePerS] = entry.split('@').map(Number);
    if (!(subscribers > 0 && ratePerS > 0)) throw new Error(`SKEIN_BENCH_CHURN: expected entries such as "1000@100", got "${entry}"`);
    return { subscribers, ratePerS };
  });
  return {
    world: WORLD, delta: positive('SKEIN_BENCH_SUBSCRIBERS', '100,1000,5000'), sotw: positive('SKEIN_BENCH_SOTW', '100'),
    churn, churnSeconds: Number(process.env.SKEIN_BENCH_CHURN_SECONDS ?? 30), edits: EDITS_PER_RUN, idleMs: IDLE_MS,
  };
}

/** Each subscriber is a socket on both sides; say so early when the descriptor limit cannot hold the largest run. */
function checkDescriptors(largest) {
  let limit = NaN;
  try {
    limit = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
  } catch { /* unknown */ }
  if (Number.isFinite(limit) && limit < largest + 1000) {
    throw new Error(`ulimit -n is ${limit}: the control plane needs a descriptor per subscriber (${largest} + ~100); raise it (ulimit -n ${largest + 1000}) or lower SKEIN_BENCH_SUBSCRIBERS`);
  }
}

function snapshotBuild(track) {
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

/** Runs every scenario; returns the raw report (no markdown). */
export async function runControlPlane({ track, log = () => {}, smoke = false }) {
  const startedAt = Date.now();
  const p = plan(smoke);
  checkDescriptors(Math.max(...p.delta, ...p.sotw, ...p.churn.map((c) => c.subscribers)));
  log('1. snapshot build (in-process)');
  const snapshot = await snapshotBuild(track);
  const tmp = mkdtempSync(join(os.tmpdir(), 'skein-bench-'));
  try {
    // Each run reads its directory recursively: the YAML and the JSON worlds live apart.
    const yamlDir = join(tmp, 'yaml');
    mkdirSync(yamlDir);
    writeWorld(yamlDir, p.world);
    const runs = [...p.delta.map((n) => ({ mode: 'delta', subscribers: n })), ...p.sotw.map((n) => ({ mode: 'sotw', subscribers: n }))]
      .sort((a, b) => a.subscribers - b.subscribers || (a.mode === 'delta' ? -1 : 1));
    const convergence = [];
    let firstService = 0;
    for (const { mode, subscribers } of runs) {
      log(`2. convergence: ${subscribers} ${mode} subscribers`);
      const run = await convergenceRun({
        dir: yamlDir, world: p.world, mode, subscribers, probes: mode === 'delta' ? 2 : 0, edits: p.edits,
        firstService: firstService++, idleMs: convergence.length === 0 ? p.idleMs : 0, track,
      });
      if (run.workerErrors.length > 0) log(`   subscriber errors: ${run.workerErrors.slice(0, 3).join('; ')}`);
      log(`   sync max ${sec(run.initialSync.max)}, RSS peak ${(run.rss.peakSync / 2 ** 20).toFixed(0)} MiB, edit end-to-end p99 ${Math.round(run.change.endToEnd.p99)} ms`);
      convergence.push(run);
    }
    // Churn edits 100 files a second: as JSON, so that the files source's YAML parser (~4 ms a
    // file, a third of a core at that rate) does not stand in for the API server's JSON events.
    const jsonDir = join(tmp, 'json');
    if (p.churn.length > 0) {
      mkdirSync(jsonDir);
      writeWorld(jsonDir, p.world, 'json');
    }
    const churn = [];
    for (const { subscribers, ratePerS } of p.churn) {
      log(`3. churn: ${subscribers} subscribers, ${ratePerS} edits/s for ${p.churnSeconds} s`);
      const run = await churnRun({ dir: jsonDir, world: p.world, format: 'json', subscribers, ratePerS, seconds: p.churnSeconds, firstService: 500 % p.world.services, track });
      if (run.workerErrors.length > 0) log(`   subscriber errors: ${run.workerErrors.slice(0, 3).join('; ')}`);
      log(`   ${run.edits} edits → ${run.snapshots} snapshots, delay p99 ${Math.round(run.delay.p99)} ms, RSS max ${(run.rss.max / 2 ** 20).toFixed(0)} MiB, ${run.cpu.coresMean.toFixed(2)} cores`);
      churn.push(run);
    }
    return { startedAt, durationMs: Date.now() - startedAt, editsPerRun: p.edits, snapshot, convergence, churn };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const BEGIN = '## Control plane';
const END = '<!-- end of control-plane section -->';

/** Replaces the control-plane section of BENCHMARKS.md (up to its end marker); returns the file. */
export function writeSection(section) {
  const file = join(root, 'BENCHMARKS.md');
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Skein benchmarks\n\n';
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

/**
 * `pnpm bench`'s entry: runs the scenarios, writes the section (and bench/.bench-out/last-run.json),
 * returns the markdown. `suiteStartedAt`: when the whole suite began, for its duration.
 */
export async function controlPlaneSuite({ track, log = () => {}, suiteStartedAt }) {
  const report = await runControlPlane({ track, log });
  if (suiteStartedAt !== undefined) report.suiteMs = Date.now() - suiteStartedAt;
  return publish(report, log);
}

/** Keeps the raw numbers in bench/.bench-out/last-run.json and writes the section (against bench/before.json). */
function publish(report, log) {
  const out = join(benchDir, '.bench-out');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'last-run.json'), JSON.stringify(report, null, 2) + '\n');
  const before = existsSync(BEFORE) ? JSON.parse(readFileSync(BEFORE, 'utf8')) : undefined;
  const markdown = renderControlPlane({ ...report, before });
  log(`wrote ${writeSection(markdown)}`);
  return markdown;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const smoke = args.includes('--smoke');
  const children = new Set();
  const track = (child) => {
    children.add(child);
    child.once('exit', () => children.delete(child));
  };
  const cleanup = () => {
    for (const child of children) {
      try { child.kill('SIGKILL'); } catch { /* gone */ }
    }
  };
  process.on('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(signal === 'SIGINT' ? 130 : 143));
  const startedAt = Date.now();
  const log = (text) => console.error(`[control-plane ${((Date.now() - startedAt) / 1000).toFixed(1).padStart(5)} s] ${text}`);
  try {
    const report = await runControlPlane({ track, log, smoke });
    const write = !smoke && !args.includes('--no-write');
    console.log(write ? publish(report, log) : renderControlPlane(report));
    const errors = [...report.convergence, ...report.churn].flatMap((r) => r.workerErrors);
    const numbers = [
      ...report.convergence.flatMap((r) => [r.initialSync.max, r.change.endToEnd.max, r.rss.after, r.bytes.initialGroup]),
      ...report.churn.flatMap((r) => [r.delay.p99, r.rss.max, r.pushes]),
    ];
    if (smoke && (errors.length > 0 || !numbers.every(Number.isFinite))) {
      console.error(`control-plane --smoke: ${errors.length} subscriber errors (${errors.slice(0, 3).join('; ')}); numbers: ${numbers.join(', ')}`);
      process.exitCode = 1;
    }
  } catch (err) {
    console.error(`control-plane bench failed: ${err.stack ?? err}`);
    process.exitCode = 1;
  } finally {
    cleanup();
  }
}
