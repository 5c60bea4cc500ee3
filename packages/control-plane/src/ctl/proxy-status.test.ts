import { describe, expect, it } from 'vitest';
import { TYPE_ENDPOINT_GROUP, TYPE_SERVICE } from '@skein/protocol';
import type { SubscriberJson, TypeJson } from '../snapshot/subscriber.js';
import { formatProxyStatus, proxyStatusRows, syncState } from './proxy-status.js';

const type = (over: Partial<TypeJson>): TypeJson => ({
  mode: 'delta', subscriptions: ['*'], ackedVersion: 'aaaaaaaaaaaa', sentVersion: 'aaaaaaaaaaaa', pendingNonce: null, lastNack: null, synced: true, ...over,
});

describe('syncState', () => {
  it.each([
    ['SYNCED', type({})],
    ['STALE', type({ synced: false, sentVersion: 'b', pendingNonce: '3' })],
    ['NACKED', type({ synced: false, sentVersion: 'b', lastNack: { nonce: '3', version: 'b', message: 'bad', resourceErrors: [], at: 0 } })],
    ['SYNCED', type({ lastNack: { nonce: '1', version: 'old', message: 'bad', resourceErrors: [], at: 0 } })],
    ['NOT SENT', undefined],
  ] as const)('%s', (expected, t) => expect(syncState(t)).toBe(expected));
});

describe('formatProxyStatus', () => {
  it('prints one row per proxy and the NACK reasons', () => {
    const proxies: SubscriberJson[] = [{
      id: 's1', peer: null, connectedAt: 0,
      node: { id: 'web-1.demo', pod: 'web-1', namespace: 'demo', nodeName: 'node-a', locality: { region: '', zone: 'a' }, agentVersion: '0.1.0', adminAddress: '10.1.0.7:15000' },
      types: {
        [TYPE_SERVICE]: type({}),
        [TYPE_ENDPOINT_GROUP]: type({ synced: false, sentVersion: 'c', lastNack: { nonce: '2', version: 'c', message: 'endpoint "x": bad address', resourceErrors: [], at: 0 } }),
      },
    }];
    const text = formatProxyStatus(proxyStatusRows(proxies));
    expect(text).toMatch(/^NAME\s+POD\s+NODE\s+SERVICES\s+ENDPOINTS\s+VERSION\s+ADMIN$/m);
    expect(text).toMatch(/^web-1\.demo\s+demo\/web-1\s+node-a\s+SYNCED \(aaaaaaaa\)\s+NACKED \(aaaaaaaa\)\s+0\.1\.0\s+10\.1\.0\.7:15000$/m);
    expect(text).toContain('web-1.demo: NACK: endpoint "x": bad address');
  });
});
