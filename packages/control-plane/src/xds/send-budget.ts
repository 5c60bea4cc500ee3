// A bound on the bytes of large responses in flight across all discovery streams. gRPC copies
// each response into its HTTP/2 stream, where it stays until the client has read it: without a
// bound, a thousand subscribers (re)connecting at once hold a thousand copies of the full
// state (1.5 MiB each for 1,000 Services). Streams whose large response does not fit wait in
// line, as Istio's push throttle makes them wait; small responses (the usual delta push)
// never wait and are not counted.
import type { Clock } from '../snapshot/publisher.js';

/** Bytes a stream may write; `release()` when they left (idempotent). */
export interface SendGrant {
  /** False for a small response: nothing to release. */
  readonly counted: boolean;
  release(): void;
}

export interface SendBudgetOptions {
  /** Bytes of counted responses in flight at once. One response larger than this still goes, alone. */
  maxBytes: number;
  /** Responses smaller than this neither wait nor count. */
  smallBytes: number;
  /**
   * A grant stops counting after this long even if unreleased: a client that stops reading
   * keeps its copy, but no longer holds everybody else back.
   */
  holdLimitMs: number;
  clock: Clock;
}

const FREE: SendGrant = { counted: false, release() {} };

interface Waiter {
  readonly bytes: number;
  readonly onGranted: (grant: SendGrant) => void;
}

export class SendBudget {
  private inFlightBytes = 0;
  private readonly waiters = new Set<Waiter>();
  private admitting = false;

  constructor(private readonly options: SendBudgetOptions) {}

  /** Bytes of counted responses written and not yet released. */
  get inFlight(): number {
    return this.inFlightBytes;
  }

  /** Streams waiting for room. */
  get waiting(): number {
    return this.waiters.size;
  }

  /**
   * A grant for `bytes` now, or undefined when it must wait (then call `enqueue`). Nobody jumps
   * the line: while streams wait, only small responses are granted at once.
   */
  tryAcquire(bytes: number): SendGrant | undefined {
    if (bytes < this.options.smallBytes) return FREE;
    if (this.waiters.size > 0 || !this.fits(bytes)) return undefined;
    return this.grant(bytes);
  }

  /**
   * Calls `onGranted` (later, never synchronously) once `bytes` fit, in arrival order. Returns
   * a function that leaves the line; after it, `onGranted` is not called.
   */
  enqueue(bytes: number, onGranted: (grant: SendGrant) => void): () => void {
    const waiter: Waiter = { bytes, onGranted };
    this.waiters.add(waiter);
    return () => {
      this.waiters.delete(waiter);
    };
  }

  private fits(bytes: number): boolean {
    return this.inFlightBytes === 0 || this.inFlightBytes + bytes <= this.options.maxBytes;
  }

  private grant(bytes: number): SendGrant {
    this.inFlightBytes += bytes;
    let held = true;
    const { clock } = this.options;
    const stop = (): void => {
      if (!held) return;
      held = false;
      clock.clearTimeout(timer);
      this.inFlightBytes -= bytes;
      this.admit();
    };
    const timer = clock.setTimeout(stop, this.options.holdLimitMs);
    return { counted: true, release: stop };
  }

  /** Grants to waiters, first come first served, while they fit. Not re-entered: a release from inside a grant only frees room for this loop. */
  private admit(): void {
    if (this.admitting) return;
    this.admitting = true;
    try {
      for (;;) {
        const first = this.waiters.values().next();
        if (first.done || !this.fits(first.value.bytes)) return;
        this.waiters.delete(first.value);
        first.value.onGranted(this.grant(first.value.bytes));
      }
    } finally {
      this.admitting = false;
    }
  }
}
