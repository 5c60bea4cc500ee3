// Stage 1 of endpoint selection: which endpoints of a Service port may receive traffic, by
// kube-proxy's rules (pkg/proxy/topology.go, CategorizeEndpoints), with a verdict for every
// endpoint so /clusters and /explain can say why. Pure.
import { pb, type Endpoint, type EndpointGroup, type Service, type ServicePort } from '@skein/protocol';
import type { DestinationError } from '../dataplane.js';
import { localNoEndpointError, noEndpointError } from '../errors.js';

/** An endpoint that may be picked, with the port to connect to. */
export interface EligibleEndpoint {
  readonly endpoint: Endpoint;
  readonly address: string;
  /** The endpoint's number for the Service port (a named targetPort differs per Pod). */
  readonly port: number;
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

/** Which kube-proxy rule produced the set. */
export type EligibilityRule = 'ready' | 'serving-terminating';

export type Eligibility =
  | { readonly type: 'eligible'; readonly rule: EligibilityRule; readonly endpoints: readonly EligibleEndpoint[]; readonly verdicts: readonly EndpointVerdict[] }
  | { readonly type: 'none'; readonly error: DestinationError; readonly verdicts: readonly EndpointVerdict[] };

export interface EligibilityInput {
  /** "<namespace>/<name>", for error messages. */
  readonly serviceKey: string;
  readonly service: Service;
  readonly servicePort: ServicePort;
  /** The EndpointGroup of the Service; undefined when none is known yet. */
  readonly group: EndpointGroup | undefined;
  /** This proxy's node, for internalTrafficPolicy Local; undefined when unknown. */
  readonly nodeName: string | undefined;
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

interface Candidate {
  readonly endpoint: Endpoint;
  readonly address: string;
  readonly port: number;
  readonly ready: boolean;
  /** Serving and terminating: usable only when nothing ready is (kube-proxy's fallback). */
  readonly drain: boolean;
  readonly local: boolean;
}

/**
 * The eligible set of one Service port. Cluster policy: ready endpoints, else those serving
 * and terminating. internalTrafficPolicy Local: the same rule applied to the endpoints on
 * this node only; if there are usable endpoints elsewhere but none here, the result is
 * SKEIN_ERR_LOCAL_NO_ENDPOINT (kube-proxy drops such traffic; there is no fallback).
 */
export function eligibleEndpoints(input: EligibilityInput): Eligibility {
  const { serviceKey, service, servicePort, nodeName } = input;
  const local = service.internalTrafficPolicy === pb.TrafficPolicy.TRAFFIC_POLICY_LOCAL;
  const candidates: Candidate[] = [];
  const verdicts: EndpointVerdict[] = [];
  const unlinked: EndpointVerdict[] = [];
  for (const endpoint of input.group?.endpoints ?? []) {
    const address = endpoint.address ?? '';
    const port = targetPortOf(endpoint, servicePort);
    if (port === undefined) {
      unlinked.push({ address, port, eligible: false, reason: `serves no port "${servicePort.name || servicePort.targetPortName}"` });
      continue;
    }
    // Conditions as the EndpointSlice API defines them: ready and serving default to true.
    const ready = endpoint.ready ?? true;
    const drain = !ready && (endpoint.serving ?? true) && (endpoint.terminating ?? false);
    candidates.push({ endpoint, address, port, ready, drain, local: nodeName !== undefined && endpoint.nodeName === nodeName });
  }
  const usable = candidates.filter((c) => c.ready || c.drain);
  const pool = local ? usable.filter((c) => c.local) : usable;
  const rule: EligibilityRule = pool.some((c) => c.ready) ? 'ready' : 'serving-terminating';
  const chosen = pool.filter((c) => (rule === 'ready' ? c.ready : c.drain));
  for (const c of candidates) {
    const eligible = chosen.includes(c);
    verdicts.push({ address: c.address, port: c.port, eligible, reason: reasonFor(c, eligible, rule, local, nodeName) });
  }
  verdicts.push(...unlinked);
  if (chosen.length > 0) {
    const endpoints = chosen.map((c) => ({ endpoint: c.endpoint, address: c.address, port: c.port, weight: c.endpoint.weight || 1 }));
    return { type: 'eligible', rule, endpoints, verdicts };
  }
  const port = servicePort.port ?? 0;
  if (local && usable.length > 0) return { type: 'none', error: localNoEndpointError(serviceKey, port, nodeName), verdicts };
  return { type: 'none', error: noEndpointError(serviceKey, port, summary(input.group, candidates.length, unlinked.length)), verdicts };
}

function reasonFor(c: Candidate, eligible: boolean, rule: EligibilityRule, local: boolean, nodeName: string | undefined): string {
  if (eligible) return rule === 'ready' ? 'ready' : 'serving and terminating, and no endpoint is ready (kube-proxy fallback)';
  if (!c.ready && !c.drain) return c.endpoint.terminating ? 'terminating and not serving' : 'not ready';
  if (local && !c.local) return `not on this node ${nodeName ? `"${nodeName}"` : '(node name unknown)'} (internalTrafficPolicy Local)`;
  return 'terminating; ready endpoints are preferred';
}

function summary(group: EndpointGroup | undefined, linked: number, unlinked: number): string {
  if (!group) return 'no endpoints known yet';
  if (linked + unlinked === 0) return 'the service has no endpoints';
  if (linked === 0) return `${unlinked} endpoint(s) serve no matching port`;
  return `${linked} endpoint(s), none ready or serving while terminating`;
}
