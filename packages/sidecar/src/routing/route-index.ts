// The name index routing answers from: every name form of every Service, its ClusterIPs and,
// for headless Services, per-endpoint names and addresses. Built on config change (never on
// the request path); a lookup is one or two Map reads and allocates nothing for known names.
import { pb, splitResourceName, type Endpoint, type EndpointGroup, type Service } from '@skein/protocol';
import { canonicalIp, normalizeHost } from './host-name.js';
import { meshNameOf, type MeshName, type MeshNameContext } from './mesh-name.js';

/** How a Service is reached: through its ClusterIP (balanced), per endpoint, or by DNS alias. */
export type ServiceKind = 'cluster-ip' | 'headless' | 'external-name';

/** A Service as routing sees it; one per Service version. */
export interface ServiceRoute {
  /** Resource name, "<namespace>/<name>". */
  readonly key: string;
  readonly service: Service;
  readonly kind: ServiceKind;
}

/** What a known host names. Entries are built with the index and shared by every lookup. */
export type RouteEntry =
  /** A Service name form (`via: 'name'`, with the FQDN it expands to) or one of its ClusterIPs. */
  | { readonly type: 'service'; readonly route: ServiceRoute; readonly via: 'name' | 'cluster-ip'; readonly name: string }
  /** A headless Service's endpoint, by its DNS name or its address. */
  | {
    readonly type: 'endpoint'; readonly route: ServiceRoute; readonly via: 'name' | 'address';
    readonly name: string; readonly endpoint: Endpoint;
  };

export interface RouteIndexOptions {
  /** The client's namespace: short names are relative to it. */
  readonly namespace: string;
  /** Cluster DNS domain, "cluster.local" by default. */
  readonly clusterDomain: string;
}

/** Finds an EndpointGroup by resource name (the MeshConfigView's reader). */
export type EndpointGroupLookup = (name: string) => EndpointGroup | undefined;

/**
 * Immutable index of Service names. Rebuild it (`RouteIndex.build`) when a Service changes
 * or when the EndpointGroup of a headless Service changes (`dependsOnGroup`); other endpoint
 * churn leaves it alone.
 */
export class RouteIndex implements MeshNameContext {
  readonly namespace: string;
  readonly clusterDomain: string;
  private readonly names = new Map<string, RouteEntry>();
  /** The rank of each name's entry (see `addName`), while building; dropped once built. */
  private ranks: Map<string, number> | undefined = new Map();
  private readonly addresses = new Map<string, RouteEntry>();
  private readonly namespaces = new Set<string>();
  private readonly headless = new Set<string>();
  private readonly services: ReadonlyMap<string, Service>;

  private constructor(services: ReadonlyMap<string, Service>, options: RouteIndexOptions) {
    this.services = services;
    this.namespace = options.namespace;
    this.clusterDomain = options.clusterDomain;
    this.namespaces.add(options.namespace);
  }

  /** Indexes every Service of `services`, and the endpoint names of the headless ones. */
  static build(services: ReadonlyMap<string, Service>, endpointGroup: EndpointGroupLookup, options: RouteIndexOptions): RouteIndex {
    const index = new RouteIndex(services, options);
    for (const [key, service] of services) index.add(key, service, endpointGroup);
    index.ranks = undefined;
    return index;
  }

  /** Whether a change of EndpointGroup `name` changes names or addresses in this index. */
  dependsOnGroup(name: string): boolean {
    return this.headless.has(name);
  }

  /** What `host` names (any case, trailing dot, IPv6 with or without brackets), if known. */
  lookup(host: string): RouteEntry | undefined {
    const h = normalizeHost(host);
    const named = this.names.get(h) ?? this.addresses.get(h);
    if (named || !h.includes(':')) return named;
    const ip = canonicalIp(h);
    return ip === undefined ? undefined : this.addresses.get(ip);
  }

  /** For a host `lookup` does not know: whether it looks like a mesh name (see `meshNameOf`). */
  meshName(host: string): MeshName | undefined {
    const h = normalizeHost(host);
    return canonicalIp(h) === undefined ? meshNameOf(h, this) : undefined;
  }

  knowsNamespace(namespace: string): boolean {
    return this.namespaces.has(namespace);
  }

  knowsService(resource: string): boolean {
    return this.services.has(resource);
  }

  private add(key: string, service: Service, endpointGroup: EndpointGroupLookup): void {
    const parts = splitResourceName(key);
    if (!parts) return;
    const { namespace: ns, name } = parts;
    const kind: ServiceKind = service.type === pb.ServiceType.SERVICE_TYPE_EXTERNAL_NAME
      ? 'external-name'
      : service.headless ? 'headless' : 'cluster-ip';
    const route: ServiceRoute = { key, service, kind };
    this.namespaces.add(ns);
    const fqdn = `${name}.${ns}.svc.${this.clusterDomain}`;
    this.addName(fqdn, { type: 'service', route, via: 'name', name: fqdn });
    for (const ip of service.clusterIps ?? []) {
      const canonical = canonicalIp(ip);
      if (canonical !== undefined) this.addresses.set(canonical, { type: 'service', route, via: 'cluster-ip', name: canonical });
    }
    if (kind !== 'headless') return;
    this.headless.add(key);
    // Why: cluster DNS publishes per-endpoint names and A/AAAA records for ready endpoints
    // only (all of them with publishNotReadyAddresses, which the control plane folds into ready).
    const endpoints = (endpointGroup(key)?.endpoints ?? []).filter((e) => e.ready ?? true);
    // Ready IPv4 before IPv6, so a dual-stack Pod's name picks one address deterministically.
    endpoints.sort((a, b) => Number((a.address ?? '').includes(':')) - Number((b.address ?? '').includes(':')));
    for (const endpoint of endpoints) {
      const address = canonicalIp(endpoint.address ?? '');
      if (address === undefined) continue;
      if (!this.addresses.has(address)) this.addresses.set(address, { type: 'endpoint', route, via: 'address', name: address, endpoint });
      // The control plane writes the FQDN with its own domain; the first label is the hostname.
      const hostname = (endpoint.hostname ?? '').split('.')[0];
      if (!hostname) continue;
      const name = `${hostname}.${fqdn}`;
      this.addName(name, { type: 'endpoint', route, via: 'name', name, endpoint });
    }
  }

  /**
   * Indexes `fqdn` and the short names a pod's DNS search path expands into it
   * (`<namespace>.svc.<domain>`, `svc.<domain>`, `<domain>`, as kubelet writes resolv.conf).
   * When two FQDNs share a short name, the one the resolver tries first wins: with
   * `ndots:5`, a name with fewer than five dots is tried with the search domains first.
   */
  private addName(fqdn: string, entry: RouteEntry): void {
    const search = [`${this.namespace}.svc.${this.clusterDomain}`, `svc.${this.clusterDomain}`, this.clusterDomain];
    this.offer(fqdn, entry, dots(fqdn) >= 5 ? 0 : search.length);
    for (const [i, domain] of search.entries()) {
      if (!fqdn.endsWith(`.${domain}`)) continue;
      const short = fqdn.slice(0, -(domain.length + 1));
      this.offer(short, entry, dots(short) >= 5 ? i + 1 : i);
    }
  }

  private offer(name: string, entry: RouteEntry, rank: number): void {
    const held = this.ranks!.get(name);
    if (held !== undefined && rank >= held) return;
    this.ranks!.set(name, rank);
    this.names.set(name, entry);
  }
}

function dots(name: string): number {
  let n = 0;
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) === 0x2e) n++;
  return n;
}
