import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backendScopes, callerScopes } from './slot-pool.js';

describe('slot scopes', () => {
  it('names the key, team and backend scopes that have a cap, and only those', () => {
    const research = { id: 'research', maxConcurrency: 8 };
    assert.deepEqual(callerScopes({ id: 'ci-bot', maxConcurrency: 2 }, research), [
      { id: 'key:ci-bot', limit: 2 },
      { id: 'team:research', limit: 8 },
    ]);
    assert.deepEqual(
      callerScopes({ id: 'ci-bot', maxConcurrency: null }, { id: 'research', maxConcurrency: null }),
      [],
    );
    assert.deepEqual(callerScopes({ id: 'k', maxConcurrency: null }, null), []);
    assert.deepEqual(backendScopes('gpu-a', 64), [{ id: 'backend:gpu-a', limit: 64 }]);
  });

  it('answers the same array for the same records and caps, a new one when a cap or the team changes', () => {
    const key = { id: 'ci-bot', maxConcurrency: 2 };
    const team = { id: 'research', maxConcurrency: 8 };
    const first = callerScopes(key, team);
    assert.equal(callerScopes(key, team), first);
    const otherTeam = { id: 'ops', maxConcurrency: 4 };
    assert.deepEqual(callerScopes(key, otherTeam), [
      { id: 'key:ci-bot', limit: 2 },
      { id: 'team:ops', limit: 4 },
    ]);
    assert.deepEqual(callerScopes(key, null), [{ id: 'key:ci-bot', limit: 2 }]);
    const backend = backendScopes('gpu-b', 4);
    assert.equal(backendScopes('gpu-b', 4), backend);
    assert.deepEqual(backendScopes('gpu-b', 2), [{ id: 'backend:gpu-b', limit: 2 }]);
  });
});
