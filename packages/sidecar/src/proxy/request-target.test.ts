import { describe, expect, it } from 'vitest';
import { isLocalHost, parseAbsoluteForm, parseAuthority } from './request-target.js';

describe('parseAuthority', () => {
  it.each([
    ['web.demo', 80, { host: 'web.demo', port: 80 }],
    ['Web.Demo:8080', 80, { host: 'web.demo', port: 8080 }],
    ['10.0.0.1:443', 0, { host: '10.0.0.1', port: 443 }],
    ['[::1]:9090', 80, { host: '::1', port: 9090 }],
    ['[fd00::1]', 80, { host: 'fd00::1', port: 80 }],
  ])('parses %s', (text, defaultPort, expected) => {
    expect(parseAuthority(text, defaultPort)).toEqual(expected);
  });

  it.each([
    ['', 80], ['web.demo', 0], ['web.demo:', 80], ['web.demo:0', 80], ['web.demo:65536', 80], ['web.demo:8o', 80],
    ['::1', 80], ['[::1', 80], ['[::1]x', 80], ['bad host', 80], ['a/b', 80], ['user@host', 80],
  ])('rejects %j (default port %d)', (text, defaultPort) => {
    expect(parseAuthority(text, defaultPort)).toBeUndefined();
  });
});

describe('parseAbsoluteForm', () => {
  it.each([
    ['http://web.demo/path?q=1', { host: 'web.demo', port: 80, path: '/path?q=1', authority: 'web.demo' }],
    ['HTTP://web.demo:8080', { host: 'web.demo', port: 8080, path: '/', authority: 'web.demo:8080' }],
    ['http://web.demo?x', { host: 'web.demo', port: 80, path: '/?x', authority: 'web.demo' }],
    ['http://user:pw@web.demo/a#frag', { host: 'web.demo', port: 80, path: '/a', authority: 'web.demo' }],
    ['http://[::1]:81/', { host: '::1', port: 81, path: '/', authority: '[::1]:81' }],
  ])('parses %s', (url, expected) => {
    expect(parseAbsoluteForm(url)).toEqual(expected);
  });

  it.each(['/path', 'https://web.demo/', 'ftp://x/', 'http://', 'http://bad host/', 'http://web.demo:x/'])('rejects %s', (url) => {
    expect(parseAbsoluteForm(url)).toBeUndefined();
  });
});

describe('isLocalHost', () => {
  it('knows loopback and unspecified addresses', () => {
    expect(['localhost', '127.0.0.1', '127.1.2.3', '::1', '0.0.0.0', '::'].every(isLocalHost)).toBe(true);
    expect(['10.0.0.1', 'web.demo', '128.0.0.1'].some(isLocalHost)).toBe(false);
  });
});
