// The applied mesh config: what discovery clients (gRPC stream, HTTP poller, cache file)
// write and what routing reads. Only validated resources get in; a rejected resource leaves
// its previous good version in force.
import type { EndpointGroup, Service } from '@skein/protocol';

export interface ConfigChange {
  /** Resource names ("<ns>/<name>") of Services added, changed or removed. */
  readonly services: ReadonlySet<string>;
  /** Resource names of EndpointGroups added, changed or removed. */
  readonly endpointGroups: ReadonlySet<string>;
}

/** What routing and the balancer read. */
export interface MeshConfigView {
  /** Current Services by resource name. The map is replaced, never mutated, on change. */
  services(): ReadonlyMap<string, Service>;
  endpointGroup(name: string): EndpointGroup | undefined;
  /** True once a first complete config (snapshot or cache file) is applied. */
  readonly ready: boolean;
  /** Called after every applied change; returns an unsubscribe function. */
  onChange(listener: (change: ConfigChange) => void): () => void;
  /**
   * Asks discovery for a resource name the config does not hold yet (on-demand
   * subscription). A no-op when discovery already subscribes to everything.
   * `answered(name)` tells whether discovery has since answered for it (present or not).
   */
  want(name: string): void;
  answered(name: string): boolean;
}
