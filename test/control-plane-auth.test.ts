// Files mode with --auth token-file:<path>: one shared token, as outside Kubernetes. Sidecars
// that show it stream (and learn their locality from the manifest's Node); others are refused.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@skein/testkit';
import { getJson, startControlPlaneProcess, type ControlPlaneProcess } from './support/control-plane.js';
import { scrape, sum } from './support/prometheus.js';
import { curl, startSidecarProcess, WebWorld } from './support/sidecar.js';

describe('control plane with --auth token-file (files mode)', () => {
  const world = new WebWorld();
  const secrets = mkdtempSync(join(tmpdir(), 'skein-auth-'));
  const serverToken = join(secrets, 'server-token');
  const sidecarToken = join(secrets, 'sidecar-token');
  let plane: ControlPlaneProcess;

  beforeAll(async () => {
    await world.start();
    writeFileSync(serverToken, 'mesh-shared-secret\n');
    writeFileSync(sidecarToken, 'mesh-shared-secret');
    plane = await startControlPlaneProcess(['--source', `files:${world.dir.path}`, '--auth', `token-file:${serverToken}`]);
    expect(plane.listening.auth).toBe('token-file');
  });

  afterAll(async () => {
    await plane?.stop();
    await world.close();
    rmSync(secrets, { recursive: true, force: true });
  });

  it('streams to a sidecar that shows the shared token, which takes its region from the manifest\'s Node', async () => {
    const sidecar = await startSidecarProcess(['--control-plane', plane.grpcAddress, '--token-file', sidecarToken]);
    try {
      await eventually(async () => (await fetch(`${sidecar.admin}/ready`)).status === 200);
      expect((await curl(sidecar.proxy, 'http://web.demo/')).status).toBe(200);
      // --zone zone-a from the helper stays; the region was not given, so node-a's label fills it.
      expect((await getJson(`${sidecar.admin}/clusters`)).clusters).toMatchObject({ zone: 'zone-a', region: 'region-1' });
    } finally {
      await sidecar.stop();
    }
  });

  it('refuses a wrong token and a missing one with UNAUTHENTICATED and counts them by reason', async () => {
    const wrong = await startSidecarProcess(['--control-plane', plane.grpcAddress, '--token', 'guess', '--pod-name', 'client-2']);
    const none = await startSidecarProcess(['--control-plane', plane.grpcAddress, '--pod-name', 'client-3']);
    try {
      const refusal = (line: Record<string, unknown>) => String(line.msg).startsWith('xds: the control plane refused');
      expect((await wrong.waitForLine(refusal)).error).toBe('UNAUTHENTICATED: the token is not the shared token');
      expect((await none.waitForLine(refusal)).error).toMatch(/^UNAUTHENTICATED: no token: /);
      expect((await fetch(`${wrong.admin}/ready`)).status).toBe(503);
      const { samples } = await scrape(plane.httpUrl);
      expect(sum(samples, 'skein_xds_auth_failures_total', { reason: 'invalid-token' })).toBeGreaterThanOrEqual(1);
      expect(sum(samples, 'skein_xds_auth_failures_total', { reason: 'no-token' })).toBeGreaterThanOrEqual(1);
      expect(plane.lines.find((l) => l.reason === 'invalid-token')).toMatchObject({ pod: 'demo/client-2' });
      expect(JSON.stringify([plane.lines, wrong.lines])).not.toMatch(/guess|mesh-shared-secret/);
    } finally {
      await Promise.all([wrong.stop(), none.stop()]);
    }
  });
});
