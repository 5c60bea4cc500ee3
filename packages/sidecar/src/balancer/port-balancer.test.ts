import { describe, expect, it } from 'vitest';
import { pb, type Endpoint, type ServicePort } from '@skein/protocol';
import type { EligibilityInput } from './eligibility.js';
import { balancePort, type EndpointStage, type PortBalancerOptions } from './port-balancer.js';

const http: ServicePort = { name: 'http', port: 80, targetPortNumber: 8080 };
const options: PortBalancerOptions = { nodeName: 'n1', random: () => 0 };

function input(endpoints: Endpoint[], servicePort: ServicePort = http): EligibilityInput {
  return {
    serviceKey: 'demo/web',
    service: pb.Service.create({ name: 'demo/web', namespace: 'demo', ports: [servicePort] }),
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
    expect(balance.signature).toBe('10.0.0.1:8080*1,10.0.0.2:8080*1');
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
