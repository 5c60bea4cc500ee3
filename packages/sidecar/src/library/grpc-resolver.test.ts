// The skein: resolver with real grpc-js servers on 127.0.0.x: per-call balancing and
// following endpoint changes, with a StaticDataplane as the brain.
import { credentials, makeGenericClientConstructor, Server, ServerCredentials, status, type Client, type ServiceDefinition } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@skein/testkit';
import { unknownServiceError } from '../errors.js';
import { createMesh, type Mesh } from './create-mesh.js';
import { StaticDataplane } from './static-dataplane.js';

interface Hello { name: string }
interface Reply { server: string; name: string }

const json = {
  serialize: (value: unknown): Buffer => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer): unknown => JSON.parse(bytes.toString()) as unknown,
};
const greeterService: ServiceDefinition = {
  hello: {
    path: '/test.Greeter/Hello', requestStream: false, responseStream: false,
    requestSerialize: json.serialize, requestDeserialize: json.deserialize,
    responseSerialize: json.serialize, responseDeserialize: json.deserialize,
  },
};
const GreeterClient = makeGenericClientConstructor(greeterService, 'test.Greeter');
type Greeter = Client & { hello(request: Hello, callback: (error: Error | null, reply?: Reply) => void): void };

interface GrpcBackend { name: string; address: string; port: number; calls: number; server: Server }

async function startGrpcBackend(name: string, address: string): Promise<GrpcBackend> {
  const server = new Server();
  const backend: GrpcBackend = { name, address, port: 0, calls: 0, server };
  server.addService(greeterService, {
    hello: (call: { request: Hello }, callback: (error: null, reply: Reply) => void) => {
      backend.calls++;
      callback(null, { server: name, name: call.request.name });
    },
  });
  backend.port = await new Promise<number>((resolve, reject) => server.bindAsync(`${address}:0`, ServerCredentials.createInsecure(), (error, port) => error ? reject(error) : resolve(port)));
  return backend;
}

const call = (client: Greeter, name: string): Promise<Reply> =>
  new Promise((resolve, reject) => client.hello({ name }, (error, reply) => error ? reject(error) : resolve(reply!)));

describe('grpc-js through the skein: resolver', () => {
  const backends: GrpcBackend[] = [];
  let dataplane: StaticDataplane;
  let mesh: Mesh;
  let client: Greeter;
  const endpoints = (...list: GrpcBackend[]): { endpoints: Array<{ address: string; port: number }> } =>
    ({ endpoints: list.map((b) => ({ address: b.address, port: b.port })) });

  beforeAll(async () => {
    backends.push(...await Promise.all([startGrpcBackend('g1', '127.0.0.21'), startGrpcBackend('g2', '127.0.0.22'), startGrpcBackend('g3', '127.0.0.23')]));
    dataplane = new StaticDataplane({ 'greeter.demo:50051': endpoints(...backends) }, { outboundPolicy: 'registry-only' });
    mesh = createMesh({ dataplane });
    mesh.grpc.register();
  });
  afterAll(async () => {
    client?.close();
    await mesh.close();
    await Promise.all(backends.map((b) => new Promise<void>((resolve) => b.server.tryShutdown(() => resolve()))));
  });

  it('builds skein:/// targets', () => {
    expect(mesh.grpc.target('greeter.demo:50051')).toBe('skein:///greeter.demo:50051');
    expect(mesh.grpc.target('greeter.demo', 50051)).toBe('skein:///greeter.demo:50051');
  });

  it('spreads calls over every endpoint (round_robin per call)', async () => {
    client = new GreeterClient(mesh.grpc.target('greeter.demo:50051'), credentials.createInsecure()) as unknown as Greeter;
    // Until every subchannel is READY, round_robin uses the ready ones: warm up first.
    await eventually(async () => {
      await call(client, 'warm-up');
      return backends.every((b) => b.calls > 0);
    });
    for (const b of backends) b.calls = 0;
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => call(client, `n${i}`)));
    expect(replies.map((r) => r.name)).toEqual(Array.from({ length: 60 }, (_, i) => `n${i}`));
    expect(backends.map((b) => b.calls)).toEqual([20, 20, 20]);
  });

  it('follows endpoint changes from the data plane', async () => {
    dataplane.set('greeter.demo:50051', endpoints(backends[2]!));
    await eventually(async () => (await call(client, 'moving')).server === 'g3' && (await call(client, 'moving')).server === 'g3');
    for (const b of backends) b.calls = 0;
    await Promise.all(Array.from({ length: 10 }, () => call(client, 'after')));
    expect(backends.map((b) => b.calls)).toEqual([0, 0, 10]);
    dataplane.set('greeter.demo:50051', endpoints(backends[0]!, backends[1]!));
    await eventually(async () => (await call(client, 'back')).server !== 'g3');
  });

  it('waits for an on-demand name, and for its endpoints when its Service comes first', async () => {
    const backing = new StaticDataplane();
    const wakers = new Set<() => void>();
    let known = false;
    const onDemand = createMesh({
      dataplane: {
        ready: true,
        resolve: (host, port) => known ? backing.resolve(host, port) : { type: 'reject', error: unknownServiceError(host, true) },
        whenKnown: () => new Promise((resolve) => wakers.add(resolve)),
        report: () => undefined,
        onChange: (listener) => backing.onChange(listener),
      },
    });
    onDemand.grpc.register({ scheme: 'skein-on-demand' });
    const lazy = new GreeterClient(onDemand.grpc.target('lazy.demo:50051'), credentials.createInsecure()) as unknown as Greeter;
    try {
      const reply = call(lazy, 'first');
      setTimeout(() => {
        known = true;
        backing.set('lazy.demo:50051', { endpoints: [] });
        for (const wake of wakers) wake();
      }, 30);
      setTimeout(() => backing.set('lazy.demo:50051', endpoints(backends[1]!)), 80);
      expect(await reply).toEqual({ server: 'g2', name: 'first' });
    } finally {
      lazy.close();
      await onDemand.close();
    }
  });

  it('fails calls to a name the mesh refuses with UNAVAILABLE and the mesh code', async () => {
    const other = new GreeterClient(mesh.grpc.target('nowhere.demo', 50051), credentials.createInsecure()) as unknown as Greeter;
    try {
      const error = await call(other, 'x').catch((e: unknown) => e as { code: number; details: string });
      expect(error).toMatchObject({ code: status.UNAVAILABLE });
      expect((error as { details: string }).details).toContain('SKEIN_ERR_NOT_IN_REGISTRY');
    } finally {
      other.close();
    }
  });
});
