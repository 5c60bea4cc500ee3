// The sidecar process when things go wrong: no control plane at start (cache file), and a
// control plane that sends a config the sidecar must refuse (NACK).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeResource, TYPE_ENDPOINT_GROUP, TYPE_SERVICE } from '@skein/protocol';
import { eventually, FakeDiscoveryServer, startBackend, type FakeBackend } from '@skein/testkit';
import { getJson, startControlPlaneProcess } from './support/control-plane.js';
import { curl, startSidecarProcess, WebWorld } from './support/sidecar.js';

describe('a sidecar restarted with --cache-file while the control plane is down', () => {
  const world = new WebWorld();
  const cacheDir = mkdtempSync(join(tmpdir(), 'skein-cache-'));
  const cacheFile = join(cacheDir, 'config.json');

  beforeAll(() => world.start());
  afterAll(async () => {
    await world.close();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('starts from the cache and serves', async () => {
    const plane = await startControlPlaneProcess(['--source', `files:${world.dir.path}`]);
    const first = await startSidecarProcess(['--control-plane', plane.grpcAddress, '--cache-file', cacheFile]);
    await eventually(async () => (await fetch(`${first.admin}/ready`)).status === 200);
    await eventually(() => readFileSync(cacheFile, 'utf8').includes('demo/web'));
    await first.stop();
    await plane.stop();

    const second = await startSidecarProcess(['--control-plane', plane.grpcAddress, '--cache-file', cacheFile]);
    try {
      await eventually(async () => (await fetch(`${second.admin}/ready`)).status === 200);
      const res = await curl(second.proxy, 'http://web.demo/');
      expect(res.status).toBe(200);
      expect(res.body).toMatch(/^web-[ab]\d\n$/);
    } finally {
      await second.stop();
    }
  });
});

describe('a sidecar given a config it must refuse', () => {
  const server = new FakeDiscoveryServer();
  let good: FakeBackend;

  beforeAll(async () => {
    good = await startBackend('good', '127.0.0.21');
    await server.start();
  });
  afterAll(async () => {
    server.stop();
    await good.close();
  });

  it('NACKs, keeps the old routes and shows the NACK in /config_dump', async () => {
    const sidecar = await startSidecarProcess(['--control-plane', server.address]);
    try {
      await eventually(() => server.calls.length > 0 && server.of(0).length >= 2);
      const service = encodeResource(TYPE_SERVICE, 'demo/web', { name: 'demo/web', namespace: 'demo', clusterIps: ['10.96.0.10'], ports: [{ name: 'http', port: 80, targetPortName: 'http' }] });
      const endpoints = (address: string) => encodeResource(TYPE_ENDPOINT_GROUP, 'demo/web', {
        name: 'demo/web', namespace: 'demo', service: 'web',
        endpoints: [{ address, ready: true, serving: true, ports: [{ name: 'http', port: good.port }] }],
      });
      await server.answerTo(server.send(0, TYPE_SERVICE, [service]));
      await server.answerTo(server.send(0, TYPE_ENDPOINT_GROUP, [endpoints('127.0.0.21')]));
      await eventually(async () => (await fetch(`${sidecar.admin}/ready`)).status === 200);
      expect((await curl(sidecar.proxy, 'http://web.demo/')).body).toBe('good\n');

      const nack = await server.answerTo(server.send(0, TYPE_ENDPOINT_GROUP, [endpoints('not-an-ip')]));
      expect(nack.errorDetail?.message).toContain('demo/web');
      expect(nack.errorDetail?.resourceErrors?.[0]?.message).toMatch(/not an IP address/);

      const res = await curl(sidecar.proxy, 'http://web.demo/');
      expect(res.status).toBe(200);
      expect(res.body).toBe('good\n');
      const dump = await getJson<{ config: { lastNack: { message: string } | null } }>(`${sidecar.admin}/config_dump`);
      expect(dump.config.lastNack?.message).toContain('demo/web');
    } finally {
      await sidecar.stop();
    }
  });
});
