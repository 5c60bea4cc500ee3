// Endpoints derived from Pods, for selector Services that have no EndpointSlices (the files
// source): the control plane plays the endpoint-slice controller, following its rules
// (pkg/controller/endpointslice: podToEndpoint, getEndpointPorts, FindPort).
import { isIPv4, type EndpointPort } from '@skein/protocol';
import type { ClusterState } from './cluster-state.js';
import { endpointPort, locate, type EndpointDraft, type ServicePortRef } from './endpoint-draft.js';
import type { ContainerSpec, PodObject, ServiceObject } from './kube-objects.js';
import { matchesSelector } from './label-selector.js';
import { writeTopologyHints } from './topology-hints.js';

/** Drafts for every Pod the Service selects, with hints written as the controller would. */
export function podEndpoints(state: ClusterState, service: ServiceObject, servicePorts: readonly ServicePortRef[]): EndpointDraft[] {
  const namespace = service.metadata!.namespace!;
  const serviceName = service.metadata!.name!;
  const families = addressFamilies(service);
  const publishNotReady = service.spec?.publishNotReadyAddresses === true;
  const drafts: EndpointDraft[] = [];
  for (const pod of state.podsIn(namespace)) {
    if (!matchesSelector(service.spec?.selector, pod.metadata?.labels)) continue;
    // Why: a Pod in a terminal phase never serves again (ShouldPodBeInEndpoints).
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
    const ips = podIPs(pod).filter((ip) => families.has(isIPv4(ip) ? 'IPv4' : 'IPv6'));
    if (ips.length === 0) continue;
    const ports = podPorts(pod, servicePorts);
    // A Pod serving none of the Service's ports is not an endpoint of it.
    if (servicePorts.length > 0 && ports.length === 0) continue;
    const podReady = (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
    const terminating = pod.metadata?.deletionTimestamp != null;
    const nodeName = pod.spec?.nodeName ?? '';
    // Why: the controller sets serving = Pod ready, and ready = serving and not terminating,
    // unless publishNotReadyAddresses publishes every address as ready.
    const ready = publishNotReady || (podReady && !terminating);
    // Why: a hostname is published only when spec.subdomain names this Service (ShouldSetHostname).
    const hostname = pod.spec?.hostname && pod.spec.subdomain === serviceName ? pod.spec.hostname : '';
    for (const address of ips) {
      drafts.push({
        address,
        ports,
        ready,
        serving: podReady,
        terminating,
        nodeName,
        ...locate(state, nodeName),
        hintsForZones: [],
        hintsForNodes: [],
        hostname,
        pod: `${namespace}/${pod.metadata!.name!}`,
      });
    }
  }
  writeTopologyHints(drafts, service, state.zones());
  return drafts;
}

/**
 * The IP families the controller writes slices for: spec.ipFamilies, else the family of the
 * ClusterIP, else (headless without families) both.
 */
function addressFamilies(service: ServiceObject): ReadonlySet<string> {
  const spec = service.spec ?? {};
  if (spec.ipFamilies?.length) return new Set(spec.ipFamilies);
  const ips = (spec.clusterIPs?.length ? spec.clusterIPs : [spec.clusterIP ?? '']).filter((ip) => ip && ip !== 'None');
  if (ips.length > 0) return new Set(ips.map((ip) => (isIPv4(ip) ? 'IPv4' : 'IPv6')));
  return new Set(['IPv4', 'IPv6']);
}

/** status.podIPs, else status.podIP; without duplicates. */
function podIPs(pod: PodObject): string[] {
  const listed = (pod.status?.podIPs ?? []).map((entry) => entry.ip ?? '').filter((ip) => ip !== '');
  const ips = listed.length > 0 ? listed : [pod.status?.podIP ?? ''].filter((ip) => ip !== '');
  return [...new Set(ips)];
}

/**
 * The Pod's number for each Service port. A numeric targetPort is used as is; a name is the
 * container port with that name and protocol, in the containers and then in sidecar init
 * containers (restartPolicy Always). A port the Pod lacks is left out.
 */
function podPorts(pod: PodObject, servicePorts: readonly ServicePortRef[]): EndpointPort[] {
  const ports: EndpointPort[] = [];
  for (const servicePort of servicePorts) {
    const number = typeof servicePort.target === 'number' ? servicePort.target : findNamedPort(pod, servicePort);
    if (number === undefined) continue;
    ports.push(endpointPort(servicePort.name, number, servicePort.protocol, servicePort.appProtocol));
  }
  return ports;
}

function findNamedPort(pod: PodObject, servicePort: ServicePortRef): number | undefined {
  const sidecars = (pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always');
  const containers: ContainerSpec[] = [...(pod.spec?.containers ?? []), ...sidecars];
  for (const container of containers) {
    for (const port of container.ports ?? []) {
      if (port.name === servicePort.target && (port.protocol ?? 'TCP') === servicePort.protocol) return port.containerPort;
    }
  }
  return undefined;
}
