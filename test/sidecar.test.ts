// The sidecar as a real process between curl and fake pods, fed by a real control plane.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@skein/testkit';
import { getJson, startControlPlaneProcess, type ControlPlaneProcess } from './support/control-plane.js';
import { curl, startSidecarProcess, WebWorld, type SidecarProcess } from './support/sidecar.js';

describe('skein-sidecar between curl and the pods', () => {
  const world = new WebWorld();
  let plane: ControlPlaneProcess;
  let sidecar: SidecarProcess;

  beforeAll(async () => {
    await world.start();
    plane = await startControlPlaneProcess(['--source', `files:${world.dir.path}`]);
    sidecar = await startSidecarProcess(['--control-plane', plane.grpcAddress]);
    await eventually(async () => (await fetch(`${sidecar.admin}/ready`)).status === 200);
  });

  afterAll(async () => {
    await sidecar?.stop();
    await plane?.stop();
    await world.close();
  });

  it.each(['web', 'web.demo', 'web.demo.svc', 'web.demo.svc.cluster.local', 'web.demo.svc.cluster.local.', '10.96.0.10'])(
    'reaches the Service by %s', async (host) => {
      const res = await curl(sidecar.proxy, `http://${host}/`);
      expect(res.status).toBe(200);
      expect(res.body).toMatch(/^web-[ab]\d\n$/);
    });

  it('keeps the Host header the client sent', async () => {
    await curl(sidecar.proxy, 'http://web.demo/');
    expect(world.backends.flatMap((b) => b.hosts)).toContain('web.demo');
  });

  it('spreads 90 requests evenly over 3 endpoints', async () => {
    const before = world.hits();
    for (let i = 0; i < 90; i++) expect((await curl(sidecar.proxy, 'http://web.demo/')).status).toBe(200);
    const after = world.hits();
    expect(Object.keys(after).map((k) => (after[k] ?? 0) - (before[k] ?? 0))).toEqual([30, 30, 30]);
  });

  it('answers an unknown name with a fast 503 naming the host', async () => {
    const res = await curl(sidecar.proxy, 'http://nope.demo/');
    expect(res.status).toBe(503);
    expect(res.body).toContain('nope.demo');
  });

  it('takes a removed endpoint out of rotation', async () => {
    const [a1, , b1] = world.backends;
    world.writeWeb([a1!, b1!]);
    await eventually(async () => {
      const dump = await getJson<{ clusters: unknown }>(`${sidecar.admin}/clusters`);
      return !JSON.stringify(dump.clusters).includes('127.0.0.12');
    });
    const before = world.hits();
    for (let i = 0; i < 20; i++) await curl(sidecar.proxy, 'http://web.demo/');
    const after = world.hits();
    expect((after['web-a2'] ?? 0) - (before['web-a2'] ?? 0)).toBe(0);
    world.writeWeb(world.backends);
  });

  it('shows config, versions and endpoints on the admin API', async () => {
    const dump = await getJson<{ config: { ready: boolean } }>(`${sidecar.admin}/config_dump`);
    expect(dump.config.ready).toBe(true);
    expect(JSON.stringify(dump)).toContain('demo/web');
    const explain = await getJson(`${sidecar.admin}/explain?url=http://web.demo/`);
    expect(JSON.stringify(explain)).toContain('demo/web');
  });

  it('keeps serving when the control plane dies', async () => {
    const failures: number[] = [];
    const load = (async () => {
      for (let i = 0; i < 40; i++) {
        const res = await curl(sidecar.proxy, 'http://web.demo/');
        if (res.status !== 200) failures.push(res.status);
      }
    })();
    await plane.stop('SIGKILL');
    await load;
    expect(failures).toEqual([]);
    plane = await startControlPlaneProcess(['--source', `files:${world.dir.path}`]);
  });
});
