// One child process holding many simulated subscribers (bench/light-client.mjs), driven by
// bench/convergence.mjs and bench/churn.mjs over IPC. Records when each response arrived,
// tagged with the phase the parent announced; in a churn phase, it records instead which
// EndpointGroup edit each delta push carried (compactly: thousands of pushes per subscriber).
//
// Messages in:  {type:'connect', address, delta, sotw, prefix}
//               {type:'phase', name, need: [typeUrl...], churn?: boolean}   -> {type:'phase-set', name}
//               {type:'report'} -> {type:'report', subscribers:[...]}
//               {type:'churn-report', edits: [[service, revision, writeAt]...]} -> {type:'churn-report', ...}
//               {type:'close'}
// Messages out: {type:'phase-done', name, at} once every subscriber has received, in the
//               current phase, a response of each type in `need`; {type:'error', message}.
import { TYPE_ENDPOINT_GROUP } from '../packages/protocol/dist/index.js';
import { groupAddresses, keepResources, subscribe } from './light-client.mjs';
import { editOf } from './world.mjs';

const subscribers = [];
let phase = { name: 'idle', need: [], churn: false };
let phaseDone = new Set();
let closing = false;
/** Churn receipts: subscriber index, service index, edit tag, arrival time; four numbers each. */
let receipts = new Float64Array(1 << 16);
let receiptCount = 0;

const send = (message) => process.send?.(message);

/** A phase is done when every subscriber has what it needs, or has failed for good (reported as an error). */
function checkPhase(sub) {
  if (phase.need.length === 0 || phaseDone.has(sub)) return;
  if (!sub.failed && !phase.need.every((typeUrl) => sub.seen.has(typeUrl))) return;
  phaseDone.add(sub);
  if (phaseDone.size === subscribers.length) send({ type: 'phase-done', name: phase.name, at: Date.now() });
}

function record(sub, index, response, at) {
  if (phase.churn) {
    sub.churn.responses++;
    sub.churn.bytes += response.bytes;
    sub.churn.lastAt = at;
    if (response.typeUrl !== TYPE_ENDPOINT_GROUP) return;
    for (const raw of response.raw ?? []) {
      const { name, addresses } = groupAddresses(raw);
      const edit = editOf(name, { endpoints: addresses.map((address) => ({ address })) });
      if (!edit) continue;
      if ((receiptCount + 1) * 4 > receipts.length) {
        const grown = new Float64Array(receipts.length * 2);
        grown.set(receipts);
        receipts = grown;
      }
      receipts.set([index, edit.service, edit.tag, at], receiptCount++ * 4);
    }
    return;
  }
  sub.responses.push({
    phase: phase.name, at, typeUrl: response.typeUrl, resources: response.resources, removed: response.removed, bytes: response.bytes,
  });
  sub.seen.add(response.typeUrl);
  checkPhase(sub);
}

function connect({ address, delta, sotw, prefix }) {
  const modes = [...Array(delta).fill('delta'), ...Array(sotw).fill('sotw')];
  modes.forEach((mode, i) => {
    const id = `${prefix}-${mode}-${i}`;
    const node = {
      id, podName: id, namespace: `ns-${i % 10}`, nodeName: `node-${i % 6}`,
      locality: { region: 'region-1', zone: i % 2 === 0 ? 'zone-a' : 'zone-b' }, agentVersion: 'bench',
    };
    const sub = { id, mode, responses: [], seen: new Set(), churn: { responses: 0, bytes: 0, lastAt: 0 }, retries: 0, failed: false };
    const index = subscribers.push(sub) - 1;
    sub.client = subscribe({
      address, node, mode,
      onResponse: (response, at) => record(sub, index, response, at),
      onRetry: () => sub.retries++,
      onEnd: (status) => {
        if (closing) return;
        sub.failed = true;
        send({ type: 'error', message: `${id}: stream ended: ${status.code} ${status.details}` });
        checkPhase(sub);
      },
    });
  });
}

/**
 * Per edit and subscriber, the delay from the edit's write to the first push carrying it, as a
 * histogram in whole milliseconds; edits a subscriber never saw are counted as missed.
 */
function churnReport(edits) {
  // Edits by service and tag, latest last: a receipt belongs to the latest such edit written before it.
  const byKey = new Map();
  for (const [service, revision, writeAt] of edits) {
    const key = `${service}:${editOf.tag(revision)}`;
    if (!byKey.has(key)) byKey.set(key, []);
    byKey.get(key).push({ writeAt, seen: new Set() });
  }
  const histogram = new Map();
  for (let r = 0; r < receiptCount; r++) {
    const [index, service, tag, at] = receipts.subarray(r * 4, r * 4 + 4);
    const candidates = byKey.get(`${service}:${tag}`);
    const edit = candidates?.findLast((e) => e.writeAt <= at);
    if (!edit || edit.seen.has(index)) continue;
    edit.seen.add(index);
    const ms = Math.round(at - edit.writeAt);
    histogram.set(ms, (histogram.get(ms) ?? 0) + 1);
  }
  let missed = 0;
  for (const list of byKey.values()) for (const e of list) missed += subscribers.length - e.seen.size;
  return {
    type: 'churn-report', histogram: [...histogram], missed,
    responses: subscribers.map((s) => s.churn.responses), bytes: subscribers.reduce((n, s) => n + s.churn.bytes, 0),
  };
}

process.on('message', (message) => {
  switch (message.type) {
    case 'phase':
      phase = { name: message.name, need: message.need, churn: message.churn === true };
      // Every push of a churn phase is looked into, whatever its size (it may carry many groups).
      keepResources(phase.churn ? Infinity : 64 * 1024);
      phaseDone = new Set();
      for (const sub of subscribers) sub.seen.clear();
      send({ type: 'phase-set', name: message.name });
      return;
    case 'connect':
      connect(message);
      return;
    case 'report':
      send({ type: 'report', subscribers: subscribers.map(({ id, mode, responses, retries, failed }) => ({ id, mode, responses, retries, failed })) });
      return;
    case 'churn-report':
      send(churnReport(message.edits));
      return;
    case 'close':
      closing = true;
      for (const sub of subscribers) sub.client.close();
      setTimeout(() => process.exit(0), 200).unref();
      return;
  }
});
// The parent going away (crash, Ctrl-C) must not leave this process behind.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
