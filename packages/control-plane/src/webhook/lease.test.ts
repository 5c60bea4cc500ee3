import { describe, expect, it } from 'vitest';
import { decideLease, microTime, nextLeaseSpec, type LeaseSpec } from './lease.js';

const T0 = Date.parse('2025-06-01T12:00:00Z');

describe('decideLease', () => {
  it('creates a missing Lease and renews its own', () => {
    expect(decideLease(undefined, 'a', T0, undefined).decision).toEqual({ type: 'create' });
    const mine: LeaseSpec = { holderIdentity: 'a', leaseDurationSeconds: 15, renewTime: microTime(T0 - 60_000) };
    expect(decideLease(mine, 'a', T0, undefined).decision).toEqual({ type: 'renew' });
  });

  it('takes over a released Lease at once', () => {
    expect(decideLease({ holderIdentity: '' }, 'b', T0, undefined).decision).toEqual({ type: 'take-over', previousHolder: '' });
    expect(decideLease({}, 'b', T0, undefined).decision.type).toBe('take-over');
  });

  it('waits while the holder renews, judged by when this replica saw the record change', () => {
    // renewTime far in the past by our clock (skew): still held, since we only just saw it.
    const held: LeaseSpec = { holderIdentity: 'a', leaseDurationSeconds: 15, renewTime: microTime(T0 - 3_600_000) };
    const first = decideLease(held, 'b', T0, undefined);
    expect(first.decision).toEqual({ type: 'wait', holder: 'a', expiresAt: T0 + 15_000 });
    // The holder renews: the expiry moves with the new observation.
    const renewed = { ...held, renewTime: microTime(T0 + 10_000) };
    const second = decideLease(renewed, 'b', T0 + 10_000, first.observation);
    expect(second.decision).toEqual({ type: 'wait', holder: 'a', expiresAt: T0 + 25_000 });
    // No renewal for the lease duration: expired.
    expect(decideLease(renewed, 'b', T0 + 24_999, second.observation).decision.type).toBe('wait');
    expect(decideLease(renewed, 'b', T0 + 25_000, second.observation).decision).toEqual({ type: 'take-over', previousHolder: 'a' });
  });
});

describe('nextLeaseSpec', () => {
  it('writes holder, times and transitions as the API server expects', () => {
    expect(microTime(T0 + 123)).toBe('2025-06-01T12:00:00.123000Z');
    expect(nextLeaseSpec({ type: 'create' }, undefined, 'a', T0)).toEqual({
      holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: '2025-06-01T12:00:00.000000Z', renewTime: '2025-06-01T12:00:00.000000Z', leaseTransitions: 0,
    });
    const held = nextLeaseSpec({ type: 'create' }, undefined, 'a', T0);
    expect(nextLeaseSpec({ type: 'renew' }, held, 'a', T0 + 5000)).toEqual({ ...held, renewTime: '2025-06-01T12:00:05.000000Z' });
    expect(nextLeaseSpec({ type: 'take-over', previousHolder: 'a' }, held, 'b', T0 + 30_000)).toMatchObject({
      holderIdentity: 'b', acquireTime: '2025-06-01T12:00:30.000000Z', leaseTransitions: 1,
    });
  });
});
