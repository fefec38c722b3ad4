/**
 * Issue 17, item 1: nothing replayed after a Redis stall. A redis-server paused with SIGSTOP keeps its
 * connections and the commands written to them, and runs them when it resumes: a limiter call the
 * gateway gave up on (and decided without Redis) must then change nothing.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { startRedisServer, type PrivateRedis } from '../../test/support/redis-server.js';
import { requireTool } from '../../test/support/system-tool.js';
import type { KeyRecord } from '../auth/key-record.js';
import type { GatewayConfig } from '../config/config.js';
import { ServiceUnavailableError } from '../errors/errors.js';
import { createRedisClient } from '../state/redis/redis-client.js';
import { RateLimiter, type Grant } from './rate-limiter.js';

const STORE_TIMEOUT_MS = 50;
const POLICY = { requests: '100/day', tokens: '1000/day' };

/** Every test here pauses a private redis-server: skipped without one, except under CI=true. */
const needsRedis = { skip: requireTool('redis-server', 'redis-server') };

function capturingLogger(): { logger: Logger; lines: { msg: string }[] } {
  const lines: { msg: string }[] = [];
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

function config(onStoreError: 'open' | 'closed'): GatewayConfig['rateLimit'] {
  return { default: POLICY, onStoreError, storeTimeoutMs: STORE_TIMEOUT_MS, defaultCompletionTokens: 256 };
}

let keyCount = 0;
function freshKey(): KeyRecord {
  keyCount++;
  return {
    id: `stalled-${keyCount}`,
    name: `stalled ${keyCount}`,
    sha256: '0'.repeat(64),
    createdAt: null,
    expiresAt: null,
    revokedAt: null,
    models: null,
    rateLimit: null,
    metadata: {},
    team: null,
    priority: 100,
    maxConcurrency: null,
    budgets: [],
    source: 'config',
  };
}

function remaining(grant: Grant, kind: 'requests' | 'tokens'): number {
  return Number(grant.headers[`x-ratelimit-remaining-${kind}`]);
}

/**
 * Once Redis has resumed: acquires (reserving `tokens`) until a call is decided by Redis rather than the
 * fallback. Redis runs a connection's commands in order, so by then it has run every call written while
 * it was paused. Calls that fall back meanwhile are not charged in Redis.
 */
async function throughRedis(limiter: RateLimiter, key: KeyRecord, tokens = 0): Promise<Grant> {
  const until = Date.now() + 10_000;
  for (;;) {
    const errors = limiter.storeErrors;
    try {
      const grant = await limiter.acquire({ key, route: null, tokens: () => tokens });
      if (limiter.storeErrors === errors) return grant;
    } catch (error) {
      if (!(error instanceof ServiceUnavailableError)) throw error;
    }
    assert.ok(Date.now() < until, 'the limiter did not reach Redis again within 10 s');
    await delay(20);
  }
}

describe('RateLimiter after a Redis stall (SIGSTOP, then SIGCONT)', needsRedis, () => {
  let server: PrivateRedis;
  let redis: Redis;
  const { logger, lines } = capturingLogger();

  before(async () => {
    server = await startRedisServer();
    // As the gateway makes it: no offline queue, and a command timeout as a backstop.
    redis = createRedisClient({ url: server.url, logger, commandTimeoutMs: STORE_TIMEOUT_MS + 1000 });
    if (redis.status !== 'ready') await once(redis, 'ready');
  });
  after(async () => {
    server.resume();
    redis.disconnect();
    await server.stop();
  });

  it('open: requests the fallback admitted while Redis was paused charge neither requests nor token reservations in Redis once it resumes', async () => {
    const limiter = new RateLimiter(config('open'), redis, logger);
    const key = freshKey();
    const first = await limiter.acquire({ key, route: null, tokens: () => 300 });
    assert.equal(limiter.storeErrors, 0);
    assert.equal(remaining(first, 'requests'), 99);
    assert.equal(remaining(first, 'tokens'), 700);
    first.settle(300);

    server.stall();
    try {
      for (let i = 0; i < 3; i++) {
        const grant = await limiter.acquire({ key, route: null, tokens: () => 200 });
        // Settled in process, where it was admitted.
        grant.settle(50);
      }
      assert.equal(limiter.storeErrors, 3, 'each call gave up on the paused Redis and fell back');
    } finally {
      server.resume();
    }

    const probe = await throughRedis(limiter, key);
    // Only what Redis itself admitted: the first request and this one; the first one's 300 tokens.
    // (Replayed, the three stalled calls made these 96 and 100: 600 tokens reserved and never refunded.)
    assert.equal(remaining(probe, 'requests'), 98);
    assert.equal(remaining(probe, 'tokens'), 700);
  });

  it('closed: requests refused with 503 while Redis was paused are not charged once it resumes', async () => {
    const limiter = new RateLimiter(config('closed'), redis, logger);
    const key = freshKey();
    const first = await limiter.acquire({ key, route: null, tokens: () => 100 });
    assert.equal(remaining(first, 'requests'), 99);

    server.stall();
    try {
      for (let i = 0; i < 3; i++) {
        await assert.rejects(
          limiter.acquire({ key, route: null, tokens: () => 100 }),
          ServiceUnavailableError,
        );
      }
    } finally {
      server.resume();
    }

    const probe = await throughRedis(limiter, key);
    assert.equal(remaining(probe, 'requests'), 98, 'a refused request was charged after all');
    assert.equal(remaining(probe, 'tokens'), 900);
  });

  it('a settlement that could not reach the paused Redis is sent again after it resumes, and applied once', async () => {
    const limiter = new RateLimiter(config('open'), redis, logger);
    const key = freshKey();
    const grant = await limiter.acquire({ key, route: null, tokens: () => 300 });
    assert.equal(remaining(grant, 'tokens'), 700);

    const failedBefore = lines.filter((line) => line.msg === 'rate limit settlement failed').length;
    server.stall();
    try {
      // Used 100 of the 300 reserved: 200 to give back, in a batch sent within 50 ms.
      grant.settle(100);
      const until = Date.now() + 5000;
      while (lines.filter((line) => line.msg === 'rate limit settlement failed').length === failedBefore) {
        assert.ok(Date.now() < until, 'the settlement did not fail while Redis was paused');
        await delay(10);
      }
    } finally {
      server.resume();
    }

    // The refund arrives with a later batch; the call given up on did nothing when Redis ran it.
    const until = Date.now() + 10_000;
    let probe = await throughRedis(limiter, key);
    while (remaining(probe, 'tokens') !== 900 && Date.now() < until) {
      await delay(20);
      probe = await throughRedis(limiter, key);
    }
    assert.equal(remaining(probe, 'tokens'), 900, 'the refund of 200 tokens never arrived');
    await limiter.flush();
    // Twice applied, it would show 1000.
    assert.equal(remaining(await throughRedis(limiter, key), 'tokens'), 900);
  });
});
