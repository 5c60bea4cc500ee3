// Pure: a Pod (as the API server sends it to the webhook) -> the RFC 6902 operations that add the
// Skein sidecar, or the reason it is left alone. No I/O: the webhook handler calls this with the
// AdmissionReview's object and namespace, and tests apply the patch with a JSON-patch library.
import { sidecarResources } from './sidecar-resources.js';
import { APP_ENV_GROUPS, SIDECAR_NAME, sidecarContainer, TOKEN_VOLUME, tokenVolume } from './sidecar-spec.js';

export const ANNOTATION_INJECT = 'skein.io/inject';
export const ANNOTATION_INJECTED = 'skein.io/injected';
/** Which container `kubectl logs/exec` pick without -c; the sidecar first would otherwise win. */
export const ANNOTATION_DEFAULT_CONTAINER = 'kubectl.kubernetes.io/default-container';

/** How sidecars are injected; fixed for the life of the webhook. */
export interface InjectionSettings {
  image: string;
  /** host:port of the discovery stream, as the sidecar reaches it. */
  controlPlane: string;
  /** Native sidecar (Kubernetes 1.29+) or a regular first container with a start-up hold. */
  native: boolean;
  /** Namespaces never injected: the control plane's own and kube-system. */
  skipNamespaces: readonly string[];
  /** Written to the `skein.io/injected` annotation. */
  version: string;
}

/** The only operation the injector emits; `path` is a JSON pointer (RFC 6901). */
export interface PatchOperation {
  op: 'add';
  path: string;
  value: unknown;
}

export type InjectionMode = 'native' | 'regular';

export type InjectionResult =
  | { type: 'skip'; reason: string }
  | { type: 'inject'; mode: InjectionMode; patch: PatchOperation[]; warnings: string[] };

type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const records = (value: unknown): Json[] => (Array.isArray(value) ? value.filter(isRecord) : []);

/** Escapes one JSON-pointer token: `skein.io/injected` -> `skein.io~1injected`. */
export function escapePointer(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isRecord(value)) for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** Why this pod gets no sidecar, or undefined when it should get one. */
function skipReason(pod: Json, namespace: string, settings: InjectionSettings): string | undefined {
  const spec = isRecord(pod.spec) ? pod.spec : {};
  if (settings.skipNamespaces.includes(namespace)) return `namespace ${namespace} is never injected`;
  const annotations = stringMap(isRecord(pod.metadata) ? pod.metadata.annotations : undefined);
  if (annotations[ANNOTATION_INJECT]?.trim().toLowerCase() === 'false') return `opted out (${ANNOTATION_INJECT}: "false")`;
  // The pod shares the node's network: a proxy on 127.0.0.1:15001 would be the node's.
  if (spec.hostNetwork === true) return 'hostNetwork pod';
  const names = [...records(spec.containers), ...records(spec.initContainers)].map((c) => c.name);
  if (names.includes(SIDECAR_NAME)) return `already has a ${SIDECAR_NAME} container`;
  return undefined;
}

/** Adds `value` to the array at `path`, creating the array when the pod has none. */
function append(patch: PatchOperation[], path: string, existing: unknown, value: unknown): void {
  if (Array.isArray(existing)) patch.push({ op: 'add', path: `${path}/-`, value });
  else patch.push({ op: 'add', path, value: [value] });
}

/** Proxy variables for each app container; a variable group the user set is left alone. */
function appEnvPatch(containers: Json[]): PatchOperation[] {
  const patch: PatchOperation[] = [];
  containers.forEach((container, index) => {
    const env = container.env;
    const present = new Set(records(env).map((e) => e.name));
    const added = APP_ENV_GROUPS.filter((group) => !group.some((v) => present.has(v.name))).flat();
    if (added.length === 0) return;
    const path = `/spec/containers/${index}/env`;
    if (Array.isArray(env)) for (const variable of added) patch.push({ op: 'add', path: `${path}/-`, value: variable });
    else patch.push({ op: 'add', path, value: added });
  });
  return patch;
}

/**
 * The patch that injects the sidecar into `pod`, created in `namespace` (the AdmissionReview's
 * request.namespace: a pod from a Deployment has no metadata.namespace yet), or why it is
 * skipped. Skipped: system namespaces, `skein.io/inject: "false"`, hostNetwork pods and pods that
 * already have the sidecar, so a second pass changes nothing.
 *
 * App containers (every regular container) get HTTP_PROXY/http_proxy, grpc_proxy and
 * NO_PROXY/no_proxy; init containers get none, as the sidecar is not there for them in regular
 * mode and runs after them in native mode (it is appended to initContainers).
 */
export function injectSidecar(pod: Json, namespace: string, settings: InjectionSettings): InjectionResult {
  const reason = skipReason(pod, namespace, settings);
  if (reason) return { type: 'skip', reason };
  const metadata = isRecord(pod.metadata) ? pod.metadata : undefined;
  const spec = isRecord(pod.spec) ? pod.spec : {};
  const { resources, warnings } = sidecarResources(stringMap(metadata?.annotations));
  const mode: InjectionMode = settings.native ? 'native' : 'regular';
  const container = sidecarContainer({ image: settings.image, controlPlane: settings.controlPlane, native: settings.native, resources });

  // App container indices are the pod's own: these operations come before the sidecar insert
  // at /spec/containers/0 (regular mode) shifts them.
  const patch = appEnvPatch(records(spec.containers));

  const added: Record<string, string> = { [ANNOTATION_INJECTED]: settings.version };
  const firstApp = records(spec.containers)[0]?.name;
  const annotations = isRecord(metadata?.annotations) ? metadata.annotations : undefined;
  if (!settings.native && typeof firstApp === 'string' && annotations?.[ANNOTATION_DEFAULT_CONTAINER] === undefined) {
    added[ANNOTATION_DEFAULT_CONTAINER] = firstApp;
  }
  if (!metadata) patch.push({ op: 'add', path: '/metadata', value: { annotations: added } });
  else if (!annotations) patch.push({ op: 'add', path: '/metadata/annotations', value: added });
  else for (const [key, value] of Object.entries(added)) patch.push({ op: 'add', path: `/metadata/annotations/${escapePointer(key)}`, value });

  if (records(spec.volumes).some((v) => v.name === TOKEN_VOLUME)) {
    warnings.push(`skein: the pod already has a volume named ${TOKEN_VOLUME}; the sidecar mounts it as its token directory`);
  } else {
    append(patch, '/spec/volumes', spec.volumes, tokenVolume());
  }

  if (settings.native) append(patch, '/spec/initContainers', spec.initContainers, container);
  else patch.push({ op: 'add', path: '/spec/containers/0', value: container });
  return { type: 'inject', mode, patch, warnings };
}
