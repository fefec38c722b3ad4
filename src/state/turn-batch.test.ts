import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TurnBatch } from './turn-batch.js';

describe('TurnBatch', () => {
  it('hands the calls of one turn to one flush, and answers each with its own result, in order', async () => {
    const flushed: number[][] = [];
    const batch = new TurnBatch<number, string>((items) => {
      flushed.push([...items]);
      return Promise.resolve(items.map((item) => `answer ${item}`));
    });
    const first = await Promise.all([1, 2, 3].map((item) => batch.add(item)));
    const second = await batch.add(4);
    assert.deepEqual(first, ['answer 1', 'answer 2', 'answer 3']);
    assert.equal(second, 'answer 4');
    assert.deepEqual(flushed, [[1, 2, 3], [4]]);
  });

  it('fails every call of a batch whose flush failed, and the next batch still goes', async () => {
    let fail = true;
    const batch = new TurnBatch<number, number>((items) =>
      fail ? Promise.reject(new Error('store down')) : Promise.resolve(items.map((item) => item * 2)),
    );
    const results = await Promise.allSettled([batch.add(1), batch.add(2)]);
    assert.deepEqual(
      results.map((result) => result.status),
      ['rejected', 'rejected'],
    );
    fail = false;
    assert.equal(await batch.add(5), 10);
  });

  it('sends a full batch at once, without waiting for the turn to end', async () => {
    const sizes: number[] = [];
    const batch = new TurnBatch<number, number>((items) => {
      sizes.push(items.length);
      return Promise.resolve([...items]);
    }, 3);
    const answers = await Promise.all([1, 2, 3, 4, 5].map((item) => batch.add(item)));
    assert.deepEqual(answers, [1, 2, 3, 4, 5]);
    assert.deepEqual(sizes, [3, 2]);
  });
});
