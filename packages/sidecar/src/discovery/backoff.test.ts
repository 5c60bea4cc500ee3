import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

describe('Backoff', () => {
  it('doubles from the initial delay up to the ceiling, and starts over after reset()', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.5 });
    expect(Array.from({ length: 6 }, () => backoff.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoff.attempts).toBe(6);
    backoff.reset();
    expect(backoff.next()).toBe(100);
  });

  it('jitters each delay by up to 20 % without passing the ceiling', () => {
    expect(new Backoff({ initialMs: 100, random: () => 0 }).next()).toBe(80);
    expect(new Backoff({ initialMs: 100, random: () => 0.999999 }).next()).toBe(120);
    const capped = new Backoff({ initialMs: 1000, maxMs: 1000, random: () => 0.999999 });
    expect(capped.next()).toBe(1000);
  });
});
