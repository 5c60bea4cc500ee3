// Whether a host the config does not know still looks like a mesh name, and which Service
// resource to subscribe on demand for it. Kubernetes DNS semantics: names under
// `svc.<cluster domain>`, and the short forms a pod's DNS search path expands into them.
import { isDnsLabel, resourceName } from '@skein/protocol';

export interface MeshNameContext {
  /** The client's namespace: the first DNS search domain is `<namespace>.svc.<domain>`. */
  readonly namespace: string;
  readonly clusterDomain: string;
  /** Whether any known Service lives in `namespace` (the client's own always counts). */
  knowsNamespace(namespace: string): boolean;
  /** Whether the config holds the Service with this resource name. */
  knowsService(resource: string): boolean;
}

/**
 * A mesh-looking name: `resource` is the Service to subscribe ("<ns>/<name>"), or undefined
 * when the name is under the cluster domain but is no Service name form (`x.cluster.local`).
 */
export interface MeshName {
  readonly resource: string | undefined;
}

const NOT_A_SERVICE: MeshName = Object.freeze({ resource: undefined });

/**
 * Classifies a normalized host that is neither a known name nor an IP. Mesh names:
 * `*.svc` and `*.svc.<domain>` (2 labels before: a Service; 3: a headless endpoint of one),
 * anything under `<domain>`, a single DNS label (a Service of the client's namespace, as the
 * first search domain makes it; `localhost` excepted), `a.b` and `h.a.b` where `b` is a
 * known namespace, and `h.a` where `a` is a Service of the client's namespace. Returns
 * undefined for everything else (`example.com`): the caller passes it through or refuses it.
 */
export function meshNameOf(host: string, context: MeshNameContext): MeshName | undefined {
  const domainSuffix = `.svc.${context.clusterDomain}`;
  let rest: string | undefined;
  if (host.endsWith(domainSuffix)) rest = host.slice(0, -domainSuffix.length);
  else if (host.endsWith('.svc')) rest = host.slice(0, -4);
  if (rest !== undefined) {
    const labels = rest.split('.');
    if (!labels.every(isDnsLabel)) return NOT_A_SERVICE;
    // <svc>.<ns> or <hostname>.<svc>.<ns>: the Service is the last two labels.
    if (labels.length === 2 || labels.length === 3) return serviceOf(labels.at(-2)!, labels.at(-1)!);
    return NOT_A_SERVICE;
  }
  if (host === context.clusterDomain || host.endsWith(`.${context.clusterDomain}`)) return NOT_A_SERVICE;
  const labels = host.split('.');
  if (!labels.every(isDnsLabel)) return undefined;
  const [first, second, third] = labels;
  switch (labels.length) {
    case 1:
      // Service names are DNS-1035 labels: they start with a letter ("10" is no Service).
      return first === 'localhost' || !/^[a-z]/.test(first!) ? undefined : serviceOf(first!, context.namespace);
    case 2:
      // <svc>.<ns> (second search domain), else <hostname>.<svc> in the client's namespace.
      if (context.knowsNamespace(second!)) return serviceOf(first!, second!);
      if (context.knowsService(resourceName(context.namespace, second!))) return serviceOf(second!, context.namespace);
      return undefined;
    case 3:
      return context.knowsNamespace(third!) ? serviceOf(second!, third!) : undefined;
    default:
      return undefined;
  }
}

function serviceOf(name: string, namespace: string): MeshName {
  return { resource: resourceName(namespace, name) };
}
