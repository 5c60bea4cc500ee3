import { describe, expect, it } from 'vitest';
import type { AttemptOutcome } from '../dataplane.js';
import { DEFAULT_OUTLIER_DETECTION, OutlierDetector, type OutlierChange, type OutlierDetectionConfig } from './outlier-detector.js';

function fakeClock(start = 0) {
  return { t: start, now() { return this.t; } };
}

const keys = (n: number) => Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}:8080`);
const A = '10.0.0.1:8080';
const B = '10.0.0.2:8080';
const C = '10.0.0.3:8080';

function setup(n: number, config: Partial<OutlierDetectionConfig> = {}) {
  const clock = fakeClock();
  const changes: OutlierChange[] = [];
  const detector = new OutlierDetector(clock, { config, onChange: (c) => changes.push(c) });
  detector.update(keys(n));
  return { clock, detector, changes };
}

function fail(detector: OutlierDetector, key: string, times: number, outcome: AttemptOutcome = 'http-5xx') {
  let last;
  for (let i = 0; i < times; i++) last = detector.record(key, outcome);
  return last;
}

describe('OutlierDetector', () => {
  it('has Skein defaults: 5 errors, 30 s base, 50 %, 300 s max, 10 s interval', () => {
    expect(new OutlierDetector(fakeClock()).config).toEqual(DEFAULT_OUTLIER_DETECTION);
    expect(DEFAULT_OUTLIER_DETECTION).toMatchObject({ consecutiveErrors: 5, baseEjectionMs: 30_000, maxEjectionPercent: 50, maxEjectionMs: 300_000 });
  });

  it('ejects at the 5th consecutive failure of any kind, for the base time', () => {
    const { detector, clock, changes } = setup(4);
    const outcomes: AttemptOutcome[] = ['http-5xx', 'connect-error', 'reset', 'timeout'];
    for (const outcome of outcomes) expect(detector.record(A, outcome)).toBe('counted');
    expect(detector.isEjected(A)).toBe(false);
    expect(detector.record(A, 'http-5xx')).toBe('ejected');
    expect(detector.isEjected(A)).toBe(true);
    expect(detector.ejected()).toEqual([A]);
    expect(detector.nextChangeAt()).toBe(30_000);
    expect(changes).toEqual([{ type: 'eject', targetKey: A, until: 30_000 }]);
    clock.t = 29_999;
    expect(detector.isEjected(A)).toBe(true);
  });

  it('resets the count on success', () => {
    const { detector } = setup(4);
    fail(detector, A, 4);
    detector.record(A, 'success');
    expect(fail(detector, A, 4)).toBe('counted');
    expect(detector.isEjected(A)).toBe(false);
    expect(detector.toJSON().endpoints.find((e) => e.key === A)?.consecutiveErrors).toBe(4);
  });

  it('returns an ejected endpoint lazily when its time passes, with its counter reset', () => {
    const { detector, clock, changes } = setup(4);
    fail(detector, A, 5);
    const version = detector.version;
    clock.t = 30_000;
    expect(detector.nextChangeAt()).toBeUndefined();
    expect(detector.isEjected(A)).toBe(false);
    expect(detector.version).toBe(version + 1);
    expect(changes.at(-1)).toEqual({ type: 'return', targetKey: A, at: 30_000 });
    expect(fail(detector, A, 4)).toBe('counted');
  });

  it('ignores failures while ejected and outcomes of unknown endpoints', () => {
    const { detector } = setup(4);
    fail(detector, A, 5);
    expect(detector.record(A, 'http-5xx')).toBe('ignored');
    expect(detector.record('10.9.9.9:80', 'http-5xx')).toBe('ignored');
    expect(detector.toJSON().endpoints.find((e) => e.key === A)).toMatchObject({ consecutiveErrors: 0, ejections: 1 });
  });

  it('grows the ejection time with each repeat: base x (times ejected before + 1), capped at max', () => {
    const { detector, clock } = setup(2, { maxEjectionMs: 100_000 });
    const durations: number[] = [];
    for (let i = 0; i < 6; i++) {
      fail(detector, A, 5);
      const until = detector.nextChangeAt()!;
      durations.push(until - clock.t);
      clock.t = until; // returns, then fails again at once
    }
    expect(durations).toEqual([30_000, 60_000, 90_000, 100_000, 100_000, 100_000]);
  });

  it('uses max(maxEjectionMs, baseEjectionMs) as the cap, as Envoy does', () => {
    const { detector } = setup(2, { baseEjectionMs: 60_000, maxEjectionMs: 10_000 });
    expect(detector.config.maxEjectionMs).toBe(60_000);
    fail(detector, A, 5);
    expect(detector.nextChangeAt()).toBe(60_000);
  });

  it('decays the multiplier by one per healthy interval after the endpoint returns', () => {
    const { detector, clock } = setup(2);
    fail(detector, A, 5); // multiplier 1, until 30 s
    clock.t = 30_000;
    fail(detector, A, 5); // multiplier 2, 60 s, until 90 s
    expect(detector.nextChangeAt()).toBe(90_000);
    clock.t = 90_000; // returns with multiplier 2
    expect(detector.toJSON().endpoints[0]!.ejectionMultiplier).toBe(2);
    clock.t = 99_999;
    expect(detector.toJSON().endpoints[0]!.ejectionMultiplier).toBe(2);
    clock.t = 100_000; // one interval healthy
    expect(detector.toJSON().endpoints[0]!.ejectionMultiplier).toBe(1);
    fail(detector, A, 5); // 1 + 1 = 2: 60 s again, not 90 s
    expect(detector.nextChangeAt()! - clock.t).toBe(60_000);
    clock.t = 160_000 + 50_000; // returned at 160 s, healthy for 5 intervals: fully decayed
    expect(detector.toJSON().endpoints[0]!.ejectionMultiplier).toBe(0);
    fail(detector, A, 5);
    expect(detector.nextChangeAt()! - clock.t).toBe(30_000);
  });

  it('stops growing the multiplier once base x multiplier reaches max + base', () => {
    const { detector, clock } = setup(2, { maxEjectionMs: 90_000 });
    for (let i = 0; i < 10; i++) {
      fail(detector, A, 5);
      clock.t = detector.nextChangeAt()!;
    }
    // 30 x 4 = 120 = max + base: the multiplier stays at 4, so decay back to base takes 3 intervals
    expect(detector.toJSON().endpoints[0]!.ejectionMultiplier).toBe(4);
    expect(detector.toJSON().endpoints[0]!.ejections).toBe(10);
  });

  it('respects max ejection percent counted after the ejection (Envoy #27909)', () => {
    // 50 % of 3: one may go (33 %), a second would make 67 %.
    const three = setup(3);
    expect(fail(three.detector, A, 5)).toBe('ejected');
    expect(fail(three.detector, B, 5)).toBe('overflow');
    expect(three.detector.ejected()).toEqual([A]);
    expect(three.detector.toJSON().ejectionsOverflow).toBe(1);
    // the overflow reset B's counter, as Envoy does: one more failure does not retry the ejection
    expect(three.detector.record(B, 'http-5xx')).toBe('counted');

    // 50 % of 4: two may go.
    const four = setup(4);
    for (const key of [A, B]) expect(fail(four.detector, key, 5)).toBe('ejected');
    expect(fail(four.detector, C, 5)).toBe('overflow');
    expect(four.detector.ejected()).toEqual([A, B]);
  });

  it('never ejects a lone endpoint at 50 % unless alwaysEjectOneHost', () => {
    expect(fail(setup(1).detector, A, 5)).toBe('overflow');
    const always = setup(1, { alwaysEjectOneHost: true });
    expect(fail(always.detector, A, 5)).toBe('ejected');
    const pair = setup(2, { alwaysEjectOneHost: true, maxEjectionPercent: 0 });
    expect(fail(pair.detector, A, 5)).toBe('ejected');
    expect(fail(pair.detector, B, 5)).toBe('overflow');
    const all = setup(2, { maxEjectionPercent: 100 });
    expect(fail(all.detector, A, 5)).toBe('ejected');
    expect(fail(all.detector, B, 5)).toBe('ejected');
  });

  it('frees an ejection slot when the ejected endpoint returns or leaves', () => {
    const { detector, clock } = setup(3);
    fail(detector, A, 5);
    expect(fail(detector, B, 5)).toBe('overflow');
    clock.t = 30_000;
    expect(fail(detector, B, 5)).toBe('ejected');
    detector.update([A, C, '10.0.0.4:8080']); // B left
    expect(detector.ejected()).toEqual([]);
    expect(detector.size).toBe(3);
    expect(fail(detector, C, 5)).toBe('ejected');
  });

  it('keeps the state of endpoints that stay in the set', () => {
    const { detector } = setup(4);
    fail(detector, A, 5);
    fail(detector, B, 3);
    detector.update([...keys(4), '10.0.0.9:8080']);
    expect(detector.isEjected(A)).toBe(true);
    expect(detector.toJSON().endpoints.find((e) => e.key === B)?.consecutiveErrors).toBe(3);
  });

  it('reports returns in order and the next change time for the owner timer', () => {
    const { detector, clock, changes } = setup(4);
    fail(detector, B, 5); // until 30 s
    clock.t = 10_000;
    fail(detector, A, 5); // until 40 s
    expect(detector.nextChangeAt()).toBe(30_000);
    clock.t = 35_000;
    expect(detector.nextChangeAt()).toBe(40_000);
    clock.t = 50_000;
    expect(detector.ejected()).toEqual([]);
    expect(changes.map((c) => `${c.type} ${c.targetKey}`)).toEqual([`eject ${B}`, `eject ${A}`, `return ${B}`, `return ${A}`]);
    expect(detector.version).toBe(4);
  });

  it('serializes per-endpoint state for /clusters', () => {
    const { detector, clock } = setup(2);
    fail(detector, A, 5);
    fail(detector, B, 2);
    clock.t = 1_000;
    expect(detector.toJSON()).toEqual({
      config: DEFAULT_OUTLIER_DETECTION,
      ejectionsOverflow: 0,
      endpoints: [
        { key: A, consecutiveErrors: 0, ejectedUntil: 30_000, ejectionMultiplier: 1, ejections: 1 },
        { key: B, consecutiveErrors: 2, ejectionMultiplier: 0, ejections: 0 },
      ],
    });
  });

  it('lists every tracked endpoint, fresh ones included, in the order first seen; a success forgets counted errors', () => {
    const { detector } = setup(3);
    fail(detector, B, 2);
    expect(detector.record(B, 'success')).toBe('counted');
    detector.update([C, '10.0.0.9:8080', A]);
    expect(detector.toJSON().endpoints).toEqual([A, C, '10.0.0.9:8080'].map((key) => ({ key, consecutiveErrors: 0, ejectionMultiplier: 0, ejections: 0 })));
    expect(detector.record(B, 'http-5xx')).toBe('ignored');
    // The decayed multiplier of a returned endpoint survives successes (its state is kept).
    const again = setup(4);
    fail(again.detector, A, 5);
    again.clock.t = 30_000;
    expect(again.detector.record(A, 'success')).toBe('counted');
    expect(again.detector.toJSON().endpoints[0]).toEqual({ key: A, consecutiveErrors: 0, ejectionMultiplier: 1, ejections: 1 });
  });

  it('keeps each detector\'s state its own (they start from shared empty tables)', () => {
    const one = setup(2);
    const two = setup(2);
    fail(one.detector, A, 5);
    fail(two.detector, B, 3);
    expect([one.detector.ejected(), two.detector.ejected()]).toEqual([[A], []]);
    expect(one.detector.toJSON().endpoints.map((e) => e.consecutiveErrors)).toEqual([0, 0]);
    expect(setup(2).detector.toJSON().endpoints.map((e) => [e.consecutiveErrors, e.ejections])).toEqual([[0, 0], [0, 0]]);
  });

  it('shares one config object among detectors with the same settings', () => {
    const clock = fakeClock();
    expect(new OutlierDetector(clock).config).toBe(new OutlierDetector(clock).config);
    const custom = new OutlierDetector(clock, { config: { consecutiveErrors: 3 } }).config;
    expect(new OutlierDetector(clock, { config: { consecutiveErrors: 3 } }).config).toBe(custom);
    expect(custom).not.toBe(new OutlierDetector(clock).config);
  });

  it('rejects invalid config at construction', () => {
    expect(() => new OutlierDetector(fakeClock(), { config: { consecutiveErrors: 0 } })).toThrow(/consecutiveErrors/);
    expect(() => new OutlierDetector(fakeClock(), { config: { maxEjectionPercent: 101 } })).toThrow(/maxEjectionPercent/);
    expect(() => new OutlierDetector(fakeClock(), { config: { baseEjectionMs: 0 } })).toThrow(/baseEjectionMs/);
  });
});
