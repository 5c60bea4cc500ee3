// The sidecar's tracer: OpenTelemetry API spans that cost little on the request path.
//
// Why not the SDK's Tracer and Span: the telemetry issue allows tracing 15% of throughput, and
// the proxy's event loop is its bottleneck, so every microsecond per request shows. The SDK's
// span validates and copies attributes on every call, keeps events, links and self-metrics
// machinery, and converts times to HrTime at start and end; measured in the sidecar it cost
// ~6 µs per request span. This tracer does the same job for what the proxy records (a name,
// a kind, flat attributes, a status, at most a handful per request) in a plain object that is
// also the SDK's ReadableSpan, so the SDK's samplers, span processors and OTLP exporters take
// it unchanged. Library mode does not use it: there the app's own SDK records.
import {
  ROOT_CONTEXT, SamplingDecision, SpanKind, SpanStatusCode, TraceFlags, trace,
  type Attributes, type AttributeValue, type Context, type HrTime, type Link, type Span, type SpanContext,
  type SpanOptions, type SpanStatus, type TimeInput, type Tracer,
} from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, Sampler, SpanProcessor, TimedEvent } from '@opentelemetry/sdk-trace-base';
import { randomFillSync } from 'node:crypto';
import type { AttributeSet } from './attribute-set.js';

/** The limits the proxy's spans honour (OTEL_SPAN_ATTRIBUTE_*). Events and links are not recorded. */
export interface LightSpanLimits {
  readonly attributeCountLimit: number;
  readonly attributeValueLengthLimit: number;
}

export interface LightTracerOptions {
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
  readonly sampler: Sampler;
  readonly limits: LightSpanLimits;
  /** Gets every ended recording span (sampled or not: processors check the flag). */
  readonly processor: Pick<SpanProcessor, 'onEnd'>;
  /** Whether to skip spans when the context says tracing is suppressed (the exporter's own calls). */
  readonly isSuppressed?: (context: Context) => boolean;
}

const NO_LINKS: Link[] = [];
const UNSET_STATUS: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });
const NO_EVENTS: TimedEvent[] = [];
/** Shared by spans without sets; never pushed into (addAttributeSet replaces it first). */
const NO_SETS: AttributeSet[] = [];
const timeOrigin = performance.timeOrigin;

export class LightTracer implements Tracer {
  constructor(private readonly options: LightTracerOptions) {}

  startSpan(name: string, options: SpanOptions = {}, context?: Context): Span {
    return this.start(name, options, undefined, context);
  }

  /**
   * startSpan for the proxy's spans: `shared` is added by reference (see AttributeSet) and is
   * what the sampler sees as the span's attributes. `startTime`: a performance.now() value the
   * caller already has (default: now).
   */
  startSharedSpan(name: string, kind: SpanKind, shared: AttributeSet, context: Context, startTime?: number): Span {
    return this.start(name, { kind, attributes: shared.attributes }, shared, context, startTime);
  }

  private start(name: string, options: SpanOptions, shared: AttributeSet | undefined, context: Context | undefined, startTime = options.startTime): Span {
    const parentContext = context === undefined || options.root ? undefined : trace.getSpanContext(context);
    if (context !== undefined && this.options.isSuppressed?.(context)) return trace.wrapSpanContext({ traceId: INVALID_TRACE, spanId: INVALID_SPAN, traceFlags: TraceFlags.NONE });
    const parent = parentContext !== undefined && trace.isSpanContextValid(parentContext) ? parentContext : undefined;
    const traceId = parent?.traceId ?? randomHex(16);
    const kind = options.kind ?? SpanKind.INTERNAL;
    const links = options.links ?? NO_LINKS;
    const sampling = this.options.sampler.shouldSample(context ?? ROOT_CONTEXT, traceId, name, kind, options.attributes ?? {}, links);
    const spanContext: SpanContext = {
      traceId,
      spanId: randomHex(8),
      traceFlags: sampling.decision === SamplingDecision.RECORD_AND_SAMPLED ? TraceFlags.SAMPLED : TraceFlags.NONE,
    };
    const traceState = sampling.traceState ?? parent?.traceState;
    if (traceState) spanContext.traceState = traceState;
    if (sampling.decision === SamplingDecision.NOT_RECORD) return trace.wrapSpanContext(spanContext);
    const span = new LightSpan(this.options, name, kind, spanContext, parent, relativeMs(startTime));
    if (shared !== undefined) span.addAttributeSet(shared);
    else if (options.attributes) span.setAttributes(options.attributes);
    if (sampling.attributes) span.setAttributes(sampling.attributes);
    return span;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...args: unknown[]): ReturnType<F> {
    // The sidecar installs no context manager: "active" can only mean the context passed in.
    const fn = args[args.length - 1] as F;
    const options = (args.length > 1 ? args[0] : undefined) as SpanOptions | undefined;
    const context = (args.length > 2 ? args[1] : undefined) as Context | undefined;
    return fn(this.startSpan(name, options, context)) as ReturnType<F>;
  }
}

/** A recording span of the proxy; once ended, the ReadableSpan the processors and exporters read. */
export class LightSpan implements Span, ReadableSpan {
  readonly links = NO_LINKS;
  readonly events = NO_EVENTS;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  droppedAttributesCount = 0;
  /** Replaced, never changed in place: spans start with one shared UNSET status. */
  status: SpanStatus = UNSET_STATUS;
  ended = false;
  /** Shared attribute sets, before the span's own attributes; no key is in two places. */
  sharedAttributes: AttributeSet[] = NO_SETS;
  /** The span's own attributes, key and value after each other: cheaper than growing an object key by key. */
  readonly ownAttributes: Array<string | AttributeValue> = [];
  /** Milliseconds since performance.timeOrigin; -1 until ended. */
  private endMs = -1;
  private attributeCount = 0;

  constructor(
    private readonly options: LightTracerOptions,
    public name: string,
    readonly kind: SpanKind,
    private readonly context: SpanContext,
    readonly parentSpanContext: SpanContext | undefined,
    /** Milliseconds since performance.timeOrigin. */
    private readonly startMs: number,
  ) {}

  /** Every attribute as one object, shared sets first: built on each read (exporters other than ours). */
  get attributes(): Attributes {
    const attributes: Attributes = {};
    for (const set of this.sharedAttributes) for (let i = 0; i < set.keys.length; i++) attributes[set.keys[i]!] = set.values[i];
    const own = this.ownAttributes;
    for (let i = 0; i < own.length; i += 2) attributes[own[i] as string] = own[i + 1] as AttributeValue;
    return attributes;
  }

  /** Start and end in milliseconds since the epoch (the encoder's, without HrTime arrays). */
  get startEpochMs(): number {
    return timeOrigin + this.startMs;
  }

  get endEpochMs(): number {
    return timeOrigin + Math.max(this.endMs, this.startMs);
  }

  get resource(): Resource {
    return this.options.resource;
  }

  get instrumentationScope(): InstrumentationScope {
    return this.options.scope;
  }

  get startTime(): HrTime {
    return hrTime(timeOrigin + this.startMs);
  }

  get endTime(): HrTime {
    return hrTime(timeOrigin + Math.max(this.endMs, this.startMs));
  }

  get duration(): HrTime {
    return hrTime(Math.max(0, this.endMs - this.startMs));
  }

  spanContext(): SpanContext {
    return this.context;
  }

  setAttribute(key: string, value: AttributeValue | undefined): this {
    if (this.ended || value === undefined || value === null || key.length === 0) return this;
    if (this.sharedAttributes !== NO_SETS && this.sharedAttributes.some((set) => set.has(key))) this.unshare();
    const limits = this.options.limits;
    const stored = typeof value === 'string' && value.length > limits.attributeValueLengthLimit
      ? value.slice(0, limits.attributeValueLengthLimit)
      : value;
    const own = this.ownAttributes;
    for (let i = 0; i < own.length; i += 2) {
      if (own[i] === key) {
        own[i + 1] = stored;
        return this;
      }
    }
    if (this.attributeCount >= limits.attributeCountLimit) {
      this.droppedAttributesCount++;
      return this;
    }
    this.attributeCount++;
    own.push(key, stored);
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) this.setAttribute(key, attributes[key]);
    return this;
  }

  /**
   * Adds `set`'s attributes by reference. When that would not give what setting them one by one
   * gives (a key already present, a limit reached, a value to truncate), sets them one by one.
   */
  addAttributeSet(set: AttributeSet): this {
    if (this.ended) return this;
    const limits = this.options.limits;
    const shareable = this.attributeCount + set.keys.length <= limits.attributeCountLimit
      && set.longestString <= limits.attributeValueLengthLimit
      && !set.keys.some((key) => this.hasOwn(key) || this.sharedAttributes.some((other) => other.has(key)));
    if (!shareable) return this.setAttributes(set.attributes);
    const sets = this.sharedAttributes;
    // Exact-size arrays for the usual one or two sets (a destination's, an endpoint's): a push
    // onto a one-element literal would allocate room for seventeen.
    if (sets === NO_SETS) this.sharedAttributes = [set];
    else if (sets.length === 1) this.sharedAttributes = [sets[0]!, set];
    else sets.push(set);
    this.attributeCount += set.keys.length;
    return this;
  }

  private hasOwn(key: string): boolean {
    const own = this.ownAttributes;
    for (let i = 0; i < own.length; i += 2) if (own[i] === key) return true;
    return false;
  }

  /** Turns the shared sets into own attributes (rare: a shared key set again). */
  private unshare(): void {
    const sets = this.sharedAttributes;
    this.sharedAttributes = NO_SETS;
    const own = this.ownAttributes.splice(0);
    for (const set of sets) for (let i = 0; i < set.keys.length; i++) this.ownAttributes.push(set.keys[i]!, set.values[i]!);
    this.ownAttributes.push(...own);
  }

  /** Events are not recorded by the proxy's spans (it adds none). */
  addEvent(): this {
    return this;
  }

  /** Links are not recorded by the proxy's spans (it adds none). */
  addLink(): this {
    return this;
  }

  addLinks(): this {
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.ended || status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK) return this;
    this.status = status.message === undefined || status.code !== SpanStatusCode.ERROR ? { code: status.code } : status;
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.ended) return;
    this.endMs = endTime === undefined ? performance.now() : relativeMs(endTime);
    this.ended = true;
    this.options.processor.onEnd(this);
  }

  isRecording(): boolean {
    return !this.ended;
  }

  /** Exceptions are events: not recorded by the proxy's spans (it records failures as error.type). */
  recordException(): void {}
}

const INVALID_TRACE = '00000000000000000000000000000000';
const INVALID_SPAN = '0000000000000000';

// Random ids from a pooled buffer: one randomFillSync per 256 ids instead of one per id.
const POOL = Buffer.alloc(4096);
let poolOffset = POOL.length;

function randomHex(bytes: 8 | 16): string {
  for (;;) {
    if (poolOffset + bytes > POOL.length) {
      randomFillSync(POOL);
      poolOffset = 0;
    }
    const start = poolOffset;
    poolOffset += bytes;
    // An all-zero id is invalid (W3C); vanishingly rare, but then take the next one.
    for (let i = start; i < start + bytes; i++) if (POOL[i] !== 0) return POOL.toString('hex', start, start + bytes);
  }
}

/**
 * A TimeInput as milliseconds since performance.timeOrigin. Like the SDK: a number below the
 * time origin is a performance.now() value, a larger one epoch milliseconds.
 */
function relativeMs(time: TimeInput | undefined): number {
  if (time === undefined) return performance.now();
  if (typeof time === 'number') return time < timeOrigin ? time : time - timeOrigin;
  if (time instanceof Date) return time.getTime() - timeOrigin;
  return time[0] * 1000 + time[1] / 1e6 - timeOrigin;
}

/** Milliseconds (since the epoch, or a duration) as [seconds, nanoseconds]. */
function hrTime(ms: number): HrTime {
  let seconds = Math.floor(ms / 1000);
  let nanos = Math.round((ms - seconds * 1000) * 1e6);
  if (nanos >= 1e9) {
    seconds++;
    nanos -= 1e9;
  }
  return [seconds, nanos];
}
