// The data plane's brain: the applied mesh config -> routing (names) + balancer (pickers),
// behind the `Dataplane` contract the proxy and library mode use. Indexes and pickers are
// rebuilt here on config change, never on the request path.
import { pb, type Service, type ServicePort } from '@skein/protocol';
import type { AttemptOutcome, Dataplane, Destination, DestinationError, Target } from './dataplane.js';
import type { ConfigChange, MeshConfigView } from './discovery/mesh-config.js';
import { ErrorCode, destinationError, displayName, joinHostPort } from './errors.js';
import { balancePort, eligibleSet, type PortBalance, type PortBalancerOptions } from './balancer/port-balancer.js';
import { systemClock, type Clock } from './balancer/clock.js';
import { DEFAULT_OUTLIER_DETECTION, OutlierDetector, type OutlierChange, type OutlierDetectionConfig } from './balancer/outlier-detector.js';
import { AffinityPicker } from './balancer/affinity-picker.js';
import { ClientIpAffinity, DEFAULT_AFFINITY_TIMEOUT_SECONDS, MAX_AFFINITY_TIMEOUT_SECONDS } from './balancer/session-affinity.js';
import { RouteIndex, type RouteIndexOptions } from './routing/route-index.js';
import { Router, type OutboundPolicy, type PortDestinations } from './routing/router.js';
import { describeDestination, describeMatch, describePort } from './dataplane-views.js';
import { destinationOf, samePort, sameRequestPolicy, sameRule } from './port-destination.js';
import { describeDecision, type ExplainRequest } from './explain-decision.js';

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
  /** This proxy's region, for locality priorities. */
  region?: string;
  /** Randomness in [0, 1) for pickers' start offsets and priority draws; default Math.random. */
  random?: () => number;
  /** Time for outlier detection; default the system clock. */
  clock?: Clock;
  /** Timers for ejection ends; default the global ones (the handle is unref'd when it can be). */
  timers?: DataplaneTimers;
}

/** The timer functions the data plane uses (injected in tests, with `clock`). */
export interface DataplaneTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const globalTimers: DataplaneTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** `Dataplane` plus the admin views built on it. */
export interface CoreDataplane extends Dataplane {
  /**
   * JSON for /explain and /config_dump: how `host` resolved, the port, eligible endpoints and
   * why; with `request`, also the decision for that request (hash key, affinity hit, endpoint).
   */
  explain(host: string, port: number, request?: ExplainRequest): unknown;
  /** JSON for /clusters: per Service port, every endpoint with its state (eligible or not, and why). */
  clusters(): unknown;
  /** Stops following the config (the data plane then serves its last state). */
  close(): void;
  /** Passive health per Service key ("ns/name"), for metrics: ejections since the Service appeared, endpoints ejected now. */
  healthStats(): Array<{ service: string; ejectionsTotal: number; ejectedNow: number }>;
  /** This proxy's zone and region changed (learned from its Node's labels): every picker is rebuilt for them. */
  setLocality(locality: { zone: string; region: string }): void;
}

/** Creates the data plane over `config`; it follows every applied change until `close()`. */
export function createDataplane(config: MeshConfigView, options: DataplaneOptions): CoreDataplane {
  return new DataplaneCore(config, options);
}

interface PortState {
  readonly servicePort: ServicePort;
  readonly balance: PortBalance;
  /** ClientIP affinity (table kept across rebuilds, in front of `balance.picker`); ClientIP Services only. */
  readonly affinity?: AffinityPicker;
  /** Prebuilt, so resolve() allocates nothing; replaced with the picker. */
  readonly destination: Destination;
}

interface ServiceState {
  readonly service: Service;
  readonly ports: ReadonlyMap<number, PortState>;
}

/** Passive health of one Service: its detector and the detector version its pickers reflect. */
interface ServiceHealth {
  readonly detector: OutlierDetector;
  builtVersion: number;
}

class DataplaneCore implements CoreDataplane, PortDestinations {
  private readonly indexOptions: RouteIndexOptions;
  private balancerOptions: PortBalancerOptions;
  private readonly states = new Map<string, ServiceState>();
  private readonly health = new Map<string, ServiceHealth>();
  /** Ejections per Service, kept across detector replacements (counted by the detectors' onChange). */
  private readonly ejections = new Map<string, number>();
  private readonly clock: Clock;
  private readonly timers: DataplaneTimers;
  /** The one ejection-end timer and the time it fires at. */
  private timer: { handle: unknown; at: number } | undefined;
  private closed = false;
  private readonly listeners = new Set<() => void>();
  private readonly router: Router;
  private index: RouteIndex;
  private readonly unsubscribe: () => void;

  constructor(private readonly config: MeshConfigView, options: DataplaneOptions) {
    const clusterDomain = (options.clusterDomain ?? 'cluster.local').toLowerCase().replace(/\.$/, '');
    this.indexOptions = { namespace: options.namespace, clusterDomain };
    this.balancerOptions = { nodeName: options.nodeName || undefined, zone: options.zone || undefined, region: options.region || undefined, random: options.random ?? Math.random };
    this.clock = options.clock ?? systemClock;
    this.timers = options.timers ?? globalTimers;
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

  report(service: string, target: Target, outcome: AttemptOutcome): void {
    const health = this.health.get(service);
    if (health === undefined || this.closed) return;
    health.detector.record(target.key, outcome);
    if (health.detector.version !== health.builtVersion) this.healthChanged([service]);
  }

  /** Rebuilds the pickers of Services whose ejections changed, tells listeners, re-arms the timer. */
  private healthChanged(keys: readonly string[]): void {
    for (const key of keys) this.refresh(key);
    this.schedule();
    for (const listener of [...this.listeners]) listener();
  }

  /** Sets the one timer for the earliest ejection end of any Service (none when none is ejected). */
  private schedule(): void {
    if (this.closed) return;
    const now = this.clock.now();
    let next = Infinity;
    for (const { detector } of this.health.values()) next = Math.min(next, detector.nextChangeAt(now) ?? Infinity);
    if (this.timer && this.timer.at === next) return;
    if (this.timer) this.timers.clearTimeout(this.timer.handle);
    this.timer = undefined;
    if (next === Infinity) return;
    const handle = this.timers.setTimeout(() => this.onTimer(), Math.max(0, Math.ceil(next - now)));
    (handle as { unref?: () => void } | undefined)?.unref?.();
    this.timer = { handle, at: next };
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.closed) return;
    const now = this.clock.now();
    const changed: string[] = [];
    for (const [key, health] of this.health) {
      health.detector.nextChangeAt(now);
      if (health.detector.version !== health.builtVersion) changed.push(key);
    }
    if (changed.length > 0) this.healthChanged(changed);
    else this.schedule();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  close(): void {
    this.unsubscribe();
    this.closed = true;
    if (this.timer) this.timers.clearTimeout(this.timer.handle);
    this.timer = undefined;
  }

  healthStats(): Array<{ service: string; ejectionsTotal: number; ejectedNow: number }> {
    const now = this.clock.now();
    const out = [...this.health].map(([service, h]) => ({ service, ejectionsTotal: this.ejections.get(service) ?? 0, ejectedNow: h.detector.ejected(now).length }));
    for (const [service, total] of this.ejections) if (!this.health.has(service)) out.push({ service, ejectionsTotal: total, ejectedNow: 0 });
    return out;
  }

  explain(host: string, port: number, request?: ExplainRequest): unknown {
    const match = this.router.match(host);
    const destination = this.router.destinationOf(match, host, port);
    const key = match.type === 'known' ? match.entry.route.key : undefined;
    const state = key === undefined ? undefined : this.states.get(key)?.ports.get(port);
    return {
      request: { host, port },
      namespace: this.indexOptions.namespace,
      match: describeMatch(match, this.config),
      destination: describeDestination(destination),
      ...(state && destination.type !== 'direct' ? { servicePort: describePort(state.servicePort, state.balance, state.affinity) } : {}),
      ...(state && destination.type === 'service' && request ? { decision: describeDecision(state.balance, state.affinity, request) } : {}),
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
      localityFailover: state.service.policy?.localityFailover === true,
      outlierDetection: this.health.get(key)?.detector.toJSON() ?? { enabled: false },
      ports: [...state.ports.values()].map((p) => describePort(p.servicePort, p.balance, p.affinity)),
    }));
    const { nodeName, zone, region } = this.balancerOptions;
    return { ready: this.ready, nodeName: nodeName ?? null, zone: zone ?? null, region: region ?? null, services };
  }

  setLocality(locality: { zone: string; region: string }): void {
    const zone = locality.zone || undefined;
    const region = locality.region || undefined;
    if (this.closed || (zone === this.balancerOptions.zone && region === this.balancerOptions.region)) return;
    this.balancerOptions = { ...this.balancerOptions, zone, region };
    for (const key of [...this.states.keys()]) this.refresh(key);
    for (const listener of [...this.listeners]) listener();
  }

  private apply(change: ConfigChange): void {
    let rebuild = change.services.size > 0;
    for (const name of change.services) this.refresh(name);
    if (change.services.size > 0 || change.endpointGroups.size > 0) this.schedule();
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
      this.health.delete(key);
      this.ejections.delete(key);
      return;
    }
    const previous = this.states.get(key);
    const ports = new Map<number, PortState>();
    // An ExternalName Service is a DNS alias: it has no endpoints to balance.
    if (service.type !== pb.ServiceType.SERVICE_TYPE_EXTERNAL_NAME) {
      const group = this.config.endpointGroup(key);
      const { nodeName, zone } = this.balancerOptions;
      // Eligibility first: the outlier detector tracks every eligible endpoint of the Service.
      const chosen: { servicePort: ServicePort; input: Parameters<typeof balancePort>[0]; eligibility: ReturnType<typeof eligibleSet> }[] = [];
      const protocols = new Map<number, number>();
      for (const servicePort of service.ports) {
        const number = servicePort.port ?? 0;
        // The proxy carries TCP: when TCP and UDP share a number (DNS), the TCP port wins.
        if (protocols.get(number) === pb.Protocol.PROTOCOL_TCP) continue;
        protocols.set(number, servicePort.protocol ?? pb.Protocol.PROTOCOL_TCP);
        const input = { serviceKey: key, service, servicePort, group, nodeName, zone };
        const index = chosen.findIndex((c) => (c.servicePort.port ?? 0) === number);
        const entry = { servicePort, input, eligibility: eligibleSet(input, this.balancerOptions) };
        if (index >= 0) chosen[index] = entry;
        else chosen.push(entry);
      }
      const ejected = this.updateHealth(key, service, chosen.flatMap((c) => c.eligibility.type === 'eligible' ? c.eligibility.endpoints.map((e) => e.key) : []));
      const options = ejected.size > 0 ? { ...this.balancerOptions, ejected } : this.balancerOptions;
      for (const { servicePort, input, eligibility } of chosen) {
        const number = servicePort.port ?? 0;
        const before = previous?.ports.get(number);
        const balance = balancePort(input, options, before?.balance, eligibility);
        const affinity = this.affinityOf(service, balance, before?.affinity);
        const destination = before && before.balance.picker === balance.picker && before.balance.hashKey === balance.hashKey && samePort(before.servicePort, servicePort)
          && sameRequestPolicy(before.destination, service) && before.affinity === affinity && sameRule(before.destination, balance)
          ? before.destination
          : destinationOf(key, servicePort, balance, service, affinity);
        ports.set(number, { servicePort, balance, destination, ...(affinity ? { affinity } : {}) });
      }
    }
    this.states.set(key, { service, ports });
  }

  /**
   * The ClientIP affinity of a Service port: undefined unless the Service asks for it. The
   * table outlives picker rebuilds (clients stay put across scale-ups) and is replaced only when
   * the timeout changes; entries on endpoints that left are forgotten.
   */
  private affinityOf(service: Service, balance: PortBalance, previous: AffinityPicker | undefined): AffinityPicker | undefined {
    if (service.sessionAffinity !== pb.SessionAffinity.SESSION_AFFINITY_CLIENT_IP) return undefined;
    const seconds = Math.min(MAX_AFFINITY_TIMEOUT_SECONDS, service.sessionAffinityTimeoutSeconds || DEFAULT_AFFINITY_TIMEOUT_SECONDS);
    const table = previous !== undefined && previous.table.timeoutMs === seconds * 1000 ? previous.table : new ClientIpAffinity(this.clock, { timeoutSeconds: seconds });
    if (previous !== undefined && previous.table === table && previous.picker === balance.picker) return previous;
    const next = new AffinityPicker(table, balance.picker);
    if (previous !== undefined && previous.table === table) next.forgetLeft(previous);
    return next;
  }

  /**
   * Keeps Service `key`'s outlier detector in step with its policy and endpoints; returns the
   * target keys ejected now (empty when detection is off).
   */
  private updateHealth(key: string, service: Service, targetKeys: readonly string[]): ReadonlySet<string> {
    const config = outlierConfigOf(service);
    let health = this.health.get(key);
    if (config === undefined) {
      this.health.delete(key);
      return EMPTY;
    }
    if (health === undefined || !sameConfig(health.detector.config, config)) {
      const onChange = (change: OutlierChange): void => {
        if (change.type === 'eject') this.ejections.set(key, (this.ejections.get(key) ?? 0) + 1);
      };
      health = { detector: new OutlierDetector(this.clock, { config, onChange }), builtVersion: -1 };
      this.health.set(key, health);
    }
    health.detector.update(targetKeys);
    const ejected = health.detector.ejected(this.clock.now());
    health.builtVersion = health.detector.version;
    return ejected.length === 0 ? EMPTY : new Set(ejected);
  }
}

const EMPTY: ReadonlySet<string> = new Set();

/** The Service's outlier detection settings; undefined when its policy turns detection off. */
function outlierConfigOf(service: Service): Pick<OutlierDetectionConfig, 'consecutiveErrors' | 'baseEjectionMs' | 'maxEjectionPercent'> | undefined {
  const od = service.policy?.outlierDetection;
  // On by default (ARCHITECTURE 5): a Service without these settings gets the defaults.
  if (od?.enabled === false) return undefined;
  return {
    consecutiveErrors: od?.consecutiveErrors || DEFAULT_OUTLIER_DETECTION.consecutiveErrors,
    baseEjectionMs: od?.baseEjectionMs || DEFAULT_OUTLIER_DETECTION.baseEjectionMs,
    maxEjectionPercent: od ? Math.min(100, od.maxEjectionPercent ?? 0) : DEFAULT_OUTLIER_DETECTION.maxEjectionPercent,
  };
}

function sameConfig(a: OutlierDetectionConfig, b: ReturnType<typeof outlierConfigOf> & object): boolean {
  return a.consecutiveErrors === b.consecutiveErrors && a.baseEjectionMs === b.baseEjectionMs && a.maxEjectionPercent === b.maxEjectionPercent;
}
