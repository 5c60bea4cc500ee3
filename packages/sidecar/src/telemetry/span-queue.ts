// The sidecar's span processor: ended, sampled spans wait in a bounded store and leave in
// batches, one export at a time. A slow or broken collector costs spans, never request latency
// (telemetry issue: "exporter failure never slows or fails requests"): a full queue drops the
// span, and an export that fails or outlives its timeout gives up its spans; all are counted.
// Why not the SDK's BatchSpanProcessor: it drops silently when full (one diag line, no count)
// and shifts its queue with Array#splice, O(queue) in the request path. Where the spans wait,
// as objects or already encoded, is the SpanStore's business (span-store.ts).
import { context, TraceFlags } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Logger } from '../logger.js';
import { SpanRing, type SpanStore } from './span-store.js';

/** What the queue needs of an exporter: a SpanExporter is one for batches of ReadableSpans. */
export interface BatchExporter<Batch> {
  export(batch: Batch, resultCallback: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
}

export interface SpanQueueOptions {
  /** Spans waiting at most (OTEL_BSP_MAX_QUEUE_SIZE); default 2048. */
  maxQueueSize?: number;
  /** Spans per export at most (OTEL_BSP_MAX_EXPORT_BATCH_SIZE); default 512, capped at `maxQueueSize`. */
  maxExportBatchSize?: number;
  /** Delay between two exports while less than a batch waits (OTEL_BSP_SCHEDULE_DELAY); default 5000 ms. */
  scheduledDelayMillis?: number;
  /**
   * How long an export may go unanswered before its spans count as failed and the next export
   * may start (OTEL_BSP_EXPORT_TIMEOUT); default 30000 ms. Also bounds forceFlush() and shutdown().
   */
  exportTimeoutMillis?: number;
  /** Told when exports start failing, when they recover, and when the queue starts dropping. */
  logger?: Pick<Logger, 'warn'>;
}

/** Counters since the queue was made; every sampled span ends up in exactly one of them. */
export interface SpanQueueStats {
  /** Waiting for an export now (not counting the export in flight). */
  queued: number;
  /** Accepted by the exporter. */
  exported: number;
  /** Never handed to the exporter: the queue was full, or the queue was shut down. */
  dropped: number;
  /** Handed to an export that failed, threw or did not answer within the export timeout. */
  failed: number;
}

type FlushWaiter = { settledTarget: number; done: () => void };

export class SpanQueue<Batch = ReadableSpan[]> implements SpanProcessor {
  private readonly capacity: number;
  private readonly batchSize: number;
  private readonly delayMillis: number;
  private readonly timeoutMillis: number;
  private readonly store: SpanStore<Batch>;
  /** Spans ever queued, and how many of those have left the books (exported, failed, discarded). */
  private accepted = 0;
  private settled = 0;
  private exported = 0;
  private dropped = 0;
  private failed = 0;
  /** Spans in the export in flight; 0 while the export slot is free. */
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerDelay = 0;
  private waiters: FlushWaiter[] = [];
  private failing = false;
  private dropping = false;
  private stopped = false;
  private shutdownDone: Promise<void> | undefined;

  /**
   * `store` keeps the waiting spans, given the queue's capacity and batch size; by default a
   * SpanRing, whose batches are the ReadableSpan arrays a SpanExporter takes.
   */
  constructor(
    private readonly exporter: BatchExporter<Batch>,
    private readonly options: SpanQueueOptions = {},
    store?: (capacity: number, batchSize: number) => SpanStore<Batch>,
  ) {
    this.capacity = options.maxQueueSize ?? 2048;
    this.batchSize = Math.min(options.maxExportBatchSize ?? 512, this.capacity);
    this.delayMillis = options.scheduledDelayMillis ?? 5000;
    this.timeoutMillis = options.exportTimeoutMillis ?? 30_000;
    this.store = store?.(this.capacity, this.batchSize) ?? (new SpanRing(this.capacity) as unknown as SpanStore<Batch>);
  }

  private get size(): number {
    return this.store.size;
  }

  stats(): SpanQueueStats {
    return { queued: this.size, exported: this.exported, dropped: this.dropped, failed: this.failed };
  }

  onStart(_span: Span): void {}

  /** Called by the SDK in the request path when a recording span ends: O(1), never throws. */
  onEnd(span: ReadableSpan): void {
    try {
      if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
      if (this.stopped || this.size === this.capacity) {
        this.drop();
        return;
      }
      this.store.add(span);
      this.accepted++;
      if (this.inFlight === 0) this.schedule(this.size >= this.batchSize ? 0 : this.delayMillis);
    } catch {
      this.dropped++; // a bug here must cost a span, not a request
    }
  }

  /**
   * Exports every span queued now, batch after batch without the scheduled delay. Resolves once
   * each has been exported or counted failed, or after the export timeout (the rest stay queued).
   * Never rejects: the counters tell what happened.
   */
  forceFlush(): Promise<void> {
    return this.flush(this.timeoutMillis);
  }

  /**
   * Flushes (within the export timeout, like forceFlush), counts what is still queued as dropped,
   * then shuts the exporter down, waiting for it until the same deadline. Spans ending afterwards
   * are dropped. Idempotent; never rejects.
   */
  shutdown(): Promise<void> {
    this.shutdownDone ??= this.stop();
    return this.shutdownDone;
  }

  private async stop(): Promise<void> {
    const deadline = Date.now() + this.timeoutMillis;
    await this.flush(this.timeoutMillis);
    this.stopped = true;
    this.clearTimer();
    const discarded = this.store.clear();
    this.dropped += discarded;
    this.settled += discarded;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
    });
    try {
      await Promise.race([Promise.resolve().then(() => this.exporter.shutdown()), timedOut]);
    } catch (err) {
      this.options.logger?.warn({ error: (err as Error).message }, 'span queue: the trace exporter failed to shut down');
    } finally {
      clearTimeout(timer);
    }
  }

  private flush(timeoutMillis: number): Promise<void> {
    const settledTarget = this.accepted;
    if (this.stopped || this.settled >= settledTarget) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const waiter: FlushWaiter = {
        settledTarget,
        done: () => {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve();
        },
      };
      // Not unref'd, unlike the queue's other timers: whoever awaits a flush (shutdown, at exit
      // with the listeners closed) needs the process to stay up until it is done; it is bounded.
      const timer = setTimeout(waiter.done, timeoutMillis);
      this.waiters.push(waiter);
      if (this.inFlight === 0) this.schedule(0);
    });
  }

  private drop(): void {
    this.dropped++;
    if (this.dropping) return;
    this.dropping = true;
    this.options.logger?.warn(
      { maxQueueSize: this.capacity, dropped: this.dropped },
      this.stopped ? 'span queue: spans ended after shutdown are dropped' : 'span queue: the queue is full; dropping spans until it drains',
    );
  }

  /** Arms the export timer to fire within `delay` ms, keeping an earlier deadline already set. */
  private schedule(delay: number): void {
    if (this.stopped) return;
    if (this.timer !== undefined) {
      if (this.timerDelay <= delay) return;
      clearTimeout(this.timer);
    }
    this.timerDelay = delay;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.exportBatch();
    }, delay);
    this.timer.unref();
  }

  private clearTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private exportBatch(): void {
    if (this.inFlight > 0 || this.size === 0 || this.stopped) return;
    const { batch, count } = this.store.take(this.batchSize);
    this.inFlight = count;

    let settled = false;
    const settle = (result: ExportResult): void => {
      if (settled) return; // a late answer after the timeout: its spans are already counted
      settled = true;
      clearTimeout(timeout);
      this.inFlight = 0;
      this.record(count, result);
      this.afterExport();
    };
    const timeout = setTimeout(() => settle({
      code: ExportResultCode.FAILED,
      error: new Error(`span queue: the exporter did not answer within ${this.timeoutMillis} ms`),
    }), this.timeoutMillis);
    timeout.unref();
    try {
      // The exporter's own HTTP or gRPC calls must not be traced by any instrumentation present.
      context.with(suppressTracing(context.active()), () => this.exporter.export(batch, settle));
    } catch (err) {
      settle({ code: ExportResultCode.FAILED, error: err as Error });
    }
  }

  private record(count: number, result: ExportResult): void {
    this.settled += count;
    if (result.code === ExportResultCode.SUCCESS) {
      this.exported += count;
      if (this.failing) {
        this.failing = false;
        this.options.logger?.warn({ failed: this.failed, dropped: this.dropped }, 'span queue: trace export recovered');
      }
      return;
    }
    this.failed += count;
    if (!this.failing) {
      this.failing = true;
      this.options.logger?.warn(
        { spans: count, error: result.error?.message },
        'span queue: trace export failed; spans are counted as failed until an export succeeds',
      );
    }
  }

  private afterExport(): void {
    for (const waiter of this.waiters.filter((w) => this.settled >= w.settledTarget)) waiter.done();
    if (this.size === 0) {
      this.dropping = false;
      return;
    }
    this.schedule(this.size >= this.batchSize || this.waiters.length > 0 ? 0 : this.delayMillis);
  }
}
