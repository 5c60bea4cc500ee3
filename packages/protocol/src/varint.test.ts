import { describe, expect, it } from 'vitest';
import { pb } from './messages.js';
import { varintSize } from './varint.js';

describe('varintSize', () => {
  it('counts the bytes protobufjs writes for a varint, at each boundary', () => {
    for (const value of [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 2 ** 31 - 1, 2 ** 32 - 1]) {
      // uint32 field 2 of ServicePort (port): one tag byte, then the varint.
      const encoded = pb.ServicePort.encode({ port: value }).finish();
      expect(varintSize(value), String(value)).toBe(encoded.length - 1);
    }
  });
});
