import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveLimits, type AppliedLimit, type LimitSources } from './policy.js';

function sources(overrides: Partial<LimitSources>): LimitSources {
  return {
    keyId: 'team-a',
    keyPolicy: null,
    defaultPolicy: null,
    routeName: null,
    routePolicy: null,
    ...overrides,
  };
}

/** The parts of a limit a reader checks at a glance. */
function summary(limit: AppliedLimit): string {
  return `${limit.name} ${limit.kind} ${limit.rate.limit}/${limit.rate.unit} ${limit.scope}`;
}

describe('resolveLimits', () => {
  it('applies the default when the key has no policy', () => {
    const limits = resolveLimits(
      sources({ defaultPolicy: { requests: '100/minute', tokens: '20000/minute' } }),
    );
    assert.deepEqual(limits.map(summary), [
      'requests requests 100/minute key:requests:100/minute',
      'tokens tokens 20000/minute key:tokens:20000/minute',
    ]);
    assert.equal(limits[0]?.rate.windowSeconds, 60);
  });

  it("a key's kind replaces the default's for that kind only", () => {
    const limits = resolveLimits(
      sources({
        keyPolicy: { requests: '600/minute' },
        defaultPolicy: { requests: '100/minute', tokens: '20000/minute' },
      }),
    );
    assert.deepEqual(limits.map(summary), [
      'requests requests 600/minute key:requests:600/minute',
      'tokens tokens 20000/minute key:tokens:20000/minute',
    ]);
  });

  it("a key's tokens replace the default's tokens, and its requests stay the default's", () => {
    const limits = resolveLimits(
      sources({
        keyPolicy: { tokens: ['5000/hour'] },
        defaultPolicy: { requests: '100/minute', tokens: ['20000/minute', '1000000/day'] },
      }),
    );
    assert.deepEqual(limits.map(summary), [
      'requests requests 100/minute key:requests:100/minute',
      'tokens tokens 5000/hour key:tokens:5000/hour',
    ]);
  });

  it('several rates of one kind are named by their unit', () => {
    const limits = resolveLimits(sources({ defaultPolicy: { requests: ['100/minute', '2000/day'] } }));
    assert.deepEqual(limits.map(summary), [
      'requests-minute requests 100/minute key:requests:100/minute',
      'requests-day requests 2000/day key:requests:2000/day',
    ]);
    assert.deepEqual(
      limits.map((limit) => limit.rate.windowSeconds),
      [60, 86_400],
    );
  });

  it('a one-item list is named like a single rate', () => {
    const limits = resolveLimits(sources({ defaultPolicy: { tokens: ['1000/second'] } }));
    assert.deepEqual(limits.map(summary), ['tokens tokens 1000/second key:tokens:1000/second']);
  });

  it("a route's policy adds model- limits, scoped to the route, on top of the key's", () => {
    const limits = resolveLimits(
      sources({
        defaultPolicy: { requests: '100/minute' },
        routeName: 'small',
        routePolicy: { requests: '10/minute', tokens: ['1000/hour', '5000/day'] },
      }),
    );
    assert.deepEqual(limits.map(summary), [
      'requests requests 100/minute key:requests:100/minute',
      'model-requests requests 10/minute model:small:requests:10/minute',
      'model-tokens-hour tokens 1000/hour model:small:tokens:1000/hour',
      'model-tokens-day tokens 5000/day model:small:tokens:5000/day',
    ]);
  });

  it('names the key, and the key and model, in the subject', () => {
    const limits = resolveLimits(
      sources({
        keyId: 'team-b',
        defaultPolicy: { requests: '100/minute' },
        routeName: 'big',
        routePolicy: { requests: '10/minute' },
      }),
    );
    assert.deepEqual(
      limits.map((limit) => limit.subject),
      ['key team-b', 'key team-b on model big'],
    );
  });

  it('no policy anywhere gives no limits', () => {
    assert.deepEqual(resolveLimits(sources({})), []);
    assert.deepEqual(resolveLimits(sources({ routeName: 'small' })), []);
    assert.deepEqual(
      resolveLimits(sources({ keyPolicy: {}, defaultPolicy: {}, routeName: 'small', routePolicy: {} })),
      [],
    );
  });

  it('a route policy without a matched route name is not applied', () => {
    assert.deepEqual(resolveLimits(sources({ routePolicy: { requests: '1/minute' } })), []);
  });

  it("the key's own limits do not depend on the route", () => {
    const base = { defaultPolicy: { requests: '100/minute' } };
    const withoutRoute = resolveLimits(sources(base));
    const withRoute = resolveLimits(sources({ ...base, routeName: 'small', routePolicy: null }));
    assert.deepEqual(withRoute, withoutRoute);
  });
});
