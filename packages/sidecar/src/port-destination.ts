// The Destination a Service port resolves to: built when its picker, affinity or request
// policy changes, and shared by every request until then (resolve() allocates nothing).
import type { Service, ServicePort } from '@skein/protocol';
import type { AffinityPicker } from './balancer/affinity-picker.js';
import type { PortBalance } from './balancer/port-balancer.js';
import type { Destination } from './dataplane.js';
import { ErrorCode } from './errors.js';
import { appProtocolOf } from './routing/app-protocol.js';

/** The Destination of one Service port for its current balance. */
export function destinationOf(key: string, servicePort: ServicePort, balance: PortBalance, service: Service, affinity: AffinityPicker | undefined): Destination {
  const retries = service.policy?.retries;
  const timeoutMs = service.policy?.timeoutMs;
  const e = balance.outcome;
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
    ...(affinity ? { affinity } : {}),
    ...(retries !== undefined && retries !== null ? { retries } : {}),
    ...(timeoutMs ? { timeoutMs } : {}),
    ...(e.type === 'eligible' ? { rule: e.rule } : {}),
  });
}

/** Whether `destination` still carries the Service's `skein.io/retries` and `skein.io/timeout`. */
export function sameRequestPolicy(destination: Destination, service: Service): boolean {
  if (destination.type !== 'service') return true;
  const retries = service.policy?.retries;
  const timeoutMs = service.policy?.timeoutMs;
  return destination.retries === (retries ?? undefined) && destination.timeoutMs === (timeoutMs || undefined);
}

/** Whether `destination` still names the balance's eligibility rule (for spans). */
export function sameRule(destination: Destination, balance: PortBalance): boolean {
  const e = balance.outcome;
  return destination.type !== 'service' || destination.rule === (e.type === 'eligible' ? e.rule : undefined);
}

/** Whether two versions of a Service port route alike (name and appProtocol). */
export function samePort(a: ServicePort, b: ServicePort): boolean {
  return (a.name ?? '') === (b.name ?? '') && (a.appProtocol ?? '') === (b.appProtocol ?? '');
}
