// SpanQueue against a scripted exporter: bounded queue with a drop counter, batches, one export
// at a time, export timeouts, failures counted, flush and shutdown. Real SDK spans feed it.
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import {
  AlwaysOnSampler, BasicTracerProvider, SamplingDecision, type ReadableSpan, type Sampler, type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { eventually } from '@skein/testkit';
import { describe, expect, it } from 'vitest';
import { SpanQueue, type SpanQueueOptions } from './span-queue.js';

type Mode = 'succeed' | 'fail' | 'hang' | 'throw';

/** Answers on the next turn of the event loop, as a network exporter would, unless told to hang. */
class ScriptedExporter implements SpanExporter {
  mode: Mode = 'succeed';
  shutdownMode: 'resolve' | 'hang' | 'reject' = 'resolve';
  readonly calls: Array<{ spans: ReadableSpan[]; done: (result: ExportResult) => void }> = [];
  inFlight = 0;
  maxInFlight = 0;
  shutdowns = 0;

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    if (this.mode === 'throw') throw new Error('exporter bug');
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const answer = (result: ExportResult): void => {
      this.inFlight--;
      done(result);
    };
    this.calls.push({ spans, done: answer });
    if (this.mode === 'succeed') setImmediate(() => answer({ code: ExportResultCode.SUCCESS }));
    if (this.mode === 'fail') setImmediate(() => answer({ code: ExportResultCode.FAILED, error: new Error('collector answered 503') }));
  }

  shutdown(): Promise<void> {
    this.shutdowns++;
    if (this.shutdownMode === 'hang') return new Promise(() => undefined);
    if (this.shutdownMode === 'reject') return Promise.reject(new Error('exporter shutdown failed'));
    return Promise.resolve();
  }
}

function setUp(options: SpanQueueOptions, sampler: Sampler = new AlwaysOnSampler()) {
  const exporter = new ScriptedExporter();
  const warnings: string[] = [];
  const queue = new SpanQueue(exporter, { ...options, logger: { warn: (_fields, message) => warnings.push(message) } });
  const tracer = new BasicTracerProvider({ sampler, spanProcessors: [queue] }).getTracer('span-queue-test');
  const endSpans = (count: number): void => {
    for (let i = 0; i < count; i++) tracer.startSpan(`span ${i}`).end();
  };
  return { exporter, queue, warnings, endSpans };
}

const NEVER = 60_000; // a scheduled delay no test waits for

describe('SpanQueue', () => {
  it('exports a full batch at once, without waiting for the scheduled delay', async () => {
    const { exporter, queue, endSpans } = setUp({ maxExportBatchSize: 4, scheduledDelayMillis: NEVER });
    endSpans(4);
    await eventually(() => queue.stats().exported === 4);
    expect(exporter.calls.map((c) => c.spans.length)).toEqual([4]);
    expect(queue.stats()).toEqual({ queued: 0, exported: 4, dropped: 0, failed: 0 });
  });

  it('sends a partial batch once the scheduled delay has passed', async () => {
    const { exporter, queue, endSpans } = setUp({ maxExportBatchSize: 100, scheduledDelayMillis: 20 });
    endSpans(3);
    expect(queue.stats().queued).toBe(3);
    await eventually(() => queue.stats().exported === 3);
    expect(exporter.calls.map((c) => c.spans.map((s) => s.name))).toEqual([['span 0', 'span 1', 'span 2']]);
  });

  it('ignores recorded spans that are not sampled', async () => {
    const recordOnly: Sampler = { shouldSample: () => ({ decision: SamplingDecision.RECORD }), toString: () => 'RecordOnly' };
    const { exporter, queue, endSpans } = setUp({ scheduledDelayMillis: 0 }, recordOnly);
    endSpans(5);
    await queue.forceFlush();
    expect(queue.stats()).toEqual({ queued: 0, exported: 0, dropped: 0, failed: 0 });
    expect(exporter.calls).toEqual([]);
  });

  it('drops and counts spans while the queue is full, warning once', async () => {
    const { exporter, queue, warnings, endSpans } = setUp({ maxQueueSize: 8, maxExportBatchSize: 4, scheduledDelayMillis: NEVER });
    exporter.mode = 'hang';
    expect(() => endSpans(20)).not.toThrow();
    expect(queue.stats()).toEqual({ queued: 8, exported: 0, dropped: 12, failed: 0 });
    expect(warnings).toEqual(['span queue: the queue is full; dropping spans until it drains']);
    await eventually(() => exporter.calls.length === 1);
    expect(queue.stats()).toEqual({ queued: 4, exported: 0, dropped: 12, failed: 0 });
  });

  it('a hanging export never blocks onEnd; after the export timeout its spans count as failed and the next batch goes', async () => {
    const { exporter, queue, endSpans } = setUp({ maxQueueSize: 4, maxExportBatchSize: 2, scheduledDelayMillis: 0, exportTimeoutMillis: 30 });
    exporter.mode = 'hang';
    endSpans(4);
    await eventually(() => exporter.calls.length === 1);
    expect(() => endSpans(10)).not.toThrow(); // queue full behind the hung export: dropped, never blocked
    expect(queue.stats()).toEqual({ queued: 4, exported: 0, dropped: 8, failed: 0 });
    // Each export times out in turn, freeing the slot for the next: 3 batches of 2.
    await eventually(() => queue.stats().failed === 6);
    expect(exporter.calls.map((c) => c.spans.length)).toEqual([2, 2, 2]);
    expect(exporter.maxInFlight).toBe(3); // the exporter never answered; the queue moved on anyway
    // A hung export that finally answers changes nothing: its spans were counted at the timeout.
    exporter.calls[0]!.done({ code: ExportResultCode.SUCCESS });
    expect(queue.stats()).toEqual({ queued: 0, exported: 0, dropped: 8, failed: 6 });
  });

  it('counts the spans of failed exports as failed, warning when exports start failing and when they recover', async () => {
    const { exporter, queue, warnings, endSpans } = setUp({ maxExportBatchSize: 2, scheduledDelayMillis: NEVER });
    exporter.mode = 'fail';
    endSpans(2);
    await eventually(() => queue.stats().failed === 2);
    endSpans(2);
    await eventually(() => queue.stats().failed === 4);
    expect(warnings).toEqual(['span queue: trace export failed; spans are counted as failed until an export succeeds']);
    exporter.mode = 'succeed';
    endSpans(2);
    await eventually(() => queue.stats().exported === 2);
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toBe('span queue: trace export recovered');
    expect(exporter.calls).toHaveLength(3);
  });

  it('counts an export that throws as failed', async () => {
    const { exporter, queue, endSpans } = setUp({ maxExportBatchSize: 3, scheduledDelayMillis: NEVER });
    exporter.mode = 'throw';
    expect(() => endSpans(3)).not.toThrow();
    await eventually(() => queue.stats().failed === 3);
    expect(queue.stats()).toEqual({ queued: 0, exported: 0, dropped: 0, failed: 3 });
  });

  it('forceFlush exports everything queued in batches, one export at a time', async () => {
    const { exporter, queue, endSpans } = setUp({ maxExportBatchSize: 3, scheduledDelayMillis: NEVER });
    endSpans(10);
    await queue.forceFlush();
    expect(queue.stats()).toEqual({ queued: 0, exported: 10, dropped: 0, failed: 0 });
    expect(exporter.calls.map((c) => c.spans.length)).toEqual([3, 3, 3, 1]);
    expect(exporter.calls.flatMap((c) => c.spans.map((s) => s.name))).toEqual(Array.from({ length: 10 }, (_, i) => `span ${i}`));
    expect(exporter.maxInFlight).toBe(1);
    await queue.forceFlush(); // nothing queued: resolves at once
  });

  it('forceFlush gives up after the export timeout while the exporter hangs', async () => {
    const { exporter, queue, endSpans } = setUp({ maxExportBatchSize: 2, scheduledDelayMillis: NEVER, exportTimeoutMillis: 30 });
    exporter.mode = 'hang';
    endSpans(6);
    await queue.forceFlush();
    const stats = queue.stats();
    expect(stats.exported).toBe(0);
    expect(stats.dropped).toBe(0);
    expect(stats.failed + stats.queued).toBeLessThanOrEqual(6);
  });

  it('shutdown flushes, shuts the exporter down once, and drops spans that end afterwards', async () => {
    const { exporter, queue, warnings, endSpans } = setUp({ maxExportBatchSize: 2, scheduledDelayMillis: NEVER });
    endSpans(5);
    await queue.shutdown();
    expect(queue.stats()).toEqual({ queued: 0, exported: 5, dropped: 0, failed: 0 });
    expect(exporter.shutdowns).toBe(1);
    endSpans(1);
    expect(queue.stats().dropped).toBe(1);
    expect(warnings).toEqual(['span queue: spans ended after shutdown are dropped']);
    await queue.shutdown();
    await queue.forceFlush();
    expect(exporter.shutdowns).toBe(1);
    expect(exporter.calls).toHaveLength(3);
  });

  it('shutdown returns within the export timeout when exports and the exporter\'s shutdown hang, counting every span', async () => {
    const { exporter, queue, endSpans } = setUp({ maxExportBatchSize: 2, scheduledDelayMillis: NEVER, exportTimeoutMillis: 30 });
    exporter.mode = 'hang';
    exporter.shutdownMode = 'hang';
    endSpans(6);
    await queue.shutdown();
    expect(exporter.shutdowns).toBe(1);
    // Spans still queued were dropped at shutdown; the export in flight, if any, fails at its timeout.
    await eventually(() => queue.stats().failed + queue.stats().dropped === 6);
    expect(queue.stats()).toMatchObject({ queued: 0, exported: 0 });
  });

  it('shutdown reports an exporter that fails to shut down, and still resolves', async () => {
    const { exporter, queue, warnings, endSpans } = setUp({ scheduledDelayMillis: NEVER });
    exporter.shutdownMode = 'reject';
    endSpans(1);
    await queue.shutdown();
    expect(queue.stats().exported).toBe(1);
    expect(warnings).toEqual(['span queue: the trace exporter failed to shut down']);
  });
});
