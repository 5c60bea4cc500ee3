// setUpTracing end to end against the test kit's fake OTLP collector: every protocol chosen by
// the environment delivers spans with the sidecar's resource; samplers and propagators follow
// OTEL_*; nothing is registered globally; a failing or hanging collector costs counted spans only.
import {
  context, propagation, ROOT_CONTEXT, SpanKind, trace, TraceFlags, type Context, type Span, type Tracer,
} from '@opentelemetry/api';
import { eventually, startOtlpReceiver, type OtlpFailure, type OtlpReceiver, type OtlpTransport } from '@skein/testkit';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { AGENT_VERSION } from '../identity.js';
import { setUpTracing, type Tracing, type TracingOptions } from './tracing-setup.js';

const PROTOCOLS: readonly OtlpTransport[] = ['http/protobuf', 'http/json', 'grpc'];
const POD_ATTRIBUTES = {
  'k8s.pod.name': 'orders-7f9c', 'k8s.namespace.name': 'shop', 'k8s.node.name': 'node-a', 'cloud.availability_zone': 'zone-a',
};

let receiver: OtlpReceiver;
const running: Tracing[] = [];
let warnings: string[] = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver.close();
});
beforeEach(() => {
  receiver.clear();
  receiver.setFailure(undefined);
  warnings = [];
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await Promise.all(running.splice(0).map((t) => t.shutdown()));
});

function endpointFor(protocol: OtlpTransport): string {
  return protocol === 'grpc' ? receiver.grpcEndpoint : receiver.httpEndpoint;
}

/** setUpTracing pointed at the receiver, exporting 10 ms after a span ends. */
async function tracing(env: Record<string, string>, options: Omit<TracingOptions, 'env' | 'logger'> = {}): Promise<Tracing> {
  const protocol = (env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf') as OtlpTransport;
  const made = await setUpTracing({
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpointFor(protocol), OTEL_BSP_SCHEDULE_DELAY: '10', ...env },
    logger: { warn: (_fields, message) => warnings.push(message) },
    ...options,
  });
  if (!made) throw new Error('setUpTracing returned undefined');
  running.push(made);
  return made;
}

/** A SERVER span with a CLIENT child, contexts passed explicitly (no context manager is installed). */
function serverAndClient(tracer: Tracer, parent: Context = ROOT_CONTEXT): { server: Span; client: Span } {
  const server = tracer.startSpan('GET /orders', { kind: SpanKind.SERVER }, parent);
  const client = tracer.startSpan('GET orders-db', { kind: SpanKind.CLIENT }, trace.setSpan(parent, server));
  client.end();
  server.end();
  return { server, client };
}

describe('setUpTracing', () => {
  it.each(PROTOCOLS)('OTEL_EXPORTER_OTLP_PROTOCOL=%s delivers spans with the sidecar resource', async (protocol) => {
    const t = await tracing({
      OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
      OTEL_SERVICE_NAME: 'orders-sidecar',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test,k8s.pod.name=orders-from-env',
    }, { serviceName: 'loses-to-OTEL_SERVICE_NAME', attributes: { ...POD_ATTRIBUTES, 'cloud.region': '' } });
    expect(t).toMatchObject({ exporter: 'otlp', protocol });
    const { server, client } = serverAndClient(t.tracer);
    await t.forceFlush();
    const [receivedClient, receivedServer] = await receiver.waitForSpans((s) => s.length === 2);
    expect(receivedServer).toMatchObject({
      transport: protocol, name: 'GET /orders', kind: 'SERVER', spanId: server.spanContext().spanId, parentSpanId: '',
      scope: { name: 'skein-sidecar', version: AGENT_VERSION },
    });
    expect(receivedClient).toMatchObject({
      transport: protocol, name: 'GET orders-db', kind: 'CLIENT', spanId: client.spanContext().spanId,
      traceId: server.spanContext().traceId, parentSpanId: server.spanContext().spanId,
    });
    expect(receivedServer!.resource).toEqual({
      'service.name': 'orders-sidecar',
      'deployment.environment.name': 'test',
      'k8s.pod.name': 'orders-from-env', // OTEL_RESOURCE_ATTRIBUTES wins over code
      'k8s.namespace.name': 'shop', 'k8s.node.name': 'node-a', 'cloud.availability_zone': 'zone-a',
      'telemetry.sdk.language': 'nodejs', 'telemetry.sdk.name': 'opentelemetry', 'telemetry.sdk.version': expect.any(String),
    });
    expect(t.stats()).toEqual({ queued: 0, exported: 2, dropped: 0, failed: 0 });
    expect(warnings).toEqual([]);
  });

  it('uses OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, and serviceName or skein-sidecar when the environment names none', async () => {
    const named = await tracing({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.httpEndpoint}/v1/traces`, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }, { serviceName: 'web-sidecar' });
    named.tracer.startSpan('named').end();
    const unnamed = await tracing({});
    unnamed.tracer.startSpan('unnamed').end();
    await Promise.all([named.forceFlush(), unnamed.forceFlush()]);
    const spans = await receiver.waitForSpans((s) => s.length === 2);
    expect(Object.fromEntries(spans.map((s) => [s.name, s.resource['service.name']]))).toEqual({ named: 'web-sidecar', unnamed: 'skein-sidecar' });
  });

  it('reads OTEL_* from options.env only, even for what the SDK and exporters would take from process.env', async () => {
    vi.stubEnv('OTEL_TRACES_SAMPLER', 'always_off');
    vi.stubEnv('OTEL_EXPORTER_OTLP_PROTOCOL', 'grpc');
    vi.stubEnv('OTEL_EXPORTER_OTLP_ENDPOINT', 'http://127.0.0.1:9');
    vi.stubEnv('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'http://127.0.0.1:9/v1/traces');
    vi.stubEnv('OTEL_SERVICE_NAME', 'from-process-env');
    const t = await tracing({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' });
    t.tracer.startSpan('sampled').end();
    await t.forceFlush();
    const [span] = await receiver.waitForSpans((s) => s.length === 1);
    expect(span).toMatchObject({ name: 'sampled', transport: 'http/protobuf', resource: { 'service.name': 'skein-sidecar' } });
  });

  it('OTEL_TRACES_SAMPLER=always_off records and exports nothing', async () => {
    const t = await tracing({ OTEL_TRACES_SAMPLER: 'always_off' });
    const { server } = serverAndClient(t.tracer);
    expect(server.isRecording()).toBe(false);
    await t.forceFlush();
    expect(t.stats()).toEqual({ queued: 0, exported: 0, dropped: 0, failed: 0 });
    expect(receiver.requests).toEqual({ 'http/protobuf': 0, 'http/json': 0, grpc: 0 });
  });

  it('OTEL_TRACES_SAMPLER=parentbased_traceidratio follows the incoming sampled flag and samples roots at the ratio', async () => {
    const never = await tracing({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' });
    const always = await tracing({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '1' });
    const incoming = (flags: string): Context => never.propagator.extract(ROOT_CONTEXT, {
      traceparent: `00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-${flags}`,
    }, { get: (c, k) => c[k], keys: (c) => Object.keys(c) });

    const root = never.tracer.startSpan('root at ratio 0');
    const sampledParent = never.tracer.startSpan('child of a sampled parent', { kind: SpanKind.SERVER }, incoming('01'));
    const unsampledParent = never.tracer.startSpan('child of an unsampled parent', { kind: SpanKind.SERVER }, incoming('00'));
    const rootAtOne = always.tracer.startSpan('root at ratio 1');
    for (const span of [root, sampledParent, unsampledParent, rootAtOne]) span.end();
    expect([root, sampledParent, unsampledParent, rootAtOne].map((s) => s.spanContext().traceFlags & TraceFlags.SAMPLED)).toEqual([0, 1, 0, 1]);

    await Promise.all([never.forceFlush(), always.forceFlush()]);
    const spans = await receiver.waitForSpans((s) => s.length === 2);
    expect(spans.map((s) => s.name).sort()).toEqual(['child of a sampled parent', 'root at ratio 1']);
    expect(spans.find((s) => s.name === 'child of a sampled parent')).toMatchObject({
      traceId: '0af7651916cd43dd8448eb211c80319c', parentSpanId: 'b7ad6b7169203331',
    });
  });

  describe('propagators', () => {
    async function injected(env: Record<string, string>): Promise<{ carrier: Record<string, string>; fields: string[]; traceId: string; spanId: string }> {
      const t = await tracing(env);
      const span = t.tracer.startSpan('outbound', { kind: SpanKind.CLIENT });
      const ctx = propagation.setBaggage(trace.setSpan(ROOT_CONTEXT, span), propagation.createBaggage({ tenant: { value: 'shop' } }));
      const carrier: Record<string, string> = {};
      t.propagator.inject(ctx, carrier, { set: (c, k, v) => { c[k] = v; } });
      return { carrier, fields: t.propagator.fields(), ...span.spanContext() };
    }

    it('default: W3C traceparent and baggage', async () => {
      const { carrier, fields, traceId, spanId } = await injected({});
      expect(carrier).toEqual({ traceparent: `00-${traceId}-${spanId}-01`, baggage: 'tenant=shop' });
      expect(fields).toEqual(['traceparent', 'tracestate', 'baggage']);
    });

    it('b3: the single b3 header, and extraction of it', async () => {
      const { carrier, traceId, spanId } = await injected({ OTEL_PROPAGATORS: 'b3' });
      expect(carrier).toEqual({ b3: `${traceId}-${spanId}-1` });
      const t = running.at(-1)!;
      const extracted = t.propagator.extract(ROOT_CONTEXT, carrier, { get: (c, k) => c[k], keys: (c) => Object.keys(c) });
      expect(trace.getSpanContext(extracted)).toMatchObject({ traceId, spanId, isRemote: true });
    });

    it('b3multi: the X-B3-* headers', async () => {
      const { carrier, traceId, spanId } = await injected({ OTEL_PROPAGATORS: 'b3multi' });
      expect(carrier).toEqual({ 'x-b3-traceid': traceId, 'x-b3-spanid': spanId, 'x-b3-sampled': '1' });
    });

    it('says when the proxy may read and write traceparent itself: W3C trace context, with or without baggage', async () => {
      const only = async (value?: string) => (await tracing(value === undefined ? {} : { OTEL_PROPAGATORS: value })).traceContextOnly;
      expect(await only()).toBe(true);
      expect(await only('tracecontext')).toBe(true);
      expect(await only('baggage,tracecontext')).toBe(true);
      for (const value of ['b3', 'tracecontext,b3multi', 'baggage', 'none']) expect(await only(value), value).toBe(false);
    });

    it('none injects nothing; an unknown name is warned about and skipped', async () => {
      expect((await injected({ OTEL_PROPAGATORS: 'none' })).carrier).toEqual({});
      const { carrier } = await injected({ OTEL_PROPAGATORS: 'xray,tracecontext' });
      expect(Object.keys(carrier)).toEqual(['traceparent']);
      expect(warnings).toEqual(['tracing: propagator "xray" is not supported (tracecontext, baggage, b3, b3multi, none); skipping it']);
    });
  });

  it('returns undefined when OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none', async () => {
    expect(await setUpTracing({ env: { OTEL_SDK_DISABLED: 'true' } })).toBeUndefined();
    expect(await setUpTracing({ env: { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' } })).toBeUndefined();
  });

  it('OTEL_TRACES_EXPORTER=console has no protocol', async () => {
    const t = await tracing({ OTEL_TRACES_EXPORTER: 'console' });
    expect(t.exporter).toBe('console');
    expect(t.protocol).toBeUndefined();
  });

  it('warns about an unknown exporter and protocol and falls back to OTLP over http/protobuf', async () => {
    const t = await tracing({ OTEL_TRACES_EXPORTER: 'zipkin', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/thrift', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.httpEndpoint });
    expect(t).toMatchObject({ exporter: 'otlp', protocol: 'http/protobuf' });
    expect(warnings).toEqual([
      'tracing: OTEL_TRACES_EXPORTER "zipkin" is not supported (otlp, console, none); using otlp',
      'tracing: OTLP protocol "http/thrift" is not one of http/protobuf, http/json, grpc; using http/protobuf',
    ]);
    t.tracer.startSpan('fallback').end();
    await t.forceFlush();
    expect((await receiver.waitForSpans((s) => s.length === 1))[0]).toMatchObject({ name: 'fallback', transport: 'http/protobuf' });
  });

  it('registers nothing globally: the global tracer and propagator stay no-ops', async () => {
    const t = await tracing({ OTEL_PROPAGATORS: 'tracecontext,baggage,b3' });
    serverAndClient(t.tracer);
    expect(trace.getTracer('app').startSpan('app span').isRecording()).toBe(false);
    expect(propagation.fields()).toEqual([]);
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(ROOT_CONTEXT, t.tracer.startSpan('x')), carrier);
    expect(carrier).toEqual({});
    expect(context.active()).toBe(ROOT_CONTEXT);
  });

  describe.each(PROTOCOLS)('with a failing collector (%s)', (protocol) => {
    const failures: Array<[string, OtlpFailure]> = [['hang', 'hang'], ['503', { status: 503 }]];
    it.each(failures)('%s: 10,000 ended spans are queued, dropped or failed, never thrown', async (_name, failure) => {
      receiver.setFailure(failure);
      // Our export timeout (200 ms) below the exporter's (500 ms); the exporter's first retry
      // backoff (800 ms or more) above its timeout, so a 503 fails without retrying.
      const t = await tracing({ OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_BSP_EXPORT_TIMEOUT: '200', OTEL_EXPORTER_OTLP_TIMEOUT: '500' });
      expect(() => {
        for (let i = 0; i < 10_000; i++) t.tracer.startSpan(`span ${i}`, { kind: SpanKind.CLIENT }).end();
      }).not.toThrow();
      // Nothing leaves the queue until the loop yields: 2048 queued, the rest dropped.
      expect(t.stats()).toEqual({ queued: 2048, exported: 0, dropped: 10_000 - 2048, failed: 0 });
      await eventually(() => t.stats().failed === 2048);
      expect(t.stats()).toEqual({ queued: 0, exported: 0, dropped: 10_000 - 2048, failed: 2048 });
      expect(receiver.requests[protocol]).toBeGreaterThan(0);
      expect(receiver.spans).toEqual([]);
      expect(warnings).toContain('span queue: trace export failed; spans are counted as failed until an export succeeds');
    });
  });
});
