// A MeshConfigView over fixed Services and EndpointGroups, for tests of the data plane and
// the proxy over it.
import { pb, type EndpointGroup, type EndpointGroupInit, type Service, type ServiceInit } from '@skein/protocol';
import type { ConfigChange, MeshConfigView } from './discovery/mesh-config.js';

export class StaticConfig implements MeshConfigView {
  readonly ready = true;
  private readonly serviceMap = new Map<string, Service>();
  private readonly groups = new Map<string, EndpointGroup>();

  constructor(services: readonly ServiceInit[] = [], groups: readonly EndpointGroupInit[] = []) {
    for (const s of services) this.serviceMap.set(s.name!, pb.Service.create(s));
    for (const g of groups) this.groups.set(g.name!, pb.EndpointGroup.create(g));
  }

  services(): ReadonlyMap<string, Service> {
    return this.serviceMap;
  }

  endpointGroup(name: string): EndpointGroup | undefined {
    return this.groups.get(name);
  }

  onChange(_listener: (change: ConfigChange) => void): () => void {
    return () => undefined;
  }

  want(): void {}

  answered(name: string): boolean {
    return this.serviceMap.has(name);
  }
}
