import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BUCKET_COUNT, bucketOf, bucketRange, quantile } from './latency-histogram.js';

describe('latency histogram', () => {
  it('puts a value in the bucket whose range holds it', () => {
    for (const ms of [0, 4, 5, 99, 100, 101, 119_999, 120_000, 10_000_000]) {
      const [lower, upper] = bucketRange(bucketOf(ms));
      assert.ok(ms >= lower && ms < upper, `${ms} in [${lower}, ${upper})`);
    }
    assert.equal(bucketOf(10_000_000), BUCKET_COUNT - 1);
  });

  it('answers a quantile inside the bucket of the true quantile', () => {
    const values = Array.from({ length: 1000 }, (_, index) => index * 7);
    const counts = new Array<number>(BUCKET_COUNT).fill(0);
    for (const value of values) counts[bucketOf(value)] = (counts[bucketOf(value)] ?? 0) + 1;
    for (const q of [0.5, 0.95]) {
      const truth = values[Math.ceil(q * values.length) - 1] ?? 0;
      const [lower, upper] = bucketRange(bucketOf(truth));
      const estimate = quantile(counts, q) ?? -1;
      assert.ok(estimate >= lower && estimate <= upper, `p${q * 100}: ${estimate} in [${lower}, ${upper}]`);
    }
  });

  it('has no quantile without values', () => {
    assert.equal(quantile(new Array<number>(BUCKET_COUNT).fill(0), 0.5), null);
  });
});
