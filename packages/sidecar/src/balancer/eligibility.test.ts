import { describe, expect, it } from 'vitest';
import { pb, type Endpoint, type ServiceInit, type ServicePort } from '@skein/protocol';
import { eligibleEndpoints, targetPortOf, type EligibilityInput } from './eligibility.js';

const http: ServicePort = { name: 'http', port: 80, targetPortNumber: 8080 };

function input(endpoints: Endpoint[], options: { servicePort?: ServicePort; service?: ServiceInit; nodeName?: string } = {}): EligibilityInput {
  const servicePort = options.servicePort ?? http;
  return {
    serviceKey: 'demo/web',
    service: pb.Service.create({ name: 'demo/web', namespace: 'demo', ports: [servicePort], ...options.service }),
    servicePort,
    group: pb.EndpointGroup.create({ name: 'demo/web', namespace: 'demo', service: 'web', endpoints }),
    nodeName: options.nodeName,
    zone: undefined,
  };
}

const ep = (address: string, init: Endpoint = {}): Endpoint => ({ address, ports: [{ name: 'http', port: 8080 }], ...init });
const READY = { ready: true, serving: true, terminating: false };
const NOT_READY = { ready: false, serving: false, terminating: false };
const DRAINING = { ready: false, serving: true, terminating: true };
const DEAD = { ready: false, serving: false, terminating: true };

const picked = (i: EligibilityInput) => {
  const result = eligibleEndpoints(i);
  return result.type === 'eligible' ? { rule: result.rule, addresses: result.endpoints.map((e) => `${e.address}:${e.port}`) } : { error: result.error.code };
};

describe('eligibleEndpoints (kube-proxy CategorizeEndpoints)', () => {
  it.each([
    ['ready endpoints only', [ep('10.0.0.1', READY), ep('10.0.0.2', NOT_READY), ep('10.0.0.3', DRAINING)], { rule: 'all ready', addresses: ['10.0.0.1:8080'] }],
    ['conditions absent mean ready', [ep('10.0.0.1')], { rule: 'all ready', addresses: ['10.0.0.1:8080'] }],
    ['no ready: serving and terminating ones', [ep('10.0.0.2', NOT_READY), ep('10.0.0.3', DRAINING), ep('10.0.0.4', DEAD)], { rule: 'terminating fallback', addresses: ['10.0.0.3:8080'] }],
    ['none usable', [ep('10.0.0.2', NOT_READY), ep('10.0.0.4', DEAD)], { error: 'SKEIN_ERR_NO_ENDPOINT' }],
    ['no endpoints', [], { error: 'SKEIN_ERR_NO_ENDPOINT' }],
  ])('%s', (_label, endpoints, expected) => {
    expect(picked(input(endpoints))).toEqual(expected);
  });

  it('explains every endpoint', () => {
    const result = eligibleEndpoints(input([ep('10.0.0.1', READY), ep('10.0.0.2', NOT_READY), ep('10.0.0.3', DRAINING), ep('10.0.0.9', { ports: [{ name: 'metrics', port: 9090 }] })]));
    expect(result.verdicts).toEqual([
      { address: '10.0.0.1', port: 8080, eligible: true, reason: 'ready' },
      { address: '10.0.0.2', port: 8080, eligible: false, reason: 'not ready' },
      { address: '10.0.0.3', port: 8080, eligible: false, reason: 'terminating; ready endpoints are preferred' },
      { address: '10.0.0.9', port: undefined, eligible: false, reason: 'serves no port "http"' },
    ]);
  });

  it('names the service and port when there is no endpoint', () => {
    const result = eligibleEndpoints(input([]));
    expect(result.type === 'none' && result.error).toEqual({
      code: 'SKEIN_ERR_NO_ENDPOINT', status: 503,
      message: 'skein: service "web.demo" has no ready endpoint for port 80 (the service has no endpoints)',
    });
  });

  it('reads weights, 0 meaning 1', () => {
    const result = eligibleEndpoints(input([ep('10.0.0.1', { weight: 0 }), ep('10.0.0.2', { weight: 3 })]));
    expect(result.type === 'eligible' && result.endpoints.map((e) => e.weight)).toEqual([1, 3]);
  });
});

describe('targetPortOf', () => {
  it.each<[string, ServicePort, Endpoint, number | undefined]>([
    ['named slice port: its number', http, ep('a', { ports: [{ name: 'http', port: 9000 }] }), 9000],
    ['named targetPort, numbers differ per Pod', { name: 'http', port: 80, targetPortName: 'web' }, ep('a', { ports: [{ name: 'http', port: 7000 }] }), 7000],
    ['named targetPort, Pod lacks the port', { name: 'http', port: 80, targetPortName: 'web' }, ep('a', { ports: [{ name: 'metrics', port: 9090 }] }), undefined],
    ['numeric targetPort, no linked slice port', http, ep('a', { ports: [] }), 8080],
    ['numeric targetPort, only other ports listed: not served', http, ep('a', { ports: [{ name: 'metrics', port: 9090 }] }), undefined],
    ['no targetPort: the port itself', { name: 'http', port: 80 }, ep('a', { ports: [] }), 80],
    ['unnamed single port matches the unnamed slice port', { port: 80, targetPortNumber: 8080 }, ep('a', { ports: [{ port: 8081 }] }), 8081],
    ['protocol must match too', { name: 'dns', port: 53, protocol: pb.Protocol.PROTOCOL_UDP, targetPortName: 'dns' }, ep('a', { ports: [{ name: 'dns', port: 5353 }] }), undefined],
  ])('%s', (_label, servicePort, endpoint, expected) => {
    expect(targetPortOf(endpoint, servicePort)).toBe(expected);
  });

  it('gives each endpoint its own number for a named targetPort', () => {
    const servicePort: ServicePort = { name: 'http', port: 80, targetPortName: 'web' };
    const i = input([ep('10.0.0.1', { ports: [{ name: 'http', port: 8080 }] }), ep('10.0.0.2', { ports: [{ name: 'http', port: 9090 }] }), ep('10.0.0.3', { ports: [] })], { servicePort });
    expect(picked(i)).toEqual({ rule: 'all ready', addresses: ['10.0.0.1:8080', '10.0.0.2:9090'] });
    expect(eligibleEndpoints(i).verdicts.at(-1)).toEqual({ address: '10.0.0.3', port: undefined, eligible: false, reason: 'serves no port "http"' });
  });
});

describe('internalTrafficPolicy Local', () => {
  const local = { internalTrafficPolicy: pb.TrafficPolicy.TRAFFIC_POLICY_LOCAL };
  const endpoints = [ep('10.0.0.1', { ...READY, nodeName: 'n1' }), ep('10.0.0.2', { ...READY, nodeName: 'n2' }), ep('10.0.0.3', { ...DRAINING, nodeName: 'n3' })];
  it.each<[string, string | undefined, Endpoint[], object]>([
    ['the ready endpoints on this node', 'n1', endpoints, { rule: 'local: n1', addresses: ['10.0.0.1:8080'] }],
    ['serving+terminating ones on this node when none there is ready', 'n3', endpoints, { rule: 'local: n3, terminating fallback', addresses: ['10.0.0.3:8080'] }],
    ['no fallback to other nodes', 'n9', endpoints, { error: 'SKEIN_ERR_LOCAL_NO_ENDPOINT' }],
    ['node unknown: nothing is local', undefined, endpoints, { error: 'SKEIN_ERR_LOCAL_NO_ENDPOINT' }],
    ['no endpoints anywhere: no endpoint', 'n1', [ep('10.0.0.1', { ...NOT_READY, nodeName: 'n1' })], { error: 'SKEIN_ERR_NO_ENDPOINT' }],
  ])('%s', (_label, nodeName, eps, expected) => {
    expect(picked(input(eps, { service: local, nodeName }))).toEqual(expected);
  });

  it('says why remote endpoints are left out and names the node', () => {
    const result = eligibleEndpoints(input(endpoints, { service: local, nodeName: 'n9' }));
    expect(result.verdicts[0]?.reason).toBe('not on this node "n9" (internalTrafficPolicy Local)');
    expect(result.type === 'none' && result.error.message).toBe(
      'skein: service "web.demo" has internalTrafficPolicy Local and no ready endpoint for port 80 on node "n9"',
    );
  });

  it('ignores the node under the Cluster policy', () => {
    expect(picked(input(endpoints, { nodeName: 'n9' }))).toEqual({ rule: 'all ready', addresses: ['10.0.0.1:8080', '10.0.0.2:8080'] });
  });
});
