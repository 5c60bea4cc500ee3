import { describe, expect, it } from 'vitest';
import type { SubscriberJson } from '../snapshot/subscriber.js';
import { adminBaseUrl, parseTarget, resolvePod } from './target.js';

const proxy = (namespace: string, pod: string, adminAddress: string, connectedAt = 0): SubscriberJson => ({
  id: `${namespace}-${pod}-${connectedAt}`, peer: null, connectedAt, types: {},
  node: { id: `${pod}.${namespace}`, pod, namespace, nodeName: 'node-a', locality: { region: '', zone: '' }, agentVersion: '0.1.0', adminAddress },
});

const proxies = [
  proxy('demo', 'web-1', '10.1.0.7:15000'),
  proxy('demo', 'api-1', '10.1.0.8:15000'),
  proxy('prod', 'api-1', '10.2.0.8:15000'),
  proxy('demo', 'app', ''),
  proxy('demo', 'web.v2', '10.1.0.9:15000'),
  { id: 'no-node', peer: null, connectedAt: 0, types: {}, node: null },
];

describe('parseTarget', () => {
  it.each([
    ['10.1.0.7:15000', 'http://10.1.0.7:15000'],
    ['localhost:15000', 'http://localhost:15000'],
    ['[::1]:15000', 'http://[::1]:15000'],
    ['http://127.0.0.1:15000/', 'http://127.0.0.1:15000'],
    ['https://proxy.example:8443', 'https://proxy.example:8443'],
  ])('%s is an admin address', (text, url) => expect(parseTarget(text)).toEqual({ type: 'admin', url }));

  it.each(['web-1', 'demo/web-1', 'web-1.demo'])('%s names a pod', (text) => expect(parseTarget(text)).toEqual({ type: 'pod', text }));

  it('adds http:// to a bare host:port', () => expect(adminBaseUrl('10.0.0.1:15000')).toBe('http://10.0.0.1:15000'));
});

describe('resolvePod', () => {
  it.each(['web-1', 'demo/web-1', 'web-1.demo'])('finds %s by its reported admin address', (text) => {
    expect(resolvePod(text, proxies)).toEqual({ type: 'found', pod: 'demo/web-1', url: 'http://10.1.0.7:15000' });
  });

  it('takes a namespace to tell apart pods of one name', () => {
    expect(resolvePod('prod/api-1', proxies)).toEqual({ type: 'found', pod: 'prod/api-1', url: 'http://10.2.0.8:15000' });
    expect(resolvePod('api-1.prod', proxies)).toEqual({ type: 'found', pod: 'prod/api-1', url: 'http://10.2.0.8:15000' });
  });

  it('refuses a name connected in several namespaces', () => {
    const result = resolvePod('api-1', proxies);
    expect(result).toEqual({ type: 'error', message: expect.stringContaining('"api-1" is ambiguous: demo/api-1, prod/api-1') });
  });

  it('says when no proxy of that pod is connected', () => {
    expect(resolvePod('nobody', proxies)).toEqual({ type: 'error', message: expect.stringMatching(/no proxy of pod "nobody" is connected .*5 connected/) });
    expect(resolvePod('other/web-1', proxies)).toMatchObject({ type: 'error' });
  });

  it('says when the proxy reports no admin address', () => {
    expect(resolvePod('demo/app', proxies)).toEqual({ type: 'error', message: expect.stringContaining('pod demo/app reports no admin address') });
  });

  it('matches a pod name holding a dot as a whole before splitting off a namespace', () => {
    expect(resolvePod('web.v2', proxies)).toEqual({ type: 'found', pod: 'demo/web.v2', url: 'http://10.1.0.9:15000' });
  });

  it('takes the newest stream of a pod connected twice', () => {
    const twice = [proxy('demo', 'web-1', '10.1.0.7:15000', 1), proxy('demo', 'web-1', '10.1.0.70:15000', 2)];
    expect(resolvePod('web-1', twice)).toMatchObject({ type: 'found', url: 'http://10.1.0.70:15000' });
  });
});
