// The control plane as a real process with --source kubernetes, its real client-node
// informers talking HTTP to the fake API server of the test kit.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscoveryTestClient, eventually, FakeKubeApi } from '@skein/testkit';
import { decodeResourceBody, TYPE_ENDPOINT_GROUP, TYPE_SERVICE } from '@skein/protocol';
import { getJson, startControlPlaneProcess, type ControlPlaneProcess } from './support/control-plane.js';

const service = (name: string, port: number) => ({
  apiVersion: 'v1', kind: 'Service',
  metadata: { name, namespace: 'shop', annotations: { 'skein.io/load-balancer': 'least-request' } },
  spec: { clusterIP: '10.96.1.1', clusterIPs: ['10.96.1.1'], selector: { app: name }, ports: [{ name: 'http', port, targetPort: 'http', protocol: 'TCP' }] },
});

const slice = (service: string, name: string, ips: string[]) => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
  metadata: { name, namespace: 'shop', labels: { 'kubernetes.io/service-name': service } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true }, nodeName: 'node-a' })),
});

const nodeA = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a', labels: { 'topology.kubernetes.io/zone': 'zone-a', 'topology.kubernetes.io/region': 'eu' } } };

describe('control plane with --source kubernetes', () => {
  let api: FakeKubeApi;
  let plane: ControlPlaneProcess;
  let kubeDir: string;

  beforeAll(async () => {
    api = await FakeKubeApi.start();
    api.apply(nodeA);
    api.apply(service('cart', 80));
    api.apply(slice('cart', 'cart-abc', ['127.0.0.31', '127.0.0.32']));
    api.apply(service('checkout', 80));
    api.apply(slice('checkout', 'checkout-abc', ['127.0.0.41']));
    kubeDir = mkdtempSync(join(tmpdir(), 'skein-kube-'));
    // These clients show no token: TokenReview authentication is test/control-plane-replicas.test.ts's subject.
    plane = await startControlPlaneProcess(['--source', 'kubernetes', '--kubeconfig', await api.writeKubeconfig(kubeDir), '--auth', 'none']);
    await eventually(async () => (await fetch(`${plane.httpUrl}/readyz`)).status === 200);
  });

  afterAll(async () => {
    await plane?.stop();
    await api?.stop();
    rmSync(kubeDir, { recursive: true, force: true });
  });

  it('publishes every Service and EndpointGroup from the informers', async () => {
    const client = await DiscoveryTestClient.connect(plane.grpcAddress, { id: 'k1', podName: 'k1', namespace: 'shop' });
    client.subscribe(TYPE_SERVICE, { mode: 'sotw', names: ['shop/*'] });
    const services = await client.next(TYPE_SERVICE);
    expect(services.resources.map((r) => r.name)).toEqual(['shop/cart', 'shop/checkout']);
    const cart = decodeResourceBody(TYPE_SERVICE, services.resources[0]!.body!);
    expect(cart.ok && cart.value.policy?.loadBalancer).toBe(2); // LEAST_REQUEST
    client.subscribe(TYPE_ENDPOINT_GROUP, { mode: 'sotw', names: ['shop/*'] });
    const groups = await client.next(TYPE_ENDPOINT_GROUP);
    const cartGroup = decodeResourceBody(TYPE_ENDPOINT_GROUP, groups.resources[0]!.body!);
    expect(cartGroup.ok && cartGroup.value.endpoints.map((e) => [e.address, e.zone, e.region])).toEqual([
      ['127.0.0.31', 'zone-a', 'eu'], ['127.0.0.32', 'zone-a', 'eu'],
    ]);
    client.close();
  });

  it('turns a watch event into a delta with only the changed resource', async () => {
    const client = await DiscoveryTestClient.connect(plane.grpcAddress, { id: 'k2', podName: 'k2', namespace: 'shop' });
    client.subscribe(TYPE_ENDPOINT_GROUP, { mode: 'delta', names: ['*'] });
    client.ack(await client.next(TYPE_ENDPOINT_GROUP));
    api.apply(slice('cart', 'cart-abc', ['127.0.0.31', '127.0.0.32', '127.0.0.33']));
    const delta = await client.next(TYPE_ENDPOINT_GROUP);
    expect(delta.resources.map((r) => r.name)).toEqual(['shop/cart']);
    client.ack(delta);
    api.delete('Service', 'shop', 'checkout');
    const removal = await client.next(TYPE_ENDPOINT_GROUP);
    expect(removal.removedResources).toEqual(['shop/checkout']);
    client.close();
  });

  it('recovers after the watch connections drop and history is compacted (410 Gone)', async () => {
    api.compactHistory();
    api.dropWatches();
    api.apply(service('payments', 8080));
    await eventually(async () => {
      const snap = await getJson<{ services: Array<{ name: string }> }>(`${plane.httpUrl}/v1/snapshot`);
      return snap.services.some((s) => s.name === 'shop/payments');
    }, 20_000);
  });
});

describe('control plane readiness with an unreachable API server', () => {
  it('answers /readyz 503 until the informers have listed', async () => {
    const api = await FakeKubeApi.start();
    api.failNext({ status: 500, count: 1_000_000 });
    const kubeDir = mkdtempSync(join(tmpdir(), 'skein-kube-'));
    const plane = await startControlPlaneProcess(['--source', 'kubernetes', '--kubeconfig', await api.writeKubeconfig(kubeDir)]);
    try {
      await eventually(() => api.requests.length > 2);
      const waiting = await fetch(`${plane.httpUrl}/readyz`);
      expect(waiting.status).toBe(503);
      expect(await waiting.text()).toMatch(/source kubernetes not synced/);
      api.clearFailures();
      await eventually(async () => (await fetch(`${plane.httpUrl}/readyz`)).status === 200, 20_000);
    } finally {
      await plane.stop();
      await api.stop();
      rmSync(kubeDir, { recursive: true, force: true });
    }
  });
});
