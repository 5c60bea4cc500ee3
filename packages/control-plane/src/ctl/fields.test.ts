import { describe, expect, it } from 'vitest';
import { formatFields, inline } from './fields.js';

describe('inline', () => {
  it.each([
    [null, '-'], [undefined, '-'], ['', '""'], ['x', 'x'], [3, '3'], [false, 'false'],
    [[], 'none'], [['a', 'b'], 'a, b'],
    [{ hit: true, endpoint: '10.0.0.1:80' }, 'hit=true endpoint=10.0.0.1:80'],
    [{ a: { b: 1 }, c: [{ d: 2 }] }, 'a={b=1} c={d=2}'],
  ])('%j -> %s', (value, text) => expect(inline(value)).toBe(text));
});

describe('formatFields', () => {
  it('aligns values and indents the lines of a multi-line value under it', () => {
    expect(formatFields([['A', 'one'], ['LONGER', 'two\nthree']])).toBe('A        one\nLONGER   two\n         three\n');
  });
});
