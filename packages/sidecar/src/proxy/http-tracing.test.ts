// Telemetry of the HTTP/1.1 path: an OutboundProxy and an InboundProxy with a RequestTelemetry
// (in-memory span exporter, W3C trace context, a prom-client registry) in front of in-process
// HTTP endpoints. CLIENT spans outbound, a SERVER span inbound; each keeps the caller's trace
// and hands the next hop its own context; retries show as attempts; proxy errors end the span.
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createServer, request, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RequestMetrics } from '../telemetry/request-metrics.js';
import { RequestTelemetry } from '../telemetry/request-telemetry.js';
import { deadPort, FakeDataplane, waitFor } from './fake-dataplane.test-helper.js';
import { InboundProxy } from './inbound-proxy.js';
import { OutboundProxy } from './outbound-proxy.js';

const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const CLIENT_TRACEPARENT = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`;

interface App {
  readonly server: Server;
  port: number;
  /** The request headers of every request seen. */
  readonly seen: IncomingHttpHeaders[];
}

/** An HTTP server on 127.0.0.1 that answers 200 `ok` and records what it was sent. */
async function app(): Promise<App> {
  const a: App = { port: 0, seen: [], server: createServer((req, res) => {
    a.seen.push(req.headers);
    req.resume();
    res.end('ok');
  }) };
  await new Promise<void>((resolve) => a.server.listen(0, '127.0.0.1', resolve));
  a.port = (a.server.address() as AddressInfo).port;
  return a;
}

/** Sends GET `path` (absolute-form through a proxy) to 127.0.0.1:port; resolves with the response status and headers. */
function get(port: number, path: string, headers: OutgoingHttpHeaders = {}): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.once('error', reject);
    req.end();
  });
}

function parse(traceparent: unknown): { traceId: string; spanId: string } {
  const [, traceId = '', spanId = ''] = String(traceparent ?? '').split('-');
  return { traceId, spanId };
}

describe('HTTP/1.1 telemetry: spans, trace context and metrics', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const registry = new Registry();
  const telemetry = new RequestTelemetry({ tracer: provider.getTracer('http-tracing-test'), propagator: new W3CTraceContextPropagator() }, new RequestMetrics(registry));
  const dataplane = new FakeDataplane();
  const apps: App[] = [];
  let outbound: OutboundProxy;
  let outboundPort: number;
  let inbound: InboundProxy;
  let inboundPort: number;
  let inboundApp: App;

  const spans = async (n: number): Promise<ReadableSpan[]> => {
    await waitFor(() => exporter.getFinishedSpans().length >= n, `${n} finished spans`);
    return exporter.getFinishedSpans();
  };
  const start = async (): Promise<App> => {
    const a = await app();
    apps.push(a);
    return a;
  };

  beforeAll(async () => {
    outbound = new OutboundProxy({ dataplane, telemetry, connectTimeoutMs: 1000 });
    outboundPort = await outbound.listen('127.0.0.1', 0);
    inboundApp = await start();
    inbound = new InboundProxy({ appPort: inboundApp.port, telemetry });
    inboundPort = await inbound.listen('127.0.0.1', 0);
  });

  afterAll(async () => {
    await Promise.all([outbound.close(1000), inbound.close(1000)]);
    for (const a of apps) a.server.close();
  });

  beforeEach(() => exporter.reset());

  it('outbound: keeps the client\'s trace id and hands the endpoint the CLIENT span\'s context', async () => {
    const web = await start();
    dataplane.set('web.demo', 80, [{ address: '127.0.0.1', port: web.port }]);
    expect((await get(outboundPort, 'http://web.demo/cart?id=1', { traceparent: CLIENT_TRACEPARENT })).status).toBe(200);
    const [span] = await spans(1);
    expect(span!.kind).toBe(SpanKind.CLIENT);
    expect(span!.spanContext().traceId).toBe(CLIENT_TRACE);
    expect(span!.parentSpanContext?.spanId).toBe(CLIENT_SPAN);
    expect(span!.attributes).toMatchObject({
      'http.request.method': 'GET', 'http.response.status_code': 200, 'network.protocol.version': '1.1',
      'server.address': 'web.demo', 'server.port': 80, 'url.full': 'http://web.demo/cart?id=1', 'url.path': '/cart',
      'network.peer.port': web.port, 'skein.service': 'web', 'skein.namespace': 'demo', 'skein.attempt': 1,
    });
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    // Replaced, not repeated: node joins repeated headers.
    expect(parse(web.seen[0]!.traceparent)).toEqual({ traceId: CLIENT_TRACE, spanId: span!.spanContext().spanId });
    expect(web.seen[0]!.traceparent).toHaveLength(CLIENT_TRACEPARENT.length);
  });

  it('outbound: shows a connect failure and its retry as attempt 1 and attempt 2', async () => {
    const web = await start();
    const dead = await deadPort();
    dataplane.set('flaky.demo', 80, [{ address: '127.0.0.1', port: dead }, { address: '127.0.0.1', port: web.port }]);
    expect((await get(outboundPort, 'http://flaky.demo/', { traceparent: CLIENT_TRACEPARENT })).status).toBe(200);
    const finished = await spans(3);
    const request = finished.find((s) => s.name === 'GET')!;
    const attempt1 = finished.find((s) => s.name === 'GET attempt 1')!;
    const attempt2 = finished.find((s) => s.name === 'GET attempt 2')!;
    for (const attempt of [attempt1, attempt2]) expect(attempt.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(attempt1.attributes).toMatchObject({ 'network.peer.port': dead, 'error.type': 'connect-error' });
    expect(attempt1.status.code).toBe(SpanStatusCode.ERROR);
    expect(attempt2.attributes).toMatchObject({ 'network.peer.port': web.port, 'http.response.status_code': 200 });
    expect(request.spanContext().traceId).toBe(CLIENT_TRACE);
    expect(parse(web.seen[0]!.traceparent)).toEqual({ traceId: CLIENT_TRACE, spanId: attempt2.spanContext().spanId });
  });

  it('outbound: ends the span of a 503 SKEIN_ERR_NO_ENDPOINT with its error type', async () => {
    dataplane.set('empty.demo', 80, []);
    const reply = await get(outboundPort, 'http://empty.demo/');
    expect(reply.status).toBe(503);
    expect(reply.headers['x-skein-error']).toBe('SKEIN_ERR_NO_ENDPOINT');
    const [span] = await spans(1);
    expect(span!.attributes).toMatchObject({ 'http.response.status_code': 503, 'error.type': 'SKEIN_ERR_NO_ENDPOINT', 'skein.service': 'empty' });
    expect(span!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'SKEIN_ERR_NO_ENDPOINT' });
  });

  it('outbound: a request the mesh refuses (unknown Service) is traced and counted too', async () => {
    const reply = await get(outboundPort, 'http://nope.demo/x', { traceparent: CLIENT_TRACEPARENT });
    expect(reply.status).toBe(503);
    const [span] = await spans(1);
    expect(span!.kind).toBe(SpanKind.CLIENT);
    expect(span!.spanContext().traceId).toBe(CLIENT_TRACE);
    expect(span!.attributes).toMatchObject({ 'server.address': 'nope.demo', 'http.response.status_code': 503, 'error.type': 'SKEIN_ERR_UNKNOWN_SERVICE' });
    expect(await registry.metrics()).toContain('skein_requests_total{direction="outbound",service="",namespace="",endpoint_zone="",code="503"} 1');
  });

  it('inbound: makes a SERVER span under the incoming traceparent and hands the app its context', async () => {
    expect((await get(inboundPort, '/orders?id=7', { traceparent: CLIENT_TRACEPARENT })).status).toBe(200);
    const [span] = await spans(1);
    expect(span!.kind).toBe(SpanKind.SERVER);
    expect(span!.spanContext().traceId).toBe(CLIENT_TRACE);
    expect(span!.parentSpanContext?.spanId).toBe(CLIENT_SPAN);
    expect(span!.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.response.status_code': 200, 'url.path': '/orders', 'url.scheme': 'http' });
    expect(parse(inboundApp.seen.at(-1)!.traceparent)).toEqual({ traceId: CLIENT_TRACE, spanId: span!.spanContext().spanId });
  });

  it('counts requests by direction, service and code, and retries', async () => {
    const text = await registry.metrics();
    expect(text).toContain('skein_requests_total{direction="outbound",service="web",namespace="demo",endpoint_zone="",code="200"} 1');
    expect(text).toContain('skein_requests_total{direction="outbound",service="flaky",namespace="demo",endpoint_zone="",code="200"} 1');
    expect(text).toContain('skein_requests_total{direction="outbound",service="empty",namespace="demo",endpoint_zone="",code="503"} 1');
    expect(text).toContain('skein_requests_total{direction="inbound",service="",namespace="",endpoint_zone="",code="200"} 1');
    expect(text).toContain('skein_request_retries_total{service="flaky",namespace="demo"} 1');
  });
});
