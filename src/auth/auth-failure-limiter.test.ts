import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuthFailureLimiter } from './auth-failure-limiter.js';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');

/** Records `count` failures for `address` at `now`, each one allowed (retryAfter 0) beforehand. */
function failAllowed(limiter: AuthFailureLimiter, address: string, count: number, now: number): void {
  for (let attempt = 1; attempt <= count; attempt++) {
    assert.equal(limiter.retryAfter(address, now), 0, `failure ${attempt} of ${address} should be allowed`);
    limiter.recordFailure(address, now);
  }
}

describe('AuthFailureLimiter', () => {
  it('lets an address that never failed try at once', () => {
    const limiter = new AuthFailureLimiter();
    assert.equal(limiter.retryAfter('10.0.0.1', T0), 0);
  });

  it('allows 20 failures, then asks the address to wait', () => {
    const limiter = new AuthFailureLimiter();
    failAllowed(limiter, '10.0.0.1', 20, T0);
    const wait = limiter.retryAfter('10.0.0.1', T0);
    assert.ok(wait > 0, `retryAfter is ${wait} after 20 failures`);
    // An empty bucket refills one failure in 60 s / 20 = 3 s.
    assert.equal(wait, 3);
    // Asking again does not make it worse.
    assert.equal(limiter.retryAfter('10.0.0.1', T0), 3);
  });

  it('failures spread over time count against the same bucket until it refills', () => {
    const limiter = new AuthFailureLimiter();
    // 20 failures 100 ms apart: 2 s in all refills less than one failure.
    for (let attempt = 0; attempt < 20; attempt++) {
      failAllowed(limiter, '10.0.0.1', 1, T0 + attempt * 100);
    }
    assert.ok(limiter.retryAfter('10.0.0.1', T0 + 1900) > 0);
  });

  it('refills at 20 a minute: 3 s after the 20th failure, exactly one more try', () => {
    const limiter = new AuthFailureLimiter();
    failAllowed(limiter, '10.0.0.1', 20, T0);

    assert.equal(limiter.retryAfter('10.0.0.1', T0 + 2000), 2);
    assert.equal(limiter.retryAfter('10.0.0.1', T0 + 2999), 1);
    assert.equal(limiter.retryAfter('10.0.0.1', T0 + 3000), 0);

    limiter.recordFailure('10.0.0.1', T0 + 3000);
    assert.equal(limiter.retryAfter('10.0.0.1', T0 + 3000), 3);
    assert.equal(limiter.retryAfter('10.0.0.1', T0 + 6000), 0);
  });

  it('after a quiet minute the whole burst of 20 is back', () => {
    const limiter = new AuthFailureLimiter();
    failAllowed(limiter, '10.0.0.1', 20, T0);
    failAllowed(limiter, '10.0.0.1', 20, T0 + 60_000);
    assert.ok(limiter.retryAfter('10.0.0.1', T0 + 60_000) > 0);
  });

  it('keeps addresses independent', () => {
    const limiter = new AuthFailureLimiter();
    failAllowed(limiter, '10.0.0.1', 20, T0);
    assert.ok(limiter.retryAfter('10.0.0.1', T0) > 0);

    assert.equal(limiter.retryAfter('10.0.0.2', T0), 0);
    failAllowed(limiter, '10.0.0.2', 19, T0);
    assert.equal(limiter.retryAfter('10.0.0.2', T0), 0, 'the second address has one failure left');
    limiter.recordFailure('10.0.0.2', T0);
    assert.ok(limiter.retryAfter('10.0.0.2', T0) > 0);

    // The first address's bucket is its own: unchanged by the second's failures.
    assert.equal(limiter.retryAfter('10.0.0.1', T0 + 3000), 0);
    assert.ok(limiter.retryAfter('10.0.0.2', T0 + 2999) > 0);
  });

  it('honours its options: burst and rate', () => {
    const limiter = new AuthFailureLimiter({ burst: 3, perMinute: 60, maxAddresses: 10 });
    failAllowed(limiter, 'a', 3, T0);
    assert.equal(limiter.retryAfter('a', T0), 1);
    assert.equal(limiter.retryAfter('a', T0 + 1000), 0);
  });

  it('bounds the map of addresses: the oldest address is forgotten when a new one comes', () => {
    const limiter = new AuthFailureLimiter({ burst: 2, perMinute: 2, maxAddresses: 3 });
    for (const address of ['a', 'b', 'c']) failAllowed(limiter, address, 2, T0);
    for (const address of ['a', 'b', 'c']) assert.ok(limiter.retryAfter(address, T0) > 0, address);

    // Only asking about addresses adds none, so nobody is evicted by it.
    for (let index = 0; index < 10; index++) assert.equal(limiter.retryAfter(`probe-${index}`, T0), 0);
    for (const address of ['a', 'b', 'c']) assert.ok(limiter.retryAfter(address, T0) > 0, address);

    // A fourth address makes room by forgetting the oldest, 'a'.
    limiter.recordFailure('d', T0);
    assert.equal(limiter.retryAfter('a', T0), 0, "'a' was forgotten: its failures no longer count");
    assert.ok(limiter.retryAfter('b', T0) > 0, "'b' is still remembered");
    assert.ok(limiter.retryAfter('c', T0) > 0, "'c' is still remembered");
    assert.equal(limiter.retryAfter('d', T0), 0, "'d' has one failure of its burst of 2 left");
    limiter.recordFailure('d', T0);
    assert.ok(limiter.retryAfter('d', T0) > 0);

    // 'a' coming back is new again, and now 'b' is the oldest to go.
    limiter.recordFailure('a', T0);
    assert.equal(limiter.retryAfter('b', T0), 0, "'b' was forgotten next");
    assert.ok(limiter.retryAfter('c', T0) > 0);
    assert.ok(limiter.retryAfter('d', T0) > 0);
  });

  it('forgets an address whose bucket has refilled, which frees its place in the map', () => {
    const limiter = new AuthFailureLimiter({ burst: 2, perMinute: 60, maxAddresses: 2 });
    failAllowed(limiter, 'b', 2, T0); // the oldest entry; 1.5 of 2 refilled at T0 + 1500
    failAllowed(limiter, 'a', 1, T0 + 500); // full again at T0 + 1500
    // Touching 'a' finds its bucket full and drops it, so 'c' needs no eviction and 'b' stays.
    assert.equal(limiter.retryAfter('a', T0 + 1500), 0);
    limiter.recordFailure('c', T0 + 1500);
    limiter.recordFailure('b', T0 + 1500);
    assert.ok(
      limiter.retryAfter('b', T0 + 1500) > 0,
      "'b' kept its earlier failures: it was not evicted to make room for 'c'",
    );
  });
});
