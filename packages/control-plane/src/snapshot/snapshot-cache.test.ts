import { describe, expect, it } from 'vitest';
import type { Snapshot } from './snapshot.js';
import { MemorySnapshotCache } from './snapshot-cache.js';

const snap = (version: string): Snapshot => ({ version, createdAt: 0, resources: new Map(), typeVersions: new Map() });

describe('MemorySnapshotCache', () => {
  it('has no snapshot until the first set', () => {
    expect(new MemorySnapshotCache().current()).toBeUndefined();
  });

  it('notifies watchers of each new version, not of a repeated one', () => {
    const cache = new MemorySnapshotCache();
    const seen: string[] = [];
    cache.watch((s) => seen.push(s.version));
    expect(cache.set(snap('a'))).toBe(true);
    expect(cache.set(snap('a'))).toBe(false);
    expect(cache.set(snap('b'))).toBe(true);
    expect(seen).toEqual(['a', 'b']);
    expect(cache.current()!.version).toBe('b');
  });

  it('stops notifying after unwatch, even during a notification', () => {
    const cache = new MemorySnapshotCache();
    const seen: string[] = [];
    let stopSecond = (): void => {};
    cache.watch(() => stopSecond());
    stopSecond = cache.watch((s) => seen.push(s.version));
    cache.set(snap('a'));
    expect(seen).toEqual([]);
    expect(cache.watcherCount).toBe(1);
  });

  it('lets the same function watch twice and unwatch once', () => {
    const cache = new MemorySnapshotCache();
    const seen: string[] = [];
    const listener = (s: Snapshot): void => void seen.push(s.version);
    const stop = cache.watch(listener);
    cache.watch(listener);
    stop();
    stop();
    cache.set(snap('a'));
    expect(seen).toEqual(['a']);
  });

  it('notifies every watcher before surfacing a watcher that threw', () => {
    const cache = new MemorySnapshotCache();
    const seen: string[] = [];
    cache.watch(() => {
      throw new Error('bug');
    });
    cache.watch((s) => seen.push(s.version));
    expect(() => cache.set(snap('a'))).toThrow('bug');
    expect(seen).toEqual(['a']);
    expect(cache.current()!.version).toBe('a');
  });
});
