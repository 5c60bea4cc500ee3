// Debounced publication: many model changes in a burst (an informer resync, a rollout) become
// one snapshot. Builds after `debounceMs` without a change, but never later than `maxDelayMs`
// after the first unbuilt change, so a steady trickle of changes cannot starve subscribers.
//
// Leading edge (default): a change that ends a quiet spell (no build for `debounceMs`) is built
// on the next turn of the event loop instead, so an isolated edit is not held back by a wait
// meant for bursts (istiod delays every push by its debounce). Changes of the same turn (the
// informer events of one object) still share that build; changes during it or within
// `debounceMs` after it take the trailing debounce, so a burst costs one build more than
// without the leading edge, never a build per change.
import type { MeshModel } from '../model/mesh-model.js';
import { buildSnapshot, type Snapshot, type SnapshotProblem } from './snapshot.js';
import type { WritableSnapshotCache } from './snapshot-cache.js';

/** Time, injected so tests drive it and never sleep. */
export interface Clock {
  /** Milliseconds; wall-clock time for `systemClock`. */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer from `setTimeout`; a handle that already fired is ignored. */
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** What one build did. */
export type PublishReport =
  /** A snapshot with a new version is now current. */
  | { type: 'published'; snapshot: Snapshot; problems: SnapshotProblem[]; durationMs: number }
  /** The model built to the current version: nothing was published. */
  | { type: 'unchanged'; snapshot: Snapshot; problems: SnapshotProblem[]; durationMs: number }
  /** `build` (or a cache listener) threw: a bug. The previous snapshot stays current. */
  | { type: 'failed'; error: unknown; durationMs: number };

export interface SnapshotPublisherOptions {
  /** Returns the current mesh model; called once per build. */
  build: () => MeshModel;
  cache: WritableSnapshotCache;
  clock?: Clock;
  /** Quiet period before a build. Default 100 ms. */
  debounceMs?: number;
  /** Longest delay between the first unbuilt change and its build. Default 500 ms. */
  maxDelayMs?: number;
  /** Builds a change that ends a quiet spell at once (on the next turn). Default true; false: always wait `debounceMs`. */
  leading?: boolean;
  /** Called after every build, failed ones included. */
  onBuilt?: (durationMs: number, report: PublishReport) => void;
  /**
   * Called once for each problem when it appears: not again while later builds still find
   * it, again if it goes away and comes back. The report carries every problem of a build.
   */
  onProblem?: (problem: SnapshotProblem) => void;
  /** Called when a build fails (a bug). Without it, the error is thrown out of the build. */
  onError?: (error: unknown) => void;
}

export class SnapshotPublisher {
  private readonly clock: Clock;
  private readonly debounceMs: number;
  private readonly maxDelayMs: number;
  private readonly leading: boolean;
  private timer: unknown;
  private timerArmed = false;
  /** The armed timer is a leading-edge build: due at once, whatever comes in meanwhile. */
  private leadingArmed = false;
  private firstPendingAt: number | undefined;
  private lastNotifyAt = 0;
  /** When the last build ended; a change `debounceMs` or more after it ends a quiet spell. */
  private lastBuiltAt = -Infinity;
  /** When the source saw the oldest change awaiting its build (for push latency); undefined if unknown. */
  private pendingEventAt: number | undefined;
  private building = false;
  private closed = false;
  private knownProblems = new Set<string>();

  constructor(private readonly options: SnapshotPublisherOptions) {
    this.clock = options.clock ?? systemClock;
    this.debounceMs = options.debounceMs ?? 100;
    this.maxDelayMs = options.maxDelayMs ?? 500;
    this.leading = options.leading ?? true;
  }

  /** Whether a change awaits its build. */
  get pending(): boolean {
    return this.firstPendingAt !== undefined;
  }

  /**
   * Says the model may have changed. Cheap: call it for every source event. No-op after close.
   * `eventAt` is when the source saw the change (same time base as `clock.now()`); the oldest
   * one of a build goes into the snapshot's `eventTimes`, for push latency.
   */
  notify(eventAt?: number): void {
    if (this.closed) return;
    if (eventAt !== undefined && !(eventAt >= this.pendingEventAt!)) this.pendingEventAt = eventAt;
    const now = this.clock.now();
    this.firstPendingAt ??= now;
    this.lastNotifyAt = now;
    // One timer per burst; it re-arms itself if more changes came (no timer churn per event).
    if (this.timerArmed) return;
    // A timer of 0 rather than a build here: the caller's turn (more events of the same
    // object, several objects of one watch chunk) ends first and joins the build.
    this.leadingArmed = this.leading && !this.building && now - this.lastBuiltAt >= this.debounceMs;
    this.arm(now);
  }

  /**
   * Builds and publishes now, whether or not a change is pending. Returns what happened
   * (also given to `onBuilt`), or undefined after close or when called from inside a build
   * (then the build is merely scheduled again). Throws only a failed build's error, and only
   * when there is no `onError`.
   */
  flush(): PublishReport | undefined {
    if (this.closed) return undefined;
    if (this.building) {
      this.notify();
      return undefined;
    }
    this.disarm();
    this.firstPendingAt = undefined;
    const eventAt = this.pendingEventAt;
    this.pendingEventAt = undefined;
    this.building = true;
    const started = this.clock.now();
    let report: PublishReport;
    try {
      const { snapshot, problems } = buildSnapshot(this.options.build(), this.options.cache.current(), started, eventAt);
      const published = this.options.cache.set(snapshot);
      const durationMs = this.clock.now() - started;
      report = { type: published ? 'published' : 'unchanged', snapshot, problems, durationMs };
    } catch (error) {
      report = { type: 'failed', error, durationMs: this.clock.now() - started };
    } finally {
      this.building = false;
      this.lastBuiltAt = this.clock.now();
    }
    this.options.onBuilt?.(report.durationMs, report);
    if (report.type === 'failed') {
      if (!this.options.onError) throw report.error;
      this.options.onError(report.error);
    } else {
      this.reportProblems(report.problems);
    }
    return report;
  }

  /** Cancels any pending build; later notify() and flush() do nothing. */
  close(): void {
    this.closed = true;
    this.disarm();
    this.firstPendingAt = undefined;
    this.pendingEventAt = undefined;
  }

  private reportProblems(problems: readonly SnapshotProblem[]): void {
    const seen = new Set<string>();
    for (const problem of problems) {
      const key = `${problem.typeUrl}\n${problem.name}\n${problem.reason}`;
      seen.add(key);
      if (!this.knownProblems.has(key)) this.options.onProblem?.(problem);
    }
    this.knownProblems = seen;
  }

  private dueAt(): number {
    if (this.leadingArmed) return this.firstPendingAt!;
    return Math.min(this.lastNotifyAt + this.debounceMs, this.firstPendingAt! + this.maxDelayMs);
  }

  private arm(now: number): void {
    this.timerArmed = true;
    this.timer = this.clock.setTimeout(() => this.onTimer(), Math.max(0, this.dueAt() - now));
  }

  private disarm(): void {
    if (this.timerArmed) this.clock.clearTimeout(this.timer);
    this.timerArmed = false;
    this.leadingArmed = false;
    this.timer = undefined;
  }

  private onTimer(): void {
    this.timerArmed = false;
    this.timer = undefined;
    if (this.closed || this.firstPendingAt === undefined) return;
    const now = this.clock.now();
    if (now < this.dueAt()) this.arm(now);
    else this.flush();
  }
}
