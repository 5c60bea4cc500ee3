// The sidecar's token flags: --token-file / --token and their environment twins.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseSidecarConfig } from './sidecar-config.js';

const base = ['--control-plane', '127.0.0.1:15010'];

describe('parseSidecarConfig: token', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    delete process.env.SKEIN_TOKEN_FILE;
    delete process.env.SKEIN_TOKEN;
  });

  it('has no token unless one is given', () => {
    expect(parseSidecarConfig(base).token).toEqual({ type: 'none' });
  });

  it('takes a token file or a static token, from flags or the environment', () => {
    expect(parseSidecarConfig([...base, '--token-file', '/var/run/secrets/skein/token']).token)
      .toEqual({ type: 'file', path: '/var/run/secrets/skein/token' });
    expect(parseSidecarConfig([...base, '--token', 'shared']).token).toEqual({ type: 'static', value: 'shared' });
    process.env.SKEIN_TOKEN_FILE = '/t';
    expect(parseSidecarConfig(base).token).toEqual({ type: 'file', path: '/t' });
  });

  it('refuses both at once', () => {
    let written = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      written += String(chunk);
      return true;
    });
    vi.spyOn(process, 'exit').mockImplementation(() => {
      throw new Error('exit');
    });
    expect(() => parseSidecarConfig([...base, '--token-file', '/t', '--token', 'x'])).toThrow('exit');
    expect(written.split('\n')[0]).toBe('error: give --token-file or --token, not both');
  });
});
