// Endpoints as written in EndpointSlices (by the endpoint-slice controller or by users) and
// in legacy v1 Endpoints, read the way kube-proxy reads them.
import type { ClusterState } from './cluster-state.js';
import { locate, matchPorts, podRef, type EndpointDraft, type ServicePortRef } from './endpoint-draft.js';
import type { EndpointSliceObject, EndpointsObject } from './kube-objects.js';

/**
 * Joins the Service's slices, IPv4 and IPv6 alike; FQDN slices are ignored, as kube-proxy
 * does. One draft per endpoint, with its first address (Kubernetes consumers use only the
 * first). Conditions default as the discovery.k8s.io/v1 API says: ready to true when
 * absent or null, serving to ready's value, terminating to false.
 */
export function sliceEndpoints(
  slices: readonly EndpointSliceObject[], servicePorts: readonly ServicePortRef[], state: ClusterState,
): EndpointDraft[] {
  const drafts: EndpointDraft[] = [];
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    const ports = matchPorts(slice.ports, servicePorts);
    const namespace = slice.metadata?.namespace ?? '';
    for (const endpoint of slice.endpoints ?? []) {
      const address = endpoint.addresses?.[0];
      if (!address) continue;
      const ready = endpoint.conditions?.ready ?? true;
      const nodeName = endpoint.nodeName ?? '';
      drafts.push({
        address,
        ports,
        ready,
        serving: endpoint.conditions?.serving ?? ready,
        terminating: endpoint.conditions?.terminating ?? false,
        nodeName,
        ...locate(state, nodeName, endpoint.zone),
        hintsForZones: (endpoint.hints?.forZones ?? []).map((hint) => hint.name!),
        hintsForNodes: (endpoint.hints?.forNodes ?? []).map((hint) => hint.name!),
        hostname: endpoint.hostname ?? '',
        pod: podRef(endpoint.targetRef, namespace),
      });
    }
  }
  return drafts;
}

/**
 * The legacy Endpoints of a selector-less Service: `addresses` are ready, `notReadyAddresses`
 * are not (serving follows ready, as in the slices the mirroring controller writes).
 */
export function legacyEndpoints(
  endpoints: EndpointsObject | undefined, servicePorts: readonly ServicePortRef[], state: ClusterState,
): EndpointDraft[] {
  const drafts: EndpointDraft[] = [];
  const namespace = endpoints?.metadata?.namespace ?? '';
  for (const subset of endpoints?.subsets ?? []) {
    const ports = matchPorts(subset.ports, servicePorts);
    const groups = [[subset.addresses, true], [subset.notReadyAddresses, false]] as const;
    for (const [addresses, ready] of groups) {
      for (const address of addresses ?? []) {
        const nodeName = address.nodeName ?? '';
        drafts.push({
          address: address.ip!,
          ports,
          ready,
          serving: ready,
          terminating: false,
          nodeName,
          ...locate(state, nodeName),
          hintsForZones: [],
          hintsForNodes: [],
          hostname: address.hostname ?? '',
          pod: podRef(address.targetRef, namespace),
        });
      }
    }
  }
  return drafts;
}
