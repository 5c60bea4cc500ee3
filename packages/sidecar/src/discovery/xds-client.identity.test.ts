// XdsClient's identity on the wire: the token (read at every connect, refused or missing ->
// retried, never a crash), the replica header, and the locality learned from the Node's labels.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Metadata, status as Status } from '@grpc/grpc-js';
import { encodeResource, TYPE_ENDPOINT_GROUP, TYPE_SERVICE, type EncodedResource } from '@skein/protocol';
import { eventually, FakeDiscoveryServer } from '@skein/testkit';
import type { NodeIdentity } from '../identity.js';
import type { Logger } from '../logger.js';
import { MeshConfig } from './mesh-config.js';
import { staticToken, tokenFile } from './token-source.js';
import { XdsClient, type Locality, type XdsClientOptions } from './xds-client.js';

const identity: NodeIdentity = { id: 'client-1.demo', podName: 'client-1', namespace: 'demo', podIp: '', nodeName: 'node-a', zone: '', region: '' };
const svc: EncodedResource = encodeResource(TYPE_SERVICE, 'demo/web', { name: 'demo/web', namespace: 'demo', clusterIps: ['10.96.0.10'], ports: [{ name: 'http', port: 80 }] });

interface Line { level: string; fields: Record<string, unknown>; message: string }

describe('XdsClient identity', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(options: Partial<XdsClientOptions> = {}): Promise<{ server: FakeDiscoveryServer; client: XdsClient; lines: Line[] }> {
    const server = new FakeDiscoveryServer();
    await server.start();
    cleanups.push(() => server.stop());
    const lines: Line[] = [];
    const log = (level: string) => (fields: object, message: string) => void lines.push({ level, fields: fields as Record<string, unknown>, message });
    const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
    const client = new XdsClient({ address: server.address, identity, config: new MeshConfig(), logger, backoff: { initialMs: 20, maxMs: 100 }, ...options });
    cleanups.push(() => client.close());
    client.start();
    return { server, client, lines };
  }

  const tokenOf = (server: FakeDiscoveryServer, call: number): unknown => server.calls[call]!.metadata.get('authorization')[0];

  it('reads the token file at every connect, so a rotated token is the one sent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skein-token-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'token');
    writeFileSync(path, 'token-one\n');
    const { server } = await setup({ token: tokenFile(path) });
    await eventually(() => server.calls.length === 1);
    expect(tokenOf(server, 0)).toBe('Bearer token-one');
    writeFileSync(path, 'token-two');
    server.calls[0]!.emit('error', { code: Status.UNAVAILABLE, details: 'replica gone' });
    await eventually(() => server.calls.length === 2);
    expect(tokenOf(server, 1)).toBe('Bearer token-two');
  });

  it('retries with backoff while the token file is missing, with a clear status, and connects once it appears', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skein-token-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'token');
    const { server, client, lines } = await setup({ token: tokenFile(path) });
    await eventually(() => lines.filter((l) => l.message.startsWith('xds: no token')).length >= 2);
    expect(server.calls).toHaveLength(0);
    expect(client.status().lastError).toBe(`cannot read token file ${path}: ENOENT`);
    writeFileSync(path, 'late-token');
    await eventually(() => server.calls.length === 1, 5_000);
    expect(tokenOf(server, 0)).toBe('Bearer late-token');
  });

  it('logs a refusal as an error naming the pod, keeps retrying, and never logs the token', async () => {
    const { server, client, lines } = await setup({ token: staticToken('s3cret') });
    await eventually(() => server.calls.length === 1);
    server.calls[0]!.emit('error', { code: Status.PERMISSION_DENIED, details: 'the token is for pod "demo/other"' });
    await eventually(() => server.calls.length === 2);
    const refusal = lines.find((l) => l.level === 'error');
    expect(refusal?.message).toBe('xds: the control plane refused this proxy\'s identity (pod demo/client-1); keeping the last good config and retrying');
    expect(client.status().lastError).toBe('PERMISSION_DENIED: the token is for pod "demo/other"');
    expect(JSON.stringify(lines)).not.toContain('s3cret');
  });

  it('names the replica from the stream\'s initial metadata, before any response', async () => {
    const server = new FakeDiscoveryServer();
    await server.start();
    cleanups.push(() => server.stop());
    const client = new XdsClient({ address: server.address, identity, config: new MeshConfig(), backoff: { initialMs: 20, maxMs: 100 } });
    cleanups.push(() => client.close());
    client.start();
    await eventually(() => server.calls.length === 1);
    const headers = new Metadata();
    headers.set('x-skein-control-plane', 'cp-b');
    server.calls[0]!.sendMetadata(headers);
    await eventually(() => client.status().controlPlane === 'cp-b');
    expect(client.status().received).toEqual({ responses: 0, resources: 0, removed: 0 });
  });

  it('takes zone and region from the Node\'s labels, claims them on the next stream, and lets flags win', async () => {
    const learned: Locality[] = [];
    const { server, client } = await setup({ identity: { ...identity, region: 'flag-region' }, onLocality: (l) => learned.push(l) });
    await eventually(() => server.of(0).length === 2);
    expect(server.of(0)[0]!.node!.locality).toMatchObject({ zone: '', region: 'flag-region' });
    const nodeLocality = { zone: 'zone-b', region: 'label-region' };
    await server.answerTo(server.send(0, TYPE_SERVICE, [svc], [], { nodeLocality }));
    await server.answerTo(server.send(0, TYPE_ENDPOINT_GROUP, [], [], { nodeLocality }));
    expect(learned).toEqual([{ zone: 'zone-b', region: 'flag-region' }]);
    expect(client.status().received).toEqual({ responses: 2, resources: 1, removed: 0 });
    server.calls[0]!.emit('error', { code: Status.UNAVAILABLE, details: 'replica gone' });
    await eventually(() => server.of(1).length === 2);
    expect(server.of(1)[0]!.node!.locality).toMatchObject({ zone: 'zone-b', region: 'flag-region' });
  });
});
