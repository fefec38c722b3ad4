import assert from 'node:assert/strict';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { startRedisServer, type PrivateRedis } from '../../test/support/redis-server.js';
import { requireTool } from '../../test/support/system-tool.js';
import type { KeyRecord } from '../auth/key-record.js';
import type { GatewayConfig, ModelRoute } from '../config/config.js';
import type { RateLimitPolicyConfig } from '../config/schema.js';
import { RateLimitExceededError, ServiceUnavailableError } from '../errors/errors.js';
import { createRedisClient } from '../state/redis/redis-client.js';
import { RateLimiter, type Grant } from './rate-limiter.js';

const STORE_TIMEOUT_MS = 50;

/** Tests that start a private redis-server: skipped without one, except under CI=true. */
const needsRedis = { skip: requireTool('redis-server', 'redis-server') };

/** A logger whose warnings the test reads. */
function capturingLogger(): { logger: Logger; lines: { msg: string; on_store_error?: string }[] } {
  const lines: { msg: string; on_store_error?: string }[] = [];
  const logger = pino(
    { level: 'warn' },
    {
      write: (line: string) => {
        lines.push(JSON.parse(line) as { msg: string });
      },
    },
  );
  return { logger, lines };
}

function config(
  defaultPolicy: RateLimitPolicyConfig | null,
  onStoreError: 'open' | 'closed' = 'open',
): GatewayConfig['rateLimit'] {
  return {
    default: defaultPolicy,
    onStoreError,
    storeTimeoutMs: STORE_TIMEOUT_MS,
    defaultCompletionTokens: 256,
  };
}

let keyCount = 0;
/** A key of its own for every test, so that no state leaks between tests. */
function freshKey(rateLimit: RateLimitPolicyConfig | null = null): KeyRecord {
  keyCount++;
  return {
    id: `team-${keyCount}`,
    name: `team ${keyCount}`,
    sha256: '0'.repeat(64),
    createdAt: null,
    expiresAt: null,
    revokedAt: null,
    models: null,
    rateLimit,
    metadata: {},
    team: null,
    priority: 100,
    maxConcurrency: null,
    budgets: [],
    source: 'config',
  };
}

function route(name: string, rateLimit: RateLimitPolicyConfig | null): ModelRoute {
  const value = { name, targets: [], rateLimit, cache: null, strategy: 'weighted' as const };
  return value;
}

/** A Redis client as the gateway makes it: no offline queue, 50 ms per command. */
async function gatewayClient(url: string, logger: Logger): Promise<Redis> {
  const redis = createRedisClient({ url, logger, commandTimeoutMs: STORE_TIMEOUT_MS });
  if (redis.status !== 'ready') await once(redis, 'ready');
  return redis;
}

/** Asserts that `promise` rejects with a 429 and returns the error. */
async function refusedWith429(promise: Promise<Grant>): Promise<RateLimitExceededError> {
  let caught: unknown = null;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(
    caught instanceof RateLimitExceededError,
    `expected a RateLimitExceededError, got ${String(caught)}`,
  );
  assert.equal(caught.code, 'rate_limit_exceeded');
  assert.equal(caught.status, 429);
  return caught;
}

/** Retry-After in whole seconds, at least 1, and retry-after-ms consistent with it. */
function assertRetryHeaders(headers: Readonly<Record<string, string>>): { seconds: number; ms: number } {
  const seconds = Number(headers['retry-after']);
  const ms = Number(headers['retry-after-ms']);
  assert.ok(Number.isInteger(seconds) && seconds >= 1, `retry-after '${headers['retry-after']}'`);
  assert.ok(Number.isInteger(ms) && ms >= 1, `retry-after-ms '${headers['retry-after-ms']}'`);
  assert.equal(
    seconds,
    Math.max(1, Math.ceil(ms / 1000)),
    'retry-after is retry-after-ms in seconds, rounded up',
  );
  return { seconds, ms };
}

describe('RateLimiter against a shared Redis', needsRedis, () => {
  let server: PrivateRedis;
  let redis: Redis;
  const { logger } = capturingLogger();

  before(async () => {
    server = await startRedisServer();
    redis = await gatewayClient(server.url, logger);
  });

  after(async () => {
    redis.disconnect();
    await server.stop();
  });

  it('refuses with 429 rate_limit_exceeded, Retry-After and a detail naming the policy and subject', async () => {
    const limiter = new RateLimiter(config({ requests: '2/hour' }), redis, logger);
    const key = freshKey();
    const first = await limiter.acquire({ key, route: null, tokens: null });
    assert.equal(first.headers['ratelimit-policy'], '"requests";q=2;w=3600');
    assert.match(first.headers.ratelimit ?? '', /^"requests";r=1;t=180[01]$/);
    await limiter.acquire({ key, route: null, tokens: null });

    const error = await refusedWith429(limiter.acquire({ key, route: null, tokens: null }));
    assert.equal(error.message, `Rate limit of 2 requests per hour exceeded for key ${key.id}`);
    const { seconds, ms } = assertRetryHeaders(error.headers);
    // One request comes back every 30 minutes.
    assert.ok(ms > 1_800_000 - 5000 && ms <= 1_800_000, `retry-after-ms ${ms}`);
    assert.ok(seconds === 1800 || seconds === 1799, `retry-after ${seconds}`);
    assert.equal(error.headers['ratelimit-policy'], '"requests";q=2;w=3600');
    assert.match(error.headers.ratelimit ?? '', /^"requests";r=0;t=360[01]$/);
    assert.equal(error.headers['x-ratelimit-remaining-requests'], '0');
  });

  it('says at least one second in Retry-After when the wait is shorter', async () => {
    const limiter = new RateLimiter(config({ requests: '100/second' }), redis, logger);
    const key = freshKey();
    let error: RateLimitExceededError | null = null;
    for (let attempt = 0; attempt < 1000 && error === null; attempt++) {
      try {
        await limiter.acquire({ key, route: null, tokens: null });
      } catch (caught) {
        assert.ok(caught instanceof RateLimitExceededError, String(caught));
        error = caught;
      }
    }
    assert.ok(error !== null, 'refused within 1000 requests');
    const { seconds, ms } = assertRetryHeaders(error.headers);
    assert.equal(seconds, 1);
    assert.ok(ms <= 10, `retry-after-ms ${ms}: one request comes back every 10 ms`);
  });

  it("names the key and the model when a route's limit refuses", async () => {
    const limiter = new RateLimiter(config({ requests: '100/hour' }), redis, logger);
    const key = freshKey();
    const small = route('small', { requests: '1/hour' });
    const admitted = await limiter.acquire({ key, route: small, tokens: null });
    assert.equal(
      admitted.headers['ratelimit-policy'],
      '"requests";q=100;w=3600, "model-requests";q=1;w=3600',
    );
    const error = await refusedWith429(limiter.acquire({ key, route: small, tokens: null }));
    assert.equal(
      error.message,
      `Rate limit of 1 requests per hour exceeded for key ${key.id} on model small`,
    );
    assertRetryHeaders(error.headers);
    // The route's limit refused; the key's own limit was not charged for it.
    const other = await limiter.acquire({ key, route: null, tokens: null });
    assert.match(other.headers.ratelimit ?? '', /^"requests";r=98;/);
  });

  it('refuses a reservation larger than the whole token limit at once, saying so', async () => {
    const limiter = new RateLimiter(config({ tokens: '1000/hour' }), redis, logger);
    const error = await refusedWith429(limiter.acquire({ key: freshKey(), route: null, tokens: () => 1001 }));
    assert.match(error.message, /^Rate limit of 1000 tokens per hour exceeded for key team-\d+; /);
    assert.match(error.message, /reserves 1001 tokens, more than the whole limit \(lower max_tokens\)/);
    assert.equal(error.headers['retry-after'], '3600');
    assert.equal(error.headers['retry-after-ms'], '3600000');
  });

  it('does not compute the token reservation when no token limit applies', async () => {
    const limiter = new RateLimiter(config({ requests: '10/hour' }), redis, logger);
    let calls = 0;
    const tokens = (): number => {
      calls++;
      return 500;
    };
    const grant = await limiter.acquire({ key: freshKey(), route: null, tokens });
    assert.equal(calls, 0);
    assert.equal(grant.countsTokens, false);
    assert.equal(grant.headers['x-ratelimit-limit-tokens'], undefined);
    assert.equal(grant.headers['x-ratelimit-remaining-requests'], '9');

    const withTokens = new RateLimiter(config({ requests: '10/hour', tokens: '1000/hour' }), redis, logger);
    const counted = await withTokens.acquire({ key: freshKey(), route: null, tokens });
    assert.equal(calls, 1, 'computed once when a token limit applies');
    assert.equal(counted.countsTokens, true);
    assert.equal(counted.headers['x-ratelimit-remaining-tokens'], '500');
  });

  it('a request that consumes no tokens (tokens: null) skips the token limits', async () => {
    const limiter = new RateLimiter(config({ requests: '10/hour', tokens: '1000/hour' }), redis, logger);
    const grant = await limiter.acquire({ key: freshKey(), route: null, tokens: null });
    assert.equal(grant.countsTokens, false);
    assert.equal(grant.headers['ratelimit-policy'], '"requests";q=10;w=3600');
  });

  it('without any limit, admits with no headers', async () => {
    const limiter = new RateLimiter(config(null), redis, logger);
    const grant = await limiter.acquire({ key: freshKey(), route: route('small', null), tokens: () => 5 });
    assert.deepEqual(grant.headers, {});
    assert.equal(grant.countsTokens, false);
  });

  it('settle corrects the reservation to the tokens really used, once', async () => {
    const limiter = new RateLimiter(config({ tokens: '1000/hour' }), redis, logger);
    const key = freshKey();
    const remaining = async (): Promise<string | undefined> =>
      (await limiter.acquire({ key, route: null, tokens: () => 0 })).headers['x-ratelimit-remaining-tokens'];

    const grant = await limiter.acquire({ key, route: null, tokens: () => 600 });
    assert.equal(grant.headers['x-ratelimit-remaining-tokens'], '400');
    grant.settle(100);
    grant.settle(900); // only the first settlement counts
    await limiter.flush();
    assert.equal(await remaining(), '900', 'the 500 tokens not used came back');

    const over = await limiter.acquire({ key, route: null, tokens: () => 200 });
    assert.equal(over.headers['x-ratelimit-remaining-tokens'], '700');
    over.settle(450); // the answer was longer than reserved
    await limiter.flush();
    assert.equal(await remaining(), '450');

    const unknown = await limiter.acquire({ key, route: null, tokens: () => 50 });
    unknown.settle(null); // no usage reported: the reservation stands
    await limiter.flush();
    assert.equal(await remaining(), '400');
  });
});

describe('RateLimiter when Redis fails', needsRedis, () => {
  it('with the server stopped: open admits through the per-instance limiter, closed answers 503, both fast', async () => {
    const server = await startRedisServer();
    const { logger, lines } = capturingLogger();
    const redis = await gatewayClient(server.url, logger);
    try {
      const open = new RateLimiter(config({ requests: '2/hour' }), redis, logger);
      const closed = new RateLimiter(config({ requests: '2/hour' }, 'closed'), redis, logger);
      const key = freshKey();
      await open.acquire({ key, route: null, tokens: null }); // counted in Redis
      assert.equal(open.storeErrors, 0);
      await server.stop();

      const timed = async (call: () => Promise<Grant>): Promise<{ ms: number; error: unknown }> => {
        const start = performance.now();
        try {
          await call();
          return { ms: performance.now() - start, error: null };
        } catch (error) {
          return { ms: performance.now() - start, error };
        }
      };
      // The per-instance limiter starts from nothing: 2 more, then 429 from it.
      for (let index = 1; index <= 2; index++) {
        const { ms, error } = await timed(() => open.acquire({ key, route: null, tokens: null }));
        assert.equal(error, null, `request ${index} admitted while Redis is down`);
        assert.ok(ms < 500, `took ${ms} ms`);
      }
      const third = await timed(() => open.acquire({ key, route: null, tokens: null }));
      assert.ok(third.error instanceof RateLimitExceededError, String(third.error));
      assert.ok(third.ms < 500, `took ${third.ms} ms`);
      assert.equal(open.storeErrors, 3);
      const warnings = lines.filter(
        (line) => line.msg === 'rate limit store unavailable: limiting per instance',
      );
      assert.equal(warnings.length, 1, 'one warning, not one per request');

      const refused = await timed(() => closed.acquire({ key, route: null, tokens: null }));
      assert.ok(refused.error instanceof ServiceUnavailableError, String(refused.error));
      assert.equal(refused.error.code, 'service_unavailable');
      assert.equal(refused.error.status, 503);
      assert.equal(refused.error.headers['retry-after'], '1');
      assert.ok(refused.ms < 500, `took ${refused.ms} ms`);
      assert.equal(closed.storeErrors, 1);
      assert.ok(
        lines.some((line) => line.msg === 'rate limit store unavailable: refusing requests'),
        'closed warns too',
      );
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });

  it('with the server stalled (SIGSTOP): each call gives up after about the store timeout', async () => {
    const server = await startRedisServer();
    const { logger } = capturingLogger();
    const redis = await gatewayClient(server.url, logger);
    const pid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
    assert.ok(pid > 0, 'INFO server names the process id');
    try {
      const open = new RateLimiter(config({ requests: '100/hour' }), redis, logger);
      const closed = new RateLimiter(config({ requests: '100/hour' }, 'closed'), redis, logger);
      const key = freshKey();
      await open.acquire({ key, route: null, tokens: null });
      process.kill(pid, 'SIGSTOP');

      for (let round = 0; round < 3; round++) {
        let start = performance.now();
        const grant = await open.acquire({ key, route: null, tokens: null });
        let ms = performance.now() - start;
        assert.ok(ms < 500, `open: ${ms} ms against a stalled server`);
        assert.ok(ms >= STORE_TIMEOUT_MS - 5, `open: ${ms} ms: decided before the store timed out`);
        assert.match(grant.headers.ratelimit ?? '', /^"requests";r=\d+;t=\d+$/, 'admitted with headers');

        start = performance.now();
        await assert.rejects(closed.acquire({ key, route: null, tokens: null }), (error: unknown) => {
          assert.ok(error instanceof ServiceUnavailableError, String(error));
          assert.equal(error.headers['retry-after'], '1');
          return true;
        });
        ms = performance.now() - start;
        assert.ok(ms < 500, `closed: ${ms} ms against a stalled server`);
      }
      assert.equal(open.storeErrors, 3);
      assert.equal(closed.storeErrors, 3);
    } finally {
      process.kill(pid, 'SIGCONT');
      redis.disconnect();
      await server.stop();
    }
  });
});
