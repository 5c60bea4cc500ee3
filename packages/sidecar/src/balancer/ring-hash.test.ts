import { describe, expect, it } from 'vitest';
import { hashKey } from './hash-key.js';
import { DEFAULT_MAX_RING_SIZE, nodesPerWeight, RingHashPicker } from './ring-hash.js';
import { seeded, keyOf, eps } from './picker-test-kit.test-helper.js';

const requestHashes = Array.from({ length: 10_000 }, (_, i) => hashKey(`user-${i}`));
const assign = (picker: RingHashPicker) => requestHashes.map((h) => keyOf(picker.pick(undefined, h)));
const moved = (a: string[], b: string[]) => a.filter((key, i) => key !== b[i]).length / a.length;

describe('RingHashPicker', () => {
  it('sends the same hash to the same endpoint, in any input order', () => {
    const endpoints = eps(8);
    const first = assign(new RingHashPicker(endpoints, seeded(1)));
    expect(assign(new RingHashPicker(endpoints, seeded(2)))).toEqual(first);
    expect(assign(new RingHashPicker([...endpoints].reverse(), seeded(3)))).toEqual(first);
  });

  it('spreads keys about evenly', () => {
    const counts = new Map<string, number>();
    for (const key of assign(new RingHashPicker(eps(10), seeded(1)))) counts.set(key, (counts.get(key) ?? 0) + 1);
    expect(counts.size).toBe(10);
    for (const c of counts.values()) expect(Math.abs(c - 1000)).toBeLessThan(300);
  });

  it.each([3, 10, 25])('removing one of %i endpoints moves only its keys (< 1.5/N)', (n) => {
    const endpoints = eps(n);
    const before = new RingHashPicker(endpoints, seeded(1));
    const after = new RingHashPicker(endpoints.slice(1), seeded(1), { previous: before });
    const a = assign(before);
    const b = assign(after);
    expect(moved(a, b)).toBeLessThan(1.5 / n);
    // Only the removed endpoint's keys moved.
    a.forEach((key, i) => { if (key !== before.targets[0]!.key) expect(b[i]).toBe(key); });
  });

  it.each([3, 10])('adding one to %i endpoints moves about 1/(N+1) of keys', (n) => {
    const before = new RingHashPicker(eps(n), seeded(1));
    const after = new RingHashPicker(eps(n + 1), seeded(1), { previous: before });
    expect(moved(assign(before), assign(after))).toBeLessThan(1.5 / (n + 1));
  });

  it('gives virtual nodes in proportion to weight, within the ring bounds', () => {
    const picker = new RingHashPicker(eps(3, (i) => [1, 2, 5][i]!), seeded(1));
    expect(picker.ringSize).toBeGreaterThanOrEqual(1024);
    const counts = new Map<string, number>();
    for (const key of assign(picker)) counts.set(key, (counts.get(key) ?? 0) + 1);
    [1, 2, 5].forEach((w, i) => expect(Math.abs(counts.get(picker.targets[i]!.key)! / 10_000 - w / 8)).toBeLessThan(0.04));
    expect(new RingHashPicker(eps(2, (i) => (i === 0 ? 1 : 1e9)), seeded(1), { maxRingSize: 4096 }).ringSize).toBeLessThanOrEqual(4097);
  });

  it.each<[number, number, number | undefined, number]>([
    [2, 1024, undefined, 1024],
    [10, 1024, undefined, 205],
    [5000, 1024, undefined, 1],
    [9, 1024, 205, 205],
    [4, 1024, 205, 512],
    [1e9, 1024, undefined, DEFAULT_MAX_RING_SIZE / 1e9],
  ])('nodesPerWeight(total %s, min %s, previous %s) = %s', (total, min, previous, expected) => {
    expect(nodesPerWeight(total, min, DEFAULT_MAX_RING_SIZE, previous)).toBe(expected);
  });

  it('walks clockwise past excluded endpoints, deterministically', () => {
    const picker = new RingHashPicker(eps(5), seeded(1));
    const h = hashKey('user-7');
    const first = keyOf(picker.pick(undefined, h));
    const second = keyOf(picker.pick(new Set([first]), h));
    expect(second).not.toBe(first);
    expect(keyOf(picker.pick(new Set([first]), h))).toBe(second);
  });
});
