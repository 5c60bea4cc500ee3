// OtlpSpanEncoder against OpenTelemetry's own protobuf serializer: for the same spans, both
// requests must decode (with the test kit's OTLP schema) to the same message, every field.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Span } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { otlpTraceSchema } from '@skein/testkit';
import { describe, expect, it } from 'vitest';
import { AttributeSet } from './attribute-set.js';
import { LightSpan, LightTracer } from './light-tracer.js';
import { OtlpSpanEncoder } from './otlp-span-encoder.js';

const resource = resourceFromAttributes({ 'service.name': 'skein-sidecar', 'k8s.pod.name': 'web-1', 'host.arch': 'amd64' });
const remoteParent = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED, isRemote: true,
  traceState: new TraceState('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7'),
});

function record(make: (span: Span) => void, kind = SpanKind.CLIENT, parent = remoteParent): ReadableSpan[] {
  const ended: ReadableSpan[] = [];
  const tracer = new LightTracer({
    resource, scope: { name: 'skein-sidecar', version: '0.1.0' }, sampler: new AlwaysOnSampler(),
    limits: { attributeCountLimit: 128, attributeValueLengthLimit: Infinity }, processor: { onEnd: (s) => ended.push(s) },
  });
  const span = tracer.startSpan('GET', { kind }, parent);
  make(span);
  span.end();
  return ended;
}

const decode = (bytes: Uint8Array): object => {
  const { request } = otlpTraceSchema();
  return request.toObject(request.decode(new Uint8Array(bytes)), { longs: String, defaults: true, arrays: true });
};

function expectSameAsOpenTelemetry(spans: ReadableSpan[]): void {
  const ours = new OtlpSpanEncoder().encode(spans);
  const theirs = ProtobufTraceSerializer.serializeRequest(spans)!;
  expect(decode(ours)).toEqual(decode(theirs));
}

describe('OtlpSpanEncoder', () => {
  it('encodes a proxy CLIENT span as OpenTelemetry does: ids, trace state, remote parent flags, times, attributes, status', () => {
    expectSameAsOpenTelemetry(record((span) => {
      span.setAttributes({
        'http.request.method': 'GET', 'url.full': `http://web.demo/${'a'.repeat(300)}?q=1`, 'server.port': 80,
        'skein.affinity.hit': false, 'skein.weight': 0.25, 'skein.negative': -42, 'skein.big': 2 ** 40, 'skein.unicode': 'zürich-ß-日本',
        'skein.empty': '', 'skein.tags': ['a', 'b'], 'skein.numbers': [1, 2.5],
      });
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'SKEIN_ERR_TIMEOUT' });
    }));
  });

  it('encodes root SERVER spans, unsampled flags, OK status and many spans in one request', () => {
    const spans = Array.from({ length: 300 }, (_, i) => record((span) => {
      span.setAttribute('skein.attempt', i);
      if (i % 2) span.setStatus({ code: SpanStatusCode.OK });
    }, i % 3 === 0 ? SpanKind.SERVER : SpanKind.INTERNAL, i % 5 === 0 ? ROOT_CONTEXT : remoteParent)).flat();
    expectSameAsOpenTelemetry(spans);
  });

  it('writes shared attribute sets as OpenTelemetry writes the same attributes, and keeps their bytes', () => {
    const destination = new AttributeSet({ 'http.request.method': 'GET', 'server.address': 'web.demo', 'server.port': 80, 'skein.service': 'web' });
    const endpoints = [new AttributeSet({ 'network.peer.address': '10.0.0.1', 'skein.endpoint.zone': 'zone-a' }), new AttributeSet({ 'network.peer.address': '10.0.0.2' })];
    const spans = Array.from({ length: 6 }, (_, i) => record((span) => {
      const light = span as LightSpan;
      light.setAttribute('url.path', `/item/${i}`);
      light.addAttributeSet(destination);
      light.addAttributeSet(endpoints[i % 2]!);
      light.setAttribute('http.response.status_code', 200);
      if (i === 5) light.setAttribute('server.port', 8080); // a shared key set again
    })).flat();
    expectSameAsOpenTelemetry(spans);
    expect(destination.encodedSpanAttributes).toBeDefined();
    expect(endpoints.every((set) => set.encodedSpanAttributes !== undefined)).toBe(true);
    expectSameAsOpenTelemetry(spans); // again, from the kept bytes
  });

  it('encodes SDK spans with events, links and several resources and scopes', () => {
    const exporter = new InMemorySpanExporter();
    const providers = [resource, resourceFromAttributes({ 'service.name': 'other' })].map((r) => new BasicTracerProvider({ resource: r, spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    for (const [i, provider] of providers.entries()) {
      for (const scope of ['a', 'b']) {
        const span = provider.getTracer(scope, i ? undefined : '1.0').startSpan('work', {
          links: [{ context: { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1, isRemote: true }, attributes: { why: 'retry' } }],
        }, remoteParent);
        span.addEvent('retry', { attempt: 2 });
        span.end();
      }
    }
    expectSameAsOpenTelemetry(exporter.getFinishedSpans() as ReadableSpan[]);
  });

  it('writes nanosecond times exactly, beyond 2^53', () => {
    const [span] = record(() => {});
    const fixed = { ...span!, startTime: [1795457796, 999999999] as [number, number], endTime: [4294967295, 123456789] as [number, number], spanContext: span!.spanContext, resource, instrumentationScope: span!.instrumentationScope };
    const decoded = decode(new OtlpSpanEncoder().encode([fixed as ReadableSpan])) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<{ startTimeUnixNano: string; endTimeUnixNano: string }> }> }> };
    const encoded = decoded.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    expect(encoded.startTimeUnixNano).toBe('1795457796999999999');
    expect(encoded.endTimeUnixNano).toBe('4294967295123456789');
  });

  it('reuses its buffer: a second, smaller batch does not carry bytes of the first', () => {
    const encoder = new OtlpSpanEncoder();
    const big = Array.from({ length: 500 }, () => record((span) => span.setAttribute('url.full', 'x'.repeat(500)))).flat();
    const first = encoder.encode(big);
    const small = record(() => {});
    const second = encoder.encode(small);
    expect(second.length).toBeLessThan(first.length);
    expect(decode(second)).toEqual(decode(ProtobufTraceSerializer.serializeRequest(small)!));
    expect(decode(first)).toEqual(decode(ProtobufTraceSerializer.serializeRequest(big)!));
  });
});
