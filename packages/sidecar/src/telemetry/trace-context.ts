// W3C Trace Context headers read and written by the proxy itself, for the default
// OTEL_PROPAGATORS (tracecontext, baggage). Why not the OpenTelemetry propagator API on this
// path: each request would pay for a composite extract and inject, two Context copies and a
// header object, which measured ~9 µs of the sidecar's event loop per request (BENCHMARKS.md,
// tracing overhead) for what is one header parsed and one written. The proxy forwards the
// client's `tracestate` and `baggage` headers untouched, so only `traceparent` is rewritten.
//
// Parsing follows https://www.w3.org/TR/trace-context/#traceparent-header and accepts exactly
// what OpenTelemetry's W3CTraceContextPropagator accepts (a test holds the two side by side).
import { createTraceState, TraceFlags, type SpanContext } from '@opentelemetry/api';

/** Incoming header values as node gives them: a string, or an array for a repeated field. */
type HeaderValue = string | string[] | undefined;

/**
 * The remote span context in `traceparent` (and `tracestate`), or undefined when there is none
 * or it is invalid (the request then starts a new trace, as the specification says).
 */
export function parseTraceparent(traceparent: HeaderValue, tracestate: HeaderValue): SpanContext | undefined {
  const value = Array.isArray(traceparent) ? traceparent[0] : traceparent;
  if (typeof value !== 'string' || value.length < TRACEPARENT_LENGTH) return undefined;
  // One optional whitespace character on either side.
  const start = isSpace(value.charCodeAt(0)) ? 1 : 0;
  let end = value.length;
  if (end - start > TRACEPARENT_LENGTH && isSpace(value.charCodeAt(end - 1))) end--;
  if (end - start < TRACEPARENT_LENGTH) return undefined;
  // version "-" trace-id "-" parent-id "-" flags, all lower-case hex.
  if (!isHex(value, start, 2) || value.startsWith('ff', start)) return undefined;
  if (value.charCodeAt(start + 2) !== DASH || value.charCodeAt(start + 35) !== DASH || value.charCodeAt(start + 52) !== DASH) return undefined;
  if (!isHex(value, start + 3, 32) || !isHex(value, start + 36, 16) || !isHex(value, start + 53, 2)) return undefined;
  // Version 00 has nothing after the flags; a later version may add "-" and more.
  if (end - start > TRACEPARENT_LENGTH) {
    if (value.startsWith('00', start) || value.charCodeAt(start + TRACEPARENT_LENGTH) !== DASH) return undefined;
    for (let i = start + TRACEPARENT_LENGTH; i < end; i++) if (isLineTerminator(value.charCodeAt(i))) return undefined;
  }
  const traceId = value.slice(start + 3, start + 35);
  const spanId = value.slice(start + 36, start + 52);
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined;
  const context: SpanContext = { traceId, spanId, traceFlags: parseInt(value.slice(start + 53, start + 55), 16), isRemote: true };
  const state = Array.isArray(tracestate) ? tracestate.join(',') : tracestate;
  if (state) context.traceState = createTraceState(state);
  return context;
}

/** The `traceparent` value that makes `context` the parent of the next hop's span. */
export function formatTraceparent(context: SpanContext): string {
  const flags = context.traceFlags & 0xff;
  const hex = flags === TraceFlags.SAMPLED ? '01' : flags === TraceFlags.NONE ? '00' : flags.toString(16).padStart(2, '0');
  return `00-${context.traceId}-${context.spanId}-${hex}`;
}

const TRACEPARENT_LENGTH = 55;
const DASH = 0x2d;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

/** True when `length` characters from `from` are lower-case hex digits. */
function isHex(value: string, from: number, length: number): boolean {
  for (let i = from; i < from + length; i++) {
    const c = value.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

function isLineTerminator(c: number): boolean {
  return c === 0x0a || c === 0x0d || c === 0x2028 || c === 0x2029;
}

/** What a regular expression's \s matches. */
function isSpace(c: number): boolean {
  return (c >= 0x09 && c <= 0x0d) || c === 0x20 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a)
    || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}
