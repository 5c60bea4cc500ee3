import { describe, expect, it } from 'vitest';
import type { Target } from '../dataplane.js';
import { makeTarget } from './round-robin.js';
import { ClientIpAffinity, DEFAULT_AFFINITY_MAX_ENTRIES, normalizeClientIp } from './session-affinity.js';

function fakeClock(start = 1_000_000) {
  return { t: start, now() { return this.t; } };
}

const a = makeTarget('10.0.0.1', 8080);
const b = makeTarget('10.0.0.2', 8080);
const c = makeTarget('10.0.0.3', 8080);

/** The flow the dataplane runs per connection: lookup, else pick and remember. */
function route(table: ClientIpAffinity, clientIp: string, usable: ReadonlySet<string>, pick: () => Target): Target {
  const hit = table.lookup(clientIp, (key) => usable.has(key));
  if (hit !== undefined) return hit;
  const chosen = pick();
  table.remember(clientIp, chosen);
  return chosen;
}

function rotation(...targets: Target[]): () => Target {
  let i = 0;
  return () => targets[i++ % targets.length]!;
}

describe('ClientIpAffinity', () => {
  it('sends the same client to the same endpoint while a picker would rotate', () => {
    const clock = fakeClock();
    const table = new ClientIpAffinity(clock);
    const usable = new Set([a.key, b.key, c.key]);
    const pick = rotation(a, b, c);
    const first = route(table, '192.168.1.10', usable, pick);
    for (let i = 0; i < 10; i++) {
      clock.t += 1000;
      expect(route(table, '192.168.1.10', usable, pick)).toBe(first);
    }
    expect(route(table, '192.168.1.11', usable, pick)).not.toBe(first);
    expect(table.size).toBe(2);
  });

  it('defaults to 10800 s and rejects timeouts outside 1..86400', () => {
    const clock = fakeClock();
    expect(new ClientIpAffinity(clock).timeoutMs).toBe(10_800_000);
    expect(new ClientIpAffinity(clock, { timeoutSeconds: 0 }).timeoutMs).toBe(10_800_000);
    expect(new ClientIpAffinity(clock, { timeoutSeconds: 86_400 }).timeoutMs).toBe(86_400_000);
    expect(new ClientIpAffinity(clock).maxEntries).toBe(DEFAULT_AFFINITY_MAX_ENTRIES);
    expect(() => new ClientIpAffinity(clock, { timeoutSeconds: 86_401 })).toThrow(/timeoutSeconds/);
    expect(() => new ClientIpAffinity(clock, { timeoutSeconds: 1.5 })).toThrow(/timeoutSeconds/);
    expect(() => new ClientIpAffinity(clock, { maxEntries: 0 })).toThrow(/maxEntries/);
  });

  it('expires an entry idle for the timeout; each hit restarts the idle clock', () => {
    const clock = fakeClock();
    const table = new ClientIpAffinity(clock, { timeoutSeconds: 10 });
    const all = () => true;
    table.remember('192.168.1.10', a);
    clock.t += 9_999;
    expect(table.lookup('192.168.1.10', all)).toBe(a);
    clock.t += 9_999; // idle 9.999 s since the hit, 19.998 s since remember
    expect(table.lookup('192.168.1.10', all)).toBe(a);
    clock.t += 10_000; // idle exactly the timeout: gone
    expect(table.lookup('192.168.1.10', all)).toBeUndefined();
    expect(table.size).toBe(0);
  });

  it('re-picks when the remembered endpoint is no longer usable, and sticks to the new one', () => {
    const clock = fakeClock();
    const table = new ClientIpAffinity(clock);
    const usable = new Set([a.key, b.key]);
    expect(route(table, '192.168.1.10', usable, () => a)).toBe(a);
    usable.delete(a.key); // a left the eligible set, or was ejected
    expect(route(table, '192.168.1.10', usable, () => b)).toBe(b);
    usable.add(a.key); // a comes back: the client stays on b
    expect(route(table, '192.168.1.10', usable, () => a)).toBe(b);
  });

  it('keeps every mapping across a scale-up', () => {
    const clock = fakeClock();
    const table = new ClientIpAffinity(clock);
    const usable = new Set([a.key, b.key]);
    const pick = rotation(a, b);
    const clients = Array.from({ length: 50 }, (_, i) => `192.168.0.${i}`);
    const before = clients.map((ip) => route(table, ip, usable, pick));
    usable.add(c.key);
    const afterPick = rotation(c);
    clock.t += 60_000;
    expect(clients.map((ip) => route(table, ip, usable, afterPick))).toEqual(before);
    expect(route(table, '192.168.9.9', usable, afterPick)).toBe(c);
  });

  it('forget drops only the entries of an endpoint that left', () => {
    const clock = fakeClock();
    const table = new ClientIpAffinity(clock);
    table.remember('192.168.1.1', a);
    table.remember('192.168.1.2', a);
    table.remember('192.168.1.3', b);
    expect(table.forget(a.key)).toBe(2);
    expect(table.forget(a.key)).toBe(0);
    expect(table.size).toBe(1);
    expect(table.lookup('192.168.1.1', () => true)).toBeUndefined();
    expect(table.lookup('192.168.1.3', () => true)).toBe(b);
  });

  it('re-remembering a client moves it to the new endpoint', () => {
    const table = new ClientIpAffinity(fakeClock());
    table.remember('192.168.1.1', a);
    table.remember('192.168.1.1', b);
    expect(table.size).toBe(1);
    expect(table.forget(a.key)).toBe(0);
    expect(table.lookup('192.168.1.1', () => true)).toBe(b);
  });

  it('is bounded: a full table evicts the least recently used client', () => {
    const clock = fakeClock();
    const table = new ClientIpAffinity(clock, { maxEntries: 3 });
    table.remember('10.1.0.1', a);
    clock.t += 1;
    table.remember('10.1.0.2', b);
    clock.t += 1;
    table.remember('10.1.0.3', c);
    clock.t += 1;
    expect(table.lookup('10.1.0.1', () => true)).toBe(a); // now the most recently used
    table.remember('10.1.0.4', a); // evicts 10.1.0.2, the oldest
    expect(table.size).toBe(3);
    expect(table.lookup('10.1.0.2', () => true)).toBeUndefined();
    expect(table.lookup('10.1.0.1', () => true)).toBe(a);
    expect(table.lookup('10.1.0.3', () => true)).toBe(c);
    expect(table.forget(b.key)).toBe(0); // the reverse index followed the eviction
  });

  it('sets no timers: expiry is lazy, and sweep drops expired entries oldest first', () => {
    const clock = fakeClock(0);
    const table = new ClientIpAffinity(clock, { timeoutSeconds: 10 });
    for (let i = 0; i < 5; i++) {
      table.remember(`10.2.0.${i}`, i % 2 === 0 ? a : b);
      clock.t += 1_000;
    }
    // entries were seen at 0, 1, 2, 3, 4 s; at 12.5 s the first three are expired
    expect(table.size).toBe(5);
    expect(table.sweep(12_500)).toBe(3);
    expect(table.size).toBe(2);
    expect(table.forget(a.key)).toBe(1); // only 10.2.0.4 was left on a
    expect(table.sweep(100_000)).toBe(1);
    expect(table.size).toBe(0);
  });

  it('treats an IPv4-mapped IPv6 client address as the IPv4 client', () => {
    const table = new ClientIpAffinity(fakeClock());
    table.remember('::ffff:192.168.1.10', a);
    expect(table.lookup('192.168.1.10', () => true)).toBe(a);
    expect(normalizeClientIp('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(normalizeClientIp('fd00::1')).toBe('fd00::1');
    expect(normalizeClientIp('::ffff:abcd')).toBe('::ffff:abcd');
  });

  it('peek answers as lookup would without refreshing or dropping the entry', () => {
    const clock = fakeClock();
    const table = new ClientIpAffinity(clock, { timeoutSeconds: 10 });
    table.remember('192.168.1.10', a);
    clock.t += 9_000;
    expect(table.peek('::ffff:192.168.1.10', () => true)).toBe(a);
    expect(table.peek('192.168.1.10', (key) => key !== a.key)).toBeUndefined();
    expect(table.size).toBe(1); // not dropped for being unusable
    clock.t += 1_000; // a lookup would have refreshed the entry; a peek did not
    expect(table.peek('192.168.1.10', () => true)).toBeUndefined();
    expect(table.peek('192.168.1.99', () => true)).toBeUndefined();
  });

  it('clear forgets everything', () => {
    const table = new ClientIpAffinity(fakeClock());
    table.remember('10.0.0.9', a);
    table.clear();
    expect(table.size).toBe(0);
    expect(table.forget(a.key)).toBe(0);
  });
});
