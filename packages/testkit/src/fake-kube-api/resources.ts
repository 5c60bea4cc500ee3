// The resource types the fake Kubernetes API serves, and how request paths map onto them.
// Paths follow the real API server: /api/v1/... for the core group, /apis/{group}/{version}/...
// for named groups; namespaced resources also answer cluster-wide.

/** One served resource type (a row of the API server's discovery document). */
export interface ResourceType {
  /** Kind of one object, e.g. "Service". */
  readonly kind: string;
  /** Kind of a list, e.g. "ServiceList". */
  readonly listKind: string;
  /** Lower-case plural used in paths, e.g. "services". */
  readonly plural: string;
  /** API group; "" for core. */
  readonly group: string;
  readonly version: string;
  readonly namespaced: boolean;
}

/** Kinds the fake serves. */
export type FakeKind = 'Service' | 'Endpoints' | 'Node' | 'Pod' | 'EndpointSlice' | 'Secret' | 'Lease' | 'MutatingWebhookConfiguration';

export const RESOURCE_TYPES: readonly ResourceType[] = [
  { kind: 'Service', listKind: 'ServiceList', plural: 'services', group: '', version: 'v1', namespaced: true },
  { kind: 'Endpoints', listKind: 'EndpointsList', plural: 'endpoints', group: '', version: 'v1', namespaced: true },
  { kind: 'Node', listKind: 'NodeList', plural: 'nodes', group: '', version: 'v1', namespaced: false },
  { kind: 'Pod', listKind: 'PodList', plural: 'pods', group: '', version: 'v1', namespaced: true },
  {
    kind: 'EndpointSlice',
    listKind: 'EndpointSliceList',
    plural: 'endpointslices',
    group: 'discovery.k8s.io',
    version: 'v1',
    namespaced: true,
  },
  // For the injection webhook's certificate: Secret, Lease, MutatingWebhookConfiguration.
  { kind: 'Secret', listKind: 'SecretList', plural: 'secrets', group: '', version: 'v1', namespaced: true },
  { kind: 'Lease', listKind: 'LeaseList', plural: 'leases', group: 'coordination.k8s.io', version: 'v1', namespaced: true },
  {
    kind: 'MutatingWebhookConfiguration',
    listKind: 'MutatingWebhookConfigurationList',
    plural: 'mutatingwebhookconfigurations',
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    namespaced: false,
  },
];

/** "v1" for core, "group/version" otherwise: the `apiVersion` field of objects of this type. */
export function apiVersionOf(type: ResourceType): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

/** Looks a resource type up by kind; undefined for kinds the fake does not serve. */
export function resourceByKind(kind: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => t.kind === kind);
}

/** A request path resolved against the resource table. */
export type ResourcePath =
  /** A collection, cluster-wide (`namespace` undefined) or in one namespace. */
  | { type: 'collection'; resource: ResourceType; namespace?: string }
  /** One named object. */
  | { type: 'object'; resource: ResourceType; namespace?: string; name: string };

/**
 * Resolves `/api/v1/[namespaces/{ns}/]{plural}[/{name}]` and the `/apis/{group}/{version}/...`
 * equivalent. Returns undefined for paths that name no served resource (the server answers 404).
 */
export function parseResourcePath(path: string): ResourcePath | undefined {
  const parts = path.split('/').filter((p) => p !== '').map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) {
    group = '';
    version = parts[1]!;
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    group = parts[1]!;
    version = parts[2]!;
    rest = parts.slice(3);
  } else {
    return undefined;
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1]!;
    rest = rest.slice(2);
  }
  const resource = RESOURCE_TYPES.find((t) => t.group === group && t.version === version && t.plural === rest[0]);
  if (!resource || rest.length > 2) return undefined;
  if (namespace !== undefined && !resource.namespaced) return undefined;
  if (rest.length === 2) return { type: 'object', resource, namespace, name: rest[1]! };
  return { type: 'collection', resource, namespace };
}
