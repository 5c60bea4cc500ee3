// Fake Kubernetes API server for tests: real list/watch protocol over node:http.
export { FakeKubeApi, type FailureRule, type FakeKubeApiOptions, type RecordedRequest } from './fake-kube-api.js';
export { renderKubeconfig, type KubeconfigTarget } from './kubeconfig.js';
export { RESOURCE_TYPES, type FakeKind, type ResourceType } from './resources.js';
export type { StoredObject } from './selectors.js';
export { kubeStatus, type KubeStatus } from './status.js';
export { FakeTokenReviews, TOKEN_REVIEWS_PATH, type FakeTokenIdentity, type TokenReviewStatus } from './token-reviews.js';
