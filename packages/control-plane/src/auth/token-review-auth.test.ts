import { describe, expect, it } from 'vitest';
import { StaticTokenAuthenticator } from './static-token-auth.js';
import type { AuthClaim } from './stream-auth.js';
import { TokenReviewAuthenticator } from './token-review-auth.js';
import type { TokenReviewStatus } from './token-review.js';

const claim: AuthClaim = { pod: 'web-1', namespace: 'shop', nodeName: '' };
const valid: TokenReviewStatus = {
  authenticated: true, audiences: ['skein'],
  user: { username: 'system:serviceaccount:shop:web', extra: { 'authentication.kubernetes.io/pod-name': ['web-1'] } },
};
const jwt = (expSeconds: number) => `e30.${Buffer.from(JSON.stringify({ exp: expSeconds })).toString('base64url')}.sig`;

/** A TokenReviewAuthenticator over a scripted API server and a hand-moved clock. */
function setup(answer: (token: string) => TokenReviewStatus | Error = () => valid) {
  const clock = { now: 1_000_000 };
  const reviews: Array<{ token: string; audiences: string[] }> = [];
  const auth = new TokenReviewAuthenticator({
    audience: 'skein', cacheSize: 2, now: () => clock.now,
    review: async (token, audiences) => {
      reviews.push({ token, audiences });
      await Promise.resolve();
      const result = answer(token);
      if (result instanceof Error) throw result;
      return result;
    },
  });
  return { auth, clock, reviews };
}

describe('TokenReviewAuthenticator', () => {
  it('refuses a stream without a token without asking the API server', async () => {
    const { auth, reviews } = setup();
    expect(await auth.authenticate(undefined, claim)).toMatchObject({ type: 'refuse', status: 'unauthenticated', reason: 'no-token' });
    expect(reviews).toHaveLength(0);
  });

  it('asks for its audience, and reuses a successful review for 5 minutes', async () => {
    const { auth, clock, reviews } = setup();
    expect(await auth.authenticate('tok', claim)).toMatchObject({ type: 'allow' });
    expect(reviews).toEqual([{ token: 'tok', audiences: ['skein'] }]);
    clock.now += 4 * 60_000;
    expect(await auth.authenticate('tok', claim)).toMatchObject({ type: 'allow' });
    expect(reviews).toHaveLength(1);
    clock.now += 61_000;
    await auth.authenticate('tok', claim);
    expect(reviews).toHaveLength(2);
  });

  it('judges the claim on every stream, cached review or not', async () => {
    const { auth, reviews } = setup();
    await auth.authenticate('tok', claim);
    expect(await auth.authenticate('tok', { ...claim, pod: 'other' })).toMatchObject({ type: 'refuse', status: 'permission-denied', reason: 'pod-mismatch' });
    expect(reviews).toHaveLength(1);
  });

  it('keeps a review no longer than the token lives', async () => {
    const { auth, clock, reviews } = setup();
    const token = jwt(clock.now / 1000 + 30);
    await auth.authenticate(token, claim);
    clock.now += 29_000;
    await auth.authenticate(token, claim);
    expect(reviews).toHaveLength(1);
    clock.now += 2_000;
    await auth.authenticate(token, claim);
    expect(reviews).toHaveLength(2);
    // Already expired: reviewed (the API server refuses it) and never kept.
    expect(auth.cached).toBe(0);
  });

  it('does not keep refusals: a token may become valid', async () => {
    let ok = false;
    const { auth, reviews } = setup(() => (ok ? valid : { authenticated: false, error: 'unknown token' }));
    expect(await auth.authenticate('tok', claim)).toMatchObject({ status: 'unauthenticated', reason: 'invalid-token' });
    ok = true;
    expect(await auth.authenticate('tok', claim)).toMatchObject({ type: 'allow' });
    expect(reviews).toHaveLength(2);
  });

  it('shares one review among streams that arrive together with one token (reconnect storm)', async () => {
    const { auth, reviews } = setup();
    const decisions = await Promise.all([1, 2, 3].map(() => auth.authenticate('tok', claim)));
    expect(decisions.map((d) => d.type)).toEqual(['allow', 'allow', 'allow']);
    expect(reviews).toHaveLength(1);
  });

  it('answers UNAVAILABLE when the API server cannot review, so the sidecar retries', async () => {
    const { auth } = setup(() => new Error('POST /apis/authentication.k8s.io/v1/tokenreviews: 503 etcd is down'));
    expect(await auth.authenticate('tok', claim)).toEqual({
      type: 'refuse', status: 'unavailable', reason: 'review-failed',
      message: 'cannot review the token: POST /apis/authentication.k8s.io/v1/tokenreviews: 503 etcd is down',
    });
  });

  it('bounds the cache, dropping the oldest review first', async () => {
    const { auth, reviews } = setup();
    for (const token of ['a', 'b', 'c']) await auth.authenticate(token, claim);
    expect(auth.cached).toBe(2);
    await auth.authenticate('c', claim);
    await auth.authenticate('a', claim);
    expect(reviews.map((r) => r.token)).toEqual(['a', 'b', 'c', 'a']);
  });
});

describe('StaticTokenAuthenticator', () => {
  const files = (content: string | Error) => async () => {
    if (content instanceof Error) throw content;
    return content;
  };

  it('admits the shared token (trailing newline ignored) and refuses others', async () => {
    const auth = new StaticTokenAuthenticator('/etc/skein/token', files('shared\n'));
    await auth.check();
    expect(await auth.authenticate('shared', claim)).toEqual({ type: 'allow', subject: 'static token' });
    expect(await auth.authenticate('guess', claim)).toMatchObject({ type: 'refuse', status: 'unauthenticated', reason: 'invalid-token' });
    expect(await auth.authenticate(undefined, claim)).toMatchObject({ type: 'refuse', status: 'unauthenticated', reason: 'no-token' });
  });

  it('re-reads the file for each stream, so replacing it rotates the token', async () => {
    let content = 'old';
    const auth = new StaticTokenAuthenticator('/t', async () => content);
    expect((await auth.authenticate('old', claim)).type).toBe('allow');
    content = 'new';
    expect((await auth.authenticate('old', claim)).type).toBe('refuse');
    expect((await auth.authenticate('new', claim)).type).toBe('allow');
  });

  it('fails start-up on an empty file, and answers UNAVAILABLE when the file goes missing later', async () => {
    await expect(new StaticTokenAuthenticator('/t', files('  \n')).check()).rejects.toThrow('/t is empty');
    const gone = Object.assign(new Error('no such file'), { code: 'ENOENT' });
    expect(await new StaticTokenAuthenticator('/t', files(gone)).authenticate('x', claim))
      .toEqual({ type: 'refuse', status: 'unavailable', reason: 'review-failed', message: 'cannot read the token file: ENOENT' });
  });
});
