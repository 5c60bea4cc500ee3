// RequestRecord: span parentage, attributes and retries as attempts; metrics by service, zone
// and code — against the SDK's in-memory exporter and a prom-client registry. Spans are checked
// from both tracers: the SDK's (library mode: the app's) and the sidecar's LightTracer.
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BasicTracerProvider, ParentBasedSampler, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { Registry } from 'prom-client';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Target } from '../dataplane.js';
import { LightTracer } from './light-tracer.js';
import { RequestMetrics } from './request-metrics.js';
import { RequestTelemetry, type RequestFacts } from './request-telemetry.js';

const exporter = new InMemorySpanExporter();
const processor = new SimpleSpanProcessor(exporter);
const propagator = new W3CTraceContextPropagator();
const tracers = {
  'the SDK tracer': new BasicTracerProvider({ spanProcessors: [processor] }).getTracer('test'),
  'the LightTracer': new LightTracer({
    resource: resourceFromAttributes({}), scope: { name: 'test' }, sampler: new AlwaysOnSampler(), processor,
    limits: { attributeCountLimit: 128, attributeValueLengthLimit: Infinity },
  }),
};

const facts: RequestFacts = { direction: 'outbound', method: 'GET', host: 'web.demo', port: 80, path: '/cart?id=1', protocolVersion: '1.1', service: 'demo/web', rule: 'all ready' };
const a: Target = { address: '10.0.0.1', port: 8080, key: '10.0.0.1:8080', zone: 'zone-a', tier: 'zone' };
const b: Target = { address: '10.0.0.2', port: 8080, key: '10.0.0.2:8080', zone: 'zone-b', tier: 'region' };
const INCOMING_TRACE = '0af7651916cd43dd8448eb211c80319c';
const INCOMING_SPAN = 'b7ad6b7169203331';

const parse = (traceparent: string | undefined): { traceId: string; spanId: string } => {
  const [, traceId = '', spanId = ''] = (traceparent ?? '').split('-');
  return { traceId, spanId };
};

const handles = {
  ...Object.fromEntries(Object.entries(tracers).map(([name, tracer]) => [name, { tracer, propagator }])),
  'the LightTracer reading traceparent itself': { tracer: tracers['the LightTracer'], propagator, traceContextOnly: true },
};

describe.each(Object.entries(handles))('RequestTelemetry with %s', (_name, tracing) => {
  beforeEach(() => exporter.reset());

  it('keeps an incoming trace id, makes a CLIENT span with HTTP and skein attributes, and hands its context to the endpoint', () => {
    const record = new RequestTelemetry(tracing, undefined).start(facts, { traceparent: `00-${INCOMING_TRACE}-${INCOMING_SPAN}-01` })!;
    const headers = record.attempt(a, true)!;
    record.end(200);
    const [span] = exporter.getFinishedSpans();
    expect(span!.spanContext().traceId).toBe(INCOMING_TRACE);
    expect(span!.parentSpanContext?.spanId).toBe(INCOMING_SPAN);
    expect(span!.kind).toBe(SpanKind.CLIENT);
    expect(span!.name).toBe('GET');
    expect(span!.attributes).toMatchObject({
      'http.request.method': 'GET', 'http.response.status_code': 200, 'server.address': 'web.demo', 'server.port': 80,
      'url.full': 'http://web.demo/cart?id=1', 'url.path': '/cart', 'network.peer.address': '10.0.0.1', 'network.peer.port': 8080,
      'skein.service': 'web', 'skein.namespace': 'demo', 'skein.endpoint.zone': 'zone-a', 'skein.locality.tier': 'zone',
      'skein.affinity.hit': true, 'skein.attempt': 1, 'skein.eligibility.rule': 'all ready',
    });
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    // Without locality failover every endpoint is in the one tier "all": not worth an attribute.
    const plain = new RequestTelemetry(tracing, undefined).start(facts, {})!;
    plain.attempt({ ...a, tier: 'all' });
    plain.end(200);
    expect(exporter.getFinishedSpans()[1]!.attributes).not.toHaveProperty('skein.locality.tier');
    expect(parse(headers.traceparent)).toEqual({ traceId: INCOMING_TRACE, spanId: span!.spanContext().spanId });
  });

  it('starts a new trace without incoming context', () => {
    const record = new RequestTelemetry(tracing, undefined).start(facts, {})!;
    const headers = record.attempt(a)!;
    record.end(204);
    const [span] = exporter.getFinishedSpans();
    expect(span!.parentSpanContext).toBeUndefined();
    expect(parse(headers.traceparent).traceId).toBe(span!.spanContext().traceId);
  });

  it('records retries as attempt spans under the request span; the endpoint of each gets its attempt\'s context', () => {
    const record = new RequestTelemetry(tracing, undefined).start(facts, {})!;
    const first = record.attempt(a)!;
    record.attemptFailed('connect-error');
    const second = record.attempt(b)!;
    record.end(200);
    const spans = exporter.getFinishedSpans();
    const request = spans.find((s) => s.name === 'GET')!;
    const attempt1 = spans.find((s) => s.name === 'GET attempt 1')!;
    const attempt2 = spans.find((s) => s.name === 'GET attempt 2')!;
    for (const child of [attempt1, attempt2]) expect(child.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(attempt1.attributes).toMatchObject({ 'network.peer.address': '10.0.0.1', 'skein.attempt': 1, 'http.request.resend_count': 0, 'error.type': 'connect-error' });
    expect(attempt1.status.code).toBe(SpanStatusCode.ERROR);
    expect(attempt2.attributes).toMatchObject({ 'network.peer.address': '10.0.0.2', 'skein.attempt': 2, 'http.request.resend_count': 1, 'http.response.status_code': 200 });
    expect(request.attributes).toMatchObject({ 'network.peer.address': '10.0.0.2', 'skein.attempt': 2, 'skein.endpoint.zone': 'zone-b' });
    expect(parse(first.traceparent).spanId).toBe(request.spanContext().spanId);
    expect(parse(second.traceparent).spanId).toBe(attempt2.spanContext().spanId);
  });

  it('marks failures: 5xx and no response on every span, 4xx on CLIENT spans only', () => {
    const telemetry = new RequestTelemetry(tracing, undefined);
    telemetry.start(facts, {})!.end(503, 'SKEIN_ERR_NO_ENDPOINT');
    telemetry.start(facts, {})!.end(404);
    telemetry.start({ ...facts, direction: 'inbound' }, {})!.end(404);
    const reset = telemetry.start(facts, {})!;
    reset.end(0);
    reset.end(200); // only the first end counts
    const [unavailable, notFound, inboundNotFound, noResponse] = exporter.getFinishedSpans();
    expect(unavailable!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'SKEIN_ERR_NO_ENDPOINT' });
    expect(unavailable!.attributes['error.type']).toBe('SKEIN_ERR_NO_ENDPOINT');
    expect(notFound!.status.code).toBe(SpanStatusCode.ERROR);
    expect(inboundNotFound!.kind).toBe(SpanKind.SERVER);
    expect(inboundNotFound!.status.code).toBe(SpanStatusCode.UNSET);
    expect(noResponse!.attributes['error.type']).toBe('reset');
    expect(exporter.getFinishedSpans()).toHaveLength(4);
  });

  it('gives every destination its own attributes while reusing them across requests, even past its cache bound', () => {
    const telemetry = new RequestTelemetry(tracing, undefined);
    const variants: RequestFacts[] = [
      facts, { ...facts, method: 'POST' }, { ...facts, port: 8080 }, { ...facts, direction: 'inbound', service: undefined, rule: undefined },
      ...Array.from({ length: 1100 }, (_, i) => ({ ...facts, host: `h${i}.demo` })), facts, { ...facts, path: '/other' },
    ];
    for (const [i, variant] of variants.entries()) {
      const record = telemetry.start(variant, {})!;
      record.attempt(i % 2 ? a : b);
      record.end(200);
    }
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(variants.length);
    spans.forEach((span, i) => {
      const v = variants[i]!;
      expect(span.attributes).toMatchObject({
        'http.request.method': v.method, 'server.address': v.host, 'server.port': v.port, 'url.path': v.path.split('?')[0],
        'network.peer.address': (i % 2 ? a : b).address,
      });
      if (v.direction === 'outbound') expect(span.attributes['url.full']).toBe(`http://${v.host}${v.port === 80 ? '' : `:${v.port}`}${v.path}`);
      else expect(span.attributes).toMatchObject({ 'url.scheme': 'http' });
      expect(span.attributes['skein.service']).toBe(v.service === undefined ? undefined : 'web');
    });
  });

  it('counts requests and latency by service, namespace, endpoint zone and code, and retries', async () => {
    const registry = new Registry();
    const telemetry = new RequestTelemetry(undefined, new RequestMetrics(registry));
    for (let i = 0; i < 3; i++) {
      const record = telemetry.start(facts, {})!;
      expect(record.attempt(a)).toBeUndefined(); // no tracing: nothing to propagate
      record.end(200);
    }
    const retried = telemetry.start(facts, {})!;
    retried.attempt(a);
    retried.attemptFailed('503');
    retried.attempt(b);
    retried.end(503);
    telemetry.start({ ...facts, service: undefined, direction: 'inbound' }, {})!.end(0);
    const text = await registry.metrics();
    expect(text).toContain('skein_requests_total{direction="outbound",service="web",namespace="demo",endpoint_zone="zone-a",code="200"} 3');
    expect(text).toContain('skein_requests_total{direction="outbound",service="web",namespace="demo",endpoint_zone="zone-b",code="503"} 1');
    expect(text).toContain('skein_requests_total{direction="inbound",service="",namespace="",endpoint_zone="",code="0"} 1');
    expect(text).toContain('skein_request_duration_seconds_count{direction="outbound",service="web",namespace="demo",endpoint_zone="zone-a",code="200"} 3');
    expect(text).toContain('skein_request_retries_total{service="web",namespace="demo"} 1');
    expect(new RequestTelemetry(undefined, undefined).start(facts, {})).toBeUndefined();
  });
});

describe('RequestTelemetry reading traceparent itself', () => {
  const tracer = new LightTracer({
    resource: resourceFromAttributes({}), scope: { name: 'test' }, sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }), processor,
    limits: { attributeCountLimit: 128, attributeValueLengthLimit: Infinity },
  });
  beforeEach(() => exporter.reset());

  /** The headers an endpoint gets and the span recorded, with span ids made comparable. */
  const run = (traceContextOnly: boolean, incoming: Record<string, string>) => {
    exporter.reset();
    const record = new RequestTelemetry({ tracer, propagator, traceContextOnly }, undefined).start(facts, incoming)!;
    const headers = record.attempt(a)!;
    record.end(200);
    const [span] = exporter.getFinishedSpans();
    const sent = parse(headers.traceparent);
    return {
      traceparent: headers.traceparent!.replace(sent.spanId, '<span>').replace(/-[0-9a-f]{32}-/, (id) => (id.includes(INCOMING_TRACE) ? id : '-<new trace>-')),
      tracestate: headers.tracestate,
      sentIsSpan: span === undefined || span.spanContext().spanId === sent.spanId,
      parent: span?.parentSpanContext && { ...span.parentSpanContext, traceState: span.parentSpanContext.traceState?.serialize() },
      recorded: span !== undefined,
    };
  };

  it('sends the endpoint what the W3C propagator would, and records the same span', () => {
    const cases: Array<Record<string, string>> = [
      {},
      { traceparent: `00-${INCOMING_TRACE}-${INCOMING_SPAN}-01` },
      { traceparent: `00-${INCOMING_TRACE}-${INCOMING_SPAN}-00` },
      { traceparent: `00-${INCOMING_TRACE}-${INCOMING_SPAN}-01`, tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' },
      { traceparent: `00-${INCOMING_TRACE.toUpperCase()}-${INCOMING_SPAN}-01`, tracestate: 'congo=t61rcWkgMzE' },
      { tracestate: 'congo=t61rcWkgMzE' },
    ];
    for (const incoming of cases) expect(run(true, incoming), JSON.stringify(incoming)).toEqual(run(false, incoming));
    // The unsampled parent: the request is not recorded, and the endpoint hears so.
    expect(run(true, cases[2]!)).toMatchObject({ recorded: false, traceparent: `00-${INCOMING_TRACE}-<span>-00` });
  });

  it('does not go through the propagator', () => {
    const refuse = (): never => { throw new Error('the propagator was called'); };
    const record = new RequestTelemetry({ tracer, propagator: { extract: refuse, inject: refuse, fields: () => [] }, traceContextOnly: true }, undefined)
      .start(facts, { traceparent: `00-${INCOMING_TRACE}-${INCOMING_SPAN}-01` })!;
    expect(parse(record.attempt(a)!.traceparent).traceId).toBe(INCOMING_TRACE);
    record.end(200);
    expect(exporter.getFinishedSpans()[0]!.parentSpanContext?.spanId).toBe(INCOMING_SPAN);
  });
});
