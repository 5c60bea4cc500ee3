// Secrets never reach the logs: a control plane and sidecars at debug level, fed tokens and
// credentials through every door they have today, never print them on stdout or stderr.
// Needs the built packages (pnpm build).
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mode, TYPE_SERVICE } from '@skein/protocol';
import { createLogger } from '@skein/control-plane';
import { DiscoveryTestClient, eventually, type SpawnedProcess } from '@skein/testkit';
import { getJson, startControlPlaneProcess, type ControlPlaneProcess } from './support/control-plane.js';
import { curl, startSidecarProcess, WebWorld, type SidecarProcess } from './support/sidecar.js';

const SECRET = 'sk-7f3a9c1e5b-never-log-me';

/** Everything the process wrote, one string (parsed JSON lines re-serialized, raw lines as they were). */
const output = (proc: SpawnedProcess): string => proc.lines.map((line) => JSON.stringify(line)).join('\n');

describe('telemetry: the control plane logger', () => {
  it('prints [Redacted] for token, identity.token and headers.authorization', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = createLogger('debug', {}, sink);
    log.debug({ token: SECRET, identity: { id: 'client-1.demo', token: SECRET }, headers: { authorization: `Bearer ${SECRET}` } }, 'with secrets');
    const line = JSON.parse(lines.join('')) as { token: string; identity: { id: string; token: string }; headers: { authorization: string } };
    expect(line).toMatchObject({ token: '[Redacted]', identity: { id: 'client-1.demo', token: '[Redacted]' }, headers: { authorization: '[Redacted]' } });
    expect(lines.join('')).not.toContain(SECRET);
  });
});

describe('telemetry: no secret in the output of processes at debug level', () => {
  const world = new WebWorld();
  let plane: ControlPlaneProcess;
  let sidecar: SidecarProcess;

  beforeAll(async () => {
    await world.start();
    plane = await startControlPlaneProcess(['--source', `files:${world.dir.path}`, '--log-level', 'debug']);
    sidecar = await startSidecarProcess(['--control-plane', plane.grpcAddress, '--log-level', 'debug']);
    await eventually(async () => (await fetch(`${sidecar.admin}/ready`)).status === 200);
  });

  afterAll(async () => {
    await sidecar?.stop();
    await plane?.stop();
    await world.close();
  });

  it('the control plane never prints the token a subscriber identifies with', async () => {
    const client = DiscoveryTestClient.connect(plane.grpcAddress, { id: 'token-holder.demo', podName: 'token-holder', namespace: 'demo', token: SECRET });
    try {
      client.subscribe(TYPE_SERVICE, { mode: 'delta' });
      const response = await client.next(TYPE_SERVICE);
      client.nack(response, `cannot apply (client holds ${SECRET.length} chars of token)`);
      // A broken request on the identified stream: logged as rejected, with the node.
      client.send({ typeUrl: 'skein.v1.Unknown', mode: Mode.MODE_DELTA });
      await plane.waitForLine((line) => line.msg === 'discovery request rejected' && (line.node as string) === 'token-holder.demo');
      const { proxies } = await getJson<{ proxies: unknown[] }>(`${plane.httpUrl}/debug/proxies`);
      expect(JSON.stringify(proxies)).not.toContain(SECRET);
    } finally {
      client.close();
    }
    expect(output(plane)).toContain('token-holder.demo');
    expect(output(plane)).not.toContain(SECRET);
  });

  it('the sidecar never prints Authorization headers or URL tokens of proxied requests', async () => {
    const auth = ['-H', `Authorization: Bearer ${SECRET}`, '-H', `Cookie: session=${SECRET}`];
    expect((await curl(sidecar.proxy, `http://web.demo/?access_token=${SECRET}`, auth)).status).toBe(200);
    expect((await curl(sidecar.proxy, `http://nope.demo/?access_token=${SECRET}`, auth)).status).toBe(503);
    expect((await curl(sidecar.proxy, 'http://web.demo/', ['-U', `skein:${SECRET}`, ...auth])).status).toBe(200);
    expect(output(sidecar)).toMatch(/"level":"debug"/);
    expect(output(sidecar)).not.toContain(SECRET);
  });

  it('the sidecar never prints the credentials of its --snapshot-url, nor shows them on /config_dump', async () => {
    const url = `http://skein:${SECRET}@127.0.0.1:${new URL(plane.httpUrl).port}`;
    const polling = await startSidecarProcess(['--snapshot-url', url, '--log-level', 'debug', '--pod-name', 'client-2']);
    try {
      // fetch refuses a URL with credentials: the failure is logged, with the URL, redacted.
      const failed = await polling.waitForLine((line) => line.msg === 'http discovery: poll failed; keeping the last good config');
      expect(failed.url).toContain('[Redacted]@127.0.0.1');
      expect(polling.listening.controlPlane).toContain('[Redacted]@');
      const dump = await (await fetch(`${polling.admin}/config_dump`)).text();
      expect(dump).toContain('[Redacted]');
      expect(dump).not.toContain(SECRET);
    } finally {
      await polling.stop();
    }
    expect(output(polling)).not.toContain(SECRET);
  });
});
