import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

describe('Backoff', () => {
  const policy = { initialMs: 200, maxMs: 30_000, resetAfterMs: 60_000 };

  it('doubles from the initial delay up to the maximum', () => {
    const backoff = new Backoff(policy, () => 0.999_999);
    const delays = Array.from({ length: 10 }, () => backoff.next());
    expect(delays).toEqual([200, 400, 800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000]);
  });

  it('jitters each delay into [half, full)', () => {
    expect(new Backoff(policy, () => 0).next()).toBe(100);
    expect(new Backoff(policy, () => 0.5).next()).toBe(150);
    const backoff = new Backoff(policy);
    for (let i = 0; i < 100; i++) {
      const full = Math.min(30_000, 200 * 2 ** i);
      const delay = backoff.next();
      expect(delay).toBeGreaterThanOrEqual(full / 2);
      expect(delay).toBeLessThanOrEqual(full);
    }
  });

  it('starts over after reset', () => {
    const backoff = new Backoff(policy, () => 0.5);
    backoff.next();
    backoff.next();
    backoff.reset();
    expect(backoff.next()).toBe(150);
  });
});
