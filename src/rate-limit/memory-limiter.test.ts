import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRate } from '../config/rate-string.js';
import type { LimitCheck } from './limiter-store.js';
import { MemoryLimiter } from './memory-limiter.js';
import type { AppliedLimit, LimitKind } from './policy.js';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');

function applied(name: string, kind: LimitKind, rate: string): AppliedLimit {
  const parsed = parseRate(rate);
  assert.ok(parsed !== null, rate);
  return { name, kind, rate: parsed, scope: `key:${kind}:${rate}`, subject: 'key test' };
}

function check(limit: AppliedLimit, key: string, cost = 1): LimitCheck {
  return { limit, key, cost };
}

/** Times are computed in emission intervals of a 1.9e12 ms clock: equal to within a microsecond. */
function assertNear(actual: number | undefined, expected: number, message?: string): void {
  assert.ok(
    actual !== undefined && Math.abs(actual - expected) < 1e-3,
    `${message ?? 'value'}: ${actual} is not ${expected}`,
  );
}

/** A limiter whose clock the test moves. */
function limiterAt(start: number): { limiter: MemoryLimiter; clock: { now: number } } {
  const clock = { now: start };
  return { limiter: new MemoryLimiter(() => clock.now), clock };
}

/** The number of keys the limiter holds (its private map: the only way to see that it stays bounded). */
function entries(limiter: MemoryLimiter): number {
  return (limiter as unknown as { tats: Map<string, unknown> }).tats.size;
}

describe('MemoryLimiter', () => {
  const perMinute5 = applied('requests', 'requests', '5/minute');
  const perMinute2 = applied('model-requests', 'requests', '2/minute');

  it('admits up to the limit at one instant, then refuses with the wait of one interval', async () => {
    const { limiter } = limiterAt(T0);
    for (let index = 1; index <= 5; index++) {
      const result = await limiter.acquire([check(perMinute5, 'a')]);
      assert.equal(result.allowed, true);
      assert.equal(result.refused, null);
      assert.equal(result.statuses[0]?.remaining, 5 - index);
    }
    const refused = await limiter.acquire([check(perMinute5, 'a')]);
    assert.equal(refused.allowed, false);
    assert.equal(refused.refused?.limit, perMinute5);
    assert.equal(refused.refused?.retryAfterMs, 12_000);
  });

  it('a request refused by one limit consumes none of the others', async () => {
    const { limiter } = limiterAt(T0);
    const both = [check(perMinute5, 'key'), check(perMinute2, 'model')];
    assert.equal((await limiter.acquire(both)).allowed, true);
    assert.equal((await limiter.acquire(both)).allowed, true);
    for (let attempt = 0; attempt < 10; attempt++) {
      const refused = await limiter.acquire(both);
      assert.equal(refused.allowed, false);
      assert.equal(refused.refused?.limit, perMinute2, 'the model limit refused');
      assert.equal(refused.refused?.retryAfterMs, 30_000);
      // Reported as it stands: 3 left, not charged for the refused request.
      assert.deepEqual(
        refused.statuses.map((status) => [status.limit.name, status.remaining]),
        [
          ['requests', 3],
          ['model-requests', 0],
        ],
      );
    }
    // The key limit alone still has exactly the 3 the two admitted requests left.
    for (let index = 1; index <= 3; index++) {
      const alone = await limiter.acquire([check(perMinute5, 'key')]);
      assert.equal(alone.allowed, true, `request ${index} on the key limit alone`);
      assert.equal(alone.statuses[0]?.remaining, 3 - index);
    }
    assert.equal((await limiter.acquire([check(perMinute5, 'key')])).allowed, false);
  });

  it('when several limits refuse, names the one that waits longest', async () => {
    const { limiter } = limiterAt(T0);
    await limiter.acquire([check(perMinute5, 'key', 5), check(perMinute2, 'model', 2)]);
    const refused = await limiter.acquire([check(perMinute5, 'key'), check(perMinute2, 'model')]);
    assert.equal(refused.refused?.limit, perMinute2);
    assert.equal(refused.refused?.retryAfterMs, 30_000, 'not the 12 s of the key limit');
  });

  it('refills over time: one unit per interval, the whole budget after the window', async () => {
    const { limiter, clock } = limiterAt(T0);
    for (let index = 0; index < 2; index++) await limiter.acquire([check(perMinute2, 'a')]);
    clock.now = T0 + 29_999;
    const early = await limiter.acquire([check(perMinute2, 'a')]);
    assert.equal(early.allowed, false);
    assertNear(early.refused?.retryAfterMs, 1);
    clock.now = T0 + 30_000;
    const refilled = await limiter.acquire([check(perMinute2, 'a')]);
    assert.equal(refilled.allowed, true);
    assert.equal(refilled.statuses[0]?.remaining, 0);
    assert.equal(refilled.statuses[0]?.resetMs, 60_000);
    clock.now = T0 + 30_000 + 60_000;
    const whole = await limiter.acquire([check(perMinute2, 'a')]);
    assert.equal(whole.statuses[0]?.remaining, 1, 'the whole budget (2) was back; this one took 1');
    assert.equal((await limiter.acquire([check(perMinute2, 'a')])).allowed, true);
    assert.equal((await limiter.acquire([check(perMinute2, 'a')])).allowed, false);
  });

  it('keeps keys apart', async () => {
    const { limiter } = limiterAt(T0);
    await limiter.acquire([check(perMinute2, 'a', 2)]);
    assert.equal((await limiter.acquire([check(perMinute2, 'a')])).allowed, false);
    assert.equal((await limiter.acquire([check(perMinute2, 'b')])).allowed, true);
  });

  it('adjust refunds and charges a token reservation', async () => {
    const tokens = applied('tokens', 'tokens', '1000/minute');
    const { limiter } = limiterAt(T0);
    const reserved = await limiter.acquire([check(tokens, 't', 600)]);
    assert.equal(reserved.statuses[0]?.remaining, 400);

    await limiter.adjust([{ limit: tokens, key: 't', delta: -500 }]);
    assert.equal((await limiter.acquire([check(tokens, 't', 0)])).statuses[0]?.remaining, 900);

    await limiter.adjust([{ limit: tokens, key: 't', delta: 300 }]);
    assert.equal((await limiter.acquire([check(tokens, 't', 0)])).statuses[0]?.remaining, 600);

    await limiter.adjust([{ limit: tokens, key: 't', delta: 700 }]); // 1100 used: over the budget
    const over = await limiter.acquire([check(tokens, 't', 1)]);
    assert.equal(over.allowed, false);
    assert.equal(over.statuses[0]?.remaining, 0);
    assertNear(over.refused?.retryAfterMs, 6060, '101 tokens at 60 ms each');

    await limiter.adjust([{ limit: tokens, key: 't', delta: -100_000 }]); // never more than whole
    assert.equal((await limiter.acquire([check(tokens, 't', 1000)])).allowed, true);
    assert.equal((await limiter.acquire([check(tokens, 't', 1)])).allowed, false);
  });

  it('a cost over the whole limit is refused with an infinite wait and charges nothing', async () => {
    const tokens = applied('tokens', 'tokens', '1000/minute');
    const { limiter } = limiterAt(T0);
    const refused = await limiter.acquire([check(tokens, 't', 1001), check(perMinute5, 'r')]);
    assert.equal(refused.allowed, false);
    assert.equal(refused.refused?.retryAfterMs, Infinity);
    assert.equal(refused.statuses[1]?.remaining, 5);
    assert.equal(entries(limiter), 0);
  });

  it('drops an entry once its budget is whole: refunded, or found whole when the map fills', async () => {
    const tokens = applied('tokens', 'tokens', '1000/minute');
    const { limiter, clock } = limiterAt(T0);
    await limiter.acquire([check(tokens, 't', 600)]);
    assert.equal(entries(limiter), 1);
    await limiter.adjust([{ limit: tokens, key: 't', delta: -600 }]);
    assert.equal(entries(limiter), 0, 'a whole budget is not stored');
    await limiter.acquire([check(tokens, 't', 0)]);
    assert.equal(entries(limiter), 0, 'a zero cost on a whole budget stores nothing');

    const perSecond = applied('requests', 'requests', '10/second');
    for (let index = 0; index < 100_000; index++) await limiter.acquire([check(perSecond, `k${index}`)]);
    assert.equal(entries(limiter), 100_000);
    clock.now = T0 + 1000; // every one of them is whole again
    await limiter.acquire([check(perSecond, 'one-more')]);
    assert.equal(entries(limiter), 1, 'the whole ones were swept when the map was full');
  });

  it('stays bounded at 100 000 keys when none is whole, forgetting the oldest', async () => {
    const perHour = applied('requests', 'requests', '1/hour');
    const { limiter } = limiterAt(T0);
    for (let index = 0; index < 100_010; index++) await limiter.acquire([check(perHour, `k${index}`)]);
    assert.equal(entries(limiter), 100_000);
    assert.equal((await limiter.acquire([check(perHour, 'k0')])).allowed, true, 'k0 was forgotten');
    assert.equal((await limiter.acquire([check(perHour, 'k100009')])).allowed, false, 'the newest is kept');
  });
});
