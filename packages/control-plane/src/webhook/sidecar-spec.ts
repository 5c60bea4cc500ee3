// Pure: what the injection webhook adds to a pod — the sidecar container (native or regular),
// its projected token volume, and the proxy variables of app containers. Names, ports and paths
// here are a contract with the sidecar's flags (packages/sidecar/src/bin) and docs/injection.md.

export const SIDECAR_NAME = 'skein-sidecar';
export const TOKEN_VOLUME = 'skein-token';
export const TOKEN_DIR = '/var/run/secrets/skein';
/** The audience the control plane checks in sidecar tokens. */
export const TOKEN_AUDIENCE = 'skein';
export const OUTBOUND_PORT = 15001;
export const ADMIN_PORT = 15000;
/** The user of the distroless "nonroot" images. */
export const SIDECAR_UID = 65532;
export const PROXY_URL = `http://127.0.0.1:${OUTBOUND_PORT}`;
/**
 * NO_PROXY cannot name ports, so the pod's own ports are covered by naming the pod's own
 * addresses: loopback (a container calling a neighbour in the pod) and the pod IP (a container
 * calling itself by address). `$(POD_IP)` is expanded by the kubelet from the POD_IP variable the
 * injector adds before it.
 */
export const NO_PROXY = 'localhost,127.0.0.1,::1,$(POD_IP)';

/** Container resources, as Kubernetes quantities. */
export interface SidecarResources {
  requests: { cpu: string; memory: string };
  limits: { memory: string };
}

export const DEFAULT_RESOURCES: SidecarResources = { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } };

/** What the sidecar container depends on beyond the constants above. */
export interface SidecarOptions {
  image: string;
  /** host:port of the control plane's discovery stream. */
  controlPlane: string;
  native: boolean;
  resources: SidecarResources;
}

type EnvVar = { name: string; value: string } | { name: string; valueFrom: { fieldRef: { fieldPath: string } } };

const fieldEnv = (name: string, fieldPath: string): EnvVar => ({ name, valueFrom: { fieldRef: { fieldPath } } });

const readyProbe = (periodSeconds: number, failureThreshold: number): Record<string, unknown> => ({
  httpGet: { path: '/ready', port: ADMIN_PORT },
  periodSeconds,
  failureThreshold,
});

/** Node flags of the injected sidecar (see the env below). */
export const SIDECAR_NODE_OPTIONS = '--max-semi-space-size=4';

/** The kubelet runs this in the sidecar before it starts the next container (regular mode). */
export const WAIT_READY_COMMAND = ['skeinctl', 'wait-ready', '--admin', `127.0.0.1:${ADMIN_PORT}`, '--timeout', '60s'];

/** The sidecar container. Native: an init container that keeps running (restartPolicy Always). */
export function sidecarContainer(options: SidecarOptions): Record<string, unknown> {
  const container: Record<string, unknown> = {
    name: SIDECAR_NAME,
    image: options.image,
    // The image holds all three commands behind ENTRYPOINT tini (PID 1: signals, reaping); args
    // replace only its CMD (skein-control-plane), so tini stays in front of the sidecar.
    args: ['skein-sidecar'],
    env: [
      { name: 'SKEIN_CONTROL_PLANE', value: options.controlPlane },
      fieldEnv('POD_NAME', 'metadata.name'),
      fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
      fieldEnv('POD_IP', 'status.podIP'),
      fieldEnv('NODE_NAME', 'spec.nodeName'),
      { name: 'SKEIN_TOKEN_FILE', value: `${TOKEN_DIR}/token` },
      { name: 'SKEIN_OUTBOUND_ADDRESS', value: '127.0.0.1' },
      // In a 256 Mi container Node gives V8 1 MiB semi-spaces: under load a request's objects
      // then outlive scavenges and GC took 16-18% of the sidecar's CPU; 4 MiB buys most of that
      // back for ~5-10 MiB (BENCHMARKS.md, "Sidecar memory").
      { name: 'NODE_OPTIONS', value: SIDECAR_NODE_OPTIONS },
    ] satisfies EnvVar[],
    ports: [
      { name: 'skein-outbound', containerPort: OUTBOUND_PORT, protocol: 'TCP' },
      { name: 'skein-admin', containerPort: ADMIN_PORT, protocol: 'TCP' },
    ],
    readinessProbe: readyProbe(2, 3),
    // Generous: the sidecar waits for the control plane; a native sidecar holds the pod's start
    // until this succeeds, and a failure restarts the sidecar (Istio uses the same 10 minutes).
    startupProbe: readyProbe(1, 600),
    resources: options.resources,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: SIDECAR_UID,
      runAsGroup: SIDECAR_UID,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [{ name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true }],
  };
  if (options.native) {
    container.restartPolicy = 'Always';
  } else {
    // Containers start in order and the kubelet waits for postStart before starting the next
    // one, so apps placed after the sidecar start once it is ready.
    container.lifecycle = { postStart: { exec: { command: WAIT_READY_COMMAND } } };
  }
  return container;
}

/** The projected volume with a ServiceAccount token for the control plane (audience `skein`). */
export function tokenVolume(): Record<string, unknown> {
  return {
    name: TOKEN_VOLUME,
    projected: { sources: [{ serviceAccountToken: { audience: TOKEN_AUDIENCE, expirationSeconds: 3600, path: 'token' } }] },
  };
}

/**
 * Variables for an app container, in order: POD_IP first so `$(POD_IP)` in NO_PROXY expands.
 * Each group is one setting: when the container sets either spelling of a group, the whole group
 * is left to the user, so a user's NO_PROXY is not shadowed by our no_proxy (curl prefers the
 * lower-case one).
 */
export const APP_ENV_GROUPS: ReadonlyArray<readonly EnvVar[]> = [
  [fieldEnv('POD_IP', 'status.podIP')],
  [{ name: 'HTTP_PROXY', value: PROXY_URL }, { name: 'http_proxy', value: PROXY_URL }],
  [{ name: 'grpc_proxy', value: PROXY_URL }],
  [{ name: 'NO_PROXY', value: NO_PROXY }, { name: 'no_proxy', value: NO_PROXY }],
];
