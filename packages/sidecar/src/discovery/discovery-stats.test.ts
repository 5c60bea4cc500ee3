// What the discovery clients count for metrics, and the URL redaction they log through.
import { afterEach, describe, expect, it } from 'vitest';
import { status as Status } from '@grpc/grpc-js';
import { encodeResource, TYPE_ENDPOINT_GROUP, TYPE_SERVICE, type EncodedResource } from '@skein/protocol';
import { eventually, FakeDiscoveryServer } from '@skein/testkit';
import type { Logger } from '../logger.js';
import { HttpDiscoveryClient } from './http-discovery-client.js';
import { MeshConfig } from './mesh-config.js';
import { redactUrl, scrubSecrets, urlSecrets } from './redact-url.js';
import { XdsClient } from './xds-client.js';

const svc = (name: string): EncodedResource => encodeResource(TYPE_SERVICE, name, {
  name, namespace: name.split('/')[0], clusterIps: ['10.96.0.10'], ports: [{ name: 'http', port: 80 }],
});
const group = (name: string, address: string): EncodedResource => encodeResource(TYPE_ENDPOINT_GROUP, name, {
  name, namespace: name.split('/')[0], service: name.split('/')[1], endpoints: [{ address, ready: true, ports: [{ name: 'http', port: 8080 }] }],
});

/** A Logger keeping every line as JSON text. */
function recordingLogger(): { logger: Logger; text: () => string } {
  const lines: string[] = [];
  const log = (fields: object, message: string): void => void lines.push(JSON.stringify({ ...fields, message }));
  return { logger: { debug: log, info: log, warn: log, error: log }, text: () => lines.join('\n') };
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('XdsClient.stats()', () => {
  it('counts applied responses with version and time per type, NACKs, and reconnects', async () => {
    const server = new FakeDiscoveryServer();
    await server.start();
    cleanups.push(() => server.stop());
    const client = new XdsClient({
      address: server.address, config: new MeshConfig(), backoff: { initialMs: 20, maxMs: 200 },
      identity: { id: 'client-1.demo', podName: 'client-1', namespace: 'demo', podIp: '', nodeName: '', zone: '', region: '' },
    });
    cleanups.push(() => client.close());
    client.start();
    await eventually(() => server.of(0).length === 2);
    expect(client.stats()).toEqual({ types: {}, reconnects: 0 });

    const before = Date.now();
    for (const nonce of [server.send(0, TYPE_SERVICE, [svc('demo/web')]), server.send(0, TYPE_ENDPOINT_GROUP, [group('demo/web', '10.0.0.1')])]) {
      expect((await server.answerTo(nonce)).errorDetail).toBeFalsy();
    }
    const applied = client.stats().types;
    expect(applied[TYPE_SERVICE]).toMatchObject({ version: client.status().acked[TYPE_SERVICE], applied: 1, nacks: 0 });
    expect(applied[TYPE_ENDPOINT_GROUP]).toMatchObject({ version: client.status().acked[TYPE_ENDPOINT_GROUP], applied: 1, nacks: 0 });
    expect(applied[TYPE_SERVICE]!.appliedAt).toBeGreaterThanOrEqual(before);

    expect((await server.answerTo(server.send(0, TYPE_ENDPOINT_GROUP, [group('demo/web', 'not-an-ip')]))).errorDetail).toBeTruthy();
    expect(client.stats().types[TYPE_ENDPOINT_GROUP]).toMatchObject({ version: applied[TYPE_ENDPOINT_GROUP]!.version, applied: 1, nacks: 1 });

    server.calls[0]!.emit('error', { code: Status.UNAVAILABLE, details: 'replica going away' });
    await eventually(() => server.of(1).length === 2);
    expect(client.stats().reconnects).toBe(1);
  });
});

describe('HttpDiscoveryClient.stats() and secrets in its URL', () => {
  const snapshot = (version: string, address: string): Response => new Response(JSON.stringify({
    version,
    services: [{ name: 'demo/web', version: 's1', resource: { name: 'demo/web', namespace: 'demo', clusterIps: ['10.96.0.10'], ports: [{ name: 'http', port: 80 }] } }],
    endpointGroups: [{ name: 'demo/web', version: address, resource: { name: 'demo/web', namespace: 'demo', service: 'web', endpoints: [{ address, ready: true }] } }],
  }), { status: 200, headers: { etag: `"${version}"` } });

  it('counts snapshots applied per type under their ETag, rejections, and recoveries after failures', async () => {
    const answers: Array<() => Response> = [() => snapshot('etag-1', '10.0.0.1'), () => { throw new TypeError('fetch failed'); }, () => snapshot('etag-2', 'bad-ip')];
    const client = new HttpDiscoveryClient({ url: 'http://cp:15014', config: new MeshConfig(), fetch: async () => answers.shift()!() });
    await client.refresh();
    expect(client.stats().types[TYPE_SERVICE]).toMatchObject({ version: 'etag-1', applied: 1, nacks: 0 });
    expect(client.stats().types[TYPE_ENDPOINT_GROUP]).toMatchObject({ version: 'etag-1', applied: 1, nacks: 0 });
    await client.refresh();
    expect(client.stats().reconnects).toBe(0);
    await client.refresh();
    expect(client.stats().reconnects).toBe(1);
    expect(client.stats().types[TYPE_SERVICE]).toMatchObject({ version: 'etag-2', applied: 2 });
    expect(client.stats().types[TYPE_ENDPOINT_GROUP]).toMatchObject({ version: 'etag-1', applied: 1, nacks: 1 });
  });

  it('never logs or reports the credentials of its URL', async () => {
    const { logger, text } = recordingLogger();
    const url = 'http://skein:hunter2-secret@127.0.0.1:1';
    // What undici says about such a URL: the credentials are in its message.
    const client = new HttpDiscoveryClient({ url, config: new MeshConfig(), logger, fetch: async (input) => {
      throw new TypeError(`Request cannot be constructed from a URL that includes credentials: ${String(input)}`);
    } });
    await client.refresh();
    expect(client.status().lastError).toContain('includes credentials');
    expect(text()).toContain('poll failed');
    expect(`${text()} ${client.status().lastError}`).not.toContain('hunter2');
  });
});

describe('redactUrl', () => {
  it.each([
    ['http://user:pa55word@cp:15014/v1/snapshot', 'http://[Redacted]@cp:15014/v1/snapshot'],
    ['https://ghp_tokenvalue@cp/', 'https://[Redacted]@cp/'],
    ['http://cp:15014/v1/snapshot?namespace=demo&access_token=abc.def&X-Amz-Signature=f00', 'http://cp:15014/v1/snapshot?namespace=demo&access_token=[Redacted]&X-Amz-Signature=[Redacted]'],
    ['http://cp:15014', 'http://cp:15014/'],
    ['cp:15014', 'cp:15014'],
    ['not a url //me:secret@host', 'not a url //[Redacted]@host'],
  ])('%s -> %s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });

  it('lists the secrets of a URL, raw and decoded, for scrubbing messages', () => {
    const secrets = urlSecrets('http://me:p%40ss-word@cp/?token=t0k3n&namespace=demo');
    expect(secrets).toEqual(expect.arrayContaining(['p%40ss-word', 'p@ss-word', 't0k3n']));
    expect(secrets).not.toContain('demo');
    expect(scrubSecrets('GET http://me:p%40ss-word@cp/?token=t0k3n failed (p@ss-word)', secrets)).toBe('GET http://me:[Redacted]@cp/?token=[Redacted] failed ([Redacted])');
  });
});
