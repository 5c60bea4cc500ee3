// Which failed attempts the HTTP forwarder may send again, and how many retries may be in
// flight at once (the retry budget).
//
// Beyond connect failures (always retried, see http-forwarder.ts), a Service opts in with
// `skein.io/retries: N`: an idempotent request (RFC 9110 section 9.2.2) without a body that
// got 502/503/504, or whose connection was reset before any response byte, is sent again on a
// different endpoint, up to N times. Requests with a body are never retried this way: the body
// has streamed to the failed endpoint and is not buffered.
//
// Timeouts: `skein.io/timeout` is the overall timeout, from the request's start to the end of
// the response, across all attempts. There is no separate per-try setting yet; as Envoy's
// per_try_timeout defaults to the route timeout, the per-try timeout is the overall one (the
// connect timeout still bounds each connection attempt).

/** Methods RFC 9110 defines as idempotent. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** True when `method` is idempotent per RFC 9110 (safe to send twice). */
export function isIdempotent(method: string | undefined): boolean {
  return method !== undefined && IDEMPOTENT.has(method);
}

/** Gateway statuses that say the endpoint, not the request, failed: 502, 503, 504. */
export function isRetryableStatus(status: number): boolean {
  return status === 502 || status === 503 || status === 504;
}

/** Envoy's retry budget defaults: 20% of active requests, at least 3 concurrent retries. */
export const RETRY_BUDGET_PERCENT = 20;
export const RETRY_BUDGET_MIN_CONCURRENCY = 3;

/**
 * The retry budget of one service: requests that are retrying may not exceed
 * `percent`% of the active requests, with a floor of `minConcurrency`, so that retries cannot
 * multiply the load on a struggling service (a retry storm). A request counts as retrying
 * from its first policy retry until it ends.
 */
export class RetryBudget {
  /** Requests in flight. */
  active = 0;
  /** Requests in flight that have retried. */
  retrying = 0;
  /** Retries refused because the budget was spent. */
  exhausted = 0;

  constructor(
    private readonly percent = RETRY_BUDGET_PERCENT,
    private readonly minConcurrency = RETRY_BUDGET_MIN_CONCURRENCY,
  ) {}

  /** True when one more request may start retrying. */
  allows(): boolean {
    return this.retrying < Math.max(this.minConcurrency, Math.floor((this.active * this.percent) / 100));
  }
}

/**
 * One request's seat in a retry budget, shared by the proxy's exchanges (RetryTargets) and
 * library mode (ServiceRequest): counted in `active` from construction to `leaveBudget()`, and
 * in `retrying` from its first policy retry. A base class rather than a member, so a request
 * allocates nothing more for it.
 */
export class RetrySeat {
  private inRetry = false;
  private released = false;

  constructor(protected readonly budget: RetryBudget) {
    budget.active++;
  }

  /** Whether the budget lets this request take a policy retry (always once it is retrying); counts a refusal. */
  protected budgetAllowsRetry(): boolean {
    if (this.inRetry || this.budget.allows()) return true;
    this.budget.exhausted++;
    return false;
  }

  /** The request takes a policy retry: from the first one on it counts as retrying. */
  protected enterRetry(): void {
    if (this.inRetry) return;
    this.inRetry = true;
    this.budget.retrying++;
  }

  /** The request is over: it leaves the budget (exactly once). */
  protected leaveBudget(): void {
    if (this.released) return;
    this.released = true;
    this.budget.active--;
    if (this.inRetry) this.budget.retrying--;
  }
}

/**
 * The retry budgets of a proxy, one per service label. A listener's HTTP/1.1 and h2c legs share
 * one RetryBudgets, so a service's mixed traffic is held to one budget.
 */
export class RetryBudgets {
  private readonly budgets = new Map<string, RetryBudget>();

  /** The budget of the service `label` ("<namespace>/<name>"), created on first use. */
  budget(label: string): RetryBudget {
    let budget = this.budgets.get(label);
    if (budget === undefined) {
      budget = new RetryBudget();
      this.budgets.set(label, budget);
    }
    return budget;
  }
}
