/**
 * The Redis stores on a real three-master Redis Cluster (test/support/redis-cluster.ts): every
 * multi-key script keeps to one slot, SCAN-based purges reach every master, scripts survive a server
 * that forgot them, and the cluster subscriber moves to another node when its own goes away.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { once } from 'node:events';
import { Cluster } from 'ioredis';
import pino from 'pino';
import {
  redisCommand,
  startRedisCluster,
  waitUntil,
  type PrivateRedisCluster,
} from '../../../test/support/redis-cluster.js';
import { requireTool } from '../../../test/support/system-tool.js';
import { RedisCacheStore, storageKey } from '../../cache/cache-store.js';
import { parseRate } from '../../config/rate-string.js';
import type { AppliedLimit } from '../../rate-limit/policy.js';
import { RedisLimiter } from '../../rate-limit/redis-limiter.js';
import { RedisUsageStore } from '../../usage/redis-usage-store.js';
import { ClusterChangeSubscriber } from './cluster-subscriber.js';
import { hashTag } from './hash-tag.js';
import { LuaScript } from './lua-script.js';
import { checkRedis, createStateClient, createSubscriber, type RedisClient } from './redis-client.js';
import { RedisKeyStore } from './redis-key-store.js';
import { RedisTeamStore } from './redis-team-store.js';

const logger = pino({ level: 'silent' });

/** Every test here needs redis-server and redis-cli: skipped without them, except under CI=true. */
const withoutRedis = requireTool('redis-server', 'redis-server') || requireTool('redis-cli', 'redis-tools');

function limit(rate: string): AppliedLimit {
  const parsed = parseRate(rate);
  assert.ok(parsed !== null);
  return {
    name: 'requests',
    kind: 'requests',
    rate: parsed,
    scope: `key:requests:${rate}`,
    subject: 'key t',
  };
}

let cluster: PrivateRedisCluster;
let client: RedisClient;
const clients: { disconnect(): void }[] = [];

function stateClient(autoPipelining = false): RedisClient {
  const made = createStateClient(
    {
      cluster: cluster.seeds.map((url) => ({ host: '127.0.0.1', port: Number(new URL(url).port) })),
      tls: false,
    },
    { logger, commandTimeoutMs: 2000, autoPipelining },
  );
  clients.push(made);
  return made;
}

async function ready(redis: RedisClient): Promise<void> {
  if (redis.status !== 'ready') await once(redis, 'ready');
}

before(async () => {
  if (withoutRedis !== false) return;
  cluster = await startRedisCluster();
  client = stateClient(true);
  await ready(client);
});

after(async () => {
  if (withoutRedis !== false) return;
  for (const made of clients) made.disconnect();
  await cluster.stop();
});

describe('Redis stores on a Redis Cluster', { skip: withoutRedis }, () => {
  it('hashTag follows Redis: the first {…} with something inside, else the whole key', async () => {
    for (const key of [
      'gw-rl:{team-a}:key:requests',
      'plain',
      '{}x{y}',
      'a{b}c{d}',
      'a{{b}}',
      'x{}',
      '{gw-keys}:ids',
    ]) {
      // Keys with the same tag are on the slot of the tag alone.
      assert.equal(await cluster.slotOf(key), await cluster.slotOf(hashTag(key)), key);
    }
    assert.equal(hashTag('gw-usage:{u}:2030-01-01T00'), 'u');
    assert.equal(hashTag('{}x{y}'), '{}x{y}');
  });

  it('the rate limiter: one slot per acquire, adjustments of many API keys in one batch', async () => {
    assert.equal(client instanceof Cluster, true);
    const limiter = new RedisLimiter(client);
    const keyIds = Array.from({ length: 40 }, (_, index) => `batch-${index}`);
    const slots = new Set(await Promise.all(keyIds.map((id) => cluster.slotOf(`{${id}}`))));
    assert.ok(slots.size > 10, 'the key ids spread over many slots');
    const perMinute = limit('10/minute');
    const perHour = limit('100/hour');
    // Concurrent acquires (auto-pipelined per node), each with two keys of its own tag.
    const results = await Promise.all(
      keyIds.map((id) =>
        limiter.acquire([
          { limit: perMinute, key: `gw-rl:{${id}}:key:requests:10/minute`, cost: 1 },
          { limit: perHour, key: `gw-rl:{${id}}:key:requests:100/hour`, cost: 1 },
        ]),
      ),
    );
    assert.ok(results.every((result) => result.allowed));
    assert.deepEqual(
      results.map((result) => result.statuses.map((status) => status.remaining)),
      keyIds.map(() => [9, 99]),
    );
    // One batch over 40 API keys: one script call per hash tag (one call would be CROSSSLOT).
    await limiter.adjust(
      keyIds.map((id) => ({ limit: perMinute, key: `gw-rl:{${id}}:key:requests:10/minute`, delta: 4 })),
    );
    const after = await Promise.all(
      keyIds.map((id) =>
        limiter.acquire([{ limit: perMinute, key: `gw-rl:{${id}}:key:requests:10/minute`, cost: 1 }]),
      ),
    );
    assert.deepEqual(
      after.map((result) => result.statuses[0]?.remaining),
      keyIds.map(() => 4),
    );
    await assert.rejects(
      client.eval("return redis.call('GET', KEYS[1])", 2, 'gw-rl:{a}:x', 'gw-rl:{b}:x'),
      /CROSSSLOT|same slot/,
    );
  });

  it('a script a server forgot (restart, failover) is sent again', async () => {
    const script = new LuaScript(`return redis.call('INCRBY', KEYS[1], ARGV[1])`);
    assert.equal(await script.run(client, ['lua-test:{s}'], [2]), 2);
    for (const master of await cluster.masters()) await redisCommand(master.port, 'SCRIPT', 'FLUSH');
    assert.equal(await script.run(client, ['lua-test:{s}'], [3]), 5);
  });

  it('the key store: create, list, update, revoke, all on the {gw-keys} slot', async () => {
    const redis = stateClient();
    const subscriber = createSubscriber(
      { cluster: [{ host: '127.0.0.1', port: cluster.nodes[0]?.port ?? 0 }], tls: false },
      redis,
      {
        logger,
        commandTimeoutMs: 2000,
      },
    );
    clients.push(subscriber);
    const store = new RedisKeyStore(redis, subscriber, logger, 250);
    const heard: (string | null)[] = [];
    store.subscribe((sha256) => heard.push(sha256));
    await waitUntil(() => Promise.resolve(store.changesDelivered), 5000, 'no subscription');
    const record = {
      id: 'k1',
      name: 'one',
      sha256: 'a'.repeat(64),
      createdAt: '2030-01-01T00:00:00.000Z',
      expiresAt: null,
      revokedAt: null,
      models: null,
      rateLimit: null,
      metadata: {},
      team: null,
      priority: 100,
      maxConcurrency: null,
      budgets: [],
      source: 'store' as const,
    };
    await store.create(record);
    await store.create({
      ...record,
      id: 'k2',
      sha256: 'b'.repeat(64),
      createdAt: '2030-01-02T00:00:00.000Z',
    });
    await assert.rejects(store.create({ ...record, sha256: 'c'.repeat(64) }), /already exists/);
    assert.deepEqual(
      (await store.list()).map((key) => key.id),
      ['k1', 'k2'],
    );
    assert.equal(await store.count(), 2);
    assert.equal((await store.update('k1', { name: 'renamed' }))?.name, 'renamed');
    assert.ok((await store.revoke('k2', '2030-02-01T00:00:00.000Z'))?.revokedAt !== null);
    assert.equal((await store.findByHash('a'.repeat(64)))?.name, 'renamed');
    // Every change was published and heard through the node the subscriber listens on.
    await waitUntil(
      () => Promise.resolve(heard.filter((hash) => hash !== null).length >= 4),
      2000,
      'changes not heard',
    );
    const tags = new Set(
      (
        await Promise.all(
          (await cluster.masters()).map((node) => redisCommand(node.port, 'KEYS', '{gw-keys}*')),
        )
      ).flatMap((keys) => keys as string[]),
    );
    assert.equal(tags.size, 5, [...tags].join(' '));
    await store.close();
  });

  it("the team store: create, update, delete, all on the {gw-teams} slot; changes heard through the key store's subscriber", async () => {
    const redis = stateClient();
    const subscriber = createSubscriber(
      { cluster: [{ host: '127.0.0.1', port: cluster.nodes[0]?.port ?? 0 }], tls: false },
      redis,
      { logger, commandTimeoutMs: 2000 },
    );
    clients.push(subscriber);
    const keys = new RedisKeyStore(redis, subscriber, logger, 250);
    const teams = new RedisTeamStore(redis, subscriber, logger, 250);
    const heardKeys: (string | null)[] = [];
    const heardTeams: (string | null)[] = [];
    keys.subscribe((sha256) => heardKeys.push(sha256));
    teams.subscribe((id) => heardTeams.push(id));
    await waitUntil(() => Promise.resolve(teams.changesDelivered), 5000, 'no subscription');
    const team = {
      id: 'research',
      name: 'Research',
      models: null,
      rateLimit: { requests: '10/minute' },
      budgets: [],
      maxConcurrency: 3,
      metadata: {},
      createdAt: '2030-01-01T00:00:00.000Z',
      source: 'store' as const,
    };
    await teams.create(team);
    await teams.create({ ...team, id: 'ops' });
    assert.equal((await teams.update('research', { maxConcurrency: 5 }))?.maxConcurrency, 5);
    assert.equal(await teams.delete('ops'), true);
    assert.deepEqual(
      (await teams.list()).map((entry) => entry.id),
      ['research'],
    );
    await waitUntil(
      () => Promise.resolve(heardTeams.filter((id) => id !== null).length >= 4),
      2000,
      'team changes not heard',
    );
    // The key store's listeners hear none of the team channel's messages.
    assert.deepEqual(
      heardKeys.filter((hash) => hash !== null),
      [],
    );
    const names = (
      await Promise.all(
        (await cluster.masters()).map((node) => redisCommand(node.port, 'KEYS', '{gw-teams}*')),
      )
    ).flatMap((found) => found as string[]);
    assert.deepEqual(names.sort(), ['{gw-teams}:ids', '{gw-teams}:team:research']);
    await keys.close();
  });

  it('usage: one script per batch over several hours and a batch marker, queried back', async () => {
    const store = new RedisUsageStore(stateClient(), 30);
    const now = Date.now();
    const hourOf = (at: number): string => new Date(at).toISOString().slice(0, 13);
    const cell = (at: number, keyId: string, requests: number) => ({
      hour: hourOf(at),
      keyId,
      model: 'm',
      requests,
      errors: 0,
      cached: 0,
      promptTokens: 10 * requests,
      completionTokens: 0,
      costMicros: null,
    });
    await store.add([cell(now, 'a', 2), cell(now - 3_600_000, 'b', 3)], { source: 'test', sequence: 1 });
    // The same batch again (a retry) counts once.
    await store.add([cell(now, 'a', 2), cell(now - 3_600_000, 'b', 3)], { source: 'test', sequence: 1 });
    const rows = await store.query({
      key: null,
      model: null,
      from: now - 2 * 3_600_000,
      to: now + 3_600_000,
      groupBy: ['key'],
    });
    assert.deepEqual(
      rows.map((row) => [row.key, row.requests, row.prompt_tokens]),
      [
        ['a', 2, 20],
        ['b', 3, 30],
      ],
    );
  });

  it('the cache: entries spread over every master; purge empties each of them, or one scope', async () => {
    const store = new RedisCacheStore(client, 1 << 20);
    const entry = { storedAt: Date.now(), body: { ok: true }, backend: 'b' };
    await store.purge(null);
    await Promise.all(
      Array.from({ length: 60 }, (_, index) =>
        store.set(storageKey(index % 3 === 0 ? 'tenant-a' : 'tenant-b', `hash-${index}`), entry, 60),
      ),
    );
    const masters = await cluster.masters();
    const count = async (): Promise<number[]> =>
      Promise.all(
        masters.map(
          async (node) => ((await redisCommand(node.port, 'KEYS', 'gw-cache:*')) as string[]).length,
        ),
      );
    const before = await count();
    assert.ok(
      before.every((perMaster) => perMaster > 0),
      `entries per master: ${before.join(', ')}`,
    );
    assert.equal(await store.purge('tenant-a'), 20);
    assert.equal(await store.purge(null), 40);
    assert.deepEqual(await count(), [0, 0, 0]);
    assert.equal(await store.get(storageKey('tenant-b', 'hash-1')), null);
  });

  it('readiness: cluster_state ok and every master answering', async () => {
    assert.deepEqual(await checkRedis(client, 500), { status: 'ok' });
  });

  it('the cluster subscriber moves to another node when its own goes away, and says so', async () => {
    const replicas = (await cluster.clusterNodes())
      .filter((line) => line.flags.includes('slave'))
      .map((line) => ({ host: '127.0.0.1', port: line.port }));
    assert.equal(replicas.length, 3);
    // Replicas only: killing one leaves the cluster whole.
    const subscriber = new ClusterChangeSubscriber(() => replicas, {
      connectTimeout: 1000,
      commandTimeout: 2000,
    });
    clients.push(subscriber);
    const events: string[] = [];
    const messages: string[] = [];
    subscriber.on('error', () => undefined);
    subscriber.on('message', (_channel: string, message: string) => messages.push(message));
    subscriber.on('close', () => events.push('close'));
    subscriber.on('ready', () => {
      events.push('ready');
      void subscriber.subscribe('test-channel');
    });
    await waitUntil(
      async () => {
        await client.publish('test-channel', 'first');
        return messages.includes('first');
      },
      5000,
      'no message through the first node',
    );
    const first = subscriber.node;
    assert.ok(first !== null);
    const node = cluster.nodes.find((candidate) => candidate.port === first.port);
    assert.ok(node !== undefined);
    await node.kill();
    await waitUntil(
      async () => {
        await client.publish('test-channel', 'second');
        return messages.includes('second');
      },
      5000,
      'no message after the node went away',
    );
    assert.notEqual(subscriber.node?.port, first.port);
    assert.deepEqual(events.slice(0, 3), ['ready', 'close', 'ready']);
    subscriber.disconnect();
  });
});
