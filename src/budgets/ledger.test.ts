import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Budget } from '../config/config.js';
import {
  formatRemaining,
  limitUnits,
  secondsUntilReset,
  tightestBudget,
  type BudgetStatus,
} from './ledger.js';

function status(budget: Budget, remaining: number): BudgetStatus {
  const limit = limitUnits(budget);
  return {
    scope: 'key:k',
    budget,
    spent: limit - remaining,
    reserved: 0,
    remaining,
    limit,
    window: { start: 0, end: 1 },
  };
}

describe('budget arithmetic', () => {
  it('counts usd limits in integer micro-dollars and token limits as tokens', () => {
    assert.equal(limitUnits({ unit: 'usd', limit: 0.3, window: 'day', soft: false }), 300_000);
    assert.equal(limitUnits({ unit: 'usd', limit: 0.1 + 0.2, window: 'day', soft: false }), 300_000);
    assert.equal(limitUnits({ unit: 'tokens', limit: 2_000_000, window: 'month', soft: true }), 2_000_000);
  });

  it('shows remaining dollars with up to six decimals, and whole tokens', () => {
    const usd: Budget = { unit: 'usd', limit: 5, window: 'day', soft: false };
    assert.equal(formatRemaining(status(usd, 4_250_000)), '4.25');
    assert.equal(formatRemaining(status(usd, 1)), '0.000001');
    assert.equal(formatRemaining(status(usd, 3_000_000)), '3');
    assert.equal(formatRemaining(status({ unit: 'tokens', limit: 10, window: 'day', soft: false }, 7)), '7');
  });

  it('picks the hard budget with the smallest share left, a soft one only when none is hard', () => {
    const dayUsd = status({ unit: 'usd', limit: 5, window: 'day', soft: false }, 2_500_000); // 50%
    const monthTokens = status({ unit: 'tokens', limit: 1000, window: 'month', soft: false }, 100); // 10%
    const softWeek = status({ unit: 'tokens', limit: 1000, window: 'week', soft: true }, 0); // 0%, soft
    assert.equal(tightestBudget([dayUsd, monthTokens, softWeek]), monthTokens);
    assert.equal(tightestBudget([softWeek]), softWeek);
    assert.equal(tightestBudget([]), null);
  });

  it('gives whole seconds until a window resets, at least 1, and none for total', () => {
    assert.equal(secondsUntilReset({ start: 0, end: 10_001 }, 0), 11);
    assert.equal(secondsUntilReset({ start: 0, end: 10 }, 9), 1);
    assert.equal(secondsUntilReset({ start: 0, end: Infinity }, 0), null);
  });
});
