// Service -> its EndpointGroup: every endpoint of the Service from the best source there is,
// deduplicated and in canonical order (ARCHITECTURE section 4).
import { resourceName, type Endpoint, type EndpointGroupInit } from '@skein/protocol';
import type { ClusterState } from './cluster-state.js';
import { mergeDrafts, servicePortRefs, type EndpointDraft } from './endpoint-draft.js';
import type { ServiceObject } from './kube-objects.js';
import type { ModelOptions } from './mesh-model.js';
import { podEndpoints } from './pod-endpoints.js';
import { hasSelector, isHeadless } from './service-resource.js';
import { legacyEndpoints, sliceEndpoints } from './slice-endpoints.js';

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The EndpointGroup of a Service that is not ExternalName; present even with no endpoints.
 * Endpoints come from, in order: the EndpointSlices labelled for the Service; else, for a
 * selector-less Service, the legacy Endpoints of the same name; else, for a selector
 * Service, its Pods.
 */
export function endpointGroup(state: ClusterState, service: ServiceObject, options: ModelOptions): EndpointGroupInit {
  const namespace = service.metadata!.namespace!;
  const name = service.metadata!.name!;
  const ports = servicePortRefs(service);
  const slices = state.endpointSlicesFor(namespace, name);
  const drafts = slices.length > 0
    ? sliceEndpoints(slices, ports, state)
    : hasSelector(service)
      ? podEndpoints(state, service, ports)
      : legacyEndpoints(state.endpoints(namespace, name), ports, state);
  const headless = isHeadless(service);
  const publishNotReady = service.spec?.publishNotReadyAddresses === true;
  const fqdnSuffix = `.${name}.${namespace}.svc.${options.clusterDomain}`;
  const endpoints = mergeDrafts(drafts)
    .map((draft) => finish(draft, { headless, publishNotReady, fqdnSuffix }))
    .sort((a, b) => byCodeUnits(a.address!, b.address!));
  return { name: resourceName(namespace, name), namespace, service: name, endpoints };
}

/**
 * The endpoint as published. Scalars at their proto3 default (false, '') are left unset. Why:
 * protobufjs writes every field that is set, defaults too, and decoders (binary, and the JSON
 * form, written with defaults) read an absent one as its default: 2 bytes per field and
 * endpoint, 4 for a typical one (not terminating, no hostname). Lists stay, empty
 * ones included: they are not encoded, and model readers need not test for them.
 */
function finish(
  draft: EndpointDraft, how: { headless: boolean; publishNotReady: boolean; fqdnSuffix: string },
): Endpoint {
  const endpoint: Endpoint = {
    address: draft.address,
    ports: [...draft.ports].sort((a, b) => byCodeUnits(a.name ?? '', b.name ?? '')),
    hintsForZones: [...new Set(draft.hintsForZones)].sort(byCodeUnits),
    hintsForNodes: [...new Set(draft.hintsForNodes)].sort(byCodeUnits),
    weight: 1,
  };
  // Why: publishNotReadyAddresses makes every endpoint ready (core/v1 ServiceSpec).
  if (how.publishNotReady || draft.ready) endpoint.ready = true;
  if (draft.serving) endpoint.serving = true;
  if (draft.terminating) endpoint.terminating = true;
  if (draft.nodeName) endpoint.nodeName = draft.nodeName;
  if (draft.zone) endpoint.zone = draft.zone;
  if (draft.region) endpoint.region = draft.region;
  // Why: only a headless Service publishes per-endpoint DNS names.
  if (how.headless && draft.hostname) endpoint.hostname = `${draft.hostname}${how.fqdnSuffix}`;
  if (draft.pod) endpoint.pod = draft.pod;
  return endpoint;
}
