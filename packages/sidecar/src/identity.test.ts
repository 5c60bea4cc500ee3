import { describe, expect, it } from 'vitest';
import { advertisedAdminAddress } from './identity.js';

describe('advertisedAdminAddress', () => {
  it.each([
    ['0.0.0.0', '10.1.0.5', '10.1.0.5:15000'],
    ['0.0.0.0', '', '127.0.0.1:15000'],
    ['::', '10.1.0.5', '10.1.0.5:15000'],
    ['0.0.0.0', 'fd00::5', '[fd00::5]:15000'],
    ['127.0.0.1', '10.1.0.5', '127.0.0.1:15000'],
    ['10.1.0.5', '', '10.1.0.5:15000'],
    ['::1', '', '[::1]:15000'],
    ['[::1]', '', '[::1]:15000'],
  ])('bound to %s with pod IP "%s" -> %s', (host, podIp, expected) => {
    expect(advertisedAdminAddress(host, 15000, podIp)).toBe(expected);
  });
});
