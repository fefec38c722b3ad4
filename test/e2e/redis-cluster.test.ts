/**
 * Redis Cluster and Sentinel (issue 10; RELIABILITY.md 1-4) against real servers on loopback: a
 * three-master cluster with one replica each (test/support/redis-cluster.ts) shared by two gateways,
 * then a master killed mid-traffic and its replica promoted; and a master, replica and sentinel behind
 * one gateway, failed over with SENTINEL FAILOVER. Keys, limits, cache and usage are shared through
 * the cluster; every multi-key script runs on one slot (a CROSSSLOT error would fail these tests).
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { pooledSender, type Answer } from '../support/pooled-request.js';
import { sha256Hex } from '../../src/auth/api-key.js';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway-harness.js';
import { requireTool } from '../support/system-tool.js';
import {
  redisCommand,
  startRedisCluster,
  startRedisSentinel,
  waitUntil,
  type PrivateRedisCluster,
  type PrivateSentinel,
  type RedisNode,
} from '../support/redis-cluster.js';

const ADMIN_TOKEN = 'admin-token-for-redis-cluster-tests';
const ADMIN_ENV = { GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN };
const MESSAGES = [{ role: 'user', content: 'Hi' }];
/** Requests per key in the exactness rounds; each round sends three times as many. */
const LIMIT = 20;

/** Every test here needs redis-server and redis-cli: skipped without them, except under CI=true. */
const withoutRedis = requireTool('redis-server', 'redis-server') || requireTool('redis-cli', 'redis-tools');

const sender = pooledSender(10_000);
after(async () => {
  await sender.close();
});
const send = sender.send;

function chat(base: string, key: string, model = 'demo', content = 'Hi'): Promise<Answer> {
  return send(base, 'POST', '/v1/chat/completions', {
    token: key,
    body: { model, messages: content === 'Hi' ? MESSAGES : [{ role: 'user', content }] },
  });
}

/** The secret of a static key of these tests. */
function secretOf(id: string): string {
  return `sk-gw-${id}-${'S'.repeat(40)}`;
}

function staticKey(id: string, requests: string): Record<string, unknown> {
  return { id, sha256: sha256Hex(secretOf(id)), rate_limit: { requests } };
}

function gatewayDocument(redis: Record<string, unknown>, keys: Record<string, unknown>[]) {
  return testConfig({
    backends: [{ name: 'demo', type: 'demo' }],
    models: [
      // Limits are counted without the cache in the way; `cached` answers are shared.
      { name: 'demo', targets: [{ backend: 'demo' }], cache: { enabled: false } },
      { name: 'cached', targets: [{ backend: 'demo', model: 'demo' }] },
      {
        name: 'metered',
        targets: [{ backend: 'demo', model: 'demo' }],
        cache: { enabled: false },
        // 0.864 s per token: a reservation of ~1,000 tokens keeps its key for ~15 minutes, the few tokens
        // really used for well under 5.
        rate_limit: { tokens: '100000/day' },
      },
    ],
    extra: {
      redis,
      auth: { keys },
      cache: { enabled: true },
      // A generous store timeout: the exactness rounds must not fall back to per-instance limits on a
      // busy machine (two test files run at once).
      rate_limit: { on_store_error: 'open', store_timeout_ms: 1000 },
      routing: { max_attempts: 1, circuit_breaker: { enabled: false } },
    },
  });
}

async function waitReady(running: RunningGateway, timeoutMs = 15_000): Promise<void> {
  let last: Answer | null = null;
  try {
    await waitUntil(
      async () => {
        last = await send(running.url, 'GET', '/health/ready');
        return last.status === 200;
      },
      timeoutMs,
      'the gateway did not become ready',
    );
  } catch (error) {
    if (error instanceof Error) error.message += `: ${(last as Answer | null)?.text ?? 'no answer'}`;
    throw error;
  }
}

async function createKey(
  base: string,
  name: string,
  rateLimit?: Record<string, unknown>,
): Promise<{ id: string; key: string }> {
  const answer = await send(base, 'POST', '/admin/keys', {
    token: ADMIN_TOKEN,
    body: { name, ...(rateLimit === undefined ? {} : { rate_limit: rateLimit }) },
  });
  assert.equal(answer.status, 201, answer.text);
  return answer.json as { id: string; key: string };
}

/** `count` concurrent chat requests with `key`, alternating between the gateways; the statuses. */
async function burst(gateways: readonly RunningGateway[], key: string, count: number): Promise<number[]> {
  const answers = await Promise.all(
    Array.from({ length: count }, (_, index) => chat(gateways[index % gateways.length]?.url ?? '', key)),
  );
  return answers.map((answer) => answer.status);
}

function tally(statuses: readonly number[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const status of statuses) out[status] = (out[status] ?? 0) + 1;
  return out;
}

/**
 * Runs `body`; when it fails, the gateways' warnings and errors are added to the message (a fallback to
 * per-instance limits, a store that did not answer: the reason a count was off).
 */
async function explained(gateways: readonly RunningGateway[], body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    const lines = gateways.flatMap((running) =>
      running.logs.filter((line) => Number(line['level']) >= 40).map((line) => JSON.stringify(line)),
    );
    if (error instanceof Error) error.message += `\ngateway warnings:\n${lines.slice(-30).join('\n')}`;
    throw error;
  }
}

/** The keys matching `pattern` on one node (SCAN to the end). */
async function scanNode(node: RedisNode, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = (await redisCommand(
      node.port,
      'SCAN',
      cursor,
      'MATCH',
      pattern,
      'COUNT',
      1000,
    )) as [string, string[]];
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  return keys;
}

describe('two gateways on a three-master Redis Cluster', { skip: withoutRedis }, () => {
  let cluster: PrivateRedisCluster;
  let a: RunningGateway;
  let b: RunningGateway;
  /** One static key whose limiter keys live on each master. */
  const spread: string[] = [];
  /** Static keys on the master that gets killed: one used during the failover, one fresh after it. */
  let during = '';
  let fresh = '';
  let victim: RedisNode;

  before(async () => {
    cluster = await startRedisCluster();
    try {
      const masters = await cluster.masters();
      assert.equal(masters.length, 3);
      const ownerOf = async (id: string): Promise<number> =>
        (await cluster.masterOf(await cluster.slotOf(`gw-rl:{${id}}:key:requests`))).port;
      // Key ids chosen so that the tests touch every master.
      const seen = new Set<number>();
      for (let index = 0; spread.length < 3; index++) {
        const id = `spread-${index}`;
        const owner = await ownerOf(id);
        if (seen.has(owner)) continue;
        seen.add(owner);
        spread.push(id);
      }
      during = 'failover-during';
      victim = await cluster.masterOf(await cluster.slotOf(`{${during}}`));
      for (let index = 0; fresh === ''; index++) {
        const id = `failover-after-${index}`;
        if ((await ownerOf(id)) === victim.port) fresh = id;
      }
      const document = gatewayDocument({ cluster: cluster.seeds }, [
        ...spread.map((id) => staticKey(id, `${LIMIT}/minute`)),
        staticKey(during, '100000/minute'),
        staticKey(fresh, `${LIMIT}/minute`),
        staticKey('cache-user', '100000/minute'),
      ]);
      [a, b] = await Promise.all([startGateway(document, ADMIN_ENV), startGateway(document, ADMIN_ENV)]);
      await Promise.all([waitReady(a), waitReady(b)]);
    } catch (error) {
      await Promise.allSettled([a?.stop(), b?.stop()]);
      await cluster.stop();
      throw error;
    }
  });

  after(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await cluster?.stop();
  });

  it('is ready, and says so for the cluster', async () => {
    const ready = await send(a.url, 'GET', '/health/ready');
    assert.equal(ready.status, 200, ready.text);
    const checks = (ready.json as { checks: Record<string, { status: string }> }).checks;
    assert.equal(checks['redis']?.status, 'ok');
    assert.equal(checks['state_store']?.status, 'ok');
  });

  it('a key created through one instance authenticates on the other; revoked, it is refused there at once', async () => {
    await waitUntil(
      () => Promise.resolve(a.gateway.keyStore.changesDelivered && b.gateway.keyStore.changesDelivered),
      5000,
      'the key change subscriptions did not start',
    );
    const created = await createKey(a.url, 'made-on-a');
    assert.equal((await chat(b.url, created.key)).status, 200);
    const listed = await send(b.url, 'GET', '/admin/keys', { token: ADMIN_TOKEN });
    assert.ok((listed.json as { data: { id: string }[] }).data.some((key) => key.id === created.id));
    const revoked = await send(a.url, 'DELETE', `/admin/keys/${created.id}`, { token: ADMIN_TOKEN });
    assert.equal(revoked.status, 200, revoked.text);
    // B cached the key; the invalidation published through the cluster reaches it.
    await waitUntil(
      async () => (await chat(b.url, created.key)).status === 401,
      1000,
      'B still admits a revoked key',
    );
  });

  it(`a limit of ${LIMIT}/minute admits exactly ${LIMIT} of ${3 * LIMIT} concurrent requests across both, on every master`, async () => {
    await explained([a, b], async () => {
      const rounds = await Promise.all(spread.map((id) => burst([a, b], secretOf(id), 3 * LIMIT)));
      rounds.forEach((statuses, index) => {
        assert.deepEqual(tally(statuses), { 200: LIMIT, 429: 2 * LIMIT }, `key ${spread[index]}`);
      });
      // The limiter state of each key is on the master of its slot, and nowhere else.
      for (const id of spread) {
        const owner = await cluster.masterOf(await cluster.slotOf(`{${id}}`));
        assert.deepEqual(await scanNode(owner, `gw-rl:{${id}}:*`), [
          `gw-rl:{${id}}:key:requests:${LIMIT}/minute`,
        ]);
      }
    });
  });

  it('settles token reservations of many keys at once (one script per slot)', async () => {
    const keys = await Promise.all(
      Array.from({ length: 6 }, (_, index) => createKey(a.url, `metered-${index}`)),
    );
    const answers = await Promise.all(keys.map((key) => chat(a.url, key.key, 'metered')));
    assert.deepEqual(
      answers.map((answer) => answer.status),
      keys.map(() => 200),
    );
    // Settlements leave in one batch every 50 ms.
    await delay(300);
    for (const running of [a, b]) {
      assert.equal(
        running.logs.filter((line) => line['msg'] === 'rate limit settlement failed').length,
        0,
        JSON.stringify(running.logs.filter((line) => line['msg'] === 'rate limit settlement failed')),
      );
    }
    // Every key was settled to the tokens really used: its state expires minutes earlier than the
    // reservation's would. (Six key ids, several slots: one call per hash tag, or CROSSSLOT.)
    const ttls = await Promise.all(
      keys.map(async (key) => {
        const owner = await cluster.masterOf(await cluster.slotOf(`{${key.id}}`));
        const [stateKey] = await scanNode(owner, `gw-rl:{${key.id}}:model:metered:tokens:*`);
        assert.ok(stateKey !== undefined, `no token state for ${key.id}`);
        return Number(await redisCommand(owner.port, 'PTTL', stateKey));
      }),
    );
    assert.ok(
      ttls.every((ttl) => ttl > 0 && ttl < 300_000),
      `TTLs ${ttls.join(', ')}`,
    );
    const slots = new Set(await Promise.all(keys.map((key) => cluster.slotOf(`{${key.id}}`))));
    assert.ok(slots.size > 1);
  });

  it('an answer cached through one instance is a HIT through the other', async () => {
    // Separate keys have separate cache scopes: the same key on both instances.
    const key = secretOf('cache-user');
    const first = await chat(a.url, key, 'cached', 'cache me across instances');
    assert.equal(first.status, 200, first.text);
    assert.equal(first.headers['x-cache'], 'MISS');
    let hit: Answer | null = null;
    await waitUntil(
      async () => {
        hit = await chat(b.url, key, 'cached', 'cache me across instances');
        return hit.headers['x-cache'] === 'HIT';
      },
      2000,
      'no HIT on the other instance',
    );
    assert.deepEqual(
      ((hit as Answer | null)?.json as { choices: unknown }).choices,
      (first.json as { choices: unknown }).choices,
    );
  });

  it('usage from both instances is summed', async () => {
    const key = await createKey(a.url, 'usage-counted');
    const statuses = await Promise.all([
      ...Array.from({ length: 3 }, () => chat(a.url, key.key)),
      ...Array.from({ length: 4 }, () => chat(b.url, key.key)),
    ]);
    assert.ok(statuses.every((answer) => answer.status === 200));
    let rows: { requests: number }[] = [];
    await waitUntil(
      async () => {
        const answer = await send(a.url, 'GET', `/admin/usage?key=${key.id}&group_by=key`, {
          token: ADMIN_TOKEN,
        });
        rows = (answer.json as { data: { requests: number }[] }).data;
        return rows[0]?.requests === 7;
      },
      5000,
      'usage did not add up to 7 requests',
    );
    const fromB = await send(b.url, 'GET', `/admin/usage?key=${key.id}&group_by=key`, { token: ADMIN_TOKEN });
    assert.deepEqual((fromB.json as { data: unknown }).data, rows);
  });

  it('DELETE /admin/cache empties every master', async () => {
    const key = secretOf('cache-user');
    const prompts = Array.from({ length: 24 }, (_, index) => `entry ${index}`);
    for (const prompt of prompts) assert.equal((await chat(a.url, key, 'cached', prompt)).status, 200);
    const masters = await cluster.masters();
    let perMaster: number[] = [];
    await waitUntil(
      async () => {
        perMaster = await Promise.all(
          masters.map(async (node) => (await scanNode(node, 'gw-cache:*')).length),
        );
        return perMaster.reduce((sum, count) => sum + count, 0) >= prompts.length;
      },
      2000,
      'the entries were not stored',
    );
    // Cache keys carry no hash tag: entries spread over the masters.
    assert.ok(
      perMaster.filter((count) => count > 0).length >= 2,
      `entries per master: ${perMaster.join(', ')}`,
    );
    const stored = perMaster.reduce((sum, count) => sum + count, 0);
    const purged = await send(a.url, 'DELETE', '/admin/cache', { token: ADMIN_TOKEN });
    assert.equal(purged.status, 200, purged.text);
    assert.deepEqual(purged.json, { deleted: stored });
    for (const node of masters)
      assert.deepEqual(await scanNode(node, 'gw-cache:*'), [], `master ${node.port}`);
    assert.equal((await chat(b.url, key, 'cached', 'entry 0')).headers['x-cache'], 'MISS');
  });

  it('a master killed mid-traffic: every request is answered, its replica takes over, and limits hold again', async () => {
    await explained([a, b], async () => {
      const slot = await cluster.slotOf(`{${during}}`);
      assert.equal((await chat(a.url, secretOf(during))).status, 200);
      const killedAt = performance.now();
      await victim.kill();
      const answers: Answer[] = [];
      let failedOver = false;
      let failoverMs = 0;
      const watcher = cluster.waitHealthy(20_000, slot).then(() => {
        failedOver = true;
        failoverMs = performance.now() - killedAt;
      });
      // Two requests every 50 ms, one per gateway, until the replica serves the slot and a second more.
      const traffic = (async () => {
        let doneAt: number | null = null;
        const pending: Promise<Answer>[] = [];
        while (doneAt === null || performance.now() - doneAt < 1000) {
          if (failedOver && doneAt === null) doneAt = performance.now();
          if (performance.now() - killedAt > 25_000) break;
          pending.push(chat(a.url, secretOf(during)), chat(b.url, secretOf(during)));
          await delay(50);
        }
        answers.push(...(await Promise.all(pending)));
      })();
      await watcher;
      await traffic;
      assert.ok(failedOver, 'no failover');
      const promoted = await cluster.masterOf(slot);
      assert.notEqual(promoted.port, victim.port);
      // Every request got an answer, none hung: admitted by the per-instance limit while the slot had no
      // master (on_store_error: open), by the cluster before and after.
      assert.deepEqual(tally(answers.map((answer) => answer.status)), { 200: answers.length });
      const slowest = Math.max(...answers.map((answer) => answer.ms));
      assert.ok(
        slowest < 3000,
        `slowest answer ${Math.round(slowest)} ms (failover took ${Math.round(failoverMs)} ms)`,
      );
      // The slot really was without a master for a while: limits fell back to each instance.
      assert.ok(
        [a, b].some((running) =>
          running.logs.some((line) => line['msg'] === 'rate limit store unavailable: limiting per instance'),
        ),
        'no fallback to per-instance limits during the failover',
      );

      await Promise.all([waitReady(a), waitReady(b)]);
      // After the failover, a fresh limit on the promoted master is exact again.
      assert.deepEqual(tally(await burst([a, b], secretOf(fresh), 3 * LIMIT)), {
        200: LIMIT,
        429: 2 * LIMIT,
      });
      assert.deepEqual(await scanNode(promoted, `gw-rl:{${fresh}}:*`), [
        `gw-rl:{${fresh}}:key:requests:${LIMIT}/minute`,
      ]);

      // Key changes still reach the other instance (its subscriber may have been on the killed node).
      await waitUntil(
        () => Promise.resolve(a.gateway.keyStore.changesDelivered && b.gateway.keyStore.changesDelivered),
        5000,
        'the key change subscriptions did not resume',
      );
      const created = await createKey(a.url, 'after-failover');
      assert.equal((await chat(b.url, created.key)).status, 200);
      assert.equal(
        (await send(a.url, 'DELETE', `/admin/keys/${created.id}`, { token: ADMIN_TOKEN })).status,
        200,
      );
      await waitUntil(
        async () => (await chat(b.url, created.key)).status === 401,
        1000,
        'B still admits a revoked key after the failover',
      );
    });
  });
});

describe('a gateway through Redis Sentinel', { skip: withoutRedis }, () => {
  let sentinel: PrivateSentinel;
  let gateway: RunningGateway;

  before(async () => {
    sentinel = await startRedisSentinel();
    try {
      gateway = await startGateway(
        gatewayDocument({ sentinel: { sentinels: [sentinel.sentinel], name: sentinel.name } }, [
          staticKey('sentinel-before', `${LIMIT}/minute`),
          staticKey('sentinel-after', `${LIMIT}/minute`),
          staticKey('sentinel-traffic', '100000/minute'),
        ]),
        ADMIN_ENV,
      );
      await waitReady(gateway);
    } catch (error) {
      await gateway?.stop();
      await sentinel.stop();
      throw error;
    }
  });

  after(async () => {
    await gateway?.stop();
    await sentinel?.stop();
  });

  it('connects to the master the sentinel names, serves, and keeps serving after SENTINEL FAILOVER', async () => {
    await explained([gateway], async () => {
      const first = await sentinel.masterPort();
      const created = await createKey(gateway.url, 'through-sentinel');
      assert.equal((await chat(gateway.url, created.key)).status, 200, 'a key made before the failover');
      assert.deepEqual(tally(await burst([gateway], secretOf('sentinel-before'), 2 * LIMIT)), {
        200: LIMIT,
        429: LIMIT,
      });
      // The state is on the master the sentinel named.
      assert.equal(
        await redisCommand(first, 'EXISTS', `gw-rl:{sentinel-before}:key:requests:${LIMIT}/minute`),
        1,
      );

      const answers: Answer[] = [];
      let done = false;
      const traffic = (async () => {
        const pending: Promise<Answer>[] = [];
        while (!done) {
          pending.push(chat(gateway.url, secretOf('sentinel-traffic')));
          await delay(50);
        }
        answers.push(...(await Promise.all(pending)));
      })();
      let moved: { from: number; to: number };
      try {
        moved = await sentinel.failover(20_000);
      } finally {
        await delay(500);
        done = true;
        await traffic;
      }
      assert.equal(moved.from, first);
      assert.deepEqual(tally(answers.map((answer) => answer.status)), { 200: answers.length });
      assert.ok(Math.max(...answers.map((answer) => answer.ms)) < 3000);

      // Writes reach the new master: a key created now is stored there and works. (Until the sentinel
      // demotes the old master, up to 10 s later, that one still takes writes, which the demotion then
      // discards: the gateway must have moved to the new master by then, on the sentinel's
      // +switch-master.)
      await waitReady(gateway);
      let after: { id: string; key: string } | null = null;
      await waitUntil(
        async () => {
          const answer = await send(gateway.url, 'POST', '/admin/keys', {
            token: ADMIN_TOKEN,
            body: { name: 'after-sentinel-failover' },
          });
          if (answer.status !== 201) return false;
          after = answer.json as { id: string; key: string };
          return (await redisCommand(moved.to, 'EXISTS', `{gw-keys}:id:${after.id}`)) === 1;
        },
        5000,
        'no key was created on the new master after the failover',
      );
      assert.equal(
        (await chat(gateway.url, (after as { key: string } | null)?.key ?? '')).status,
        200,
        'a key made after the failover',
      );
      assert.deepEqual(tally(await burst([gateway], secretOf('sentinel-after'), 2 * LIMIT)), {
        200: LIMIT,
        429: LIMIT,
      });
      assert.equal(
        await redisCommand(moved.to, 'EXISTS', `gw-rl:{sentinel-after}:key:requests:${LIMIT}/minute`),
        1,
      );
      // The key made before the failover was replicated and still authenticates.
      assert.equal((await chat(gateway.url, created.key)).status, 200, 'the key made before, after');
    });
  });
});
