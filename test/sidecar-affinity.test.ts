// Sticky endpoint selection through the sidecar process: ClientIP session affinity across a
// scale-up, header hashing (ring hash), and internalTrafficPolicy Local. Each case has its own
// manifest directory, control plane and sidecar, so they cannot interfere.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually, startBackend } from '@skein/testkit';
import { curl, setUp, startSidecarProcess, WebWorld } from './support/sidecar.js';

/** Sends `n` requests to web.demo through `proxy`; counts answers by pod name. */
async function spread(proxy: string, n: number, extra: string[] = []): Promise<{ byPod: Record<string, number>; failures: number }> {
  const byPod: Record<string, number> = {};
  let failures = 0;
  for (let i = 0; i < n; i++) {
    const res = await curl(proxy, 'http://web.demo/', extra);
    if (res.status === 200) byPod[res.body.trim()] = (byPod[res.body.trim()] ?? 0) + 1;
    else failures++;
  }
  return { byPod, failures };
}


describe('sessionAffinity: ClientIP', () => {
  const world = new WebWorld({}, { sessionAffinity: 'ClientIP' });
  const { sidecar } = setUp(world);

  it('keeps the client on one pod, also after a scale-up', async () => {
    const before = await spread(sidecar().proxy, 20);
    expect(before.failures).toBe(0);
    const pods = Object.keys(before.byPod);
    expect(pods).toHaveLength(1);
    const [pod] = pods;

    world.backends.push(await startBackend('web-a3', '127.0.0.14'));
    world.writeWeb(world.backends);
    await eventually(async () => (await (await fetch(`${sidecar().admin}/clusters`)).text()).includes('127.0.0.14'), 20_000, 100);

    const after = await spread(sidecar().proxy, 20);
    expect(after.failures).toBe(0);
    expect(after.byPod).toEqual({ [pod!]: 20 });
  });
});

describe('header hash (ring-hash, skein.io/hash-key: header:x-user)', () => {
  const world = new WebWorld({ 'skein.io/load-balancer': 'ring-hash', 'skein.io/hash-key': 'header:x-user' });
  const { sidecar } = setUp(world);

  it('keeps each user on one pod and spreads users over pods', async () => {
    const podOf: Record<string, string> = {};
    for (let u = 0; u < 8; u++) {
      const user = `user-${u}`;
      const { byPod, failures } = await spread(sidecar().proxy, 5, ['-H', `x-user: ${user}`]);
      expect(failures).toBe(0);
      expect(Object.keys(byPod), user).toHaveLength(1);
      podOf[user] = Object.keys(byPod)[0]!;
    }
    expect(new Set(Object.values(podOf)).size).toBeGreaterThanOrEqual(2);
    // The admin API names the pod a user goes to.
    const explain = (await (await fetch(`${sidecar().admin}/explain?url=http://web.demo/&header=x-user:user-3`)).json()) as { decision: { endpoint: string; by: string } };
    expect(explain.decision.by).toBe('hash');
    expect(world.backends.filter((b) => explain.decision.endpoint === `${b.address}:${b.port}`).map((b) => b.name)).toEqual([podOf['user-3']]);
  });
});

describe('cookie hash (maglev, skein.io/hash-key: cookie:session)', () => {
  const world = new WebWorld({ 'skein.io/load-balancer': 'maglev', 'skein.io/hash-key': 'cookie:session' });
  const { sidecar } = setUp(world);

  it('gives a client without the cookie one, which keeps it on one pod (curl with a cookie jar)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skein-cookies-'));
    const podOf: string[] = [];
    for (let c = 0; c < 8; c++) {
      const jar = join(dir, `client-${c}.txt`);
      const { byPod, failures } = await spread(sidecar().proxy, 5, ['-c', jar, '-b', jar]);
      expect(failures).toBe(0);
      expect(Object.keys(byPod), jar).toHaveLength(1);
      podOf.push(Object.keys(byPod)[0]!);
    }
    expect(new Set(podOf).size).toBeGreaterThanOrEqual(2);
  });
});

describe('internalTrafficPolicy: Local', () => {
  const world = new WebWorld({}, { internalTrafficPolicy: 'Local' });
  const { plane, sidecar } = setUp(world);

  it('never leaves the node', async () => {
    const { byPod, failures } = await spread(sidecar().proxy, 30);
    expect(failures).toBe(0);
    expect(byPod['web-b1'] ?? 0).toBe(0);
    expect((byPod['web-a1'] ?? 0) + (byPod['web-a2'] ?? 0)).toBe(30);
  });

  it('answers 503 SKEIN_ERR_LOCAL_NO_ENDPOINT on a node without an endpoint', async () => {
    const other = await startSidecarProcess(['--control-plane', plane().grpcAddress, '--node-name', 'node-c', '--pod-name', 'client-c']);
    try {
      await eventually(async () => (await fetch(`${other.admin}/ready`)).status === 200);
      const res = await curl(other.proxy, 'http://web.demo/', ['-D', '-']);
      expect(res.status).toBe(503);
      expect(res.body).toMatch(/^x-skein-error: SKEIN_ERR_LOCAL_NO_ENDPOINT\r?$/im);
      expect(world.hits()['web-a1']! + world.hits()['web-a2']!).toBe(30);
    } finally {
      await other.stop();
    }
  });
});
