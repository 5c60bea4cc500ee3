import { describe, expect, it } from 'vitest';
import { applyPanicThreshold } from './panic-threshold.js';

const endpoints = ['a', 'b', 'c', 'd'];
const healthyOf = (...ok: string[]) => (e: string) => ok.includes(e);

describe('applyPanicThreshold', () => {
  it('returns the same array when every endpoint is healthy', () => {
    const result = applyPanicThreshold(endpoints, () => true);
    expect(result).toEqual({ type: 'healthy', endpoints, excluded: 0 });
    expect(result.endpoints).toBe(endpoints);
  });

  it('drops unhealthy endpoints while at least the threshold are healthy (50 % is not panic)', () => {
    expect(applyPanicThreshold(endpoints, healthyOf('a', 'b', 'c'))).toEqual({ type: 'healthy', endpoints: ['a', 'b', 'c'], excluded: 1 });
    expect(applyPanicThreshold(endpoints, healthyOf('a', 'b'))).toEqual({ type: 'healthy', endpoints: ['a', 'b'], excluded: 2 });
  });

  it('panics below the threshold: every endpoint, health ignored', () => {
    expect(applyPanicThreshold(endpoints, healthyOf('a'))).toEqual({ type: 'panic', endpoints, healthy: 1 });
    expect(applyPanicThreshold(endpoints, () => false)).toEqual({ type: 'panic', endpoints, healthy: 0 });
    expect(applyPanicThreshold(endpoints, healthyOf('a', 'b', 'c'), 80)).toMatchObject({ type: 'panic', healthy: 3 });
  });

  it('never panics with threshold 0: all unhealthy leaves nothing', () => {
    expect(applyPanicThreshold(endpoints, () => false, 0)).toEqual({ type: 'healthy', endpoints: [], excluded: 4 });
  });

  it('handles an empty set', () => {
    expect(applyPanicThreshold([], () => false)).toEqual({ type: 'healthy', endpoints: [], excluded: 0 });
  });
});
