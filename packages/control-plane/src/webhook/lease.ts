// Pure: leader election on a coordination.k8s.io/v1 Lease, the decision half. The I/O half
// (cert-manager.ts) reads the Lease, asks here what to do, and writes with the Lease's
// resourceVersion, so of two replicas deciding at once only one write succeeds.
//
// Expiry follows client-go's leaderelection: a Lease is expired when its record (holder and
// renewTime) has not changed for leaseDurationSeconds *as observed by this replica's clock*,
// not by comparing renewTime with our clock, so clock skew between nodes cannot make two holders.

export const LEASE_DURATION_SECONDS = 15;

/** The Lease fields leader election uses (coordination.k8s.io/v1 LeaseSpec). */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** What this replica saw of the Lease last time, and when (its own clock). */
export interface LeaseObservation {
  record: string;
  at: number;
}

export type LeaseDecision =
  /** No Lease yet: create it, holding it. */
  | { type: 'create' }
  /** This replica holds it: write a new renewTime. */
  | { type: 'renew' }
  /** Free or expired: write this replica as holder. */
  | { type: 'take-over'; previousHolder: string }
  /** Someone else holds it. */
  | { type: 'wait'; holder: string; expiresAt: number };

/**
 * Decides from the Lease as read now (undefined: it does not exist) and the previous observation;
 * returns the observation to pass next time.
 */
export function decideLease(
  spec: LeaseSpec | undefined, me: string, now: number, previous: LeaseObservation | undefined,
): { decision: LeaseDecision; observation: LeaseObservation | undefined } {
  if (!spec) return { decision: { type: 'create' }, observation: undefined };
  const holder = spec.holderIdentity ?? '';
  const record = `${holder}|${spec.renewTime ?? ''}|${spec.leaseDurationSeconds ?? ''}`;
  const observation = previous?.record === record ? previous : { record, at: now };
  if (holder === me) return { decision: { type: 'renew' }, observation };
  if (holder === '') return { decision: { type: 'take-over', previousHolder: '' }, observation };
  const expiresAt = observation.at + (spec.leaseDurationSeconds ?? LEASE_DURATION_SECONDS) * 1000;
  if (now >= expiresAt) return { decision: { type: 'take-over', previousHolder: holder }, observation };
  return { decision: { type: 'wait', holder, expiresAt }, observation };
}

/** A MicroTime as the API server writes it: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** The spec to write for `decision` (not for `wait`). */
export function nextLeaseSpec(decision: Exclude<LeaseDecision, { type: 'wait' }>, current: LeaseSpec | undefined, me: string, now: number): LeaseSpec {
  const time = microTime(now);
  if (decision.type === 'renew') return { ...current, holderIdentity: me, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewTime: time };
  return {
    ...current,
    holderIdentity: me,
    leaseDurationSeconds: LEASE_DURATION_SECONDS,
    acquireTime: time,
    renewTime: time,
    leaseTransitions: decision.type === 'create' ? 0 : (current?.leaseTransitions ?? 0) + 1,
  };
}
