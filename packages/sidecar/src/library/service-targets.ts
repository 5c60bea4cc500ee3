// The set of endpoints a service port's picker chooses among, for consumers that balance
// themselves (grpc-js round_robin) or need to know which endpoint pools are still wanted.
import type { Dataplane, Destination, DestinationError, Target } from '../dataplane.js';

type ServiceDestination = Extract<Destination, { type: 'service' }>;

/**
 * The targets behind `host:port`, given its `service` destination. Uses the data plane's
 * `endpoints()` when it has one. Otherwise derives the list from the picker: it picks
 * `picker.size` times, excluding what it already got, so any picker that honours `exclude`
 * yields each of its endpoints once (round robin does even without it). The fallback moves a
 * round-robin picker's position, which is harmless: it is called on config changes, not per request.
 */
export function serviceTargets(dataplane: Dataplane, host: string, port: number, destination: ServiceDestination): readonly Target[] | DestinationError {
  if (dataplane.endpoints) return dataplane.endpoints(host, port);
  const { picker } = destination;
  const seen = new Set<string>();
  const targets: Target[] = [];
  for (let i = 0; i < picker.size; i++) {
    const result = picker.pick(seen);
    if (result.type === 'fail') return targets.length > 0 ? targets : result.error;
    if (seen.has(result.target.key)) break;
    seen.add(result.target.key);
    targets.push(result.target);
  }
  return targets;
}

export function isDestinationError(value: readonly Target[] | DestinationError): value is DestinationError {
  return !Array.isArray(value);
}

/** The target keys `host:port` currently names, or an empty set when it names no service. */
export function currentTargetKeys(dataplane: Dataplane, host: string, port: number): ReadonlySet<string> {
  const destination = dataplane.resolve(host, port);
  if (destination.type !== 'service') return new Set();
  const targets = serviceTargets(dataplane, host, port, destination);
  return new Set(isDestinationError(targets) ? [] : targets.map((t) => t.key));
}
