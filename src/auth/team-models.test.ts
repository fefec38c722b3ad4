import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isModelAllowed } from '../routing/model-patterns.js';
import type { KeyRecord } from './key-record.js';
import { allowedModels, intersectModelLists } from './team-models.js';
import type { TeamRecord } from './team-record.js';

describe('intersectModelLists', () => {
  it('null is every model: the other list alone', () => {
    assert.equal(intersectModelLists(null, null), null);
    assert.deepEqual(intersectModelLists(null, ['a']), ['a']);
    assert.deepEqual(intersectModelLists(['a*'], null), ['a*']);
  });

  it('keeps the narrower of two prefixes, names both allow, and nothing else', () => {
    assert.deepEqual(intersectModelLists(['gpt-*'], ['gpt-4*']), ['gpt-4*']);
    assert.deepEqual(intersectModelLists(['*'], ['small', 'gpt-*']), ['small', 'gpt-*']);
    assert.deepEqual(intersectModelLists(['small', 'gpt-4o'], ['gpt-*']), ['gpt-4o']);
    assert.deepEqual(intersectModelLists(['llama*'], ['gpt-*']), []);
    assert.deepEqual(intersectModelLists([], ['*']), []);
  });

  it('allows a name exactly when both lists allow it (property)', () => {
    const name = fc.stringMatching(/^[ab-]{0,4}$/);
    const pattern = fc.oneof(
      name,
      name.map((prefix) => `${prefix}*`),
    );
    fc.assert(
      fc.property(
        fc.option(fc.array(pattern, { maxLength: 4 })),
        fc.option(fc.array(pattern, { maxLength: 4 })),
        name,
        (a, b, model) => {
          const both = intersectModelLists(a, b);
          assert.equal(isModelAllowed(both, model), isModelAllowed(a, model) && isModelAllowed(b, model));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('allowedModels', () => {
  const key = { models: ['small', 'gpt-*'] } as unknown as KeyRecord;
  const team = (models: string[] | null): TeamRecord => ({ models }) as unknown as TeamRecord;

  it("is the key's list without a team or when the team allows every model", () => {
    assert.equal(allowedModels(key, null), key.models);
    assert.equal(allowedModels(key, team(null)), key.models);
  });

  it('is both lists at once, computed once per key and team record', () => {
    const research = team(['gpt-4*']);
    const first = allowedModels(key, research);
    assert.deepEqual(first, ['gpt-4*']);
    assert.equal(allowedModels(key, research), first);
    assert.deepEqual(allowedModels(key, team(['small'])), ['small']);
  });
});
