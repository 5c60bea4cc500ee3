// --auth and --token-audience: defaults follow the source, env twins, and refused combinations.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from './config.js';

const files = ['--source', 'files:/tmp/manifests'];
const kube = ['--source', 'kubernetes'];

/** parseConfig's usage error (commander writes it and exits), as a thrown Error. */
function usageError(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  let written = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    written += String(chunk);
    return true;
  });
  vi.spyOn(process, 'exit').mockImplementation(() => {
    throw new Error('exit');
  });
  expect(() => parseConfig(argv, env)).toThrow('exit');
  return written.split('\n')[0]!;
}

describe('parseConfig --auth', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    delete process.env.SKEIN_AUTH;
    delete process.env.SKEIN_TOKEN_AUDIENCE;
  });

  it('defaults to kubernetes (audience "skein") with the kubernetes source and to none with files', () => {
    expect(parseConfig(kube, {}).auth).toEqual({ type: 'kubernetes', audience: 'skein' });
    expect(parseConfig(files, {}).auth).toEqual({ type: 'none' });
  });

  it('takes none, token-file:<path> and kubernetes with an audience, from flags or the environment', () => {
    expect(parseConfig([...kube, '--auth', 'none'], {}).auth).toEqual({ type: 'none' });
    expect(parseConfig([...files, '--auth', 'token-file:/etc/skein/token'], {}).auth).toEqual({ type: 'token-file', path: '/etc/skein/token' });
    expect(parseConfig([...kube, '--token-audience', 'mesh.example.com'], {}).auth).toEqual({ type: 'kubernetes', audience: 'mesh.example.com' });
    process.env.SKEIN_AUTH = 'token-file:/run/token';
    process.env.SKEIN_TOKEN_AUDIENCE = 'ignored-here';
    expect(parseConfig(kube, {}).auth).toEqual({ type: 'token-file', path: '/run/token' });
  });

  it('refuses unknown modes and kubernetes auth without the kubernetes source', () => {
    expect(usageError([...files, '--auth', 'token-file:'])).toContain('must be "kubernetes", "none" or "token-file:<path>"');
    expect(usageError([...files, '--auth', 'mtls'])).toContain('must be "kubernetes", "none" or "token-file:<path>"');
    expect(usageError([...files, '--auth', 'kubernetes'])).toBe('error: --auth kubernetes needs --source kubernetes (use --auth none or token-file:<path>)');
  });
});
