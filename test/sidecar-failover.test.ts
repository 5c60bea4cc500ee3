// Locality failover through the sidecar process: a client in zone-a uses zone-a's pods; when
// they die no request fails and traffic moves to zone-b; when they return, so does traffic.
import { describe, expect, it } from 'vitest';
import { eventually, startBackend } from '@skein/testkit';
import { curl, setUp, WebWorld } from './support/sidecar.js';

describe('locality failover (skein.io/locality-failover)', () => {
  const world = new WebWorld({
    'skein.io/locality-failover': 'true',
    'skein.io/outlier-detection': 'consecutive=2,ejection=1s,max-percent=100',
  });
  const mesh = setUp(world);

  const spread = async (n: number): Promise<{ byPod: Record<string, number>; failures: number }> => {
    const byPod: Record<string, number> = {};
    let failures = 0;
    for (let i = 0; i < n; i++) {
      const res = await curl(mesh.sidecar().proxy, 'http://web.demo/');
      if (res.status === 200) byPod[res.body.trim()] = (byPod[res.body.trim()] ?? 0) + 1;
      else failures++;
    }
    return { byPod, failures };
  };

  it('keeps a zone-a client in zone-a while zone-a is healthy', async () => {
    const { byPod, failures } = await spread(30);
    expect(failures).toBe(0);
    expect(byPod['web-b1'] ?? 0).toBe(0);
    expect((byPod['web-a1'] ?? 0) + (byPod['web-a2'] ?? 0)).toBe(30);
  });

  it('moves to zone-b with no failed request when zone-a dies, and comes back when it returns', async () => {
    const zoneA = world.backends.slice(0, 2);
    await Promise.all(zoneA.map((b) => b.close()));
    const during = await spread(40);
    expect(during.failures).toBe(0);
    expect(during.byPod['web-b1']).toBe(40);

    const revived = await Promise.all(zoneA.map((b) => startBackend(b.name, b.address, b.port)));
    world.backends.splice(0, 2, ...revived);
    await eventually(async () => {
      const { byPod } = await spread(5);
      return (byPod['web-a1'] ?? 0) + (byPod['web-a2'] ?? 0) === 5;
    }, 20_000, 200);
  });
});
