// The fake API server's TokenReviews, over HTTP as a real client sends them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeKubeApi } from './fake-kube-api.js';
import { TOKEN_REVIEWS_PATH } from './token-reviews.js';

describe('FakeKubeApi TokenReviews', () => {
  let api: FakeKubeApi;
  beforeAll(async () => {
    api = await FakeKubeApi.start();
    api.tokenReviews.set('pod-token', { namespace: 'shop', serviceAccount: 'web', podName: 'web-1', podUid: 'u1', nodeName: 'node-a' });
    api.tokenReviews.set('legacy-token', { namespace: 'shop', serviceAccount: 'web' });
  });
  afterAll(() => api.stop());

  const review = async (token: string, audiences?: string[], auth = `Bearer ${api.token}`) => {
    const res = await fetch(`${api.url}${TOKEN_REVIEWS_PATH}`, {
      method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, ...(audiences ? { audiences } : {}) } }),
    });
    return { code: res.status, body: (await res.json()) as { status?: Record<string, unknown> } };
  };

  it('authenticates a registered pod token, with the pod and node in extra and the audiences it matched', async () => {
    const { code, body } = await review('pod-token', ['skein']);
    expect(code).toBe(201);
    expect(body.status).toEqual({
      authenticated: true, audiences: ['skein'],
      user: {
        username: 'system:serviceaccount:shop:web', uid: 'uid-shop-web',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:shop', 'system:authenticated'],
        extra: { 'authentication.kubernetes.io/pod-name': ['web-1'], 'authentication.kubernetes.io/pod-uid': ['u1'], 'authentication.kubernetes.io/node-name': ['node-a'] },
      },
    });
  });

  it('does not authenticate unknown tokens or tokens for other audiences; a token not bound to a pod has no pod extra', async () => {
    expect((await review('forged', ['skein'])).body.status).toEqual({ authenticated: false, error: 'invalid bearer token' });
    expect((await review('pod-token', ['vault'])).body.status).toMatchObject({ authenticated: false });
    expect((await review('legacy-token', ['skein'])).body.status).not.toHaveProperty('user.extra');
    expect(api.tokenReviews.reviews.map((r) => r.authenticated)).toEqual([true, false, false, true]);
  });

  it('requires the API credentials like every other request, and a token in the spec', async () => {
    expect((await review('pod-token', ['skein'], 'Bearer wrong')).code).toBe(401);
    const empty = await review('', ['skein']);
    expect(empty.code).toBe(422);
  });
});
