// Real grpc-js clients and servers through the sidecar's listeners: CONNECT (grpc_proxy), h2c by
// prior knowledge on the outbound port, and a per-service listener. Unary and server-streaming
// calls, status codes and trailing metadata must pass through unchanged.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadPort, FakeDataplane } from './fake-dataplane.test-helper.js';
import { ServiceListener } from './h2c-proxy.js';
import { OutboundProxy } from './outbound-proxy.js';

interface HelloRequest { name: string }
interface HelloReply { from: string; message: string }
interface CountRequest { n: number }
interface CountReply { i: number; from: string }

const encode = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const decode = <T>(bytes: Buffer): T => JSON.parse(bytes.toString()) as T;

const greeter = {
  hello: {
    path: '/skein.test.Greeter/Hello', requestStream: false, responseStream: false,
    requestSerialize: encode, requestDeserialize: decode<HelloRequest>, responseSerialize: encode, responseDeserialize: decode<HelloReply>,
  },
  count: {
    path: '/skein.test.Greeter/Count', requestStream: false, responseStream: true,
    requestSerialize: encode, requestDeserialize: decode<CountRequest>, responseSerialize: encode, responseDeserialize: decode<CountReply>,
  },
} satisfies grpc.ServiceDefinition;

const GreeterClient = grpc.makeGenericClientConstructor(greeter, 'Greeter');
type Greeter = InstanceType<typeof GreeterClient>;

async function startGreeter(name: string, address: string): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(greeter, {
    hello: (call: grpc.ServerUnaryCall<HelloRequest, HelloReply>, callback: grpc.sendUnaryData<HelloReply>) => {
      if (call.request.name === 'nobody') {
        const metadata = new grpc.Metadata();
        metadata.set('x-why', 'no-such-person');
        callback({ code: grpc.status.NOT_FOUND, details: `${name}: nobody is not here`, metadata });
        return;
      }
      callback(null, { from: name, message: `hello ${call.request.name}` });
    },
    count: (call: grpc.ServerWritableStream<CountRequest, CountReply>) => {
      for (let i = 0; i < call.request.n; i++) call.write({ i, from: name });
      const trailer = new grpc.Metadata();
      trailer.set('x-total', String(call.request.n));
      call.end(trailer);
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${address}:0`, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
  });
  return { server, port };
}

function hello(client: Greeter, name: string): Promise<HelloReply> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(greeter.hello.path, encode, decode<HelloReply>, { name }, (error, reply) => (error ? reject(error) : resolve(reply!)));
  });
}

function count(client: Greeter, n: number): Promise<{ replies: CountReply[]; status: grpc.StatusObject }> {
  return new Promise((resolve, reject) => {
    const call = client.makeServerStreamRequest(greeter.count.path, encode, decode<CountReply>, { n });
    const replies: CountReply[] = [];
    let status: grpc.StatusObject | undefined;
    call.on('data', (reply: CountReply) => replies.push(reply));
    call.on('status', (s: grpc.StatusObject) => { status = s; });
    call.on('error', reject);
    call.on('end', () => setImmediate(() => resolve({ replies, status: status! })));
  });
}

async function helloFails(client: Greeter, name: string): Promise<grpc.ServiceError> {
  try {
    await hello(client, name);
  } catch (error) {
    return error as grpc.ServiceError;
  }
  throw new Error('expected the call to fail');
}

describe('gRPC through the sidecar', () => {
  const dataplane = new FakeDataplane();
  const greeters: Array<{ server: grpc.Server; port: number }> = [];
  const clients: Greeter[] = [];
  let proxy: OutboundProxy;
  let listener: ServiceListener;
  let proxyPort: number;
  let listenerPort: number;

  beforeAll(async () => {
    for (const [i, name] of ['g1', 'g2', 'g3'].entries()) greeters.push(await startGreeter(name, `127.0.0.${i + 2}`));
    dataplane.set('greeter.demo', 50051, greeters.map((g, i) => ({ address: `127.0.0.${i + 2}`, port: g.port })));
    dataplane.set('flaky.demo', 50051, [{ address: '127.0.0.9', port: await deadPort('127.0.0.9') }, { address: '127.0.0.2', port: greeters[0]!.port }]);
    proxy = new OutboundProxy({ dataplane });
    proxyPort = await proxy.listen('127.0.0.1', 0);
    listener = new ServiceListener({ dataplane, host: 'greeter.demo', port: 50051 });
    listenerPort = await listener.listen('127.0.0.1', 0);
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await Promise.all([proxy.close(1000), listener.close(1000)]);
    for (const g of greeters) g.server.forceShutdown();
  });

  /** A client to `target`; `viaProxy` sets grpc_proxy while the channel is created (grpc-js reads it then). */
  function client(target: string, options: grpc.ChannelOptions = {}, viaProxy = false): Greeter {
    const saved = process.env.grpc_proxy;
    if (viaProxy) process.env.grpc_proxy = `http://127.0.0.1:${proxyPort}`;
    try {
      const created = new GreeterClient(target, grpc.credentials.createInsecure(), options);
      clients.push(created);
      return created;
    } finally {
      if (saved === undefined) delete process.env.grpc_proxy;
      else process.env.grpc_proxy = saved;
    }
  }

  it('works through CONNECT (grpc_proxy): one tunnel, so one endpoint per channel', async () => {
    const c = client('greeter.demo:50051', {}, true);
    const replies = [];
    for (let i = 0; i < 6; i++) replies.push(await hello(c, `caller${i}`));
    expect(new Set(replies.map((r) => r.from)).size).toBe(1);
    expect(replies[5]!.message).toBe('hello caller5');
    const streamed = await count(c, 5);
    expect(streamed.replies.map((r) => r.i)).toEqual([0, 1, 2, 3, 4]);
    expect(streamed.status.code).toBe(grpc.status.OK);
    expect(streamed.status.metadata.get('x-total')).toEqual(['5']);
    const error = await helloFails(c, 'nobody');
    expect(error.code).toBe(grpc.status.NOT_FOUND);
    expect(error.details).toMatch(/nobody is not here/);
    expect(error.metadata.get('x-why')).toEqual(['no-such-person']);
    // Every call rode one CONNECT tunnel.
    expect(Object.values(proxy.stats()['demo/greeter']!).reduce((sum, c) => sum + c.total, 0)).toBe(1);
  });

  it('balances each call over h2c by prior knowledge on the outbound port', async () => {
    const c = client(`127.0.0.1:${proxyPort}`, { 'grpc.default_authority': 'greeter.demo:50051' });
    const from: Record<string, number> = {};
    for (let i = 0; i < 30; i++) {
      const reply = await hello(c, 'h2c');
      from[reply.from] = (from[reply.from] ?? 0) + 1;
    }
    expect(from).toEqual({ g1: 10, g2: 10, g3: 10 });
    const streamed = await count(c, 50);
    expect(streamed.replies).toHaveLength(50);
    expect(streamed.status.metadata.get('x-total')).toEqual(['50']);
    const error = await helloFails(c, 'nobody');
    expect(error.code).toBe(grpc.status.NOT_FOUND);
    expect(error.metadata.get('x-why')).toEqual(['no-such-person']);
  });

  it('balances each call through a per-service listener', async () => {
    const c = client(`127.0.0.1:${listenerPort}`);
    const from = new Set<string>();
    for (let i = 0; i < 9; i++) from.add((await hello(c, 'listener')).from);
    expect(from).toEqual(new Set(['g1', 'g2', 'g3']));
    const streamed = await count(c, 3);
    expect(streamed.replies.map((r) => r.i)).toEqual([0, 1, 2]);
    expect(streamed.status.code).toBe(grpc.status.OK);
  });

  it('retries an h2c call whose endpoint refuses on another endpoint', async () => {
    const c = client(`127.0.0.1:${proxyPort}`, { 'grpc.default_authority': 'flaky.demo:50051' });
    for (let i = 0; i < 4; i++) expect((await hello(c, 'retry')).from).toBe('g1');
    const dead = Object.entries(proxy.stats()['demo/flaky']!).find(([key]) => key.startsWith('127.0.0.9'))![1];
    expect(dead.connectFailures).toBeGreaterThan(0);
  });

  it('fails an h2c call to an unknown service with UNAVAILABLE and the reason', async () => {
    const c = client(`127.0.0.1:${proxyPort}`, { 'grpc.default_authority': 'nope.demo:50051' });
    const error = await helloFails(c, 'anyone');
    expect(error.code).toBe(grpc.status.UNAVAILABLE);
    expect(error.details).toContain('unknown service "nope.demo"');
  });
});
