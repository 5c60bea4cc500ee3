// Chooses the picker of a Service port from its `skein.io/load-balancer` policy
// (MeshPolicy.load_balancer). Called on config change only, never per request.
import { LoadBalancer, type MeshPolicy } from '@skein/protocol';
import type { HashKeySource, Picker } from '../dataplane.js';
import { LeastRequestPicker } from './least-request.js';
import { MaglevPicker } from './maglev.js';
import { RandomPicker } from './random-picker.js';
import { RingHashPicker } from './ring-hash.js';
import { RoundRobinPicker, type Random, type WeightedAddress } from './round-robin.js';

/** A `LoadBalancer` enum value (LOAD_BALANCER_ROUND_ROBIN, …). */
export type LoadBalancerPolicy = (typeof LoadBalancer)[keyof typeof LoadBalancer];

export interface PickerDeps {
  readonly random: Random;
  /**
   * The picker being replaced, if any. Least request takes over its outstanding counts; ring
   * hash keeps its virtual-node density so that one endpoint more or less moves ~1/N of keys.
   * Ignored when it is of another kind.
   */
  readonly previous?: Picker;
}

/**
 * The picker for `policy` over `endpoints` (not empty: use `FailPicker` for no endpoint).
 * Unknown policy values fall back to round robin, the default.
 */
export function createPicker(policy: LoadBalancerPolicy, endpoints: readonly WeightedAddress[], deps: PickerDeps): Picker {
  const { random, previous } = deps;
  switch (policy) {
    case LoadBalancer.LOAD_BALANCER_RANDOM:
      return new RandomPicker(endpoints, random);
    case LoadBalancer.LOAD_BALANCER_LEAST_REQUEST:
      return new LeastRequestPicker(endpoints, random, previous instanceof LeastRequestPicker ? previous : undefined);
    case LoadBalancer.LOAD_BALANCER_RING_HASH:
      return new RingHashPicker(endpoints, random, { previous: previous instanceof RingHashPicker ? previous : undefined });
    case LoadBalancer.LOAD_BALANCER_MAGLEV:
      return new MaglevPicker(endpoints, random);
    default:
      return new RoundRobinPicker(endpoints, random);
  }
}

/** True for the policies whose pickers hash requests (ring hash, maglev). */
export function isHashingPolicy(policy: LoadBalancerPolicy): boolean {
  return policy === LoadBalancer.LOAD_BALANCER_RING_HASH || policy === LoadBalancer.LOAD_BALANCER_MAGLEV;
}

/**
 * Where requests' hash keys come from (`skein.io/hash-key`) for a hashing policy: the header
 * (lower-cased) or cookie it names, else the source address (the documented default).
 * Undefined for pickers that do not hash.
 */
export function hashKeySourceOf(policy: MeshPolicy | null | undefined): HashKeySource | undefined {
  if (!isHashingPolicy(policy?.loadBalancer ?? LoadBalancer.LOAD_BALANCER_ROUND_ROBIN)) return undefined;
  const key = policy?.hashKey;
  if (key?.header) return { type: 'header', name: key.header.toLowerCase() };
  if (key?.cookie) return { type: 'cookie', name: key.cookie };
  return { type: 'source-ip' };
}

/** The `skein.io/load-balancer` annotation value of a policy (for /clusters and /explain). */
export function policyName(policy: LoadBalancerPolicy): string {
  switch (policy) {
    case LoadBalancer.LOAD_BALANCER_RANDOM: return 'random';
    case LoadBalancer.LOAD_BALANCER_LEAST_REQUEST: return 'least-request';
    case LoadBalancer.LOAD_BALANCER_RING_HASH: return 'ring-hash';
    case LoadBalancer.LOAD_BALANCER_MAGLEV: return 'maglev';
    default: return 'round-robin';
  }
}
