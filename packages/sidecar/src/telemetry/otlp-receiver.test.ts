// The test kit's fake OTLP collector against the real OpenTelemetry exporters the sidecar ships:
// every transport must decode to the same spans, and failing or hanging collectors must look
// to the exporter like the real thing (FAILED results, held requests cut by close()).
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { eventually, startOtlpReceiver, type OtlpReceiver, type OtlpTransport, type ReceivedSpan } from '@skein/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const TRANSPORTS: readonly OtlpTransport[] = ['http/protobuf', 'http/json', 'grpc'];
type Compression = NonNullable<NonNullable<ConstructorParameters<typeof ProtoExporter>[0]>['compression']>;

function exporterFor(receiver: OtlpReceiver, transport: OtlpTransport, opts: { timeoutMillis?: number; gzip?: boolean } = {}): SpanExporter {
  const compression = (opts.gzip ? 'gzip' : 'none') as Compression;
  const timeoutMillis = opts.timeoutMillis ?? 5000;
  switch (transport) {
    case 'http/protobuf': return new ProtoExporter({ url: `${receiver.httpEndpoint}/v1/traces`, compression, timeoutMillis });
    case 'http/json': return new JsonExporter({ url: `${receiver.httpEndpoint}/v1/traces`, compression, timeoutMillis });
    case 'grpc': return new GrpcExporter({ url: receiver.grpcEndpoint, compression, timeoutMillis });
  }
}

function exportOnce(exporter: SpanExporter, spans: ReadableSpan[]): Promise<ExportResult> {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

/** A SERVER parent with a CLIENT child: attributes of every type, an event, an error status. */
function makeSpans(provider: BasicTracerProvider): void {
  const tracer = provider.getTracer('skein-test-scope', '1.2.3');
  const parent = tracer.startSpan('GET /orders', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'GET' } });
  const child = tracer.startSpan('GET orders-db', {
    kind: SpanKind.CLIENT,
    attributes: {
      'peer.service': 'orders-db', 'http.response.status_code': 503, 'skein.weight': 0.25, 'skein.retried': true,
      'skein.endpoints': ['10.0.0.1:8080', '10.0.0.2:8080'], 'skein.ports': [8080, 9090], 'skein.flags': [true, false],
    },
  }, trace.setSpan(context.active(), parent));
  child.addEvent('retry', { 'skein.attempt': 2, 'skein.reason': 'refused-stream' });
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream 503' });
  child.end();
  parent.setStatus({ code: SpanStatusCode.OK });
  parent.end();
}

function nanos(time: [number, number]): string {
  return (BigInt(time[0]) * 1_000_000_000n + BigInt(time[1])).toString();
}

function without(spans: ReceivedSpan[], transport: OtlpTransport): Array<Omit<ReceivedSpan, 'transport'>> {
  return spans.filter((s) => s.transport === transport).map(({ transport: _t, ...rest }) => rest);
}

/** Finished spans, made once and exported by hand so each test controls the export call. */
function finishedSpans(): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'orders' }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  makeSpans(provider);
  return memory.getFinishedSpans();
}

describe('fake OTLP receiver with the OpenTelemetry exporters', () => {
  let receiver: OtlpReceiver;
  const exporters: SpanExporter[] = [];

  beforeEach(async () => {
    receiver = await startOtlpReceiver();
  });
  afterEach(async () => {
    await receiver.close();
    await Promise.all(exporters.splice(0).map((e) => e.shutdown()));
  });

  const exporter = (transport: OtlpTransport, opts?: Parameters<typeof exporterFor>[2]): SpanExporter => {
    const made = exporterFor(receiver, transport, opts);
    exporters.push(made);
    return made;
  };

  it('decodes the same spans from http/protobuf, http/json and grpc', async () => {
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'orders', 'service.instance.id': 'orders-7f9c' }),
      spanProcessors: [new SimpleSpanProcessor(memory), ...TRANSPORTS.map((t) => new SimpleSpanProcessor(exporter(t)))],
    });
    makeSpans(provider);
    await provider.forceFlush();
    const spans = await receiver.waitForSpans((s) => s.length === 6, 10_000);
    expect(receiver.requests).toEqual({ 'http/protobuf': 2, 'http/json': 2, grpc: 2 });
    expect(receiver.rejected).toEqual([]);

    const [sdkChild, sdkParent] = memory.getFinishedSpans();
    const byProto = without(spans, 'http/protobuf');
    expect(without(spans, 'http/json')).toEqual(byProto);
    expect(without(spans, 'grpc')).toEqual(byProto);

    const [child, parent] = byProto;
    const scope = { name: 'skein-test-scope', version: '1.2.3' };
    const resource = { 'service.name': 'orders', 'service.instance.id': 'orders-7f9c' };
    expect(parent).toMatchObject({
      traceId: sdkParent!.spanContext().traceId, spanId: sdkParent!.spanContext().spanId, parentSpanId: '',
      name: 'GET /orders', kind: 'SERVER', attributes: { 'http.request.method': 'GET' },
      status: { code: 'OK', message: '' }, events: [], scope,
      startTimeUnixNano: nanos(sdkParent!.startTime), endTimeUnixNano: nanos(sdkParent!.endTime),
    });
    expect(parent!.resource).toMatchObject(resource);
    expect(parent!.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(child).toMatchObject({
      traceId: parent!.traceId, spanId: sdkChild!.spanContext().spanId, parentSpanId: parent!.spanId,
      name: 'GET orders-db', kind: 'CLIENT',
      attributes: {
        'peer.service': 'orders-db', 'http.response.status_code': 503, 'skein.weight': 0.25, 'skein.retried': true,
        'skein.endpoints': ['10.0.0.1:8080', '10.0.0.2:8080'], 'skein.ports': [8080, 9090], 'skein.flags': [true, false],
      },
      status: { code: 'ERROR', message: 'upstream 503' },
      events: [{ name: 'retry', timeUnixNano: nanos(sdkChild!.events[0]!.time), attributes: { 'skein.attempt': 2, 'skein.reason': 'refused-stream' } }],
      scope,
    });
    expect(child!.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(child!.resource).toEqual(parent!.resource);
    await provider.shutdown();
  });

  it('accepts gzip-compressed exports on every transport', async () => {
    const spans = finishedSpans();
    for (const transport of TRANSPORTS) {
      expect((await exportOnce(exporter(transport, { gzip: true }), spans)).code).toBe(ExportResultCode.SUCCESS);
    }
    const received = await receiver.waitForSpans((s) => s.length === 6);
    expect(without(received, 'http/json')).toEqual(without(received, 'http/protobuf'));
    expect(without(received, 'grpc')).toEqual(without(received, 'http/protobuf'));
    expect(received.map((s) => s.name)).toEqual(Array(3).fill(['GET orders-db', 'GET /orders']).flat());
  });

  it('setFailure({status: 503}) fails every export, and accepting again recovers', async () => {
    const spans = finishedSpans();
    receiver.setFailure({ status: 503 });
    // A timeout shorter than the exporters' first retry backoff (1 s -20%) keeps this quick.
    const results = await Promise.all(TRANSPORTS.map((t) => exportOnce(exporter(t, { timeoutMillis: 600 }), spans)));
    expect(results.map((r) => r.code)).toEqual([ExportResultCode.FAILED, ExportResultCode.FAILED, ExportResultCode.FAILED]);
    expect(receiver.requests).toEqual({ 'http/protobuf': 1, 'http/json': 1, grpc: 1 });
    expect(receiver.spans).toEqual([]);

    receiver.setFailure(undefined);
    const again = await Promise.all(TRANSPORTS.map((t) => exportOnce(exporter(t), spans)));
    expect(again.map((r) => r.code)).toEqual([ExportResultCode.SUCCESS, ExportResultCode.SUCCESS, ExportResultCode.SUCCESS]);
    expect(receiver.spans).toHaveLength(6);
  });

  it("'hang' never answers, and close() still returns at once", async () => {
    const spans = finishedSpans();
    receiver.setFailure('hang');
    const settled: OtlpTransport[] = [];
    const results = TRANSPORTS.map((t) => exportOnce(exporter(t, { timeoutMillis: 1500 }), spans).then((r) => {
      settled.push(t);
      return r;
    }));
    await eventually(() => TRANSPORTS.every((t) => receiver.requests[t] === 1), 5000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(settled).toEqual([]);

    const started = performance.now();
    await receiver.close();
    expect(performance.now() - started).toBeLessThan(500);
    // Cut off and then refused, every exporter gives up within its own timeout.
    expect((await Promise.all(results)).map((r) => r.code)).toEqual([ExportResultCode.FAILED, ExportResultCode.FAILED, ExportResultCode.FAILED]);
    expect(receiver.spans).toEqual([]);
  });

  it('waitForSpans names the spans it saw when it times out', async () => {
    await exportOnce(exporter('http/protobuf'), finishedSpans());
    await expect(receiver.waitForSpans((s) => s.some((x) => x.name === 'POST /pay'), 100))
      .rejects.toThrow(/timed out after 100 ms; 2 spans received \["GET orders-db" \(CLIENT, http\/protobuf\), "GET \/orders" \(SERVER, http\/protobuf\)\]/);
  });
});
