// --auth kubernetes: a stream's projected ServiceAccount token is checked with a TokenReview,
// and the pod it is bound to must be the pod the Node claims. Successful reviews are cached
// briefly, keyed by a hash of the token, so a fleet reconnecting at once (a replica died)
// does not become a TokenReview storm on the API server.
import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { requestJson } from '../sources/kube-list.js';
import { refuse, type AuthClaim, type AuthDecision, type StreamAuthenticator } from './stream-auth.js';
import { judgeTokenReview, jwtExpiry, type TokenReviewStatus } from './token-review.js';

/** Asks the API server about `token` for `audiences`; rejects when it cannot answer. */
export type TokenReviewer = (token: string, audiences: string[]) => Promise<TokenReviewStatus>;

export interface TokenReviewAuthOptions {
  review: TokenReviewer;
  /** The audience sidecar tokens must carry (--token-audience). */
  audience: string;
  /** Longest a successful review is reused. Default 5 minutes. */
  cacheTtlMs?: number;
  /** Most reviews kept; the oldest go first. Default 10 000. */
  cacheSize?: number;
  now?: () => number;
}

interface CachedReview {
  readonly status: TokenReviewStatus;
  readonly expiresAt: number;
}

const DEFAULT_TTL_MS = 5 * 60_000;

export class TokenReviewAuthenticator implements StreamAuthenticator {
  readonly mode = 'kubernetes';
  private readonly cache = new Map<string, CachedReview>();
  /** Reviews in flight by token hash: concurrent streams with one token share one review. */
  private readonly inFlight = new Map<string, Promise<TokenReviewStatus>>();
  private readonly now: () => number;
  private readonly ttlMs: number;
  private readonly size: number;

  constructor(private readonly options: TokenReviewAuthOptions) {
    this.now = options.now ?? Date.now;
    this.ttlMs = options.cacheTtlMs ?? DEFAULT_TTL_MS;
    this.size = Math.max(1, options.cacheSize ?? 10_000);
  }

  /** Reviews cached now (for tests and debugging). */
  get cached(): number {
    return this.cache.size;
  }

  async authenticate(token: string | undefined, claim: AuthClaim): Promise<AuthDecision> {
    if (!token) return refuse('unauthenticated', 'no-token', 'no token: send the pod\'s projected ServiceAccount token as "authorization: Bearer <token>"');
    const key = createHash('sha256').update(token).digest('hex');
    let status: TokenReviewStatus;
    try {
      status = this.fromCache(key) ?? await this.review(key, token);
    } catch (err) {
      // The API server did not answer: not the subscriber's fault, so it should retry.
      return refuse('unavailable', 'review-failed', `cannot review the token: ${(err as Error).message}`);
    }
    return judgeTokenReview(status, claim, this.options.audience);
  }

  private fromCache(key: string): TokenReviewStatus | undefined {
    const entry = this.cache.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > this.now()) return entry.status;
    this.cache.delete(key);
    return undefined;
  }

  private review(key: string, token: string): Promise<TokenReviewStatus> {
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.options.review(token, [this.options.audience]).then((status) => {
        this.remember(key, token, status);
        return status;
      }).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  /** Keeps an authenticated review until min(token expiry, now + TTL); refusals are not kept (the token may become valid). */
  private remember(key: string, token: string, status: TokenReviewStatus): void {
    if (status.authenticated !== true) return;
    const now = this.now();
    const expiresAt = Math.min(jwtExpiry(token) ?? Infinity, now + this.ttlMs);
    if (expiresAt <= now) return;
    this.cache.delete(key);
    this.cache.set(key, { status, expiresAt });
    while (this.cache.size > this.size) this.cache.delete(this.cache.keys().next().value as string);
  }
}

const TOKEN_REVIEWS = '/apis/authentication.k8s.io/v1/tokenreviews';

/**
 * A {@link TokenReviewer} that creates TokenReviews with the control plane's own credentials
 * (RBAC: create tokenreviews.authentication.k8s.io, as system:auth-delegator grants).
 */
export function kubeTokenReviewer(config: KubeConfig, timeoutMs = 5_000): TokenReviewer {
  return async (token, audiences) => {
    const body = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences } };
    const answer = (await requestJson(config, 'POST', TOKEN_REVIEWS, { body, timeoutMs, signal: AbortSignal.timeout(timeoutMs) })) as { status?: TokenReviewStatus } | null;
    if (!answer || typeof answer !== 'object' || typeof answer.status !== 'object' || answer.status === null) {
      throw new Error('the TokenReview answer has no status');
    }
    return answer.status;
  };
}
