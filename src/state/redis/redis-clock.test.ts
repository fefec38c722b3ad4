import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RedisClock } from './redis-clock.js';

describe('RedisClock', () => {
  it('knows nothing before a reply', () => {
    const clock = new RedisClock();
    assert.equal(clock.known, false);
    assert.ok(Number.isNaN(clock.redisTime(0)));
  });

  it("takes Redis's time minus when the reply was received as the offset, and keeps the tightest one", () => {
    const clock = new RedisClock();
    // Sent at 10, received at 12 (local ms); Redis read 1000 in between: the offset is in [988, 990].
    clock.observe(1000, 10, 12);
    assert.equal(clock.known, true);
    assert.equal(clock.redisTime(20), 1008);
    // A reply read sooner after Redis answered: a tighter lower bound.
    clock.observe(1100, 110, 111);
    assert.equal(clock.redisTime(20), 1009);
    // A reply that waited 50 ms to be read (a busy event loop) does not lower it.
    clock.observe(1200, 200, 250);
    assert.equal(clock.redisTime(20), 1009);
  });

  it("follows Redis's clock when it steps back: a reply whose upper bound is below the estimate", () => {
    const clock = new RedisClock();
    clock.observe(1000, 10, 11);
    assert.equal(clock.redisTime(0), 989);
    // Redis's clock went back by about 800 ms: sent at 300, Redis read 500, so the offset is at most 200.
    clock.observe(500, 300, 301);
    assert.equal(clock.redisTime(0), 199);
  });

  it('never puts a deadline later in Redis time than the true offset allows, whatever the delays', () => {
    // A deterministic generator: replies delayed up to 100 ms each way, a true offset that steps
    // forward. (A step back is followed at the first reply whose upper bound shows it, above.)
    let seed = 17;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const clock = new RedisClock();
    let offset = 1.7e12;
    let now = 0;
    for (let i = 0; i < 10_000; i++) {
      if (i % 1000 === 999) offset += random() * 2000;
      const sentAt = now;
      const executedAt = sentAt + random() * 100;
      const receivedAt = executedAt + random() * 100;
      clock.observe(executedAt + offset, sentAt, receivedAt);
      now = receivedAt + random() * 10;
      assert.ok(clock.redisTime(now) <= now + offset, `reply ${i}: the estimate exceeds the true offset`);
    }
  });
});
