// Pure: what a skeinctl target names — a proxy's admin API given directly, or a pod looked up
// among the proxies the control plane lists (/debug/proxies) by the admin address it reported.
import type { SubscriberJson } from '../snapshot/subscriber.js';

/**
 * `host:port` or a URL is an admin address (a pod name never holds ':'); anything else names a
 * pod as `name`, `namespace/name` or, as istioctl accepts, `name.namespace`.
 */
export type Target =
  | { type: 'admin'; url: string }
  | { type: 'pod'; text: string };

export type Resolution =
  | { type: 'found'; pod: string; url: string }
  | { type: 'error'; message: string };

export function parseTarget(text: string): Target {
  const trimmed = text.trim();
  return trimmed.includes(':') ? { type: 'admin', url: adminBaseUrl(trimmed) } : { type: 'pod', text: trimmed };
}

/** The base URL of an admin API from "host:port" or a URL, without a trailing slash. */
export function adminBaseUrl(address: string): string {
  const url = /^https?:\/\//i.test(address) ? address : `http://${address}`;
  return url.replace(/\/+$/, '');
}

/**
 * The admin API of the proxy in pod `text`. A bare name matches in any namespace (and the node
 * id "<pod>.<namespace>"), so two namespaces with that pod are ambiguous; several streams from
 * one pod (a reconnect the control plane has not noticed yet) resolve to the newest.
 */
export function resolvePod(text: string, proxies: readonly SubscriberJson[]): Resolution {
  const connected = proxies.filter((p) => p.node !== null);
  const slash = text.indexOf('/');
  const matches = connected.filter(({ node }) => {
    if (slash >= 0) return node!.namespace === text.slice(0, slash) && node!.pod === text.slice(slash + 1);
    const dot = text.lastIndexOf('.');
    return node!.pod === text || node!.id === text
      || (dot > 0 && node!.pod === text.slice(0, dot) && node!.namespace === text.slice(dot + 1));
  });
  if (matches.length === 0) {
    return { type: 'error', message: `no proxy of pod "${text}" is connected to the control plane (${connected.length} connected; see skeinctl status)` };
  }
  const pods = [...new Set(matches.map(({ node }) => `${node!.namespace}/${node!.pod}`))].sort();
  if (pods.length > 1) {
    return { type: 'error', message: `pod "${text}" is ambiguous: ${pods.join(', ')}; give it as <namespace>/<name>` };
  }
  const newest = matches.reduce((a, b) => (b.connectedAt > a.connectedAt ? b : a));
  const pod = pods[0]!;
  if (!newest.node!.adminAddress) {
    return { type: 'error', message: `the proxy of pod ${pod} reports no admin address (library mode, or a sidecar too old to report it); give host:port instead` };
  }
  return { type: 'found', pod, url: adminBaseUrl(newest.node!.adminAddress) };
}
