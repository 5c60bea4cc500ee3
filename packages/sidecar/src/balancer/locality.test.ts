import { describe, expect, it } from 'vitest';
import type { Picker, PickResult, Target } from '../dataplane.js';
import { localityTierOf, priorityLoads, PriorityPicker } from './locality.js';
import { makeTarget, RoundRobinPicker } from './round-robin.js';

describe('localityTierOf', () => {
  const self = { nodeName: 'node-a', zone: 'zone-a', region: 'r1' };
  it('orders node > zone > region > rest', () => {
    expect(localityTierOf({ nodeName: 'node-a', zone: 'zone-a', region: 'r1' }, self)).toBe('node');
    expect(localityTierOf({ nodeName: 'node-b', zone: 'zone-a', region: 'r1' }, self)).toBe('zone');
    expect(localityTierOf({ nodeName: 'node-c', zone: 'zone-b', region: 'r1' }, self)).toBe('region');
    expect(localityTierOf({ nodeName: 'node-d', zone: 'zone-c', region: 'r2' }, self)).toBe('rest');
    expect(localityTierOf({ zone: 'zone-a' }, {})).toBe('rest');
  });
});

describe('priorityLoads (Envoy, overprovisioning 1.4)', () => {
  it.each([
    // [healthy of 4 local, healthy of 2 remote] -> loads
    [4, 2, [100, 0]],
    [3, 2, [100, 0]], // 75% * 1.4 = 105 -> 100
    [2, 2, [70, 30]], // 50% * 1.4 = 70
    [1, 2, [35, 65]],
    [0, 2, [0, 100]],
  ])('%i/4 local healthy, %i/2 remote -> %j', (local, remote, loads) => {
    expect(priorityLoads([{ total: 4, healthy: local }, { total: 2, healthy: remote }]).loads).toEqual(loads);
  });

  it('normalizes when the total availability is below 100', () => {
    // 1/4 -> 35, 1/2 -> 70: total 100 exactly.
    expect(priorityLoads([{ total: 4, healthy: 1 }, { total: 2, healthy: 1 }]).loads).toEqual([35, 65]);
    // 1/4 -> 35, 1/4 -> 35: total 70, normalized 50/50; each tier below 50% healthy is in panic.
    const r = priorityLoads([{ total: 4, healthy: 1 }, { total: 4, healthy: 1 }]);
    expect(r.loads).toEqual([50, 50]);
    expect(r.panic).toEqual([true, true]);
    expect(r.totalPanic).toBe(false);
  });

  it('total panic below the threshold: load by endpoint count, health ignored', () => {
    const r = priorityLoads([{ total: 2, healthy: 0 }, { total: 6, healthy: 1 }]);
    expect(r.totalPanic).toBe(true);
    expect(r.loads).toEqual([25, 75]);
    expect(priorityLoads([{ total: 2, healthy: 0 }, { total: 1, healthy: 0 }]).loads).toEqual([100, 0]);
  });

  it('one priority: panic below 50% healthy', () => {
    expect(priorityLoads([{ total: 4, healthy: 2 }]).panic).toEqual([false]);
    expect(priorityLoads([{ total: 4, healthy: 1 }]).panic).toEqual([true]);
  });
});

describe('PriorityPicker', () => {
  const rr = (...addresses: string[]): Picker => new RoundRobinPicker(addresses.map((address) => ({ address, port: 80, weight: 1 })), () => 0);

  it('splits first picks by load with the injected random', () => {
    let r = 0;
    const picker = new PriorityPicker([rr('10.0.0.1'), rr('10.0.0.2')], [70, 30], () => r);
    const counts = new Map<string, number>();
    for (let i = 0; i < 100; i++) {
      r = i / 100;
      const picked = picker.pick() as Extract<PickResult, { type: 'pick' }>;
      counts.set(picked.target.address, (counts.get(picked.target.address) ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({ '10.0.0.1': 70, '10.0.0.2': 30 });
    expect(picker.size).toBe(2);
    expect((picker.targets as Target[]).map((t) => t.key)).toEqual(['10.0.0.1:80', '10.0.0.2:80']);
  });

  it('a retry falls through to a priority with no load when the chosen one is all excluded', () => {
    const picker = new PriorityPicker([rr('10.0.0.1', '10.0.0.2'), rr('10.0.0.3')], [100, 0], () => 0.5);
    expect(picker.pick(new Set(['10.0.0.1:80']))).toMatchObject({ target: { address: '10.0.0.2' } });
    expect(picker.pick(new Set(['10.0.0.1:80', '10.0.0.2:80']))).toMatchObject({ target: makeTarget('10.0.0.3', 80) });
  });
});
