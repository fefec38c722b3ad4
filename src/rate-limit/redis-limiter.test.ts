import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { startRedisServer, type PrivateRedis } from '../../test/support/redis-server.js';
import { requireTool } from '../../test/support/system-tool.js';
import { parseRate } from '../config/rate-string.js';
import type { AcquireResult, LimitCheck } from './limiter-store.js';
import { MemoryLimiter } from './memory-limiter.js';
import type { AppliedLimit, LimitKind } from './policy.js';
import { RedisLimiter } from './redis-limiter.js';

function applied(name: string, kind: LimitKind, rate: string): AppliedLimit {
  const parsed = parseRate(rate);
  assert.ok(parsed !== null, rate);
  return { name, kind, rate: parsed, scope: `key:${kind}:${rate}`, subject: 'key test' };
}

let server: PrivateRedis;
let redis: Redis;
let other: Redis;
let limiter: RedisLimiter;
let test = 0;

/** Every test here needs a private redis-server: skipped without one, except under CI=true. */
const withoutRedis = requireTool('redis-server', 'redis-server');

/** A key no other test uses. */
function key(name: string): string {
  return `gw-rl:{t${test}}:${name}`;
}

before(async () => {
  if (withoutRedis !== false) return;
  server = await startRedisServer();
  redis = new Redis(server.port, '127.0.0.1');
  other = new Redis(server.port, '127.0.0.1');
  limiter = new RedisLimiter(redis);
});

after(async () => {
  if (withoutRedis !== false) return;
  redis.disconnect();
  other.disconnect();
  await server.stop();
});

describe('RedisLimiter', { skip: withoutRedis }, () => {
  it('gives the same decisions and remaining budgets as MemoryLimiter for the same burst', async () => {
    test++;
    // Windows of an hour and a day: the milliseconds between Redis calls refill nothing that shows.
    const requests = applied('requests', 'requests', '6/hour');
    const tokensHour = applied('tokens-hour', 'tokens', '4000/hour');
    const modelTokens = applied('model-tokens', 'tokens', '1500/day');
    const memory = new MemoryLimiter(() => Date.parse('2030-01-01T00:00:00.000Z'));
    const costs = [700, 1200, 50, 3000, 900, 10, 400, 1600, 1, 333, 2000, 80, 4001, 120, 60, 900, 5, 5];
    const summary = (result: AcquireResult): string =>
      `${result.allowed ? 'admitted' : `refused by ${result.refused?.limit.name}`} ` +
      result.statuses.map((status) => `${status.limit.name}=${status.remaining}`).join(' ');
    const decisions = { memory: [] as string[], redis: [] as string[] };
    for (const cost of costs) {
      const checks: LimitCheck[] = [
        { limit: requests, key: key('requests'), cost: 1 },
        { limit: tokensHour, key: key('tokens-hour'), cost },
        { limit: modelTokens, key: key('model-tokens'), cost: Math.floor(cost / 2) },
      ];
      const inMemory = await memory.acquire(checks);
      const inRedis = await limiter.acquire(checks);
      decisions.memory.push(summary(inMemory));
      decisions.redis.push(summary(inRedis));
      if (!inMemory.allowed && Number.isFinite(inMemory.refused?.retryAfterMs)) {
        const difference = Math.abs((inRedis.refused?.retryAfterMs ?? 0) - inMemory.refused!.retryAfterMs);
        assert.ok(difference < 1000, `retryAfterMs differ by ${difference} ms`);
      }
    }
    assert.deepEqual(decisions.redis, decisions.memory);
    // Admitted, and refused by each limit: the sequence says something.
    for (const outcome of [
      'admitted',
      'refused by requests',
      'refused by tokens-hour',
      'refused by model-tokens',
    ]) {
      assert.ok(
        decisions.memory.some((line) => line.startsWith(outcome)),
        `never ${outcome}:\n${decisions.memory.join('\n')}`,
      );
    }
  });

  it('admits a whole budget at once, exactly (6/second and 7/minute: fractional intervals)', async () => {
    test++;
    for (const rate of ['6/second', '7/minute', '100/minute']) {
      const limit = applied('requests', 'requests', rate);
      const budget = limit.rate.limit;
      const whole = await limiter.acquire([{ limit, key: key(rate), cost: budget }]);
      assert.equal(whole.allowed, true, `${budget} at once on ${rate}`);
      assert.equal(whole.statuses[0]?.remaining, 0);
      const next = await limiter.acquire([{ limit, key: key(rate), cost: 1 }]);
      assert.equal(next.allowed, false);
      const interval = (limit.rate.windowSeconds * 1000) / budget;
      const wait = next.refused!.retryAfterMs;
      assert.ok(wait > interval - 100 && wait <= interval, `waits ${wait} ms, not one interval`);
    }
  });

  it('charges all limits of a request or none: a refusal leaves the others untouched in Redis', async () => {
    test++;
    const wide = applied('requests', 'requests', '5/hour');
    const narrow = applied('model-requests', 'requests', '1/hour');
    const checks: LimitCheck[] = [
      { limit: wide, key: key('wide'), cost: 1 },
      { limit: narrow, key: key('narrow'), cost: 1 },
    ];
    assert.equal((await limiter.acquire(checks)).allowed, true);
    const stored = await redis.mget(key('wide'), key('narrow'));
    assert.ok(
      stored.every((value) => value !== null),
      'both limits were charged',
    );

    for (let attempt = 0; attempt < 5; attempt++) {
      const refused = await limiter.acquire(checks);
      assert.equal(refused.allowed, false);
      assert.equal(refused.refused?.limit, narrow);
      assert.deepEqual(
        refused.statuses.map((status) => status.remaining),
        [4, 0],
      );
    }
    assert.deepEqual(await redis.mget(key('wide'), key('narrow')), stored, 'not a digit changed');
    // The wide limit alone still has its 4.
    for (let index = 3; index >= 0; index--) {
      const alone = await limiter.acquire([{ limit: wide, key: key('wide'), cost: 1 }]);
      assert.equal(alone.allowed, true);
      assert.equal(alone.statuses[0]?.remaining, index);
    }
  });

  it('a refusal always names its limit, even when a fraction of a millisecond would admit it', async () => {
    test++;
    // 1 000 000 tokens a minute: 0.06 ms a token. After the whole budget, 300 requests of a few tokens
    // sent at once run back to back in Redis: each is admitted, or refused by less than its cost's
    // time, often by a few microseconds; a refusal must still name the limit (else the caller would
    // take it for an admission that was never charged).
    const tokens = applied('tokens', 'tokens', '1000000/minute');
    const check: LimitCheck = { limit: tokens, key: key('tokens'), cost: 1 };
    assert.equal((await limiter.acquire([{ ...check, cost: 1_000_000 }])).allowed, true);
    let refusals = 0;
    for (const cost of [1, 2, 5, 10, 20]) {
      const results = await Promise.all(
        Array.from({ length: 300 }, () => limiter.acquire([{ ...check, cost }])),
      );
      for (const result of results.filter((each) => !each.allowed)) {
        refusals++;
        assert.equal(result.refused?.limit, tokens, `refusal ${refusals} (cost ${cost}) names no limit`);
        const wait = result.refused.retryAfterMs;
        assert.ok(wait > 0 && wait <= cost * 0.06 + 1e-6, `refused for ${wait} ms at a cost of ${cost}`);
      }
    }
    assert.ok(refusals > 50, `${refusals} refusals`);
  });

  it('gives every key it writes a TTL no longer than its reset time', async () => {
    test++;
    const checks: LimitCheck[] = [
      { limit: applied('requests', 'requests', '10/minute'), key: key('a'), cost: 3 },
      { limit: applied('tokens', 'tokens', '1000/hour'), key: key('b'), cost: 250 },
      { limit: applied('tokens-day', 'tokens', '5000/day'), key: key('c'), cost: 250 },
    ];
    const result = await limiter.acquire(checks);
    await limiter.adjust([{ limit: checks[1]!.limit, key: key('b'), delta: 100 }]);
    for (const [index, name] of ['a', 'b', 'c'].entries()) {
      const ttl = await redis.pttl(key(name));
      const reset = result.statuses[index]!.resetMs + (name === 'b' ? 100 * 3600 : 0);
      assert.ok(ttl > 0 && ttl <= Math.ceil(reset) + 1, `${name}: PTTL ${ttl}, reset ${reset}`);
      assert.ok(ttl > reset - 1000, `${name}: PTTL ${ttl} expires long before the budget is whole`);
    }
    const all = await redis.keys('gw-rl:*');
    assert.ok(all.length >= 3, `${all.length} keys`);
    for (const name of all) assert.ok((await redis.pttl(name)) > 0, `${name} has no TTL`);
  });

  it('lets a key disappear when its budget is whole: by refund at once, by time by itself', async () => {
    test++;
    const tokens = applied('tokens', 'tokens', '1000/hour');
    await limiter.acquire([{ limit: tokens, key: key('refunded'), cost: 300 }]);
    assert.equal(await redis.exists(key('refunded')), 1);
    await limiter.adjust([{ limit: tokens, key: key('refunded'), delta: -300 }]);
    assert.equal(await redis.exists(key('refunded')), 0, 'a whole budget is not stored');

    const fast = applied('requests', 'requests', '20/second'); // one unit back in 50 ms
    await limiter.acquire([{ limit: fast, key: key('expiring'), cost: 1 }]);
    assert.equal(await redis.exists(key('expiring')), 1);
    const deadline = Date.now() + 2000;
    while ((await redis.exists(key('expiring'))) === 1) {
      assert.ok(Date.now() < deadline, 'the key still exists 2 s after its 50 ms budget came back');
      await new Promise((resolve) => setImmediate(resolve));
    }
    // Gone, and a whole budget again.
    const again = await limiter.acquire([{ limit: fast, key: key('expiring'), cost: 20 }]);
    assert.equal(again.allowed, true);
  });

  it('500 concurrent acquires at a limit of 100, on two connections, admit exactly 100, every round', async () => {
    test++;
    const limiters = [limiter, new RedisLimiter(other)];
    const limit = applied('requests', 'requests', '100/hour');
    for (let round = 0; round < 5; round++) {
      const check: LimitCheck = { limit, key: key(`round-${round}`), cost: 1 };
      const results = await Promise.all(
        Array.from({ length: 500 }, (_, index) => limiters[index % 2]!.acquire([check])),
      );
      const admitted = results.filter((result) => result.allowed);
      assert.equal(admitted.length, 100, `round ${round}`);
      assert.deepEqual(
        admitted.map((result) => result.statuses[0]?.remaining).sort((a, b) => b! - a!),
        Array.from({ length: 100 }, (_, index) => 99 - index),
        'each admitted request saw its own remaining count',
      );
      assert.ok(
        results.every((result) => result.allowed || result.refused!.retryAfterMs > 0),
        'every refusal asks to wait',
      );
    }
  });

  it('decides the requests of one turn in one script call, in order, each as if it were alone', async () => {
    test++;
    const scriptCalls = async (): Promise<number> => {
      const stats = await redis.info('commandstats');
      return [...stats.matchAll(/^cmdstat_eval(?:sha)?:calls=(\d+)/gm)].reduce(
        (sum, match) => sum + Number(match[1]),
        0,
      );
    };
    const perKey = applied('requests', 'requests', '10/hour');
    const wide = applied('requests', 'requests', '5/hour');
    const narrow = applied('model-requests', 'requests', '1/hour');
    await limiter.acquire([{ limit: perKey, key: key('warm'), cost: 1 }]); // the script is loaded
    const before = await scriptCalls();
    // 25 requests on one key and 3 with two limits each, all asked in the same turn.
    const single = Array.from({ length: 25 }, () =>
      limiter.acquire([{ limit: perKey, key: key('a'), cost: 1 }]),
    );
    const double = Array.from({ length: 3 }, () =>
      limiter.acquire([
        { limit: wide, key: key('wide'), cost: 1 },
        { limit: narrow, key: key('narrow'), cost: 1 },
      ]),
    );
    const singles = await Promise.all(single);
    const doubles = await Promise.all(double);
    // INFO counts itself in commandstats only after it ran: the second reading adds no script call.
    assert.equal((await scriptCalls()) - before, 1, 'one script call for the whole turn');
    assert.deepEqual(
      singles.map((result) => (result.allowed ? result.statuses[0]?.remaining : 'refused')),
      [
        ...Array.from({ length: 10 }, (_, index) => 9 - index),
        ...Array.from({ length: 15 }, () => 'refused'),
      ],
      'admitted in the order asked, each seeing the charges before it',
    );
    assert.deepEqual(
      doubles.map((result) => (result.allowed ? 'admitted' : result.refused?.limit.name)),
      ['admitted', 'model-requests', 'model-requests'],
    );
    // The refused ones charged nothing: the wide limit has 4 of 5 left.
    const next = await limiter.acquire([{ limit: wide, key: key('wide'), cost: 0 }]);
    assert.equal(next.statuses[0]?.remaining, 4);
  });

  it('fails every request of a batch once Redis stalls past the deadline, and recovers after', async () => {
    test++;
    const stalling = await startRedisServer();
    const connection = new Redis(stalling.port, '127.0.0.1');
    try {
      const bounded = new RedisLimiter(connection, () => 100);
      const limit = applied('requests', 'requests', '10/hour');
      assert.equal((await bounded.acquire([{ limit, key: key('s'), cost: 1 }])).allowed, true);
      stalling.stall();
      const started = Date.now();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 5 }, () => bounded.acquire([{ limit, key: key('s'), cost: 1 }])),
      );
      const waited = Date.now() - started;
      assert.ok(
        outcomes.every(
          // 100 ms, and 1 ms for each of the 5 requests waiting (redis-limiter.ts).
          (outcome) => outcome.status === 'rejected' && /within 105 ms/.test(String(outcome.reason)),
        ),
        JSON.stringify(outcomes.map((outcome) => outcome.status)),
      );
      assert.ok(waited >= 100 && waited < 1000, `failed after ${waited} ms`);
      stalling.resume();
      // The stalled batch reaches Redis after its deadline and changes nothing there (issue 17); the
      // next one is answered normally, and its budget holds the first request and itself.
      const after = await bounded.acquire([{ limit, key: key('s'), cost: 1 }]);
      assert.equal(after.allowed, true);
      assert.equal(after.statuses[0]?.remaining, 8);
    } finally {
      stalling.resume();
      connection.disconnect();
      await stalling.stop();
    }
  });

  it('adjust with a negative delta gives budget back, a positive one charges', async () => {
    test++;
    const tokens = applied('tokens', 'tokens', '1000/hour');
    const peek = async (): Promise<number | undefined> =>
      (await limiter.acquire([{ limit: tokens, key: key('t'), cost: 0 }])).statuses[0]?.remaining;
    assert.equal(
      (await limiter.acquire([{ limit: tokens, key: key('t'), cost: 800 }])).statuses[0]?.remaining,
      200,
    );
    await limiter.adjust([{ limit: tokens, key: key('t'), delta: -500 }]);
    assert.equal(await peek(), 700);
    await limiter.adjust([{ limit: tokens, key: key('t'), delta: 600 }]);
    assert.equal(await peek(), 100);
    await limiter.adjust([{ limit: tokens, key: key('t'), delta: -5000 }]);
    assert.equal(await peek(), 1000, 'never more than the whole budget');
    await limiter.adjust([]);
  });
});
