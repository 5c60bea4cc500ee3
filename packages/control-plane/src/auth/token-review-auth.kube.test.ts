// kubeTokenReviewer against the test kit's fake API server: the real request, RBAC refusals
// and server errors become UNAVAILABLE decisions, never permanent ones.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeKubeApi } from '@skein/testkit';
import { loadKubeConfig } from '../sources/kubernetes.js';
import { kubeTokenReviewer, TokenReviewAuthenticator } from './token-review-auth.js';

describe('TokenReviewAuthenticator against the fake API server', () => {
  let api: FakeKubeApi;
  let auth: TokenReviewAuthenticator;
  const claim = { pod: 'web-1', namespace: 'shop', nodeName: 'node-a' };

  beforeAll(async () => {
    api = await FakeKubeApi.start();
    api.tokenReviews.set('pod-token', { namespace: 'shop', serviceAccount: 'web', podName: 'web-1', nodeName: 'node-a' });
    auth = new TokenReviewAuthenticator({ review: kubeTokenReviewer(loadKubeConfig({ yaml: api.kubeconfig() }), 2_000), audience: 'skein' });
  });
  afterAll(() => api.stop());

  it('creates a TokenReview with the audience and admits the pod it names', async () => {
    expect(await auth.authenticate('pod-token', claim)).toMatchObject({ type: 'allow' });
    expect(api.tokenReviews.reviews).toEqual([{ authenticated: true, audiences: ['skein'] }]);
    expect(await auth.authenticate('forged', claim)).toMatchObject({ type: 'refuse', status: 'unauthenticated', reason: 'invalid-token' });
  });

  it('answers UNAVAILABLE with the API server\'s message when RBAC forbids TokenReviews or the server fails', async () => {
    api.failNext({ method: 'POST', pathPrefix: '/apis/authentication.k8s.io', status: 403 });
    const forbidden = await auth.authenticate('other-token', claim);
    expect(forbidden).toMatchObject({ type: 'refuse', status: 'unavailable', reason: 'review-failed' });
    expect(forbidden.type === 'refuse' && forbidden.message).toContain('POST /apis/authentication.k8s.io/v1/tokenreviews: 403');
    api.failNext({ method: 'POST', pathPrefix: '/apis/authentication.k8s.io', status: 503 });
    expect(await auth.authenticate('other-token', claim)).toMatchObject({ status: 'unavailable' });
  });
});
