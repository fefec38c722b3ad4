/**
 * A gateway's first requests and its Redis connections. Nothing is queued while a connection is
 * still connecting (RELIABILITY.md 2), so a request served before the first connection was ready failed
 * its Redis calls at once: with on_store_error closed, a 503 for the first request of a gateway that
 * had just logged `listening` (seen once in CI, reliability-clock-skew.test.ts, 2026-12-04). listen()
 * now waits for each connection's first attempt, and serves anyway, saying so, when Redis is down.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { sha256Hex } from '../../src/auth/api-key.js';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway-harness.js';
import { freePort, startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { StallingProxy } from '../support/stalling-proxy.js';
import { requireTool } from '../support/system-tool.js';

const KEY = 'sk-gw-firstconnAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

function document(redisUrl: string): Record<string, unknown> {
  const doc = testConfig({
    backends: [{ name: 'demo', type: 'demo' }],
    models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
    extra: { redis: { url: redisUrl }, rate_limit: { on_store_error: 'closed', store_timeout_ms: 2000 } },
  });
  (doc['auth'] as { keys: unknown[] }).keys.push({
    id: 'first-connection',
    sha256: sha256Hex(KEY),
    rate_limit: { requests: '100/minute' },
  });
  return doc;
}

async function chat(running: RunningGateway): Promise<Response> {
  return fetch(`${running.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'Hi' }] }),
  });
}

describe(
  "a gateway's first requests and its Redis connections",
  { skip: requireTool('redis-server', 'redis-server') },
  () => {
    let redis: PrivateRedis;
    before(async () => {
      redis = await startRedisServer();
    });
    after(async () => {
      await redis.stop();
    });

    it('waits for Redis to answer before it listens, then decides the first request in Redis', async () => {
      // Redis accepts the connections but answers nothing until resumed: they stay connecting.
      const proxy = new StallingProxy('127.0.0.1', Number(new URL(redis.url).port));
      const port = await proxy.start();
      proxy.stall();
      let running: RunningGateway | null = null;
      try {
        let started = false;
        const starting = startGateway(document(`redis://127.0.0.1:${port}`)).then((gateway) => {
          started = true;
          running = gateway;
          return gateway;
        });
        // Every connection of the gateway (keys, pub/sub, rate limit, budgets and slots, usage) reached
        // the proxy, and none has had an answer.
        const until = Date.now() + 10_000;
        while (proxy.accepted < 5) {
          assert.ok(Date.now() < until, `${proxy.accepted} connections reached Redis within 10 s`);
          await delay(10);
        }
        // Long enough for listen() to have returned, had it not waited.
        await delay(100);
        assert.equal(started, false, 'listen() returned while every Redis connection was still connecting');
        proxy.resume();
        const gateway = await starting;
        const response = await chat(gateway);
        assert.equal(response.status, 200, await response.text());
        assert.equal(response.headers.get('x-ratelimit-remaining-requests'), '99');
        assert.equal(gateway.gateway.context.rateLimiter.storeErrors, 0);
        assert.ok(!gateway.logs.some((line) => String(line['msg']).startsWith('Redis is not ready')));
      } finally {
        await (running as RunningGateway | null)?.stop();
        await proxy.stop();
      }
    });

    it('listens when Redis refuses connections, says so, and lets on_store_error decide (closed: 503)', async () => {
      const nobody = await freePort();
      const running = await startGateway(document(`redis://127.0.0.1:${nobody}`));
      try {
        const warning = running.logs.find((line) => String(line['msg']).startsWith('Redis is not ready'));
        assert.ok(warning !== undefined, 'a warning that Redis is not ready');
        assert.equal(warning['on_store_error'], 'closed');
        assert.ok(Array.isArray(warning['connections']) && warning['connections'].length === 4);
        const response = await chat(running);
        assert.equal(response.status, 503, await response.text());
        assert.equal(response.headers.get('retry-after'), '1');
      } finally {
        await running.stop();
      }
    });
  },
);
