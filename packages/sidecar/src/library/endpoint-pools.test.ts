// EndpointPools' bookkeeping: one pool per endpoint, kept while some name the app used still
// leads to it, closed when none does, and a new one when the endpoint comes back.
import { afterEach, describe, expect, it } from 'vitest';
import type { Target } from '../dataplane.js';
import { EndpointPools } from './endpoint-pools.js';

const target: Target = { address: '127.0.0.51', port: 8080, key: '127.0.0.51:8080' };
let pools: EndpointPools;
afterEach(() => pools.close());

describe('EndpointPools', () => {
  it('keeps one pool per endpoint and protocol, whichever name reached it', () => {
    pools = new EndpointPools();
    const first = pools.forTarget('http:', target, 'web.demo', 80);
    expect(pools.forTarget('http:', target, 'web.demo', 80)).toBe(first);
    expect(pools.forTarget('http:', target, 'www.demo', 80)).toBe(first);
    expect(pools.forTarget('https:', target, 'web.demo', 443)).not.toBe(first);
    expect(pools.keys()).toEqual(['http://127.0.0.51:8080', 'https://127.0.0.51:8080']);
  });

  it('keeps a pool while a name still wants it, even a name that was dropped once and came back', () => {
    pools = new EndpointPools();
    pools.forTarget('http:', target, 'b.demo', 80);
    const pool = pools.forTarget('http:', target, 'a.demo', 80);
    pools.sweep((host) => host === 'b.demo'); // a.demo no longer leads here
    pools.forTarget('http:', target, 'a.demo', 80); // ... and then it does again
    pools.sweep((host) => host === 'a.demo');
    expect(pools.keys()).toEqual(['http://127.0.0.51:8080']);
    expect(pools.forTarget('http:', target, 'a.demo', 80)).toBe(pool);
  });

  it('closes the pool no name wants, and opens a new one when the endpoint is used again', () => {
    pools = new EndpointPools();
    const pool = pools.forTarget('http:', target, 'web.demo', 80);
    pools.sweep(() => false);
    expect(pools.keys()).toEqual([]);
    const again = pools.forTarget('http:', target, 'web.demo', 80);
    expect(again).not.toBe(pool);
    expect(pools.keys()).toEqual(['http://127.0.0.51:8080']);
  });
});
