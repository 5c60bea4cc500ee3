// Jittered exponential backoff for reconnecting sources.

/** Delays of a {@link Backoff}: `initialMs` doubling up to `maxMs`. */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** A connection healthy for this long starts the next failure from `initialMs` again. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 200, maxMs: 30_000, resetAfterMs: 60_000 };

/**
 * Retry delays that double from `initialMs` to `maxMs`, each scaled by a random factor in
 * [0.5, 1) ("equal jitter") so that many clients cut off together do not reconnect in step.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const base = Math.min(this.policy.maxMs, this.policy.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(base * (0.5 + 0.5 * this.random()));
  }

  /** Forgets past failures. */
  reset(): void {
    this.attempt = 0;
  }
}
