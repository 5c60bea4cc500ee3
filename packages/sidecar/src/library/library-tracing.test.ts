// Library mode joins the app's trace through the global OpenTelemetry API: with an SDK
// registered (a BasicTracerProvider with an in-memory exporter, the W3C propagator and a
// context manager), a mesh request's CLIENT span is a child of the span active at dispatch, the
// endpoint gets that span's context, retries show as attempts and failures end the span with
// their code. With no SDK registered, nothing is recorded and no header is added.
import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type ContextManager } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { startOtlpReceiver } from '@skein/testkit';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deadPort, waitFor } from '../proxy/fake-dataplane.test-helper.js';
import { createMesh } from './create-mesh.js';
import { MeshDispatcher } from './mesh-dispatcher.js';
import { StaticDataplane } from './static-dataplane.js';

/**
 * What an app's SDK installs so that the active context follows async work (the role of
 * @opentelemetry/context-async-hooks, which this repository does not depend on).
 */
class AsyncContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.storage.run(ctx, () => fn.apply(thisArg, args));
  }

  bind<T>(_ctx: Context, target: T): T {
    return target;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.storage.disable();
    return this;
  }
}

/** ok: 200 `ok`; 503: 503 at once; hang: holds the response. */
type Behaviour = 'ok' | '503' | 'hang';

interface Endpoint {
  readonly address: string;
  port: number;
  readonly server: Server;
  /** The request headers of every request seen. */
  readonly seen: IncomingHttpHeaders[];
  readonly held: ServerResponse[];
}

async function endpoint(behaviour: Behaviour): Promise<Endpoint> {
  const e: Endpoint = { address: '127.0.0.1', port: 0, seen: [], held: [], server: createServer((req, res) => {
    e.seen.push(req.headers);
    req.resume();
    if (behaviour === 'ok') res.end('ok');
    else if (behaviour === '503') res.writeHead(503).end('unavailable');
    else e.held.push(res);
  }) };
  await new Promise<void>((resolve) => e.server.listen(0, '127.0.0.1', resolve));
  e.port = (e.server.address() as AddressInfo).port;
  return e;
}

function parse(traceparent: unknown): { traceId: string; spanId: string } {
  const [, traceId = '', spanId = ''] = String(traceparent ?? '').split('-');
  return { traceId, spanId };
}

type RequestHeaders = NonNullable<Parameters<typeof request>[1]>['headers'];

const APP_TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('library mode tracing', () => {
  const endpoints: Endpoint[] = [];
  const dataplane = new StaticDataplane();
  // Made before any SDK is registered: tracing starts when the app registers one.
  const dispatcher = new MeshDispatcher({ dataplane });
  const exporter = new InMemorySpanExporter();
  // The app also exports over OTLP, to a collector started later: forward once it exists.
  let otlp: SpanProcessor | undefined;
  const late: SpanProcessor = {
    onStart: (span, ctx) => otlp?.onStart(span, ctx),
    onEnd: (span) => otlp?.onEnd(span),
    forceFlush: async () => otlp?.forceFlush(),
    shutdown: async () => otlp?.shutdown(),
  };
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter), late] });
  const appTracer = provider.getTracer('the-app');

  const start = async (behaviour: Behaviour): Promise<Endpoint> => {
    const e = await endpoint(behaviour);
    endpoints.push(e);
    return e;
  };
  const service = (name: string, list: ReadonlyArray<{ address: string; port: number }>, policy: { retries?: number; timeoutMs?: number } = {}): void => {
    dataplane.set(`${name}.demo:80`, { endpoints: list.map((e) => ({ address: e.address, port: e.port })), service: `demo/${name}`, ...policy });
  };
  /** Runs `fn` with a new app span active, then ends that span. */
  const inAppSpan = async <T>(fn: () => Promise<T>): Promise<{ result: T; appSpanId: string; traceId: string }> => {
    const span = appTracer.startSpan('app work');
    try {
      const result = await context.with(trace.setSpan(context.active(), span), fn);
      return { result, appSpanId: span.spanContext().spanId, traceId: span.spanContext().traceId };
    } finally {
      span.end();
    }
  };
  /** The finished spans except the app's own, once `n` of them have ended. */
  const meshSpans = async (n: number): Promise<ReadableSpan[]> => {
    const ours = (): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.name !== 'app work');
    await waitFor(() => ours().length >= n, `${n} mesh spans`);
    return ours();
  };
  const get = async (url: string, headers?: RequestHeaders): Promise<number> => {
    const res = await request(url, { dispatcher, headers });
    await res.body.text();
    return res.statusCode;
  };

  afterEach(() => {
    exporter.reset();
    for (const e of endpoints) for (const res of e.held.splice(0)) res.destroy();
  });

  afterAll(async () => {
    await dispatcher.close();
    for (const e of endpoints) e.server.close();
  });

  describe('without an OpenTelemetry SDK', () => {
    it('adds no header and leaves the app\'s own trace context as it was', async () => {
      const web = await start('ok');
      service('plain', [web]);
      expect(await get('http://plain.demo/')).toBe(200);
      expect(await get('http://plain.demo/', { traceparent: APP_TRACEPARENT })).toBe(200);
      expect(web.seen[0]!.traceparent).toBeUndefined();
      expect(web.seen[1]!.traceparent).toBe(APP_TRACEPARENT);
      expect(exporter.getFinishedSpans()).toEqual([]);
    });
  });

  describe('with an SDK registered by the app', () => {
    beforeAll(() => {
      trace.setGlobalTracerProvider(provider);
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
      context.setGlobalContextManager(new AsyncContextManager().enable());
    });

    afterAll(() => {
      trace.disable();
      propagation.disable();
      context.disable();
    });

    it('makes a CLIENT span under the span active at dispatch, and hands the endpoint its context', async () => {
      const web = await start('ok');
      service('web', [web]);
      const { result, appSpanId, traceId } = await inAppSpan(() => get('http://web.demo/cart?id=1'));
      expect(result).toBe(200);
      const [span] = await meshSpans(1);
      expect(span!.kind).toBe(SpanKind.CLIENT);
      expect(span!.instrumentationScope.name).toBe('@skein/sidecar');
      expect(span!.spanContext().traceId).toBe(traceId);
      expect(span!.parentSpanContext?.spanId).toBe(appSpanId);
      expect(span!.attributes).toMatchObject({
        'http.request.method': 'GET', 'http.response.status_code': 200, 'network.protocol.version': '1.1',
        'server.address': 'web.demo', 'server.port': 80, 'url.path': '/cart', 'url.full': 'http://web.demo/cart?id=1',
        'network.peer.address': '127.0.0.1', 'network.peer.port': web.port, 'skein.service': 'web', 'skein.namespace': 'demo', 'skein.attempt': 1,
      });
      expect(span!.status.code).toBe(SpanStatusCode.UNSET);
      expect(parse(web.seen[0]!.traceparent)).toEqual({ traceId, spanId: span!.spanContext().spanId });
    });

    it('reaches the app\'s OTLP collector: the library span under the app span, with its attributes', async () => {
      const receiver = await startOtlpReceiver();
      otlp = new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${receiver.httpEndpoint}/v1/traces` }));
      try {
        const web = await start('ok');
        service('collected', [web]);
        const { appSpanId, traceId } = await inAppSpan(async () => get('http://collected.demo/items?id=7'));
        const spans = await receiver.waitForSpans((all) => all.some((s) => s.traceId === traceId && s.kind === 'CLIENT'), 10_000);
        const span = spans.find((s) => s.traceId === traceId && s.kind === 'CLIENT')!;
        expect(span.parentSpanId).toBe(appSpanId);
        expect(span.attributes).toMatchObject({
          'http.request.method': 'GET', 'http.response.status_code': 200, 'server.address': 'collected.demo', 'url.path': '/items',
          'network.peer.address': '127.0.0.1', 'network.peer.port': web.port, 'skein.service': 'collected', 'skein.namespace': 'demo', 'skein.attempt': 1,
        });
        expect(parse(web.seen[0]!.traceparent)).toEqual({ traceId, spanId: span.spanId });
      } finally {
        await otlp.shutdown();
        otlp = undefined;
        await receiver.close();
      }
    });

    it('joins the app\'s trace through createMesh().fetch across awaits', async () => {
      const web = await start('ok');
      service('fetched', [web]);
      const mesh = createMesh({ dataplane });
      try {
        const { result, appSpanId, traceId } = await inAppSpan(async () => {
          await Promise.resolve();
          return (await mesh.fetch('http://fetched.demo/')).text();
        });
        expect(result).toBe('ok');
        const [span] = await meshSpans(1);
        expect(span!.parentSpanContext?.spanId).toBe(appSpanId);
        expect(parse(web.seen[0]!.traceparent)).toEqual({ traceId, spanId: span!.spanContext().spanId });
      } finally {
        await mesh.close();
      }
    });

    it('replaces a trace context the app set in its headers, whatever their form', async () => {
      const web = await start('ok');
      service('forms', [web]);
      const forms: RequestHeaders[] = [
        { TraceParent: APP_TRACEPARENT },
        ['traceparent', APP_TRACEPARENT, 'x-app', '1'],
        new Map([['Traceparent', APP_TRACEPARENT]]),
      ];
      for (const headers of forms) await inAppSpan(() => get('http://forms.demo/', headers));
      const spans = await meshSpans(3);
      expect(web.seen).toHaveLength(3);
      for (const [i, seen] of web.seen.entries()) {
        // One traceparent (node would join repeated ones), the mesh span's.
        expect(seen.traceparent).toHaveLength(APP_TRACEPARENT.length);
        expect(parse(seen.traceparent).spanId).toBe(spans[i]!.spanContext().spanId);
      }
      expect(web.seen[1]!['x-app']).toBe('1');
    });

    it('shows a connect failure and its retry as attempts 1 and 2', async () => {
      const web = await start('ok');
      const dead = { address: '127.0.0.1', port: await deadPort() };
      service('flaky', [dead, web]);
      const { result, traceId } = await inAppSpan(() => get('http://flaky.demo/'));
      expect(result).toBe(200);
      const spans = await meshSpans(3);
      const requestSpan = spans.find((s) => s.name === 'GET')!;
      const attempt1 = spans.find((s) => s.name === 'GET attempt 1')!;
      const attempt2 = spans.find((s) => s.name === 'GET attempt 2')!;
      for (const attempt of [attempt1, attempt2]) expect(attempt.parentSpanContext?.spanId).toBe(requestSpan.spanContext().spanId);
      expect(attempt1.attributes).toMatchObject({ 'network.peer.port': dead.port, 'error.type': 'connect-error' });
      expect(attempt1.status.code).toBe(SpanStatusCode.ERROR);
      expect(attempt2.attributes).toMatchObject({ 'network.peer.port': web.port, 'http.response.status_code': 200 });
      expect(parse(web.seen[0]!.traceparent)).toEqual({ traceId, spanId: attempt2.spanContext().spanId });
    });

    it('shows a 503 retried by skein.io/retries as a failed attempt', async () => {
      const bad = await start('503');
      const good = await start('ok');
      service('retry', [bad, good], { retries: 1 });
      expect((await inAppSpan(() => get('http://retry.demo/'))).result).toBe(200);
      const spans = await meshSpans(3);
      const requestSpan = spans.find((s) => s.name === 'GET')!;
      expect(spans.find((s) => s.name === 'GET attempt 1')!.attributes).toMatchObject({ 'network.peer.port': bad.port, 'error.type': '503' });
      expect(requestSpan.attributes).toMatchObject({ 'http.response.status_code': 200, 'skein.attempt': 2 });
      expect(parse(bad.seen[0]!.traceparent).spanId).toBe(requestSpan.spanContext().spanId);
    });

    it('ends the span with the error code when the caller gets no response', async () => {
      service('empty', []);
      const hang = await start('hang');
      service('slow', [hang], { timeoutMs: 100 });
      const codeOf = (promise: Promise<unknown>): Promise<unknown> => promise.then(() => 'no error', (e: { code?: unknown }) => e.code);
      expect(await codeOf(inAppSpan(() => get('http://empty.demo/')))).toBe('SKEIN_ERR_NO_ENDPOINT');
      expect(await codeOf(inAppSpan(() => get('http://slow.demo/')))).toBe('SKEIN_ERR_TIMEOUT');
      const spans = await meshSpans(2);
      const empty = spans.find((s) => s.attributes['server.address'] === 'empty.demo')!;
      const slow = spans.find((s) => s.attributes['server.address'] === 'slow.demo')!;
      expect(empty.status).toEqual({ code: SpanStatusCode.ERROR, message: 'SKEIN_ERR_NO_ENDPOINT' });
      expect(empty.attributes['http.response.status_code']).toBeUndefined();
      expect(slow.attributes).toMatchObject({ 'error.type': 'SKEIN_ERR_TIMEOUT', 'network.peer.port': hang.port });
    });
  });
});
