// XdsClient against a real skein-control-plane process on a temporary manifest directory.
// Needs the built control plane (pnpm build).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@skein/testkit';
import { TYPE_ENDPOINT_GROUP, TYPE_SERVICE } from '@skein/protocol';
import {
  apiServiceYaml, ManifestDir, nodesYaml, podYaml, startControlPlaneProcess, webServiceYaml, type ControlPlaneProcess,
} from '../../../../test/support/control-plane.js';
import type { NodeIdentity } from '../identity.js';
import { MeshConfig, type ConfigChange } from './mesh-config.js';
import { XdsClient, type DiscoveryScope } from './xds-client.js';

const identity: NodeIdentity = {
  id: 'client-1.demo', podName: 'client-1', namespace: 'demo', podIp: '127.0.0.50', nodeName: 'node-a', zone: 'zone-a', region: 'region-1',
};

const cartYaml = `
apiVersion: v1
kind: Service
metadata: { name: cart, namespace: shop }
spec:
  clusterIP: 10.96.1.10
  ports: [{ name: http, port: 80, targetPort: 8080 }]
`;

const serviceYaml = (name: string, ip: string): string => `
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: demo }
spec:
  clusterIP: ${ip}
  ports: [{ name: http, port: 80, targetPort: 8080 }]
`;

function writeManifests(dir: ManifestDir): void {
  dir.write('nodes.yaml', nodesYaml);
  dir.write('web.yaml', webServiceYaml + '---' + podYaml('web-a1', '127.0.0.11', 'node-a') + '---' + podYaml('web-b1', '127.0.0.13', 'node-b'));
  dir.write('api.yaml', apiServiceYaml);
  dir.write('cart.yaml', cartYaml);
}

const addresses = (config: MeshConfig, name: string): string[] => (config.endpointGroup(name)?.endpoints ?? []).map((e) => e.address ?? '').sort();

describe('XdsClient against a real control plane', () => {
  const dir = new ManifestDir();
  let plane: ControlPlaneProcess;
  const clients: XdsClient[] = [];

  const connect = (scope: DiscoveryScope = 'all'): { config: MeshConfig; client: XdsClient } => {
    const config = new MeshConfig();
    const client = new XdsClient({ address: plane.grpcAddress, identity, config, scope, backoff: { initialMs: 50, maxMs: 500 } });
    clients.push(client);
    client.start();
    return { config, client };
  };

  beforeAll(async () => {
    writeManifests(dir);
    plane = await startControlPlaneProcess(['--source', `files:${dir.path}`]);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    await plane?.stop();
    dir.cleanup();
  });

  it('receives every Service and EndpointGroup and becomes ready', async () => {
    const { config, client } = connect();
    await eventually(() => config.ready, 15_000);
    expect([...config.services().keys()].sort()).toEqual(['demo/api', 'demo/web', 'shop/cart']);
    expect(addresses(config, 'demo/web')).toEqual(['127.0.0.11', '127.0.0.13']);
    expect(config.services().get('demo/web')?.clusterIps).toEqual(['10.96.0.10']);
    const status = client.status();
    expect(status.connected).toBe(true);
    expect(status.controlPlane).toBeTruthy();
    expect(Object.keys(status.acked).sort()).toEqual([TYPE_ENDPOINT_GROUP, TYPE_SERVICE]);
    expect(status.lastNack).toBeNull();
  });

  it('applies an edit: a new Service arrives, a changed endpoint set, then a removal', async () => {
    const { config } = connect();
    await eventually(() => config.ready, 15_000);
    const changes: ConfigChange[] = [];
    config.onChange((change) => changes.push(change));
    dir.write('extra.yaml', serviceYaml('extra', '10.96.0.30'));
    await eventually(() => config.services().has('demo/extra'), 15_000);
    expect(changes.some((c) => c.services.has('demo/extra'))).toBe(true);
    expect(changes.every((c) => !c.services.has('demo/web'))).toBe(true);

    dir.write('web.yaml', webServiceYaml + '---' + podYaml('web-a1', '127.0.0.11', 'node-a'));
    await eventually(() => addresses(config, 'demo/web').join() === '127.0.0.11', 15_000);

    dir.remove('extra.yaml');
    await eventually(() => !config.services().has('demo/extra'), 15_000);
    writeManifests(dir);
    await eventually(() => addresses(config, 'demo/web').length === 2, 15_000);
  });

  it('on-demand scope holds only what was wanted, subscribing a name on want()', async () => {
    const { config } = connect('on-demand');
    await eventually(() => config.ready, 15_000);
    expect(config.services().size).toBe(0);
    config.want('demo/web');
    config.want('demo/later');
    await eventually(() => config.answered('demo/web') && config.answered('demo/later'), 15_000);
    expect([...config.services().keys()]).toEqual(['demo/web']);
    expect(addresses(config, 'demo/web')).toEqual(['127.0.0.11', '127.0.0.13']);
    // The subscription stays: a wanted Service created later arrives by itself.
    dir.write('later.yaml', serviceYaml('later', '10.96.0.40'));
    try {
      await eventually(() => config.services().has('demo/later'), 15_000);
      expect(config.services().has('demo/api')).toBe(false);
    } finally {
      dir.remove('later.yaml');
    }
    await eventually(() => !config.services().has('demo/later'), 15_000);
  });

  it('namespace scope holds its own namespace and fetches another namespace\'s Service on demand', async () => {
    const { config } = connect('namespace');
    await eventually(() => config.ready, 15_000);
    expect([...config.services().keys()].sort()).toEqual(['demo/api', 'demo/web']);
    expect(config.answered('demo/nothing')).toBe(true);
    config.want('shop/cart');
    await eventually(() => config.answered('shop/cart'), 15_000);
    expect(config.services().get('shop/cart')?.clusterIps).toEqual(['10.96.1.10']);
  });
});

describe('XdsClient across a control-plane restart', () => {
  const dir = new ManifestDir();
  let plane: ControlPlaneProcess | undefined;
  let client: XdsClient | undefined;

  afterAll(async () => {
    await client?.close();
    await plane?.stop();
    dir.cleanup();
  });

  it('keeps the config while the control plane is down and resumes, receiving only what changed', async () => {
    writeManifests(dir);
    plane = await startControlPlaneProcess(['--source', `files:${dir.path}`]);
    const grpcPort = plane.grpcAddress.split(':')[1]!;
    const config = new MeshConfig();
    client = new XdsClient({ address: plane.grpcAddress, identity, config, backoff: { initialMs: 50, maxMs: 500 } });
    client.start();
    await eventually(() => config.ready, 15_000);
    const before = { services: config.versions(TYPE_SERVICE), groups: config.versions(TYPE_ENDPOINT_GROUP) };

    await plane.stop('SIGKILL');
    await eventually(() => !client!.status().connected, 15_000);
    expect(client.status().lastError).toBeTruthy();
    expect(config.ready).toBe(true);
    expect(config.versions(TYPE_SERVICE)).toEqual(before.services);
    expect(addresses(config, 'demo/web')).toEqual(['127.0.0.11', '127.0.0.13']);

    const changes: ConfigChange[] = [];
    config.onChange((change) => changes.push(change));
    dir.write('extra.yaml', serviceYaml('extra', '10.96.0.30'));
    plane = await startControlPlaneProcess(['--source', `files:${dir.path}`, '--grpc-port', grpcPort]);
    await eventually(() => config.services().has('demo/extra'), 20_000);
    expect(client.status()).toMatchObject({ connected: true, reconnects: expect.any(Number) });
    expect(client.status().reconnects).toBeGreaterThanOrEqual(1);
    // Content versions match across processes, so only the new Service (and its group) was sent.
    const changed = new Set(changes.flatMap((c) => [...c.services, ...c.endpointGroups]));
    expect([...changed]).toEqual(['demo/extra']);
    expect({ ...config.versions(TYPE_SERVICE), 'demo/extra': undefined }).toEqual({ ...before.services, 'demo/extra': undefined });
  });
});
