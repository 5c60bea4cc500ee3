// A kubeconfig that points a real Kubernetes client at the fake API server.
import { stringify } from 'yaml';

/** What the kubeconfig names: the server URL and the bearer token the fake expects. */
export interface KubeconfigTarget {
  server: string;
  token: string;
  /** Default namespace of the context; omitted when undefined. */
  namespace?: string;
}

/**
 * Renders a kubeconfig (YAML) with one cluster, user and current context named "fake".
 * `insecure-skip-tls-verify` is set because client-node refuses plain http:// servers otherwise.
 */
export function renderKubeconfig(target: KubeconfigTarget): string {
  const context: Record<string, string> = { cluster: 'fake', user: 'fake' };
  if (target.namespace !== undefined) context.namespace = target.namespace;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'fake', cluster: { server: target.server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'fake', user: { token: target.token } }],
    contexts: [{ name: 'fake', context }],
    'current-context': 'fake',
    preferences: {},
  });
}
