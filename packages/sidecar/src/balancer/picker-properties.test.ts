// Property tests of the pickers (issue 4, "Done when"): consistent hashing moves ~1/N of keys
// when one of N endpoints comes or goes, and does not depend on endpoint order; least request
// favours the fast endpoint under skewed latency (a discrete-event simulation, no real time);
// every picker is deterministic given a seeded random source.
//
// fast-check runs with a fixed seed so that CI is reproducible: the bounds are statistical
// (with slack), and ring hash's order independence holds except on a 32-bit collision of two
// virtual nodes (~1 run in 2,000). Set FC_SEED to explore other inputs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LoadBalancer } from '@skein/protocol';
import type { Picker, PickResult, Target } from '../dataplane.js';
import { hashKey } from './hash-key.js';
import { LeastRequestPicker } from './least-request.js';
import { MaglevPicker } from './maglev.js';
import { createPicker, type LoadBalancerPolicy } from './picker-factory.js';
import { RingHashPicker } from './ring-hash.js';
import { makeTarget, type WeightedAddress } from './round-robin.js';
import { seeded } from './picker-test-kit.test-helper.js';

const SEED = process.env.FC_SEED === undefined ? 0x5ce1 : Number(process.env.FC_SEED);
const runs = (numRuns: number): fc.Parameters<unknown> => ({ seed: SEED, numRuns });

/** mulberry32: a small seeded generator of numbers in [0, 1). */
function targetOf(result: PickResult): Target {
  if (result.type !== 'pick') throw new Error(`expected a pick, got ${result.error.code}`);
  return result.target;
}

// --- arbitraries ----------------------------------------------------------------------------

const address = fc.oneof({ weight: 4, arbitrary: fc.ipV4() }, { weight: 1, arbitrary: fc.ipV6() });
const port = fc.integer({ min: 1, max: 65535 });
/** `min`..`max` endpoints with distinct addresses, weight 1. */
const endpointSet = (min: number, max: number) =>
  fc.tuple(fc.uniqueArray(address, { minLength: min, maxLength: max }), port)
    .map(([addresses, p]): WeightedAddress[] => addresses.map((a) => ({ address: a, port: p, weight: 1 })));
/** Enough distinct hash-key values that a fraction of 1/40 is measured with little noise. */
const keySet = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 24 }), { minLength: 1500, maxLength: 2500 });

/** An endpoint's target key ("[addr]:port" for IPv6). */
const keyOf = (e: WeightedAddress) => makeTarget(e.address, e.port).key;
/** The target key each hash-key value goes to. */
const assign = (picker: Picker, keys: readonly string[]) => keys.map((k) => targetOf(picker.pick(undefined, hashKey(k))).key);
const movedFraction = (a: readonly string[], b: readonly string[]) => a.filter((key, i) => key !== b[i]).length / a.length;

// --- consistent hashing ---------------------------------------------------------------------

type Build = (endpoints: readonly WeightedAddress[], previous?: Picker) => Picker;
const hashing: [string, Build, number][] = [
  // Built from `previous`, as the data plane does: the ring keeps its virtual-node density.
  ['ring hash', (e, previous) => new RingHashPicker(e, seeded(1), { previous: previous as RingHashPicker | undefined }), 2],
  // Maglev moves a little more than its own 1/N (the paper's figure 11); unit tests use < 2/N.
  ['maglev', (e) => new MaglevPicker(e, seeded(1)), 2.5],
];

describe.each(hashing)('consistent hashing properties: %s', (name, build, slack) => {
  it(`removing one of N endpoints moves < ${slack}/N of keys (N = 2..40)`, () => {
    fc.assert(fc.property(endpointSet(2, 40), keySet, fc.nat(), (endpoints, keys, which) => {
      const gone = which % endpoints.length;
      const before = build(endpoints);
      const after = build(endpoints.filter((_, i) => i !== gone), before);
      const a = assign(before, keys);
      const b = assign(after, keys);
      expect(movedFraction(a, b)).toBeLessThan(slack / endpoints.length);
      // Keys of the removed endpoint all moved (elsewhere: it is gone).
      const goneKey = keyOf(endpoints[gone]!);
      b.forEach((key) => expect(key).not.toBe(goneKey));
      // Ring hash: only the removed endpoint's keys moved.
      if (name === 'ring hash') a.forEach((key, i) => { if (key !== goneKey) expect(b[i]).toBe(key); });
    }), runs(25));
  });

  it(`adding one endpoint to N moves < ${slack}/(N+1) of keys (N = 2..40)`, () => {
    fc.assert(fc.property(endpointSet(3, 41), keySet, (endpoints, keys) => {
      const before = build(endpoints.slice(0, -1));
      const after = build(endpoints, before);
      const a = assign(before, keys);
      const b = assign(after, keys);
      expect(movedFraction(a, b)).toBeLessThan(slack / endpoints.length);
      // Ring hash: a key that moved went to the new endpoint.
      const addedKey = keyOf(endpoints.at(-1)!);
      if (name === 'ring hash') a.forEach((key, i) => { if (b[i] !== key) expect(b[i]).toBe(addedKey); });
    }), runs(25));
  });

  it('sends the same key to the same endpoint whatever the order of the endpoints', () => {
    fc.assert(fc.property(endpointSet(2, 40).chain((e) => fc.tuple(fc.constant(e), fc.shuffledSubarray(e, { minLength: e.length, maxLength: e.length }))),
      fc.uniqueArray(fc.string({ minLength: 0, maxLength: 32 }), { minLength: 1, maxLength: 300 }),
      ([endpoints, shuffled], keys) => {
        expect(assign(build(shuffled), keys)).toEqual(assign(build(endpoints), keys));
      }), runs(25));
  });
});

// --- least request under skewed latency -----------------------------------------------------

/** A binary min-heap of request completions, ordered by time. */
class Completions {
  private readonly times: number[] = [];
  private readonly targets: Target[] = [];
  get size(): number { return this.times.length; }
  peekTime(): number { return this.times[0] ?? Infinity; }
  push(time: number, target: Target): void {
    let i = this.times.length;
    this.times.push(time);
    this.targets.push(target);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.times[parent]! <= time) break;
      this.swap(i, parent);
      i = parent;
    }
  }
  pop(): Target {
    const top = this.targets[0]!;
    const lastTime = this.times.pop()!;
    const lastTarget = this.targets.pop()!;
    if (this.times.length > 0) {
      this.times[0] = lastTime;
      this.targets[0] = lastTarget;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.times.length && this.times[l]! < this.times[m]!) m = l;
        if (r < this.times.length && this.times[r]! < this.times[m]!) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
  private swap(a: number, b: number): void {
    [this.times[a], this.times[b]] = [this.times[b]!, this.times[a]!];
    [this.targets[a], this.targets[b]] = [this.targets[b]!, this.targets[a]!];
  }
}

/**
 * Poisson arrivals at `load` × (what the endpoints serve at the slow latency) per time unit;
 * each request is picked, `started`, and `finished` after its endpoint's service time
 * (exponential around the endpoint's mean; endpoints serve requests concurrently). Returns
 * the share of requests each endpoint got.
 */
function simulate(picker: LeastRequestPicker, meanLatency: readonly number[], load: number, requests: number, random: () => number): number[] {
  const index = new Map(picker.targets.map((t, i) => [t.key, i]));
  const slow = Math.max(...meanLatency);
  const arrivalRate = (load * meanLatency.length) / slow;
  const completions = new Completions();
  const got = new Array<number>(meanLatency.length).fill(0);
  let now = 0;
  for (let sent = 0; sent < requests; sent++) {
    now += -Math.log(1 - random()) / arrivalRate;
    while (completions.peekTime() <= now) picker.finished(completions.pop());
    const target = targetOf(picker.pick());
    const i = index.get(target.key)!;
    got[i]!++;
    picker.started(target);
    completions.push(now + -Math.log(1 - random()) * meanLatency[i]!, target);
  }
  while (completions.size > 0) picker.finished(completions.pop());
  for (const t of picker.targets) expect(picker.outstandingOf(t.key)).toBe(0);
  return got.map((g) => g / requests);
}

describe('least request properties', () => {
  it('favours the fast endpoint under skewed latency', () => {
    fc.assert(fc.property(
      endpointSet(2, 10), fc.nat(), fc.integer({ min: 5, max: 50 }), fc.double({ min: 1, max: 4, noNaN: true }), fc.integer({ min: 1, max: 0x7fffffff }),
      (endpoints, which, skew, load, seed) => {
        const fast = which % endpoints.length;
        const latency = endpoints.map((_, i) => (i === fast ? 1 : skew));
        const shares = simulate(new LeastRequestPicker(endpoints, seeded(seed)), latency, load, 6000, seeded(seed ^ 0x2545f491));
        const n = endpoints.length;
        // Uniform would be 1/N each. Over 300 explored cases the fast endpoint got at least
        // 1.39/N and 1.51× the busiest slow one; the bounds leave slack for noise.
        expect(shares[fast]!).toBeGreaterThan(1.2 / n);
        for (let i = 0; i < n; i++) if (i !== fast) expect(shares[fast]!).toBeGreaterThan(1.25 * shares[i]!);
      }), runs(30));
  });
});

// --- determinism ----------------------------------------------------------------------------

const policies: [string, LoadBalancerPolicy][] = [
  ['round robin', LoadBalancer.LOAD_BALANCER_ROUND_ROBIN],
  ['random', LoadBalancer.LOAD_BALANCER_RANDOM],
  ['least request', LoadBalancer.LOAD_BALANCER_LEAST_REQUEST],
  ['ring hash (no hash: random point)', LoadBalancer.LOAD_BALANCER_RING_HASH],
  ['maglev (no hash: random slot)', LoadBalancer.LOAD_BALANCER_MAGLEV],
];

/** One step of a request sequence: pick (maybe excluding some targets), and for least request maybe send or finish. */
const step = fc.record({ exclude: fc.nat({ max: 3 }), send: fc.boolean(), finish: fc.nat({ max: 4 }) });

describe.each(policies)('determinism: %s', (_name, policy) => {
  it('two pickers built with the same seed make the same picks', () => {
    const weighted = endpointSet(1, 30).chain((e) => fc.array(fc.integer({ min: 1, max: 5 }), { minLength: e.length, maxLength: e.length })
      .map((weights) => e.map((x, i) => ({ ...x, weight: weights[i]! }))));
    fc.assert(fc.property(fc.oneof(endpointSet(1, 30), weighted), fc.integer(), fc.array(step, { minLength: 1, maxLength: 200 }), (endpoints, seed, steps) => {
      const run = () => {
        const picker = createPicker(policy, endpoints, { random: seeded(seed) });
        const counter = picker instanceof LeastRequestPicker ? picker : undefined;
        const inFlight: Target[] = [];
        const keys = endpoints.map(keyOf);
        return steps.map(({ exclude, send, finish }) => {
          const target = targetOf(picker.pick(exclude === 0 ? undefined : new Set(keys.slice(0, exclude))));
          if (counter !== undefined) {
            if (send) { counter.started(target); inFlight.push(target); }
            if (finish < inFlight.length) counter.finished(inFlight.splice(finish, 1)[0]!);
          }
          return target.key;
        });
      };
      expect(run()).toEqual(run());
    }), runs(40));
  });
});
