// The snapshot cache: the one joint between the snapshot builder and the servers that stream
// snapshots (xds/, http/). The servers see only the read side, SnapshotCache.
import type { Snapshot } from './snapshot.js';

/** Called with each newly published snapshot. Must not throw. */
export type SnapshotListener = (snapshot: Snapshot) => void;

/** Read side of the cache: what a discovery server sees. */
export interface SnapshotCache {
  /** The newest published snapshot, or undefined before the first one. */
  current(): Snapshot | undefined;
  /**
   * Calls `listener` synchronously after each publication of a snapshot with a new version,
   * in publication order. Does not call it for the snapshot current at registration: read
   * `current()` for that. Returns a function that removes the listener; after it returns,
   * the listener is not called again.
   */
  watch(listener: SnapshotListener): () => void;
}

/** Write side: what the publisher sees. */
export interface WritableSnapshotCache extends SnapshotCache {
  /**
   * Makes `snapshot` current and notifies listeners. Returns false and notifies no one when
   * its version equals the current version.
   */
  set(snapshot: Snapshot): boolean;
}

/** An in-process snapshot cache. */
export class MemorySnapshotCache implements WritableSnapshotCache {
  private snapshot: Snapshot | undefined;
  private readonly listeners = new Set<SnapshotListener>();

  current(): Snapshot | undefined {
    return this.snapshot;
  }

  watch(listener: SnapshotListener): () => void {
    // A wrapper per registration, so the same function may watch twice and unwatch once.
    const entry: SnapshotListener = (s) => listener(s);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  set(snapshot: Snapshot): boolean {
    if (this.snapshot?.version === snapshot.version) return false;
    this.snapshot = snapshot;
    let failure: { error: unknown } | undefined;
    // Copy: a listener may unwatch (or watch) while we notify.
    for (const listener of [...this.listeners]) {
      if (!this.listeners.has(listener)) continue;
      try {
        listener(snapshot);
      } catch (error) {
        failure ??= { error };
      }
    }
    // A throwing listener is a bug: every other listener still saw the snapshot, then it surfaces.
    if (failure) throw failure.error;
    return true;
  }

  /** Number of registered listeners (for tests and metrics). */
  get watcherCount(): number {
    return this.listeners.size;
  }
}
