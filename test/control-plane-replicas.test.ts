// Issue 7, identity and replicas, with real processes: two control-plane replicas on one fake
// API server (which also answers TokenReviews) behind one "Service" address (a TCP forwarder
// from the test kit, as kube-proxy would be). A sidecar with a valid projected token streams and
// learns its locality from its Node; a bad token and a token for another pod are refused; killing
// the replica the sidecar uses moves it to the other with no failed request and no resend.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, FakeKubeApi, startBackend, TcpService, type FakeBackend } from '@skein/testkit';
import { getJson, startControlPlaneProcess, type ControlPlaneProcess } from './support/control-plane.js';
import { scrape, sum } from './support/prometheus.js';
import { startSidecarProcess, type SidecarProcess } from './support/sidecar.js';

const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a', labels: { 'topology.kubernetes.io/zone': 'zone-a', 'topology.kubernetes.io/region': 'eu' } } };
const service = (name: string, ip: string) => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'demo' },
  spec: { clusterIP: ip, clusterIPs: [ip], selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] },
});
const slice = (name: string, backends: FakeBackend[]) => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
  metadata: { name: `${name}-1`, namespace: 'demo', labels: { 'kubernetes.io/service-name': name } },
  addressType: 'IPv4', ports: [{ name: 'http', port: backends[0]!.port, protocol: 'TCP' }],
  endpoints: backends.map((b) => ({ addresses: [b.address], conditions: { ready: true }, nodeName: 'node-a' })),
});

interface ConfigDump {
  discovery: { controlPlane: string | null; connected: boolean; lastError: string | null; received: { responses: number; resources: number; removed: number } };
}

/** GET `url` through the sidecar's HTTP proxy (absolute-form); resolves with the status, 0 on a connection error. */
function proxyGet(proxyPort: number, url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: proxyPort, path: url, headers: { host: new URL(url).host }, agent: false, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

describe('two control-plane replicas behind one address, with TokenReview authentication', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-replicas-'));
  const tokenFile = join(dir, 'token');
  let api: FakeKubeApi;
  let web: FakeBackend;
  let replicas: Record<string, ControlPlaneProcess>;
  let address: TcpService;
  let sidecar: SidecarProcess;

  beforeAll(async () => {
    web = await startBackend('web-1', '127.0.0.61');
    api = await FakeKubeApi.start();
    api.apply(node);
    api.apply(service('web', '10.96.7.10'));
    api.apply(slice('web', [web]));
    api.tokenReviews.set('client-1-token', { namespace: 'demo', serviceAccount: 'client', podName: 'client-1', nodeName: 'node-a' });
    writeFileSync(tokenFile, 'client-1-token\n');
    const kubeconfig = await api.writeKubeconfig(dir);
    const [a, b] = await Promise.all(['cp-a', 'cp-b'].map((id) => startControlPlaneProcess(['--source', 'kubernetes', '--kubeconfig', kubeconfig, '--id', id, '--webhook-port', '0'])));
    replicas = { 'cp-a': a!, 'cp-b': b! };
    await Promise.all(Object.values(replicas).map((r) => eventually(async () => (await fetch(`${r.httpUrl}/readyz`)).status === 200, 20_000)));
    address = await TcpService.start({ host: '127.0.0.1', backends: [a!.grpcAddress, b!.grpcAddress] });
  }, 60_000);

  afterAll(async () => {
    await sidecar?.stop();
    await address?.close();
    await Promise.all(Object.values(replicas ?? {}).map((r) => r.stop()));
    await api?.stop();
    await web?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('streams to a sidecar whose projected token proves its pod, which learns its zone and region from its Node', async () => {
    // --zone '' undoes the helper's --zone: the locality must come from node-a's labels.
    sidecar = await startSidecarProcess(['--control-plane', address.address, '--token-file', tokenFile, '--zone', '']);
    await eventually(async () => (await fetch(`${sidecar.admin}/ready`)).status === 200, 15_000);
    expect(await proxyGet(sidecar.listening.outboundPort as number, 'http://web.demo/')).toBe(200);
    expect((await getJson(`${sidecar.admin}/clusters`)).clusters).toMatchObject({ nodeName: 'node-a', zone: 'zone-a', region: 'eu' });
    const dump = await getJson<ConfigDump>(`${sidecar.admin}/config_dump`);
    expect(Object.keys(replicas)).toContain(dump.discovery.controlPlane);
    expect(api.tokenReviews.reviews).toContainEqual({ authenticated: true, audiences: ['skein'] });
    expect(JSON.stringify(sidecar.lines)).not.toContain('client-1-token');
  });

  it('refuses a bad token (UNAUTHENTICATED) and a valid token used by another pod (PERMISSION_DENIED); the sidecars keep retrying', async () => {
    const forged = await startSidecarProcess(['--control-plane', address.address, '--token', 'forged', '--pod-name', 'client-2']);
    const impostor = await startSidecarProcess(['--control-plane', address.address, '--token-file', tokenFile, '--pod-name', 'impostor']);
    try {
      const refusal = (line: Record<string, unknown>) => String(line.msg).startsWith('xds: the control plane refused this proxy\'s identity');
      const forgedLine = await forged.waitForLine(refusal);
      expect(forgedLine).toMatchObject({ level: 'error', error: 'UNAUTHENTICATED: the token is not valid: invalid bearer token' });
      const impostorLine = await impostor.waitForLine(refusal);
      expect(impostorLine.error).toBe('PERMISSION_DENIED: the token is for pod "demo/client-1", the node claims pod "demo/impostor"');
      // Retried with backoff: a token may become valid.
      await forged.waitForLine((line) => refusal(line) && line !== forgedLine);
      expect((await fetch(`${forged.admin}/ready`)).status).toBe(503);
      expect((await getJson<ConfigDump>(`${impostor.admin}/config_dump`)).discovery.lastError).toMatch(/^PERMISSION_DENIED: /);
      expect(JSON.stringify(forged.lines)).not.toContain('forged');

      const failures = async (reason: string) => {
        let n = 0;
        for (const r of Object.values(replicas)) n += sum((await scrape(r.httpUrl)).samples, 'skein_xds_auth_failures_total', { reason });
        return n;
      };
      expect(await failures('invalid-token')).toBeGreaterThanOrEqual(2);
      expect(await failures('pod-mismatch')).toBeGreaterThanOrEqual(1);
      const logged = Object.values(replicas).flatMap((r) => r.lines).find((l) => l.reason === 'pod-mismatch');
      expect(logged).toMatchObject({ level: 'warn', pod: 'demo/impostor', msg: expect.stringContaining('discovery stream refused for pod demo/impostor') });
      expect(JSON.stringify(Object.values(replicas).map((r) => r.lines))).not.toMatch(/forged|client-1-token/);
    } finally {
      await Promise.all([forged.stop(), impostor.stop()]);
    }
  });

  it('moves the sidecar to the other replica when its replica dies, with no failed request and nothing resent', async () => {
    const before = await getJson<ConfigDump>(`${sidecar.admin}/config_dump`);
    const dead = before.discovery.controlPlane!;
    const survivor = Object.keys(replicas).find((id) => id !== dead)!;
    const pushesBefore = sum((await scrape(replicas[survivor]!.httpUrl)).samples, 'skein_control_plane_pushes_total');

    // Requests through the sidecar all along: it serves its last good config while it reconnects.
    let running = true;
    const statuses: number[] = [];
    const traffic = (async () => {
      while (running) statuses.push(await proxyGet(sidecar.listening.outboundPort as number, 'http://web.demo/'));
    })();
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      await replicas[dead]!.stop('SIGKILL');
      await eventually(async () => {
        const dump = await getJson<ConfigDump>(`${sidecar.admin}/config_dump`);
        return dump.discovery.controlPlane === survivor && dump.discovery.connected;
      }, 15_000, 50);
      const proxies = await eventually(async () => {
        const { proxies: list } = await getJson<{ proxies: Array<{ node: { id: string; locality: { zone: string; region: string } }; types: Record<string, { synced: boolean }> }> }>(`${replicas[survivor]!.httpUrl}/debug/proxies`);
        const entry = list.find((p) => p.node.id === 'client-1.demo');
        return entry && Object.values(entry.types).every((t) => t.synced) ? entry : undefined;
      }, 10_000);
      // The resumed stream claimed the locality it had learned: nothing owed for it either.
      expect(proxies.node.locality).toEqual({ zone: 'zone-a', region: 'eu' });
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      running = false;
      await traffic;
    }
    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);

    // Both replicas version content alike, so the survivor found nothing the sidecar lacks.
    const after = await getJson<ConfigDump>(`${sidecar.admin}/config_dump`);
    expect(after.discovery.received).toEqual(before.discovery.received);
    expect(sum((await scrape(replicas[survivor]!.httpUrl)).samples, 'skein_control_plane_pushes_total')).toBe(pushesBefore);

    // And it serves from here on: a change arrives as that one resource.
    const second = await startBackend('web-2', '127.0.0.62', web.port);
    try {
      api.apply(slice('web', [web, second]));
      await eventually(async () => (await getJson<ConfigDump>(`${sidecar.admin}/config_dump`)).discovery.received.responses > before.discovery.received.responses);
      const changed = await getJson<ConfigDump>(`${sidecar.admin}/config_dump`);
      expect(changed.discovery.received.resources - before.discovery.received.resources).toBe(1);
    } finally {
      await second.close();
    }
  });
});
