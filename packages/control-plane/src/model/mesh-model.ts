// The mesh model: what the snapshot builder turns into resources. Produced by
// buildMeshModel (translate.ts) from the ClusterState; pure data, canonical order.
import type { EndpointGroupInit, ServiceInit } from '@skein/protocol';
import type { ObjectRef } from './kube-objects.js';

export interface MeshModel {
  /** Keyed and sorted by resource name "<namespace>/<name>". */
  readonly services: ReadonlyMap<string, ServiceInit>;
  /** One per Service that is not ExternalName, same name as its Service. */
  readonly endpointGroups: ReadonlyMap<string, EndpointGroupInit>;
}

export interface ModelOptions {
  /** Cluster DNS domain, "cluster.local" by default; used for headless endpoint hostnames. */
  readonly clusterDomain: string;
}

/** Something wrong with input, reported with where it came from and what it was. */
export interface Problem {
  readonly origin: string;
  readonly ref?: ObjectRef;
  readonly reason: string;
}
