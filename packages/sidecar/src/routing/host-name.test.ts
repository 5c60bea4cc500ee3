import { describe, expect, it } from 'vitest';
import { canonicalIp, normalizeHost } from './host-name.js';

describe('normalizeHost', () => {
  it.each([
    ['Web.Demo', 'web.demo'],
    ['web.demo.svc.cluster.local.', 'web.demo.svc.cluster.local'],
    ['[FD00::A]', 'fd00::a'],
    ['fd00::a', 'fd00::a'],
    ['10.96.0.10', '10.96.0.10'],
  ])('%s -> %s', (host, expected) => {
    expect(normalizeHost(host)).toBe(expected);
  });
});

describe('canonicalIp', () => {
  it.each([
    ['10.96.0.10', '10.96.0.10'],
    ['fd00::a', 'fd00::a'],
    ['fd00:0:0:0:0:0:0:a', 'fd00::a'],
    ['FD00:0000::000A', 'fd00::a'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['::ffff:10.0.0.1', '::ffff:a00:1'],
    ['web.demo', undefined],
    ['10.96.0.010', undefined],
    ['example.com', undefined],
  ])('%s -> %s', (text, expected) => {
    expect(canonicalIp(text)).toBe(expected);
  });
});
