// Where ended spans wait for their export (SpanQueue decides when and how many). Two kinds:
//
// - SpanRing keeps the span objects, for exporters that take ReadableSpans (console, http/json).
// - EncodedSpanStore encodes each span as OTLP protobuf the moment it ends, for our binary
//   exporters (http/protobuf, gRPC), and keeps only bytes. Why: a span kept as an object until
//   its batch leaves (up to 512 spans, or 5 s) outlives the young generation's collections and
//   is copied by each of them; measured in the sidecar under load, that doubled the GC time of a
//   traced request and cost more than encoding it. Encoded at once, the span is garbage the
//   moment the request ends, and its encoding runs while its fields are still in the cache.
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { SpanLanes, type OtlpSpanEncoder } from './otlp-span-encoder.js';

export interface SpanStore<Batch> {
  /** Spans waiting. */
  readonly size: number;
  /** Keeps `span` (the queue has checked its capacity). Throws only on a bug; then nothing is kept. */
  add(span: ReadableSpan): void;
  /** Takes the oldest spans, at most `max` and at least one (when any wait), as one export's batch. */
  take(max: number): { batch: Batch; count: number };
  /** Forgets every waiting span; returns how many there were. */
  clear(): number;
}

/** Ended spans as objects, in a fixed ring: O(1) in the request path. */
export class SpanRing implements SpanStore<ReadableSpan[]> {
  private readonly ring: Array<ReadableSpan | undefined>;
  private head = 0;
  size = 0;

  constructor(private readonly capacity: number) {
    this.ring = new Array<ReadableSpan | undefined>(capacity);
  }

  add(span: ReadableSpan): void {
    this.ring[(this.head + this.size) % this.capacity] = span;
    this.size++;
  }

  take(max: number): { batch: ReadableSpan[]; count: number } {
    const count = Math.min(this.size, max);
    const batch = new Array<ReadableSpan>(count);
    for (let i = 0; i < count; i++) {
      batch[i] = this.ring[this.head]!;
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
    }
    this.size -= count;
    return { batch, count };
  }

  clear(): number {
    const count = this.size;
    this.ring.fill(undefined);
    this.size = 0;
    return count;
  }
}

/** An ExportTraceServiceRequest, encoded, and how many spans it carries. */
export interface EncodedSpans {
  readonly bytes: Uint8Array;
  readonly count: number;
}

/**
 * Ended spans encoded at once: spans append to the open batch's lanes (one per resource and
 * scope); a batch is sealed into its request bytes when it reaches `batchSize` or is taken.
 */
export class EncodedSpanStore implements SpanStore<EncodedSpans> {
  private readonly lanes = new SpanLanes(64 * 1024);
  private readonly sealed: EncodedSpans[] = [];
  private sealedCount = 0;
  private openCount = 0;

  constructor(private readonly encoder: OtlpSpanEncoder, private readonly batchSize: number) {}

  get size(): number {
    return this.sealedCount + this.openCount;
  }

  add(span: ReadableSpan): void {
    this.encoder.appendSpan(this.lanes.of(span), span);
    if (++this.openCount >= this.batchSize) this.seal();
  }

  /** The oldest sealed batch, or the open one: batches were cut at `batchSize`, so `max` is met. */
  take(_max: number): { batch: EncodedSpans; count: number } {
    if (this.sealed.length === 0) this.seal();
    const batch = this.sealed.shift()!;
    this.sealedCount -= batch.count;
    return { batch, count: batch.count };
  }

  clear(): number {
    const count = this.size;
    this.sealed.length = 0;
    this.sealedCount = 0;
    this.openCount = 0;
    this.lanes.reset();
    return count;
  }

  private seal(): void {
    if (this.openCount === 0) return;
    const batch = { bytes: this.encoder.request(this.lanes.all()), count: this.openCount };
    this.lanes.reset();
    this.openCount = 0;
    this.sealed.push(batch);
    this.sealedCount += batch.count;
  }
}
