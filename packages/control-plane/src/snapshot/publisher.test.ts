import { describe, expect, it } from 'vitest';
import type { ServiceInit } from '@skein/protocol';
import type { MeshModel } from '../model/mesh-model.js';
import { SnapshotPublisher, type Clock, type PublishReport } from './publisher.js';
import type { SnapshotProblem } from './snapshot.js';
import { MemorySnapshotCache } from './snapshot-cache.js';

/** A clock whose time moves only when the test says so. */
class FakeClock implements Clock {
  private time = 0;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private ids = 0;

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.ids;
    this.timers.push({ at: this.time + ms, fn, id });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  /** Moves time forward by `ms`, firing due timers in order; a build's own time (a nested advance) is kept. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = due.at;
      due.fn();
    }
    this.time = Math.max(this.time, end);
  }

  get pendingTimers(): number {
    return this.timers.length;
  }
}

const service = (ip: string): ServiceInit => ({ name: 'default/web', namespace: 'default', clusterIps: [ip], ports: [{ port: 80 }] });

function setup(options: { onError?: (error: unknown) => void; leading?: boolean; maxDelayMs?: number } = {}) {
  const clock = new FakeClock();
  const cache = new MemorySnapshotCache();
  let ip = '10.0.0.1';
  let builds = 0;
  let failWith: Error | undefined;
  const reports: PublishReport[] = [];
  const problems: SnapshotProblem[] = [];
  const publisher = new SnapshotPublisher({
    clock, cache, ...options,
    build: (): MeshModel => {
      builds++;
      clock.advance(3); // the build itself takes 3 ms of (fake) time
      if (failWith) throw failWith;
      return { services: new Map([['default/web', service(ip)]]), endpointGroups: new Map() };
    },
    onBuilt: (_ms, report) => reports.push(report),
    onProblem: (problem) => problems.push(problem),
  });
  return {
    clock, cache, publisher, reports, problems,
    get builds() { return builds; },
    setIp(value: string) { ip = value; },
    fail(error: Error | undefined) { failWith = error; },
  };
}

describe('SnapshotPublisher', () => {
  it('with leading off, builds once after 100 ms without a change', () => {
    const t = setup({ leading: false });
    t.publisher.notify();
    t.clock.advance(60);
    t.publisher.notify();
    t.clock.advance(99);
    expect(t.builds).toBe(0);
    t.clock.advance(1);
    expect(t.builds).toBe(1);
    expect(t.cache.current()).toBeDefined();
    expect(t.publisher.pending).toBe(false);
  });

  it('with leading off, builds no later than debounce-max (1 s here) after the first unbuilt change under a steady trickle', () => {
    const t = setup({ leading: false, maxDelayMs: 1000 });
    for (let i = 0; i < 30; i++) {
      t.publisher.notify();
      t.clock.advance(50);
    }
    // 1500 ms of changes every 50 ms: built at 1000 ms, then 100 ms after the last change.
    expect(t.builds).toBe(1);
    expect(t.reports[0]!.type).toBe('published');
    t.clock.advance(100);
    expect(t.builds).toBe(2);
  });

  it('coalesces a burst into one build and one publication', () => {
    const t = setup();
    const published: string[] = [];
    t.cache.watch((s) => published.push(s.version));
    for (let i = 0; i < 100; i++) t.publisher.notify();
    t.clock.advance(1000);
    expect(t.builds).toBe(1);
    expect(published).toHaveLength(1);
    expect(t.clock.pendingTimers).toBe(0);
  });

  it('reports an unchanged model as unchanged without notifying watchers', () => {
    const t = setup();
    t.publisher.flush();
    const published: string[] = [];
    t.cache.watch((s) => published.push(s.version));
    expect(t.publisher.flush()!.type).toBe('unchanged');
    t.setIp('10.0.0.2');
    expect(t.publisher.flush()!.type).toBe('published');
    expect(published).toHaveLength(1);
  });

  it('flush builds now and cancels the pending build', () => {
    const t = setup();
    t.publisher.notify();
    const report = t.publisher.flush();
    expect(report).toMatchObject({ type: 'published', durationMs: 3 });
    t.clock.advance(2000);
    expect(t.builds).toBe(1);
  });

  it('reports each problem once while it persists', () => {
    const t = setup();
    t.setIp('bad');
    t.publisher.flush();
    t.publisher.flush();
    expect(t.problems).toHaveLength(1);
    expect(t.reports.map((r) => r.type === 'failed' ? [] : r.problems.length)).toEqual([1, 1]);
    t.setIp('10.0.0.1');
    t.publisher.flush();
    t.setIp('bad');
    t.publisher.flush();
    expect(t.problems).toHaveLength(2);
  });

  it('keeps the current snapshot when a build fails, and reports the error', () => {
    const errors: unknown[] = [];
    const t = setup({ onError: (e) => errors.push(e) });
    t.publisher.flush();
    const before = t.cache.current();
    t.fail(new Error('translate bug'));
    t.publisher.notify();
    t.clock.advance(100);
    expect(errors).toEqual([new Error('translate bug')]);
    expect(t.reports.at(-1)).toMatchObject({ type: 'failed', durationMs: 3 });
    expect(t.cache.current()).toBe(before);
  });

  it('throws a failed build out of flush when no onError is given', () => {
    const t = setup();
    t.fail(new Error('translate bug'));
    expect(() => t.publisher.flush()).toThrow('translate bug');
  });

  it('does nothing after close', () => {
    const t = setup();
    t.publisher.notify();
    t.publisher.close();
    t.clock.advance(2000);
    t.publisher.notify();
    expect(t.publisher.flush()).toBeUndefined();
    expect(t.builds).toBe(0);
    expect(t.clock.pendingTimers).toBe(0);
  });

  describe('leading edge', () => {
    it('publishes an isolated change on the next turn, coalescing the changes of the same turn', () => {
      const t = setup();
      const published: string[] = [];
      t.cache.watch((s) => published.push(s.version));
      t.publisher.notify();
      t.publisher.notify(); // e.g. several informer events of one object
      t.publisher.notify();
      expect(t.builds).toBe(0); // not inside notify(): the caller's turn finishes first
      t.clock.advance(0);
      expect(t.builds).toBe(1);
      expect(published).toHaveLength(1);
      expect(t.publisher.pending).toBe(false);
      expect(t.clock.pendingTimers).toBe(0);
    });

    it('publishes each of two changes at once when they are more than the debounce apart', () => {
      const t = setup();
      t.publisher.notify();
      t.clock.advance(0);
      t.clock.advance(150);
      t.setIp('10.0.0.2');
      t.publisher.notify();
      t.clock.advance(0);
      expect(t.builds).toBe(2);
      expect(t.reports.map((r) => r.type)).toEqual(['published', 'published']);
    });

    it('turns a burst of 100 changes over 50 ms into one leading and one trailing publication', () => {
      const t = setup();
      const builtAt: number[] = [];
      t.cache.watch(() => builtAt.push(t.clock.now()));
      let last = 0;
      for (let i = 0; i < 100; i++) {
        t.setIp(`10.0.1.${i}`);
        last = t.clock.now();
        t.publisher.notify();
        t.clock.advance(0.5);
      }
      t.clock.advance(1000);
      expect(t.builds).toBe(2);
      // The leading build (3 ms of fake time), then 100 ms after the last change.
      expect(builtAt).toEqual([3, last + 100 + 3]);
      expect(t.clock.pendingTimers).toBe(0);
    });

    it('still builds at most once per debounce-max under steady churn, none waiting longer', () => {
      const t = setup({ maxDelayMs: 1000 });
      const startedAt: number[] = [];
      t.cache.watch(() => startedAt.push(t.clock.now() - 3));
      let last = 0;
      for (let i = 0; i < 60; i++) {
        t.setIp(`10.0.2.${i}`);
        last = t.clock.now();
        t.publisher.notify();
        t.clock.advance(50); // never 100 ms of quiet
      }
      t.clock.advance(2000);
      // ~3 s of changes: the leading build, then one each second (debounce-max) while they keep
      // coming, then 100 ms after the last: never more often than with leading off, plus one.
      expect(startedAt.length).toBe(4);
      expect(startedAt[0]).toBe(0);
      for (let i = 2; i < startedAt.length - 1; i++) expect(startedAt[i]! - startedAt[i - 1]!).toBeGreaterThanOrEqual(1000);
      expect(startedAt.at(-1)).toBe(last + 100);
    });

    it('falls back to the trailing debounce for a change that arrives during a build', () => {
      const t = setup();
      let again = true;
      t.cache.watch(() => {
        if (again) t.publisher.notify(); // a change made while the snapshot is being published
        again = false;
      });
      t.publisher.notify();
      t.clock.advance(0);
      expect(t.builds).toBe(1);
      t.clock.advance(99);
      expect(t.builds).toBe(1);
      t.clock.advance(1);
      expect(t.builds).toBe(2);
    });

    it('falls back to the trailing debounce within the debounce after a build, then leads again', () => {
      const t = setup();
      t.publisher.notify();
      t.clock.advance(0); // built at 0..3
      t.clock.advance(40);
      t.publisher.notify();
      t.clock.advance(99);
      expect(t.builds).toBe(1);
      t.clock.advance(1);
      expect(t.builds).toBe(2); // 100 ms after that change
      t.clock.advance(200);
      t.publisher.notify();
      t.clock.advance(0);
      expect(t.builds).toBe(3);
    });

    it('counts an explicit flush as a build: a change right after it waits for the debounce', () => {
      const t = setup();
      t.publisher.flush();
      t.publisher.notify();
      t.clock.advance(0);
      expect(t.builds).toBe(1);
      t.clock.advance(100);
      expect(t.builds).toBe(2);
    });

    it('with leading off, waits the debounce for an isolated change', () => {
      const t = setup({ leading: false });
      t.publisher.notify();
      t.clock.advance(0);
      t.clock.advance(99);
      expect(t.builds).toBe(0);
      t.clock.advance(1);
      expect(t.builds).toBe(1);
    });
  });
});
