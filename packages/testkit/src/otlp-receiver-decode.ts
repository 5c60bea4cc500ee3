// Turns an OTLP ExportTraceServiceRequest, binary or OTLP/JSON, into plain spans tests can
// compare with toEqual. Both encodings go through one normaliser over the camelCase object
// shape: protobufjs' toObject yields it for binary, and OTLP/JSON is that shape with hex IDs,
// base64 bytes and int64 as strings or numbers.
import { otlpTraceSchema } from './otlp-receiver-schema.js';

/** An attribute value with AnyValue's wrapper removed. int64 beyond 2^53 stays exact as bigint. */
export type OtlpValue =
  | string | number | bigint | boolean | null | Uint8Array
  | OtlpValue[]
  | { [key: string]: OtlpValue };

export type OtlpAttributes = Record<string, OtlpValue>;

export type OtlpSpanKind = 'UNSPECIFIED' | 'INTERNAL' | 'SERVER' | 'CLIENT' | 'PRODUCER' | 'CONSUMER';
export type OtlpStatusCode = 'UNSET' | 'OK' | 'ERROR';

/** One span as the fake collector received it, the same whichever encoding carried it. */
export interface DecodedSpan {
  /** 32 lowercase hex digits. */
  traceId: string;
  /** 16 lowercase hex digits. */
  spanId: string;
  /** 16 lowercase hex digits, or '' for a root span. */
  parentSpanId: string;
  traceState: string;
  name: string;
  kind: OtlpSpanKind;
  /** Nanoseconds since the epoch as a decimal string (exact; BigInt() it for arithmetic). */
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpAttributes;
  status: { code: OtlpStatusCode; message: string };
  events: Array<{ name: string; timeUnixNano: string; attributes: OtlpAttributes }>;
  links: Array<{ traceId: string; spanId: string; traceState: string; attributes: OtlpAttributes }>;
  /** Attributes of the span's resource, e.g. `service.name`. */
  resource: OtlpAttributes;
  scope: { name: string; version: string };
}

export type DecodeResult = { ok: true; spans: DecodedSpan[] } | { ok: false; error: string };

const SPAN_KINDS: readonly OtlpSpanKind[] = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
const STATUS_CODES: readonly OtlpStatusCode[] = ['UNSET', 'OK', 'ERROR'];

/** Decodes a binary ExportTraceServiceRequest (http/protobuf and gRPC bodies). */
export function decodeProtobufRequest(body: Uint8Array): DecodeResult {
  const { request } = otlpTraceSchema();
  let loose: unknown;
  try {
    // longs as decimal strings keep fixed64 nanoseconds exact; bytes stay Uint8Array.
    loose = request.toObject(request.decode(body), { longs: String });
  } catch (err) {
    return { ok: false, error: `invalid protobuf ExportTraceServiceRequest: ${(err as Error).message}` };
  }
  return normalise(loose);
}

/** Decodes an OTLP/JSON ExportTraceServiceRequest. */
export function decodeJsonRequest(body: string): DecodeResult {
  let loose: unknown;
  try {
    loose = JSON.parse(body);
  } catch (err) {
    return { ok: false, error: `invalid JSON: ${(err as Error).message}` };
  }
  if (typeof loose !== 'object' || loose === null || Array.isArray(loose)) {
    return { ok: false, error: 'invalid OTLP/JSON: the body must be an ExportTraceServiceRequest object' };
  }
  return normalise(loose);
}

/** Thrown from deep inside the walk, turned into a DecodeResult at its top. */
class Malformed extends Error {}

type Loose = Record<string, unknown>;

function normalise(root: unknown): DecodeResult {
  try {
    const spans: DecodedSpan[] = [];
    list(obj(root, 'request').resourceSpans, 'resourceSpans').forEach((rs, i) => {
      const resourceSpans = obj(rs, `resourceSpans[${i}]`);
      const resource = attributes(obj(resourceSpans.resource, `resourceSpans[${i}].resource`).attributes, `resourceSpans[${i}].resource.attributes`);
      list(resourceSpans.scopeSpans, `resourceSpans[${i}].scopeSpans`).forEach((ss, j) => {
        const at = `resourceSpans[${i}].scopeSpans[${j}]`;
        const scopeSpans = obj(ss, at);
        const scopeObj = obj(scopeSpans.scope, `${at}.scope`);
        const scope = { name: str(scopeObj.name, `${at}.scope.name`), version: str(scopeObj.version, `${at}.scope.version`) };
        list(scopeSpans.spans, `${at}.spans`).forEach((s, k) => {
          spans.push(span(obj(s, `${at}.spans[${k}]`), `${at}.spans[${k}]`, resource, scope));
        });
      });
    });
    return { ok: true, spans };
  } catch (err) {
    if (err instanceof Malformed) return { ok: false, error: `malformed ExportTraceServiceRequest: ${err.message}` };
    throw err;
  }
}

function span(s: Loose, at: string, resource: OtlpAttributes, scope: DecodedSpan['scope']): DecodedSpan {
  const status = obj(s.status, `${at}.status`);
  return {
    traceId: id(s.traceId, 16, `${at}.traceId`),
    spanId: id(s.spanId, 8, `${at}.spanId`),
    parentSpanId: id(s.parentSpanId, 8, `${at}.parentSpanId`, true),
    traceState: str(s.traceState, `${at}.traceState`),
    name: str(s.name, `${at}.name`),
    kind: enumName(s.kind, SPAN_KINDS, 'SPAN_KIND_', `${at}.kind`),
    startTimeUnixNano: nanos(s.startTimeUnixNano, `${at}.startTimeUnixNano`),
    endTimeUnixNano: nanos(s.endTimeUnixNano, `${at}.endTimeUnixNano`),
    attributes: attributes(s.attributes, `${at}.attributes`),
    status: { code: enumName(status.code, STATUS_CODES, 'STATUS_CODE_', `${at}.status.code`), message: str(status.message, `${at}.status.message`) },
    events: list(s.events, `${at}.events`).map((e, n) => {
      const event = obj(e, `${at}.events[${n}]`);
      return {
        name: str(event.name, `${at}.events[${n}].name`),
        timeUnixNano: nanos(event.timeUnixNano, `${at}.events[${n}].timeUnixNano`),
        attributes: attributes(event.attributes, `${at}.events[${n}].attributes`),
      };
    }),
    links: list(s.links, `${at}.links`).map((l, n) => {
      const link = obj(l, `${at}.links[${n}]`);
      return {
        traceId: id(link.traceId, 16, `${at}.links[${n}].traceId`),
        spanId: id(link.spanId, 8, `${at}.links[${n}].spanId`),
        traceState: str(link.traceState, `${at}.links[${n}].traceState`),
        attributes: attributes(link.attributes, `${at}.links[${n}].attributes`),
      };
    }),
    resource,
    scope,
  };
}

function attributes(value: unknown, at: string): OtlpAttributes {
  const out: OtlpAttributes = {};
  list(value, at).forEach((kv, i) => {
    const pair = obj(kv, `${at}[${i}]`);
    const key = str(pair.key, `${at}[${i}].key`);
    out[key] = anyValue(pair.value, `${at}[${i}] (${key})`);
  });
  return out;
}

function anyValue(value: unknown, at: string): OtlpValue {
  const v = obj(value, at);
  if (v.stringValue !== undefined) return str(v.stringValue, `${at}.stringValue`);
  if (v.boolValue !== undefined) {
    if (typeof v.boolValue !== 'boolean') throw new Malformed(`${at}.boolValue: expected a boolean`);
    return v.boolValue;
  }
  if (v.intValue !== undefined) {
    const n = BigInt(integer(v.intValue, `${at}.intValue`));
    return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
  }
  if (v.doubleValue !== undefined) {
    // proto3 JSON may spell non-finite doubles and exact values as strings.
    if (typeof v.doubleValue === 'number') return v.doubleValue;
    const d = typeof v.doubleValue === 'string' ? Number(v.doubleValue) : NaN;
    if (Number.isNaN(d) && v.doubleValue !== 'NaN') throw new Malformed(`${at}.doubleValue: expected a number`);
    return d;
  }
  if (v.arrayValue !== undefined) {
    return list(obj(v.arrayValue, `${at}.arrayValue`).values, `${at}.arrayValue.values`).map((item, i) => anyValue(item, `${at}.arrayValue.values[${i}]`));
  }
  if (v.kvlistValue !== undefined) return attributes(obj(v.kvlistValue, `${at}.kvlistValue`).values, `${at}.kvlistValue.values`);
  if (v.bytesValue !== undefined) {
    if (v.bytesValue instanceof Uint8Array) return new Uint8Array(v.bytesValue);
    if (typeof v.bytesValue === 'string') return new Uint8Array(Buffer.from(v.bytesValue, 'base64'));
    throw new Malformed(`${at}.bytesValue: expected bytes (base64 in JSON)`);
  }
  return null;
}

/** A trace or span ID: bytes in protobuf, hex in OTLP/JSON (unlike proto3 JSON's base64). */
function id(value: unknown, bytes: number, at: string, optional = false): string {
  let hex: string;
  if (value === undefined || value === null) hex = '';
  else if (value instanceof Uint8Array) hex = Buffer.from(value).toString('hex');
  else if (typeof value === 'string' && /^[0-9a-fA-F]*$/.test(value)) hex = value.toLowerCase();
  else if (typeof value === 'string') throw new Malformed(`${at}: "${value}" is not hex (OTLP/JSON encodes IDs as hex, not base64)`);
  else throw new Malformed(`${at}: expected ${bytes} bytes`);
  if (optional && hex === '') return '';
  if (hex.length !== bytes * 2) throw new Malformed(`${at}: expected ${bytes} bytes, got ${hex.length / 2}`);
  return hex;
}

function nanos(value: unknown, at: string): string {
  return value === undefined || value === null ? '0' : integer(value, at);
}

/** An int64 as a decimal string: protobufjs gives strings, OTLP/JSON strings or numbers. */
function integer(value: unknown, at: string): string {
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value).toString();
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value).toString();
  throw new Malformed(`${at}: expected an integer, got ${JSON.stringify(value)}`);
}

/** Enums arrive as numbers (binary, and OTLP/JSON as the spec asks) or as their proto names. */
function enumName<T extends string>(value: unknown, names: readonly T[], prefix: string, at: string): T {
  if (value === undefined || value === null) return names[0]!;
  if (typeof value === 'number' && names[value] !== undefined) return names[value]!;
  if (typeof value === 'string') {
    const name = names.find((n) => `${prefix}${n}` === value);
    if (name) return name;
  }
  throw new Malformed(`${at}: unknown value ${JSON.stringify(value)}`);
}

function obj(value: unknown, at: string): Loose {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) throw new Malformed(`${at}: expected an object`);
  return value as Loose;
}

function list(value: unknown, at: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Malformed(`${at}: expected an array`);
  return value;
}

function str(value: unknown, at: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new Malformed(`${at}: expected a string`);
  return value;
}
