// Stage 1 of endpoint selection: which endpoints of a Service port may receive traffic, by
// kube-proxy's rules (pkg/proxy/topology.go, CategorizeEndpoints; see topology.ts): readiness,
// topology hints, internalTrafficPolicy. A verdict for every endpoint and the rule that made
// the set, so /clusters and /explain can say why. Pure.
import { pb, type Endpoint, type EndpointGroup, type Service, type ServicePort } from '@skein/protocol';
import type { DestinationError } from '../dataplane.js';
import { localNoEndpointError, noEndpointError } from '../errors.js';
import { targetKey } from './round-robin.js';
import {
  categorizeEndpoints, internalPolicyUse,
  type ClusterRule, type Locality, type LocalRule, type TopologyFacts, type TopologyMode,
} from './topology.js';

/** An endpoint that may be picked, with the port to connect to. */
export interface EligibleEndpoint {
  readonly endpoint: Endpoint;
  readonly address: string;
  /** The endpoint's number for the Service port (a named targetPort differs per Pod). */
  readonly port: number;
  /** "address:port" (`Target.key`), made once here and shared by the picker's Target and outlier detection. */
  readonly key: string;
  /** Relative weight, at least 1 (0 or unset means 1). */
  readonly weight: number;
}

/** Why an endpoint is or is not in the eligible set. */
export interface EndpointVerdict {
  readonly address: string;
  /** Undefined when the endpoint serves no port linked to the Service port. */
  readonly port: number | undefined;
  readonly eligible: boolean;
  readonly reason: string;
}

/**
 * Which kube-proxy rule produced the set: "all ready", "terminating fallback",
 * "hints: forZones zone-a", "hints: forNodes node-a", "local: node-a" (+ ", terminating fallback").
 */
export type EligibilityRule = ClusterRule | LocalRule;

export type Eligibility =
  | {
    readonly type: 'eligible';
    readonly rule: EligibilityRule;
    /** How topology hints were used: "forZones zone-a", or "not used: <why>" / "ignored: <why>". */
    readonly hints: string;
    readonly endpoints: readonly EligibleEndpoint[];
    readonly verdicts: readonly EndpointVerdict[];
  }
  | { readonly type: 'none'; readonly error: DestinationError; readonly verdicts: readonly EndpointVerdict[] };

export interface EligibilityInput {
  /** "<namespace>/<name>", for error messages. */
  readonly serviceKey: string;
  readonly service: Service;
  readonly servicePort: ServicePort;
  /** The EndpointGroup of the Service; undefined when none is known yet. */
  readonly group: EndpointGroup | undefined;
  /** This proxy's node (internalTrafficPolicy Local, forNodes hints); undefined when unknown. */
  readonly nodeName: string | undefined;
  /** This proxy's zone (forZones hints); undefined when unknown. */
  readonly zone?: string | undefined;
}

/**
 * The endpoint's port for a Service port. Why: the Service port's `name` links it to the
 * EndpointSlice port (kube-proxy matches by name and protocol; an unnamed single-port
 * Service matches the unnamed slice port), whose number is the Pod's resolved targetPort.
 * An endpoint that lists no port at all (a hand-written group) gets a numeric targetPort,
 * the same on every Pod; one that lists other ports only does not serve this one, as in
 * kube-proxy. A named targetPort cannot be resolved without the slice port.
 */
export function targetPortOf(endpoint: Endpoint, servicePort: ServicePort): number | undefined {
  const name = servicePort.name ?? '';
  const protocol = servicePort.protocol ?? pb.Protocol.PROTOCOL_TCP;
  const ports = endpoint.ports ?? [];
  for (const p of ports) {
    if ((p.name ?? '') === name && (p.protocol ?? pb.Protocol.PROTOCOL_TCP) === protocol && p.port) return p.port;
  }
  if (ports.length > 0 || servicePort.targetPortName) return undefined;
  return servicePort.targetPortNumber || servicePort.port || undefined;
}

interface Candidate extends TopologyFacts {
  readonly endpoint: Endpoint;
  readonly address: string;
  readonly port: number;
}

/**
 * The eligible set of one Service port for traffic this proxy's client sends: kube-proxy's
 * Cluster set (ready endpoints, narrowed by topology hints for this node or zone; else the
 * serving+terminating ones) or, with internalTrafficPolicy Local, its Local set (the same
 * rule on this node's endpoints, hints ignored). With Local and usable endpoints elsewhere
 * only, the result is SKEIN_ERR_LOCAL_NO_ENDPOINT (kube-proxy drops such traffic; no fallback).
 */
export function eligibleEndpoints(input: EligibilityInput): Eligibility {
  const { serviceKey, service, servicePort, nodeName } = input;
  const locality: Locality = { nodeName, zone: input.zone };
  const candidates: Candidate[] = [];
  const unlinked: EndpointVerdict[] = [];
  for (const endpoint of input.group?.endpoints ?? []) {
    const address = endpoint.address ?? '';
    const port = targetPortOf(endpoint, servicePort);
    if (port === undefined) {
      unlinked.push({ address, port, eligible: false, reason: `serves no port "${servicePort.name || servicePort.targetPortName}"` });
      continue;
    }
    // Conditions as the EndpointSlice API defines them: ready and serving default to true.
    candidates.push({
      endpoint, address, port,
      ready: endpoint.ready ?? true,
      serving: endpoint.serving ?? true,
      terminating: endpoint.terminating ?? false,
      local: nodeName !== undefined && nodeName !== '' && endpoint.nodeName === nodeName,
      hintsForNodes: endpoint.hintsForNodes ?? [],
      hintsForZones: endpoint.hintsForZones ?? [],
    });
  }
  const use = internalPolicyUse(service);
  const categorized = categorizeEndpoints(candidates, use, locality);
  const set = (use.local ? categorized.local : categorized.cluster)!;
  const chosen = new Set(set.endpoints);
  const verdicts: EndpointVerdict[] = candidates.map((c) => {
    const eligible = chosen.has(c);
    return { address: c.address, port: c.port, eligible, reason: reasonFor(c, eligible, use.local, categorized.topology, locality) };
  });
  verdicts.push(...unlinked);
  const hints = use.local ? 'ignored: internalTrafficPolicy Local' : describeTopology(categorized.topology);
  if (set.endpoints.length > 0) {
    const endpoints = set.endpoints.map((c) => ({ endpoint: c.endpoint, address: c.address, port: c.port, key: targetKey(c.address, c.port), weight: c.endpoint.weight || 1 }));
    return { type: 'eligible', rule: set.rule, hints, endpoints, verdicts };
  }
  const port = servicePort.port ?? 0;
  if (use.local && categorized.hasAny) return { type: 'none', error: localNoEndpointError(serviceKey, port, nodeName), verdicts };
  return { type: 'none', error: noEndpointError(serviceKey, port, summary(input.group, candidates.length, unlinked.length)), verdicts };
}

function describeTopology(mode: TopologyMode): string {
  switch (mode.type) {
    case 'node':
      return `forNodes ${mode.node}`;
    case 'zone':
      return `forZones ${mode.zone}`;
    case 'none':
      return `not used: ${mode.why}`;
  }
}

function reasonFor(c: Candidate, eligible: boolean, local: boolean, mode: TopologyMode, locality: Locality): string {
  if (eligible) {
    if (!c.ready) return 'serving and terminating, and no endpoint is ready (kube-proxy fallback)';
    if (mode.type === 'node') return `ready, hinted for this node "${mode.node}"`;
    if (mode.type === 'zone') return `ready, hinted for this zone "${mode.zone}"`;
    return 'ready';
  }
  if (!c.ready && !(c.serving && c.terminating)) return c.terminating ? 'terminating and not serving' : 'not ready';
  if (local && !c.local) return `not on this node ${locality.nodeName ? `"${locality.nodeName}"` : '(node name unknown)'} (internalTrafficPolicy Local)`;
  if (c.ready && mode.type === 'node') return `hinted for node(s) ${c.hintsForNodes.join(', ')}, not this node "${mode.node}" (topology hints)`;
  if (c.ready && mode.type === 'zone') return `hinted for zone(s) ${c.hintsForZones.join(', ')}, not this zone "${mode.zone}" (topology hints)`;
  return 'terminating; ready endpoints are preferred';
}

function summary(group: EndpointGroup | undefined, linked: number, unlinked: number): string {
  if (!group) return 'no endpoints known yet';
  if (linked + unlinked === 0) return 'the service has no endpoints';
  if (linked === 0) return `${unlinked} endpoint(s) serve no matching port`;
  return `${linked} endpoint(s), none ready or serving while terminating`;
}
