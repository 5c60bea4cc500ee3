// HttpDiscoveryClient against a real skein-control-plane process (GET /v1/snapshot).
// Needs the built control plane (pnpm build).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@skein/testkit';
import { TYPE_SERVICE } from '@skein/protocol';
import {
  apiServiceYaml, ManifestDir, nodesYaml, podYaml, startControlPlaneProcess, webServiceYaml, type ControlPlaneProcess,
} from '../../../../test/support/control-plane.js';
import { HttpDiscoveryClient, type HttpDiscoveryClientOptions } from './http-discovery-client.js';
import { MeshConfig } from './mesh-config.js';

const cartYaml = `
apiVersion: v1
kind: Service
metadata: { name: cart, namespace: shop }
spec:
  clusterIP: 10.96.1.10
  ports: [{ name: http, port: 80, targetPort: 8080 }]
`;

const extraYaml = `
apiVersion: v1
kind: Service
metadata: { name: extra, namespace: demo }
spec:
  clusterIP: 10.96.0.30
  ports: [{ name: http, port: 80, targetPort: 8080 }]
`;

interface Exchange {
  url: string;
  ifNoneMatch: string | null;
  status: number | 'error';
}

describe('HttpDiscoveryClient against a real control plane', () => {
  const dir = new ManifestDir();
  let plane: ControlPlaneProcess;
  const clients: HttpDiscoveryClient[] = [];

  /** A client whose fetch records every exchange, and fails while `broken.value` is true. */
  const create = (options: Partial<HttpDiscoveryClientOptions> = {}) => {
    const config = new MeshConfig();
    const exchanges: Exchange[] = [];
    const broken = { value: false };
    const started = { value: 0 };
    const recordingFetch: typeof fetch = async (input, init) => {
      started.value++;
      const url = String(input);
      const ifNoneMatch = new Headers(init?.headers).get('if-none-match');
      if (broken.value) {
        exchanges.push({ url, ifNoneMatch, status: 'error' });
        throw new TypeError('fetch failed: connection refused');
      }
      const res = await fetch(input, init);
      exchanges.push({ url, ifNoneMatch, status: res.status });
      return res;
    };
    const client = new HttpDiscoveryClient({ url: plane.httpUrl, config, fetch: recordingFetch, backoff: { initialMs: 20, maxMs: 200 }, ...options });
    clients.push(client);
    return { config, client, exchanges, broken, started };
  };

  beforeAll(async () => {
    dir.write('nodes.yaml', nodesYaml);
    dir.write('web.yaml', webServiceYaml + '---' + podYaml('web-a1', '127.0.0.11', 'node-a') + '---' + podYaml('web-b1', '127.0.0.13', 'node-b'));
    dir.write('api.yaml', apiServiceYaml);
    dir.write('cart.yaml', cartYaml);
    plane = await startControlPlaneProcess(['--source', `files:${dir.path}`]);
    await eventually(async () => (await fetch(`${plane.httpUrl}/readyz`)).status === 200, 15_000);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    await plane?.stop();
    dir.cleanup();
  });

  it('applies the whole snapshot on refresh(), then keeps it on 304', async () => {
    const { config, client, exchanges } = create();
    await client.refresh();
    expect(config.ready).toBe(true);
    expect([...config.services().keys()].sort()).toEqual(['demo/api', 'demo/web', 'shop/cart']);
    expect(config.endpointGroup('demo/web')?.endpoints.map((e) => e.address).sort()).toEqual(['127.0.0.11', '127.0.0.13']);
    const { etag } = client.status();
    expect(etag).toBeTruthy();
    const services = config.services();
    const versions = config.versions(TYPE_SERVICE);

    let changes = 0;
    config.onChange(() => changes++);
    await client.refresh();
    expect(exchanges.map((e) => e.status)).toEqual([200, 304]);
    expect(exchanges[1]!.ifNoneMatch).toBe(`"${etag}"`);
    expect(config.services()).toBe(services);
    expect(config.versions(TYPE_SERVICE)).toEqual(versions);
    expect(changes).toBe(0);
    expect(client.status()).toMatchObject({ connected: true, etag, lastError: null });
  });

  it('receives a change through the long poll', async () => {
    const { config, client, exchanges } = create({ waitSeconds: 20 });
    client.start();
    await eventually(() => config.ready, 15_000);
    // Wait until the loop holds a long poll open, then change the manifests.
    await eventually(() => exchanges.length >= 1 && client.status().etag !== null);
    dir.write('extra.yaml', extraYaml);
    try {
      await eventually(() => config.services().has('demo/extra'), 15_000);
      const changed = exchanges.find((e) => e.status === 200 && e.url.includes('wait=20s') && e.ifNoneMatch !== null);
      expect(changed).toBeDefined();
    } finally {
      dir.remove('extra.yaml');
    }
    await eventually(() => !config.services().has('demo/extra'), 15_000);
  });

  it('asks only for its namespaces', async () => {
    const { config, client, exchanges } = create({ namespaces: ['shop'] });
    await client.refresh();
    expect([...config.services().keys()]).toEqual(['shop/cart']);
    expect(exchanges[0]!.url).toContain('namespace=shop');
  });

  it('keeps the last good config when the control plane cannot be reached, and backs off', async () => {
    const { config, client, exchanges, broken } = create({ waitSeconds: 1 });
    await client.refresh();
    const services = config.services();
    broken.value = true;
    client.start();
    await eventually(() => exchanges.filter((e) => e.status === 'error').length >= 3);
    expect(client.status()).toMatchObject({ connected: false, lastError: expect.stringContaining('connection refused') });
    expect(client.status().failures).toBeGreaterThanOrEqual(2);
    expect(config.ready).toBe(true);
    expect(config.services()).toBe(services);
    broken.value = false;
    await eventually(() => client.status().connected);
    expect(client.status().failures).toBe(0);
  });

  it('reports a non-JSON or failed answer as an error, never a throw', async () => {
    const config = new MeshConfig();
    const client = new HttpDiscoveryClient({
      url: plane.httpUrl, config, fetch: async () => new Response('no snapshot published yet', { status: 503 }),
    });
    clients.push(client);
    await client.refresh();
    expect(config.ready).toBe(false);
    expect(client.status().lastError).toContain('503');
  });

  it('close() ends a long poll in flight', async () => {
    // Longer than the test's timeout: close() must abort the poll, not wait for it.
    const { client, exchanges, started } = create({ waitSeconds: 50 });
    client.start();
    await eventually(() => exchanges.length === 1 && started.value === 2);
    await client.close();
    expect(client.status().connected).toBe(true);
  });
});
