// The fake OTLP collector against hand-made requests: OTLP/JSON's looser spellings, exact int64,
// and the answers to malformed, unsupported and failed exports. The real exporters are exercised
// in packages/sidecar/src/telemetry/otlp-receiver.test.ts.
import { gzipSync } from 'node:zlib';
import { Client, credentials, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';
import { otlpTraceSchema, TRACE_EXPORT_PATH } from './otlp-receiver-schema.js';

const TRACE_ID = '5b8efff798038103d269b633813fc60c';
const SPAN_ID = 'eee19b7ec3c1b174';
const PARENT_ID = 'eee19b7ec3c1b173';

/** One span in OTLP/JSON, spelled the loose ways receivers must accept. */
const looseJson = {
  resourceSpans: [{
    resource: { attributes: [{ key: 'service.name', value: { stringValue: 'web' } }] },
    scopeSpans: [{
      scope: { name: 'skein', version: '0.1.0' },
      spans: [{
        traceId: TRACE_ID.toUpperCase(), spanId: SPAN_ID, parentSpanId: PARENT_ID,
        name: 'GET /', kind: 'SPAN_KIND_SERVER', startTimeUnixNano: '1700000000000000001', endTimeUnixNano: 1700000000,
        attributes: [
          { key: 'int-as-string', value: { intValue: '42' } },
          { key: 'int-as-number', value: { intValue: 7 } },
          { key: 'huge', value: { intValue: '9007199254740993' } },
          { key: 'nan', value: { doubleValue: 'NaN' } },
          { key: 'bytes', value: { bytesValue: Buffer.from([1, 2, 3]).toString('base64') } },
          { key: 'map', value: { kvlistValue: { values: [{ key: 'a', value: { boolValue: false } }] } } },
          { key: 'list', value: { arrayValue: { values: [{ stringValue: 'x' }, { doubleValue: 1.5 }] } } },
          { key: 'empty', value: {} },
        ],
        status: { code: 2, message: 'boom' },
        events: [{ name: 'e', timeUnixNano: '5', attributes: [] }],
        links: [{ traceId: TRACE_ID, spanId: PARENT_ID, attributes: [{ key: 'k', value: { stringValue: 'v' } }] }],
      }],
    }],
  }],
};

function post(receiver: OtlpReceiver, body: string | Uint8Array, headers: Record<string, string>, path = '/v1/traces'): Promise<Response> {
  return fetch(`${receiver.httpEndpoint}${path}`, { method: 'POST', body, headers });
}

function grpcExport(receiver: OtlpReceiver, body: Buffer): Promise<ServiceError | Buffer> {
  const client = new Client(receiver.grpcEndpoint.replace('http://', ''), credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(TRACE_EXPORT_PATH, (b: Buffer) => b, (b: Buffer) => b, body, (err, value) => {
      client.close();
      resolve(err ?? value!);
    });
  });
}

describe('startOtlpReceiver', () => {
  let receiver: OtlpReceiver;
  beforeEach(async () => {
    receiver = await startOtlpReceiver();
  });
  afterEach(() => receiver.close());

  it('accepts OTLP/JSON with enum names, int64 strings and hex IDs in any case', async () => {
    const res = await post(receiver, JSON.stringify(looseJson), { 'content-type': 'application/json; charset=utf-8' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.text()).toBe('{}');
    expect(receiver.spans).toEqual([{
      transport: 'http/json', traceId: TRACE_ID, spanId: SPAN_ID, parentSpanId: PARENT_ID, traceState: '',
      name: 'GET /', kind: 'SERVER', startTimeUnixNano: '1700000000000000001', endTimeUnixNano: '1700000000',
      attributes: {
        'int-as-string': 42, 'int-as-number': 7, huge: 9007199254740993n, nan: NaN, bytes: new Uint8Array([1, 2, 3]),
        map: { a: false }, list: ['x', 1.5], empty: null,
      },
      status: { code: 'ERROR', message: 'boom' },
      events: [{ name: 'e', timeUnixNano: '5', attributes: {} }],
      links: [{ traceId: TRACE_ID, spanId: PARENT_ID, traceState: '', attributes: { k: 'v' } }],
      resource: { 'service.name': 'web' },
      scope: { name: 'skein', version: '0.1.0' },
    }]);
  });

  it('decodes binary requests to the same spans as their JSON twin, with fixed64 exact', async () => {
    const { request } = otlpTraceSchema();
    // The same request as protobufjs objects: bytes for IDs and base64 bytes, numbers for enums.
    const twin = structuredClone(looseJson);
    const span: Record<string, unknown> = twin.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    Object.assign(span, { traceId: Buffer.from(TRACE_ID, 'hex'), spanId: Buffer.from(SPAN_ID, 'hex'), parentSpanId: Buffer.from(PARENT_ID, 'hex'), kind: 2 });
    (span.links as Array<Record<string, unknown>>)[0]!.traceId = Buffer.from(TRACE_ID, 'hex');
    (span.links as Array<Record<string, unknown>>)[0]!.spanId = Buffer.from(PARENT_ID, 'hex');
    const body = request.encode(request.fromObject(twin)).finish();

    const res = await post(receiver, body, { 'content-type': 'application/x-protobuf' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    expect((await res.arrayBuffer()).byteLength).toBe(0);
    expect(await grpcExport(receiver, Buffer.from(body))).toEqual(Buffer.alloc(0));
    await post(receiver, gzipSync(JSON.stringify(looseJson)), { 'content-type': 'application/json', 'content-encoding': 'gzip' });

    const spans = await receiver.waitForSpans((s) => s.length === 3);
    const [binary, grpc, json] = spans.map(({ transport: _t, ...rest }) => rest);
    expect(binary).toEqual(json);
    expect(grpc).toEqual(json);
    expect(spans.map((s) => s.transport)).toEqual(['http/protobuf', 'grpc', 'http/json']);
  });

  it('answers malformed exports with 400 / INVALID_ARGUMENT and a reason', async () => {
    const cases: Array<[string | Uint8Array, Record<string, string>, RegExp]> = [
      [new Uint8Array([0x0a, 0xff]), { 'content-type': 'application/x-protobuf' }, /invalid protobuf ExportTraceServiceRequest/],
      ['{"resourceSpans": [', { 'content-type': 'application/json' }, /invalid JSON/],
      ['[]', { 'content-type': 'application/json' }, /must be an ExportTraceServiceRequest object/],
      [JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.from(TRACE_ID, 'hex').toString('base64'), spanId: SPAN_ID }] }] }] }),
        { 'content-type': 'application/json' }, /resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.traceId: .* not hex/],
      [JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: TRACE_ID, spanId: 'abcd' }] }] }] }),
        { 'content-type': 'application/json' }, /spanId: expected 8 bytes, got 2/],
      [JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: TRACE_ID, spanId: SPAN_ID, kind: 9 }] }] }] }),
        { 'content-type': 'application/json' }, /kind: unknown value 9/],
      ['not gzip', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, /invalid gzip body/],
    ];
    for (const [body, headers, reason] of cases) {
      const res = await post(receiver, body, headers);
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(reason);
    }
    const err = await grpcExport(receiver, Buffer.from([0x0a, 0xff]));
    expect(err).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: expect.stringMatching(/invalid protobuf/) });
    expect(receiver.rejected).toHaveLength(cases.length + 1);
    expect(receiver.requests).toEqual({ 'http/protobuf': 1, 'http/json': 6, grpc: 1 });
    expect(receiver.spans).toEqual([]);
  });

  it('refuses other media types, encodings, paths and methods', async () => {
    const textPlain = await post(receiver, 'x', { 'content-type': 'text/plain' });
    expect(textPlain.status).toBe(415);
    expect(await textPlain.text()).toMatch(/want application\/x-protobuf or application\/json/);
    expect((await post(receiver, '{}', { 'content-type': 'application/json', 'content-encoding': 'br' })).status).toBe(415);
    expect((await post(receiver, '{}', { 'content-type': 'application/json' }, '/v1/metrics')).status).toBe(404);
    expect((await fetch(`${receiver.httpEndpoint}/v1/traces`)).status).toBe(405);
    expect(receiver.requests).toEqual({ 'http/protobuf': 0, 'http/json': 0, grpc: 0 });
  });

  it('setFailure({status}) answers that status, and gRPC the code it maps to', async () => {
    receiver.setFailure({ status: 503 });
    const res = await post(receiver, JSON.stringify(looseJson), { 'content-type': 'application/json' });
    expect(res.status).toBe(503);
    expect(await grpcExport(receiver, Buffer.alloc(0))).toMatchObject({ code: GrpcStatus.UNAVAILABLE });
    receiver.setFailure({ status: 403 });
    expect(await grpcExport(receiver, Buffer.alloc(0))).toMatchObject({ code: GrpcStatus.PERMISSION_DENIED });
    expect(receiver.spans).toEqual([]);
    expect(receiver.requests).toEqual({ 'http/protobuf': 0, 'http/json': 1, grpc: 2 });
  });

  it('clear() forgets spans, counts and rejections; close() rejects waiters', async () => {
    await post(receiver, JSON.stringify(looseJson), { 'content-type': 'application/json' });
    await post(receiver, 'nope', { 'content-type': 'application/json' });
    receiver.clear();
    expect(receiver.spans).toEqual([]);
    expect(receiver.rejected).toEqual([]);
    expect(receiver.requests).toEqual({ 'http/protobuf': 0, 'http/json': 0, grpc: 0 });

    const waiting = receiver.waitForSpans((s) => s.length > 0, 10_000);
    await receiver.close();
    await expect(waiting).rejects.toThrow(/closed while waiting for spans; 0 spans received/);
    await expect(receiver.waitForSpans(() => true)).rejects.toThrow(/after close\(\)/);
  });
});
