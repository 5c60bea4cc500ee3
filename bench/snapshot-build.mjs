// Scenario 1, in-process: the cost of turning the ClusterState of the benchmark world into a
// published snapshot. Baseline: a full translation and snapshot from scratch. Measured
// against it: the incremental path the publisher takes after one EndpointSlice changes
// (takeChanges + updateMeshModel + buildSnapshot with the previous snapshot).
//
// Run by bench/run.mjs as `node --expose-gc bench/snapshot-build.mjs`; prints one JSON line.
import { performance } from 'node:perf_hooks';
import { ClusterState } from '../packages/control-plane/dist/model/cluster-state.js';
import { buildMeshModel, DEFAULT_MODEL_OPTIONS, updateMeshModel } from '../packages/control-plane/dist/model/translate.js';
import { buildSnapshot } from '../packages/control-plane/dist/snapshot/snapshot.js';
import { pb, TYPE_ENDPOINT_GROUP } from '../packages/protocol/dist/index.js';
import { summarize } from './stats.mjs';
import { sliceObject, WORLD, worldObjects } from './world.mjs';

const FULL_RUNS = 20;
const INCREMENTAL_RUNS = 100;
const WARMUP = 3;
/** Each loop also stops after this long, so a slow build cannot stall the suite. */
const LOOP_BUDGET_MS = 20_000;

if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
const heapUsed = () => {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
};

const options = DEFAULT_MODEL_OPTIONS;
const objects = worldObjects(WORLD);
const heapBefore = heapUsed();

// Load the state (what a source's initial list does), then the first full build.
const state = new ClusterState();
let t = performance.now();
for (const [kind, object] of objects) {
  const result = state.apply({ type: 'upsert', kind, object, origin: 'bench' });
  if (result.problems.length > 0) throw new Error(`world object refused: ${JSON.stringify(result.problems[0])}`);
}
const loadMs = performance.now() - t;
const heapState = heapUsed();
state.takeChanges();

let model = buildMeshModel(state, options);
let { snapshot, problems } = buildSnapshot(model, undefined, Date.now());
if (problems.length > 0) throw new Error(`snapshot problems: ${JSON.stringify(problems[0])}`);
const heapBuilt = heapUsed();
const resources = Object.fromEntries([...snapshot.resources].map(([type, byName]) => [type, byName.size]));
let encodedBytes = 0;
for (const byName of snapshot.resources.values()) for (const r of byName.values()) encodedBytes += r.encoded.length;

// What one EndpointGroup (the payload of a one-endpoint delta push) is made of.
const sample = snapshot.resources.get(TYPE_ENDPOINT_GROUP).values().next().value;
const decoded = pb.EndpointGroup.decode(sample.body);
const field = (length) => 1 + (length < 128 ? 1 : 2) + length; // tag, length, bytes
const endpointBytes = decoded.endpoints.map((e) => field(pb.Endpoint.encode(e).finish().length));
const portsBytes = (ports) => ports.reduce((n, p) => n + field(pb.EndpointPort.encode(p).finish().length), 0);
const portBytes = decoded.endpoints.map((e) => portsBytes(e.ports));
const anatomy = {
  resource: sample.encoded.length, body: sample.body.length, endpoints: decoded.endpoints.length,
  endpointsBytes: endpointBytes.reduce((a, b) => a + b, 0), portsBytes: portBytes.reduce((a, b) => a + b, 0),
  // Ports every endpoint has, written once on the group (EndpointGroup.shared_ports).
  sharedPortsBytes: portsBytes(decoded.sharedPorts),
  nameAndVersion: sample.encoded.length - field(sample.body.length),
};

// Baseline: everything from scratch.
const full = { totalMs: [], modelMs: [], snapshotMs: [] };
let loopStart = performance.now();
for (let run = 0; run < FULL_RUNS + WARMUP && performance.now() - loopStart < LOOP_BUDGET_MS; run++) {
  const t0 = performance.now();
  const m = buildMeshModel(state, options);
  const t1 = performance.now();
  buildSnapshot(m, undefined, Date.now());
  const t2 = performance.now();
  if (run < WARMUP) continue;
  full.modelMs.push(t1 - t0);
  full.snapshotMs.push(t2 - t1);
  full.totalMs.push(t2 - t0);
}

// Incremental: one EndpointSlice changes, then what SnapshotPublisher's build does.
const incremental = { totalMs: [], applyMs: [], modelMs: [], snapshotMs: [] };
let revision = 0;
loopStart = performance.now();
for (let run = 0; run < INCREMENTAL_RUNS + WARMUP && performance.now() - loopStart < LOOP_BUDGET_MS; run++) {
  const i = (run * 37) % WORLD.services;
  const slice = sliceObject(i, ++revision, WORLD);
  const t0 = performance.now();
  const applied = state.apply({ type: 'upsert', kind: 'EndpointSlice', object: slice, origin: 'bench' });
  const t1 = performance.now();
  const changes = state.takeChanges();
  model = updateMeshModel(model, state, changes, options);
  const t2 = performance.now();
  const built = buildSnapshot(model, snapshot, Date.now());
  const t3 = performance.now();
  if (!applied.changed || built.snapshot === snapshot) throw new Error('an edit did not produce a new snapshot');
  snapshot = built.snapshot;
  if (run < WARMUP) continue;
  incremental.applyMs.push(t1 - t0);
  incremental.modelMs.push(t2 - t1);
  incremental.snapshotMs.push(t3 - t2);
  incremental.totalMs.push(t3 - t1);
}
const heapAfterUpdates = heapUsed();

const summary = (samples) => Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)]));
process.stdout.write(JSON.stringify({
  world: WORLD,
  objects: objects.length,
  resources,
  encodedBytes,
  anatomy,
  loadMs,
  full: summary(full),
  incremental: summary(incremental),
  heap: {
    before: heapBefore,
    state: heapState - heapBefore,
    stateModelSnapshot: heapBuilt - heapBefore,
    modelSnapshot: heapBuilt - heapState,
    afterUpdates: heapAfterUpdates - heapBefore,
  },
}) + '\n');
