// Telemetry of proxied requests: a span and metrics per request, recorded by the exchange that
// forwards it (HTTP/1.1, h2c) or by the inbound listener. One RequestRecord per request holds
// both, so the request path pays for one object; with tracing and metrics off, no record at all.
//
// Spans follow the OpenTelemetry HTTP semantic conventions (CLIENT for outbound, SERVER for
// inbound) plus `skein.*` attributes that say why the request went where it did. Retries: the
// request span stays the parent; when a second attempt starts, the first attempt is recorded as
// a child span after the fact (start of the request to its failure) and every later attempt gets
// a live child span, whose context is what that endpoint receives in `traceparent`.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type SpanContext, type TextMapPropagator, type Tracer } from '@opentelemetry/api';
import type { Target } from '../dataplane.js';
import { AttributeSet } from './attribute-set.js';
import { LightSpan, LightTracer } from './light-tracer.js';
import type { RequestMetrics } from './request-metrics.js';
import { formatTraceparent, parseTraceparent } from './trace-context.js';

/** What is known about a request when it starts. */
export interface RequestFacts {
  readonly direction: 'outbound' | 'inbound';
  readonly method: string;
  /** The host as the client named it (server.address). */
  readonly host: string;
  readonly port: number;
  /** Origin-form path, query included. */
  readonly path: string;
  /** '1.1' or '2'. */
  readonly protocolVersion: string;
  /** "<namespace>/<name>" of the mesh Service; undefined outside the mesh. */
  readonly service: string | undefined;
  /** The eligibility rule that made the endpoint set (kube-proxy's), for mesh Services. */
  readonly rule?: string | undefined;
}

/** Incoming headers by lower-cased name, as node gives them (HTTP/1.1 and HTTP/2). */
export type HeaderCarrier = Readonly<Record<string, string | string[] | undefined>>;

/** The tracing half: a tracer and the propagator for incoming and outgoing trace context. */
export interface TracingHandle {
  readonly tracer: Tracer;
  readonly propagator: TextMapPropagator;
  /**
   * True when `propagator` is W3C trace context (with or without baggage): the proxy then reads
   * and writes `traceparent` itself (trace-context.ts) and forwards `tracestate` and `baggage`
   * as the client sent them, which is what the propagator would write.
   */
  readonly traceContextOnly?: boolean;
}

/** Starts a RequestRecord per request, or none when nothing records. */
export class RequestTelemetry {
  private readonly destinations = new DestinationSets();

  constructor(
    private readonly tracing: TracingHandle | undefined,
    private readonly metrics: RequestMetrics | undefined,
  ) {}

  /** True when requests are recorded at all. */
  get enabled(): boolean {
    return this.tracing !== undefined || this.metrics !== undefined;
  }

  /**
   * Starts recording a request. Its span's parent is the trace context in `incoming` (a proxy's
   * client headers), or `parent` when given (library mode: the app's active context).
   */
  start(facts: RequestFacts, incoming: HeaderCarrier, parent?: Context): RequestRecord | undefined {
    if (!this.enabled) return undefined;
    return new RequestRecord(this.tracing, this.metrics, facts, incoming, parent, this.tracing && this.destinations.get(facts));
  }
}

const headerGetter = {
  get(carrier: HeaderCarrier, key: string): string | string[] | undefined {
    return carrier[key];
  },
  keys(carrier: HeaderCarrier): string[] {
    return Object.keys(carrier);
  },
};

const recordSetter = {
  set(carrier: Record<string, string>, key: string, value: string): void {
    carrier[key] = value;
  },
};

/** One request: its span (when traced) and its metrics (when measured). */
export class RequestRecord {
  private readonly span: Span | undefined;
  private readonly parent: Context;
  private readonly startedAt = performance.now();
  private attempts = 0;
  private target: Target | undefined;
  private attemptSpan: Span | undefined;
  /** The first attempt's endpoint, for its span recorded after the fact. */
  private firstTarget: Target | undefined;
  private firstAffinityHit: boolean | undefined;
  private lastAffinityHit: boolean | undefined;
  /** Why the last attempt failed, for the span of an attempt recorded after the fact. */
  private lastFailure: string | undefined;
  private ended = false;

  constructor(
    private readonly tracing: TracingHandle | undefined,
    private readonly metrics: RequestMetrics | undefined,
    private readonly facts: RequestFacts,
    incoming: HeaderCarrier,
    parent?: Context,
    destination?: DestinationSet,
  ) {
    if (tracing === undefined || destination === undefined) {
      this.parent = ROOT_CONTEXT;
      return;
    }
    if (parent !== undefined) this.parent = parent;
    else if (tracing.traceContextOnly !== true) this.parent = tracing.propagator.extract(ROOT_CONTEXT, incoming, headerGetter);
    else {
      const remote = parseTraceparent(incoming.traceparent, incoming.tracestate);
      this.parent = remote === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, remote);
    }
    const kind = facts.direction === 'outbound' ? SpanKind.CLIENT : SpanKind.SERVER;
    const tracer = tracing.tracer;
    const span = this.span = tracer instanceof LightTracer
      ? tracer.startSharedSpan(facts.method, kind, destination.attributes, this.parent, this.startedAt)
      : tracer.startSpan(facts.method, { kind, attributes: destination.attributes.attributes }, this.parent);
    const path = facts.path;
    const query = path.indexOf('?');
    span.setAttribute('url.path', query === -1 ? path : path.slice(0, query));
    if (destination.urlPrefix !== undefined && span.isRecording()) span.setAttribute('url.full', destination.urlPrefix + path);
  }

  /** The trace id of the request span ('' when not traced), for logs. */
  get traceId(): string {
    return this.span?.spanContext().traceId ?? '';
  }

  /**
   * Attempt `n` (from 1) goes to `target`. Returns the headers that carry the trace context to
   * the endpoint (or to the app, inbound), or undefined when not traced.
   */
  attempt(target: Target, affinityHit?: boolean): Record<string, string> | undefined {
    this.attempts++;
    this.target = target;
    this.lastAffinityHit = affinityHit;
    if (this.attempts === 1) {
      this.firstTarget = target;
      this.firstAffinityHit = affinityHit;
    }
    const tracing = this.tracing;
    const span = this.span;
    if (tracing === undefined || span === undefined) return undefined;
    // The request span gets the endpoint that answered, once, at its end.
    let current = span;
    if (this.attempts > 1) {
      if (this.attempts === 2) this.recordFirstAttempt(tracing, span);
      this.attemptSpan?.end();
      current = this.attemptSpan = this.childSpan(tracing, span, this.attempts, Date.now());
      setEndpoint(current, target, this.attempts, affinityHit);
    }
    if (tracing.traceContextOnly === true) return traceContextHeaders(current.spanContext());
    const headers: Record<string, string> = {};
    tracing.propagator.inject(trace.setSpan(this.parent, current), headers, recordSetter);
    return headers;
  }

  /** The current attempt failed with `reason` (an outcome like 'connect-error', or a status). */
  attemptFailed(reason: string): void {
    this.lastFailure = reason;
    if (this.attemptSpan !== undefined) {
      this.attemptSpan.setStatus({ code: SpanStatusCode.ERROR, message: reason });
      this.attemptSpan.setAttribute('error.type', reason);
    }
  }

  /**
   * The request ended: `status` is what the client got (0 when it got no response, e.g. a
   * reset), `error` a SKEIN_ERR_* code or failure cause. Records metrics and ends the spans.
   * Only the first call counts.
   */
  end(status: number, error?: string): void {
    if (this.ended) return;
    this.ended = true;
    const seconds = (performance.now() - this.startedAt) / 1000;
    this.metrics?.observe(this.facts, this.target?.zone ?? '', status, seconds, this.attempts > 1 ? this.attempts - 1 : 0);
    const span = this.span;
    if (span === undefined) return;
    if (this.target !== undefined) setEndpoint(span, this.target, this.attempts, this.lastAffinityHit);
    if (status > 0) span.setAttribute('http.response.status_code', status);
    // A response cut short (reset or timed out after its head) fails whatever its status said.
    const failed = error !== undefined || status === 0 || status >= 500 || (this.facts.direction === 'outbound' && status >= 400);
    if (failed) {
      const type = error ?? (status > 0 ? String(status) : 'reset');
      span.setAttribute('error.type', type);
      span.setStatus({ code: SpanStatusCode.ERROR, ...(error ? { message: error } : {}) });
    }
    if (this.attemptSpan !== undefined) {
      if (status > 0) this.attemptSpan.setAttribute('http.response.status_code', status);
      if (failed && this.lastFailure === undefined) this.attemptSpan.setStatus({ code: SpanStatusCode.ERROR });
      this.attemptSpan.end();
    }
    span.end();
  }

  private recordFirstAttempt(tracing: TracingHandle, parent: Span): void {
    // The request's start on the epoch clock, computed only for this rare after-the-fact span.
    const first = this.childSpan(tracing, parent, 1, performance.timeOrigin + this.startedAt);
    if (this.firstTarget !== undefined) setEndpoint(first, this.firstTarget, 1, this.firstAffinityHit);
    first.setStatus({ code: SpanStatusCode.ERROR, ...(this.lastFailure ? { message: this.lastFailure } : {}) });
    if (this.lastFailure !== undefined) first.setAttribute('error.type', this.lastFailure);
    first.end();
  }

  private childSpan(tracing: TracingHandle, parent: Span, n: number, startTime: number): Span {
    const attributes: Attributes = { 'http.request.method': this.facts.method, 'http.request.resend_count': n - 1, 'skein.attempt': n };
    const kind = this.facts.direction === 'outbound' ? SpanKind.CLIENT : SpanKind.INTERNAL;
    return tracing.tracer.startSpan(`${this.facts.method} attempt ${n}`, { kind, attributes, startTime }, trace.setSpan(this.parent, parent));
  }
}

/** What W3CTraceContextPropagator.inject writes for `context`, without a Context to carry it. */
function traceContextHeaders(context: SpanContext): Record<string, string> {
  const traceparent = formatTraceparent(context);
  return context.traceState === undefined ? { traceparent } : { traceparent, tracestate: context.traceState.serialize() };
}

/** An endpoint's facts, the same for every request it serves: shared by their spans. */
const endpointSets = new WeakMap<Target, AttributeSet>();

function setEndpoint(span: Span, target: Target, attempt: number, affinityHit: boolean | undefined): void {
  let endpoint = endpointSets.get(target);
  if (endpoint === undefined) {
    const attributes: Attributes = { 'network.peer.address': target.address, 'network.peer.port': target.port };
    // Only what says something: not the single tier of a Service without failover.
    if (target.zone !== undefined) attributes['skein.endpoint.zone'] = target.zone;
    if (target.tier !== undefined && target.tier !== 'all') attributes['skein.locality.tier'] = target.tier;
    endpointSets.set(target, endpoint = new AttributeSet(attributes));
  }
  if (span instanceof LightSpan) span.addAttributeSet(endpoint);
  else span.setAttributes(endpoint.attributes);
  span.setAttribute('skein.attempt', attempt);
  if (affinityHit !== undefined) span.setAttribute('skein.affinity.hit', affinityHit);
}

/** A destination's span attributes (see RequestFacts), and the start of its url.full. */
interface DestinationSet {
  readonly facts: RequestFacts;
  readonly attributes: AttributeSet;
  /** Outbound: "http://host[:port]"; undefined inbound. */
  readonly urlPrefix: string | undefined;
}

/**
 * The attribute sets of the destinations requests go to, by host. Bounded: hosts come from
 * clients' Host headers, so a flood of new names starts the cache afresh rather than growing it.
 */
class DestinationSets {
  private readonly byHost = new Map<string, DestinationSet[]>();

  get(facts: RequestFacts): DestinationSet {
    let sets = this.byHost.get(facts.host);
    if (sets !== undefined) {
      for (const set of sets) if (sameDestination(set.facts, facts)) return set;
    } else {
      if (this.byHost.size >= MAX_CACHED_HOSTS) this.byHost.clear();
      this.byHost.set(facts.host, sets = []);
    }
    const set = destinationSet(facts);
    if (sets.length >= MAX_SETS_PER_HOST) sets.shift();
    sets.push(set);
    return set;
  }
}

const MAX_CACHED_HOSTS = 1024;
const MAX_SETS_PER_HOST = 16;

function sameDestination(a: RequestFacts, b: RequestFacts): boolean {
  return a.method === b.method && a.port === b.port && a.direction === b.direction && a.service === b.service
    && a.rule === b.rule && a.protocolVersion === b.protocolVersion;
}

function destinationSet(facts: RequestFacts): DestinationSet {
  const attributes: Attributes = {
    'http.request.method': facts.method,
    'network.protocol.version': facts.protocolVersion,
    'server.address': facts.host,
    'server.port': facts.port,
  };
  if (facts.direction === 'inbound') attributes['url.scheme'] = 'http';
  if (facts.service !== undefined) {
    const slash = facts.service.indexOf('/');
    attributes['skein.service'] = facts.service.slice(slash + 1);
    attributes['skein.namespace'] = facts.service.slice(0, slash);
  }
  if (facts.rule !== undefined) attributes['skein.eligibility.rule'] = facts.rule;
  // Only the fields the set depends on: the cache must not keep a request's path alive.
  const kept: RequestFacts = {
    direction: facts.direction, method: facts.method, host: facts.host, port: facts.port, path: '',
    protocolVersion: facts.protocolVersion, service: facts.service, rule: facts.rule,
  };
  const urlPrefix = facts.direction === 'outbound' ? `http://${hostPort(facts.host, facts.port)}` : undefined;
  return { facts: kept, attributes: new AttributeSet(attributes), urlPrefix };
}

function hostPort(host: string, port: number): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return port === 80 ? h : `${h}:${port}`;
}
