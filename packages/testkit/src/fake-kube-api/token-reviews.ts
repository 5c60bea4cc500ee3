// The fake API server's TokenReview answers (POST /apis/authentication.k8s.io/v1/tokenreviews):
// tests register which token stands for which pod; anything else is "not authenticated",
// as the real authenticator answers a token it cannot verify.

/** Path of the TokenReview collection (cluster-scoped, create only). */
export const TOKEN_REVIEWS_PATH = '/apis/authentication.k8s.io/v1/tokenreviews';

/** Who a registered token stands for: a projected ServiceAccount token bound to a pod. */
export interface FakeTokenIdentity {
  namespace: string;
  serviceAccount: string;
  /** The pod the token is bound to; omit for a token not bound to a pod (legacy Secret token). */
  podName?: string;
  podUid?: string;
  /** Set by API servers 1.30+ (ServiceAccountTokenPodNodeInfo). */
  nodeName?: string;
  /** Audiences the token was issued for (default ["skein"]). */
  audiences?: string[];
}

/** The `status` of an authentication.k8s.io/v1 TokenReview. */
export interface TokenReviewStatus {
  authenticated: boolean;
  user?: { username: string; uid: string; groups: string[]; extra?: Record<string, string[]> };
  audiences?: string[];
  error?: string;
}

/** The token table and the review logic; the server only parses and answers. */
export class FakeTokenReviews {
  private readonly tokens = new Map<string, FakeTokenIdentity>();
  /** Reviews answered, oldest first (tests count them to see caching). */
  readonly reviews: Array<{ authenticated: boolean; audiences: string[] }> = [];

  /** Makes `token` valid for `identity` (replaces an earlier entry). */
  set(token: string, identity: FakeTokenIdentity): void {
    this.tokens.set(token, identity);
  }

  /** Makes `token` invalid again (revoked, or its pod deleted). */
  delete(token: string): void {
    this.tokens.delete(token);
  }

  /** The TokenReview the API server answers to a create request `body` (parsed JSON). */
  review(body: unknown): { code: number; body: unknown } {
    const spec = (body as { spec?: { token?: unknown; audiences?: unknown } } | null)?.spec;
    if (typeof spec?.token !== 'string' || spec.token === '') {
      return { code: 422, body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Invalid', code: 422, message: 'TokenReview.authentication.k8s.io is invalid: spec.token: Required value' } };
    }
    const wanted = Array.isArray(spec.audiences) ? spec.audiences.filter((a): a is string => typeof a === 'string') : [];
    const status = this.statusFor(spec.token, wanted);
    this.reviews.push({ authenticated: status.authenticated, audiences: wanted });
    return {
      code: 201,
      body: { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', metadata: { creationTimestamp: null }, spec: { audiences: wanted }, status },
    };
  }

  private statusFor(token: string, wanted: string[]): TokenReviewStatus {
    const identity = this.tokens.get(token);
    if (!identity) return { authenticated: false, error: 'invalid bearer token' };
    const issuedFor = identity.audiences ?? ['skein'];
    // The API server answers the intersection; none means the token is not for this audience.
    const audiences = wanted.length === 0 ? issuedFor : wanted.filter((a) => issuedFor.includes(a));
    if (audiences.length === 0) return { authenticated: false, error: 'token audiences are invalid for the target audiences' };
    const extra: Record<string, string[]> = {};
    if (identity.podName) extra['authentication.kubernetes.io/pod-name'] = [identity.podName];
    if (identity.podUid) extra['authentication.kubernetes.io/pod-uid'] = [identity.podUid];
    if (identity.nodeName) extra['authentication.kubernetes.io/node-name'] = [identity.nodeName];
    return {
      authenticated: true,
      user: {
        username: `system:serviceaccount:${identity.namespace}:${identity.serviceAccount}`,
        uid: `uid-${identity.namespace}-${identity.serviceAccount}`,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${identity.namespace}`, 'system:authenticated'],
        ...(Object.keys(extra).length > 0 ? { extra } : {}),
      },
      audiences,
    };
  }
}
