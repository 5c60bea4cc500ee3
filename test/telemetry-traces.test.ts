// Traces and request metrics end to end: a real control plane and sidecar processes exporting
// OTLP to the test kit's collector (HTTP protobuf, HTTP JSON, gRPC), requests sent with curl
// through the sidecar and to its inbound listener. Needs the built packages (pnpm build).
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startBackend, startOtlpReceiver, type FakeBackend } from '@skein/testkit';
import { startControlPlaneProcess, type ControlPlaneProcess } from './support/control-plane.js';
import { scrape, sum } from './support/prometheus.js';
import { curl, podYaml, startSidecarProcess, WebWorld, type SidecarProcess } from './support/sidecar.js';

const flakyServiceYaml = `
apiVersion: v1
kind: Service
metadata: { name: flaky, namespace: demo }
spec:
  clusterIP: 10.96.0.30
  selector: { app: flaky }
  ports: [{ name: http, port: 80, targetPort: http }]
`;

type Receiver = Awaited<ReturnType<typeof startOtlpReceiver>>;
type Span = Receiver['spans'][number];

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const traceparent = (trace = TRACE, span = PARENT): string => `00-${trace}-${span}-01`;
const randomHex = (n: number): string => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');

/** A port on 127.0.0.19 where nothing listens: a pod that refuses connections. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.19', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** OTEL_* settings for a sidecar exporting to `receiver` over `protocol`, flushing quickly. */
function otel(receiver: Receiver, protocol: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: protocol === 'grpc' ? receiver.grpcEndpoint : receiver.httpEndpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_BSP_SCHEDULE_DELAY: '50', ...extra,
  };
}

describe('telemetry: traces and request metrics of sidecar processes', () => {
  const world = new WebWorld();
  let receiver: Receiver;
  let plane: ControlPlaneProcess;
  const sidecars: Record<string, SidecarProcess> = {};
  let app: FakeBackend;
  let withInbound: SidecarProcess;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    await world.start();
    // Service flaky: one pod that answers, one that refuses connections (requests that pick it
    // are retried on the other).
    const live = world.backends[0]!;
    world.dir.write('flaky.yaml', `${flakyServiceYaml}---${podYaml('flaky-1', live.address, live.port, 'node-a', 'app: flaky')}---${podYaml('flaky-2', '127.0.0.19', await deadPort(), 'node-a', 'app: flaky')}`);
    plane = await startControlPlaneProcess(['--source', `files:${world.dir.path}`]);
    for (const protocol of ['http/protobuf', 'http/json', 'grpc']) {
      sidecars[protocol] = await startSidecarProcess(['--control-plane', plane.grpcAddress, '--pod-name', `client-${protocol.replace('/', '-')}`, '--pod-ip', '127.0.0.1'], otel(receiver, protocol));
    }
    app = await startBackend('app', '127.0.0.1');
    withInbound = await startSidecarProcess(['--control-plane', plane.grpcAddress, '--pod-name', 'server-1', '--inbound-port', '0', '--app-port', String(app.port)], otel(receiver, 'http/protobuf'));
    for (const s of [...Object.values(sidecars), withInbound]) await eventually(async () => (await fetch(`${s.admin}/ready`)).status === 200);
  });

  afterAll(async () => {
    for (const s of [...Object.values(sidecars), withInbound]) await s?.stop();
    await plane?.stop();
    await app?.close();
    await world.close();
    await receiver?.close();
  });

  it.each(['http/protobuf', 'http/json', 'grpc'])('over OTLP %s: a CLIENT span keeps the incoming trace, the endpoint gets its context', async (protocol) => {
    const trace = randomHex(32);
    const res = await curl(sidecars[protocol]!.proxy, 'http://web.demo/headers', ['-H', `traceparent: ${traceparent(trace)}`]);
    expect(res.status).toBe(200);
    const sent = JSON.parse(res.body) as Record<string, string>;
    const spans = await receiver.waitForSpans((all) => all.some((s) => s.traceId === trace && s.name === 'GET'), 15_000);
    const span = spans.find((s) => s.traceId === trace && s.name === 'GET')!;
    expect(span.transport).toBe(protocol);
    expect(span.kind).toBe('CLIENT');
    expect(span.parentSpanId).toBe(PARENT);
    expect(span.attributes).toMatchObject({
      'http.request.method': 'GET', 'http.response.status_code': 200, 'server.address': 'web.demo', 'server.port': 80,
      'url.path': '/headers', 'skein.service': 'web', 'skein.namespace': 'demo', 'skein.eligibility.rule': 'all ready',
    });
    expect(span.attributes['network.peer.address']).toMatch(/^127\.0\.0\.1[1-3]$/);
    expect(['zone-a', 'zone-b']).toContain(span.attributes['skein.endpoint.zone']);
    expect(span.resource).toMatchObject({ 'service.name': 'skein-sidecar', 'k8s.pod.name': `client-${protocol.replace('/', '-')}`, 'k8s.namespace.name': 'demo' });
    // The endpoint saw the same trace, with the sidecar's span as parent.
    expect(sent.traceparent).toBe(traceparent(trace, span.spanId));
  });

  it('starts a trace when the client sends none, and records retries as attempts', async () => {
    const proxy = sidecars['http/protobuf']!.proxy;
    // Round robin over two pods, one refusing: about half of eight requests are retried.
    const results = await Promise.all(Array.from({ length: 8 }, () => curl(proxy, 'http://flaky.demo/')));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    const retried = (all: readonly Span[]): Span | undefined => {
      const requests = all.filter((s) => s.name === 'GET' && s.attributes['server.address'] === 'flaky.demo' && s.attributes['skein.attempt'] === 2);
      return requests.find((r) => all.some((s) => s.parentSpanId === r.spanId && s.name === 'GET attempt 2'));
    };
    const spans = await receiver.waitForSpans((all) => retried(all) !== undefined, 15_000);
    const request = retried(spans)!;
    const first = spans.find((s) => s.parentSpanId === request.spanId && s.name === 'GET attempt 1')!;
    const second = spans.find((s) => s.parentSpanId === request.spanId && s.name === 'GET attempt 2')!;
    expect(request).toMatchObject({ parentSpanId: '', kind: 'CLIENT' });
    expect(first.parentSpanId).toBe(request.spanId);
    expect(first.attributes).toMatchObject({ 'network.peer.address': '127.0.0.19', 'error.type': 'connect-error', 'skein.attempt': 1 });
    expect(first.status.code).toBe('ERROR');
    expect(second.attributes).toMatchObject({ 'skein.attempt': 2, 'http.request.resend_count': 1, 'http.response.status_code': 200 });
  });

  it('inbound: a SERVER span parented to the caller, whose context the app receives', async () => {
    const trace = randomHex(32);
    const port = withInbound.listening.inboundPort as number;
    const res = await fetch(`http://127.0.0.1:${port}/headers`, { headers: { traceparent: traceparent(trace) } });
    const sent = (await res.json()) as Record<string, string>;
    const spans = await receiver.waitForSpans((all) => all.some((s) => s.traceId === trace && s.kind === 'SERVER'), 15_000);
    const span = spans.find((s: Span) => s.traceId === trace && s.kind === 'SERVER')!;
    expect(span.parentSpanId).toBe(PARENT);
    expect(span.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.response.status_code': 200, 'url.path': '/headers' });
    expect(sent.traceparent).toBe(traceparent(trace, span.spanId));
  });

  it('/metrics counts the requests sent, by service, namespace and code', async () => {
    const sidecar = sidecars['http/json']!;
    const before = sum((await scrape(sidecar.admin)).samples, 'skein_requests_total', { direction: 'outbound', service: 'web', namespace: 'demo', code: '200' });
    for (let i = 0; i < 5; i++) expect((await curl(sidecar.proxy, 'http://web.demo/')).status).toBe(200);
    expect((await curl(sidecar.proxy, 'http://web.demo/status/404')).status).toBe(404);
    const { samples, types } = await scrape(sidecar.admin);
    expect(types.get('skein_requests_total')).toBe('counter');
    expect(types.get('skein_request_duration_seconds')).toBe('histogram');
    expect(sum(samples, 'skein_requests_total', { direction: 'outbound', service: 'web', namespace: 'demo', code: '200' }) - before).toBe(5);
    expect(sum(samples, 'skein_requests_total', { service: 'web', code: '404' })).toBe(1);
    expect(sum(samples, 'skein_request_duration_seconds_count', { service: 'web', code: '404' })).toBe(1);
    expect(sum(samples, 'skein_sidecar_trace_spans_exported_total')).toBeGreaterThan(0);
    expect(sum(samples, 'skein_sidecar_active_connections', { listener: 'outbound' })).toBeGreaterThanOrEqual(0);
  });

  it('a collector that hangs or fails never fails or holds requests; spans are counted as failed or dropped', async () => {
    const sidecar = await startSidecarProcess(['--control-plane', plane.grpcAddress, '--pod-name', 'client-hang'],
      otel(receiver, 'http/protobuf', { OTEL_BSP_EXPORT_TIMEOUT: '200', OTEL_BSP_MAX_QUEUE_SIZE: '8', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '4' }));
    try {
      await eventually(async () => (await fetch(`${sidecar.admin}/ready`)).status === 200);
      receiver.setFailure('hang');
      const results = await Promise.all(Array.from({ length: 40 }, () => curl(sidecar.proxy, 'http://web.demo/')));
      expect(results.every((r) => r.status === 200)).toBe(true);
      await eventually(async () => {
        const { samples } = await scrape(sidecar.admin);
        return sum(samples, 'skein_sidecar_trace_spans_dropped_total') > 0 && sum(samples, 'skein_sidecar_trace_spans_failed_total') > 0;
      }, 15_000, 100);
    } finally {
      receiver.setFailure(undefined);
      await sidecar.stop();
    }
  });
});
