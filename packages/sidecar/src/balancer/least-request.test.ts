import { describe, expect, it } from 'vitest';
import { LeastRequestPicker } from './least-request.js';
import { seeded, keyOf, eps } from './picker-test-kit.test-helper.js';

describe('LeastRequestPicker (power of two choices)', () => {
  it('of two candidates, takes the less loaded', () => {
    const picker = new LeastRequestPicker(eps(2), seeded(1));
    const [a, b] = picker.targets;
    for (let i = 0; i < 5; i++) picker.started(a!);
    for (let i = 0; i < 50; i++) expect(keyOf(picker.pick())).toBe(b!.key);
    for (let i = 0; i < 5; i++) picker.finished(a!);
    picker.started(b!);
    expect(keyOf(picker.pick())).toBe(a!.key);
  });

  it('never sends to the most loaded of many when two are drawn', () => {
    const picker = new LeastRequestPicker(eps(10), seeded(9));
    const busy = picker.targets[0]!;
    for (let i = 0; i < 100; i++) picker.started(busy);
    for (let i = 0; i < 1000; i++) expect(keyOf(picker.pick())).not.toBe(busy.key);
  });

  it('favours the fast endpoint under skewed latency', () => {
    // Endpoint 0 answers in 1 tick, the others in 10; 3 requests arrive per tick.
    const picker = new LeastRequestPicker(eps(4), seeded(5));
    const latency = (key: string) => (key === picker.targets[0]!.key ? 1 : 10);
    const inflight: { target: (typeof picker.targets)[number]; done: number }[] = [];
    const counts = new Map<string, number>();
    for (let tick = 0; tick < 2000; tick++) {
      for (let k = inflight.length - 1; k >= 0; k--) if (inflight[k]!.done <= tick) { picker.finished(inflight[k]!.target); inflight.splice(k, 1); }
      for (let r = 0; r < 3; r++) {
        const result = picker.pick();
        if (result.type !== 'pick') throw new Error('no pick');
        picker.started(result.target);
        inflight.push({ target: result.target, done: tick + latency(result.target.key) });
        counts.set(result.target.key, (counts.get(result.target.key) ?? 0) + 1);
      }
    }
    expect(counts.get(picker.targets[0]!.key)! / 6000).toBeGreaterThan(0.4);
  });

  it('divides load by weight: idle, the heavier endpoint wins', () => {
    const picker = new LeastRequestPicker(eps(2, (i) => (i === 0 ? 3 : 1)), seeded(2));
    for (let i = 0; i < 20; i++) expect(keyOf(picker.pick())).toBe(picker.targets[0]!.key);
    // 3 outstanding on weight 3: (3+1)/3 > (0+1)/1.
    for (let i = 0; i < 3; i++) picker.started(picker.targets[0]!);
    expect(keyOf(picker.pick())).toBe(picker.targets[1]!.key);
  });

  it('counts never go negative; unknown targets are ignored', () => {
    const picker = new LeastRequestPicker(eps(2), seeded(2));
    picker.finished(picker.targets[0]!);
    expect(picker.outstandingOf(picker.targets[0]!.key)).toBe(0);
    picker.started({ address: '10.9.9.9', port: 1, key: '10.9.9.9:1' });
    expect(picker.outstandingOf('10.9.9.9:1')).toBe(0);
  });

  it('hands counts to its replacement and forwards in-flight finishes to it', () => {
    const old = new LeastRequestPicker(eps(3), seeded(2));
    const [a, b, c] = old.targets;
    old.started(a!); old.started(a!); old.started(c!);
    const next = new LeastRequestPicker(eps(2), seeded(3), old); // c removed
    expect(next.outstandingOf(a!.key)).toBe(2);
    expect(next.outstandingOf(b!.key)).toBe(0);
    old.finished(a!); // an attempt started before the change ends
    old.finished(c!); // its endpoint is gone: ignored
    expect(next.outstandingOf(a!.key)).toBe(1);
    const third = new LeastRequestPicker(eps(3), seeded(4), old); // built from a stale picker: takes the newest counts
    old.finished(a!);
    expect(third.outstandingOf(a!.key)).toBe(0);
    expect(third.outstandingOf(c!.key)).toBe(0);
  });

  it('a single endpoint is always picked', () => {
    const picker = new LeastRequestPicker(eps(1), seeded(2));
    expect(keyOf(picker.pick(new Set([picker.targets[0]!.key])))).toBe(picker.targets[0]!.key);
  });
});
