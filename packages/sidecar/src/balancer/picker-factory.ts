// Chooses the picker of a Service port from its `skein.io/load-balancer` policy
// (MeshPolicy.load_balancer). Called on config change only, never per request.
import { LoadBalancer } from '@skein/protocol';
import type { Picker } from '../dataplane.js';
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
