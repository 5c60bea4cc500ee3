// skeinctl as a user runs it: the built binary against a real control plane (files mode) and a
// real sidecar, finding the sidecar's admin API by pod name through the address it reported.
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TYPE_SERVICE } from '@skein/protocol';
import { DiscoveryTestClient, eventually } from '@skein/testkit';
import { getJson, skeinctlBin } from './support/control-plane.js';
import { setUp, WebWorld } from './support/sidecar.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function skeinctl(controlPlane: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [skeinctlBin, '--control-plane', controlPlane, ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('skeinctl against a live control plane and sidecar', () => {
  const world = new WebWorld({ 'skein.io/load-balancer': 'ring-hash', 'skein.io/hash-key': 'header:x-user' });
  const { plane, sidecar } = setUp(world);
  const clients: DiscoveryTestClient[] = [];
  const ctl = (...args: string[]): Promise<Run> => skeinctl(plane().httpUrl, args);
  const adminAddress = (): string => sidecar().admin.replace('http://', '');

  beforeAll(async () => {
    // Proxies without an admin API (library mode), and one pod name in two namespaces.
    for (const [namespace, pod] of [['demo', 'library-app'], ['demo', 'twin'], ['prod', 'twin']] as const) {
      const client = DiscoveryTestClient.connect(plane().grpcAddress, { id: `${pod}.${namespace}`, podName: pod, namespace });
      client.subscribe(TYPE_SERVICE, { mode: 'delta' });
      clients.push(client);
    }
    await eventually(async () => (await getJson<{ proxies: unknown[] }>(`${plane().httpUrl}/debug/proxies`)).proxies.length === 4);
  });

  afterAll(() => {
    for (const client of clients) client.close();
  });

  it('status lists the sidecar with the admin address it reported', async () => {
    const json = await ctl('status', '--json');
    expect(json.code).toBe(0);
    const rows = JSON.parse(json.stdout) as Array<{ name: string; pod: string; adminAddress: string }>;
    expect(rows).toContainEqual(expect.objectContaining({ name: 'client-1.demo', pod: 'demo/client-1', adminAddress: adminAddress() }));
    expect(rows).toContainEqual(expect.objectContaining({ name: 'library-app.demo', adminAddress: '' }));
    const table = await ctl('status');
    expect(table.stdout).toMatch(new RegExp(`^client-1\\.demo\\s+demo/client-1\\s+node-a\\s+SYNCED .*\\s${adminAddress().replace(/\./g, '\\.')}$`, 'm'));
  });

  it.each(['client-1', 'demo/client-1', 'client-1.demo', 'admin address'])('config-dump %s prints the Services and endpoints the sidecar holds', async (target) => {
    const run = await ctl('config-dump', target === 'admin address' ? adminAddress() : target);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^PROXY\s+demo\/client-1 \(client-1\.demo\)/m);
    expect(run.stdout).toMatch(/^DISCOVERY\s+grpc 127\.0\.0\.1:\d+ connected/m);
    expect(run.stdout).toMatch(/^demo\/web\s+CLUSTER_IP\s+10\.96\.0\.10\s+80->http\/TCP\s+ring-hash\s+3\/3\s+[0-9a-f]{8}$/m);
    for (const ip of ['127.0.0.11', '127.0.0.12', '127.0.0.13']) expect(run.stdout).toMatch(new RegExp(`^demo/web\\s+${ip.replace(/\./g, '\\.')}\\s+http=\\d+\\s+ready`, 'm'));
  });

  it('config-dump --json prints the raw /config_dump', async () => {
    const run = await ctl('config-dump', 'client-1', '--json');
    expect(run.code).toBe(0);
    const dump = JSON.parse(run.stdout) as { identity: { adminAddress: string }; config: { services: Array<{ name: string }> } };
    expect(dump.identity.adminAddress).toBe(adminAddress());
    expect(dump.config.services.map((s) => s.name)).toEqual(['demo/web']);
  });

  it('explain prints the route, the locality tiers and the decision', async () => {
    const run = await ctl('explain', 'demo/client-1', 'http://web.demo/', '--header', 'x-user:bob', '--client', '10.9.9.9');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^MATCH\s+service-name: demo\/web/m);
    expect(run.stdout).toMatch(/^PICKER\s+ring-hash over 3 endpoints, hashKey type=header name=x-user$/m);
    expect(run.stdout).toMatch(/^PRIORITIES\s+PRIORITY/m);
    expect(run.stdout).toMatch(/^DECISION\n {2}endpoint\s+127\.0\.0\.1[1-3]:\d+\n {2}by\s+hash\n {2}client\s+10\.9\.9\.9\n {2}hashKey\s+source=header:x-user value=bob/m);
    const json = await ctl('explain', adminAddress(), 'http://web.demo/', '--header', 'x-user:bob', '--json');
    expect((JSON.parse(json.stdout) as { decision: { hashKey: { value: string } } }).decision.hashKey.value).toBe('bob');
  });

  it('fails with exit 1 and says why: unknown pod, no admin address, ambiguous name, admin unreachable', async () => {
    const unknown = await ctl('config-dump', 'nobody');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^skeinctl: no proxy of pod "nobody" is connected to the control plane/);
    const library = await ctl('explain', 'library-app', 'http://web.demo/');
    expect(library.code).toBe(1);
    expect(library.stderr).toContain('the proxy of pod demo/library-app reports no admin address');
    const twin = await ctl('config-dump', 'twin');
    expect(twin.code).toBe(1);
    expect(twin.stderr).toContain('pod "twin" is ambiguous: demo/twin, prod/twin');
    const down = await ctl('config-dump', `127.0.0.1:${await closedPort()}`);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^skeinctl: cannot reach the admin API at http:\/\/127\.0\.0\.1:\d+\/config_dump: .*ECONNREFUSED/);
  });
});
