import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OTHER_MODEL, usageModel } from './usage-model.js';

describe('usageModel: the name usage counts a request under', () => {
  it("is the client's name when a route has exactly that name, whatever the answer", () => {
    assert.equal(usageModel({ model: 'llama', routeName: 'llama', answered: false }), 'llama');
    assert.equal(usageModel({ model: 'llama', routeName: 'llama', answered: true }), 'llama');
  });

  it("is the client's name under a pattern route once an upstream (or a stored answer) answered it", () => {
    assert.equal(usageModel({ model: 'gpt-4o', routeName: 'gpt-*', answered: true }), 'gpt-4o');
    assert.equal(usageModel({ model: 'made-up', routeName: '*', answered: true }), 'made-up');
  });

  it("is the pattern when nothing answered it (a 429, an upstream's 404 or 502)", () => {
    assert.equal(usageModel({ model: 'gpt-made-up', routeName: 'gpt-*', answered: false }), 'gpt-*');
    assert.equal(usageModel({ model: 'made-up', routeName: '*', answered: false }), '*');
  });

  it('is `other` when the name matched no route or the key may not use it (404, 403)', () => {
    assert.equal(OTHER_MODEL, 'other');
    assert.equal(usageModel({ model: 'made-up', routeName: null, answered: false }), 'other');
  });
});
