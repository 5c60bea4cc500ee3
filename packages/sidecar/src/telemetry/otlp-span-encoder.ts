// OTLP protobuf encoding of the sidecar's spans (an ExportTraceServiceRequest), for the
// http/protobuf and gRPC exporters. Why our own: the OpenTelemetry serializer cost the proxy
// ~6 µs per span on its event loop, measured — as much as the request's span itself. This one
// writes in one pass into one growing buffer (protobuf-writer.ts), encodes each resource, scope,
// attribute key, repeating attribute and shared attribute set (attribute-set.ts) once and keeps
// the bytes. It covers the whole ReadableSpan (events and links too), so any span an exporter
// may get is encoded whole.
import type { Attributes, AttributeValue, Link } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import { LightSpan } from './light-tracer.js';
import { ProtobufWriter, WIRE_FIXED32, WIRE_FIXED64, WIRE_VARINT } from './protobuf-writer.js';

const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;
const MAX_CACHED_KEYS = 256;
const MAX_VALUES_PER_KEY = 64;

export class OtlpSpanEncoder extends ProtobufWriter {
  private readonly keys = new Map<string, Buffer>();
  private readonly pairs = new Map<string, Map<string | number | boolean, Buffer>>();
  private readonly resources = new WeakMap<Resource, Buffer>();
  private readonly scopes = new WeakMap<InstrumentationScope, Buffer>();

  /** The request for `spans`: one ResourceSpans per resource, one ScopeSpans per scope within it. */
  encode(spans: readonly ReadableSpan[]): Uint8Array {
    const lanes = new SpanLanes();
    for (const span of spans) this.appendSpan(lanes.of(span), span);
    return this.request(lanes.all());
  }

  /** Appends `span` to `lane` as an encoded `Span` field; when encoding throws, the lane is left as it was. */
  appendSpan(lane: SpanLane, span: ReadableSpan): void {
    const ownBuf = this.buf;
    const ownPos = this.pos;
    this.buf = lane.buf;
    this.pos = lane.pos;
    try {
      this.span(span);
      lane.pos = this.pos;
      lane.count++;
    } finally {
      lane.buf = this.buf; // grown, perhaps, with the lane's bytes copied
      this.buf = ownBuf;
      this.pos = ownPos;
    }
  }

  /**
   * The ExportTraceServiceRequest of the spans in `lanes` (lanes of one resource next to each
   * other), in a buffer of its own: the lanes are reused while this request is being sent.
   */
  request(lanes: readonly SpanLane[]): Uint8Array {
    let bound = 0;
    for (const lane of lanes) {
      // Also fills the resource and scope caches, which write into the working buffer.
      bound += lane.pos + this.resourceBytes(lane.resource).length + this.scopeBytes(lane.scope).length + 32
        + 3 * ((lane.resource.schemaUrl?.length ?? 0) + (lane.scope.schemaUrl?.length ?? 0));
    }
    const ownBuf = this.buf;
    const ownPos = this.pos;
    this.buf = Buffer.allocUnsafe(bound);
    this.pos = 0;
    try {
      for (let i = 0; i < lanes.length;) {
        const resource = lanes[i]!.resource;
        const resourceSpans = this.begin(1, 3);
        this.raw(1, this.resourceBytes(resource));
        for (; i < lanes.length && lanes[i]!.resource === resource; i++) {
          const lane = lanes[i]!;
          const scopeSpans = this.begin(2, 3);
          this.raw(1, this.scopeBytes(lane.scope));
          this.raw(-1, lane.buf.subarray(0, lane.pos));
          if (lane.scope.schemaUrl) this.string(3, lane.scope.schemaUrl);
          this.end(scopeSpans, 3);
        }
        if (resource.schemaUrl) this.string(3, resource.schemaUrl);
        this.end(resourceSpans, 3);
      }
      return this.buf.subarray(0, this.pos);
    } finally {
      this.buf = ownBuf;
      this.pos = ownPos;
    }
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
    const light = span instanceof LightSpan ? span : undefined;
    this.tag(7, WIRE_FIXED64);
    if (light !== undefined) this.epochMilliseconds(light.startEpochMs);
    else this.time(span.startTime);
    this.tag(8, WIRE_FIXED64);
    if (light !== undefined) this.epochMilliseconds(light.endEpochMs);
    else this.time(span.endTime);
    if (light !== undefined) this.lightAttributes(light);
    else this.attributes(9, span.attributes);
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
    for (const key in attributes) this.attribute(field, key, attributes[key]);
  }

  /** A LightSpan's attributes: shared sets from their kept bytes, then the span's own. */
  private lightAttributes(span: LightSpan): void {
    for (const set of span.sharedAttributes) {
      const bytes = set.encodedSpanAttributes ??= this.standalone(() => {
        for (let i = 0; i < set.keys.length; i++) this.attribute(9, set.keys[i]!, set.values[i]);
      });
      this.raw(-1, bytes);
    }
    const own = span.ownAttributes;
    for (let i = 0; i < own.length; i += 2) this.attribute(9, own[i] as string, own[i + 1] as AttributeValue);
  }

  private attribute(field: number, key: string, value: AttributeValue | undefined): void {
    if (value === undefined || value === null) return;
    const cached = typeof value === 'object' ? undefined : this.cachedKeyValue(key, value);
    if (cached !== undefined) {
      this.raw(field, cached);
      return;
    }
    const start = this.begin(field, 1);
    this.keyValue(key, value);
    this.end(start, 1);
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
}

/** Encoded spans of one resource and scope, waiting to become a request. */
export interface SpanLane {
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
  buf: Buffer;
  /** Bytes used in `buf`. */
  pos: number;
  count: number;
}

/** Lanes by resource, then by scope, in order of first appearance (usually one). */
export class SpanLanes {
  private readonly byResource = new Map<Resource, Map<InstrumentationScope, SpanLane>>();

  constructor(private readonly laneBytes = 4096) {}

  of(span: ReadableSpan): SpanLane {
    let byScope = this.byResource.get(span.resource);
    if (byScope === undefined) this.byResource.set(span.resource, byScope = new Map());
    let lane = byScope.get(span.instrumentationScope);
    if (lane === undefined) {
      lane = { resource: span.resource, scope: span.instrumentationScope, buf: Buffer.allocUnsafe(this.laneBytes), pos: 0, count: 0 };
      byScope.set(span.instrumentationScope, lane);
    }
    return lane;
  }

  /** Every lane holding spans, those of one resource next to each other. */
  all(): SpanLane[] {
    const lanes: SpanLane[] = [];
    for (const byScope of this.byResource.values()) for (const lane of byScope.values()) if (lane.count > 0) lanes.push(lane);
    return lanes;
  }

  /** Empties the lanes, keeping the usual one and its buffer for the next spans. */
  reset(): void {
    for (const [resource, byScope] of this.byResource) {
      for (const [scope, lane] of byScope) {
        lane.pos = 0;
        lane.count = 0;
        if (this.byResource.size > 1 || byScope.size > 1) byScope.delete(scope);
      }
      if (byScope.size === 0) this.byResource.delete(resource);
    }
  }
}
