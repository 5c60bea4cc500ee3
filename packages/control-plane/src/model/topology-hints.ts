// Hints on Pod-derived endpoints, written the way the endpoint-slice controller writes them
// (ARCHITECTURE section 4). Slices written by Kubernetes or users keep their own hints.
import type { EndpointDraft } from './endpoint-draft.js';
import type { ServiceObject } from './kube-objects.js';
import { topologyAwareRouting } from './service-resource.js';

/**
 * Sets hintsForZones / hintsForNodes on `drafts` in place. `clusterZones` are the zones of
 * the known Nodes. Topology-mode Auto wins over trafficDistribution, as in the controller.
 */
export function writeTopologyHints(drafts: EndpointDraft[], service: ServiceObject, clusterZones: ReadonlySet<string>): void {
  if (topologyAwareRouting(service)) {
    writeAutoHints(drafts, clusterZones);
    return;
  }
  switch (service.spec?.trafficDistribution) {
    case 'PreferSameZone':
    case 'PreferClose':
      // Why: the controller hints each endpoint that has a zone with its own zone
      // (trafficdist PreferSameZone heuristic); consumers use hints only when every ready
      // endpoint has them.
      for (const draft of drafts) draft.hintsForZones = draft.zone ? [draft.zone] : [];
      break;
    case 'PreferSameNode':
      // Why: own node, and own zone too, so a consumer that only knows zone hints still
      // keeps traffic in the zone (KEP-3015).
      for (const draft of drafts) {
        draft.hintsForNodes = draft.nodeName ? [draft.nodeName] : [];
        draft.hintsForZones = draft.zone ? [draft.zone] : [];
      }
      break;
    default:
      break;
  }
}

/**
 * Topology-aware routing (topology-mode Auto). A documented simplification: the controller
 * allocates endpoints to zones in proportion to each zone's allocatable CPU and may hint an
 * endpoint for another zone; here each ready endpoint is hinted for its own zone, and only
 * when every ready endpoint has a zone and every zone of the known Nodes has at least one
 * ready endpoint. Otherwise no hints, as the controller removes them when it
 * cannot allocate safely.
 */
function writeAutoHints(drafts: EndpointDraft[], clusterZones: ReadonlySet<string>): void {
  const ready = drafts.filter((draft) => draft.ready);
  if (ready.length === 0 || ready.some((draft) => !draft.zone)) return;
  const covered = new Set(ready.map((draft) => draft.zone));
  for (const zone of clusterZones) if (!covered.has(zone)) return;
  for (const draft of ready) draft.hintsForZones = [draft.zone];
}
