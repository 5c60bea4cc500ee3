// Telemetry of the h2c path: an OutboundProxy with a RequestTelemetry (in-memory span exporter,
// W3C trace context, a prom-client registry) in front of in-process HTTP/2 endpoints and a
// grpc-js server. The CLIENT span keeps the client's trace, the endpoint is handed the span's
// context, retries show as attempts, proxy errors and cancels end the span once, with metrics.
import * as grpc from '@grpc/grpc-js';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { connect, constants, createServer, type ClientHttp2Session, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RequestMetrics } from '../telemetry/request-metrics.js';
import { RequestTelemetry } from '../telemetry/request-telemetry.js';
import { deadPort, FakeDataplane, waitFor } from './fake-dataplane.test-helper.js';
import { OutboundProxy } from './outbound-proxy.js';

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = constants;
const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const CLIENT_TRACEPARENT = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`;

/** ok: answers 200 `ok`; refuse: RST_STREAM REFUSED_STREAM; hang: holds the stream. */
type Behaviour = 'ok' | 'refuse' | 'hang';

interface H2Endpoint {
  readonly address: string;
  port: number;
  readonly server: Http2Server;
  /** The request headers of every stream seen. */
  readonly seen: IncomingHttpHeaders[];
}

async function endpoint(behaviour: Behaviour): Promise<H2Endpoint> {
  const e: H2Endpoint = { address: '127.0.0.1', port: 0, server: createServer(), seen: [] };
  e.server.on('session', (session) => session.on('error', () => undefined));
  e.server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    e.seen.push(headers);
    stream.on('error', () => undefined);
    if (behaviour === 'refuse') {
      stream.close(NGHTTP2_REFUSED_STREAM);
      return;
    }
    stream.resume();
    if (behaviour === 'hang') return;
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  await new Promise<void>((resolve) => e.server.listen(0, '127.0.0.1', resolve));
  e.port = (e.server.address() as AddressInfo).port;
  return e;
}

const encode = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const decode = (bytes: Buffer): unknown => JSON.parse(bytes.toString()) as unknown;

/** The trace id and span id of a traceparent header. */
function parse(traceparent: unknown): { traceId: string; spanId: string } {
  const [, traceId = '', spanId = ''] = String(traceparent ?? '').split('-');
  return { traceId, spanId };
}

describe('h2c telemetry: spans, trace context and metrics', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const registry = new Registry();
  const telemetry = new RequestTelemetry({ tracer: provider.getTracer('h2-tracing-test'), propagator: new W3CTraceContextPropagator() }, new RequestMetrics(registry));
  const dataplane = new FakeDataplane();
  const endpoints: H2Endpoint[] = [];
  let grpcServer: grpc.Server;
  let grpcMetadata: grpc.Metadata | undefined;
  let proxy: OutboundProxy;
  let port: number;
  let session: ClientHttp2Session;

  const start = async (behaviour: Behaviour): Promise<H2Endpoint> => {
    const e = await endpoint(behaviour);
    endpoints.push(e);
    return e;
  };
  /** Sends a bodiless stream to `authority` through the proxy; resolves with its status (undefined for none) when it closes. */
  const send = (authority: string, headers: Record<string, string> = {}): Promise<number | undefined> => new Promise((resolve) => {
    const stream = session.request({ ':path': '/items?page=2', ':authority': authority, ...headers });
    let status: number | undefined;
    stream.on('error', () => undefined);
    stream.on('response', (h) => { status = h[':status']; });
    stream.resume();
    stream.once('close', () => resolve(status));
  });
  /** The finished spans, once `n` have ended. */
  const spans = async (n: number): Promise<ReadableSpan[]> => {
    await waitFor(() => exporter.getFinishedSpans().length >= n, `${n} finished spans`);
    return exporter.getFinishedSpans();
  };

  beforeAll(async () => {
    grpcServer = new grpc.Server();
    grpcServer.addService({
      call: {
        path: '/skein.test.Echo/Call', requestStream: false, responseStream: false,
        requestSerialize: encode, requestDeserialize: decode, responseSerialize: encode, responseDeserialize: decode,
      },
    }, {
      call: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        grpcMetadata = call.metadata;
        callback(null, { from: 'echo' });
      },
    });
    const grpcPort = await new Promise<number>((resolve, reject) => {
      grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
    });
    dataplane.set('echo.demo', 50051, [{ address: '127.0.0.1', port: grpcPort }]);
    proxy = new OutboundProxy({ dataplane, telemetry, connectTimeoutMs: 1000 });
    port = await proxy.listen('127.0.0.1', 0);
    session = connect(`http://127.0.0.1:${port}`);
    session.on('error', () => undefined);
  });

  afterAll(async () => {
    session.destroy();
    await proxy.close(1000);
    grpcServer.forceShutdown();
    for (const e of endpoints) e.server.close();
  });

  beforeEach(() => exporter.reset());

  it('keeps the client\'s trace id and hands the endpoint the CLIENT span\'s context', async () => {
    const ok = await start('ok');
    dataplane.set('items.demo', 80, [ok]);
    expect(await send('items.demo', { traceparent: CLIENT_TRACEPARENT })).toBe(200);
    const [span] = await spans(1);
    expect(span!.kind).toBe(SpanKind.CLIENT);
    expect(span!.name).toBe('GET');
    expect(span!.spanContext().traceId).toBe(CLIENT_TRACE);
    expect(span!.parentSpanContext?.spanId).toBe(CLIENT_SPAN);
    expect(span!.attributes).toMatchObject({
      'http.request.method': 'GET', 'http.response.status_code': 200, 'network.protocol.version': '2',
      'server.address': 'items.demo', 'server.port': 80, 'url.full': 'http://items.demo/items?page=2', 'url.path': '/items',
      'network.peer.address': '127.0.0.1', 'network.peer.port': ok.port, 'skein.service': 'items', 'skein.namespace': 'demo', 'skein.attempt': 1,
    });
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    // The client's traceparent was replaced, not repeated.
    expect(ok.seen[0]!.traceparent).toBeTypeOf('string');
    expect(parse(ok.seen[0]!.traceparent)).toEqual({ traceId: CLIENT_TRACE, spanId: span!.spanContext().spanId });
  });

  it('shows a refused stream and its retry as attempt 1 and attempt 2 under the request span', async () => {
    const refuse = await start('refuse');
    const ok = await start('ok');
    dataplane.set('refused.demo', 80, [refuse, ok]);
    expect(await send('refused.demo', { traceparent: CLIENT_TRACEPARENT })).toBe(200);
    const finished = await spans(3);
    const request = finished.find((s) => s.name === 'GET')!;
    const attempt1 = finished.find((s) => s.name === 'GET attempt 1')!;
    const attempt2 = finished.find((s) => s.name === 'GET attempt 2')!;
    for (const attempt of [attempt1, attempt2]) {
      expect(attempt.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
      expect(attempt.spanContext().traceId).toBe(CLIENT_TRACE);
    }
    expect(attempt1.attributes).toMatchObject({ 'network.peer.port': refuse.port, 'skein.attempt': 1, 'error.type': 'refused-stream' });
    expect(attempt1.status.code).toBe(SpanStatusCode.ERROR);
    expect(attempt2.attributes).toMatchObject({ 'network.peer.port': ok.port, 'skein.attempt': 2, 'http.response.status_code': 200 });
    expect(request.attributes).toMatchObject({ 'http.response.status_code': 200, 'skein.attempt': 2 });
    // Each endpoint was handed its own attempt's context.
    expect(parse(refuse.seen[0]!.traceparent)).toEqual({ traceId: CLIENT_TRACE, spanId: request.spanContext().spanId });
    expect(parse(ok.seen[0]!.traceparent)).toEqual({ traceId: CLIENT_TRACE, spanId: attempt2.spanContext().spanId });
  });

  it('ends the span with the proxy error: a refused name, before any attempt, and after every endpoint failed', async () => {
    dataplane.set('empty.demo', 80, []);
    expect(await send('empty.demo')).toBe(503);
    const refuse = await start('refuse');
    dataplane.set('allrefuse.demo', 80, [refuse]);
    expect(await send('allrefuse.demo')).toBe(502);
    expect(await send('unknown.demo')).toBe(503);
    const finished = await spans(3);
    expect(finished.find((s) => s.attributes['server.address'] === 'unknown.demo')!.attributes)
      .toMatchObject({ 'http.response.status_code': 503, 'error.type': 'SKEIN_ERR_UNKNOWN_SERVICE' });
    const empty = finished.find((s) => s.attributes['server.address'] === 'empty.demo')!;
    expect(empty.attributes).toMatchObject({ 'http.response.status_code': 503, 'error.type': 'SKEIN_ERR_NO_ENDPOINT' });
    expect(empty.status).toEqual({ code: SpanStatusCode.ERROR, message: 'SKEIN_ERR_NO_ENDPOINT' });
    const failed = finished.find((s) => s.attributes['server.address'] === 'allrefuse.demo')!;
    expect(failed.attributes).toMatchObject({ 'http.response.status_code': 502, 'error.type': 'SKEIN_ERR_UPSTREAM_FAILED' });
  });

  it('ends the span once, without a status, when the client cancels the stream', async () => {
    const hang = await start('hang');
    dataplane.set('hang.demo', 80, [hang]);
    const stream = session.request({ ':path': '/', ':authority': 'hang.demo' });
    stream.on('error', () => undefined);
    await waitFor(() => hang.seen.length === 1, 'stream held');
    stream.close(NGHTTP2_CANCEL);
    const [span] = await spans(1);
    expect(span!.attributes['http.response.status_code']).toBeUndefined();
    expect(span!.attributes['error.type']).toBe('client-closed');
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('makes a span for a grpc-js unary call, and hands the server its context', async () => {
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'echo.demo:50051' });
    try {
      const reply = await new Promise<unknown>((resolve, reject) => {
        client.makeUnaryRequest('/skein.test.Echo/Call', encode, decode, {}, (error, value) => (error ? reject(error) : resolve(value)));
      });
      expect(reply).toEqual({ from: 'echo' });
    } finally {
      client.close();
    }
    const [span] = await spans(1);
    expect(span!.name).toBe('POST');
    expect(span!.attributes).toMatchObject({
      'http.request.method': 'POST', 'http.response.status_code': 200, 'network.protocol.version': '2',
      'url.path': '/skein.test.Echo/Call', 'server.address': 'echo.demo', 'server.port': 50051, 'skein.service': 'echo',
    });
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    expect(parse(grpcMetadata?.get('traceparent')[0])).toEqual({ traceId: span!.spanContext().traceId, spanId: span!.spanContext().spanId });
  });

  it('fails a gRPC call the proxy cannot place with its error status on the span (gRPC saw UNAVAILABLE)', async () => {
    dataplane.set('dead.demo', 50051, [{ address: '127.0.0.1', port: await deadPort() }]);
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'dead.demo:50051' });
    try {
      const error = await new Promise<grpc.ServiceError>((resolve, reject) => {
        client.makeUnaryRequest('/skein.test.Echo/Call', encode, decode, {}, (e) => (e ? resolve(e) : reject(new Error('expected a failure'))));
      });
      expect(error.code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      client.close();
    }
    const [span] = await spans(1);
    expect(span!.attributes).toMatchObject({ 'http.response.status_code': 503, 'error.type': 'SKEIN_ERR_CONNECT_FAILED' });
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('counts requests by service and code, and retries', async () => {
    const text = await registry.metrics();
    expect(text).toContain('skein_requests_total{direction="outbound",service="items",namespace="demo",endpoint_zone="",code="200"} 1');
    expect(text).toContain('skein_requests_total{direction="outbound",service="refused",namespace="demo",endpoint_zone="",code="200"} 1');
    expect(text).toContain('skein_requests_total{direction="outbound",service="empty",namespace="demo",endpoint_zone="",code="503"} 1');
    expect(text).toContain('skein_requests_total{direction="outbound",service="allrefuse",namespace="demo",endpoint_zone="",code="502"} 1');
    expect(text).toContain('skein_requests_total{direction="outbound",service="hang",namespace="demo",endpoint_zone="",code="0"} 1');
    expect(text).toContain('skein_requests_total{direction="outbound",service="echo",namespace="demo",endpoint_zone="",code="200"} 1');
    expect(text).toContain('skein_request_retries_total{service="refused",namespace="demo"} 1');
  });
});
