// The retry budget: one per service, shared by every listener leg of a proxy (HTTP/1.1 and
// h2c), so mixed traffic cannot retry more than one budget allows.
import { describe, expect, it } from 'vitest';
import { noopLogger } from '../logger.js';
import { ClusterStats } from './cluster-stats.js';
import { FakeDataplane } from './fake-dataplane.test-helper.js';
import { H2cProxy } from './h2c-proxy.js';
import { HttpForwarder } from './http-forwarder.js';
import { RetryBudget, RetryBudgets } from './retry-policy.js';

describe('RetryBudget', () => {
  it('allows max(3, 20% of active) requests to be retrying', () => {
    const budget = new RetryBudget();
    budget.active = 10;
    budget.retrying = 2;
    expect(budget.allows()).toBe(true);
    budget.retrying = 3;
    expect(budget.allows()).toBe(false);
    budget.active = 20;
    expect(budget.allows()).toBe(true);
    budget.retrying = 4;
    expect(budget.allows()).toBe(false);
  });
});

describe('RetryBudgets', () => {
  it('keeps one budget per service, shared by the HTTP/1.1 and h2c legs given the same budgets', () => {
    const budgets = new RetryBudgets();
    expect(budgets.budget('demo/web')).toBe(budgets.budget('demo/web'));
    expect(budgets.budget('demo/web')).not.toBe(budgets.budget('demo/api'));
    const shared = { dataplane: new FakeDataplane(), stats: new ClusterStats(), logger: noopLogger, connectTimeoutMs: 100, maxConnectRetries: 0, retryBudgets: budgets };
    const forwarder = new HttpForwarder(shared);
    const h2 = new H2cProxy({ ...shared, knownWaitMs: 0 });
    expect(forwarder.budget('demo/web')).toBe(h2.budget('demo/web'));
    expect(h2.budget('demo/web')).toBe(budgets.budget('demo/web'));
    forwarder.close();
    h2.close();
  });
});
