// The stores SpanQueue keeps ended spans in. EncodedSpanStore encodes each span as it is added:
// the batches it hands out must decode (test kit's OTLP schema) to what OpenTelemetry's own
// serializer makes of the same spans, cut at the batch size, oldest first.
import { ROOT_CONTEXT, SpanKind, type Span } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { AlwaysOnSampler, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { otlpTraceSchema } from '@skein/testkit';
import { describe, expect, it } from 'vitest';
import { AttributeSet } from './attribute-set.js';
import { LightSpan, LightTracer } from './light-tracer.js';
import { OtlpSpanEncoder } from './otlp-span-encoder.js';
import { SpanQueue } from './span-queue.js';
import { EncodedSpanStore, SpanRing, type EncodedSpans } from './span-store.js';

const web = resourceFromAttributes({ 'service.name': 'web' });
const api = resourceFromAttributes({ 'service.name': 'api' });
const shared = new AttributeSet({ 'http.request.method': 'GET', 'server.port': 80 });

function spans(count: number, resource: Resource = web, scopeName = 'skein-sidecar'): ReadableSpan[] {
  const ended: ReadableSpan[] = [];
  const tracer = new LightTracer({
    resource, scope: { name: scopeName, version: '1' }, sampler: new AlwaysOnSampler(),
    limits: { attributeCountLimit: 128, attributeValueLengthLimit: Infinity }, processor: { onEnd: (s) => ended.push(s) },
  });
  for (let i = 0; i < count; i++) {
    const span: Span = tracer.startSharedSpan('GET', SpanKind.CLIENT, shared, ROOT_CONTEXT);
    span.setAttribute('url.path', `/${i}`);
    span.end();
  }
  return ended;
}

const decode = (bytes: Uint8Array): object => {
  const { request } = otlpTraceSchema();
  return request.toObject(request.decode(new Uint8Array(bytes)), { longs: String, defaults: true, arrays: true });
};
const openTelemetrys = (list: ReadableSpan[]): object => decode(ProtobufTraceSerializer.serializeRequest(list)!);

describe('EncodedSpanStore', () => {
  it('hands out requests equal to OpenTelemetry\'s for the same spans, cut at the batch size, oldest first', () => {
    const store = new EncodedSpanStore(new OtlpSpanEncoder(), 4);
    const all = spans(10);
    for (const span of all) store.add(span);
    expect(store.size).toBe(10);
    const taken = [store.take(4), store.take(4), store.take(4)];
    expect(taken.map((t) => t.count)).toEqual([4, 4, 2]);
    expect(taken.map((t) => t.batch.count)).toEqual([4, 4, 2]);
    expect(store.size).toBe(0);
    expect(decode(taken[0]!.batch.bytes)).toEqual(openTelemetrys(all.slice(0, 4)));
    expect(decode(taken[1]!.batch.bytes)).toEqual(openTelemetrys(all.slice(4, 8)));
    expect(decode(taken[2]!.batch.bytes)).toEqual(openTelemetrys(all.slice(8)));
  });

  it('groups spans of several resources and scopes as OpenTelemetry does, and reuses its lanes afterwards', () => {
    const store = new EncodedSpanStore(new OtlpSpanEncoder(), 100);
    const mixed = [...spans(2), ...spans(2, api), ...spans(1, web, 'other'), ...spans(1)];
    // Same resource objects in one batch: LightTracers of one process share them.
    for (const span of mixed) store.add(span);
    expect(decode(store.take(100).batch.bytes)).toEqual(openTelemetrys(mixed));
    const after = spans(3);
    for (const span of after) store.add(span);
    expect(decode(store.take(100).batch.bytes)).toEqual(openTelemetrys(after));
  });

  it('keeps nothing of a span whose encoding throws, and forgets everything on clear()', () => {
    const store = new EncodedSpanStore(new OtlpSpanEncoder(), 10);
    const [good, later] = spans(2);
    store.add(good!);
    const broken = Object.create(good!, { spanContext: { value: () => { throw new Error('bug'); } } }) as LightSpan;
    expect(() => store.add(broken)).toThrow('bug');
    store.add(later!);
    expect(store.size).toBe(2);
    expect(decode(store.take(10).batch.bytes)).toEqual(openTelemetrys([good!, later!]));
    for (const span of spans(3)) store.add(span);
    expect(store.clear()).toBe(3);
    expect(store.size).toBe(0);
  });

  it('feeds a SpanQueue: each export gets one encoded request, and the counters add up', async () => {
    const exported: EncodedSpans[] = [];
    const exporter = {
      export: (batch: EncodedSpans, done: (result: ExportResult) => void) => {
        exported.push(batch);
        setImmediate(() => done({ code: ExportResultCode.SUCCESS }));
      },
      shutdown: () => Promise.resolve(),
    };
    const queue = new SpanQueue(exporter, { maxExportBatchSize: 3, maxQueueSize: 6 }, (_capacity, batchSize) => new EncodedSpanStore(new OtlpSpanEncoder(), batchSize));
    const all = spans(8);
    for (const span of all) queue.onEnd(span);
    await queue.forceFlush();
    expect(queue.stats()).toEqual({ queued: 0, exported: 6, dropped: 2, failed: 0 });
    expect(exported.map((b) => b.count)).toEqual([3, 3]);
    expect(decode(exported[1]!.bytes)).toEqual(openTelemetrys(all.slice(3, 6)));
  });
});

describe('SpanRing', () => {
  it('hands out the span objects, oldest first, at most `max` at a time', () => {
    const ring = new SpanRing(4);
    const all = spans(4);
    for (const span of all) ring.add(span);
    expect(ring.take(3).batch).toEqual(all.slice(0, 3));
    ring.add(all[0]!);
    expect(ring.take(3)).toEqual({ batch: [all[3], all[0]], count: 2 });
    expect(ring.clear()).toBe(0);
  });
});
