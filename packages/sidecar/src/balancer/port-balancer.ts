// Endpoint selection for one Service port, as one pipeline (ARCHITECTURE section 5):
// eligible set (kube-proxy: readiness, topology hints, traffic policy) -> [later stages:
// locality, health] -> picker (the Service's `skein.io/load-balancer` policy).
// Run on config change only; keeps the previous picker when its endpoints and policy did not change.
import { LoadBalancer } from '@skein/protocol';
import type { HashKeySource, Picker } from '../dataplane.js';
import { joinHostPort, noEndpointError } from '../errors.js';
import { eligibleEndpoints, type Eligibility, type EligibilityInput } from './eligibility.js';
import { FailPicker } from './fail-picker.js';
import { createPicker, hashKeySourceOf, type LoadBalancerPolicy } from './picker-factory.js';
import type { Random } from './round-robin.js';

/**
 * A step between the eligible set and the picker (locality priorities,
 * outlier ejection come in as stages). Gets a non-empty eligible set; returns the set to
 * pass on, or `none` with its own error. Must be pure.
 */
export interface EndpointStage {
  readonly name: string;
  apply(set: Eligibility & { type: 'eligible' }, input: EligibilityInput): Eligibility;
}

export interface PortBalancerOptions {
  /** This proxy's node (internalTrafficPolicy Local, forNodes hints); undefined when unknown. */
  readonly nodeName: string | undefined;
  /** This proxy's zone (forZones hints); undefined when unknown. */
  readonly zone?: string | undefined;
  /** Randomness for pickers' start offsets. */
  readonly random: Random;
  /** Stages run in order after eligibility; none yet. */
  readonly stages?: readonly EndpointStage[];
}

/** The balancing state of one Service port: why each endpoint is in or out, and the picker. */
export interface PortBalance {
  readonly eligibility: Eligibility;
  /** Replaced only when `signature` changes; a request in flight keeps the one it got. */
  readonly picker: Picker;
  /** The Service's `skein.io/load-balancer` policy the picker was built for. */
  readonly loadBalancer: LoadBalancerPolicy;
  /** Where request hashes come from, when the picker hashes (ring hash, maglev). */
  readonly hashKey: HashKeySource | undefined;
  /**
   * The policy and the picked set ("<policy>|<hash key>|addr:port*weight,…" or "!code: message");
   * equal signatures share a picker.
   */
  readonly signature: string;
}

/**
 * Runs the pipeline for one Service port; the picker kind is the Service's
 * `policy.loadBalancer` (round robin when unset). With `previous` (the port's last balance), its
 * picker is reused when the policy and the picked endpoints are the same, so changes elsewhere
 * in the EndpointGroup (a not-ready Pod appearing, another port's endpoints) replace no picker.
 * A replaced picker is handed to the new one (least request keeps its counts, ring hash its density).
 */
export function balancePort(input: EligibilityInput, options: PortBalancerOptions, previous?: PortBalance): PortBalance {
  let eligibility = eligibleEndpoints(input);
  for (const stage of options.stages ?? []) {
    if (eligibility.type !== 'eligible') break;
    eligibility = stage.apply(eligibility, input);
  }
  const policy = input.service.policy;
  const loadBalancer: LoadBalancerPolicy = policy?.loadBalancer ?? LoadBalancer.LOAD_BALANCER_ROUND_ROBIN;
  const hashKey = hashKeySourceOf(policy);
  const signature = signatureOf(eligibility, loadBalancer, hashKey);
  if (previous && previous.signature === signature) return { eligibility, picker: previous.picker, loadBalancer, hashKey: previous.hashKey, signature };
  const picker = eligibility.type === 'eligible' && eligibility.endpoints.length > 0
    ? createPicker(loadBalancer, eligibility.endpoints, { random: options.random, previous: previous?.picker })
    : new FailPicker(eligibility.type === 'none'
      ? eligibility.error
      : noEndpointError(input.serviceKey, input.servicePort.port ?? 0, 'every endpoint was filtered out'));
  return { eligibility, picker, loadBalancer, hashKey, signature };
}

function signatureOf(eligibility: Eligibility, loadBalancer: number, hashKey: HashKeySource | undefined): string {
  if (eligibility.type === 'none') return `!${eligibility.error.code}: ${eligibility.error.message}`;
  const key = hashKey === undefined ? '' : hashKey.type === 'source-ip' ? 'source-ip' : `${hashKey.type}:${hashKey.name}`;
  return `${loadBalancer}|${key}|${eligibility.endpoints.map((e) => `${joinHostPort(e.address, e.port)}*${e.weight}`).join(',')}`;
}
