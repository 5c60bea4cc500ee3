// kube-proxy's endpoint categorization (pkg/proxy/topology.go, CategorizeEndpoints), as a pure
// function over endpoint facts: which endpoints Cluster and Local traffic policy may use from
// this proxy's node and zone, and which rule decided. Eligibility uses it for the client's own
// traffic; the gateway listener will use the full Cluster/Local split for external traffic.
import { pb, type Service, type ServicePort } from '@skein/protocol';

/** What categorization needs to know about one endpoint of a Service port. */
export interface TopologyFacts {
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  /** On this proxy's node. */
  readonly local: boolean;
  readonly hintsForNodes: readonly string[];
  readonly hintsForZones: readonly string[];
}

/** Where this proxy runs; undefined (or empty) when unknown, which matches no hint and no node. */
export interface Locality {
  readonly nodeName: string | undefined;
  readonly zone: string | undefined;
}

/** Which endpoint sets the Service uses (kube-proxy's UsesClusterEndpoints / UsesLocalEndpoints). */
export interface TrafficPolicyUse {
  readonly cluster: boolean;
  readonly local: boolean;
}

/** How topology hints shape the Cluster set: by this node, by this zone, or not at all (and why). */
export type TopologyMode =
  | { readonly type: 'node'; readonly node: string }
  | { readonly type: 'zone'; readonly zone: string }
  | { readonly type: 'none'; readonly why: string };

/** The rule that produced a Cluster-policy set. */
export type ClusterRule = 'all ready' | 'terminating fallback' | `hints: forNodes ${string}` | `hints: forZones ${string}`;
/** The rule that produced a Local-policy set. */
export type LocalRule = `local: ${string}` | `local: ${string}, terminating fallback`;

export interface CategorizedSet<T, R> {
  readonly endpoints: readonly T[];
  readonly rule: R;
}

export interface Categorized<T> {
  /** Undefined when the Service never uses Cluster policy. */
  readonly cluster: CategorizedSet<T, ClusterRule> | undefined;
  /** Undefined when the Service never uses Local policy; empty: no usable endpoint on this node. */
  readonly local: CategorizedSet<T, LocalRule> | undefined;
  /** Union of both sets, in input order. */
  readonly all: readonly T[];
  /** Some endpoint anywhere is usable (true while `all` is empty means: only on other nodes). */
  readonly hasAny: boolean;
  readonly topology: TopologyMode;
}

/** The policy use of in-cluster traffic a client sends to the Service (internalTrafficPolicy only). */
export function internalPolicyUse(service: Service): TrafficPolicyUse {
  const local = service.internalTrafficPolicy === pb.TrafficPolicy.TRAFFIC_POLICY_LOCAL;
  return { cluster: !local, local };
}

/**
 * The policy use of a Service port as kube-proxy computes it, external traffic included.
 * Why: externalTrafficPolicy only counts when the port is reachable from outside (a node
 * port, a load-balancer ingress or an external IP); such a port always needs the Cluster set
 * too (kube-proxy short-circuits external traffic that starts on the node itself to it). A
 * gateway listener picks the Local set for external traffic under eTP Local, else Cluster.
 */
export function trafficPolicyUse(service: Service, servicePort: ServicePort): TrafficPolicyUse {
  const internalLocal = service.internalTrafficPolicy === pb.TrafficPolicy.TRAFFIC_POLICY_LOCAL;
  const external = (servicePort.nodePort ?? 0) > 0 || (service.loadBalancerIngress?.length ?? 0) > 0 || (service.externalIps?.length ?? 0) > 0;
  const externalLocal = external && service.externalTrafficPolicy === pb.TrafficPolicy.TRAFFIC_POLICY_LOCAL;
  return { cluster: !internalLocal || external, local: internalLocal || externalLocal };
}

/**
 * Topology mode from the hints of the ready endpoints. Why (current kube-proxy): hints are
 * used whenever present, whatever the Service's topology-mode annotation or
 * trafficDistribution (those only tell the EndpointSlice controller to write them):
 * every ready endpoint has a node hint and one names this node -> by node; else every ready
 * endpoint has a zone hint and one names this zone -> by zone; else none.
 */
export function topologyModeOf(endpoints: readonly TopologyFacts[], locality: Locality): TopologyMode {
  const node = locality.nodeName || undefined;
  const zone = locality.zone || undefined;
  let anyReady = false;
  let allNodeHints = true;
  let forNode = false;
  let allZoneHints = true;
  let forZone = false;
  let anyHint = false;
  for (const e of endpoints) {
    if (!e.ready) continue;
    anyReady = true;
    anyHint ||= e.hintsForNodes.length > 0 || e.hintsForZones.length > 0;
    if (e.hintsForNodes.length === 0) allNodeHints = false;
    else if (node !== undefined && e.hintsForNodes.includes(node)) forNode = true;
    if (e.hintsForZones.length === 0) allZoneHints = false;
    else if (zone !== undefined && e.hintsForZones.includes(zone)) forZone = true;
  }
  if (!anyReady) return { type: 'none', why: 'no ready endpoint' };
  if (!anyHint) return { type: 'none', why: 'no hints' };
  if (allNodeHints && forNode && node !== undefined) return { type: 'node', node };
  if (allZoneHints && forZone && zone !== undefined) return { type: 'zone', zone };
  if (!allZoneHints) return { type: 'none', why: allNodeHints ? 'no endpoint hinted for this node' : 'not every ready endpoint has a hint' };
  return { type: 'none', why: zone === undefined ? 'this proxy\'s zone is unknown' : `no endpoint hinted for zone "${zone}"` };
}

/** Whether a ready endpoint is in the Cluster set under `mode` (no fallback here: the mode decided). */
export function availableForTopology(e: TopologyFacts, mode: TopologyMode): boolean {
  switch (mode.type) {
    case 'none':
      return true;
    case 'node':
      return e.hintsForNodes.includes(mode.node);
    case 'zone':
      return e.hintsForZones.includes(mode.zone);
  }
}

/**
 * Splits a Service port's endpoints as kube-proxy does. Usable means ready; with none ready
 * (independently for each set), serving and terminating. Cluster: the ready endpoints the
 * topology mode allows, else every serving+terminating one (topology ignored). Local: the
 * endpoints on this node, hints ignored (a Local policy wins over hints), with no fallback
 * to other nodes.
 */
export function categorizeEndpoints<T extends TopologyFacts>(endpoints: readonly T[], use: TrafficPolicyUse, locality: Locality): Categorized<T> {
  const topology = use.cluster ? topologyModeOf(endpoints, locality) : { type: 'none' as const, why: 'the Service uses Local policy only' };
  let cluster: CategorizedSet<T, ClusterRule> | undefined;
  let local: CategorizedSet<T, LocalRule> | undefined;
  let hasAny = false;
  if (use.cluster) {
    const ready = endpoints.filter((e) => e.ready && availableForTopology(e, topology));
    cluster = ready.length > 0
      ? { endpoints: ready, rule: ruleOf(topology) }
      : { endpoints: endpoints.filter(drains), rule: 'terminating fallback' };
    hasAny = cluster.endpoints.length > 0;
  }
  if (use.local) {
    hasAny ||= endpoints.some((e) => e.ready || drains(e));
    const node = locality.nodeName || '(node unknown)';
    const ready = endpoints.filter((e) => e.local && e.ready);
    local = ready.length > 0
      ? { endpoints: ready, rule: `local: ${node}` }
      : { endpoints: endpoints.filter((e) => e.local && drains(e)), rule: `local: ${node}, terminating fallback` };
  }
  const all = !cluster ? local?.endpoints ?? [] : !local ? cluster.endpoints : union(cluster.endpoints, local.endpoints);
  return { cluster, local, all, hasAny, topology };
}

/** Serving and terminating, and not ready: used only when no endpoint of the set is ready. */
function drains(e: TopologyFacts): boolean {
  return !e.ready && e.serving && e.terminating;
}

function ruleOf(mode: TopologyMode): ClusterRule {
  switch (mode.type) {
    case 'none':
      return 'all ready';
    case 'node':
      return `hints: forNodes ${mode.node}`;
    case 'zone':
      return `hints: forZones ${mode.zone}`;
  }
}

function union<T>(a: readonly T[], b: readonly T[]): readonly T[] {
  const seen = new Set(a);
  const extra = b.filter((e) => !seen.has(e));
  return extra.length === 0 ? a : [...a, ...extra];
}
