// OTLP protobuf encoding of the sidecar's spans (an ExportTraceServiceRequest), for the
// http/protobuf and gRPC exporters. Why our own: the OpenTelemetry serializer cost the proxy
// ~6 µs per span on its event loop, measured — as much as the request's span itself. This one
// writes in one pass into one growing buffer, encodes each resource, scope and attribute key
// once and keeps the bytes, and converts ids with Buffer's native hex decoder. It covers the
// whole ReadableSpan (events and links too), so any span an exporter may get is encoded whole.
//
// Length-prefixed fields: a message's length is only known once it is written, so a guess of
// its length's size is reserved and the body moved when the guess was wrong (rare: attributes
// under 128 bytes take 1 byte, spans 2).
import type { Attributes, AttributeValue, HrTime, Link } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;
const TWO_32 = 4294967296;
const MAX_CACHED_KEYS = 256;
const MAX_VALUES_PER_KEY = 64;

export class OtlpSpanEncoder {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private pos = 0;
  private readonly keys = new Map<string, Buffer>();
  private readonly pairs = new Map<string, Map<string | number | boolean, Buffer>>();
  private readonly resources = new WeakMap<Resource, Buffer>();
  private readonly scopes = new WeakMap<InstrumentationScope, Buffer>();

  /** The request for `spans`: one ResourceSpans per resource, one ScopeSpans per scope within it. */
  encode(spans: readonly ReadableSpan[]): Uint8Array {
    this.pos = 0;
    for (const [resource, byScope] of group(spans)) {
      const resourceSpans = this.begin(1, 3);
      this.raw(1, this.resourceBytes(resource));
      for (const [scope, scopeSpans] of byScope) {
        const scopeSpansStart = this.begin(2, 3);
        this.raw(1, this.scopeBytes(scope));
        for (const span of scopeSpans) this.span(span);
        if (scope.schemaUrl) this.string(3, scope.schemaUrl);
        this.end(scopeSpansStart, 3);
      }
      if (resource.schemaUrl) this.string(3, resource.schemaUrl);
      this.end(resourceSpans, 3);
    }
    // A copy: the working buffer is reused by the next batch while this one is still being sent.
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  private span(span: ReadableSpan): void {
    const start = this.begin(2, 2);
    const context = span.spanContext();
    this.hex(1, context.traceId, 16);
    this.hex(2, context.spanId, 8);
    const traceState = context.traceState?.serialize();
    if (traceState) this.string(3, traceState);
    const parent = span.parentSpanContext;
    if (parent?.spanId) this.hex(4, parent.spanId, 8);
    this.string(5, span.name);
    this.tag(6, WIRE_VARINT);
    this.varint(span.kind + 1); // OTLP's SpanKind counts from UNSPECIFIED = 0
    this.tag(7, WIRE_FIXED64);
    this.time(span.startTime);
    this.tag(8, WIRE_FIXED64);
    this.time(span.endTime);
    this.attributes(9, span.attributes);
    this.count(10, span.droppedAttributesCount);
    for (const event of span.events) this.event(event);
    this.count(12, span.droppedEventsCount);
    for (const link of span.links) this.link(link);
    this.count(14, span.droppedLinksCount);
    const status = this.begin(15, 1);
    if (span.status.message) this.string(2, span.status.message);
    if (span.status.code) {
      this.tag(3, WIRE_VARINT);
      this.varint(span.status.code);
    }
    this.end(status, 1);
    this.tag(16, WIRE_FIXED32);
    this.fixed32((context.traceFlags & 0xff) | HAS_IS_REMOTE | (parent?.isRemote ? IS_REMOTE : 0));
    this.end(start, 2);
  }

  private event(event: TimedEvent): void {
    const start = this.begin(11, 2);
    this.tag(1, WIRE_FIXED64);
    this.time(event.time);
    this.string(2, event.name);
    this.attributes(3, event.attributes ?? {});
    this.count(4, event.droppedAttributesCount ?? 0);
    this.end(start, 2);
  }

  private link(link: Link): void {
    const start = this.begin(13, 2);
    this.hex(1, link.context.traceId, 16);
    this.hex(2, link.context.spanId, 8);
    const traceState = link.context.traceState?.serialize();
    if (traceState) this.string(3, traceState);
    this.attributes(4, link.attributes ?? {});
    this.count(5, link.droppedAttributesCount ?? 0);
    this.fixed32((link.context.traceFlags & 0xff) | HAS_IS_REMOTE | (link.context.isRemote ? IS_REMOTE : 0), 6);
    this.end(start, 2);
  }

  private attributes(field: number, attributes: Attributes): void {
    for (const key in attributes) {
      const value = attributes[key];
      if (value === undefined || value === null) continue;
      const cached = typeof value === 'object' ? undefined : this.cachedKeyValue(key, value);
      if (cached !== undefined) {
        this.raw(field, cached);
        continue;
      }
      const start = this.begin(field, 1);
      this.keyValue(key, value);
      this.end(start, 1);
    }
  }

  /** A KeyValue's inside. */
  private keyValue(key: string, value: AttributeValue): void {
    this.raw(-1, this.keyBytes(key));
    const anyValue = this.begin(2, 1);
    this.value(value);
    this.end(anyValue, 1);
  }

  /**
   * The encoded KeyValue of a scalar attribute, kept: most of the proxy's attributes repeat
   * from request to request (method, service, namespace, zone, endpoint, status). Bounded per
   * key, so a key with ever-new values (a URL) stops being kept and is encoded each time.
   */
  private cachedKeyValue(key: string, value: string | number | boolean): Buffer | undefined {
    let byValue = this.pairs.get(key);
    if (byValue === undefined) {
      if (this.pairs.size >= MAX_CACHED_KEYS) return undefined;
      this.pairs.set(key, byValue = new Map());
    }
    let bytes = byValue.get(value);
    if (bytes === undefined && byValue.size < MAX_VALUES_PER_KEY) {
      bytes = this.standalone(() => this.keyValue(key, value));
      byValue.set(value, bytes);
    }
    return bytes;
  }

  /** The inside of an AnyValue. */
  private value(value: AttributeValue | null | undefined): void {
    if (typeof value === 'string') this.string(1, value);
    else if (typeof value === 'boolean') {
      this.tag(2, WIRE_VARINT);
      this.varint(value ? 1 : 0);
    } else if (typeof value === 'number') {
      if (Number.isSafeInteger(value)) {
        this.tag(3, WIRE_VARINT);
        this.int64(value);
      } else {
        this.tag(4, WIRE_FIXED64);
        this.ensure(8);
        this.buf.writeDoubleLE(value, this.pos);
        this.pos += 8;
      }
    } else if (Array.isArray(value)) {
      const array = this.begin(5, 2);
      for (const item of value) {
        const element = this.begin(1, 1);
        if (item !== null && item !== undefined) this.value(item);
        this.end(element, 1);
      }
      this.end(array, 2);
    }
  }

  private resourceBytes(resource: Resource): Buffer {
    let bytes = this.resources.get(resource);
    if (bytes === undefined) {
      bytes = this.standalone(() => this.attributes(1, resource.attributes));
      this.resources.set(resource, bytes);
    }
    return bytes;
  }

  private scopeBytes(scope: InstrumentationScope): Buffer {
    let bytes = this.scopes.get(scope);
    if (bytes === undefined) {
      bytes = this.standalone(() => {
        this.string(1, scope.name);
        if (scope.version) this.string(2, scope.version);
      });
      this.scopes.set(scope, bytes);
    }
    return bytes;
  }

  /** KeyValue's key field (tag, length, UTF-8), kept per key: the proxy uses a few dozen. */
  private keyBytes(key: string): Buffer {
    let bytes = this.keys.get(key);
    if (bytes === undefined) {
      bytes = this.standalone(() => this.string(1, key));
      if (this.keys.size < 1024) this.keys.set(key, bytes);
    }
    return bytes;
  }

  /** Encodes with `write` on the side, without disturbing the message being built. */
  private standalone(write: () => void): Buffer {
    const saved = this.pos;
    write();
    const bytes = Buffer.from(this.buf.subarray(saved, this.pos));
    this.pos = saved;
    return bytes;
  }

  /** Starts a length-delimited field, reserving `reserve` bytes for its length. */
  private begin(field: number, reserve: number): number {
    this.tag(field, WIRE_LEN);
    this.ensure(reserve);
    const start = this.pos;
    this.pos += reserve;
    return start;
  }

  private end(start: number, reserve: number): void {
    const length = this.pos - start - reserve;
    const size = varintSize(length);
    if (size !== reserve) {
      this.ensure(size - reserve);
      this.buf.copyWithin(start + size, start + reserve, this.pos);
      this.pos += size - reserve;
    }
    const body = this.pos;
    this.pos = start;
    this.varint(length);
    this.pos = body;
  }

  /** A length-delimited field of already-encoded bytes; field -1: the bytes carry their own tag. */
  private raw(field: number, bytes: Buffer): void {
    if (field >= 0) {
      this.tag(field, WIRE_LEN);
      this.varint(bytes.length);
    }
    const length = bytes.length;
    this.ensure(length);
    const buf = this.buf;
    const pos = this.pos;
    // A short copy in a loop beats a call into the runtime (TypedArray#set, Buffer#copy).
    if (length <= 64) for (let i = 0; i < length; i++) buf[pos + i] = bytes[i]!;
    else buf.set(bytes, pos);
    this.pos = pos + length;
  }

  private string(field: number, value: string): void {
    this.tag(field, WIRE_LEN);
    // Up to 42 UTF-16 units make at most 126 UTF-8 bytes: a one-byte length, no measuring.
    // ASCII, the common case, is copied here: cheaper than a call into Buffer#write.
    if (value.length <= 42) {
      this.ensure(1 + value.length * 3);
      const buf = this.buf;
      const start = this.pos + 1;
      let i = 0;
      for (; i < value.length; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        buf[start + i] = c;
      }
      const written = i === value.length ? i : i + buf.write(value.slice(i), start + i, 'utf8');
      buf[this.pos] = written;
      this.pos = start + written;
      return;
    }
    const length = Buffer.byteLength(value, 'utf8');
    this.varint(length);
    this.ensure(length);
    this.pos += this.buf.write(value, this.pos, 'utf8');
  }

  private hex(field: number, id: string, bytes: number): void {
    this.tag(field, WIRE_LEN);
    this.varint(bytes);
    this.ensure(bytes);
    // Decoded here rather than by Buffer#write(…, 'hex'): ids are short, calls into C++ are not
    // free. A bad digit counts as 0, so an invalid id still fills its bytes.
    const buf = this.buf;
    for (let i = 0; i < bytes; i++) buf[this.pos + i] = (nibble(id.charCodeAt(2 * i)) << 4) | nibble(id.charCodeAt(2 * i + 1));
    this.pos += bytes;
  }

  private count(field: number, n: number): void {
    this.tag(field, WIRE_VARINT);
    this.varint(n);
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  private varint(n: number): void {
    if (n < 0x80 && this.pos < this.buf.length) {
      this.buf[this.pos++] = n;
      return;
    }
    this.ensure(10);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }

  /** int64 as a varint: negatives are their 64-bit two's complement (10 bytes). */
  private int64(n: number): void {
    if (n >= 0) {
      this.varint(n);
      return;
    }
    this.ensure(10);
    let value = BigInt.asUintN(64, BigInt(n));
    for (let i = 0; i < 9; i++) {
      this.buf[this.pos++] = Number(value & 0x7fn) | 0x80;
      value >>= 7n;
    }
    this.buf[this.pos++] = Number(value);
  }

  private fixed32(n: number, field?: number): void {
    if (field !== undefined) this.tag(field, WIRE_FIXED32);
    this.ensure(4);
    this.buf.writeUInt32LE(n >>> 0, this.pos);
    this.pos += 4;
  }

  /** [seconds, nanoseconds] as fixed64 nanoseconds, exactly: the product passes 2^53. */
  private time([seconds, nanos]: HrTime): void {
    // seconds * 1e9 + nanos = high * 2^32 + low, computed in parts that stay below 2^53.
    const upper = Math.floor(seconds / 65536) * 1e9; // × 2^16
    const rest = (upper % 65536) * 65536 + (seconds % 65536) * 1e9 + nanos;
    const high = Math.floor(upper / 65536) + Math.floor(rest / TWO_32);
    this.ensure(8);
    this.buf.writeUInt32LE(rest % TWO_32, this.pos);
    this.buf.writeUInt32LE(high, this.pos + 4);
    this.pos += 8;
  }

  private ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }
}

/** The value of one hex digit's char code; 0 for anything else. */
function nibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  if (c >= 97 && c <= 102) return c - 87; // a-f
  if (c >= 65 && c <= 70) return c - 55; // A-F
  return 0;
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

/** Spans by resource, then by scope, in order of first appearance (usually one of each). */
function group(spans: readonly ReadableSpan[]): Map<Resource, Map<InstrumentationScope, ReadableSpan[]>> {
  const groups = new Map<Resource, Map<InstrumentationScope, ReadableSpan[]>>();
  for (const span of spans) {
    let byScope = groups.get(span.resource);
    if (byScope === undefined) groups.set(span.resource, byScope = new Map());
    let list = byScope.get(span.instrumentationScope);
    if (list === undefined) byScope.set(span.instrumentationScope, list = []);
    list.push(span);
  }
  return groups;
}
