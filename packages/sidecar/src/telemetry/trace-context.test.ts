import { ROOT_CONTEXT, trace, TraceFlags, type SpanContext } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { describe, expect, it } from 'vitest';
import { formatTraceparent, parseTraceparent } from './trace-context.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const VALID = `00-${TRACE}-${SPAN}-01`;

/** What OpenTelemetry's propagator extracts from the same headers. */
function reference(traceparent: string | string[] | undefined, tracestate?: string | string[]): SpanContext | undefined {
  const headers: Record<string, string | string[] | undefined> = { traceparent, tracestate };
  const context = new W3CTraceContextPropagator().extract(ROOT_CONTEXT, headers, {
    get: (carrier, key) => carrier[key], keys: (carrier) => Object.keys(carrier),
  });
  return trace.getSpanContext(context);
}

const plain = (context: SpanContext | undefined) => context && { ...context, traceState: context.traceState?.serialize() };

describe('parseTraceparent', () => {
  it('reads a valid header as a remote span context', () => {
    expect(parseTraceparent(VALID, undefined)).toEqual({ traceId: TRACE, spanId: SPAN, traceFlags: TraceFlags.SAMPLED, isRemote: true });
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-00`, undefined)?.traceFlags).toBe(TraceFlags.NONE);
  });

  it('keeps tracestate, joining repeated fields', () => {
    expect(parseTraceparent(VALID, 'congo=t61rcWkgMzE')?.traceState?.get('congo')).toBe('t61rcWkgMzE');
    expect(parseTraceparent(VALID, ['a=1', 'b=2'])?.traceState?.serialize()).toBe('a=1,b=2');
  });

  it('accepts and rejects exactly what OpenTelemetry W3CTraceContextPropagator does', () => {
    const cases: Array<string | string[] | undefined> = [
      VALID, undefined, '', [VALID, `00-${'1'.repeat(32)}-${SPAN}-01`],
      ` ${VALID}`, `${VALID} `, `\t${VALID}\t`, `  ${VALID}`, `${VALID}  `, `\u00a0${VALID}`,
      VALID.toUpperCase(), VALID.replace('00-', 'ff-'), VALID.replace('00-', '01-'), VALID.replace('00-', 'cc-'),
      `cc-${TRACE}-${SPAN}-01-what-the-future-holds`, `cc-${TRACE}-${SPAN}-01-`, `cc-${TRACE}-${SPAN}-01x`,
      `cc-${TRACE}-${SPAN}-01-a\nb`, `cc-${TRACE}-${SPAN}-01-ab `, `${VALID}-extra`, `${VALID}x`,
      `00-${'0'.repeat(32)}-${SPAN}-01`, `00-${TRACE}-${'0'.repeat(16)}-01`, `00-${TRACE}-${SPAN}-0g`,
      `00-${TRACE.slice(1)}-${SPAN}-01`, `00-${TRACE}-${SPAN}01`, `00_${TRACE}_${SPAN}_01`, `00-${TRACE}-${SPAN}-ff`,
      `0-${TRACE}-${SPAN}-01`, 'not a traceparent at all, but long enough to be one: 1234567',
    ];
    for (const value of cases) {
      expect(plain(parseTraceparent(value, 'k=v')), JSON.stringify(value)).toEqual(plain(reference(value, 'k=v')));
    }
  });
});

describe('formatTraceparent', () => {
  it('writes version 00 with the flags as two hex digits', () => {
    expect(formatTraceparent({ traceId: TRACE, spanId: SPAN, traceFlags: TraceFlags.SAMPLED })).toBe(VALID);
    expect(formatTraceparent({ traceId: TRACE, spanId: SPAN, traceFlags: TraceFlags.NONE })).toBe(`00-${TRACE}-${SPAN}-00`);
    expect(formatTraceparent({ traceId: TRACE, spanId: SPAN, traceFlags: 0x81 })).toBe(`00-${TRACE}-${SPAN}-81`);
  });

  it('round-trips through the parser', () => {
    const context = { traceId: TRACE, spanId: SPAN, traceFlags: TraceFlags.SAMPLED };
    expect(parseTraceparent(formatTraceparent(context), undefined)).toEqual({ ...context, isRemote: true });
  });
});
