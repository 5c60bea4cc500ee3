// Library mode's telemetry: a CLIENT span per mesh request, in the app's own trace. It goes
// through the global OpenTelemetry API only — the app's registered SDK supplies the tracer
// provider, the propagator and the context manager (whose active context at dispatch becomes
// the span's parent) — and records its spans through the sidecar's RequestRecord, so library
// and sidecar spans read alike. No metrics: library mode has no registry to put them in.
//
// Without an SDK the API hands out no-op tracers; then no record is made at all, so a request
// pays for one global lookup.
import { context, propagation, trace, type Context, type Tracer, type TracerDelegator } from '@opentelemetry/api';
import type { Dispatcher } from 'undici';
import { AGENT_VERSION } from '../identity.js';
import { RequestTelemetry, type RequestRecord } from '../telemetry/request-telemetry.js';
import type { RequestOrigin } from './request-origin.js';
import type { ServiceDestination } from './service-request.js';

/** The instrumentation scope of library-mode spans. */
const SCOPE = '@skein/sidecar';
/** A dispatched request brings no incoming headers: its parent is the app's active context. */
const NO_HEADERS = {};

/** What a request captures at dispatch for its span: the app's tracing, and its active context then. */
export interface TraceCapture {
  readonly telemetry: RequestTelemetry;
  readonly parent: Context;
}

/** Finds the app's tracer at each dispatch, so an SDK registered after createMesh() is picked up. */
export class MeshTelemetry {
  private tracer: Tracer | undefined;
  private telemetry: RequestTelemetry | undefined;

  /** The app's tracing with its active context, or undefined when the app registered no tracer provider. */
  capture(): TraceCapture | undefined {
    const tracer = registeredTracer();
    if (tracer === undefined) return undefined;
    if (tracer !== this.tracer) {
      this.tracer = tracer;
      // `propagation` injects through whichever propagator the app registered (none: nothing).
      this.telemetry = new RequestTelemetry({ tracer, propagator: propagation }, undefined);
    }
    return { telemetry: this.telemetry!, parent: context.active() };
  }
}

/** Starts the record of a request to a mesh service. */
export function startRecord(capture: TraceCapture, options: Dispatcher.DispatchOptions, origin: RequestOrigin, destination: ServiceDestination): RequestRecord | undefined {
  return capture.telemetry.start({
    direction: 'outbound', method: options.method, host: origin.hostname, port: origin.port, path: options.path,
    protocolVersion: '1.1', service: destination.service, rule: destination.rule,
  }, NO_HEADERS, capture.parent);
}

/**
 * The tracer of the app's registered tracer provider, or undefined when there is none. The API's
 * global provider delegates to the registered one (TracerDelegator, @opentelemetry/api >= 1.0.3)
 * and has no delegate tracer until an SDK registers; any other global provider is used as is.
 */
function registeredTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider();
  const delegator = provider as Partial<TracerDelegator>;
  if (typeof delegator.getDelegateTracer === 'function') return delegator.getDelegateTracer(SCOPE, AGENT_VERSION);
  return provider.getTracer(SCOPE, AGENT_VERSION);
}
