import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backendScope, callerScopes } from './slot-pool.js';

describe('slot scopes', () => {
  it('names the key, team and backend scopes that have a cap, and only those', () => {
    assert.deepEqual(
      callerScopes({ keyId: 'ci-bot', keyMaxConcurrency: 2, teamId: 'research', teamMaxConcurrency: 8 }),
      [
        { id: 'key:ci-bot', limit: 2 },
        { id: 'team:research', limit: 8 },
      ],
    );
    assert.deepEqual(
      callerScopes({
        keyId: 'ci-bot',
        keyMaxConcurrency: null,
        teamId: 'research',
        teamMaxConcurrency: null,
      }),
      [],
    );
    assert.deepEqual(
      callerScopes({ keyId: 'k', keyMaxConcurrency: null, teamId: null, teamMaxConcurrency: 3 }),
      [],
    );
    assert.deepEqual(backendScope({ name: 'gpu-a', maxConcurrency: 64 }), { id: 'backend:gpu-a', limit: 64 });
    assert.equal(backendScope({ name: 'gpu-a', maxConcurrency: null }), null);
  });
});
