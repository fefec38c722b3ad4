import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBudget, formatRateLimit, parseBudgetFlag, parsePriorityFlag } from './limit-flags.js';

describe('parseBudgetFlag', () => {
  it("reads UNIT=AMOUNT/WINDOW[,soft] as the admin API's budget", () => {
    assert.deepEqual(parseBudgetFlag('usd=5/day'), { usd: 5, window: 'day' });
    assert.deepEqual(parseBudgetFlag('usd=0.25/hour'), { usd: 0.25, window: 'hour' });
    assert.deepEqual(parseBudgetFlag('tokens=2000000/month,soft'), {
      tokens: 2000000,
      window: 'month',
      soft: true,
    });
    assert.deepEqual(parseBudgetFlag('usd=200/total'), { usd: 200, window: 'total' });
  });

  it('refuses anything else with a message naming --budget', () => {
    for (const text of [
      '5/day',
      'usd=5',
      'usd=5/year',
      'eur=5/day',
      'usd=0/day',
      'tokens=1.5/day',
      'usd=-1/day',
      'usd=5/day,hard',
    ]) {
      assert.throws(() => parseBudgetFlag(text), /^Error: --budget: /, text);
    }
  });
});

describe('parsePriorityFlag', () => {
  it('takes interactive, batch and 0-1000', () => {
    assert.equal(parsePriorityFlag('interactive'), 'interactive');
    assert.equal(parsePriorityFlag('batch'), 'batch');
    assert.equal(parsePriorityFlag('0'), 0);
    assert.equal(parsePriorityFlag('1000'), 1000);
    for (const text of ['1001', '-1', 'high', '1.5', ''])
      assert.throws(() => parsePriorityFlag(text), /--priority/, text);
  });
});

describe('formatting', () => {
  it('shows budgets and rate limits for people', () => {
    assert.equal(formatBudget({ usd: 5, window: 'day', soft: false }), '$5/day');
    assert.equal(formatBudget({ tokens: 2000, window: 'month', soft: true }), '2000 tokens/month (soft)');
    assert.equal(formatRateLimit(null), '-');
    assert.equal(
      formatRateLimit({ requests: '600/minute', tokens: ['1000/minute', '9000/day'] }),
      '600/minute requests, 1000/minute tokens, 9000/day tokens',
    );
  });
});
