import { describe, expect, it } from 'vitest';
import { canonicalJson, toPlainData } from './plain-data.js';

describe('toPlainData', () => {
  it('copies into JSON data with sorted keys, dropping null fields', () => {
    const input = { b: [1, undefined, { d: new Date(0), c: NaN, e: null }], a: undefined, z: null, f: () => 1, n: 10n };
    const result = toPlainData(input);
    expect(result).toEqual({ ok: true, value: { b: [1, null, { d: '1970-01-01T00:00:00.000Z' }], n: '10' } });
    expect(JSON.stringify(result.ok && result.value)).toBe('{"b":[1,null,{"d":"1970-01-01T00:00:00.000Z"}],"n":"10"}');
  });

  it('accepts shared references (YAML aliases) but reports cycles', () => {
    const shared = { x: 1 };
    expect(toPlainData({ a: shared, b: shared })).toEqual({ ok: true, value: { a: { x: 1 }, b: { x: 1 } } });
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = [cyclic];
    expect(toPlainData(cyclic)).toEqual({ ok: false, reason: expect.stringContaining('refers to itself') });
  });
});

describe('canonicalJson', () => {
  it('ignores resourceVersion and managedFields only', () => {
    const a = { metadata: { name: 'x', resourceVersion: '1', managedFields: [{}] }, spec: 1 };
    const b = { metadata: { name: 'x', resourceVersion: '2' }, spec: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).not.toBe(canonicalJson({ ...b, spec: 2 }));
    expect(canonicalJson('x')).toBe('"x"');
  });
});
