// The Kubernetes objects the model reads, as they arrive in JSON (files) or from the
// informers: only the fields Skein uses, every one optional because input is untrusted.
// Shapes follow the Kubernetes API (core/v1, discovery.k8s.io/v1); names are the API's.

export type KubeKind = 'Service' | 'EndpointSlice' | 'Endpoints' | 'Node' | 'Pod';
export const KUBE_KINDS: readonly KubeKind[] = ['Service', 'EndpointSlice', 'Endpoints', 'Node', 'Pod'];

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  deletionTimestamp?: string | Date;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

export interface ServicePortSpec {
  name?: string;
  protocol?: string;
  appProtocol?: string;
  port?: number;
  targetPort?: number | string;
  nodePort?: number;
}

export interface ServiceObject extends KubeObject {
  spec?: {
    type?: string;
    selector?: Record<string, string>;
    clusterIP?: string;
    clusterIPs?: string[];
    externalName?: string;
    externalIPs?: string[];
    ports?: ServicePortSpec[];
    sessionAffinity?: string;
    sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
    internalTrafficPolicy?: string;
    externalTrafficPolicy?: string;
    trafficDistribution?: string;
    publishNotReadyAddresses?: boolean;
    ipFamilies?: string[];
  };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } };
}

export interface EndpointSliceObject extends KubeObject {
  addressType?: string;
  endpoints?: Array<{
    addresses?: string[];
    conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
    hostname?: string;
    nodeName?: string;
    zone?: string;
    hints?: { forZones?: Array<{ name?: string }>; forNodes?: Array<{ name?: string }> };
    targetRef?: { kind?: string; namespace?: string; name?: string };
  }>;
  ports?: Array<{ name?: string | null; port?: number | null; protocol?: string; appProtocol?: string }>;
}

export interface EndpointsObject extends KubeObject {
  subsets?: Array<{
    addresses?: EndpointAddress[];
    notReadyAddresses?: EndpointAddress[];
    ports?: Array<{ name?: string; port?: number; protocol?: string; appProtocol?: string }>;
  }>;
}

export interface EndpointAddress {
  ip?: string;
  hostname?: string;
  nodeName?: string;
  targetRef?: { kind?: string; namespace?: string; name?: string };
}

/** Only metadata.labels (topology.kubernetes.io/zone, /region) is read from a Node. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- a named kind, fields to come
export interface NodeObject extends KubeObject {}

export interface PodObject extends KubeObject {
  spec?: {
    nodeName?: string;
    hostname?: string;
    subdomain?: string;
    containers?: ContainerSpec[];
    /** Sidecar containers (restartPolicy Always) also serve named ports. */
    initContainers?: ContainerSpec[];
  };
  status?: {
    phase?: string;
    podIP?: string;
    podIPs?: Array<{ ip?: string }>;
    conditions?: Array<{ type?: string; status?: string }>;
  };
}

export interface ContainerSpec {
  name?: string;
  restartPolicy?: string;
  ports?: Array<{ name?: string; containerPort?: number; protocol?: string }>;
}

/** The object type of each kind. */
export interface KubeObjectByKind {
  Service: ServiceObject;
  EndpointSlice: EndpointSliceObject;
  Endpoints: EndpointsObject;
  Node: NodeObject;
  Pod: PodObject;
}

/** Label an EndpointSlice carries to name its Service (discovery.k8s.io/v1). */
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
/** Well-known Node topology labels. */
export const LABEL_ZONE = 'topology.kubernetes.io/zone';
export const LABEL_REGION = 'topology.kubernetes.io/region';
/** Service annotations that turn on topology-aware routing (the second is deprecated). */
export const ANNOTATION_TOPOLOGY_MODE = 'service.kubernetes.io/topology-mode';
export const ANNOTATION_TOPOLOGY_AWARE_HINTS = 'service.kubernetes.io/topology-aware-hints';

/** Identity of an object: cluster-scoped kinds (Node) have namespace "". */
export interface ObjectRef {
  kind: KubeKind;
  namespace: string;
  name: string;
}

export function refKey(ref: ObjectRef): string {
  return `${ref.kind}/${ref.namespace}/${ref.name}`;
}

export function describeRef(ref: ObjectRef): string {
  return ref.namespace ? `${ref.kind} "${ref.namespace}/${ref.name}"` : `${ref.kind} "${ref.name}"`;
}
