// The data plane's brain: the applied mesh config -> routing (names) + balancer (pickers),
// behind the `Dataplane` contract the proxy and library mode use. Indexes and pickers are
// rebuilt here on config change, never on the request path.
import { pb, type Service, type ServicePort } from '@skein/protocol';
import type { AttemptOutcome, Dataplane, Destination, DestinationError, Target } from './dataplane.js';
import type { ConfigChange, MeshConfigView } from './discovery/mesh-config.js';
import { ErrorCode, destinationError, displayName, joinHostPort } from './errors.js';
import { policyName } from './balancer/picker-factory.js';
import { balancePort, type PortBalance, type PortBalancerOptions } from './balancer/port-balancer.js';
import { appProtocolOf } from './routing/app-protocol.js';
import { RouteIndex, type RouteIndexOptions } from './routing/route-index.js';
import { Router, type OutboundPolicy, type PortDestinations, type RouteMatch } from './routing/router.js';

export interface DataplaneOptions {
  /** The client's namespace: short names (`svc`, `svc.ns`…) are relative to it. */
  namespace: string;
  /** Cluster DNS domain; default "cluster.local". */
  clusterDomain?: string;
  /** Hosts outside the mesh: pass through (default) or refuse with SKEIN_ERR_NOT_IN_REGISTRY (403). */
  outboundPolicy?: OutboundPolicy;
  /** This proxy's node, for internalTrafficPolicy Local and forNodes hints. */
  nodeName?: string;
  /** This proxy's zone, for forZones hints. */
  zone?: string;
  /** Randomness in [0, 1) for pickers' start offsets; default Math.random. */
  random?: () => number;
}

/** `Dataplane` plus the admin views built on it. */
export interface CoreDataplane extends Dataplane {
  /** JSON for /explain and /config_dump: how `host` resolved, the port, eligible endpoints and why. */
  explain(host: string, port: number): unknown;
  /** JSON for /clusters: per Service port, every endpoint with its state (eligible or not, and why). */
  clusters(): unknown;
  /** Stops following the config (the data plane then serves its last state). */
  close(): void;
}

/** Creates the data plane over `config`; it follows every applied change until `close()`. */
export function createDataplane(config: MeshConfigView, options: DataplaneOptions): CoreDataplane {
  return new DataplaneCore(config, options);
}

interface PortState {
  readonly servicePort: ServicePort;
  readonly balance: PortBalance;
  /** Prebuilt, so resolve() allocates nothing; replaced with the picker. */
  readonly destination: Destination;
}

interface ServiceState {
  readonly service: Service;
  readonly ports: ReadonlyMap<number, PortState>;
}

class DataplaneCore implements CoreDataplane, PortDestinations {
  private readonly indexOptions: RouteIndexOptions;
  private readonly balancerOptions: PortBalancerOptions;
  private readonly states = new Map<string, ServiceState>();
  private readonly listeners = new Set<() => void>();
  private readonly router: Router;
  private index: RouteIndex;
  private readonly unsubscribe: () => void;

  constructor(private readonly config: MeshConfigView, options: DataplaneOptions) {
    const clusterDomain = (options.clusterDomain ?? 'cluster.local').toLowerCase().replace(/\.$/, '');
    this.indexOptions = { namespace: options.namespace, clusterDomain };
    this.balancerOptions = { nodeName: options.nodeName || undefined, zone: options.zone || undefined, random: options.random ?? Math.random };
    for (const key of config.services().keys()) this.refresh(key);
    this.index = this.buildIndex();
    this.router = new Router(this.index, this, {
      outboundPolicy: options.outboundPolicy ?? 'allow-any',
      want: (resource) => config.want(resource),
      answered: (resource) => config.answered(resource),
    });
    this.unsubscribe = config.onChange((change) => this.apply(change));
  }

  get ready(): boolean {
    return this.config.ready;
  }

  resolve(host: string, port: number): Destination {
    return this.router.resolve(host, port);
  }

  endpoints(host: string, port: number): readonly Target[] | DestinationError {
    const destination = this.router.resolve(host, port);
    if (destination.type === 'reject') return destination.error;
    if (destination.type === 'direct') {
      return destinationError(ErrorCode.UNKNOWN_SERVICE, `skein: ${joinHostPort(host, port)} is not a mesh service port`);
    }
    return (destination.picker as { readonly targets?: readonly Target[] }).targets ?? [];
  }

  destination(serviceKey: string, port: number): Destination | undefined {
    return this.states.get(serviceKey)?.ports.get(port)?.destination;
  }

  whenKnown(host: string, timeoutMs: number): Promise<void> {
    const resource = this.router.pendingResource(host);
    if (resource === undefined) return Promise.resolve();
    this.config.want(resource);
    if (this.config.answered(resource)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        stop();
        resolve();
      };
      // Listeners run after the index is rebuilt, so resolve() already sees the answer.
      const stop = this.onChange(() => {
        // Wait for the answer for both types: a Service without its endpoints yet would
        // fail the first request with "no endpoint".
        if (this.config.answered(resource)) done();
      });
      const timer = setTimeout(done, Math.max(0, timeoutMs));
    });
  }

  report(_service: string, _target: Target, _outcome: AttemptOutcome): void {
    // Passive health (outlier detection) hooks in here in the next issue.
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  close(): void {
    this.unsubscribe();
  }

  explain(host: string, port: number): unknown {
    const match = this.router.match(host);
    const destination = this.router.destinationOf(match, host, port);
    const key = match.type === 'known' ? match.entry.route.key : undefined;
    const state = key === undefined ? undefined : this.states.get(key)?.ports.get(port);
    return {
      request: { host, port },
      namespace: this.indexOptions.namespace,
      match: describeMatch(match, this.config),
      destination: describeDestination(destination),
      ...(state && destination.type !== 'direct' ? { servicePort: describePort(state) } : {}),
    };
  }

  clusters(): unknown {
    const services = [...this.states.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, state]) => ({
      service: key,
      name: displayName(key),
      type: pb.ServiceType[state.service.type],
      headless: state.service.headless,
      internalTrafficPolicy: pb.TrafficPolicy[state.service.internalTrafficPolicy],
      trafficDistribution: pb.TrafficDistribution[state.service.trafficDistribution],
      ports: [...state.ports.values()].map(describePort),
    }));
    return { ready: this.ready, nodeName: this.balancerOptions.nodeName ?? null, zone: this.balancerOptions.zone ?? null, services };
  }

  private apply(change: ConfigChange): void {
    let rebuild = change.services.size > 0;
    for (const name of change.services) this.refresh(name);
    for (const name of change.endpointGroups) {
      if (!change.services.has(name)) this.refresh(name);
      if (this.index.dependsOnGroup(name)) rebuild = true;
    }
    if (rebuild) {
      this.index = this.buildIndex();
      this.router.setIndex(this.index);
    }
    for (const listener of [...this.listeners]) listener();
  }

  private buildIndex(): RouteIndex {
    return RouteIndex.build(this.config.services(), (name) => this.config.endpointGroup(name), this.indexOptions);
  }

  /** Recomputes the balancing state of Service `key`, keeping pickers whose endpoints did not change. */
  private refresh(key: string): void {
    const service = this.config.services().get(key);
    if (!service) {
      this.states.delete(key);
      return;
    }
    const previous = this.states.get(key);
    const ports = new Map<number, PortState>();
    // An ExternalName Service is a DNS alias: it has no endpoints to balance.
    if (service.type !== pb.ServiceType.SERVICE_TYPE_EXTERNAL_NAME) {
      const group = this.config.endpointGroup(key);
      for (const servicePort of service.ports) {
        const number = servicePort.port ?? 0;
        const held = ports.get(number);
        // The proxy carries TCP: when TCP and UDP share a number (DNS), the TCP port wins.
        if (held && (held.servicePort.protocol ?? 0) === pb.Protocol.PROTOCOL_TCP) continue;
        const before = previous?.ports.get(number);
        const { nodeName, zone } = this.balancerOptions;
        const input = { serviceKey: key, service, servicePort, group, nodeName, zone };
        const balance = balancePort(input, this.balancerOptions, before?.balance);
        const destination = before && before.balance.picker === balance.picker && before.balance.hashKey === balance.hashKey && samePort(before.servicePort, servicePort)
          ? before.destination
          : destinationOf(key, servicePort, balance);
        ports.set(number, { servicePort, balance, destination });
      }
    }
    this.states.set(key, { service, ports });
  }
}

function destinationOf(key: string, servicePort: ServicePort, balance: PortBalance): Destination {
  const e = balance.eligibility;
  // Why: with internalTrafficPolicy Local and no endpoint on this node, kube-proxy drops the
  // traffic rather than fall back to other nodes; refuse up front with the reason.
  if (e.type === 'none' && e.error.code === ErrorCode.LOCAL_NO_ENDPOINT) return Object.freeze({ type: 'reject', error: e.error });
  return Object.freeze({
    type: 'service',
    service: key,
    servicePort: servicePort.port ?? 0,
    portName: servicePort.name ?? '',
    appProtocol: appProtocolOf(servicePort),
    picker: balance.picker,
    ...(balance.hashKey ? { hashKey: balance.hashKey } : {}),
  });
}

function samePort(a: ServicePort, b: ServicePort): boolean {
  return (a.name ?? '') === (b.name ?? '') && (a.appProtocol ?? '') === (b.appProtocol ?? '');
}

function describePort(state: PortState): Record<string, unknown> {
  const { servicePort: p, balance } = state;
  const e = balance.eligibility;
  return {
    port: p.port ?? 0,
    name: p.name ?? '',
    targetPort: p.targetPortName || p.targetPortNumber || p.port || 0,
    appProtocol: appProtocolOf(p),
    picker: { type: balance.picker.size > 0 ? policyName(balance.loadBalancer) : 'fail', size: balance.picker.size, ...(balance.hashKey ? { hashKey: balance.hashKey } : {}) },
    ...(e.type === 'eligible' ? { rule: e.rule, hints: e.hints } : { error: e.error }),
    endpoints: e.verdicts,
  };
}

function describeMatch(match: RouteMatch, config: MeshConfigView): Record<string, unknown> {
  if (match.type === 'outside-mesh') return { type: 'outside-mesh' };
  if (match.type === 'mesh-name') {
    return { type: 'unknown-mesh-name', resource: match.resource ?? null, answered: match.resource ? config.answered(match.resource) : true };
  }
  const { entry } = match;
  const kind = entry.route.kind;
  const type = kind === 'external-name' ? 'external-name'
    : entry.type === 'endpoint' ? `headless-endpoint-${entry.via}` : entry.via === 'cluster-ip' ? 'cluster-ip' : 'service-name';
  return { type, service: entry.route.key, serviceKind: kind, [entry.via === 'name' ? 'fqdn' : 'address']: entry.name };
}

function describeDestination(d: Destination): Record<string, unknown> {
  switch (d.type) {
    case 'service':
      return { type: 'service', service: d.service, servicePort: d.servicePort, portName: d.portName, appProtocol: d.appProtocol, endpoints: d.picker.size };
    case 'direct':
      return { ...d };
    case 'reject':
      return { type: 'reject', error: d.error };
  }
}
