// Tracing for the sidecar process (process entry only, CONVENTIONS rule 8): reads the standard
// OTEL_* variables and builds a tracer, a propagator and one exporter behind a SpanQueue.
// Nothing is registered globally (no tracer provider, propagator, context manager or diag
// logger): the proxy gets the tracer and propagator passed in, and an application embedding
// Skein keeps its own OpenTelemetry setup. The SDK and the chosen exporter are imported only
// once tracing is on, and only that one exporter, to keep the sidecar's memory small.
//
// Why diag is left alone: `diag.setLogger` writes into the process-wide OpenTelemetry API
// registry, the same global the rule above keeps us out of. Without a logger, the SDK's and the
// exporters' diag messages go nowhere, so they cannot spam; what an operator needs (exports
// failing or recovering, the queue dropping) comes through `options.logger` and stats().
import type { TextMapPropagator, Tracer } from '@opentelemetry/api';
import type { Sampler } from '@opentelemetry/sdk-trace-base';
import { AGENT_VERSION } from '../identity.js';
import type { Logger } from '../logger.js';
import type { SpanQueueStats } from './span-queue.js';
import {
  readTracingEnv, type Env, type OtlpProtocol, type PropagatorName, type SamplerSettings, type Warn,
} from './tracing-setup-env.js';

export type { OtlpProtocol } from './tracing-setup-env.js';
export type { SpanQueueStats } from './span-queue.js';

export interface TracingOptions {
  /** Where OTEL_* variables are read; default `process.env`. See setUpTracing for the few the exporters still take from `process.env`. */
  env?: Env;
  /** `service.name` unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES sets one; default 'skein-sidecar'. */
  serviceName?: string;
  /**
   * Resource attributes known to the process (k8s.pod.name, k8s.namespace.name, k8s.node.name,
   * cloud.availability_zone, ...). Empty values are left out. OTEL_RESOURCE_ATTRIBUTES wins over
   * these: the spec lets the operator's environment override what code detects.
   */
  attributes?: Readonly<Record<string, string>>;
  /** Told about invalid OTEL_* values and about export trouble; default: silent. */
  logger?: Pick<Logger, 'warn'>;
}

export interface Tracing {
  /** Scope `skein-sidecar` at the sidecar's version. Pass contexts explicitly: no context manager is installed. */
  readonly tracer: Tracer;
  /** The OTEL_PROPAGATORS chain (default W3C tracecontext + baggage); injects nothing for `none`. */
  readonly propagator: TextMapPropagator;
  /** True when that chain is W3C trace context, with or without baggage (see TracingHandle). */
  readonly traceContextOnly: boolean;
  readonly exporter: 'otlp' | 'console';
  /** Set when `exporter` is 'otlp'. */
  readonly protocol?: OtlpProtocol;
  /** The span queue's counters: queued now; exported, dropped and failed so far. */
  stats(): SpanQueueStats;
  /** Exports what is queued; resolves within OTEL_BSP_EXPORT_TIMEOUT, never rejects. */
  forceFlush(): Promise<void>;
  /** Flushes, then shuts the exporter down; resolves within OTEL_BSP_EXPORT_TIMEOUT, never rejects. Idempotent. */
  shutdown(): Promise<void>;
}

const DEFAULT_SERVICE_NAME = 'skein-sidecar';

/**
 * Builds the sidecar's tracing from the environment, or returns undefined when it is off
 * (OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none). Invalid values are warned about and
 * replaced by their defaults; nothing here throws for configuration.
 *
 * All OTEL_* values come from `options.env`, including the exporter's endpoint, headers, timeout
 * and compression and the sampler, which the OpenTelemetry packages would otherwise read from
 * `process.env` themselves. Exceptions, read by the exporters from `process.env` only: the TLS
 * file variables (OTEL_EXPORTER_OTLP_*CERTIFICATE, *CLIENT_KEY); and with a custom `env`, header
 * names set in `process.env` but not in `env` are still sent.
 */
export async function setUpTracing(options: TracingOptions = {}): Promise<Tracing | undefined> {
  const logger = options.logger;
  const warn: Warn = (fields, message) => logger?.warn(fields, message);
  const settings = readTracingEnv(options.env ?? process.env, warn);
  if (settings.type === 'disabled') return undefined;

  const [sdk, core, { defaultResource, resourceFromAttributes }, { SpanQueue }, { EncodedSpanStore }, { LightTracer }, propagator] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('./span-queue.js'),
    import('./span-store.js'),
    import('./light-tracer.js'),
    createPropagator(settings.propagators),
  ]);
  const codeAttributes: Record<string, string> = { 'service.name': DEFAULT_SERVICE_NAME };
  for (const [key, value] of Object.entries(options.attributes ?? {})) if (value) codeAttributes[key] = value;
  if (options.serviceName) codeAttributes['service.name'] = options.serviceName;
  // Merge order, lowest first: SDK defaults (telemetry.sdk.*), code, environment.
  const resource = defaultResource().merge(resourceFromAttributes(codeAttributes)).merge(resourceFromAttributes(settings.resource));

  const scope = { name: 'skein-sidecar', version: AGENT_VERSION };
  const sink = await (await import('./otlp-exporter.js')).createExporter(settings.exporter, warn);
  const queueOptions = { ...settings.queue, logger };
  const queue = sink.type === 'encoded'
    ? new SpanQueue(sink.exporter, queueOptions, (_capacity, batchSize) => new EncodedSpanStore(sink.encoder, batchSize))
    : new SpanQueue(sink.exporter, queueOptions);
  // Our LightTracer, not the SDK's provider: the SDK's span costs the proxy ~6 µs per request
  // (see light-tracer.ts). The SDK's samplers, resource and exporters are used as they are.
  const tracer = new LightTracer({
    resource, scope, sampler: createSampler(sdk, settings.sampler),
    limits: settings.spanLimits, processor: queue, isSuppressed: core.isTracingSuppressed,
  });
  const otlp = settings.exporter.type === 'otlp' ? settings.exporter : undefined;
  return {
    tracer,
    propagator,
    traceContextOnly: settings.propagators.includes('tracecontext') && settings.propagators.every((name) => name === 'tracecontext' || name === 'baggage'),
    exporter: settings.exporter.type,
    ...(otlp && { protocol: otlp.protocol }),
    stats: () => queue.stats(),
    forceFlush: () => queue.forceFlush(),
    shutdown: () => queue.shutdown(),
  };
}

type SdkTraceBase = typeof import('@opentelemetry/sdk-trace-base');

function createSampler(sdk: SdkTraceBase, settings: SamplerSettings): Sampler {
  const root = settings.root.type === 'always_on' ? new sdk.AlwaysOnSampler()
    : settings.root.type === 'always_off' ? new sdk.AlwaysOffSampler()
      : new sdk.TraceIdRatioBasedSampler(settings.root.ratio);
  return settings.parentBased ? new sdk.ParentBasedSampler({ root }) : root;
}

async function createPropagator(names: readonly PropagatorName[]): Promise<TextMapPropagator> {
  const core = await import('@opentelemetry/core');
  const b3 = names.some((n) => n === 'b3' || n === 'b3multi') ? await import('@opentelemetry/propagator-b3') : undefined;
  const propagators = names.map((name): TextMapPropagator => {
    switch (name) {
      case 'tracecontext': return new core.W3CTraceContextPropagator();
      case 'baggage': return new core.W3CBaggagePropagator();
      // The spec: "b3" is B3 single-header, "b3multi" the X-B3-* headers. Both extract either form.
      case 'b3': return new b3!.B3Propagator({ injectEncoding: b3!.B3InjectEncoding.SINGLE_HEADER });
      case 'b3multi': return new b3!.B3Propagator({ injectEncoding: b3!.B3InjectEncoding.MULTI_HEADER });
    }
  });
  return new core.CompositePropagator({ propagators });
}
