// End to end: createMesh() against a real skein-control-plane process on a temporary
// manifest directory, reaching HTTP backends on 127.0.0.x. Needs the build (pnpm build).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startBackend, type FakeBackend } from '@skein/testkit';
import { ManifestDir, startControlPlaneProcess, type ControlPlaneProcess } from '../../../../test/support/control-plane.js';
import { createMesh } from './create-mesh.js';

const serviceYaml = `
apiVersion: v1
kind: Service
metadata: { name: web, namespace: demo }
spec:
  clusterIP: 10.96.0.10
  ports: [{ name: http, port: 80, targetPort: http }]
`;

/** One slice per backend: each listens on its own (ephemeral) port. */
const sliceYaml = (name: string, backend: FakeBackend): string => `
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}
  namespace: demo
  labels: { kubernetes.io/service-name: web }
addressType: IPv4
ports: [{ name: http, port: ${backend.port}, protocol: TCP }]
endpoints:
  - addresses: [${backend.address}]
`;

describe('createMesh against a real control plane', () => {
  const dir = new ManifestDir();
  let plane: ControlPlaneProcess;
  let a: FakeBackend, b: FakeBackend;

  beforeAll(async () => {
    [a, b] = await Promise.all([startBackend('a', '127.0.0.51'), startBackend('b', '127.0.0.52')]);
    dir.write('web.yaml', serviceYaml);
    dir.write('web-a.yaml', sliceYaml('web-a', a));
    dir.write('web-b.yaml', sliceYaml('web-b', b));
    plane = await startControlPlaneProcess(['--source', `files:${dir.path}`]);
  });
  afterAll(async () => {
    await plane?.stop();
    await Promise.all([a?.close(), b?.close()]);
    dir.cleanup();
  });

  const spread = (): number[] => [a.total(), b.total()];
  const reset = (): void => {
    for (const x of [a, b]) {
      x.hits.clear();
      x.hosts.length = 0;
    }
  };

  it('mesh.fetch("http://web.demo/") balances over the endpoints the control plane sends', async () => {
    reset();
    const mesh = createMesh({ controlPlane: plane.grpcAddress, namespace: 'demo' });
    try {
      await mesh.ready(10_000);
      for (let i = 0; i < 20; i++) expect((await mesh.fetch('http://web.demo/')).status).toBe(200);
      // The full name and the ClusterIP reach the same service.
      expect(await (await mesh.fetch('http://web.demo.svc.cluster.local/')).text()).toMatch(/^[ab]\n$/);
      expect(await (await mesh.fetch('http://10.96.0.10/')).text()).toMatch(/^[ab]\n$/);
      expect(spread().map((n) => n >= 10)).toEqual([true, true]);
      expect(a.hosts.slice(0, 5).every((h) => h === 'web.demo')).toBe(true);
    } finally {
      await mesh.close();
    }
  });

  it('subscribes an unknown name on demand and waits for it on the first request', async () => {
    reset();
    const mesh = createMesh({ controlPlane: plane.grpcAddress, namespace: 'demo', scope: 'on-demand' });
    try {
      expect(await (await mesh.fetch('http://web/')).text()).toMatch(/^[ab]\n$/);
    } finally {
      await mesh.close();
    }
  });

  it('serverless: HTTP-only discovery from /v1/snapshot, re-polled by refresh()', async () => {
    reset();
    const mesh = createMesh({ snapshotUrl: plane.httpUrl, namespace: 'demo' });
    try {
      await mesh.ready(10_000);
      for (let i = 0; i < 4; i++) await (await mesh.fetch('http://web.demo/')).text();
      expect(spread()).toEqual([2, 2]);
      dir.remove('web-b.yaml');
      // Each invocation starts with refresh(); the control plane needs a moment to notice the file.
      await eventually(async () => {
        await mesh.refresh();
        reset();
        for (let i = 0; i < 4; i++) await (await mesh.fetch('http://web.demo/')).text();
        return b.total() === 0;
      }, 15_000, 100);
      expect(mesh.dispatcher.poolKeys()).toEqual([`http://127.0.0.51:${a.port}`]);
    } finally {
      await mesh.close();
      dir.write('web-b.yaml', sliceYaml('web-b', b));
    }
  });
});
