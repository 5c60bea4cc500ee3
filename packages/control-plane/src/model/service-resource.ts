// Service object -> protocol Service resource: the fields kube-proxy and DNS honor, plus the
// mesh policy from skein.io/* annotations (ARCHITECTURE sections 4 and 5).
import {
  Protocol, resourceName, ServiceType, SessionAffinity, TrafficDistribution, TrafficPolicy,
  type ServiceInit, type ServicePort,
} from '@skein/protocol';
import { parseMeshPolicy } from './annotations.js';
import { ANNOTATION_TOPOLOGY_AWARE_HINTS, ANNOTATION_TOPOLOGY_MODE, type ServiceObject } from './kube-objects.js';

/** Default ClientIP affinity timeout: 3 hours (core/v1 DefaultClientIPServiceAffinitySeconds). */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10_800;

const SERVICE_TYPES: Readonly<Record<string, ServiceInit['type']>> = {
  ClusterIP: ServiceType.SERVICE_TYPE_CLUSTER_IP,
  NodePort: ServiceType.SERVICE_TYPE_NODE_PORT,
  LoadBalancer: ServiceType.SERVICE_TYPE_LOAD_BALANCER,
  ExternalName: ServiceType.SERVICE_TYPE_EXTERNAL_NAME,
};

type ProtocolValue = NonNullable<ServicePort['protocol']>;
const PROTOCOLS: Readonly<Record<string, ProtocolValue>> = {
  TCP: Protocol.PROTOCOL_TCP, UDP: Protocol.PROTOCOL_UDP, SCTP: Protocol.PROTOCOL_SCTP,
};

/** The protocol enum of a Kubernetes protocol name; TCP when absent. */
export function protocolOf(name: string | undefined | null): ProtocolValue {
  return PROTOCOLS[name ?? 'TCP'] ?? Protocol.PROTOCOL_TCP;
}

/** type ExternalName: a DNS alias with no endpoints. */
export function isExternalName(service: ServiceObject): boolean {
  return service.spec?.type === 'ExternalName';
}

/** clusterIP "None" (or clusterIPs ["None"]): no VIP, DNS names per endpoint. */
export function isHeadless(service: ServiceObject): boolean {
  return !isExternalName(service) && (service.spec?.clusterIP === 'None' || service.spec?.clusterIPs?.[0] === 'None');
}

/** A non-empty spec.selector: endpoints come from Pods (via slices or derived here). */
export function hasSelector(service: ServiceObject): boolean {
  return Object.keys(service.spec?.selector ?? {}).length > 0;
}

/**
 * PreferSameZone and its older alias PreferClose map to PREFER_SAME_ZONE. Unknown values are
 * ignored, as Kubernetes does so that new values do not break old consumers.
 */
export function trafficDistributionOf(service: ServiceObject): NonNullable<ServiceInit['trafficDistribution']> {
  switch (service.spec?.trafficDistribution) {
    case 'PreferSameZone':
    case 'PreferClose':
      return TrafficDistribution.TRAFFIC_DISTRIBUTION_PREFER_SAME_ZONE;
    case 'PreferSameNode':
      return TrafficDistribution.TRAFFIC_DISTRIBUTION_PREFER_SAME_NODE;
    default:
      return TrafficDistribution.TRAFFIC_DISTRIBUTION_UNSPECIFIED;
  }
}

/**
 * Topology-aware routing is on when `service.kubernetes.io/topology-mode` is Auto; only when
 * that annotation is absent is the deprecated `topology-aware-hints` read. Like the
 * endpoint-slice controller, "Auto" and "auto" are accepted, other spellings are not.
 */
export function topologyAwareRouting(service: ServiceObject): boolean {
  const annotations = service.metadata?.annotations ?? {};
  const mode = annotations[ANNOTATION_TOPOLOGY_MODE] ?? annotations[ANNOTATION_TOPOLOGY_AWARE_HINTS];
  return mode === 'Auto' || mode === 'auto';
}

/** Translates a validated Service object into its protocol resource. */
export function serviceResource(service: ServiceObject): ServiceInit {
  const spec = service.spec ?? {};
  const namespace = service.metadata!.namespace!;
  const name = resourceName(namespace, service.metadata!.name!);
  const externalName = isExternalName(service);
  const headless = isHeadless(service);
  const trafficDistribution = trafficDistributionOf(service);
  const policy = parseMeshPolicy(service.metadata?.annotations, {
    trafficDistribution: trafficDistribution !== TrafficDistribution.TRAFFIC_DISTRIBUTION_UNSPECIFIED,
  });
  // Stored objects passed validateObject, which checks the annotations.
  if (!policy.ok) throw new Error(`bug: Service "${name}" was stored with bad annotations: ${policy.reasons.join('; ')}`);
  const clientIP = spec.sessionAffinity === 'ClientIP';
  return {
    name,
    namespace,
    type: SERVICE_TYPES[spec.type ?? 'ClusterIP'] ?? ServiceType.SERVICE_TYPE_CLUSTER_IP,
    clusterIps: externalName || headless ? [] : clusterIPs(service),
    headless,
    externalName: externalName ? (spec.externalName ?? '') : '',
    ports: (spec.ports ?? []).map((port) => ({
      name: port.name ?? '',
      port: port.port!,
      protocol: protocolOf(port.protocol),
      appProtocol: port.appProtocol ?? '',
      // Why: targetPort defaults to `port`; a name is resolved per pod (core/v1 ServicePort).
      ...(typeof port.targetPort === 'string'
        ? { targetPortName: port.targetPort }
        : { targetPortNumber: port.targetPort ?? port.port! }),
      nodePort: port.nodePort ?? 0,
    })),
    sessionAffinity: clientIP ? SessionAffinity.SESSION_AFFINITY_CLIENT_IP : SessionAffinity.SESSION_AFFINITY_NONE,
    sessionAffinityTimeoutSeconds: clientIP
      ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS)
      : 0,
    internalTrafficPolicy: trafficPolicyOf(spec.internalTrafficPolicy),
    // Only meaningful for NodePort and LoadBalancer; carried as given for the gateway.
    externalTrafficPolicy: trafficPolicyOf(spec.externalTrafficPolicy),
    trafficDistribution,
    topologyAwareRouting: topologyAwareRouting(service),
    publishNotReadyAddresses: spec.publishNotReadyAddresses === true,
    loadBalancerIngress: loadBalancerIngress(service),
    externalIps: [...(spec.externalIPs ?? [])],
    hasSelector: hasSelector(service),
    policy: policy.policy,
  };
}

function trafficPolicyOf(value: string | undefined): NonNullable<ServiceInit['internalTrafficPolicy']> {
  return value === 'Local' ? TrafficPolicy.TRAFFIC_POLICY_LOCAL : TrafficPolicy.TRAFFIC_POLICY_CLUSTER;
}

/** spec.clusterIPs, else spec.clusterIP (older objects); empty when unallocated. */
function clusterIPs(service: ServiceObject): string[] {
  const ips = service.spec?.clusterIPs?.length ? service.spec.clusterIPs : [service.spec?.clusterIP ?? ''];
  return ips.filter((ip) => ip !== '' && ip !== 'None');
}

function loadBalancerIngress(service: ServiceObject): string[] {
  const names = new Set<string>();
  for (const ingress of service.status?.loadBalancer?.ingress ?? []) {
    if (ingress.ip) names.add(ingress.ip);
    if (ingress.hostname) names.add(ingress.hostname);
  }
  return [...names];
}
