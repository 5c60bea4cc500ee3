// /explain's per-request decision: the hash key read from the request, a ClientIP affinity
// hit, and the endpoint when those decide it — without changing where later requests go.
import { LoadBalancer, pb, type EndpointGroupInit, type MeshPolicy, type ServiceInit } from '@skein/protocol';
import { describe, expect, it } from 'vitest';
import { hashKey } from './balancer/hash-key.js';
import { createDataplane } from './dataplane-core.js';
import { StaticConfig } from './mesh-config.test-helper.js';

const ADDRESSES = ['10.1.0.1', '10.1.0.2', '10.1.0.3', '10.1.0.4'];

function world(name: string, init: Partial<ServiceInit> & { policy?: MeshPolicy }): StaticConfig {
  const key = `demo/${name}`;
  const service: ServiceInit = { name: key, namespace: 'demo', clusterIps: [], ports: [{ name: 'http', port: 80, targetPortNumber: 8080 }], ...init };
  const group: EndpointGroupInit = {
    name: key, namespace: 'demo', service: name,
    endpoints: ADDRESSES.map((address) => ({ address, ready: true, serving: true, ports: [{ name: 'http', port: 8080 }] })),
  };
  return new StaticConfig([service], [group]);
}

const decisionOf = (explained: unknown): Record<string, unknown> => (explained as { decision: Record<string, unknown> }).decision;

describe('explain: the decision for one request', () => {
  it('a header hash names the endpoint the picker gives that user, every time', () => {
    const dataplane = createDataplane(world('web', { policy: { loadBalancer: LoadBalancer.LOAD_BALANCER_RING_HASH, hashKey: { header: 'X-User' } } }), { namespace: 'demo' });
    const destination = dataplane.resolve('web', 80);
    if (destination.type !== 'service') throw new Error('web did not resolve');
    const picked = destination.picker.pick(undefined, hashKey('alice'));
    const expected = picked.type === 'pick' ? picked.target.key : '';
    const decision = decisionOf(dataplane.explain('web', 80, { headers: { 'x-user': 'alice' } }));
    expect(decision).toMatchObject({ hashKey: { source: 'header:x-user', value: 'alice', hash: hashKey('alice') }, endpoint: expected, by: 'hash' });
    expect(decisionOf(dataplane.explain('web', 80, { headers: { 'x-user': 'alice' } }))).toEqual(decision);
    // Without the header the picker chooses at random.
    expect(decisionOf(dataplane.explain('web', 80, {}))).toMatchObject({ hashKey: { value: null, hash: null }, endpoint: null, by: 'ring-hash chooses at random without a hash' });
    dataplane.close();
  });

  it('a missing hash cookie says the sidecar hands out a new one', () => {
    const dataplane = createDataplane(world('web', { policy: { loadBalancer: LoadBalancer.LOAD_BALANCER_MAGLEV, hashKey: { cookie: 'session' } } }), { namespace: 'demo' });
    expect(decisionOf(dataplane.explain('web', 80, { headers: { cookie: 'a=1; session=s1' } }))).toMatchObject({ hashKey: { source: 'cookie:session', value: 's1' }, by: 'hash' });
    expect(decisionOf(dataplane.explain('web', 80, { headers: {} }))).toMatchObject({
      hashKey: { value: null, note: 'the sidecar sets a new random session cookie on the response; the endpoint it hashes to is then kept' },
    });
    dataplane.close();
  });

  it('ClientIP affinity: a hit names the remembered endpoint, and explaining changes nothing', () => {
    const dataplane = createDataplane(world('sticky', { sessionAffinity: pb.SessionAffinity.SESSION_AFFINITY_CLIENT_IP }), { namespace: 'demo' });
    const destination = dataplane.resolve('sticky', 80);
    if (destination.type !== 'service' || destination.affinity === undefined) throw new Error('sticky has no affinity');
    expect(decisionOf(dataplane.explain('sticky', 80, { client: '192.168.0.7' }))).toEqual({
      client: '192.168.0.7', affinity: { hit: false, endpoint: null }, endpoint: null, by: 'round-robin chooses per request',
    });
    // Explaining did not remember the client.
    const first = destination.affinity.pick('192.168.0.7');
    const key = first.type === 'pick' ? first.target.key : '';
    expect(decisionOf(dataplane.explain('sticky', 80, { client: '192.168.0.7' }))).toEqual({
      client: '192.168.0.7', affinity: { hit: true, endpoint: key }, endpoint: key, by: 'affinity',
    });
    expect(decisionOf(dataplane.explain('sticky', 80, {}))).toMatchObject({ client: null, affinity: { hit: false, note: 'no client address: give ?client=<ip>' } });
    dataplane.close();
  });

  it('round robin chooses per request; a Service without endpoints has no decision to make', () => {
    const dataplane = createDataplane(world('web', {}), { namespace: 'demo' });
    expect(decisionOf(dataplane.explain('web', 80, {}))).toEqual({ client: null, endpoint: null, by: 'round-robin chooses per request' });
    expect(dataplane.explain('example.com', 80, {})).not.toHaveProperty('decision');
    // Without a request, explain stays the name/port view.
    expect(dataplane.explain('web', 80)).not.toHaveProperty('decision');
    dataplane.close();
  });
});
