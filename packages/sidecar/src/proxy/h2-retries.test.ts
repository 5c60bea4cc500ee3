// Refused-stream retries, opt-in retries (`skein.io/retries`), the retry budget and the overall
// timeout (`skein.io/timeout`) of the h2c proxy, against in-process HTTP/2 endpoints that answer
// 503, refuse or reset streams, say GOAWAY, hang, or answer 200 — with node's HTTP/2 client and
// with grpc-js.
import * as grpc from '@grpc/grpc-js';
import {
  connect, constants, createServer, type ClientHttp2Session, type ClientHttp2Stream, type Http2Server,
  type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Destination, Picker, RequestCounter, Target } from '../dataplane.js';
import { noopLogger } from '../logger.js';
import { ClusterStats } from './cluster-stats.js';
import { FakeDataplane, waitFor, type Endpoint, type RequestPolicy } from './fake-dataplane.test-helper.js';
import { H2cProxy } from './h2c-proxy.js';

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, NGHTTP2_REFUSED_STREAM } = constants;

/**
 * ok: answers `ok <name> <body>` once the request body ended; 503: answers 503 at once;
 * refuse: RST_STREAM REFUSED_STREAM at once; refuse-after-data: the same once a body byte
 * arrived; reset: RST_STREAM INTERNAL_ERROR before headers; hang: holds the stream; stall-body:
 * sends headers and part of a body, then holds; goaway: holds its first stream, and answers any
 * later one with GOAWAY(INTERNAL_ERROR, first stream); grpc: a unary gRPC reply `{from: name}`.
 */
type Behaviour = 'ok' | '503' | 'refuse' | 'refuse-after-data' | 'reset' | 'hang' | 'stall-body' | 'goaway' | 'grpc';

interface Backend extends Endpoint {
  readonly name: string;
  readonly server: Http2Server;
  /** Streams seen. */
  total: number;
  /** Held streams (hang, stall-body, goaway's first). */
  readonly held: ServerHttp2Stream[];
  /** Held streams the proxy cancelled. */
  cancelled: number;
  readonly sessions: Set<ServerHttp2Session>;
}

/** A gRPC message frame: uncompressed flag, 32-bit length, JSON. */
function grpcFrame(value: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(value));
  const head = Buffer.alloc(5);
  head.writeUInt32BE(json.length, 1);
  return Buffer.concat([head, json]);
}

async function backend(behaviour: Behaviour, name: string): Promise<Backend> {
  const server = createServer();
  const b: Backend & { port: number } = { name, server, address: '127.0.0.1', port: 0, total: 0, held: [], cancelled: 0, sessions: new Set() };
  server.on('session', (session: ServerHttp2Session) => {
    b.sessions.add(session);
    session.on('error', () => undefined);
    session.once('close', () => b.sessions.delete(session));
  });
  const hold = (stream: ServerHttp2Stream): void => {
    b.held.push(stream);
    stream.once('close', () => {
      if (stream.rstCode === NGHTTP2_CANCEL) b.cancelled++;
    });
  };
  server.on('stream', (stream: ServerHttp2Stream) => {
    b.total++;
    stream.on('error', () => undefined);
    switch (behaviour) {
      case 'ok': {
        let body = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => { body += chunk; });
        stream.once('end', () => {
          stream.respond({ ':status': 200 });
          stream.end(body === '' ? `ok ${name}` : `ok ${name} ${body}`);
        });
        return;
      }
      case '503':
        stream.resume();
        stream.respond({ ':status': 503, 'content-type': 'text/plain' });
        stream.end(`unavailable ${name}`);
        return;
      case 'refuse':
        stream.close(NGHTTP2_REFUSED_STREAM);
        return;
      case 'refuse-after-data':
        stream.once('data', () => stream.close(NGHTTP2_REFUSED_STREAM));
        return;
      case 'reset':
        stream.close(NGHTTP2_INTERNAL_ERROR);
        return;
      case 'hang':
        stream.resume();
        hold(stream);
        return;
      case 'stall-body':
        stream.resume();
        stream.respond({ ':status': 200 });
        stream.write('partial');
        hold(stream);
        return;
      case 'goaway':
        stream.resume();
        if (b.held.length === 0) hold(stream);
        else stream.session?.goaway(NGHTTP2_INTERNAL_ERROR, b.held[0]!.id);
        return;
      case 'grpc':
        stream.resume();
        stream.once('end', () => {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
          stream.end(grpcFrame({ from: name }));
        });
        return;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  b.port = (server.address() as AddressInfo).port;
  return b;
}

/** A FakeDataplane whose pickers count outstanding requests per target (least request's view). */
class CountingDataplane extends FakeDataplane {
  readonly outstanding = new Map<string, number>();

  override resolve(host: string, port: number): Destination {
    const destination = super.resolve(host, port);
    if (destination.type !== 'service') return destination;
    const inner = destination.picker;
    const count = (target: Target, delta: number): void => {
      this.outstanding.set(target.key, (this.outstanding.get(target.key) ?? 0) + delta);
    };
    const picker: Picker & RequestCounter = {
      size: inner.size,
      pick: (exclude, hash) => inner.pick(exclude, hash),
      started: (target) => count(target, 1),
      finished: (target) => count(target, -1),
    };
    return { ...destination, picker };
  }
}

interface Reply {
  readonly status: number | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The stream's RST_STREAM code (0 when it ended cleanly). */
  readonly rstCode: number | undefined;
}

const encode = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const decode = (bytes: Buffer): { from: string } => JSON.parse(bytes.toString()) as { from: string };

describe('h2c proxy: refused streams, retries, retry budget, timeouts', () => {
  const dataplane = new CountingDataplane();
  const stats = new ClusterStats();
  const proxy = new H2cProxy({ dataplane, stats, logger: noopLogger, connectTimeoutMs: 1000, maxConnectRetries: 2, knownWaitMs: 0 });
  const backends: Backend[] = [];
  const clients: grpc.Client[] = [];
  let port: number;
  let session: ClientHttp2Session;
  const incoming = new Set<ServerHttp2Session>();

  const start = async (behaviour: Behaviour, name: string): Promise<Backend> => {
    const b = await backend(behaviour, name);
    backends.push(b);
    return b;
  };
  const service = (host: string, endpoints: readonly Backend[], policy?: RequestPolicy, servicePort = 80): void => {
    dataplane.set(host, servicePort, endpoints, policy);
  };
  const key = (b: Backend): string => `${b.address}:${b.port}`;
  const reportsFor = (host: string): string[] => dataplane.reports
    .filter((r) => r.service === `demo/${host.split('.')[0]}`)
    .map((r) => `${r.target} ${r.outcome}`);

  /** Opens a stream to `authority` through the proxy; the reply settles when the stream closes. */
  const open = (authority: string, headers: OutgoingHttpHeaders = {}, endStream = true): { stream: ClientHttp2Stream; reply: Promise<Reply> } => {
    const stream = session.request({ ':path': '/', ':authority': authority, ...headers }, { endStream });
    const reply = new Promise<Reply>((resolve) => {
      let status: number | undefined;
      let responseHeaders: IncomingHttpHeaders = {};
      let body = '';
      stream.on('error', () => undefined);
      stream.on('response', (h) => {
        responseHeaders = h;
        status = h[':status'];
      });
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => { body += chunk; });
      stream.once('close', () => resolve({ status, headers: responseHeaders, body, rstCode: stream.rstCode }));
    });
    return { stream, reply };
  };
  const send = (authority: string, method = 'GET', body?: string): Promise<Reply> => {
    const { stream, reply } = open(authority, { ':method': method }, body === undefined);
    if (body !== undefined) stream.end(body);
    return reply;
  };
  const grpcClient = (authority: string): grpc.Client => {
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': authority });
    clients.push(client);
    return client;
  };
  const call = (client: grpc.Client): Promise<{ from: string }> => new Promise((resolve, reject) => {
    client.makeUnaryRequest('/skein.test.Echo/Call', encode, decode, {}, (error, reply) => (error ? reject(error) : resolve(reply!)));
  });

  beforeAll(async () => {
    proxy.server.on('session', (s: ServerHttp2Session) => {
      incoming.add(s);
      s.once('close', () => incoming.delete(s));
    });
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    port = (proxy.server.address() as AddressInfo).port;
    session = connect(`http://127.0.0.1:${port}`);
    session.on('error', () => undefined);
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    session.destroy();
    proxy.close();
    for (const s of incoming) s.destroy();
    await new Promise<void>((resolve) => proxy.server.close(() => resolve()));
    for (const b of backends) {
      for (const s of b.sessions) s.destroy();
      await new Promise<void>((resolve) => b.server.close(() => resolve()));
    }
  });

  it('retries a GET answered 503 on another endpoint when retries is set', async () => {
    const bad = await start('503', 'bad');
    const good = await start('ok', 'good');
    service('retry.demo', [bad, good], { retries: 1 });
    expect(await send('retry.demo')).toMatchObject({ status: 200, body: 'ok good', rstCode: 0 });
    expect([bad.total, good.total]).toEqual([1, 1]);
    expect(reportsFor('retry.demo')).toEqual([`${key(bad)} http-5xx`, `${key(good)} success`]);
    await waitFor(() => proxy.budget('demo/retry').active === 0, 'request finished');
    expect(proxy.budget('demo/retry')).toMatchObject({ active: 0, retrying: 0, exhausted: 0 });
  });

  it('answers the last 503, with its body, once retries or endpoints run out; none without retries', async () => {
    const first = await start('503', 'first');
    const second = await start('503', 'second');
    service('exhausted.demo', [first, second], { retries: 3 });
    expect(await send('exhausted.demo')).toMatchObject({ status: 503, body: 'unavailable second' });
    expect([first.total, second.total]).toEqual([1, 1]);

    const good = await start('ok', 'good');
    service('once.demo', [first, second, good], { retries: 1 });
    expect(await send('once.demo')).toMatchObject({ status: 503, body: 'unavailable second' });
    expect(good.total).toBe(0);

    service('noretry.demo', [first, good]);
    expect(await send('noretry.demo')).toMatchObject({ status: 503, body: 'unavailable first' });
    expect(good.total).toBe(0);
  });

  it('retries a GET whose stream is reset before any response header', async () => {
    const reset = await start('reset', 'reset');
    const good = await start('ok', 'good');
    service('reset.demo', [reset, good], { retries: 2 });
    expect(await send('reset.demo')).toMatchObject({ status: 200, body: 'ok good' });
    expect(reportsFor('reset.demo')).toEqual([`${key(reset)} reset`, `${key(good)} success`]);
    // Without the policy the reset is answered 502.
    service('reset1.demo', [reset, good]);
    const reply = await send('reset1.demo');
    expect(reply.status).toBe(502);
    expect(reply.headers['x-skein-error']).toBe('SKEIN_ERR_UPSTREAM_FAILED');
  });

  it('never policy-retries a POST, nor a request with a body', async () => {
    const bad = await start('503', 'bad');
    const good = await start('ok', 'good');
    service('post.demo', [bad, good], { retries: 2 });
    expect(await send('post.demo', 'POST', 'payload')).toMatchObject({ status: 503, body: 'unavailable bad' });
    expect(await send('post.demo', 'POST')).toMatchObject({ status: 200, body: 'ok good' }); // round robin
    expect(await send('post.demo', 'POST')).toMatchObject({ status: 503, body: 'unavailable bad' });
    expect(await send('post.demo', 'GET', 'body')).toMatchObject({ status: 200, body: 'ok good body' });
    expect(await send('post.demo', 'GET', 'body')).toMatchObject({ status: 503 });
    expect(bad.total).toBe(3);
  });

  it('retries a refused stream on another endpoint without any policy', async () => {
    const refuse = await start('refuse', 'refuse');
    const good = await start('ok', 'good');
    service('refused.demo', [refuse, good]);
    expect(await send('refused.demo')).toMatchObject({ status: 200, body: 'ok good' });
    expect(reportsFor('refused.demo')).toEqual([`${key(refuse)} reset`, `${key(good)} success`]);
    // No endpoint left that has not refused: 502.
    service('allrefuse.demo', [refuse]);
    const reply = await send('allrefuse.demo');
    expect(reply.status).toBe(502);
    expect(reply.headers['x-skein-error']).toBe('SKEIN_ERR_UPSTREAM_FAILED');
  });

  it('replays a refused request whose body has not started, body included', async () => {
    const refuse = await start('refuse', 'refuse');
    const good = await start('ok', 'good');
    service('refusedbody.demo', [refuse, good]);
    const { stream, reply } = open('refusedbody.demo', { ':method': 'POST' }, false);
    await waitFor(() => good.total === 1, 'retried on the good endpoint');
    stream.end('late body');
    expect(await reply).toMatchObject({ status: 200, body: 'ok good late body' });
    expect(refuse.total).toBe(1);
  });

  it('passes REFUSED_STREAM on when the body already went to the refusing endpoint', async () => {
    const refuse = await start('refuse-after-data', 'refuse');
    const good = await start('ok', 'good');
    service('refusedlate.demo', [refuse, good]);
    const reply = await send('refusedlate.demo', 'POST', 'payload');
    expect(reply).toMatchObject({ status: undefined, rstCode: NGHTTP2_REFUSED_STREAM });
    expect(good.total).toBe(0);
    expect(reportsFor('refusedlate.demo')).toEqual([`${key(refuse)} reset`]);
  });

  it('lets grpc-js retry a call refused after its message went (its transparent retry)', async () => {
    const refuse = await start('refuse-after-data', 'grefuse');
    const greeter = await start('grpc', 'greeter');
    service('grefused.demo', [refuse, greeter], undefined, 50051);
    expect(await call(grpcClient('grefused.demo:50051'))).toEqual({ from: 'greeter' });
    expect([refuse.total, greeter.total]).toEqual([1, 1]);
  });

  it('retries a stream above the lastStreamID of a GOAWAY; fails the one it processed', async () => {
    const goaway = await start('goaway', 'goaway');
    const good = await start('ok', 'good');
    service('hold.demo', [goaway]);
    service('goaway.demo', [goaway, good]);
    const processed = send('hold.demo');
    await waitFor(() => goaway.held.length === 1, 'first stream held');
    expect(await send('goaway.demo')).toMatchObject({ status: 200, body: 'ok good' });
    expect(reportsFor('goaway.demo')).toEqual([`${key(goaway)} reset`, `${key(good)} success`]);
    expect((await processed).status).toBe(502);
  });

  it('answers 504 SKEIN_ERR_TIMEOUT after timeoutMs and cancels the upstream stream', async () => {
    const hang = await start('hang', 'slow');
    service('slow.demo', [hang], { timeoutMs: 150 });
    const reply = await send('slow.demo');
    expect(reply.status).toBe(504);
    expect(reply.headers['x-skein-error']).toBe('SKEIN_ERR_TIMEOUT');
    expect(reply.body).toBe('skein: upstream request to slow.demo:80 timed out after 150 ms\n');
    await waitFor(() => hang.cancelled === 1, 'upstream stream cancelled');
    expect(reportsFor('slow.demo')).toEqual([`${key(hang)} timeout`]);
  });

  it('fails a timed-out gRPC call with UNAVAILABLE and the reason', async () => {
    const hang = await start('hang', 'gslow');
    service('gslow.demo', [hang], { timeoutMs: 150 }, 50051);
    const error = await call(grpcClient('gslow.demo:50051')).then(() => undefined, (e: grpc.ServiceError) => e);
    expect(error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(error?.details).toContain('timed out after 150 ms');
    await waitFor(() => hang.cancelled === 1, 'upstream stream cancelled');
  });

  it('resets the client stream when the timeout passes mid-response', async () => {
    const stall = await start('stall-body', 'stall');
    service('stall.demo', [stall], { timeoutMs: 150 });
    const reply = await send('stall.demo');
    expect(reply).toMatchObject({ status: 200, body: 'partial', rstCode: NGHTTP2_CANCEL });
    await waitFor(() => stall.cancelled === 1, 'upstream stream cancelled');
    // The attempt was reported when its headers came; the timeout does not report it again.
    expect(reportsFor('stall.demo')).toEqual([`${key(stall)} success`]);
  });

  it('stops retrying once retries exceed the budget (at least 3, else 20% of active requests)', async () => {
    const bad = await start('503', 'bad');
    const hang = await start('hang', 'hang');
    service('budget.demo', [bad, hang], { retries: 1 });
    const budget = proxy.budget('demo/budget');
    // Each request goes to `bad` first (each retry picks `hang`, so round robin returns to
    // `bad`), and its retry is held by `hang`: three retries in flight fill the budget.
    const pending: Array<Promise<Reply>> = [];
    for (let i = 1; i <= 3; i++) {
      pending.push(send('budget.demo'));
      await waitFor(() => hang.held.length === i, `retry ${i} held`);
    }
    expect(budget).toMatchObject({ active: 3, retrying: 3, exhausted: 0 });
    expect(await send('budget.demo')).toMatchObject({ status: 503, body: 'unavailable bad' });
    expect(budget.exhausted).toBe(1);
    for (const stream of hang.held) {
      stream.respond({ ':status': 200 });
      stream.end('ok hang');
    }
    const replies = await Promise.all(pending);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    await waitFor(() => budget.active === 0, 'requests finished');
    expect(budget).toMatchObject({ active: 0, retrying: 0, exhausted: 1 });
  });

  it('clears the overall timer when the response completes in time, or the client cancels', async () => {
    const good = await start('ok', 'fast');
    const hang = await start('hang', 'held');
    service('warm.demo', [good]);
    service('warm2.demo', [hang]);
    service('fast.demo', [good], { timeoutMs: 60_000 });
    service('cancel.demo', [hang], { timeoutMs: 60_000 });
    // Warm the pooled sessions first, so only the request's own timer could differ.
    await send('warm.demo');
    const warm = open('warm2.demo');
    await waitFor(() => hang.held.length === 1, 'warm-up held');
    warm.stream.close(NGHTTP2_CANCEL);
    await warm.reply;
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    expect(await send('fast.demo')).toMatchObject({ status: 200, body: 'ok fast' });
    await waitFor(() => proxy.budget('demo/fast').active === 0, 'request finished');
    expect(timers()).toBe(before);
    const cancelled = open('cancel.demo');
    await waitFor(() => hang.held.length === 2, 'request held');
    cancelled.stream.close(NGHTTP2_CANCEL);
    await cancelled.reply;
    await waitFor(() => hang.cancelled === 2 && proxy.budget('demo/cancel').active === 0, 'request finished');
    expect(timers()).toBe(before);
  });

  it('leaves every counter balanced: stats active, picker load and budgets back to 0', async () => {
    await waitFor(() => Object.values(stats.toJSON()).every((targets) => Object.values(targets).every((c) => c.active === 0)), 'no active attempt');
    await waitFor(() => [...dataplane.outstanding.values()].every((n) => n === 0), 'no outstanding pick');
    // Every upstream stream closed, cancelled ones included (each holds a place in its session).
    await waitFor(() => backends.every((b) => proxy.pool.streamCount(key(b)) === 0), 'no open upstream stream');
    const services = Object.keys(stats.toJSON());
    expect(services.length).toBeGreaterThan(10);
    for (const label of services) expect(proxy.budget(label)).toMatchObject({ active: 0, retrying: 0 });
    // Every attempt was counted: as many totals as the backends saw streams, plus none lost.
    const totals = Object.values(stats.toJSON()).flatMap((targets) => Object.values(targets)).reduce((n, c) => n + c.total, 0);
    expect(totals).toBe(backends.reduce((n, b) => n + b.total, 0));
  });
});
