import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkedNumber } from './checks.js';
import { InvalidRequestError } from '../errors/errors.js';

test('absent values pass as undefined; numbers within bounds pass as they are', () => {
  assert.equal(checkedNumber(undefined, 'n', { integer: true }), undefined);
  assert.equal(checkedNumber(null, 'n', { integer: true }), undefined);
  assert.equal(checkedNumber(3, 'n', { integer: true, min: 1, max: 3 }), 3);
  assert.equal(checkedNumber(0.5, 'top_p', { min: 0, max: 1 }), 0.5);
});

test('a value out of bounds or of the wrong kind is a 400 naming the field and the range', () => {
  const cases: [unknown, { integer?: boolean; min?: number; max?: number }, string][] = [
    [1.5, { integer: true }, "'x' must be an integer"],
    ['2', { min: 0 }, "'x' must be a number of at least 0"],
    [0, { integer: true, min: 1 }, "'x' must be an integer of at least 1"],
    [129, { integer: true, min: 1, max: 128 }, "'x' must be an integer from 1 to 128"],
    [3, { min: 0, max: 2 }, "'x' must be a number from 0 to 2"],
    [Number.NaN, {}, "'x' must be a number"],
  ];
  for (const [value, bounds, message] of cases) {
    assert.throws(
      () => checkedNumber(value, 'x', bounds),
      (error: unknown) => error instanceof InvalidRequestError && error.message === message,
      `${String(value)} with ${JSON.stringify(bounds)}`,
    );
  }
});
