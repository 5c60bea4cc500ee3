// The working form of an endpoint while an EndpointGroup is assembled from slices, legacy
// Endpoints or Pods, and the steps every source shares: port matching, locality, dedupe.
import type { EndpointPort } from '@skein/protocol';
import type { ClusterState } from './cluster-state.js';
import { LABEL_REGION, LABEL_ZONE, type ServiceObject } from './kube-objects.js';
import { protocolOf } from './service-resource.js';

/** A Service port as endpoint ports are matched to it. */
export interface ServicePortRef {
  /** "" for the single unnamed port. */
  readonly name: string;
  /** Kubernetes protocol name, "TCP" by default. */
  readonly protocol: string;
  readonly appProtocol: string;
  readonly port: number;
  /** targetPort: a number, or a container port name resolved per pod. */
  readonly target: number | string;
}

/** One endpoint before dedupe; `hostname` is still the short name. */
export interface EndpointDraft {
  address: string;
  ports: EndpointPort[];
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  nodeName: string;
  zone: string;
  region: string;
  hintsForZones: string[];
  hintsForNodes: string[];
  hostname: string;
  pod: string;
}

/**
 * An endpoint port with proto3 default values left unset. Why: protobufjs writes every field
 * that is set, defaults too, while decoders read an absent field as its default: an unnamed
 * TCP port without appProtocol costs 6 bytes less.
 */
export function endpointPort(name: string, port: number, protocol: string, appProtocol: string): EndpointPort {
  const value = protocolOf(protocol);
  return { ...(name ? { name } : {}), port, ...(value ? { protocol: value } : {}), ...(appProtocol ? { appProtocol } : {}) };
}

/** The Service's ports with Kubernetes defaults applied (protocol TCP, targetPort = port). */
export function servicePortRefs(service: ServiceObject): ServicePortRef[] {
  return (service.spec?.ports ?? []).map((port) => ({
    name: port.name ?? '',
    protocol: port.protocol ?? 'TCP',
    appProtocol: port.appProtocol ?? '',
    port: port.port!,
    target: port.targetPort ?? port.port!,
  }));
}

/**
 * The endpoint ports of a slice (or Endpoints subset) that belong to the Service. Why:
 * kube-proxy links them by port name and protocol (an unnamed slice port matches the single
 * unnamed Service port); a slice port without a number means "all ports" and is skipped.
 */
export function matchPorts(
  ports: ReadonlyArray<{ name?: string | null; port?: number | null; protocol?: string; appProtocol?: string }> | undefined,
  servicePorts: readonly ServicePortRef[],
): EndpointPort[] {
  const matched: EndpointPort[] = [];
  for (const port of ports ?? []) {
    if (port.port == null) continue;
    const protocol = port.protocol ?? 'TCP';
    const servicePort = servicePorts.find((p) => p.name === (port.name ?? '') && p.protocol === protocol);
    if (!servicePort) continue;
    matched.push(endpointPort(servicePort.name, port.port, protocol, port.appProtocol || servicePort.appProtocol));
  }
  return matched;
}

/** Zone (the given one, else the Node's label) and region (the Node's label). */
export function locate(state: ClusterState, nodeName: string, zone?: string): { zone: string; region: string } {
  const labels = nodeName ? state.node(nodeName)?.metadata?.labels : undefined;
  return { zone: zone || (labels?.[LABEL_ZONE] ?? ''), region: labels?.[LABEL_REGION] ?? '' };
}

/** "<namespace>/<name>" of a targetRef of kind Pod, else "". */
export function podRef(ref: { kind?: string; namespace?: string; name?: string } | undefined, namespace: string): string {
  return ref?.kind === 'Pod' && ref.name ? `${ref.namespace || namespace}/${ref.name}` : '';
}

/**
 * One draft per address. Why: the same address may appear in several slices (or subsets);
 * like kube-proxy, prefer a ready one (then a serving one, then the first, in slice-name
 * order), and add the ports the others know by names the chosen one lacks.
 */
export function mergeDrafts(drafts: readonly EndpointDraft[]): EndpointDraft[] {
  const rank = (d: EndpointDraft): number => (d.ready ? 2 : d.serving ? 1 : 0);
  const byAddress = new Map<string, EndpointDraft[]>();
  for (const draft of drafts) {
    const same = byAddress.get(draft.address);
    if (same) same.push(draft);
    else byAddress.set(draft.address, [draft]);
  }
  const merged: EndpointDraft[] = [];
  for (const same of byAddress.values()) {
    let best = same[0]!;
    for (const draft of same) if (rank(draft) > rank(best)) best = draft;
    const ports = [...best.ports];
    for (const draft of same) {
      for (const port of draft.ports) if (!ports.some((p) => p.name === port.name)) ports.push(port);
    }
    merged.push({ ...best, ports });
  }
  return merged;
}
