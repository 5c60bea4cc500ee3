import { describe, expect, it } from 'vitest';
import { LoadBalancer, pb, type Endpoint, type MeshPolicy, type ServicePort } from '@skein/protocol';
import type { EligibilityInput } from './eligibility.js';
import { LeastRequestPicker } from './least-request.js';
import { MaglevPicker } from './maglev.js';
import { RandomPicker } from './random-picker.js';
import { RingHashPicker } from './ring-hash.js';
import { RoundRobinPicker } from './round-robin.js';
import { balanceDetails, balancePort, eligibleSet, type EndpointStage, type PortBalancerOptions } from './port-balancer.js';

const http: ServicePort = { name: 'http', port: 80, targetPortNumber: 8080 };
const options: PortBalancerOptions = { nodeName: 'n1', random: () => 0 };

function input(endpoints: Endpoint[], servicePort: ServicePort = http, policy?: MeshPolicy): EligibilityInput {
  return {
    serviceKey: 'demo/web',
    service: pb.Service.create({ name: 'demo/web', namespace: 'demo', ports: [servicePort], ...(policy ? { policy } : {}) }),
    servicePort,
    group: pb.EndpointGroup.create({ name: 'demo/web', namespace: 'demo', service: 'web', endpoints }),
    nodeName: 'n1',
  };
}

const ep = (address: string, init: Endpoint = {}): Endpoint => ({ address, ready: true, ports: [{ name: 'http', port: 8080 }], ...init });

describe('balancePort', () => {
  it('builds a round-robin picker over the eligible set', () => {
    const balance = balancePort(input([ep('10.0.0.1'), ep('10.0.0.2')]), options);
    expect(balance.picker.size).toBe(2);
    expect(balance.picker).toBeInstanceOf(RoundRobinPicker);
    expect(balanceDetails(balance).signature).toBe('0||10.0.0.1:8080*1,10.0.0.2:8080*1');
    expect(balance.hashKey).toBeUndefined();
  });

  it.each([
    [LoadBalancer.LOAD_BALANCER_ROUND_ROBIN, RoundRobinPicker],
    [LoadBalancer.LOAD_BALANCER_RANDOM, RandomPicker],
    [LoadBalancer.LOAD_BALANCER_LEAST_REQUEST, LeastRequestPicker],
    [LoadBalancer.LOAD_BALANCER_RING_HASH, RingHashPicker],
    [LoadBalancer.LOAD_BALANCER_MAGLEV, MaglevPicker],
  ])('builds the picker of the Service policy (load balancer %s)', (loadBalancer, kind) => {
    const balance = balancePort(input([ep('10.0.0.1'), ep('10.0.0.2')], http, { loadBalancer }), options);
    expect(balance.picker).toBeInstanceOf(kind);
    expect(balance.loadBalancer).toBe(loadBalancer);
  });

  it('gives hashing pickers a hash key source: the policy\'s header (lower-cased) or cookie, else source-ip', () => {
    const eps = [ep('10.0.0.1')];
    const RING = LoadBalancer.LOAD_BALANCER_RING_HASH;
    expect(balancePort(input(eps, http, { loadBalancer: RING, hashKey: { header: 'X-User' } }), options).hashKey).toEqual({ type: 'header', name: 'x-user' });
    expect(balancePort(input(eps, http, { loadBalancer: LoadBalancer.LOAD_BALANCER_MAGLEV, hashKey: { cookie: 'sid' } }), options).hashKey).toEqual({ type: 'cookie', name: 'sid' });
    expect(balancePort(input(eps, http, { loadBalancer: RING }), options).hashKey).toEqual({ type: 'source-ip' });
    expect(balancePort(input(eps, http, { loadBalancer: LoadBalancer.LOAD_BALANCER_RANDOM, hashKey: { header: 'x' } }), options).hashKey).toBeUndefined();
  });

  it('rebuilds the picker when the policy changes, handing over least-request counts', () => {
    const eps = [ep('10.0.0.1'), ep('10.0.0.2')];
    const least = { loadBalancer: LoadBalancer.LOAD_BALANCER_LEAST_REQUEST };
    const first = balancePort(input(eps, http, least), options);
    const same = balancePort(input(eps, http, least), options, first);
    expect(same.picker).toBe(first.picker);
    const busy = first.picker as LeastRequestPicker;
    busy.started(busy.targets[0]!);
    const swapped = balancePort(input([...eps, ep('10.0.0.3')], http, least), options, same);
    expect((swapped.picker as LeastRequestPicker).outstandingOf('10.0.0.1:8080')).toBe(1);
    const ring = balancePort(input(eps, http, { loadBalancer: LoadBalancer.LOAD_BALANCER_RING_HASH }), options, swapped);
    expect(ring.picker).toBeInstanceOf(RingHashPicker);
    const byHeader = balancePort(input(eps, http, { loadBalancer: LoadBalancer.LOAD_BALANCER_RING_HASH, hashKey: { header: 'x-user' } }), options, ring);
    expect(byHeader.picker).not.toBe(ring.picker);
    expect(balancePort(input(eps), options, byHeader).picker).toBeInstanceOf(RoundRobinPicker);
  });

  it('fails picks with SKEIN_ERR_NO_ENDPOINT when nothing is eligible', () => {
    const balance = balancePort(input([ep('10.0.0.1', { ready: false, serving: false })]), options);
    const result = balance.picker.pick();
    expect(balance.picker.size).toBe(0);
    expect(result.type === 'fail' && [result.error.code, result.error.status]).toEqual(['SKEIN_ERR_NO_ENDPOINT', 503]);
  });

  it.each<[string, Endpoint[], boolean]>([
    ['the same endpoints', [ep('10.0.0.1'), ep('10.0.0.2')], true],
    ['a not-ready endpoint added', [ep('10.0.0.1'), ep('10.0.0.2'), ep('10.0.0.3', { ready: false, serving: false })], true],
    ['another port of an endpoint changed', [ep('10.0.0.1', { ports: [{ name: 'http', port: 8080 }, { name: 'metrics', port: 9091 }] }), ep('10.0.0.2')], true],
    ['an endpoint added', [ep('10.0.0.1'), ep('10.0.0.2'), ep('10.0.0.3')], false],
    ['an endpoint removed', [ep('10.0.0.1')], false],
    ['an endpoint port number changed', [ep('10.0.0.1', { ports: [{ name: 'http', port: 8081 }] }), ep('10.0.0.2')], false],
    ['a weight changed', [ep('10.0.0.1', { weight: 2 }), ep('10.0.0.2')], false],
    ['an endpoint became unready', [ep('10.0.0.1'), ep('10.0.0.2', { ready: false })], false],
  ])('keeps the picker when %s: %s', (_label, endpoints, kept) => {
    const before = balancePort(input([ep('10.0.0.1'), ep('10.0.0.2')]), options);
    const after = balancePort(input(endpoints), options, before);
    expect(after.picker === before.picker).toBe(kept);
  });

  it('keeps the picker without running the pipeline again when the inputs are the very same objects', () => {
    const same = input([ep('10.0.0.1'), ep('10.0.0.2')]);
    const before = balancePort(same, options);
    expect(balancePort(same, options, before).picker).toBe(before.picker);
    // The same values in new objects: recomputed, and still the same picker.
    expect(balancePort(input([ep('10.0.0.1'), ep('10.0.0.2')]), options, before).picker).toBe(before.picker);
    expect(balancePort(same, { ...options, ejected: new Set(['10.0.0.1:8080']) }, before).picker).not.toBe(before.picker);
  });

  it('keeps no per-endpoint results: verdicts and priorities are recomputed from its inputs', () => {
    const endpoints = [ep('10.0.0.1'), ep('10.0.0.2', { ready: false, serving: false })];
    const balance = balancePort(input(endpoints), { ...options, ejected: new Set(['10.0.0.1:8080']) });
    expect(Object.keys(balance).sort()).toEqual(['hashKey', 'input', 'loadBalancer', 'options', 'outcome', 'picker']);
    expect(balance.outcome).toEqual({ type: 'eligible', rule: 'all ready' });
    const details = balanceDetails(balance);
    expect(details.eligibility.verdicts.map((v) => [v.address, v.eligible])).toEqual([['10.0.0.1', true], ['10.0.0.2', false]]);
    // The lone endpoint is ejected: panic keeps it in use, as the picker was built.
    expect(details.selection).toMatchObject({ ejected: ['10.0.0.1:8080'], totalPanic: true });
    expect(balanceDetails(balance)).toEqual(details);
    expect(balancePort(input([]), options).outcome).toMatchObject({ type: 'none', error: { code: 'SKEIN_ERR_NO_ENDPOINT' } });
  });

  it('gives the picked Targets the keys the eligible set made (one string per endpoint and port)', () => {
    const same = input([ep('10.0.0.1'), ep('fd00::1')]);
    const eligibility = eligibleSet(same, options);
    const targets = (balancePort(same, options, undefined, eligibility).picker as RoundRobinPicker).targets;
    expect(targets.map((t) => t.key)).toEqual(['10.0.0.1:8080', '[fd00::1]:8080']);
    expect(eligibility.type === 'eligible' && eligibility.endpoints.every((e, i) => e.key === targets[i]!.key)).toBe(true);
  });

  it('keeps a failing picker while the failure is the same', () => {
    const before = balancePort(input([]), options);
    expect(balancePort(input([]), options, before).picker).toBe(before.picker);
  });

  it('runs extra stages between eligibility and the picker', () => {
    const onlyFirst: EndpointStage = { name: 'only-first', apply: (set) => ({ ...set, endpoints: set.endpoints.slice(0, 1) }) };
    const balance = balancePort(input([ep('10.0.0.1'), ep('10.0.0.2')]), { ...options, stages: [onlyFirst] });
    expect(balance.picker.size).toBe(1);
    const none: EndpointStage = { name: 'none', apply: (set) => ({ ...set, endpoints: [] }) };
    const result = balancePort(input([ep('10.0.0.1')]), { ...options, stages: [none] }).picker.pick();
    expect(result.type === 'fail' && result.error.code).toBe('SKEIN_ERR_NO_ENDPOINT');
  });
});

describe('balancePort: what picked targets say about themselves (for spans and metrics)', () => {
  const zoned = (address: string, zone: string, nodeName = 'n9'): Endpoint => ep(address, { zone, nodeName });

  it('carries the endpoint zone and, with locality failover, its tier', () => {
    const endpoints = [zoned('10.0.0.1', 'a', 'n1'), zoned('10.0.0.2', 'a'), zoned('10.0.0.3', 'b')];
    const plain = balancePort(input(endpoints), options);
    const picked = plain.picker.pick();
    expect(picked.type === 'pick' && picked.target).toMatchObject({ zone: expect.stringMatching(/^[ab]$/) });
    expect(picked.type === 'pick' && picked.target.tier).toBe('all');
    const local = balancePort({ ...input(endpoints, http, { localityFailover: true }), zone: 'a' }, options);
    const first = local.picker.pick();
    expect(first.type === 'pick' && first.target).toMatchObject({ address: '10.0.0.1', zone: 'a', tier: 'node' });
  });
});
