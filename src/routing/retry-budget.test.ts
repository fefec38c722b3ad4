import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RoutingConfig } from '../config/config.js';
import { RetryBudget } from './retry-budget.js';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const DEFAULTS: RoutingConfig['retryBudget'] = { ratio: 0.2, windowSeconds: 10, minRetries: 3 };

function budgetWith(config: Partial<RoutingConfig['retryBudget']> = {}): {
  budget: RetryBudget;
  clock: { now: number };
} {
  const clock = { now: T0 };
  return { budget: new RetryBudget({ ...DEFAULTS, ...config }, () => clock.now), clock };
}

function requests(budget: RetryBudget, count: number): void {
  for (let index = 0; index < count; index++) budget.recordRequest();
}

/** Takes retries until one is refused; returns how many were granted (at most `limit`). */
function drain(budget: RetryBudget, limit = 1000): number {
  let granted = 0;
  while (granted < limit && budget.tryRetry()) granted++;
  return granted;
}

describe('RetryBudget', () => {
  it('grants ratio × requests + minRetries retries: 23 after 100 requests, refusing the 24th', () => {
    const { budget } = budgetWith();
    requests(budget, 100);
    for (let retry = 1; retry <= 23; retry++) assert.equal(budget.tryRetry(), true, `retry ${retry}`);
    assert.equal(budget.tryRetry(), false, 'retry 24');
    assert.equal(budget.tryRetry(), false, 'a refusal takes nothing and grants nothing');
  });

  it('grants minRetries with no requests at all', () => {
    const { budget } = budgetWith();
    assert.equal(drain(budget), 3);
  });

  it('grants nothing with ratio 0 and minRetries 0', () => {
    const { budget } = budgetWith({ ratio: 0, minRetries: 0 });
    requests(budget, 1000);
    assert.equal(budget.tryRetry(), false);
  });

  it('deposits retries as requests arrive', () => {
    const { budget } = budgetWith({ minRetries: 0 });
    requests(budget, 4);
    assert.equal(budget.tryRetry(), false, '4 × 0.2 is less than one retry');
    budget.recordRequest();
    assert.equal(budget.tryRetry(), true, '5 × 0.2 is one retry');
    assert.equal(budget.tryRetry(), false);
  });

  it('refills as the window slides and old seconds drop out', () => {
    const { budget, clock } = budgetWith();
    requests(budget, 100);
    assert.equal(drain(budget), 23);
    clock.now = T0 + 5_000;
    assert.equal(budget.tryRetry(), false, 'nothing has left the window yet');
    requests(budget, 50);
    assert.equal(drain(budget), 10, '150 × 0.2 + 3 = 33, of which 23 are spent');
    clock.now = T0 + 10_000;
    // Second 0 (100 requests, 23 retries) has left: 50 × 0.2 + 3 = 13, of which 10 are spent.
    assert.equal(drain(budget), 3);
    clock.now = T0 + 15_000;
    assert.equal(drain(budget), 0, 'the 3 retries of second 10 are still in the window');
    clock.now = T0 + 20_000;
    assert.equal(drain(budget), 3, 'an empty window grants minRetries again');
  });
});
