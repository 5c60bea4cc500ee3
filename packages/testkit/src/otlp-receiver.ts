// A fake OpenTelemetry collector: tests point the sidecar's OTLP trace exporter at it
// (http/protobuf, http/json or grpc) and assert on the spans it decoded. It can also fail or
// hang every export, to show that a broken collector never slows or fails proxied traffic.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import {
  Server as GrpcServer, ServerCredentials, status as GrpcStatus,
  type sendUnaryData, type ServerUnaryCall, type ServiceDefinition,
} from '@grpc/grpc-js';
import { decodeJsonRequest, decodeProtobufRequest, type DecodedSpan, type DecodeResult } from './otlp-receiver-decode.js';
import { otlpTraceSchema, TRACE_EXPORT_PATH } from './otlp-receiver-schema.js';

export type { DecodedSpan, OtlpAttributes, OtlpSpanKind, OtlpStatusCode, OtlpValue } from './otlp-receiver-decode.js';
// The schema, for tests that compare encoders field by field (flags and dropped counts included).
export { otlpTraceSchema } from './otlp-receiver-schema.js';

/** How an export reached the receiver; the names are OTEL_EXPORTER_OTLP_PROTOCOL's values. */
export type OtlpTransport = 'http/protobuf' | 'http/json' | 'grpc';

/** A decoded span plus the transport that delivered it. */
export interface ReceivedSpan extends DecodedSpan {
  transport: OtlpTransport;
}

/**
 * What the receiver does with every export until told otherwise:
 * - `undefined`: accept it;
 * - `{ status }`: answer that HTTP status (gRPC: the code gRPC maps it to, 503 -> UNAVAILABLE);
 * - `'hang'`: read the request and never answer; `close()` ends such requests.
 */
export type OtlpFailure = undefined | { status: number } | 'hang';

export interface OtlpReceiverOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  httpPort?: number;
  grpcPort?: number;
}

export interface OtlpReceiver {
  /** `http://host:port`; exports go to POST `${httpEndpoint}/v1/traces`. */
  readonly httpEndpoint: string;
  /** `http://host:port` of the gRPC TraceService. */
  readonly grpcEndpoint: string;
  /** Spans of accepted exports, in arrival order. Failed, hung and malformed exports add none. */
  readonly spans: ReceivedSpan[];
  /** Export requests received per transport, including failed, hung and malformed ones. */
  readonly requests: Record<OtlpTransport, number>;
  /** Why malformed exports were rejected (400 / INVALID_ARGUMENT), one line each. */
  readonly rejected: string[];
  /**
   * Resolves with a copy of `spans` once `predicate(spans)` holds, checked now and after each
   * accepted export. Rejects after `timeoutMs` (default 5000) naming the spans seen, or on close().
   */
  waitForSpans(predicate: (spans: readonly ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  /** Forgets spans, request counts and rejections (requests still hanging stay hung). */
  clear(): void;
  setFailure(mode: OtlpFailure): void;
  /** Closes both servers at once, cutting open and hanging requests. Idempotent. */
  close(): Promise<void>;
}

type Outcome =
  | { type: 'accepted' }
  | { type: 'hang' }
  | { type: 'failed'; status: number; message: string }
  | { type: 'invalid'; message: string };

type Waiter = { check: () => void; abort: (reason: Error) => void };

export async function startOtlpReceiver(options: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
  const host = options.host ?? '127.0.0.1';
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const spans: ReceivedSpan[] = [];
  const requests: Record<OtlpTransport, number> = { 'http/protobuf': 0, 'http/json': 0, grpc: 0 };
  const rejected: string[] = [];
  const waiters = new Set<Waiter>();
  let failure: OtlpFailure;
  let closed = false;

  // The one policy both servers share: count, then fail or hang if told to, then decode.
  const receive = (transport: OtlpTransport, decode: () => DecodeResult): Outcome => {
    requests[transport]++;
    if (failure === 'hang') return { type: 'hang' };
    if (failure) {
      return { type: 'failed', status: failure.status, message: `fake OTLP receiver: failing every export with ${failure.status} (setFailure)` };
    }
    const result = decode();
    if (!result.ok) {
      rejected.push(`${transport}: ${result.error}`);
      return { type: 'invalid', message: `fake OTLP receiver: ${result.error}` };
    }
    for (const span of result.spans) spans.push({ ...span, transport });
    for (const waiter of [...waiters]) waiter.check();
    return { type: 'accepted' };
  };

  const http = createServer((req, res) => {
    serveHttp(req, res, receive).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`fake OTLP receiver bug: ${err.stack ?? err.message}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.httpPort ?? 0, host, () => resolve());
  });

  const grpc = new GrpcServer();
  grpc.addService(traceService(), {
    Export: (call: ServerUnaryCall<Buffer, object>, callback: sendUnaryData<object>) => {
      let outcome: Outcome;
      try {
        outcome = receive('grpc', () => decodeProtobufRequest(call.request));
      } catch (err) {
        callback({ code: GrpcStatus.INTERNAL, details: `fake OTLP receiver bug: ${(err as Error).message}` });
        return;
      }
      if (outcome.type === 'accepted') callback(null, {});
      else if (outcome.type === 'failed') callback({ code: grpcCodeFor(outcome.status), details: outcome.message });
      else if (outcome.type === 'invalid') callback({ code: GrpcStatus.INVALID_ARGUMENT, details: outcome.message });
      // 'hang': the callback is never called; forceShutdown() in close() cancels the call.
    },
  });
  let grpcPort: number;
  try {
    grpcPort = await new Promise<number>((resolve, reject) => {
      grpc.bindAsync(`${urlHost}:${options.grpcPort ?? 0}`, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
    });
  } catch (err) {
    http.close();
    throw err;
  }

  const summary = (): string => {
    const names = spans.slice(0, 50).map((s) => `"${s.name}" (${s.kind}, ${s.transport})`).join(', ');
    const counts = Object.entries(requests).map(([t, n]) => `${t}=${n}`).join(' ');
    const mode = failure === undefined ? 'none' : failure === 'hang' ? 'hang' : `status ${failure.status}`;
    return `${spans.length} spans received [${names}${spans.length > 50 ? ', ...' : ''}]; requests ${counts}; ` +
      `failure mode ${mode}${rejected.length ? `; rejected: ${rejected.join(' | ')}` : ''}`;
  };

  return {
    httpEndpoint: `http://${urlHost}:${(http.address() as AddressInfo).port}`,
    grpcEndpoint: `http://${urlHost}:${grpcPort}`,
    spans,
    requests,
    rejected,
    waitForSpans(predicate, timeoutMs = 5000) {
      return new Promise<ReceivedSpan[]>((resolve, reject) => {
        if (closed) {
          reject(new Error('fake OTLP receiver: waitForSpans called after close()'));
          return;
        }
        const settle = (outcome: () => void): void => {
          clearTimeout(timer);
          waiters.delete(waiter);
          outcome();
        };
        const waiter: Waiter = {
          check: () => {
            try {
              if (predicate(spans)) settle(() => resolve([...spans]));
            } catch (err) {
              settle(() => reject(err as Error));
            }
          },
          abort: (reason) => settle(() => reject(reason)),
        };
        const timer = setTimeout(() => {
          waiter.abort(new Error(`fake OTLP receiver: waitForSpans timed out after ${timeoutMs} ms; ${summary()}`));
        }, timeoutMs);
        waiters.add(waiter);
        waiter.check();
      });
    },
    clear() {
      spans.length = 0;
      rejected.length = 0;
      for (const transport of Object.keys(requests) as OtlpTransport[]) requests[transport] = 0;
    },
    setFailure(mode) {
      failure = mode;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const waiter of [...waiters]) waiter.abort(new Error(`fake OTLP receiver: closed while waiting for spans; ${summary()}`));
      // Forceful on purpose: graceful shutdown would wait for the very requests 'hang' holds.
      grpc.forceShutdown();
      const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
      await httpClosed;
    },
  };
}

async function serveHttp(req: IncomingMessage, res: ServerResponse, receive: (t: OtlpTransport, d: () => DecodeResult) => Outcome): Promise<void> {
  const reply = (status: number, message: string, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(`${message}\n`);
  };
  const path = new URL(req.url ?? '/', 'http://receiver').pathname;
  if (path !== '/v1/traces') {
    req.resume();
    return reply(404, `fake OTLP receiver: no route for ${path}; traces go to POST /v1/traces`);
  }
  if (req.method !== 'POST') {
    req.resume();
    return reply(405, `fake OTLP receiver: ${req.method ?? ''} /v1/traces; use POST`, { allow: 'POST' });
  }
  const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const transport: OtlpTransport | undefined =
    mediaType === 'application/x-protobuf' || mediaType === 'application/protobuf' ? 'http/protobuf'
      : mediaType === 'application/json' ? 'http/json' : undefined;
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (!transport || (encoding !== 'identity' && encoding !== 'gzip')) {
    req.resume();
    return reply(415, `fake OTLP receiver: unsupported content-type "${mediaType}" or content-encoding "${encoding}"; ` +
      'want application/x-protobuf or application/json, optionally gzip');
  }

  const chunks: Buffer[] = [];
  try {
    for await (const chunk of req) chunks.push(chunk as Buffer);
  } catch {
    return; // the client went away mid-body; nobody is left to answer
  }
  const outcome = receive(transport, () => {
    let body = Buffer.concat(chunks);
    if (encoding === 'gzip') {
      try {
        body = gunzipSync(body);
      } catch (err) {
        return { ok: false, error: `invalid gzip body: ${(err as Error).message}` };
      }
    }
    return transport === 'http/json' ? decodeJsonRequest(body.toString('utf8')) : decodeProtobufRequest(body);
  });
  switch (outcome.type) {
    case 'accepted':
      // An empty ExportTraceServiceResponse (no partial_success), in the request's encoding.
      if (transport === 'http/json') res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(encodeEmptyResponse());
      return;
    case 'failed':
      return reply(outcome.status, outcome.message);
    case 'invalid':
      return reply(400, outcome.message);
    case 'hang':
      return; // the response stays open until close() cuts the connection
  }
}

function encodeEmptyResponse(): Buffer {
  const { response } = otlpTraceSchema();
  return Buffer.from(response.encode(response.fromObject({})).finish());
}

/**
 * TraceService/Export without proto-loader. Requests stay raw bytes so that a decode failure
 * becomes INVALID_ARGUMENT with our message, not grpc-js's generic deserialization error.
 */
function traceService(): ServiceDefinition {
  const { request, response } = otlpTraceSchema();
  return {
    Export: {
      path: TRACE_EXPORT_PATH,
      requestStream: false,
      responseStream: false,
      requestSerialize: (value: object) => Buffer.from(request.encode(request.fromObject(value)).finish()),
      requestDeserialize: (bytes: Buffer) => bytes,
      responseSerialize: (value: object) => Buffer.from(response.encode(response.fromObject(value)).finish()),
      responseDeserialize: (bytes: Buffer) => response.toObject(response.decode(bytes)),
    },
  };
}

/** HTTP status -> gRPC code, per gRPC's doc/http-grpc-status-mapping.md. */
function grpcCodeFor(httpStatus: number): GrpcStatus {
  switch (httpStatus) {
    case 400: return GrpcStatus.INTERNAL;
    case 401: return GrpcStatus.UNAUTHENTICATED;
    case 403: return GrpcStatus.PERMISSION_DENIED;
    case 404: return GrpcStatus.UNIMPLEMENTED;
    case 429: case 502: case 503: case 504: return GrpcStatus.UNAVAILABLE;
    default: return GrpcStatus.UNKNOWN;
  }
}
