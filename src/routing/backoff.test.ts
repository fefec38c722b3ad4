import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fullJitterDelay } from './backoff.js';

const constant = (value: number) => () => value;

describe('fullJitterDelay', () => {
  it('is 0 when random() is 0, whatever the retry', () => {
    for (const retry of [1, 2, 5, 30]) assert.equal(fullJitterDelay(retry, 100, 2_000, constant(0)), 0);
  });

  it('stays just under min(max, base × 2^(n-1)) when random() is 0.999', () => {
    assert.equal(fullJitterDelay(1, 100, 10_000, constant(0.999)), 99);
    assert.equal(fullJitterDelay(2, 100, 10_000, constant(0.999)), 199);
    assert.equal(fullJitterDelay(3, 100, 10_000, constant(0.999)), 399);
    assert.equal(fullJitterDelay(4, 100, 10_000, constant(0.999)), 799);
  });

  it('grows exponentially per retry until the cap', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7].map((retry) => fullJitterDelay(retry, 100, 2_000, constant(0.5)));
    assert.deepEqual(delays, [50, 100, 200, 400, 800, 1_000, 1_000]);
  });

  it('caps the ceiling at max, also for very large retry numbers', () => {
    assert.equal(fullJitterDelay(10, 100, 2_000, constant(0.999)), 1_998);
    assert.equal(fullJitterDelay(5_000, 100, 2_000, constant(0.999)), 1_998, '2^4999 overflows to Infinity');
  });

  it('treats retry 0 like retry 1', () => {
    assert.equal(fullJitterDelay(0, 100, 2_000, constant(0.999)), 99);
  });

  it('is 0 with a base of 0', () => {
    assert.equal(fullJitterDelay(3, 0, 0, constant(0.999)), 0);
  });

  it('stays in [0, ceiling) with Math.random by default', () => {
    for (let index = 0; index < 1_000; index++) {
      const delay = fullJitterDelay(3, 100, 2_000);
      assert.ok(Number.isInteger(delay) && delay >= 0 && delay < 400, `delay ${delay}`);
    }
  });
});
