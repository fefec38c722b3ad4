import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ModelPrice } from '../config/config.js';
import { costMicros, findPrice } from './pricing.js';

const PRICES: ModelPrice[] = [
  { model: 'gpt-4o-mini', promptPerMillion: 0.15, completionPerMillion: 0.6 },
  { model: 'gpt-*', promptPerMillion: 2.5, completionPerMillion: 10 },
  { model: 'free', promptPerMillion: 0, completionPerMillion: 0 },
];

describe('pricing', () => {
  it('takes the first price whose pattern matches', () => {
    assert.equal(findPrice('gpt-4o-mini', PRICES)?.promptPerMillion, 0.15);
    assert.equal(findPrice('gpt-4o', PRICES)?.promptPerMillion, 2.5);
    assert.equal(findPrice('gpt-4o-mini-2024', PRICES)?.promptPerMillion, 2.5);
    assert.equal(findPrice('llama', PRICES), null);
    assert.equal(
      findPrice('llama', [...PRICES, { model: '*', promptPerMillion: 1, completionPerMillion: 1 }])?.model,
      '*',
    );
  });

  it('prices tokens in millionths: tokens × price per million', () => {
    // 1000 × 0.15 + 500 × 0.6 = 150 + 300 millionths
    assert.equal(costMicros('gpt-4o-mini', 1000, 500, PRICES), 450);
    // 1,000,000 prompt tokens at 2.5 per million cost 2.5, i.e. 2,500,000 millionths
    assert.equal(costMicros('gpt-4o', 1_000_000, 0, PRICES), 2_500_000);
    assert.equal(costMicros('gpt-4o', 0, 3, PRICES), 30);
  });

  it('rounds to a whole number of millionths', () => {
    assert.equal(costMicros('gpt-4o-mini', 1, 0, PRICES), 0); // 0.15
    assert.equal(costMicros('gpt-4o-mini', 3, 0, PRICES), 0); // 0.45
    assert.equal(costMicros('gpt-4o-mini', 4, 0, PRICES), 1); // 0.6
    assert.equal(costMicros('gpt-4o-mini', 0, 1, PRICES), 1); // 0.6
    assert.ok(Number.isInteger(costMicros('gpt-4o-mini', 12_345, 6789, PRICES)));
  });

  it('is null without a price, and 0 (not null) for a price of 0', () => {
    assert.equal(costMicros('llama', 1000, 1000, PRICES), null);
    assert.equal(costMicros('llama', 0, 0, []), null);
    assert.equal(costMicros('free', 1000, 1000, PRICES), 0);
    assert.equal(costMicros('gpt-4o', 0, 0, PRICES), 0);
  });
});
