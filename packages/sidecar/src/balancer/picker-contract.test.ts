// The contract every Picker implementation honors (dataplane.ts): allocation-free picks of
// shared Target objects, `exclude` avoided while others remain, `hash` accepted by all.
import { describe, expect, it } from 'vitest';
import { LoadBalancer } from '@skein/protocol';
import type { Picker, PickResult, Target } from '../dataplane.js';
import { createPicker, type LoadBalancerPolicy } from './picker-factory.js';
import { LeastRequestPicker } from './least-request.js';
import { MaglevPicker } from './maglev.js';
import { RandomPicker } from './random-picker.js';
import { RingHashPicker } from './ring-hash.js';
import { RoundRobinPicker, type WeightedAddress } from './round-robin.js';
import { seeded } from './picker-test-kit.test-helper.js';

/** mulberry32: a small seeded generator of numbers in [0, 1). */
function targetOf(result: PickResult): Target {
  if (result.type !== 'pick') throw new Error(`expected a pick, got ${result.error.code}`);
  return result.target;
}

const endpoints: WeightedAddress[] = [1, 2, 3, 4, 5].map((i) => ({ address: `10.0.0.${i}`, port: 8080, weight: i === 1 ? 3 : 1 }));
const keys = endpoints.map((e) => `${e.address}:${e.port}`);

const policies: [string, LoadBalancerPolicy, new (...args: never[]) => Picker][] = [
  ['round robin', LoadBalancer.LOAD_BALANCER_ROUND_ROBIN, RoundRobinPicker],
  ['random', LoadBalancer.LOAD_BALANCER_RANDOM, RandomPicker],
  ['least request', LoadBalancer.LOAD_BALANCER_LEAST_REQUEST, LeastRequestPicker],
  ['ring hash', LoadBalancer.LOAD_BALANCER_RING_HASH, RingHashPicker],
  ['maglev', LoadBalancer.LOAD_BALANCER_MAGLEV, MaglevPicker],
];

describe.each(policies)('Picker contract: %s', (_name, policy, kind) => {
  const make = () => createPicker(policy, endpoints, { random: seeded(7) });

  it('is built by createPicker for its policy', () => {
    const picker = make();
    expect(picker).toBeInstanceOf(kind);
    expect(picker.size).toBe(5);
  });

  it('returns shared, frozen Target and result objects (allocation-free)', () => {
    const picker = make();
    const seen = new Map<string, { result: PickResult; target: Target }>();
    for (let i = 0; i < 500; i++) {
      const result = picker.pick(undefined, i % 3 === 0 ? undefined : Math.imul(i, 2654435761) >>> 0);
      const target = targetOf(result);
      const first = seen.get(target.key);
      if (first === undefined) seen.set(target.key, { result, target });
      else {
        expect(result).toBe(first.result);
        expect(target).toBe(first.target);
      }
      expect(Object.isFrozen(target)).toBe(true);
    }
    expect([...seen.keys()].sort()).toEqual(keys);
  });

  it('avoids excluded targets while others remain, with or without a hash', () => {
    const picker = make();
    const exclude = new Set(keys.slice(0, 4));
    for (let i = 0; i < 200; i++) {
      expect(targetOf(picker.pick(exclude, i % 2 === 0 ? undefined : i * 7919)).key).toBe(keys[4]);
    }
    const two = new Set([keys[0]!, keys[2]!]);
    const got = new Set<string>();
    for (let i = 0; i < 300; i++) got.add(targetOf(picker.pick(two, i % 2 === 0 ? undefined : Math.imul(i, 0x9e3779b1) >>> 0)).key);
    expect([...got].sort()).toEqual([keys[1], keys[3], keys[4]]);
  });

  it('still picks when every target is excluded; an empty set excludes nothing', () => {
    const picker = make();
    expect(keys).toContain(targetOf(picker.pick(new Set(keys), 12345)).key);
    expect(keys).toContain(targetOf(picker.pick(new Set(), 12345)).key);
  });

  it('refuses an empty endpoint list (FailPicker is for that)', () => {
    expect(() => createPicker(policy, [], { random: seeded(1) })).toThrow(/at least one endpoint/);
  });

  it('is deterministic given a seeded random source', () => {
    const run = () => { const picker = make(); return Array.from({ length: 50 }, () => targetOf(picker.pick()).key); };
    expect(run()).toEqual(run());
  });
});
