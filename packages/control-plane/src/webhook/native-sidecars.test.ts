import { describe, expect, it } from 'vitest';
import type { KubeJsonClient, KubeResponse } from './kube-json-client.js';
import { parseKubeVersion, resolveNativeSidecars, supportsNativeSidecars } from './native-sidecars.js';

const versionClient = (answer: KubeResponse): KubeJsonClient => {
  const fail = () => Promise.reject(new Error('unexpected'));
  return { get: async () => answer as never, create: fail, replace: fail, patch: fail };
};

describe('native sidecars', () => {
  it('reads /version as managed clusters write it', () => {
    expect(parseKubeVersion({ major: '1', minor: '29+', gitVersion: 'v1.29.4-gke.1043002' })).toEqual({ major: 1, minor: 29 });
    expect(parseKubeVersion({ major: '1', minor: '' })).toBeUndefined();
    expect(parseKubeVersion(undefined)).toBeUndefined();
  });

  it('needs 1.29 or newer', () => {
    expect(supportsNativeSidecars({ major: 1, minor: 28 })).toBe(false);
    expect(supportsNativeSidecars({ major: 1, minor: 29 })).toBe(true);
    expect(supportsNativeSidecars({ major: 2, minor: 0 })).toBe(true);
  });

  it('resolves auto from the API server, falling back to regular containers', async () => {
    expect(await resolveNativeSidecars('true', undefined)).toEqual({ native: true, reason: '--native-sidecars true' });
    expect(await resolveNativeSidecars('false', versionClient({ ok: true, status: 200, body: { major: '1', minor: '33' } }))).toMatchObject({ native: false });
    expect(await resolveNativeSidecars('auto', undefined)).toEqual({ native: true, reason: 'auto, files mode' });
    expect(await resolveNativeSidecars('auto', versionClient({ ok: true, status: 200, body: { major: '1', minor: '28' } }))).toEqual({ native: false, reason: 'auto, Kubernetes 1.28' });
    expect(await resolveNativeSidecars('auto', versionClient({ ok: true, status: 200, body: { major: '1', minor: '31+' } }))).toEqual({ native: true, reason: 'auto, Kubernetes 1.31' });
    expect(await resolveNativeSidecars('auto', versionClient({ ok: false, status: 0, message: 'GET /version: connect ECONNREFUSED' }))).toEqual({
      native: false, reason: 'auto, the API server version is unknown (GET /version: connect ECONNREFUSED)',
    });
  });
});
