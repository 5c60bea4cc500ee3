// LightTracer: what the SDK's tracer would record for the proxy's spans — ids, parentage,
// sampling decisions, attribute limits, status rules, times — read back as ReadableSpans.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Context } from '@opentelemetry/api';
import { suppressTracing, isTracingSuppressed, TraceState, hrTimeToMilliseconds } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, SamplingDecision, type ReadableSpan, type Sampler,
} from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { AttributeSet } from './attribute-set.js';
import { LightSpan, LightTracer, type LightSpanLimits } from './light-tracer.js';

const resource = resourceFromAttributes({ 'service.name': 'test' });

function tracerWith(sampler: Sampler = new AlwaysOnSampler(), limits: Partial<LightSpanLimits> = {}): { tracer: LightTracer; ended: ReadableSpan[] } {
  const ended: ReadableSpan[] = [];
  const tracer = new LightTracer({
    resource, scope: { name: 'skein-test', version: '1' }, sampler, isSuppressed: isTracingSuppressed,
    limits: { attributeCountLimit: 128, attributeValueLengthLimit: Infinity, ...limits },
    processor: { onEnd: (span) => ended.push(span) },
  });
  return { tracer, ended };
}

const parentContext = (flags: TraceFlags, traceState?: TraceState): Context => trace.setSpanContext(ROOT_CONTEXT, {
  traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: flags, isRemote: true,
  ...(traceState && { traceState }),
});

describe('LightTracer', () => {
  it('starts a new trace with fresh valid ids, and hands the ended span to the processor as a ReadableSpan', () => {
    const { tracer, ended } = tracerWith();
    const spans = Array.from({ length: 300 }, () => tracer.startSpan('GET', { kind: SpanKind.CLIENT }, ROOT_CONTEXT));
    const ids = new Set(spans.map((s) => s.spanContext().spanId));
    expect(ids.size).toBe(300);
    for (const span of spans) {
      expect(trace.isSpanContextValid(span.spanContext())).toBe(true);
      expect(span.spanContext().traceFlags).toBe(TraceFlags.SAMPLED);
      span.end();
    }
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(300);
    expect(ended).toHaveLength(300);
    const [first] = ended;
    expect(first!.name).toBe('GET');
    expect(first!.kind).toBe(SpanKind.CLIENT);
    expect(first!.parentSpanContext).toBeUndefined();
    expect(first!.resource).toBe(resource);
    expect(first!.instrumentationScope).toEqual({ name: 'skein-test', version: '1' });
    expect(first!.ended).toBe(true);
    expect(first!.links).toEqual([]);
    expect(first!.events).toEqual([]);
  });

  it('joins the parent in the context: same trace id, its span id as parent, its trace state kept', () => {
    const { tracer, ended } = tracerWith();
    const state = new TraceState('vendor=1');
    tracer.startSpan('GET', {}, parentContext(TraceFlags.SAMPLED, state)).end();
    const [span] = ended;
    expect(span!.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(span!.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(span!.spanContext().traceState?.serialize()).toBe('vendor=1');
    expect(span!.kind).toBe(SpanKind.INTERNAL);
  });

  it('asks the sampler: not recorded gives a non-recording span carrying the context, nothing ends in the processor', () => {
    const off = tracerWith(new AlwaysOffSampler());
    const span = off.tracer.startSpan('GET', {}, ROOT_CONTEXT);
    expect(span.isRecording()).toBe(false);
    expect(span).not.toBeInstanceOf(LightSpan);
    span.end();
    expect(off.ended).toHaveLength(0);
    // Parent-based: an unsampled incoming parent keeps its trace and stays unsampled.
    const parentBased = tracerWith(new ParentBasedSampler({ root: new AlwaysOnSampler() }));
    const child = parentBased.tracer.startSpan('GET', {}, parentContext(TraceFlags.NONE));
    expect(child.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(child.spanContext().traceFlags).toBe(TraceFlags.NONE);
    expect(child.isRecording()).toBe(false);
  });

  it('records but does not sample on RECORD, and adds the attributes a sampler returns', () => {
    const sampler: Sampler = { shouldSample: () => ({ decision: SamplingDecision.RECORD, attributes: { 'sampler.rule': 'x' } }), toString: () => 'test' };
    const { tracer, ended } = tracerWith(sampler);
    tracer.startSpan('GET', { attributes: { a: 1 } }, ROOT_CONTEXT).end();
    expect(ended[0]!.spanContext().traceFlags).toBe(TraceFlags.NONE);
    expect(ended[0]!.attributes).toEqual({ a: 1, 'sampler.rule': 'x' });
  });

  it('records nothing for the exporter\'s own calls (suppressed context)', () => {
    const { tracer, ended } = tracerWith();
    const span = tracer.startSpan('POST', {}, suppressTracing(ROOT_CONTEXT));
    expect(span.isRecording()).toBe(false);
    expect(trace.isSpanContextValid(span.spanContext())).toBe(false);
    span.end();
    expect(ended).toHaveLength(0);
  });

  it('honours the attribute count and value length limits and skips empty values', () => {
    const { tracer, ended } = tracerWith(undefined, { attributeCountLimit: 2, attributeValueLengthLimit: 3 });
    const span = tracer.startSpan('GET', { attributes: { a: 'abcdef', b: 2 } }, ROOT_CONTEXT);
    span.setAttribute('b', 3); // an update, not a new attribute
    span.setAttribute('c', 'dropped');
    span.setAttributes({ d: true, e: undefined });
    span.end();
    span.setAttribute('after', 'end'); // ended: ignored
    expect(ended[0]!.attributes).toEqual({ a: 'abc', b: 3 });
    expect(ended[0]!.droppedAttributesCount).toBe(2);
  });

  it('follows the status rules: UNSET ignored, OK final, a message only with ERROR', () => {
    const { tracer, ended } = tracerWith();
    const a = tracer.startSpan('a', {}, ROOT_CONTEXT);
    a.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    a.setStatus({ code: SpanStatusCode.UNSET });
    a.end();
    const b = tracer.startSpan('b', {}, ROOT_CONTEXT);
    b.setStatus({ code: SpanStatusCode.OK, message: 'dropped' });
    b.setStatus({ code: SpanStatusCode.ERROR });
    b.end();
    expect(ended.map((s) => s.status)).toEqual([{ code: SpanStatusCode.ERROR, message: 'boom' }, { code: SpanStatusCode.OK }]);
  });

  it('takes start times as epoch milliseconds or performance.now() values, ends once, and reports the duration', () => {
    const { tracer, ended } = tracerWith();
    const epochStart = Date.now() - 50;
    const span = tracer.startSpan('GET', { startTime: epochStart }, ROOT_CONTEXT);
    span.end();
    span.end();
    const [read] = ended;
    expect(ended).toHaveLength(1);
    expect(Math.abs(hrTimeToMilliseconds(read!.startTime) - epochStart)).toBeLessThan(2);
    expect(hrTimeToMilliseconds(read!.duration)).toBeGreaterThanOrEqual(48);
    expect(hrTimeToMilliseconds(read!.endTime) - hrTimeToMilliseconds(read!.startTime)).toBeCloseTo(hrTimeToMilliseconds(read!.duration), 3);
    for (const time of [read!.startTime, read!.endTime, read!.duration]) expect(time[1]).toBeLessThan(1e9);
    const relative = tracer.startSpan('GET', { startTime: performance.now() - 20 }, ROOT_CONTEXT);
    relative.end(Date.now());
    expect(hrTimeToMilliseconds(ended[1]!.duration)).toBeGreaterThanOrEqual(18);
  });

  it('shares an attribute set: read back as attributes before the span\'s own, passed to the sampler, the set itself unchanged', () => {
    const seen: unknown[] = [];
    const sampler: Sampler = { shouldSample: (_c, _t, _n, _k, attributes) => (seen.push(attributes), { decision: SamplingDecision.RECORD_AND_SAMPLED }), toString: () => 'test' };
    const { tracer, ended } = tracerWith(sampler);
    const destination = new AttributeSet({ 'http.request.method': 'GET', 'server.port': 80, skipped: undefined });
    const endpoint = new AttributeSet({ 'network.peer.address': '10.0.0.1' });
    const span = tracer.startSharedSpan('GET', SpanKind.CLIENT, destination, ROOT_CONTEXT) as LightSpan;
    span.setAttribute('url.path', '/a');
    span.addAttributeSet(endpoint);
    span.end();
    expect(seen).toEqual([destination.attributes]);
    expect(ended[0]!.attributes).toEqual({ 'http.request.method': 'GET', 'server.port': 80, 'network.peer.address': '10.0.0.1', 'url.path': '/a' });
    expect(Object.keys(ended[0]!.attributes)).toEqual(['http.request.method', 'server.port', 'network.peer.address', 'url.path']);
    expect(ended[0]!.kind).toBe(SpanKind.CLIENT);
    expect(destination.keys).toEqual(['http.request.method', 'server.port']);
  });

  it('keeps the last value set, shared or the span\'s own, with no key twice', () => {
    const { tracer, ended } = tracerWith();
    const shared = new AttributeSet({ a: 1, b: 2 });
    const first = tracer.startSharedSpan('x', SpanKind.CLIENT, shared, ROOT_CONTEXT);
    first.setAttribute('b', 3);
    first.end();
    const second = tracer.startSpan('y', {}, ROOT_CONTEXT) as LightSpan;
    second.setAttribute('a', 0);
    second.addAttributeSet(shared);
    second.addAttributeSet(shared); // twice: no duplicate keys
    second.end();
    expect(ended.map((s) => s.attributes)).toEqual([{ a: 1, b: 3 }, { a: 1, b: 2 }]);
    expect(ended.map((s) => s.droppedAttributesCount)).toEqual([0, 0]);
  });

  it('applies the count and length limits to shared attributes too', () => {
    const { tracer, ended } = tracerWith(undefined, { attributeCountLimit: 2, attributeValueLengthLimit: 3 });
    tracer.startSharedSpan('x', SpanKind.CLIENT, new AttributeSet({ a: 'abcdef', b: 2, c: 3 }), ROOT_CONTEXT).end();
    expect(ended[0]!.attributes).toEqual({ a: 'abc', b: 2 });
    expect(ended[0]!.droppedAttributesCount).toBe(1);
  });
});
