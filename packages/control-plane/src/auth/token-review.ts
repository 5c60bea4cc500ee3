// Pure: what a TokenReview answer (authentication.k8s.io/v1) proves, and whether that matches
// the pod a subscriber claims to be. The Kubernetes API server is the only judge of a
// projected ServiceAccount token; we only read its verdict.
import { refuse, type AuthClaim, type AuthDecision } from './stream-auth.js';

/** `status` of a TokenReview, as the API server writes it (fields we read). */
export interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string; uid?: string; extra?: Record<string, string[] | undefined> };
  audiences?: string[];
  error?: string;
}

/** Extra keys the API server sets for a projected token bound to a pod. */
export const EXTRA_POD_NAME = 'authentication.kubernetes.io/pod-name';
/** Set since Kubernetes 1.30 (ServiceAccountTokenPodNodeInfo); absent before. */
export const EXTRA_NODE_NAME = 'authentication.kubernetes.io/node-name';

const SERVICE_ACCOUNT_USER = /^system:serviceaccount:([^:]+):([^:]+)$/;

/**
 * The decision for `claim` given a TokenReview `status` asked with `audience`:
 * - not authenticated -> UNAUTHENTICATED invalid-token;
 * - `audience` missing from status.audiences -> UNAUTHENTICATED wrong-audience (Kubernetes:
 *   a client that sets spec.audiences must check them here, an empty list means "the API
 *   server's own audience");
 * - not a ServiceAccount, or not bound to a pod -> PERMISSION_DENIED not-a-pod-token;
 * - the ServiceAccount's namespace, the pod name, or (when the API server reports it and the
 *   subscriber claims one) the node name differ from the claim -> PERMISSION_DENIED *-mismatch.
 */
export function judgeTokenReview(status: TokenReviewStatus, claim: AuthClaim, audience: string): AuthDecision {
  if (status.authenticated !== true) {
    return refuse('unauthenticated', 'invalid-token', `the token is not valid${status.error ? `: ${status.error}` : ''}`);
  }
  if (!(status.audiences ?? []).includes(audience)) {
    return refuse('unauthenticated', 'wrong-audience', `the token is not for audience "${audience}" (mount a projected token with audience ${audience})`);
  }
  const username = status.user?.username ?? '';
  const account = SERVICE_ACCOUNT_USER.exec(username);
  if (!account) return refuse('permission-denied', 'not-a-pod-token', `the token belongs to "${username}", not to a ServiceAccount`);
  const namespace = account[1]!;
  if (namespace !== claim.namespace) {
    return refuse('permission-denied', 'namespace-mismatch', `the token is for namespace "${namespace}", the node claims namespace "${claim.namespace}"`);
  }
  const pod = firstExtra(status, EXTRA_POD_NAME);
  if (pod === undefined) {
    return refuse('permission-denied', 'not-a-pod-token', `the token of ${username} is not bound to a pod (use a projected ServiceAccount token)`);
  }
  if (pod !== claim.pod) {
    return refuse('permission-denied', 'pod-mismatch', `the token is for pod "${namespace}/${pod}", the node claims pod "${claim.namespace}/${claim.pod}"`);
  }
  const node = firstExtra(status, EXTRA_NODE_NAME);
  if (node !== undefined && claim.nodeName !== '' && node !== claim.nodeName) {
    return refuse('permission-denied', 'node-mismatch', `the token's pod runs on node "${node}", the node claims node "${claim.nodeName}"`);
  }
  return { type: 'allow', subject: `${username} pod ${namespace}/${pod}` };
}

function firstExtra(status: TokenReviewStatus, key: string): string | undefined {
  const values = status.user?.extra?.[key];
  return Array.isArray(values) && typeof values[0] === 'string' && values[0] !== '' ? values[0] : undefined;
}

/**
 * Milliseconds since the epoch at which a JWT's `exp` claim says it expires; undefined when
 * the token is not a JWT or has no numeric `exp`. Read only to bound caching: the signature
 * is the API server's business.
 */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' && Number.isFinite(payload.exp) ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
