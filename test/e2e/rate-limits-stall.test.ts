/**
 * Issue 17, item 1 (RELIABILITY.md 2): nothing replayed after a Redis stall. Two gateways, one with
 * on_store_error open and one closed, share a private redis-server that is paused with SIGSTOP while
 * requests go on: it keeps the connections and the limiter calls written to them, and runs them when
 * it resumes. What the gateways decided without Redis must not be counted in Redis afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import OpenAI from 'openai';
import { sha256Hex } from '../../src/auth/api-key.js';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway-harness.js';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { requireTool } from '../support/system-tool.js';

/** Every test here pauses a private redis-server: skipped without one, except under CI=true. */
const needsRedis = { skip: requireTool('redis-server', 'redis-server') };

const OPEN_KEY = 'sk-gw-stallopenAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const CLOSED_KEY = 'sk-gw-stallclosedBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';

/** One chat request with the official client; its status and remaining requests (RateLimit header). */
async function chat(running: RunningGateway, apiKey: string): Promise<{ status: number; remaining: number }> {
  try {
    const { response } = await running
      .client({ apiKey })
      .chat.completions.create({ model: 'demo', messages: [{ role: 'user', content: 'Hi' }] })
      .withResponse();
    return {
      status: response.status,
      remaining: Number(response.headers.get('x-ratelimit-remaining-requests')),
    };
  } catch (error) {
    if (error instanceof OpenAI.APIError && error.status !== undefined)
      return { status: error.status, remaining: NaN };
    throw error;
  }
}

/**
 * The first request after Redis resumed that Redis itself decided (the limiter did not fall back).
 * Redis runs a connection's commands in order: by then it has run every call written while paused.
 */
async function decidedByRedis(
  running: RunningGateway,
  apiKey: string,
): Promise<{ status: number; remaining: number }> {
  const limiter = running.gateway.context.rateLimiter;
  const until = Date.now() + 10_000;
  for (;;) {
    const errors = limiter.storeErrors;
    const answer = await chat(running, apiKey);
    if (limiter.storeErrors === errors) return answer;
    assert.ok(Date.now() < until, 'the limiter did not reach Redis again within 10 s');
    await delay(20);
  }
}

describe('rate limits after Redis was paused (SIGSTOP) and resumed', needsRedis, () => {
  let redis: PrivateRedis;
  let open: RunningGateway;
  let closed: RunningGateway;

  const document = (onStoreError: 'open' | 'closed'): Record<string, unknown> => {
    const doc = testConfig({
      backends: [{ name: 'demo', type: 'demo' }],
      models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
      extra: { redis: { url: redis.url }, rate_limit: { on_store_error: onStoreError } },
    });
    (doc['auth'] as { keys: unknown[] }).keys.push(
      // Per day: nothing that shows comes back during the test.
      { id: 'stall-open', sha256: sha256Hex(OPEN_KEY), rate_limit: { requests: '100/day' } },
      { id: 'stall-closed', sha256: sha256Hex(CLOSED_KEY), rate_limit: { requests: '100/day' } },
    );
    return doc;
  };

  before(async () => {
    redis = await startRedisServer();
    open = await startGateway(document('open'));
    closed = await startGateway(document('closed'));
  });
  after(async () => {
    redis.resume();
    await open.stop();
    await closed.stop();
    await redis.stop();
  });

  it('counts in Redis only what Redis admitted: 30 requests admitted by open and 10 refused by closed while it was paused charge nothing', async () => {
    for (const [running, key] of [
      [open, OPEN_KEY],
      [closed, CLOSED_KEY],
    ] as const) {
      assert.deepEqual(await decidedByRedis(running, key), { status: 200, remaining: 99 });
      assert.deepEqual(await chat(running, key), { status: 200, remaining: 98 });
    }

    const openErrors = open.gateway.context.rateLimiter.storeErrors;
    redis.stall();
    try {
      const admitted: number[] = [];
      for (let i = 0; i < 30; i++) admitted.push((await chat(open, OPEN_KEY)).status);
      assert.deepEqual(admitted, Array<number>(30).fill(200), 'open admits through the fallback');
      assert.equal(open.gateway.context.rateLimiter.storeErrors - openErrors, 30);
      const refused: number[] = [];
      for (let i = 0; i < 10; i++) refused.push((await chat(closed, CLOSED_KEY)).status);
      assert.deepEqual(refused, Array<number>(10).fill(503), 'closed refuses');
    } finally {
      redis.resume();
    }

    // Replayed, the 40 calls written to the paused server would leave 67 and 87 here.
    assert.deepEqual(await decidedByRedis(open, OPEN_KEY), { status: 200, remaining: 97 });
    assert.deepEqual(await decidedByRedis(closed, CLOSED_KEY), { status: 200, remaining: 97 });
  });
});
