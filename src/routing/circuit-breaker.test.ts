import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RoutingConfig } from '../config/config.js';
import { CircuitBreaker, type CircuitPermit } from './circuit-breaker.js';

type BreakerConfig = RoutingConfig['circuitBreaker'];

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const COOLDOWN = 1_000;

const CONSECUTIVE: BreakerConfig = {
  enabled: true,
  failures: 3,
  errorRatio: null,
  minRequests: 10,
  windowSeconds: 30,
  cooldownMs: COOLDOWN,
};

/** A breaker whose clock the test moves. */
function breakerWith(config: Partial<BreakerConfig> = {}): {
  breaker: CircuitBreaker;
  clock: { now: number };
} {
  const clock = { now: T0 };
  return { breaker: new CircuitBreaker({ ...CONSECUTIVE, ...config }, () => clock.now), clock };
}

/** Takes a permit, asserting that one is given. */
function acquire(breaker: CircuitBreaker): CircuitPermit {
  const permit = breaker.tryAcquire();
  assert.ok(permit !== null, `expected a permit in state ${breaker.state}`);
  return permit;
}

function fail(breaker: CircuitBreaker, times = 1): void {
  for (let index = 0; index < times; index++) breaker.onFailure(acquire(breaker));
}

function succeed(breaker: CircuitBreaker, times = 1): void {
  for (let index = 0; index < times; index++) breaker.onSuccess(acquire(breaker));
}

function assertRefuses(breaker: CircuitBreaker): void {
  assert.equal(breaker.canAttempt(), false);
  assert.equal(breaker.tryAcquire(), null);
}

/** A breaker that has just opened (at clock.now). */
function opened(config: Partial<BreakerConfig> = {}): { breaker: CircuitBreaker; clock: { now: number } } {
  const made = breakerWith(config);
  fail(made.breaker, CONSECUTIVE.failures);
  assert.equal(made.breaker.state, 'open');
  return made;
}

describe('CircuitBreaker, consecutive failures', () => {
  it('starts closed and admits normal (non-probe) attempts', () => {
    const { breaker } = breakerWith();
    assert.equal(breaker.state, 'closed');
    assert.equal(breaker.canAttempt(), true);
    assert.deepEqual(breaker.tryAcquire(), { probe: false });
    assert.equal(breaker.retryAfterMs(), 0);
  });

  it('opens on the Nth consecutive failure, not the (N-1)th', () => {
    const { breaker } = breakerWith();
    fail(breaker, 2);
    assert.equal(breaker.state, 'closed');
    assert.equal(breaker.canAttempt(), true);
    fail(breaker);
    assert.equal(breaker.state, 'open');
  });

  it('resets the streak on a success', () => {
    const { breaker } = breakerWith();
    fail(breaker, 2);
    succeed(breaker);
    fail(breaker, 2);
    assert.equal(breaker.state, 'closed', 'two failures after a success are not three in a row');
    fail(breaker);
    assert.equal(breaker.state, 'open');
  });

  it('refuses at once while open, and counts retryAfterMs down', () => {
    const { breaker, clock } = opened();
    assertRefuses(breaker);
    assert.equal(breaker.retryAfterMs(), COOLDOWN);
    clock.now += 400;
    assertRefuses(breaker);
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.retryAfterMs(), COOLDOWN - 400);
    clock.now += COOLDOWN - 400 - 1;
    assertRefuses(breaker);
    assert.equal(breaker.retryAfterMs(), 1);
  });

  it('admits exactly one probe after the cooldown', () => {
    const { breaker, clock } = opened();
    clock.now += COOLDOWN;
    assert.equal(breaker.state, 'half_open');
    assert.equal(breaker.retryAfterMs(), 0);
    assert.equal(breaker.canAttempt(), true);
    assert.deepEqual(breaker.tryAcquire(), { probe: true });
    assertRefuses(breaker);
    clock.now += 60_000;
    assertRefuses(breaker);
    assert.equal(breaker.state, 'half_open');
  });

  it('closes when the probe succeeds, with a fresh streak', () => {
    const { breaker, clock } = opened();
    clock.now += COOLDOWN;
    breaker.onSuccess(acquire(breaker));
    assert.equal(breaker.state, 'closed');
    assert.deepEqual(breaker.tryAcquire(), { probe: false });
    fail(breaker, 2);
    assert.equal(breaker.state, 'closed', 'the failures before the circuit opened are forgotten');
    fail(breaker);
    assert.equal(breaker.state, 'open');
  });

  it('reopens for a full cooldown when the probe fails', () => {
    const { breaker, clock } = opened();
    clock.now += COOLDOWN + 500;
    const probe = acquire(breaker);
    assert.equal(probe.probe, true);
    clock.now += 250;
    breaker.onFailure(probe);
    assert.equal(breaker.state, 'open');
    assertRefuses(breaker);
    assert.equal(breaker.retryAfterMs(), COOLDOWN, 'the cooldown starts when the probe failed');
    clock.now += COOLDOWN - 1;
    assertRefuses(breaker);
    clock.now += 1;
    assert.equal(breaker.tryAcquire()?.probe, true);
  });

  it('frees the probe slot without closing when the probe ends neutral', () => {
    const { breaker, clock } = opened();
    clock.now += COOLDOWN;
    breaker.onNeutral(acquire(breaker));
    assert.equal(breaker.state, 'half_open', 'a neutral outcome says nothing about the target');
    assert.equal(breaker.canAttempt(), true);
    assert.deepEqual(breaker.tryAcquire(), { probe: true }, 'the next attempt is again a probe');
    assertRefuses(breaker);
  });

  it('ignores outcomes of normal attempts that end while the circuit is open', () => {
    const { breaker, clock } = breakerWith();
    const late = [acquire(breaker), acquire(breaker), acquire(breaker)];
    fail(breaker, 3);
    clock.now += 400;
    const [first, second, third] = late as [CircuitPermit, CircuitPermit, CircuitPermit];
    breaker.onSuccess(first);
    assert.equal(breaker.state, 'open', 'a late success does not close an open circuit');
    breaker.onFailure(second);
    assert.equal(breaker.retryAfterMs(), COOLDOWN - 400, 'a late failure does not extend the cooldown');
    clock.now += COOLDOWN - 400;
    const probe = acquire(breaker);
    assert.equal(probe.probe, true);
    breaker.onSuccess(third);
    assert.equal(breaker.state, 'half_open', 'a late success does not close a half-open circuit');
    assertRefuses(breaker);
    breaker.onSuccess(probe);
    assert.equal(breaker.state, 'closed');
  });

  it('ignores a late normal failure while the probe is out', () => {
    const { breaker, clock } = breakerWith();
    const late = acquire(breaker);
    fail(breaker, 3);
    clock.now += COOLDOWN;
    const probe = acquire(breaker);
    breaker.onFailure(late);
    assert.equal(breaker.state, 'half_open');
    breaker.onSuccess(probe);
    assert.equal(breaker.state, 'closed');
  });

  it('always admits when disabled', () => {
    const { breaker, clock } = breakerWith({ enabled: false });
    for (let index = 0; index < 50; index++) {
      assert.equal(breaker.canAttempt(), true, `attempt ${index}`);
      const permit = breaker.tryAcquire();
      assert.deepEqual(permit, { probe: false }, `attempt ${index}`);
      breaker.onFailure(permit);
      clock.now += 10;
    }
    assert.equal(breaker.canAttempt(), true);
  });
});

describe('CircuitBreaker, error ratio', () => {
  const ratio: Partial<BreakerConfig> = { errorRatio: 0.5, minRequests: 10, failures: 5, windowSeconds: 30 };

  /** Plays a sequence: F is a failure, S a success. */
  function play(breaker: CircuitBreaker, sequence: string): void {
    for (const outcome of sequence) {
      if (outcome === 'F') fail(breaker);
      else succeed(breaker);
    }
  }

  it('opens on the ratio with fewer than `failures` consecutive failures, not before minRequests', () => {
    const { breaker } = breakerWith(ratio);
    play(breaker, 'FSFSFSFSF');
    assert.equal(breaker.state, 'closed', '5 failures of 9 attempts: below minRequests');
    play(breaker, 'F');
    assert.equal(breaker.state, 'open', '6 failures of 10 attempts, at most 2 in a row');
  });

  it('opens at exactly the ratio', () => {
    const { breaker } = breakerWith(ratio);
    play(breaker, 'SFSFSFSFS');
    assert.equal(breaker.state, 'closed');
    play(breaker, 'F');
    assert.equal(breaker.state, 'open', '5 failures of 10 attempts is 0.5');
  });

  it('stays closed below the ratio', () => {
    const { breaker } = breakerWith(ratio);
    play(breaker, 'SSFSFSFSSF');
    assert.equal(breaker.state, 'closed', '4 failures of 10 attempts');
    play(breaker, 'SSSSSSSSSSF');
    assert.equal(breaker.state, 'closed', '5 failures of 21 attempts');
  });

  it('still opens on `failures` consecutive failures', () => {
    const { breaker } = breakerWith({ ...ratio, failures: 3 });
    play(breaker, 'FFF');
    assert.equal(breaker.state, 'open');
  });

  it('forgets attempts older than the window', () => {
    const { breaker, clock } = breakerWith({ ...ratio, windowSeconds: 10 });
    play(breaker, 'FSFSFSFSS');
    clock.now += 10_000;
    play(breaker, 'F');
    assert.equal(breaker.state, 'closed', 'the first nine attempts have left the window');
  });

  it('starts from an empty window after the circuit closes again', () => {
    const { breaker, clock } = breakerWith(ratio);
    play(breaker, 'FSFSFSFSF');
    play(breaker, 'F');
    assert.equal(breaker.state, 'open');
    clock.now += COOLDOWN;
    breaker.onSuccess(acquire(breaker));
    assert.equal(breaker.state, 'closed');
    play(breaker, 'FSFSF');
    assert.equal(breaker.state, 'closed', 'only five attempts since the circuit closed');
  });
});
