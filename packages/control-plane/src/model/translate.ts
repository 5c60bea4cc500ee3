// The model's entry: ClusterState -> MeshModel, one Service resource and (unless the
// Service is ExternalName) one EndpointGroup per Service. Pure and deterministic: the same
// objects, whatever the order they arrived in, give deep-equal models with sorted maps.
import { resourceName, splitResourceName, type EndpointGroupInit, type ServiceInit } from '@skein/protocol';
import type { ClusterState, ModelChanges } from './cluster-state.js';
import { endpointGroup } from './endpoint-group.js';
import type { ServiceObject } from './kube-objects.js';
import type { MeshModel, ModelOptions } from './mesh-model.js';
import { isExternalName, serviceResource } from './service-resource.js';

/** Default options: `cluster.local`, the default cluster DNS domain. */
export const DEFAULT_MODEL_OPTIONS: ModelOptions = { clusterDomain: 'cluster.local' };

/** The resources of one Service. */
export interface TranslatedService {
  readonly service: ServiceInit;
  /** Absent for ExternalName Services, which have no endpoints. */
  readonly endpointGroup?: EndpointGroupInit;
}

/** Translates one validated Service object (from `state`) into its resources. */
export function translateService(state: ClusterState, service: ServiceObject, options: ModelOptions): TranslatedService {
  const resource = serviceResource(service);
  return isExternalName(service) ? { service: resource } : { service: resource, endpointGroup: endpointGroup(state, service, options) };
}

/** Translates every Service in `state`. */
export function buildMeshModel(state: ClusterState, options: ModelOptions): MeshModel {
  const services = new Map<string, ServiceInit>();
  const endpointGroups = new Map<string, EndpointGroupInit>();
  // list() is sorted by namespace then name, which is the order of "<ns>/<name>".
  for (const service of state.list('Service')) {
    const translated = translateService(state, service, options);
    const name = translated.service.name!;
    services.set(name, translated.service);
    if (translated.endpointGroup) endpointGroups.set(name, translated.endpointGroup);
  }
  return { services: sorted(services), endpointGroups: sorted(endpointGroups) };
}

/**
 * Incremental translation: `previous` (built from this state) updated for `changes` from
 * `state.takeChanges()`. Deep-equal to `buildMeshModel(state, options)`; returns `previous`
 * itself when nothing is dirty.
 */
export function updateMeshModel(previous: MeshModel, state: ClusterState, changes: ModelChanges, options: ModelOptions): MeshModel {
  if (changes.all) return buildMeshModel(state, options);
  if (changes.services.size === 0) return previous;
  const services = new Map(previous.services);
  const endpointGroups = new Map(previous.endpointGroups);
  let added = false;
  for (const name of changes.services) {
    const parts = splitResourceName(name);
    const service = parts && state.service(parts.namespace, parts.name);
    services.delete(name);
    endpointGroups.delete(name);
    if (!service) continue;
    const translated = translateService(state, service, options);
    services.set(resourceName(parts.namespace, parts.name), translated.service);
    if (translated.endpointGroup) endpointGroups.set(name, translated.endpointGroup);
    added = true;
  }
  return added ? { services: sorted(services), endpointGroups: sorted(endpointGroups) } : { services, endpointGroups };
}

function sorted<T>(map: ReadonlyMap<string, T>): ReadonlyMap<string, T> {
  return new Map([...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
