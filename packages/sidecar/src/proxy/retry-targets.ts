// Where a forwarded request goes after its endpoint failed or was full, and what it may still
// spend on that: connect failures and refused streams within `maxConnectRetries`, policy retries
// (`skein.io/retries`) within the service's retry budget, and circuit-breaking overflow to an
// endpoint not yet tried (no retry spent). Every path picks an endpoint the request has not tried
// (retrying a failing endpoint only adds latency). Used by the HTTP/1.1 and h2c exchanges.
import type { Logger } from '../logger.js';
import type { Target } from '../dataplane.js';
import { retryTarget, type Routable } from './destination.js';
import { RetrySeat, type RetryBudget } from './retry-policy.js';

/** The retry allowances and endpoints tried of one request. */
export class RetryTargets extends RetrySeat {
  private tried: Set<string> | undefined;

  /**
   * Counts the request in `budget.active` until `release()`. `policyRetries` is 0 unless the
   * request may be policy-retried at all (idempotent, no body).
   */
  constructor(
    private readonly destination: Routable,
    private readonly hash: number | undefined,
    /** The client's address for ClientIP affinity (undefined without affinity). */
    private readonly clientIp: string | undefined,
    budget: RetryBudget,
    private connectRetriesLeft: number,
    private policyRetriesLeft: number,
    private readonly logger: Logger,
    /** The destination as the client named it, for logs. */
    private readonly what: string,
  ) {
    super(budget);
  }

  /** Another endpoint not yet tried, after `full` was at its request limit (spends no retry). */
  overflow(full: Target): Target | undefined {
    (this.tried ??= new Set()).add(full.key);
    return retryTarget(this.destination, this.tried, this.hash, this.clientIp);
  }

  /** The endpoint for a retry after a connect failure or refused stream on `failed`, or undefined. */
  connectRetry(failed: Target): Target | undefined {
    (this.tried ??= new Set()).add(failed.key);
    if (this.connectRetriesLeft <= 0) return undefined;
    const next = retryTarget(this.destination, this.tried, this.hash, this.clientIp);
    if (next) this.connectRetriesLeft--;
    return next;
  }

  /**
   * Spends a connect retry on sending again to the same endpoint (HTTP/1.1's keep-alive race: a
   * pooled connection closed under a request that never reached the app). False when none is left.
   */
  resend(): boolean {
    if (this.connectRetriesLeft <= 0) return false;
    this.connectRetriesLeft--;
    return true;
  }

  /** Whether a policy retry could still be taken (before the failed answer is read further). */
  get mayPolicyRetry(): boolean {
    return this.policyRetriesLeft > 0;
  }

  /**
   * The endpoint for a policy retry (`skein.io/retries`) after the attempt on `failed` failed,
   * or undefined: no retries left, no endpoint not yet tried, or the retry budget is spent.
   * Takes one retry (and, for the request's first, a place in the budget) when it answers.
   */
  policyRetry(failed: Target): Target | undefined {
    if (this.policyRetriesLeft <= 0) return undefined;
    if (!this.budgetAllowsRetry()) {
      this.logger.debug({ what: this.what, active: this.budget.active, retrying: this.budget.retrying }, 'retry budget exhausted; not retrying');
      return undefined;
    }
    (this.tried ??= new Set()).add(failed.key);
    const next = retryTarget(this.destination, this.tried, this.hash, this.clientIp);
    if (next === undefined) return undefined;
    this.enterRetry();
    this.policyRetriesLeft--;
    return next;
  }

  /** The request is over: it leaves the budget (exactly once). */
  release(): void {
    this.leaveBudget();
  }
}
