// JSON views of the data plane's state for the admin API (/clusters, /explain). Read-only:
// nothing here is on the request path.
import type { ServicePort } from '@skein/protocol';
import type { Destination } from './dataplane.js';
import type { MeshConfigView } from './discovery/mesh-config.js';
import { joinHostPort } from './errors.js';
import type { AffinityPicker } from './balancer/affinity-picker.js';
import { policyName } from './balancer/picker-factory.js';
import { balanceDetails, type PortBalance, type Selection } from './balancer/port-balancer.js';
import { appProtocolOf } from './routing/app-protocol.js';
import type { RouteMatch } from './routing/router.js';

/** One Service port for /clusters and /explain: picker, affinity, rule, selection, endpoints. */
export function describePort(p: ServicePort, balance: PortBalance, affinity: AffinityPicker | undefined): Record<string, unknown> {
  // Recomputed from what the balance was built on (it keeps no per-endpoint results).
  const { eligibility: e, selection } = balanceDetails(balance);
  return {
    port: p.port ?? 0,
    name: p.name ?? '',
    targetPort: p.targetPortName || p.targetPortNumber || p.port || 0,
    appProtocol: appProtocolOf(p),
    picker: { type: balance.picker.size > 0 ? policyName(balance.loadBalancer) : 'fail', size: balance.picker.size, ...(balance.hashKey ? { hashKey: balance.hashKey } : {}) },
    ...(affinity ? { sessionAffinity: { type: 'ClientIP', timeoutSeconds: affinity.table.timeoutMs / 1000, clients: affinity.table.size } } : {}),
    ...(e.type === 'eligible' ? { rule: e.rule, hints: e.hints } : { error: e.error }),
    ...(selection ? { selection: describeSelection(selection) } : {}),
    endpoints: e.verdicts,
  };
}

function describeSelection(s: Selection): Record<string, unknown> {
  return {
    localityFailover: s.localityFailover,
    totalPanic: s.totalPanic,
    ejected: s.ejected,
    priorities: s.tiers.map((t, priority) => ({
      priority, tier: t.tier, load: t.load, healthy: t.healthy, total: t.total, panic: t.panic,
      endpoints: t.endpoints.map((e) => joinHostPort(e.address, e.port)),
    })),
  };
}

/** How a host matched, for /explain. */
export function describeMatch(match: RouteMatch, config: MeshConfigView): Record<string, unknown> {
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

/** A Destination as JSON, for /explain. */
export function describeDestination(d: Destination): Record<string, unknown> {
  switch (d.type) {
    case 'service':
      return { type: 'service', service: d.service, servicePort: d.servicePort, portName: d.portName, appProtocol: d.appProtocol, endpoints: d.picker.size };
    case 'direct':
      return { ...d };
    case 'reject':
      return { type: 'reject', error: d.error };
  }
}
