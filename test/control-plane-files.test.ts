// The control plane as a real process on a watched manifest directory, with real gRPC
// subscribers on loopback.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscoveryTestClient, eventually } from '@skein/testkit';
import { decodeResourceBody, TYPE_ENDPOINT_GROUP, TYPE_SERVICE, type DiscoveryResponse } from '@skein/protocol';
import {
  apiServiceYaml, getJson, ManifestDir, nodesYaml, podYaml, skeinctlBin, startControlPlaneProcess, webServiceYaml,
  type ControlPlaneProcess,
} from './support/control-plane.js';

const node = { id: 'sidecar-1', podName: 'client-1', namespace: 'demo', nodeName: 'node-a', locality: { zone: 'zone-a', region: 'region-1' } };

function endpointsOf(response: DiscoveryResponse, name: string): string[] {
  const resource = response.resources.find((r) => r.name === name);
  if (!resource) return [];
  const decoded = decodeResourceBody(TYPE_ENDPOINT_GROUP, resource.body!);
  if (!decoded.ok) throw new Error(decoded.error);
  return decoded.value.endpoints.map((e) => `${e.address}:${(e.ports ?? []).map((p) => p.port).join(',')}${e.ready ? '' : ' (not ready)'}`);
}

describe('control plane with --source files', () => {
  const dir = new ManifestDir();
  let plane: ControlPlaneProcess;
  const clients: DiscoveryTestClient[] = [];
  const connect = async (): Promise<DiscoveryTestClient> => {
    const client = await DiscoveryTestClient.connect(plane.grpcAddress, node);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    dir.write('nodes.yaml', nodesYaml);
    dir.write('web.yaml', webServiceYaml + '---' + podYaml('web-a1', '127.0.0.11', 'node-a') + '---' + podYaml('web-a2', '127.0.0.12', 'node-a') + '---' + podYaml('web-b1', '127.0.0.13', 'node-b'));
    dir.write('api.yaml', apiServiceYaml);
    plane = await startControlPlaneProcess(['--source', `files:${dir.path}`]);
    await eventually(async () => (await fetch(`${plane.httpUrl}/readyz`)).status === 200);
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await plane?.stop();
    dir.cleanup();
  });

  it('streams every Service and its endpoints to a delta subscriber', async () => {
    const client = await connect();
    client.subscribe(TYPE_SERVICE, { mode: 'delta', names: ['*'] });
    const services = await client.next(TYPE_SERVICE);
    expect(services.resources.map((r) => r.name).sort()).toEqual(['demo/api', 'demo/web']);
    client.ack(services);
    client.subscribe(TYPE_ENDPOINT_GROUP, { mode: 'delta', names: ['*'] });
    const groups = await client.next(TYPE_ENDPOINT_GROUP);
    expect(endpointsOf(groups, 'demo/web')).toEqual(['127.0.0.11:8080', '127.0.0.12:8080', '127.0.0.13:8080']);
    expect(endpointsOf(groups, 'demo/api')).toEqual(['127.0.0.21:8080', '127.0.0.22:8080 (not ready)']);
    const web = decodeResourceBody(TYPE_ENDPOINT_GROUP, groups.resources.find((r) => r.name === 'demo/web')!.body!);
    expect(web.ok && web.value.endpoints.map((e) => [e.zone, e.region, e.nodeName, e.pod])).toEqual([
      ['zone-a', 'region-1', 'node-a', 'demo/web-a1'], ['zone-a', 'region-1', 'node-a', 'demo/web-a2'], ['zone-b', 'region-1', 'node-b', 'demo/web-b1'],
    ]);
    client.ack(groups);
  });

  it('sends an edit as a delta carrying only the changed resource', async () => {
    const client = await connect();
    client.subscribe(TYPE_ENDPOINT_GROUP, { mode: 'delta', names: ['*'] });
    client.ack(await client.next(TYPE_ENDPOINT_GROUP));
    dir.write('web.yaml', webServiceYaml + '---' + podYaml('web-a1', '127.0.0.11', 'node-a') + '---' + podYaml('web-b1', '127.0.0.13', 'node-b'));
    const delta = await client.next(TYPE_ENDPOINT_GROUP);
    expect(delta.resources.map((r) => r.name)).toEqual(['demo/web']);
    expect(endpointsOf(delta, 'demo/web')).toEqual(['127.0.0.11:8080', '127.0.0.13:8080']);
    client.ack(delta);
  });

  it('gives a state-of-the-world subscriber the full set, scoped to what it asks for', async () => {
    const client = await connect();
    client.subscribe(TYPE_SERVICE, { mode: 'sotw', names: ['demo/web'] });
    const response = await client.next(TYPE_SERVICE);
    expect(response.resources.map((r) => r.name)).toEqual(['demo/web']);
    expect(response.versionInfo).not.toBe('');
    client.ack(response);
  });

  it('shows a NACK in /debug/proxies and as NACKED in skeinctl status', async () => {
    const client = await connect();
    client.subscribe(TYPE_SERVICE, { mode: 'delta', names: ['demo/api'] });
    const response = await client.next(TYPE_SERVICE);
    client.nack(response, 'test client rejects demo/api', [{ name: 'demo/api', message: 'unsupported field' }]);
    const proxies = await eventually(async () => {
      const body = await getJson<{ proxies: Array<{ node: { id: string }; types: Record<string, { lastNack?: { message: string } }> }> }>(`${plane.httpUrl}/debug/proxies`);
      return body.proxies.find((p) => p.types[TYPE_SERVICE]?.lastNack?.message === 'test client rejects demo/api');
    });
    expect(proxies.node.id).toBe('sidecar-1');
    const status = execFileSync(process.execPath, [skeinctlBin, 'status', '--control-plane', plane.httpUrl], { encoding: 'utf8' });
    expect(status).toMatch(/^sidecar-1\s+demo\/client-1\s+node-a\s+NACKED\s+NOT SENT/m);
    expect(status).toContain('NACK: test client rejects demo/api');
  });

  it('lists Services with skeinctl services', () => {
    const out = execFileSync(process.execPath, [skeinctlBin, 'services', '--control-plane', plane.httpUrl], { encoding: 'utf8' });
    expect(out).toMatch(/^demo\s+api\s+CLUSTER_IP\s+10\.96\.0\.20\s+80\/TCP\s+1\/2/m);
  });

  it('on reconnect with versions, sends only what changed', async () => {
    const first = await connect();
    first.subscribe(TYPE_ENDPOINT_GROUP, { mode: 'delta', names: ['*'] });
    const initial = await first.next(TYPE_ENDPOINT_GROUP);
    first.ack(initial);
    const held = Object.fromEntries(initial.resources.map((r) => [r.name, r.version]));
    first.close();
    dir.write('web.yaml', webServiceYaml + '---' + podYaml('web-a1', '127.0.0.11', 'node-a') + '---' + podYaml('web-b1', '127.0.0.14', 'node-b'));
    await eventually(async () => {
      const snap = await getJson<{ endpointGroups: Array<{ name: string; version: string }> }>(`${plane.httpUrl}/v1/snapshot`);
      return snap.endpointGroups.find((g) => g.name === 'demo/web')?.version !== held['demo/web'];
    });
    const second = await connect();
    second.subscribe(TYPE_ENDPOINT_GROUP, { mode: 'delta', names: ['*'], initialVersions: held });
    const resumed = await second.next(TYPE_ENDPOINT_GROUP);
    expect(resumed.resources.map((r) => r.name)).toEqual(['demo/web']);
    expect(endpointsOf(resumed, 'demo/web')).toEqual(['127.0.0.11:8080', '127.0.0.14:8080']);
  });

  it('reports a malformed manifest with file, document and reason, and keeps the rest', async () => {
    dir.write('broken.yaml', `
apiVersion: v1
kind: Service
metadata: { name: good, namespace: demo }
spec: { clusterIP: 10.96.0.30, ports: [{ port: 80 }] }
---
apiVersion: v1
kind: Service
metadata: { name: bad, namespace: demo }
spec: { ports: [{ port: 0 }] }
`);
    dir.write('garbage.yaml', 'kind: Service\nmetadata: { name: [unclosed\n');
    const problems = await eventually(async () => {
      const body = await getJson<{ problems: Array<{ message: string }> }>(`${plane.httpUrl}/debug/problems`);
      const messages = body.problems.map((p) => p.message);
      return messages.some((m) => m.includes('broken.yaml doc 2') && m.includes('demo/bad')) &&
        messages.some((m) => m.includes('garbage.yaml')) ? messages : undefined;
    });
    expect(problems.find((m) => m.includes('demo/bad'))).toMatch(/port/);
    const snap = await eventually(async () => {
      const body = await getJson<{ services: Array<{ name: string }> }>(`${plane.httpUrl}/v1/snapshot`);
      return body.services.some((s) => s.name === 'demo/good') ? body : undefined;
    });
    expect(snap.services.map((s) => s.name)).toEqual(['demo/api', 'demo/good', 'demo/web']);
    await plane.waitForLine((line) => typeof line.msg === 'string' && line.msg.includes('broken.yaml doc 2'));
    // The bad object's last good version stays in force once it existed.
    dir.write('broken.yaml', `
apiVersion: v1
kind: Service
metadata: { name: good, namespace: demo }
spec: { clusterIP: 10.96.0.30, ports: [{ port: 81 }] }
`);
    await eventually(async () => {
      const body = await getJson<{ services: Array<{ name: string; resource: { ports: Array<{ port: number }> } }> }>(`${plane.httpUrl}/v1/snapshot`);
      return body.services.find((s) => s.name === 'demo/good')?.resource.ports[0]?.port === 81;
    });
    dir.write('broken.yaml', `
apiVersion: v1
kind: Service
metadata: { name: good, namespace: demo }
spec: { clusterIP: 10.96.0.30, ports: [{ port: 99999 }] }
`);
    await eventually(async () => {
      const body = await getJson<{ problems: Array<{ message: string }> }>(`${plane.httpUrl}/debug/problems`);
      return body.problems.some((p) => p.message.includes('demo/good'));
    });
    const after = await getJson<{ services: Array<{ name: string; resource: { ports: Array<{ port: number }> } }> }>(`${plane.httpUrl}/v1/snapshot`);
    expect(after.services.find((s) => s.name === 'demo/good')?.resource.ports[0]?.port).toBe(81);
    dir.remove('broken.yaml');
    dir.remove('garbage.yaml');
  });

  it('serves /healthz, /metrics and /debug/services', async () => {
    expect((await fetch(`${plane.httpUrl}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${plane.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^skein_control_plane_subscribers \d+/m);
    expect(metrics).toMatch(/^skein_control_plane_source_synced\{source="files:.*"\} 1/m);
    const services = await getJson<{ services: Array<{ name: string; endpoints: { total: number } }> }>(`${plane.httpUrl}/debug/services`);
    expect(services.services.find((s) => s.name === 'demo/api')?.endpoints.total).toBe(2);
  });
});
