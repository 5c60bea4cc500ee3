// `pnpm demo`: the control plane on ordinary Kubernetes YAML, a subscriber watching it, and
// live edits — a tour a newcomer can follow. It copies deploy/examples to a temporary
// directory, so the edits never touch the repository.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiscoveryTestClient, spawnProcess } from '../packages/testkit/dist/index.js';
import { decodeResourceBody, TYPE_ENDPOINT_GROUP, TYPE_SERVICE } from '../packages/protocol/dist/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const step = (n, text) => console.log(`\n${bold(`${n}. ${text}`)}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(join(tmpdir(), 'skein-demo-'));
cpSync(join(root, 'deploy', 'examples'), dir, { recursive: true });

function describeGroup(resource) {
  const decoded = decodeResourceBody(TYPE_ENDPOINT_GROUP, resource.body);
  if (!decoded.ok) return `  ${resource.name}: ${decoded.error}`;
  const rows = decoded.value.endpoints.map((e) =>
    `      ${e.address.padEnd(12)} port ${e.ports.map((p) => `${p.name || '-'}=${p.port}`).join(',').padEnd(10)} ` +
    `${(e.ready ? 'ready' : 'not ready').padEnd(10)} ${e.zone || '-'} ${e.pod ? `(pod ${e.pod})` : ''}`);
  return [`    ${resource.name}  version ${resource.version}`, ...rows].join('\n');
}

console.log(bold('Skein demo: control plane + a subscriber, on one machine'));
console.log(`Manifests (ordinary Kubernetes YAML) copied to ${dir}`);

step(1, 'Start the control plane on those files');
const plane = await spawnProcess(join(root, 'packages/control-plane/dist/bin/control-plane.js'), [
  '--source', `files:${dir}`, '--listen-address', '127.0.0.1', '--grpc-port', '0', '--http-port', '0',
], { waitFor: 'listening' });
const { grpcPort, httpPort } = plane.listening;
const http = `http://127.0.0.1:${httpPort}`;
console.log(`   skein-control-plane --source files:${dir} --grpc-port ${grpcPort} --http-port ${httpPort}`);
for (let i = 0; i < 100 && (await fetch(`${http}/readyz`)).status !== 200; i++) await sleep(50);
console.log(`   ${http}/readyz -> ${(await fetch(`${http}/readyz`)).status}`);

step(2, 'Subscribe like a sidecar (delta mode, every namespace) and print what arrives');
const client = await DiscoveryTestClient.connect(`127.0.0.1:${grpcPort}`, { id: 'demo-sidecar', podName: 'demo-client', namespace: 'demo', nodeName: 'node-a', locality: { zone: 'zone-a', region: 'region-1' } });
client.subscribe(TYPE_SERVICE, { mode: 'delta', names: ['*'] });
const services = await client.next(TYPE_SERVICE);
client.ack(services);
for (const r of services.resources) {
  const s = decodeResourceBody(TYPE_SERVICE, r.body).value;
  console.log(`    Service ${r.name.padEnd(12)} clusterIPs ${s.clusterIps.join(',') || '-'}  ports ${s.ports.map((p) => `${p.name || '-'}:${p.port}->${p.targetPortName || p.targetPortNumber || p.port}`).join(' ')}`);
}
client.subscribe(TYPE_ENDPOINT_GROUP, { mode: 'delta', names: ['*'] });
const groups = await client.next(TYPE_ENDPOINT_GROUP);
client.ack(groups);
console.log('   Endpoints (web\'s come from its Pods: the control plane plays the endpoint-slice controller):');
for (const r of groups.resources) console.log(describeGroup(r));

step(3, 'Edit a manifest: delete Pod web-a2 from web.yaml');
const webFile = join(dir, 'web.yaml');
const original = readFileSync(webFile, 'utf8');
const docs = original.split(/^---$/m).filter((d) => !/name: web-a2\b/.test(d));
const started = Date.now();
writeFileSync(webFile, docs.join('---'));
const delta = await client.next(TYPE_ENDPOINT_GROUP, 5000);
client.ack(delta);
console.log(`   A delta arrived ${Date.now() - started} ms later, carrying only what changed:`);
for (const r of delta.resources) console.log(describeGroup(r));

step(4, 'Write a broken manifest: it is reported, and nothing else changes');
writeFileSync(join(dir, 'broken.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: { name: broken, namespace: demo }\nspec: { ports: [{ port: 0 }] }\n');
let problems = [];
for (let i = 0; i < 60 && problems.length === 0; i++) {
  await sleep(50);
  problems = (await (await fetch(`${http}/debug/problems`)).json()).problems;
}
for (const p of problems) console.log(`   problem: ${p.message}`);
console.log(`   (also on the control plane's log, in ${http}/debug/problems and the skein_control_plane_input_problems_total metric)`);

step(5, 'The same snapshot over plain HTTP, for serverless functions');
const snap = await (await fetch(`${http}/v1/snapshot?namespace=demo`)).json();
console.log(`   curl '${http}/v1/snapshot?namespace=demo'  ->  version ${snap.version}, ${snap.services.length} services, ${snap.endpointGroups.length} endpoint groups`);
console.log(`   (send If-None-Match with that version and ?wait=30s to long-poll for the next change)`);

step(6, 'Who is connected: /debug/proxies');
const proxies = (await (await fetch(`${http}/debug/proxies`)).json()).proxies;
for (const p of proxies) console.log(`   ${p.node.id} (pod ${p.node.namespace}/${p.node.pod}): ${Object.entries(p.types).map(([t, s]) => `${t.split('.').pop()} acked ${s.ackedVersion || '-'}`).join(', ')}`);

client.close();
await plane.stop();
rmSync(dir, { recursive: true, force: true });
console.log(`\n${bold('Done.')} Run it yourself: node packages/control-plane/dist/bin/control-plane.js --source files:deploy/examples --listen-address 127.0.0.1`);
console.log('Then: curl localhost:15014/debug/services | curl localhost:15014/v1/snapshot. The sidecar comes next (see the issues).');
