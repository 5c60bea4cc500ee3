import { describe, expect, it } from 'vitest';
import type { AuthClaim } from './stream-auth.js';
import { bearerToken } from './stream-auth.js';
import { judgeTokenReview, jwtExpiry, type TokenReviewStatus } from './token-review.js';

const claim: AuthClaim = { pod: 'web-7d9f', namespace: 'shop', nodeName: 'node-a' };

/** What the API server answers for a projected token of pod shop/web-7d9f on node-a, audience skein. */
function review(overrides: Partial<TokenReviewStatus> = {}, extra: Record<string, string[]> = {}): TokenReviewStatus {
  return {
    authenticated: true,
    audiences: ['skein'],
    user: {
      username: 'system:serviceaccount:shop:web',
      uid: 'u-1',
      extra: { 'authentication.kubernetes.io/pod-name': ['web-7d9f'], 'authentication.kubernetes.io/pod-uid': ['p-1'], ...extra },
    },
    ...overrides,
  };
}

const outcome = (status: TokenReviewStatus, c: AuthClaim = claim) => {
  const decision = judgeTokenReview(status, c, 'skein');
  return decision.type === 'allow' ? 'allow' : `${decision.status} ${decision.reason}`;
};

describe('judgeTokenReview', () => {
  it('admits a projected token bound to the claimed pod in the claimed namespace', () => {
    expect(judgeTokenReview(review(), claim, 'skein')).toEqual({ type: 'allow', subject: 'system:serviceaccount:shop:web pod shop/web-7d9f' });
  });

  it('refuses an unauthenticated token as UNAUTHENTICATED, with the API server\'s reason', () => {
    const decision = judgeTokenReview({ authenticated: false, error: 'token has expired' }, claim, 'skein');
    expect(decision).toEqual({ type: 'refuse', status: 'unauthenticated', reason: 'invalid-token', message: 'the token is not valid: token has expired' });
    expect(outcome({})).toBe('unauthenticated invalid-token');
  });

  it('refuses a token whose review does not confirm our audience (Kubernetes: an empty list means the API server\'s own)', () => {
    expect(outcome(review({ audiences: ['https://kubernetes.default.svc'] }))).toBe('unauthenticated wrong-audience');
    expect(outcome(review({ audiences: [] }))).toBe('unauthenticated wrong-audience');
    expect(outcome(review({ audiences: undefined }))).toBe('unauthenticated wrong-audience');
  });

  it('refuses valid tokens that prove no pod as PERMISSION_DENIED', () => {
    expect(outcome(review({ user: { username: 'alice@example.com' } }))).toBe('permission-denied not-a-pod-token');
    // A legacy Secret-based ServiceAccount token: valid, but not bound to any pod.
    expect(outcome(review({ user: { username: 'system:serviceaccount:shop:web' } }))).toBe('permission-denied not-a-pod-token');
    expect(outcome(review({ user: { username: 'system:serviceaccount:shop:web', extra: { 'authentication.kubernetes.io/pod-name': [''] } } }))).toBe('permission-denied not-a-pod-token');
  });

  it('refuses a valid pod token used for another pod, namespace or node as PERMISSION_DENIED', () => {
    expect(outcome(review(), { ...claim, namespace: 'admin' })).toBe('permission-denied namespace-mismatch');
    expect(outcome(review(), { ...claim, pod: 'payments-0' })).toBe('permission-denied pod-mismatch');
    const decision = judgeTokenReview(review(), { ...claim, pod: 'payments-0' }, 'skein');
    expect(decision.type === 'refuse' && decision.message).toBe('the token is for pod "shop/web-7d9f", the node claims pod "shop/payments-0"');
    const onNode = (node: string) => review({}, { 'authentication.kubernetes.io/node-name': [node] });
    expect(outcome(onNode('node-b'))).toBe('permission-denied node-mismatch');
    expect(outcome(onNode('node-a'))).toBe('allow');
    // Node checked only when both sides say: API servers before 1.30 do not report it, library mode may not claim it.
    expect(outcome(onNode('node-b'), { ...claim, nodeName: '' })).toBe('allow');
    expect(outcome(review(), { ...claim, nodeName: 'node-z' })).toBe('allow');
  });
});

describe('jwtExpiry', () => {
  const jwt = (payload: object) => `e30.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`;

  it('reads exp (seconds) as epoch milliseconds', () => {
    expect(jwtExpiry(jwt({ exp: 1_700_000_000, aud: ['skein'] }))).toBe(1_700_000_000_000);
  });

  it('is undefined for anything that is not a JWT with a numeric exp', () => {
    expect(jwtExpiry('opaque-token')).toBeUndefined();
    expect(jwtExpiry(jwt({ aud: 'skein' }))).toBeUndefined();
    expect(jwtExpiry(jwt({ exp: '1700000000' }))).toBeUndefined();
    expect(jwtExpiry('a.!!!.c')).toBeUndefined();
  });
});

describe('bearerToken', () => {
  it('takes the token of a Bearer header, case-insensitively, and nothing else', () => {
    expect(bearerToken('Bearer abc.def')).toBe('abc.def');
    expect(bearerToken('bearer  abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken('Bearer ')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});
