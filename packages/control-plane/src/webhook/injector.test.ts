import { readFileSync } from 'node:fs';
import jsonpatch from 'fast-json-patch';
import { Pod } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { ANNOTATION_INJECTED, escapePointer, injectSidecar, type InjectionSettings } from './injector.js';
import { NO_PROXY, PROXY_URL, WAIT_READY_COMMAND } from './sidecar-spec.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const review = (file: string): { request: { namespace: string; object: Json } } =>
  JSON.parse(readFileSync(new URL(`./testdata/${file}`, import.meta.url), 'utf8'));
const deploymentPod = (): Json => review('deployment-pod-review.json').request.object;
const barePod = (): Json => review('bare-pod-review.json').request.object;

const settings = (over: Partial<InjectionSettings> = {}): InjectionSettings => ({
  image: 'ghcr.io/skein-mesh/skein:0.1.0',
  controlPlane: 'skein-control-plane.skein-system.svc:15010',
  native: true,
  skipNamespaces: ['skein-system', 'kube-system'],
  version: '0.1.0',
  ...over,
});

/** Injects and applies the patch as the API server would; fails the test on a skip. */
function inject(pod: Json, options: Partial<InjectionSettings> = {}, namespace = 'demo'): { pod: Json; warnings: string[] } {
  const result = injectSidecar(pod, namespace, settings(options));
  if (result.type !== 'inject') throw new Error(`skipped: ${result.reason}`);
  const patched = jsonpatch.applyPatch(structuredClone(pod), result.patch, true, false).newDocument as Json;
  return { pod: patched, warnings: result.warnings };
}

const envOf = (container: Json): Record<string, unknown> =>
  Object.fromEntries((container.env as Json[]).map((e) => [e.name, e.value ?? e.valueFrom]));

describe('injectSidecar, native sidecars', () => {
  it('appends the sidecar to initContainers with restartPolicy Always, env, probes, resources and the token', () => {
    const { pod } = inject(deploymentPod());
    const inits = pod.spec.initContainers as Json[];
    expect(inits.map((c) => c.name)).toEqual(['migrate', 'skein-sidecar']);
    const sidecar = inits[1]!;
    expect(sidecar).toMatchObject({
      image: 'ghcr.io/skein-mesh/skein:0.1.0',
      args: ['skein-sidecar'],
      restartPolicy: 'Always',
      startupProbe: { httpGet: { path: '/ready', port: 15000 } },
      readinessProbe: { httpGet: { path: '/ready', port: 15000 } },
      resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
      securityContext: { runAsNonRoot: true, runAsUser: 65532, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
      volumeMounts: [{ name: 'skein-token', mountPath: '/var/run/secrets/skein', readOnly: true }],
    });
    expect(sidecar.ports).toEqual([
      { name: 'skein-outbound', containerPort: 15001, protocol: 'TCP' },
      { name: 'skein-admin', containerPort: 15000, protocol: 'TCP' },
    ]);
    expect(sidecar.lifecycle).toBeUndefined();
    expect(envOf(sidecar)).toEqual({
      SKEIN_CONTROL_PLANE: 'skein-control-plane.skein-system.svc:15010',
      POD_NAME: { fieldRef: { fieldPath: 'metadata.name' } },
      POD_NAMESPACE: { fieldRef: { fieldPath: 'metadata.namespace' } },
      POD_IP: { fieldRef: { fieldPath: 'status.podIP' } },
      NODE_NAME: { fieldRef: { fieldPath: 'spec.nodeName' } },
      SKEIN_TOKEN_FILE: '/var/run/secrets/skein/token',
      SKEIN_OUTBOUND_ADDRESS: '127.0.0.1',
      NODE_OPTIONS: '--max-semi-space-size=4',
    });
    expect(pod.spec.volumes.map((v: Json) => v.name)).toEqual(['kube-api-access-x7k2p', 'skein-token']);
    expect(pod.spec.volumes[1]).toEqual({
      name: 'skein-token',
      projected: { sources: [{ serviceAccountToken: { audience: 'skein', expirationSeconds: 3600, path: 'token' } }] },
    });
    expect(pod.spec.containers.map((c: Json) => c.name)).toEqual(['web', 'metrics-exporter']);
    expect(pod.metadata.annotations).toEqual({ [ANNOTATION_INJECTED]: '0.1.0' });
  });

  it('gives app containers the proxy variables and keeps what the user set', () => {
    const { pod } = inject(deploymentPod());
    const [web, exporter] = pod.spec.containers as Json[];
    // The user's HTTP_PROXY wins, and with it http_proxy stays unset (one setting, two spellings).
    expect(envOf(web!)).toEqual({
      LOG_FORMAT: 'json',
      HTTP_PROXY: 'http://corporate-proxy:3128',
      POD_IP: { fieldRef: { fieldPath: 'status.podIP' } },
      grpc_proxy: PROXY_URL,
      NO_PROXY,
      no_proxy: NO_PROXY,
    });
    expect((exporter!.env as Json[]).map((e) => e.name)).toEqual(['POD_IP', 'HTTP_PROXY', 'http_proxy', 'grpc_proxy', 'NO_PROXY', 'no_proxy']);
    expect(envOf(exporter!)).toMatchObject({ HTTP_PROXY: 'http://127.0.0.1:15001', NO_PROXY: 'localhost,127.0.0.1,::1,$(POD_IP)' });
    // Init containers run before the sidecar: no proxy for them.
    expect(pod.spec.initContainers[0].env).toBeUndefined();
  });

  it('produces a pod that is valid against the Kubernetes schema', () => {
    const { pod } = inject(deploymentPod());
    delete pod.metadata.creationTimestamp; // null in the API server's JSON, not in the schema
    expect(() => new Pod(pod as never).validate()).not.toThrow();
  });

  it('creates initContainers, volumes, env and annotations when the pod has none', () => {
    const { pod } = inject(barePod(), {}, 'jobs');
    expect(pod.spec.initContainers.map((c: Json) => c.name)).toEqual(['skein-sidecar']);
    expect(pod.spec.volumes.map((v: Json) => v.name)).toEqual(['skein-token']);
    expect(pod.metadata.annotations).toEqual({ 'skein.io/injected': '0.1.0' });
    expect(envOf(pod.spec.containers[0])).toMatchObject({ HTTP_PROXY: PROXY_URL, http_proxy: PROXY_URL, grpc_proxy: PROXY_URL });
    expect(() => new Pod(pod as never).validate()).not.toThrow();
  });

  it('a second pass changes nothing', () => {
    const { pod } = inject(deploymentPod());
    expect(injectSidecar(pod, 'demo', settings())).toEqual({ type: 'skip', reason: 'already has a skein-sidecar container' });
    const regular = inject(deploymentPod(), { native: false }).pod;
    expect(injectSidecar(regular, 'demo', settings({ native: true })).type).toBe('skip');
  });
});

describe('injectSidecar, regular containers', () => {
  it('puts the sidecar first with a postStart hold, and shifts nothing it should not', () => {
    const { pod } = inject(deploymentPod(), { native: false });
    const containers = pod.spec.containers as Json[];
    expect(containers.map((c) => c.name)).toEqual(['skein-sidecar', 'web', 'metrics-exporter']);
    expect(containers[0]!.restartPolicy).toBeUndefined();
    expect(containers[0]!.lifecycle).toEqual({ postStart: { exec: { command: WAIT_READY_COMMAND } } });
    expect(WAIT_READY_COMMAND).toEqual(['skeinctl', 'wait-ready', '--admin', '127.0.0.1:15000', '--timeout', '60s']);
    expect(envOf(containers[1]!)).toMatchObject({ LOG_FORMAT: 'json', grpc_proxy: PROXY_URL });
    expect(envOf(containers[2]!)).toMatchObject({ http_proxy: PROXY_URL });
    expect(envOf(containers[0]!).HTTP_PROXY).toBeUndefined();
    expect(pod.spec.initContainers.map((c: Json) => c.name)).toEqual(['migrate']);
    // kubectl logs/exec without -c keep meaning the app, not the sidecar now first.
    expect(pod.metadata.annotations).toEqual({ 'skein.io/injected': '0.1.0', 'kubectl.kubernetes.io/default-container': 'web' });
    const chosen = barePod();
    chosen.metadata.annotations = { 'kubectl.kubernetes.io/default-container': 'other' };
    expect(inject(chosen, { native: false }, 'jobs').pod.metadata.annotations['kubectl.kubernetes.io/default-container']).toBe('other');
    expect(() => new Pod({ ...pod, metadata: { generateName: 'web-' } } as never).validate()).not.toThrow();
  });
});

describe('injectSidecar, pods left alone', () => {
  it('skips opted-out pods', () => {
    for (const value of ['false', 'False', ' false ']) {
      const pod = deploymentPod();
      pod.metadata.annotations = { 'skein.io/inject': value };
      expect(injectSidecar(pod, 'demo', settings())).toEqual({ type: 'skip', reason: 'opted out (skein.io/inject: "false")' });
    }
    const optedIn = deploymentPod();
    optedIn.metadata.annotations = { 'skein.io/inject': 'true' };
    expect(injectSidecar(optedIn, 'demo', settings()).type).toBe('inject');
  });

  it('skips the control plane\'s namespace and kube-system, by the request namespace', () => {
    expect(injectSidecar(deploymentPod(), 'kube-system', settings())).toEqual({ type: 'skip', reason: 'namespace kube-system is never injected' });
    expect(injectSidecar(deploymentPod(), 'skein-system', settings()).type).toBe('skip');
  });

  it('skips hostNetwork pods', () => {
    const pod = deploymentPod();
    pod.spec.hostNetwork = true;
    expect(injectSidecar(pod, 'demo', settings())).toEqual({ type: 'skip', reason: 'hostNetwork pod' });
  });

  it('skips a pod whose init containers already hold a skein-sidecar', () => {
    const pod = barePod();
    pod.spec.initContainers = [{ name: 'skein-sidecar', image: 'custom' }];
    expect(injectSidecar(pod, 'jobs', settings()).type).toBe('skip');
  });
});

describe('injectSidecar, details', () => {
  it('takes resource requests from annotations and warns about bad ones', () => {
    const pod = barePod();
    pod.metadata.annotations = { 'skein.io/sidecar-cpu': '200m', 'skein.io/sidecar-memory': '512Mi' };
    const { pod: patched, warnings } = inject(pod, {}, 'jobs');
    expect(patched.spec.initContainers[0].resources).toEqual({ requests: { cpu: '200m', memory: '512Mi' }, limits: { memory: '512Mi' } });
    expect(warnings).toEqual([]);
    const bad = barePod();
    bad.metadata.annotations = { 'skein.io/sidecar-cpu': 'lots' };
    const result = inject(bad, {}, 'jobs');
    expect(result.pod.spec.initContainers[0].resources.requests.cpu).toBe('50m');
    expect(result.warnings).toEqual(['skein: annotation skein.io/sidecar-cpu="lots" is not a CPU quantity (e.g. 100m); using 50m']);
  });

  it('leaves a POD_IP the user set and still puts the proxy variables after it', () => {
    const pod = barePod();
    pod.spec.containers[0].env = [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }, { name: 'no_proxy', value: 'internal' }];
    const { pod: patched } = inject(pod, {}, 'jobs');
    expect(patched.spec.containers[0].env.map((e: Json) => e.name)).toEqual(['POD_IP', 'no_proxy', 'HTTP_PROXY', 'http_proxy', 'grpc_proxy']);
  });

  it('adds metadata.annotations next to existing ones, escaping the key', () => {
    const pod = barePod();
    pod.metadata.annotations = { owner: 'team-a' };
    const result = injectSidecar(pod, 'jobs', settings());
    expect(result.type === 'inject' && result.patch).toContainEqual({ op: 'add', path: '/metadata/annotations/skein.io~1injected', value: '0.1.0' });
    expect(inject(pod, {}, 'jobs').pod.metadata.annotations).toEqual({ owner: 'team-a', 'skein.io/injected': '0.1.0' });
    expect(escapePointer('a~b/c')).toBe('a~0b~1c');
  });

  it('reuses a volume already named skein-token, with a warning', () => {
    const pod = barePod();
    pod.spec.volumes = [{ name: 'skein-token', emptyDir: {} }];
    const { pod: patched, warnings } = inject(pod, {}, 'jobs');
    expect(patched.spec.volumes).toHaveLength(1);
    expect(warnings[0]).toMatch(/already has a volume named skein-token/);
  });
});
