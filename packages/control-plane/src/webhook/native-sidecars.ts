// Whether to inject native sidecars (init containers with restartPolicy Always). They are beta
// and on by default from Kubernetes 1.29 (SidecarContainers, KEP-753); older API servers would
// drop the field and run the sidecar as a plain init container that never ends, so pods would
// never start. "auto" asks the API server's /version.
import type { KubeJsonClient } from './kube-json-client.js';

export const NATIVE_SIDECARS_SINCE = { major: 1, minor: 29 };

/** `{major: "1", minor: "29+"}` (managed clusters add "+") -> 1.29; undefined if unreadable. */
export function parseKubeVersion(body: unknown): { major: number; minor: number } | undefined {
  const { major, minor } = (body ?? {}) as { major?: unknown; minor?: unknown };
  const majorNumber = Number.parseInt(String(major), 10);
  const minorNumber = Number.parseInt(String(minor), 10);
  if (!Number.isInteger(majorNumber) || !Number.isInteger(minorNumber)) return undefined;
  return { major: majorNumber, minor: minorNumber };
}

export function supportsNativeSidecars(version: { major: number; minor: number }): boolean {
  return version.major > NATIVE_SIDECARS_SINCE.major
    || (version.major === NATIVE_SIDECARS_SINCE.major && version.minor >= NATIVE_SIDECARS_SINCE.minor);
}

export type NativeSidecarsDecision = { native: boolean; reason: string };

/**
 * The --native-sidecars setting resolved: "true"/"false" as given; "auto" from the API server's
 * version when there is one (files mode: native), and regular containers when the version cannot
 * be read, since they work on every version.
 */
export async function resolveNativeSidecars(setting: 'auto' | 'true' | 'false', client: KubeJsonClient | undefined): Promise<NativeSidecarsDecision> {
  if (setting !== 'auto') return { native: setting === 'true', reason: `--native-sidecars ${setting}` };
  if (!client) return { native: true, reason: 'auto, files mode' };
  const answer = await client.get('/version');
  const version = answer.ok ? parseKubeVersion(answer.body) : undefined;
  if (!version) return { native: false, reason: `auto, the API server version is unknown (${answer.ok ? 'unreadable /version' : answer.message})` };
  return { native: supportsNativeSidecars(version), reason: `auto, Kubernetes ${version.major}.${version.minor}` };
}
