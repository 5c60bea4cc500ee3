// The webhook's flags and their environment twins (config.ts), as deploy/ manifests set them.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config.js';

const files = ['--source', 'files:/tmp/manifests'];

describe('webhook flags', () => {
  it('has the documented defaults', () => {
    expect(parseConfig(files, {}).webhook).toEqual({
      port: 15017,
      sidecarImage: 'ghcr.io/skein-mesh/skein:0.1.0',
      nativeSidecars: 'auto',
      injectedControlPlane: 'skein-control-plane.skein-system.svc:15010',
      configName: 'skein-sidecar-injector',
      service: 'skein-control-plane.skein-system.svc',
      namespace: 'skein-system',
    });
  });

  it('reads flags, and POD_NAMESPACE for its own namespace', () => {
    const config = parseConfig([
      ...files, '--webhook-port', '0', '--webhook-cert-dir', '/certs', '--sidecar-image', 'img:1', '--native-sidecars', 'false',
      '--injected-control-plane', 'cp.mesh.svc:15010', '--webhook-config-name', 'injector', '--webhook-service', 'cp.mesh.svc.',
    ], { POD_NAMESPACE: 'mesh' });
    expect(config.webhook).toEqual({
      port: 0, certDir: '/certs', sidecarImage: 'img:1', nativeSidecars: 'false', injectedControlPlane: 'cp.mesh.svc:15010',
      configName: 'injector', service: 'cp.mesh.svc', namespace: 'mesh',
    });
  });

  it('reads the environment twins', () => {
    const names = ['SKEIN_WEBHOOK_PORT', 'SKEIN_WEBHOOK_CERT_DIR', 'SKEIN_SIDECAR_IMAGE', 'SKEIN_NATIVE_SIDECARS', 'SKEIN_INJECTED_CONTROL_PLANE', 'SKEIN_WEBHOOK_CONFIG_NAME', 'SKEIN_WEBHOOK_SERVICE'];
    const saved = names.map((n) => process.env[n]);
    Object.assign(process.env, {
      SKEIN_WEBHOOK_PORT: '8443', SKEIN_WEBHOOK_CERT_DIR: '/etc/webhook', SKEIN_SIDECAR_IMAGE: 'img:2', SKEIN_NATIVE_SIDECARS: 'true',
      SKEIN_INJECTED_CONTROL_PLANE: 'cp:1', SKEIN_WEBHOOK_CONFIG_NAME: 'inj', SKEIN_WEBHOOK_SERVICE: 'svc.ns.svc',
    });
    try {
      expect(parseConfig(files, {}).webhook).toMatchObject({
        port: 8443, certDir: '/etc/webhook', sidecarImage: 'img:2', nativeSidecars: 'true', injectedControlPlane: 'cp:1', configName: 'inj', service: 'svc.ns.svc',
      });
    } finally {
      names.forEach((n, i) => {
        if (saved[i] === undefined) delete process.env[n];
        else process.env[n] = saved[i];
      });
    }
  });
});
