// Routing: host:port -> Destination, from the route index and the balancer's per-port
// destinations. Pure: the only effect is the injected on-demand callback.
import type { Destination } from '../dataplane.js';
import { notInRegistryError, unknownPortError, unknownServiceError } from '../errors.js';
import type { RouteEntry, RouteIndex, ServiceRoute } from './route-index.js';

/** Hosts outside the mesh: pass through (Istio's ALLOW_ANY, the default) or refuse. */
export type OutboundPolicy = 'allow-any' | 'registry-only';

/** The balanced destinations of Service ports, owned by the data plane and replaced on change. */
export interface PortDestinations {
  /**
   * The current `service` destination (or `reject`, e.g. internalTrafficPolicy Local with no
   * local endpoint) of port `port` of Service `serviceKey`; undefined when it has no such port.
   * Must not allocate: it is called on every request.
   */
  destination(serviceKey: string, port: number): Destination | undefined;
}

export interface RouterOptions {
  readonly outboundPolicy: OutboundPolicy;
  /** Called with "<ns>/<name>" for a mesh-looking name the config does not hold. */
  readonly want: (resource: string) => void;
  /** Whether discovery has answered for "<ns>/<name>" (so an unknown name is final, not pending). */
  readonly answered?: (resource: string) => boolean;
}

/** How `host` was matched, for /explain. */
export type RouteMatch =
  | { readonly type: 'known'; readonly entry: RouteEntry }
  | { readonly type: 'mesh-name'; readonly resource: string | undefined }
  | { readonly type: 'outside-mesh' };

const OUTSIDE: RouteMatch = Object.freeze({ type: 'outside-mesh' });

/** Resolves hosts against one index; swap the index with `setIndex` when it is rebuilt. */
export class Router {
  private index: RouteIndex;

  constructor(index: RouteIndex, private readonly ports: PortDestinations, private readonly options: RouterOptions) {
    this.index = index;
  }

  setIndex(index: RouteIndex): void {
    this.index = index;
  }

  /** See `Dataplane.resolve`. Allocation-free for known Service names and ClusterIPs. */
  resolve(host: string, port: number): Destination {
    const entry = this.index.lookup(host);
    return entry ? this.known(entry, port) : this.destinationOf(this.unknown(host), host, port);
  }

  /** How `host` is matched; a mesh-looking unknown name is asked for (`want`) on the way. */
  match(host: string): RouteMatch {
    const entry = this.index.lookup(host);
    return entry ? { type: 'known', entry } : this.unknown(host);
  }

  private unknown(host: string): RouteMatch {
    const mesh = this.index.meshName(host);
    if (!mesh) return OUTSIDE;
    if (mesh.resource !== undefined) this.options.want(mesh.resource);
    return { type: 'mesh-name', resource: mesh.resource };
  }

  /** The resource name to wait for before `host` can resolve, if it is an unknown mesh name. */
  pendingResource(host: string): string | undefined {
    return this.index.lookup(host) ? undefined : this.index.meshName(host)?.resource;
  }

  /** The Destination for a match; `host` and `port` as the client gave them. */
  destinationOf(match: RouteMatch, host: string, port: number): Destination {
    switch (match.type) {
      case 'known':
        return this.known(match.entry, port);
      case 'mesh-name':
        return {
          type: 'reject',
          error: unknownServiceError(host, match.resource !== undefined && !(this.options.answered?.(match.resource) ?? false)),
        };
      case 'outside-mesh':
        return this.options.outboundPolicy === 'allow-any'
          ? { type: 'direct', host, port, reason: 'passthrough' }
          : { type: 'reject', error: notInRegistryError(host, port) };
    }
  }

  private known(entry: RouteEntry, port: number): Destination {
    const route = entry.route;
    if (route.kind === 'external-name') {
      // Why: an ExternalName Service is a DNS CNAME; the port is the client's, unchanged.
      return { type: 'direct', host: route.service.externalName.replace(/\.$/, ''), port, reason: 'external-name', service: route.key };
    }
    if (entry.type === 'endpoint') {
      return { type: 'direct', host: entry.endpoint.address!, port: endpointPort(route, entry, port), reason: 'headless-endpoint', service: route.key };
    }
    return this.ports.destination(route.key, port) ?? { type: 'reject', error: unknownPortError(route.key, port, portNumbers(route)) };
  }
}

/**
 * A headless endpoint is reached without a VIP, so by default the port is the client's, as
 * plain DNS gives it. When it is one of the Service's ports and the endpoint declares the
 * linked port, the endpoint's number is used, so `<pod>.<svc>:<service port>` works too.
 */
function endpointPort(route: ServiceRoute, entry: RouteEntry & { type: 'endpoint' }, port: number): number {
  if (entry.via === 'address') return port;
  const servicePort = route.service.ports.find((p) => p.port === port);
  if (!servicePort) return port;
  const linked = (entry.endpoint.ports ?? []).find((p) => (p.name ?? '') === (servicePort.name ?? ''));
  return linked?.port || servicePort.targetPortNumber || port;
}

function portNumbers(route: ServiceRoute): number[] {
  return route.service.ports.map((p) => p.port ?? 0);
}
