import { LoadBalancer } from '@skein/protocol';
import { describe, expect, it } from 'vitest';
import { DEFAULT_OUTLIER_DETECTION, parseDuration, parseMeshPolicy } from './annotations.js';

const noTd = { trafficDistribution: false };

function policyOf(annotations: Record<string, string>, context = noTd) {
  const result = parseMeshPolicy(annotations, context);
  if (!result.ok) throw new Error(result.reasons.join('; '));
  return result.policy;
}

function reasonsOf(annotations: Record<string, string>): string[] {
  const result = parseMeshPolicy(annotations, noTd);
  return result.ok ? [] : result.reasons;
}

describe('parseMeshPolicy defaults', () => {
  it('fills every default when there are no annotations', () => {
    expect(policyOf({})).toEqual({
      loadBalancer: LoadBalancer.LOAD_BALANCER_ROUND_ROBIN,
      hashKey: { sourceIp: true },
      localityFailover: false,
      outlierDetection: { enabled: true, consecutiveErrors: 5, baseEjectionMs: 30_000, maxEjectionPercent: 50 },
    });
    expect(parseMeshPolicy(undefined, noTd).ok).toBe(true);
  });

  it('turns locality failover on when the Service sets trafficDistribution, unless the annotation says false', () => {
    expect(policyOf({}, { trafficDistribution: true }).localityFailover).toBe(true);
    expect(policyOf({ 'skein.io/locality-failover': 'false' }, { trafficDistribution: true }).localityFailover).toBe(false);
  });

  it('ignores annotations outside skein.io/', () => {
    expect(policyOf({ 'example.com/x': 'y', 'sidecar.skein.io/other': 'z' })).toEqual(policyOf({}));
  });
});

describe('parseMeshPolicy accepts', () => {
  it.each([
    ['skein.io/load-balancer', 'round-robin', { loadBalancer: LoadBalancer.LOAD_BALANCER_ROUND_ROBIN }],
    ['skein.io/load-balancer', 'random', { loadBalancer: LoadBalancer.LOAD_BALANCER_RANDOM }],
    ['skein.io/load-balancer', 'least-request', { loadBalancer: LoadBalancer.LOAD_BALANCER_LEAST_REQUEST }],
    ['skein.io/load-balancer', 'ring-hash', { loadBalancer: LoadBalancer.LOAD_BALANCER_RING_HASH }],
    ['skein.io/load-balancer', 'maglev', { loadBalancer: LoadBalancer.LOAD_BALANCER_MAGLEV }],
    ['skein.io/hash-key', 'source-ip', { hashKey: { sourceIp: true } }],
    ['skein.io/hash-key', 'header:X-User-ID', { hashKey: { header: 'x-user-id' } }],
    ['skein.io/hash-key', 'cookie:Session', { hashKey: { cookie: 'Session' } }],
    ['skein.io/locality-failover', 'true', { localityFailover: true }],
    ['skein.io/locality-failover', 'false', { localityFailover: false }],
    ['skein.io/retries', '0', { retries: 0 }],
    ['skein.io/retries', '3', { retries: 3 }],
    ['skein.io/retries', '10', { retries: 10 }],
    ['skein.io/timeout', '250ms', { timeoutMs: 250 }],
    ['skein.io/timeout', '2s', { timeoutMs: 2000 }],
    ['skein.io/timeout', '1.5s', { timeoutMs: 1500 }],
    ['skein.io/timeout', '1m', { timeoutMs: 60_000 }],
    ['skein.io/timeout', '1m30s', { timeoutMs: 90_000 }],
    ['skein.io/timeout', '1h', { timeoutMs: 3_600_000 }],
    ['skein.io/outlier-detection', 'off', { outlierDetection: { enabled: false, consecutiveErrors: 0, baseEjectionMs: 0, maxEjectionPercent: 0 } }],
    ['skein.io/outlier-detection', 'consecutive=3', { outlierDetection: { ...DEFAULT_OUTLIER_DETECTION, consecutiveErrors: 3 } }],
    ['skein.io/outlier-detection', 'ejection=10s, max-percent=0', { outlierDetection: { ...DEFAULT_OUTLIER_DETECTION, baseEjectionMs: 10_000, maxEjectionPercent: 0 } }],
    ['skein.io/outlier-detection', 'consecutive=7,ejection=1m,max-percent=100', { outlierDetection: { enabled: true, consecutiveErrors: 7, baseEjectionMs: 60_000, maxEjectionPercent: 100 } }],
  ])('%s: %s', (key, value, expected) => {
    expect(policyOf({ [key]: value })).toMatchObject(expected);
  });

  it('accepts a hash key with a balancer that does not hash (harmless)', () => {
    expect(policyOf({ 'skein.io/load-balancer': 'random', 'skein.io/hash-key': 'header:x' }).hashKey).toEqual({ header: 'x' });
  });
});

describe('parseMeshPolicy rejects', () => {
  it.each([
    ['skein.io/load-balancer', 'fastest', 'annotation skein.io/load-balancer: "fastest" is not one of round-robin, random, least-request, ring-hash, maglev'],
    ['skein.io/load-balancer', 'Round-Robin', 'is not one of'],
    ['skein.io/hash-key', 'header:', 'names no valid header'],
    ['skein.io/hash-key', 'header:x user', 'names no valid header'],
    ['skein.io/hash-key', 'cookie:a;b', 'names no valid cookie'],
    ['skein.io/hash-key', 'header', 'is not header:<name>, cookie:<name> or source-ip'],
    ['skein.io/hash-key', 'query:x', 'is not header:<name>'],
    ['skein.io/locality-failover', 'yes', 'is not "true" or "false"'],
    ['skein.io/locality-failover', 'True', 'is not "true" or "false"'],
    ['skein.io/retries', '11', 'is not an integer 0-10'],
    ['skein.io/retries', '-1', 'is not an integer 0-10'],
    ['skein.io/retries', '1.5', 'is not an integer 0-10'],
    ['skein.io/retries', 'three', 'is not an integer 0-10'],
    ['skein.io/timeout', '0s', 'is out of range'],
    ['skein.io/timeout', '2h', 'is out of range'],
    ['skein.io/timeout', '61m', 'is out of range'],
    ['skein.io/timeout', '10', 'is not a duration'],
    ['skein.io/timeout', '1.5', 'is not a duration'],
    ['skein.io/timeout', '5us', 'is not a duration'],
    ['skein.io/timeout', '0.5ms', 'is finer than a millisecond'],
    ['skein.io/outlier-detection', 'on', 'is not key=value'],
    ['skein.io/outlier-detection', 'consecutive=0', 'consecutive=0 is not an integer of at least 1'],
    ['skein.io/outlier-detection', 'consecutive=x', 'consecutive=x is not an integer'],
    ['skein.io/outlier-detection', 'ejection=forever', 'ejection=forever is not a duration'],
    ['skein.io/outlier-detection', 'max-percent=101', 'max-percent=101 is not an integer 0-100'],
    ['skein.io/outlier-detection', 'interval=1s', '"interval" is not one of consecutive, ejection, max-percent'],
    ['skein.io/outlier-detection', 'consecutive=1,consecutive=2', 'sets consecutive twice'],
    ['skein.io/outlier-detection', '', 'is not key=value'],
  ])('%s: %j', (key, value, reason) => {
    const reasons = reasonsOf({ [key]: value });
    expect(reasons.length).toBeGreaterThan(0);
    expect(reasons.join('\n')).toContain(reason);
    expect(reasons[0]).toMatch(new RegExp(`^annotation ${key.replace('.', '\\.')}: `));
  });

  it('rejects unknown skein.io/ keys, catching typos', () => {
    expect(reasonsOf({ 'skein.io/load-balancr': 'random' })).toEqual([
      expect.stringContaining('annotation skein.io/load-balancr is not a Skein annotation'),
    ]);
  });

  it('reports every reason, not just the first', () => {
    expect(reasonsOf({ 'skein.io/retries': 'x', 'skein.io/timeout': 'y', 'skein.io/nope': '1' })).toHaveLength(3);
  });
});

describe('parseDuration', () => {
  it.each([
    ['1ms', 1], ['999ms', 999], ['0.25s', 250], ['1.001s', 1001], ['2m', 120_000], ['1h', 3_600_000], ['1s500ms', 1500],
  ])('%s = %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 's', '1', '1 s', '-1s', '1d', '1.s', '1h1ms'])('%j is a reason', (text) => {
    expect(typeof parseDuration(text)).toBe('string');
  });
});
