// createMesh() with an injected data plane: fetch through the mesh, ready(), close().
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startBackend, type FakeBackend } from '@skein/testkit';
import type { Dataplane } from '../dataplane.js';
import { createMesh } from './create-mesh.js';
import { StaticDataplane } from './static-dataplane.js';

/** Open TCP sockets of this process (sockets, not listening servers). */
const openSockets = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

describe('createMesh', () => {
  const backends: FakeBackend[] = [];

  beforeAll(async () => {
    backends.push(...await Promise.all([startBackend('a', '127.0.0.41'), startBackend('b', '127.0.0.42'), startBackend('c', '127.0.0.43')]));
  });
  afterAll(async () => {
    await Promise.all(backends.map((b) => b.close()));
  });

  const webDataplane = (): StaticDataplane =>
    new StaticDataplane({ 'web.demo:80': { endpoints: backends.map((b) => ({ address: b.address, port: b.port })) } });

  it('mesh.fetch spreads 90 requests 30/30/30 over three endpoints, keeping the Host', async () => {
    const mesh = createMesh({ dataplane: webDataplane() });
    try {
      await mesh.ready();
      const bodies = await Promise.all(Array.from({ length: 90 }, async () => (await mesh.fetch('http://web.demo/hello')).text()));
      expect(bodies.filter((b) => b === 'a\n')).toHaveLength(30);
      expect(backends.map((b) => b.hits.get('/hello'))).toEqual([30, 30, 30]);
      expect(new Set(backends.flatMap((b) => b.hosts))).toEqual(new Set(['web.demo']));
    } finally {
      await mesh.close();
    }
  });

  it('mesh.fetch accepts a Request built with the global constructor, body included', async () => {
    const mesh = createMesh({ dataplane: webDataplane() });
    try {
      const res = await mesh.fetch(new Request('http://web.demo/echo', { method: 'POST', body: 'from a global Request', headers: { 'content-type': 'text/plain' } }));
      expect(await res.text()).toBe('from a global Request');
    } finally {
      await mesh.close();
    }
  });

  it('close() waits for in-flight requests and leaves no sockets behind', async () => {
    // Earlier tests' connections close asynchronously at the backends' end: start from none.
    await eventually(() => openSockets() === 0);
    const mesh = createMesh({ dataplane: webDataplane() });
    const inFlight = mesh.fetch('http://web.demo/bytes?n=1000000').then((r) => r.arrayBuffer());
    await Promise.all(Array.from({ length: 9 }, async () => (await mesh.fetch('http://web.demo/')).text()));
    expect(openSockets()).toBeGreaterThan(0);
    const closed = mesh.close();
    expect((await inFlight).byteLength).toBe(1_000_000);
    await closed;
    await mesh.close();
    // The backends' ends close a moment after ours.
    await eventually(() => openSockets() === 0);
    await expect(mesh.ready()).rejects.toMatchObject({ code: 'SKEIN_ERR_CLOSED' });
  });

  it('ready() waits for the first config and times out with a clear error', async () => {
    const listeners = new Set<() => void>();
    let ready = false;
    const later: Dataplane = {
      get ready() { return ready; },
      resolve: () => ({ type: 'direct', host: '127.0.0.1', port: 1, reason: 'passthrough' }),
      whenKnown: () => Promise.resolve(),
      report: () => undefined,
      onChange: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    const mesh = createMesh({ dataplane: later });
    await expect(mesh.ready(30)).rejects.toMatchObject({ code: 'SKEIN_ERR_NOT_READY', message: expect.stringContaining('not ready after 30 ms') });
    const waiting = mesh.ready(5_000);
    ready = true;
    for (const listener of listeners) listener();
    await waiting;
    const pending = createMesh({ dataplane: { ...later, get ready() { return false; } } });
    const abandoned = pending.ready(60_000);
    await pending.close();
    await expect(abandoned).rejects.toMatchObject({ code: 'SKEIN_ERR_CLOSED' });
    await mesh.close();
    expect(listeners.size).toBe(0);
  });

  it('refuses to start without anywhere to discover from', () => {
    const saved = { cp: process.env.SKEIN_CONTROL_PLANE, snap: process.env.SKEIN_SNAPSHOT_URL };
    delete process.env.SKEIN_CONTROL_PLANE;
    delete process.env.SKEIN_SNAPSHOT_URL;
    try {
      expect(() => createMesh()).toThrow(/no control plane: pass controlPlane, snapshotUrl or dataplane/);
      expect(() => createMesh({ controlPlane: '127.0.0.1:1', snapshotUrl: 'http://127.0.0.1:1' })).toThrow(/not both/);
    } finally {
      if (saved.cp !== undefined) process.env.SKEIN_CONTROL_PLANE = saved.cp;
      if (saved.snap !== undefined) process.env.SKEIN_SNAPSHOT_URL = saved.snap;
    }
  });
});
