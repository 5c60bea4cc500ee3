import { describe, expect, it } from 'vitest';
import type { PickResult, Target } from '../dataplane.js';
import { FailPicker } from './fail-picker.js';
import { MAX_SCHEDULE, RoundRobinPicker, smoothSchedule, type WeightedAddress } from './round-robin.js';

const three: WeightedAddress[] = [
  { address: '10.0.0.1', port: 8080, weight: 1 },
  { address: '10.0.0.2', port: 8080, weight: 1 },
  { address: '10.0.0.3', port: 8080, weight: 1 },
];
const zero = () => 0;

function targetOf(result: PickResult): Target {
  if (result.type !== 'pick') throw new Error(`expected a pick, got ${result.error.code}`);
  return result.target;
}

function counts(picker: RoundRobinPicker, n: number, exclude?: ReadonlySet<string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const key = targetOf(picker.pick(exclude)).key;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

describe('RoundRobinPicker', () => {
  it('spreads 90 picks over 3 endpoints as 30 each, in turn', () => {
    const picker = new RoundRobinPicker(three, zero);
    expect(picker.size).toBe(3);
    expect([0, 1, 2, 3].map(() => targetOf(picker.pick()).address)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1']);
    expect(counts(picker, 89)).toEqual({ '10.0.0.1:8080': 29, '10.0.0.2:8080': 30, '10.0.0.3:8080': 30 });
    expect(counts(new RoundRobinPicker(three, () => 0.5), 90)).toEqual({ '10.0.0.1:8080': 30, '10.0.0.2:8080': 30, '10.0.0.3:8080': 30 });
  });

  it.each([
    [0, '10.0.0.1'],
    [0.34, '10.0.0.2'],
    [0.99, '10.0.0.3'],
    [0.9999999999999999, '10.0.0.3'],
  ])('starts at a random position (random() = %s -> %s)', (r, first) => {
    expect(targetOf(new RoundRobinPicker(three, () => r).pick()).address).toBe(first);
  });

  it('is allocation-free: the same Target and result objects come back', () => {
    const picker = new RoundRobinPicker(three, zero);
    const first = [0, 1, 2].map(() => picker.pick());
    const second = [0, 1, 2].map(() => picker.pick());
    for (let i = 0; i < 3; i++) {
      expect(second[i]).toBe(first[i]);
      expect(targetOf(second[i]!)).toBe(picker.targets[i]);
    }
    expect(Object.isFrozen(picker.targets[0])).toBe(true);
  });

  it.each([
    ['10.0.0.1', 8080, '10.0.0.1:8080'],
    ['fd00::1', 8080, '[fd00::1]:8080'],
  ])('keys %s port %s as %s', (address, port, key) => {
    expect(targetOf(new RoundRobinPicker([{ address, port, weight: 1 }], zero).pick())).toEqual({ address, port, key });
  });

  it.each<[string, string[], Record<string, number>]>([
    ['avoids an excluded endpoint', ['10.0.0.1:8080'], { '10.0.0.2:8080': 3, '10.0.0.3:8080': 3 }],
    ['avoids two', ['10.0.0.1:8080', '10.0.0.3:8080'], { '10.0.0.2:8080': 6 }],
    ['when all are excluded, picks anyway', ['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080'], { '10.0.0.1:8080': 2, '10.0.0.2:8080': 2, '10.0.0.3:8080': 2 }],
    ['an empty set excludes nothing', [], { '10.0.0.1:8080': 2, '10.0.0.2:8080': 2, '10.0.0.3:8080': 2 }],
  ])('exclude: %s', (_label, excluded, expected) => {
    expect(counts(new RoundRobinPicker(three, zero), 6, new Set(excluded))).toEqual(expected);
  });

  it('weights endpoints smoothly when weights differ', () => {
    const picker = new RoundRobinPicker([
      { address: '10.0.0.1', port: 80, weight: 5 },
      { address: '10.0.0.2', port: 80, weight: 1 },
      { address: '10.0.0.3', port: 80, weight: 1 },
    ], zero);
    expect([0, 1, 2, 3, 4, 5, 6].map(() => targetOf(picker.pick()).address.slice(-1))).toEqual(['1', '1', '2', '1', '3', '1', '1']);
    expect(counts(picker, 70)).toEqual({ '10.0.0.1:80': 50, '10.0.0.2:80': 10, '10.0.0.3:80': 10 });
    expect(picker.size).toBe(3);
  });

  it('honors exclude under weights', () => {
    const picker = new RoundRobinPicker([{ address: '10.0.0.1', port: 80, weight: 9 }, { address: '10.0.0.2', port: 80, weight: 1 }], zero);
    expect(counts(picker, 10, new Set(['10.0.0.1:80']))).toEqual({ '10.0.0.2:80': 10 });
  });

  it('refuses an empty endpoint list (FailPicker is for that)', () => {
    expect(() => new RoundRobinPicker([], zero)).toThrow(/at least one endpoint/);
  });
});

describe('smoothSchedule', () => {
  it.each<[number[], number[]]>([
    [[5, 1, 1], [0, 0, 1, 0, 2, 0, 0]],
    [[2, 4], [1, 0, 1]],
    [[3, 3, 6], [2, 0, 1, 2]],
  ])('%j -> %j (weights divided by their gcd)', (weights, expected) => {
    expect([...smoothSchedule(weights)]).toEqual(expected);
  });

  it('bounds the cycle, keeping proportions and every endpoint', () => {
    const schedule = smoothSchedule([1_000_000, 3_000_000, 1]);
    expect(schedule.length).toBeLessThanOrEqual(MAX_SCHEDULE + 1);
    const n = [0, 1, 2].map((i) => schedule.filter((x) => x === i).length);
    expect(n[2]).toBe(1);
    expect(n[1]! / n[0]!).toBeCloseTo(3, 1);
  });
});

describe('FailPicker', () => {
  it('fails every pick with its error, allocation-free', () => {
    const error = { code: 'SKEIN_ERR_NO_ENDPOINT', message: 'skein: none', status: 503 };
    const picker = new FailPicker(error);
    expect(picker.size).toBe(0);
    expect(picker.pick()).toEqual({ type: 'fail', error });
    expect(picker.pick(new Set(['x']))).toBe(picker.pick());
  });
});
