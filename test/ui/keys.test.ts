/** The keys page's logic (ui/src/lib/keys.ts): the form as admin API bodies, search, state. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  emptyKeyForm,
  keyBody,
  keyFormOf,
  keyState,
  matchesSearch,
  rateLimitText,
  sortKeys,
  toLocalInput,
  type KeyView,
} from '../../ui/src/lib/keys.js';

const now = Date.UTC(2026, 11, 2, 12);

function view(fields: Partial<KeyView> = {}): KeyView {
  return {
    id: 'key_1',
    name: 'ci bot',
    created_at: '2026-11-01T00:00:00.000Z',
    expires_at: null,
    revoked_at: null,
    models: null,
    rate_limit: null,
    metadata: {},
    team: null,
    priority: 100,
    max_concurrency: null,
    budgets: [],
    source: 'store',
    ...fields,
  };
}

describe('admin UI keys', () => {
  it('sends only what a new key sets', () => {
    const result = keyBody({ ...emptyKeyForm(), name: ' ci bot ' }, null, now);
    assert.deepEqual(result, { ok: true, body: { name: 'ci bot' } });
  });

  it('turns every field of the form into the POST /admin/keys body', () => {
    const result = keyBody(
      {
        name: 'ci',
        team: 'research',
        models: 'small, gpt-*  large',
        requestsLimit: '600/minute',
        tokensLimit: '1000/second 20000/hour',
        budgets: '5 usd/day\n2000000 tokens/month soft',
        expiresAt: '2027-01-01T00:00',
        maxConcurrency: '4',
      },
      null,
      now,
    );
    assert.ok(result.ok);
    assert.deepEqual(result.body, {
      name: 'ci',
      team: 'research',
      models: ['small', 'gpt-*', 'large'],
      rate_limit: { requests: '600/minute', tokens: ['1000/second', '20000/hour'] },
      budgets: [
        { usd: 5, window: 'day' },
        { tokens: 2000000, window: 'month', soft: true },
      ],
      expires_at: new Date('2027-01-01T00:00').toISOString(),
      max_concurrency: 4,
    });
  });

  it('names the field at fault', () => {
    const bad = (fields: Partial<ReturnType<typeof emptyKeyForm>>) =>
      keyBody({ ...emptyKeyForm(), name: 'x', ...fields }, null, now);
    assert.deepEqual(keyBody(emptyKeyForm(), null, now), {
      ok: false,
      field: 'name',
      problem: 'a name is required',
    });
    assert.equal((bad({ requestsLimit: '10/fortnight' }) as { field: string }).field, 'requestsLimit');
    assert.equal((bad({ budgets: 'lots' }) as { field: string }).field, 'budgets');
    assert.equal((bad({ expiresAt: '2020-01-01T00:00' }) as { field: string }).field, 'expiresAt');
    assert.equal((bad({ maxConcurrency: '0' }) as { field: string }).field, 'maxConcurrency');
  });

  it('sends a PATCH with only what changed, null clearing a field', () => {
    const original = keyFormOf(
      view({ team: 'research', models: ['small'], budgets: [{ usd: 5, window: 'day', soft: false }] }),
    );
    assert.deepEqual(keyBody(original, original, now), { ok: true, body: {} });
    const changed = keyBody({ ...original, name: 'renamed', team: '', budgets: '' }, original, now);
    assert.deepEqual(changed, { ok: true, body: { name: 'renamed', team: null, budgets: [] } });
  });

  it('writes a rate limit as a person reads it', () => {
    assert.equal(rateLimitText(null), 'the default');
    assert.equal(rateLimitText({ requests: '600/minute' }), '600/minute requests');
    assert.equal(
      rateLimitText({ requests: ['10/second', '600/minute'], tokens: '200000/minute' }),
      '10/second, 600/minute requests, 200000/minute tokens',
    );
  });

  it('shows an expiry in the local zone given', () => {
    assert.equal(toLocalInput('2026-12-02T12:30:00Z', 0), '2026-12-02T12:30');
    assert.equal(toLocalInput('2026-12-02T12:30:00Z', -60), '2026-12-02T13:30');
    assert.equal(toLocalInput(null, 0), '');
  });

  it('tells active, expired and revoked keys apart, active first in the list', () => {
    const expired = view({ id: 'b', name: 'b', expires_at: '2026-12-01T00:00:00Z' });
    const revoked = view({ id: 'a', name: 'a', revoked_at: '2026-12-01T00:00:00Z' });
    const active = view({ id: 'c', name: 'c', expires_at: '2027-01-01T00:00:00Z' });
    assert.equal(keyState(expired, now), 'expired');
    assert.equal(keyState(revoked, now), 'revoked');
    assert.equal(keyState(active, now), 'active');
    assert.deepEqual(
      sortKeys([revoked, expired, active], now).map((key) => key.id),
      ['c', 'b', 'a'],
    );
  });

  it('finds keys by every word typed, in id, name, team, models and metadata', () => {
    const key = view({ team: 'research', models: ['gpt-4o'], metadata: { owner: 'alice' } });
    assert.ok(matchesSearch(key, ''));
    assert.ok(matchesSearch(key, 'CI research'));
    assert.ok(matchesSearch(key, 'gpt-4o owner=alice'));
    assert.ok(!matchesSearch(key, 'ci ops'));
  });
});
