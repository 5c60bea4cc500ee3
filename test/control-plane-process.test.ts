// Process-level behaviour of skein-control-plane: flags and environment twins, identical
// versions across replicas, and bad input on the gRPC port never taking the process down.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { DiscoveryTestClient, eventually } from '@skein/testkit';
import { TYPE_ENDPOINT_GROUP, TYPE_SERVICE } from '@skein/protocol';
import {
  apiServiceYaml, controlPlaneBin, getJson, ManifestDir, nodesYaml, podYaml, startControlPlaneProcess, webServiceYaml,
  type ControlPlaneProcess,
} from './support/control-plane.js';

const node = { id: 'probe', podName: 'probe', namespace: 'demo' };

function rawStream(address: string): grpc.ClientDuplexStream<Buffer, Buffer> {
  const identity = (b: Buffer): Buffer => b;
  const Client = grpc.makeGenericClientConstructor({
    stream: {
      path: '/skein.v1.Discovery/Stream', requestStream: true, responseStream: true,
      requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity,
    },
  }, 'Discovery');
  const client = new Client(address, grpc.credentials.createInsecure()) as unknown as {
    stream(): grpc.ClientDuplexStream<Buffer, Buffer>;
  };
  return client.stream();
}

function endStatus(call: grpc.ClientDuplexStream<Buffer, Buffer>): Promise<grpc.StatusObject> {
  return new Promise((resolve) => {
    call.on('data', () => undefined);
    call.on('error', () => undefined);
    call.on('status', resolve);
  });
}

describe('skein-control-plane process', () => {
  const dir = new ManifestDir();
  let first: ControlPlaneProcess;
  let second: ControlPlaneProcess;

  beforeAll(async () => {
    dir.write('all.yaml', nodesYaml + '---' + webServiceYaml + '---' + podYaml('web-a1', '127.0.0.11', 'node-a') + '---' + podYaml('web-b1', '127.0.0.13', 'node-b') + '---' + apiServiceYaml);
    [first, second] = await Promise.all([
      startControlPlaneProcess(['--source', `files:${dir.path}`, '--max-message-bytes', '65536']),
      startControlPlaneProcess([], { SKEIN_SOURCE: `files:${dir.path}` }),
    ]);
    for (const plane of [first, second]) await eventually(async () => (await fetch(`${plane.httpUrl}/readyz`)).status === 200);
  });

  afterAll(async () => {
    await Promise.all([first?.stop(), second?.stop()]);
    dir.cleanup();
  });

  it('documents every flag in --help, with its environment twin', () => {
    const help = execFileSync(process.execPath, [controlPlaneBin, '--help'], { encoding: 'utf8' });
    for (const flag of ['--source', '--kubeconfig', '--listen-address', '--grpc-port', '--http-port', '--cluster-domain', '--debounce', '--debounce-max', '--debounce-leading', '--max-message-bytes', '--id', '--log-level', '--shutdown-grace']) {
      expect(help).toContain(flag);
    }
    for (const env of ['SKEIN_SOURCE', 'SKEIN_GRPC_PORT', 'SKEIN_HTTP_PORT', 'SKEIN_LOG_LEVEL']) expect(help).toContain(env);
    expect(help).toContain('15010');
    expect(help).toContain('15014');
  });

  it('refuses a bad flag value with a clear message', () => {
    let output = '';
    try {
      execFileSync(process.execPath, [controlPlaneBin, '--grpc-port', 'x', '--source', 'files:/tmp'], { encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      output = String((err as { stderr: string }).stderr);
    }
    expect(output).toMatch(/--grpc-port.*port number/);
  });

  it('gives two control planes fed the same objects identical versions', async () => {
    const versions = async (plane: ControlPlaneProcess): Promise<Record<string, string>> => {
      const client = await DiscoveryTestClient.connect(plane.grpcAddress, node);
      try {
        const out: Record<string, string> = {};
        for (const type of [TYPE_SERVICE, TYPE_ENDPOINT_GROUP]) {
          client.subscribe(type, { mode: 'delta', names: ['*'] });
          const response = await client.next(type);
          for (const r of response.resources) out[`${type} ${r.name}`] = r.version ?? '';
        }
        return out;
      } finally {
        client.close();
      }
    };
    const [a, b] = await Promise.all([versions(first), versions(second)]);
    expect(Object.keys(a)).toHaveLength(4);
    expect(a).toEqual(b);
    const [snapA, snapB] = await Promise.all([getJson(`${first.httpUrl}/v1/snapshot`), getJson(`${second.httpUrl}/v1/snapshot`)]);
    expect(snapA.version).toBe(snapB.version);
  });

  it('ends a stream of garbage bytes with an error status and keeps serving', async () => {
    const call = rawStream(first.grpcAddress);
    const status = endStatus(call);
    call.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
    expect((await status).code).not.toBe(grpc.status.OK);
    expect((await fetch(`${first.httpUrl}/healthz`)).status).toBe(200);
  });

  it('refuses an oversized message and a stream without node identity, and keeps serving', async () => {
    const big = rawStream(first.grpcAddress);
    const bigStatus = endStatus(big);
    big.write(Buffer.alloc(200_000, 0x0a));
    expect((await bigStatus).code).toBe(grpc.status.RESOURCE_EXHAUSTED);

    const anonymous = rawStream(first.grpcAddress);
    const anonymousStatus = endStatus(anonymous);
    anonymous.write(Buffer.from([0x12, 0x10, ...Buffer.from('skein.v1.Service')]));
    const refused = await anonymousStatus;
    expect(refused.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(refused.details).toMatch(/node/i);

    const client = await DiscoveryTestClient.connect(first.grpcAddress, node);
    client.subscribe(TYPE_SERVICE, { mode: 'sotw', names: ['*'] });
    expect((await client.next(TYPE_SERVICE)).resources).toHaveLength(2);
    client.close();
  });

  it('exits cleanly on SIGTERM', async () => {
    const plane = await startControlPlaneProcess(['--source', `files:${dir.path}`]);
    const code = await plane.stop('SIGTERM');
    expect({ code, signal: plane.child.signalCode, tail: plane.lines.slice(-3) }).toMatchObject({ code: 0 });
  });
});
