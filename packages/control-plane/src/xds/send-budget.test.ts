import { describe, expect, it } from 'vitest';
import type { Clock } from '../snapshot/publisher.js';
import { SendBudget, type SendGrant } from './send-budget.js';

/** Timers that fire only when the test says so. */
function manualClock() {
  let time = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let ids = 0;
  const clock: Clock = {
    now: () => time,
    setTimeout: (fn, ms) => (timers.set(++ids, { at: time + ms, fn }), ids),
    clearTimeout: (id) => void timers.delete(id as number),
  };
  const advance = (ms: number) => {
    time += ms;
    for (const [id, t] of [...timers]) if (t.at <= time && timers.delete(id)) t.fn();
  };
  return { clock, advance, timers };
}

const KB = 1024;

function setup() {
  const { clock, advance, timers } = manualClock();
  const budget = new SendBudget({ maxBytes: 100 * KB, smallBytes: 10 * KB, holdLimitMs: 5000, clock });
  const granted: string[] = [];
  const grants = new Map<string, SendGrant>();
  const wait = (name: string, bytes: number) => budget.enqueue(bytes, (g) => {
    granted.push(name);
    grants.set(name, g);
  });
  return { budget, advance, timers, granted, grants, wait };
}

describe('SendBudget', () => {
  it('lets small responses through uncounted, whatever is in flight', () => {
    const t = setup();
    const big = t.budget.tryAcquire(100 * KB)!;
    expect(t.budget.inFlight).toBe(100 * KB);
    expect(t.budget.tryAcquire(9 * KB)).toMatchObject({ counted: false });
    t.wait('queued', 50 * KB);
    expect(t.budget.tryAcquire(1 * KB)).toBeDefined();
    expect(t.budget.inFlight).toBe(100 * KB);
    big.release();
    expect(t.granted).toEqual(['queued']);
  });

  it('counts large responses up to the bound; one larger than the bound goes alone', () => {
    const t = setup();
    const a = t.budget.tryAcquire(60 * KB)!;
    expect(a.counted).toBe(true);
    expect(t.budget.tryAcquire(50 * KB)).toBeUndefined();
    const b = t.budget.tryAcquire(40 * KB)!;
    expect(t.budget.inFlight).toBe(100 * KB);
    a.release();
    b.release();
    expect(t.budget.inFlight).toBe(0);
    const huge = t.budget.tryAcquire(500 * KB)!;
    expect(t.budget.tryAcquire(20 * KB)).toBeUndefined();
    huge.release();
    expect(t.budget.tryAcquire(20 * KB)).toBeDefined();
  });

  it('grants waiters in arrival order as room frees, and nobody jumps the line', () => {
    const t = setup();
    const a = t.budget.tryAcquire(80 * KB)!;
    t.wait('first', 50 * KB);
    t.wait('second', 20 * KB);
    // It would fit, but two streams wait before it.
    expect(t.budget.tryAcquire(15 * KB)).toBeUndefined();
    expect(t.budget.waiting).toBe(2);
    a.release();
    expect(t.granted).toEqual(['first', 'second']);
    expect(t.budget.inFlight).toBe(70 * KB);
    expect(t.budget.waiting).toBe(0);
  });

  it('releases once: a second release changes nothing', () => {
    const t = setup();
    const a = t.budget.tryAcquire(30 * KB)!;
    const b = t.budget.tryAcquire(30 * KB)!;
    a.release();
    a.release();
    expect(t.budget.inFlight).toBe(30 * KB);
    b.release();
    expect(t.budget.inFlight).toBe(0);
    expect(t.timers.size).toBe(0);
  });

  it('forgets a waiter that left the line', () => {
    const t = setup();
    const a = t.budget.tryAcquire(100 * KB)!;
    const leave = t.wait('gone', 50 * KB);
    t.wait('stays', 50 * KB);
    leave();
    a.release();
    expect(t.granted).toEqual(['stays']);
  });

  it('stops counting a grant held past the limit (a client that stopped reading)', () => {
    const t = setup();
    const stuck = t.budget.tryAcquire(100 * KB)!;
    t.wait('next', 50 * KB);
    t.advance(4999);
    expect(t.granted).toEqual([]);
    t.advance(1);
    expect(t.granted).toEqual(['next']);
    stuck.release(); // late: already forgotten
    expect(t.budget.inFlight).toBe(50 * KB);
  });

  it('handles a release from inside a grant without granting twice', () => {
    const t = setup();
    const a = t.budget.tryAcquire(100 * KB)!;
    // The first waiter's stream has ended meanwhile: it gives its grant straight back.
    t.budget.enqueue(60 * KB, (g) => {
      t.granted.push('ended');
      g.release();
    });
    t.wait('w2', 60 * KB);
    t.wait('w3', 60 * KB);
    a.release();
    expect(t.granted).toEqual(['ended', 'w2']);
    expect(t.budget.inFlight).toBe(60 * KB);
    t.grants.get('w2')!.release();
    expect(t.granted).toEqual(['ended', 'w2', 'w3']);
  });
});
