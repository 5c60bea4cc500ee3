// Reconnect and retry delays for discovery clients: exponential with jitter, so a fleet of
// sidecars that lost the same control plane does not return in lockstep (gRPC connection
// backoff, doc/connection-backoff.md: multiplier 2, jitter 0.2).

export interface BackoffOptions {
  /** First delay. Default 100 ms. */
  initialMs?: number;
  /** Ceiling of the delay. Default 15 s. */
  maxMs?: number;
  /** Random source in [0, 1); injected by tests. Default Math.random. */
  random?: () => number;
}

const JITTER = 0.2;

/** Delays 100 ms, 200 ms, 400 ms … up to `maxMs`, each ±20 %; `reset()` after a healthy period. */
export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;
  private failures = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = Math.max(1, options.initialMs ?? 100);
    this.maxMs = Math.max(this.initialMs, options.maxMs ?? 15_000);
    this.random = options.random ?? Math.random;
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    const jittered = base * (1 - JITTER + 2 * JITTER * this.random());
    return Math.round(Math.min(this.maxMs, jittered));
  }

  /** Consecutive failures since the last reset. */
  get attempts(): number {
    return this.failures;
  }

  reset(): void {
    this.failures = 0;
  }
}
