// Library mode seen from an app: createMesh() in this process, fed by a real control-plane
// process on a manifest directory, reaching fake pods on 127.0.0.x. The same checks the
// sidecar process gets in sidecar.test.ts, through mesh.fetch, the undici dispatcher and the
// grpc-js `skein:` resolver; then HTTP-only discovery (snapshotUrl + refresh()).
import * as grpc from '@grpc/grpc-js';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '@skein/sidecar';
import { eventually } from '@skein/testkit';
import { getJson, startControlPlaneProcess, type ControlPlaneProcess } from './support/control-plane.js';
import { Greeter, greeterYaml, hello, startGreeters, type GreeterServer } from './support/greeter.js';
import { WebWorld } from './support/sidecar.js';

/** GET through the mesh; the body is read so the connection goes back to its pool. */
async function get(mesh: Mesh, url: string): Promise<{ status: number; body: string }> {
  const res = await mesh.fetch(url);
  return { status: res.status, body: await res.text() };
}

/** Requests each backend served while `work` ran. */
async function served(world: WebWorld, work: () => Promise<void>): Promise<Record<string, number>> {
  const before = world.hits();
  await work();
  const after = world.hits();
  return Object.fromEntries(Object.keys(after).map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)]));
}

describe('createMesh() with a real control plane process', () => {
  const world = new WebWorld();
  const greeters: GreeterServer[] = [];
  let plane: ControlPlaneProcess;
  let mesh: Mesh;

  beforeAll(async () => {
    await world.start();
    greeters.push(...await startGreeters());
    world.dir.write('greeter.yaml', greeterYaml(greeters));
    plane = await startControlPlaneProcess(['--source', `files:${world.dir.path}`]);
    mesh = createMesh({ controlPlane: plane.grpcAddress, namespace: 'demo' });
    await mesh.ready();
  });

  afterAll(async () => {
    await mesh?.close();
    await plane?.stop();
    for (const g of greeters) g.server.forceShutdown();
    await world.close();
  });

  it.each(['web', 'web.demo', 'web.demo.svc', 'web.demo.svc.cluster.local', 'web.demo.svc.cluster.local.', '10.96.0.10'])(
    'reaches the Service by %s', async (host) => {
      const res = await get(mesh, `http://${host}/`);
      expect(res.status).toBe(200);
      expect(res.body).toMatch(/^web-[ab]\d\n$/);
    });

  it('keeps the Host header the app sent', async () => {
    await get(mesh, 'http://web.demo/');
    expect(world.backends.flatMap((b) => b.hosts)).toContain('web.demo');
  });

  it('spreads 90 requests evenly over 3 endpoints', async () => {
    const spread = await served(world, async () => {
      for (let i = 0; i < 90; i++) expect((await get(mesh, 'http://web.demo/')).status).toBe(200);
    });
    expect(spread).toEqual({ 'web-a1': 30, 'web-a2': 30, 'web-b1': 30 });
  });

  it('rejects an unknown name with a MeshError naming the host', async () => {
    const error = await mesh.fetch('http://nope.demo/').then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    const cause = (error as TypeError).cause as { code: string; status: number; message: string };
    expect(cause).toMatchObject({ code: 'SKEIN_ERR_UNKNOWN_SERVICE', status: 503 });
    expect(cause.message).toContain('nope.demo');
  });

  it('takes a removed endpoint out of rotation', async () => {
    const [a1, , b1] = world.backends;
    world.writeWeb([a1!, b1!]);
    try {
      // Round robin over three endpoints sends one of any three requests to web-a2; three that
      // all miss it mean the removal has arrived.
      await eventually(async () => (await served(world, async () => {
        for (let i = 0; i < 3; i++) await get(mesh, 'http://web.demo/');
      }))['web-a2'] === 0);
      const spread = await served(world, async () => {
        for (let i = 0; i < 20; i++) expect((await get(mesh, 'http://web.demo/')).status).toBe(200);
      });
      expect(spread).toEqual({ 'web-a1': 10, 'web-a2': 0, 'web-b1': 10 });
    } finally {
      world.writeWeb(world.backends);
    }
    // Put back: web-a2 returns to rotation.
    await eventually(async () => (await served(world, async () => {
      for (let i = 0; i < 3; i++) await get(mesh, 'http://web.demo/');
    }))['web-a2'] === 1);
  });

  it('serves undici.request through mesh.dispatcher', async () => {
    const { statusCode, body } = await request('http://web.demo/', { dispatcher: mesh.dispatcher });
    expect(statusCode).toBe(200);
    expect(await body.text()).toMatch(/^web-[ab]\d\n$/);
    await expect(request('http://nope.demo/', { dispatcher: mesh.dispatcher })).rejects.toMatchObject({ code: 'SKEIN_ERR_UNKNOWN_SERVICE' });
  });

  it('balances each grpc-js call over the greeter pods through the skein: resolver', async () => {
    const target = mesh.grpc.target('greeter.demo', 50051);
    expect(target).toBe('skein:///greeter.demo:50051');
    const client = new Greeter(target, grpc.credentials.createInsecure());
    try {
      // grpc-js's round_robin picks among the subchannels that are READY; once every pod has
      // answered, all three are, and the next 30 calls go 10/10/10.
      const seen = new Set<string>();
      for (let i = 0; i < 300 && seen.size < 3; i++) seen.add((await hello(client)).from);
      expect([...seen].sort()).toEqual(['greeter-1', 'greeter-2', 'greeter-3']);
      const counts: Record<string, number> = {};
      for (let i = 0; i < 30; i++) {
        const { from } = await hello(client);
        counts[from] = (counts[from] ?? 0) + 1;
      }
      expect(counts).toEqual({ 'greeter-1': 10, 'greeter-2': 10, 'greeter-3': 10 });
      await expect(hello(client, 'fail')).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION, details: 'told to fail' });
    } finally {
      client.close();
    }
  });

  it('fails gRPC calls to an unknown service with UNAVAILABLE and the mesh code', async () => {
    const client = new Greeter(mesh.grpc.target('nope.demo:50051'), grpc.credentials.createInsecure());
    try {
      await expect(hello(client)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE, details: expect.stringContaining('SKEIN_ERR_UNKNOWN_SERVICE') });
    } finally {
      client.close();
    }
  });

  it('keeps serving when the control plane dies', async () => {
    const failures: unknown[] = [];
    const load = (async () => {
      for (let i = 0; i < 40; i++) {
        try {
          const res = await get(mesh, 'http://web.demo/');
          if (res.status !== 200) failures.push(res.status);
        } catch (error) {
          failures.push(error);
        }
      }
    })();
    await plane.stop('SIGKILL');
    await load;
    expect(failures).toEqual([]);
    expect((await get(mesh, 'http://web.demo/')).status).toBe(200);
  });

  it('closes: requests and ready() then fail with SKEIN_ERR_CLOSED', async () => {
    await mesh.close();
    await expect(mesh.fetch('http://web.demo/')).rejects.toMatchObject({ cause: { code: 'SKEIN_ERR_CLOSED' } });
    await expect(mesh.ready()).rejects.toMatchObject({ code: 'SKEIN_ERR_CLOSED' });
    await mesh.close(); // idempotent
  });
});

describe('createMesh() with HTTP-only discovery (snapshotUrl)', () => {
  const world = new WebWorld();
  let plane: ControlPlaneProcess;
  let mesh: Mesh;

  beforeAll(async () => {
    await world.start();
    plane = await startControlPlaneProcess(['--source', `files:${world.dir.path}`]);
    // Created at once: until the control plane has published, the first poll retries.
    mesh = createMesh({ snapshotUrl: plane.httpUrl, namespace: 'demo' });
    await mesh.ready();
  });

  afterAll(async () => {
    await mesh?.close();
    await plane?.stop();
    await world.close();
  });

  it('serves mesh.fetch from the snapshot', async () => {
    for (const host of ['web', 'web.demo', '10.96.0.10']) {
      const res = await get(mesh, `http://${host}/`);
      expect(res.status).toBe(200);
      expect(res.body).toMatch(/^web-[ab]\d\n$/);
    }
    const spread = await served(world, async () => {
      for (let i = 0; i < 30; i++) await get(mesh, 'http://web.demo/');
    });
    expect(spread).toEqual({ 'web-a1': 10, 'web-a2': 10, 'web-b1': 10 });
  });

  it('sees a manifest change on refresh(), and not before', async () => {
    const [a1, , b1] = world.backends;
    world.writeWeb([a1!, b1!]);
    // The control plane has published the change...
    await eventually(async () => !JSON.stringify(await getJson(`${plane.httpUrl}/v1/snapshot`)).includes('127.0.0.12'));
    // ...but without `watch` the mesh polls only when told to: web-a2 is still in rotation.
    const stale = await served(world, async () => {
      for (let i = 0; i < 3; i++) await get(mesh, 'http://web.demo/');
    });
    expect(stale['web-a2']).toBe(1);

    await mesh.refresh();
    const fresh = await served(world, async () => {
      for (let i = 0; i < 20; i++) expect((await get(mesh, 'http://web.demo/')).status).toBe(200);
    });
    expect(fresh).toEqual({ 'web-a1': 10, 'web-a2': 0, 'web-b1': 10 });
  });
});
