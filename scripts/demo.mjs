// `pnpm demo`: Skein on one machine — the control plane on ordinary Kubernetes YAML, fake pods
// on 127.0.0.x in two zones, a sidecar, and a client. It copies deploy/examples to a temporary
// directory so the live edits never touch the repository. `pnpm demo --keep` leaves it running.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnProcess, startBackend } from '../packages/testkit/dist/index.js';
import { createMesh } from '../packages/sidecar/dist/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const keep = process.argv.includes('--keep');
const tty = process.stdout.isTTY;
const bold = (s) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s) => (tty ? `\x1b[2m${s}\x1b[0m` : s);
const step = (n, text) => console.log(`\n${bold(`${n}. ${text}`)}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cleanups = [];
const cleanup = async () => { for (const f of cleanups.splice(0).reverse()) await f().catch(() => undefined); };

/** One request through the sidecar's outbound proxy, as curl -x would send it. */
function viaProxy(proxyPort, url) {
  return new Promise((resolve) => {
    const target = new URL(url);
    const req = request({ host: '127.0.0.1', port: proxyPort, path: url, headers: { host: target.host } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => { body += d; }).on('end', () => resolve({ status: res.statusCode, body: body.trim() }));
    });
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
    req.end();
  });
}

async function main() {
  console.log(bold('Skein demo: a service mesh on one machine'));
  const dir = mkdtempSync(join(tmpdir(), 'skein-demo-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(root, 'deploy', 'examples'), dir, { recursive: true });

  step(1, 'Start fake pods on loopback addresses (deploy/examples/web.yaml, api.yaml)');
  const pods = [['web-a1', '127.0.0.11', 'zone-a'], ['web-a2', '127.0.0.12', 'zone-a'], ['web-b1', '127.0.0.13', 'zone-b'], ['api-1', '127.0.0.21', 'zone-a'], ['api-2', '127.0.0.22', 'zone-b']];
  for (const [name, ip, zone] of pods) {
    const backend = await startBackend(name, ip, 8080).catch((err) => {
      throw new Error(`cannot listen on ${ip}:8080 for pod ${name} (${err.message}); is another demo running?`);
    });
    cleanups.push(() => backend.close());
    console.log(`   pod ${name.padEnd(7)} ${ip}:8080  ${zone}`);
  }

  step(2, 'Start the control plane on the manifests, and a sidecar for a client pod in zone-a');
  const plane = await spawnProcess(join(root, 'packages/control-plane/dist/bin/control-plane.js'),
    ['--source', `files:${dir}`, '--listen-address', '127.0.0.1', '--grpc-port', '0', '--http-port', '0']);
  cleanups.push(() => plane.stop());
  const cp = { grpc: `127.0.0.1:${plane.listening.grpcPort}`, http: `http://127.0.0.1:${plane.listening.httpPort}` };
  const sidecar = await spawnProcess(join(root, 'packages/sidecar/dist/bin/sidecar.js'), [
    '--control-plane', cp.grpc, '--namespace', 'demo', '--pod-name', 'client', '--node-name', 'node-a', '--zone', 'zone-a',
    '--outbound-port', '0', '--admin-port', '0', '--admin-address', '127.0.0.1',
  ]);
  cleanups.push(() => sidecar.stop());
  const proxyPort = sidecar.listening.outboundPort;
  const admin = `http://127.0.0.1:${sidecar.listening.adminPort}`;
  for (let i = 0; i < 100 && (await fetch(`${admin}/ready`)).status !== 200; i++) await sleep(50);
  console.log(`   skein-control-plane --source files:${dir}   ${dim(`(gRPC ${cp.grpc}, HTTP ${cp.http})`)}`);
  console.log(`   skein-sidecar --control-plane ${cp.grpc}   ${dim(`(proxy 127.0.0.1:${proxyPort}, admin ${admin})`)}`);
  console.log(`   sidecar /ready -> ${(await fetch(`${admin}/ready`)).status}`);

  step(3, 'Any HTTP client with HTTP_PROXY reaches Services by name, balanced round robin');
  for (const host of ['web', 'web.demo', 'web.demo.svc.cluster.local', '10.96.0.10']) {
    const res = await viaProxy(proxyPort, `http://${host}/`);
    console.log(`   GET http://${host.padEnd(28)} -> ${res.status} from ${res.body}`);
  }
  const spread = {};
  for (let i = 0; i < 30; i++) { const { body } = await viaProxy(proxyPort, 'http://web.demo/'); spread[body] = (spread[body] ?? 0) + 1; }
  console.log(`   30 requests to web.demo: ${Object.entries(spread).map(([k, v]) => `${k}=${v}`).join(', ')}`);
  const api = await viaProxy(proxyPort, 'http://api.demo/');
  console.log(`   GET http://api.demo/ -> ${api.status} from ${api.body} ${dim('(api-2 is not ready, so api-1 serves)')}`);
  const missing = await viaProxy(proxyPort, 'http://nope.demo/');
  console.log(`   GET http://nope.demo/ -> ${missing.status}: ${missing.body}`);

  step(4, 'Edit a manifest live: delete Pod web-a2 from web.yaml');
  const webFile = join(dir, 'web.yaml');
  writeFileSync(webFile, readFileSync(webFile, 'utf8').split(/^---$/m).filter((d) => !/name: web-a2\b/.test(d)).join('---'));
  const started = Date.now();
  for (let i = 0; i < 100 && JSON.stringify((await (await fetch(`${admin}/clusters`)).json()).clusters).includes('127.0.0.12'); i++) await sleep(20);
  console.log(`   the sidecar dropped web-a2 ${Date.now() - started} ms after the write`);
  const after = {};
  for (let i = 0; i < 20; i++) { const { body } = await viaProxy(proxyPort, 'http://web.demo/'); after[body] = (after[body] ?? 0) + 1; }
  console.log(`   20 requests to web.demo: ${Object.entries(after).map(([k, v]) => `${k}=${v}`).join(', ')}`);

  step(5, 'A broken manifest is reported, and the last good state stays in force');
  writeFileSync(join(dir, 'broken.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: { name: broken, namespace: demo }\nspec: { ports: [{ port: 0 }] }\n');
  let problems = [];
  for (let i = 0; i < 60 && problems.length === 0; i++) { await sleep(50); problems = (await (await fetch(`${cp.http}/debug/problems`)).json()).problems; }
  for (const p of problems) console.log(`   problem: ${p.message}`);

  step(6, 'Library mode: the same brain in-process, no proxy hop');
  const mesh = createMesh({ controlPlane: cp.grpc, namespace: 'demo', identity: { podName: 'library-client' } });
  cleanups.push(() => mesh.close());
  await mesh.ready(5000);
  const lib = [];
  for (let i = 0; i < 4; i++) lib.push((await (await mesh.fetch('http://web.demo/')).text()).trim());
  console.log(`   mesh.fetch('http://web.demo/') x4 -> ${lib.join(', ')}`);

  step(7, 'Kill the control plane (SIGKILL) while requests flow: none fails');
  let ok = 0;
  let failed = 0;
  const load = (async () => {
    for (let i = 0; i < 100; i++) {
      const res = await viaProxy(proxyPort, 'http://web.demo/');
      if (res.status === 200) ok++; else failed++;
    }
  })();
  await sleep(20);
  await plane.stop('SIGKILL');
  await load;
  console.log(`   control plane killed; ${ok} requests succeeded, ${failed} failed (the sidecar keeps its last good config)`);

  step(8, 'Start the control plane again: the sidecar reconnects (skeinctl status)');
  const again = await spawnProcess(join(root, 'packages/control-plane/dist/bin/control-plane.js'), ['--source', `files:${dir}`, '--listen-address', '127.0.0.1',
    '--grpc-port', String(plane.listening.grpcPort), '--http-port', String(plane.listening.httpPort)]);
  cleanups.push(() => again.stop());
  const skeinctl = (...args) => new Promise((resolve) => {
    execFile(process.execPath, [join(root, 'packages/control-plane/dist/bin/skeinctl.js'), '--control-plane', cp.http, ...args], (err, stdout, stderr) => resolve(err ? stderr : stdout));
  });
  const synced = async () => /client\.demo.*SYNCED.*SYNCED/.test(await skeinctl('status'));
  for (let i = 0; i < 100 && !(await synced()); i++) await sleep(200);
  console.log((await skeinctl('status')).trimEnd().split('\n').map((l) => `   ${l}`).join('\n'));

  if (keep) {
    const ctl = `node packages/control-plane/dist/bin/skeinctl.js --control-plane ${cp.http}`;
    console.log(`\n${bold('Still running. Try:')}\n   curl -x http://127.0.0.1:${proxyPort} http://web.demo/\n   curl ${admin}/config_dump\n   curl ${admin}/clusters\n   curl '${admin}/explain?url=http://web.demo/'\n   curl -s ${admin}/metrics | grep skein_requests_total\n   ${ctl} status\n   ${ctl} config-dump client.demo\n   ${ctl} explain client.demo http://web.demo/\nCtrl-C stops everything.`);
    await new Promise((resolve) => process.once('SIGINT', resolve));
  }
  console.log(`\n${bold('Done.')} README.md shows how to run each piece yourself.`);
}

main().then(cleanup, async (err) => {
  console.error(`demo failed: ${err.message}`);
  await cleanup();
  process.exitCode = 1;
});
