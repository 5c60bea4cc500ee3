// Scenario 2 helper: one child process holding many discovery subscribers, driven by
// bench/run.mjs over IPC. Each subscriber is its own gRPC channel (its own TCP connection,
// like one sidecar), subscribes to both resource types with wildcard, ACKs every response at
// once and records when each response arrived, tagged with the phase the parent announced.
//
// Messages in:  {type:'connect', address, delta, sotw, prefix, deadlineMs}
//               {type:'phase', name, need: [typeUrl...]}   -> {type:'phase-set', name}
//               {type:'report'} -> {type:'report', subscribers:[...]}   {type:'close'}
// Messages out: {type:'phase-done', name, at} once every subscriber has received, in the
//               current phase, a response of each type in `need`; {type:'error', message}.
import { DiscoveryTestClient } from '../packages/testkit/dist/index.js';
import { pb, TYPE_ENDPOINT_GROUP, TYPE_SERVICE } from '../packages/protocol/dist/index.js';

/** Subscribers per mode whose responses are re-encoded to count their bytes. */
const SIZE_SAMPLES = 2;

const subscribers = [];
let phase = { name: 'idle', need: [] };
let phaseDone = new Set();
let closing = false;

const send = (message) => process.send?.(message);

function phaseComplete(sub) {
  return phase.need.every((typeUrl) => sub.responses.some((r) => r.phase === phase.name && r.typeUrl === typeUrl));
}

function checkPhase(sub) {
  if (phase.need.length === 0 || phaseDone.has(sub) || !phaseComplete(sub)) return;
  phaseDone.add(sub);
  if (phaseDone.size === subscribers.length) send({ type: 'phase-done', name: phase.name, at: Date.now() });
}

async function receive(sub, deadlineMs) {
  for (;;) {
    let response;
    try {
      response = await sub.client.next(undefined, Math.max(1, deadlineMs - Date.now()));
    } catch (err) {
      if (!closing) send({ type: 'error', message: `${sub.id}: ${err.message}` });
      return;
    }
    const at = Date.now();
    sub.client.ack(response);
    sub.responses.push({
      phase: phase.name, at, typeUrl: response.typeUrl, resources: response.resources.length,
      removed: response.removedResources.length,
      bytes: sub.sampled ? pb.DiscoveryResponse.encode(response).finish().length : undefined,
    });
    checkPhase(sub);
  }
}

function connect({ address, delta, sotw, prefix, deadlineMs }) {
  const startedAt = Date.now();
  const modes = [...Array(delta).fill('delta'), ...Array(sotw).fill('sotw')];
  let sampled = { delta: 0, sotw: 0 };
  modes.forEach((mode, i) => {
    const id = `${prefix}-${mode}-${i}`;
    const zone = i % 2 === 0 ? 'zone-a' : 'zone-b';
    // A local subchannel pool: without it grpc-js shares one connection among same-target channels.
    const client = DiscoveryTestClient.connect(address, {
      id, podName: id, namespace: `ns-${i % 10}`, nodeName: `node-${i % 6}`,
      locality: { region: 'region-1', zone }, agentVersion: 'bench',
    }, { channelOptions: { 'grpc.use_local_subchannel_pool': 1 } });
    const sub = { id, mode, client, responses: [], sampled: sampled[mode]++ < SIZE_SAMPLES };
    subscribers.push(sub);
    const names = mode === 'delta' ? ['*'] : [];
    client.subscribe(TYPE_SERVICE, { mode, names });
    client.subscribe(TYPE_ENDPOINT_GROUP, { mode, names });
    void receive(sub, deadlineMs);
  });
  return startedAt;
}

process.on('message', (message) => {
  switch (message.type) {
    case 'phase':
      phase = { name: message.name, need: message.need };
      phaseDone = new Set();
      send({ type: 'phase-set', name: message.name });
      for (const sub of subscribers) checkPhase(sub);
      return;
    case 'connect':
      send({ type: 'connecting', at: connect(message) });
      return;
    case 'report':
      send({
        type: 'report',
        subscribers: subscribers.map(({ id, mode, responses }) => ({ id, mode, responses })),
      });
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
