import { describe, expect, it } from 'vitest';
import { hashKey } from './hash-key.js';
import { cookieValue, requestHash } from './request-hash.js';

describe('cookieValue', () => {
  it.each<[string, string, string | undefined]>([
    ['session=abc', 'session', 'abc'],
    ['a=1; session=abc; b=2', 'session', 'abc'],
    ['a=1;session=abc ;b=2', 'session', 'abc'],
    ['xsession=no; session="quoted"', 'session', 'quoted'],
    ['session2=no; a=1', 'session', undefined],
    ['session=; a=1', 'session', ''],
    ['', 'session', undefined],
  ])('%s -> %s', (header, name, expected) => {
    expect(cookieValue(header, name)).toBe(expected);
  });
});

describe('requestHash', () => {
  const headers = { 'x-user': 'alice', cookie: 'a=1; sid=s1', multi: ['first', 'second'] };
  it('hashes the named header, cookie or source address, and nothing when absent', () => {
    expect(requestHash(undefined, headers, '10.0.0.9')).toBeUndefined();
    expect(requestHash({ type: 'header', name: 'x-user' }, headers, undefined)).toBe(hashKey('alice'));
    expect(requestHash({ type: 'header', name: 'multi' }, headers, undefined)).toBe(hashKey('first'));
    expect(requestHash({ type: 'header', name: 'x-none' }, headers, undefined)).toBeUndefined();
    expect(requestHash({ type: 'cookie', name: 'sid' }, headers, undefined)).toBe(hashKey('s1'));
    expect(requestHash({ type: 'cookie', name: 'sid' }, {}, undefined)).toBeUndefined();
    expect(requestHash({ type: 'source-ip' }, headers, '10.0.0.9')).toBe(hashKey('10.0.0.9'));
    expect(requestHash({ type: 'header', name: 'x-user' }, (name) => (name === 'x-user' ? 'bob' : undefined), undefined)).toBe(hashKey('bob'));
  });
});
