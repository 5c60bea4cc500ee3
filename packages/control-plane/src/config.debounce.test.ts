// --debounce, --debounce-max and --debounce-leading: defaults, env twins, the leading edge switched off.
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from './config.js';

const files = ['--source', 'files:/tmp/manifests'];

describe('parseConfig --debounce*', () => {
  afterEach(() => {
    delete process.env.SKEIN_DEBOUNCE_LEADING;
  });

  it('defaults to 100 ms, at most 1 s, leading edge on', () => {
    expect(parseConfig(files, {})).toMatchObject({ debounceMs: 100, debounceMaxMs: 500, debounceLeading: true });
  });

  it('turns the leading edge off with --debounce-leading false or SKEIN_DEBOUNCE_LEADING=false', () => {
    expect(parseConfig([...files, '--debounce-leading', 'false'], {}).debounceLeading).toBe(false);
    expect(parseConfig([...files, '--debounce-leading', 'true'], {}).debounceLeading).toBe(true);
    process.env.SKEIN_DEBOUNCE_LEADING = 'false';
    expect(parseConfig(files, {}).debounceLeading).toBe(false);
    expect(parseConfig([...files, '--debounce-leading', 'true'], {}).debounceLeading).toBe(true);
  });
});
