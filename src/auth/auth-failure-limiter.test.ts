import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuthFailureLimiter, clientBlock } from './auth-failure-limiter.js';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');

/** Records `count` failures for `address` at `now`, each one answered 401 (fail returns 0). */
function failAllowed(limiter: AuthFailureLimiter, address: string, count: number, now: number): void {
  for (let attempt = 1; attempt <= count; attempt++) {
    assert.equal(limiter.fail(address, now), 0, `failure ${attempt} of ${address} should be a 401`);
  }
}

describe('AuthFailureLimiter', () => {
  it('answers the first 20 failures of an address 401, then asks it to wait', () => {
    const limiter = new AuthFailureLimiter();
    failAllowed(limiter, '10.0.0.1', 20, T0);
    // An empty bucket refills one failure in 60 s / 20 = 3 s.
    assert.equal(limiter.fail('10.0.0.1', T0), 3);
    // Failing again while refused does not make it worse.
    assert.equal(limiter.fail('10.0.0.1', T0), 3);
  });

  it('failures spread over time count against the same bucket until it refills', () => {
    const limiter = new AuthFailureLimiter();
    // 20 failures 100 ms apart: 2 s in all refills less than one failure.
    for (let attempt = 0; attempt < 20; attempt++) failAllowed(limiter, '10.0.0.1', 1, T0 + attempt * 100);
    assert.ok(limiter.fail('10.0.0.1', T0 + 1900) > 0);
  });

  it('refills at 20 a minute: 3 s after the 20th failure, exactly one more try', () => {
    const limiter = new AuthFailureLimiter();
    failAllowed(limiter, '10.0.0.1', 20, T0);
    assert.equal(limiter.fail('10.0.0.1', T0 + 2000), 1);
    assert.equal(limiter.fail('10.0.0.1', T0 + 3000), 0);
    assert.equal(limiter.fail('10.0.0.1', T0 + 3000), 3);
  });

  it('after a quiet minute the whole burst of 20 is back', () => {
    const limiter = new AuthFailureLimiter();
    failAllowed(limiter, '10.0.0.1', 20, T0);
    failAllowed(limiter, '10.0.0.1', 20, T0 + 60_000);
    assert.ok(limiter.fail('10.0.0.1', T0 + 60_000) > 0);
  });

  it('keeps addresses independent', () => {
    const limiter = new AuthFailureLimiter();
    failAllowed(limiter, '10.0.0.1', 20, T0);
    failAllowed(limiter, '10.0.0.2', 20, T0);
    assert.ok(limiter.fail('10.0.0.2', T0) > 0);
    assert.equal(limiter.fail('10.0.0.3', T0), 0);
  });

  it('honours its options: burst and rate', () => {
    const limiter = new AuthFailureLimiter({ burst: 3, perMinute: 60, maxAddresses: 10 });
    failAllowed(limiter, 'a', 3, T0);
    assert.equal(limiter.fail('a', T0), 1);
    assert.equal(limiter.fail('a', T0 + 1000), 0);
  });

  it('stays bounded, and a limited address cannot escape by flooding the map with others (finding 8)', () => {
    const limiter = new AuthFailureLimiter({ burst: 2, perMinute: 2, maxAddresses: 100 });
    failAllowed(limiter, 'attacker', 2, T0);
    assert.ok(limiter.fail('attacker', T0) > 0);
    // 10,000 other addresses fail, far more than the map holds.
    for (let index = 0; index < 10_000; index++) limiter.fail(`10.1.${index >> 8}.${index & 255}`, T0 + 1);
    assert.ok(limiter.size <= 100, `${limiter.size} addresses remembered`);
    assert.ok(limiter.fail('attacker', T0 + 2) > 0, 'the attacker is still refused');
  });

  it('while the map is full of limited addresses, new ones share one bucket', () => {
    const limiter = new AuthFailureLimiter({ burst: 2, perMinute: 2, maxAddresses: 2 });
    failAllowed(limiter, 'a', 2, T0);
    failAllowed(limiter, 'b', 2, T0);
    failAllowed(limiter, 'c', 1, T0);
    failAllowed(limiter, 'd', 1, T0);
    assert.ok(limiter.fail('e', T0) > 0, 'c, d and e spent the shared bucket');
    assert.equal(limiter.size, 2);
  });

  it('forgets addresses whose buckets have refilled when it needs room', () => {
    const limiter = new AuthFailureLimiter({ burst: 2, perMinute: 60, maxAddresses: 2 });
    failAllowed(limiter, 'a', 2, T0);
    failAllowed(limiter, 'b', 2, T0);
    // Two seconds later both have refilled: the sweep drops them and 'c' gets a bucket of its own.
    failAllowed(limiter, 'c', 2, T0 + 2000);
    assert.ok(limiter.fail('c', T0 + 2000) > 0);
    assert.equal(limiter.fail('d', T0 + 2000), 0, "'d' has its own bucket too");
  });
});

describe('clientBlock', () => {
  it('limits IPv4 addresses one by one and IPv6 addresses per /64', () => {
    assert.equal(clientBlock('192.0.2.7'), '192.0.2.7');
    assert.equal(clientBlock('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(clientBlock('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
    assert.equal(clientBlock('2001:db8:1:2::ffff'), '2001:db8:1:2::/64');
    assert.equal(clientBlock('2001:0db8:0001:0002::1'), '2001:db8:1:2::/64');
    assert.equal(clientBlock('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(clientBlock('::1'), '0:0:0:0::/64');
    assert.notEqual(clientBlock('2001:db8:1:2::1'), clientBlock('2001:db8:1:3::1'));
  });
});
