import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RoutingConfig } from '../config/config.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { CircuitBreakers, MAX_BREAKERS_PER_BACKEND } from './circuit-breakers.js';

const CONFIG: RoutingConfig['circuitBreaker'] = {
  enabled: true,
  failures: 1,
  errorRatio: null,
  minRequests: 20,
  windowSeconds: 30,
  cooldownMs: 30_000,
};

function setup(capacity: number, config = CONFIG): { breakers: CircuitBreakers; clock: { now: number } } {
  const clock = { now: 1_000_000 };
  return { breakers: new CircuitBreakers(config, () => clock.now, capacity), clock };
}

/** One failed attempt: with `failures: 1` the circuit opens. */
function trip(breaker: CircuitBreaker): void {
  const permit = breaker.tryAcquire();
  assert.ok(permit !== null, 'the circuit admitted the attempt');
  breaker.onFailure(permit);
  assert.equal(breaker.state, 'open');
}

describe('CircuitBreakers: one breaker per upstream model, bounded', () => {
  it('keeps one breaker per model name, the same one on every call', () => {
    const { breakers } = setup(10);
    const a = breakers.get('a');
    assert.equal(breakers.get('a'), a);
    assert.notEqual(breakers.get('b'), a);
    trip(a);
    assert.equal(breakers.get('b').state, 'closed', 'another model keeps its circuit closed');
    assert.equal(breakers.size, 2);
  });

  it('gives a pinned (configured) model the same breaker as its name passed through, never forgotten', () => {
    const { breakers } = setup(2);
    const pinned = breakers.pin('configured');
    assert.equal(breakers.get('configured'), pinned);
    for (let index = 0; index < 10; index++) breakers.get(`name-${index}`);
    assert.equal(breakers.get('configured'), pinned);
    assert.equal(breakers.size, 2, 'pinned breakers are not counted against the bound');
  });

  it('holds at most `capacity` breakers, forgetting the least recently used closed one', () => {
    const { breakers } = setup(3);
    const a = breakers.get('a');
    const b = breakers.get('b');
    breakers.get('c');
    breakers.get('a'); // a used again: b is now the least recently used
    breakers.get('d');
    assert.equal(breakers.size, 3);
    assert.equal(breakers.get('a'), a, 'a was kept');
    assert.notEqual(breakers.get('b'), b, 'b was forgotten (and made anew)');
  });

  it('forgets closed breakers before an open one, however long unused the open one is', () => {
    const { breakers } = setup(3);
    const broken = breakers.get('broken');
    trip(broken);
    for (let index = 0; index < 50; index++) breakers.get(`flood-${index}`);
    assert.equal(breakers.get('broken'), broken);
    assert.equal(breakers.get('broken').state, 'open');
    assert.equal(breakers.size, 3);
  });

  it('makes new names share one overflow breaker while every breaker is open, never pushing one out', () => {
    const { breakers, clock } = setup(2);
    const first = breakers.get('first');
    const second = breakers.get('second');
    trip(first);
    trip(second);
    const overflow = breakers.get('third');
    assert.equal(breakers.get('fourth'), overflow, 'new names share one breaker');
    assert.equal(breakers.get('first'), first);
    assert.equal(breakers.get('second'), second);
    assert.equal(breakers.size, 2);
    trip(overflow);
    assert.equal(
      breakers.get('fifth').state,
      'open',
      'a failure through the overflow breaker opens it for new names',
    );
    assert.deepEqual(breakers.notClosed(10), {
      listed: [
        [null, 'open'],
        ['first', 'open'],
        ['second', 'open'],
      ],
      total: 3,
    });

    // Once cooldowns are over, half-open breakers with no probe in flight may be forgotten again.
    clock.now += CONFIG.cooldownMs;
    const own = breakers.get('sixth');
    assert.notEqual(own, overflow);
    assert.equal(own.state, 'closed');
    assert.deepEqual(
      breakers.notClosed(10),
      { listed: [['second', 'half_open']], total: 1 },
      'the least recently used spent verdict (first) and the overflow breaker are forgotten',
    );
  });

  it('keeps a half-open breaker whose probe is in flight, forgets one with no probe in flight', () => {
    const { breakers, clock } = setup(2);
    const probing = breakers.get('probing');
    const idle = breakers.get('idle');
    trip(probing);
    trip(idle);
    clock.now += CONFIG.cooldownMs;
    assert.equal(probing.tryAcquire()?.probe, true, 'the probe is in flight');
    breakers.get('idle'); // the probing one is now the least recently used: it is kept all the same
    breakers.get('new');
    assert.equal(breakers.get('probing'), probing, 'a probe in flight is never forgotten');
    assert.notEqual(breakers.get('idle'), idle, 'a spent verdict is');
  });

  it('stores nothing when breakers are switched off', () => {
    const { breakers } = setup(2, { ...CONFIG, enabled: false });
    const breaker = breakers.get('a');
    const permit = breaker.tryAcquire();
    assert.ok(permit !== null);
    breaker.onFailure(permit);
    assert.equal(breakers.get('b').canAttempt(), true);
    assert.equal(breakers.size, 0);
  });

  it('names at most `limit` circuits that are not closed, and counts them all', () => {
    const { breakers } = setup(10);
    for (let index = 0; index < 5; index++) trip(breakers.get(`m${index}`));
    breakers.get('fine');
    assert.deepEqual(breakers.notClosed(2), {
      listed: [
        ['m0', 'open'],
        ['m1', 'open'],
      ],
      total: 5,
    });
    assert.equal(breakers.mostOpen(), 'open');
  });

  it('bounds a backend at 1,000 breakers for client-chosen names by default', () => {
    const breakers = new CircuitBreakers(CONFIG);
    for (let index = 0; index < 5_000; index++) breakers.get(`name-${index}`);
    assert.equal(MAX_BREAKERS_PER_BACKEND, 1_000);
    assert.equal(breakers.size, 1_000);
  });
});
